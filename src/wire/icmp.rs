//! ICMP for IPv4 (RFC 792): control messages such as echo (ping) and "destination unreachable".
//!
//! ```text
//! | type(1) | code(1) | checksum(2) | rest of header(4): echo id(2) + seq(2), or unused |
//! ```

use super::header_error::{be16, byte, need, HeaderError};

pub const HEADER_LEN: usize = 8;

/// A parsed ICMP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub icmp_type: u8,
    pub code: u8,
    pub checksum: u16,
    /// Echo identifier (types 0 and 8; raw bytes 4..6 otherwise).
    pub ident: u16,
    /// Echo sequence number (types 0 and 8; raw bytes 6..8 otherwise).
    pub seq: u16,
}

impl Header {
    pub fn parse(b: &[u8]) -> Result<Header, HeaderError> {
        need(b, HEADER_LEN, "icmp", "header")?;
        Ok(Header {
            icmp_type: byte(b, 0),
            code: byte(b, 1),
            checksum: be16(b, 2),
            ident: be16(b, 4),
            seq: be16(b, 6),
        })
    }

    /// True for echo request and echo reply, whose id/seq fields mean something.
    pub fn is_echo(&self) -> bool {
        matches!(self.icmp_type, 0 | 8)
    }

    /// True for error messages, which quote the offending packet's IP header.
    pub fn is_error(&self) -> bool {
        matches!(self.icmp_type, 3 | 4 | 5 | 11 | 12)
    }
}

/// The name of an ICMP type.
pub fn type_name(t: u8) -> &'static str {
    match t {
        0 => "echo reply",
        3 => "destination unreachable",
        4 => "source quench",
        5 => "redirect",
        8 => "echo request",
        9 => "router advertisement",
        10 => "router solicitation",
        11 => "time exceeded",
        12 => "parameter problem",
        13 => "timestamp request",
        14 => "timestamp reply",
        _ => "unknown",
    }
}

/// The meaning of a code for types that have codes.
pub fn code_name(t: u8, code: u8) -> &'static str {
    match (t, code) {
        (3, 0) => "network unreachable",
        (3, 1) => "host unreachable",
        (3, 2) => "protocol unreachable",
        (3, 3) => "port unreachable",
        (3, 4) => "fragmentation needed and DF set",
        (3, 13) => "communication administratively prohibited",
        (11, 0) => "TTL exceeded in transit",
        (11, 1) => "fragment reassembly time exceeded",
        (5, 0) => "redirect for network",
        (5, 1) => "redirect for host",
        (_, 0) => "no code",
        _ => "unknown code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real echo request header from `ping -c1 127.0.0.1`.
    static ECHO_REQ: [u8; 8] = [0x08, 0x00, 0x2d, 0xd5, 0x22, 0x1a, 0x00, 0x01];

    #[test]
    fn echo() {
        let h = Header::parse(&ECHO_REQ).unwrap();
        assert_eq!((h.icmp_type, h.code, h.ident, h.seq), (8, 0, 8730, 1));
        assert_eq!(h.checksum, 0x2dd5);
        assert!(h.is_echo() && !h.is_error());
        assert_eq!(type_name(h.icmp_type), "echo request");
        assert_eq!(code_name(3, 3), "port unreachable");
        assert!(Header::parse(&ECHO_REQ[..7]).unwrap_err().is_truncated());
    }
}

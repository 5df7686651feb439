//! ICMPv6 (RFC 4443) and neighbour discovery (RFC 4861): IPv6's ping, errors, and its
//! replacement for ARP.
//!
//! ```text
//! | type(1) | code(1) | checksum(2) | body: echo id(2)+seq(2) | NDP: flags/reserved(4)
//! | NS/NA/redirect: target address(16) | NDP options: type(1) len(1, ×8 bytes) data |
//! ```

use std::net::Ipv6Addr;

use super::ethernet::Mac;
use super::header_error::{array, be16, byte, need, HeaderError};

pub const HEADER_LEN: usize = 4;

/// A parsed ICMPv6 message (fixed part plus what neighbour discovery carries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    pub icmp_type: u8,
    pub code: u8,
    pub checksum: u16,
    /// Echo identifier and sequence (types 128/129).
    pub echo: Option<(u16, u16)>,
    /// Neighbour solicitation/advertisement target address (types 135/136).
    pub target: Option<Ipv6Addr>,
    /// Neighbour advertisement flags: router, solicited, override.
    pub na_flags: Option<(bool, bool, bool)>,
    /// Source link-layer address option (NDP option 1).
    pub source_lladdr: Option<Mac>,
    /// Target link-layer address option (NDP option 2).
    pub target_lladdr: Option<Mac>,
    /// Where the source and target link-layer addresses are in the message (0: absent).
    pub lladdr_at: [usize; 2],
    /// Bytes of the ICMPv6 message understood as header (the rest is data).
    pub header_len: usize,
}

impl Message {
    pub fn parse(b: &[u8]) -> Result<Message, HeaderError> {
        need(b, HEADER_LEN, "icmpv6", "header")?;
        let mut m = Message {
            icmp_type: byte(b, 0),
            code: byte(b, 1),
            checksum: be16(b, 2),
            echo: None,
            target: None,
            na_flags: None,
            source_lladdr: None,
            target_lladdr: None,
            lladdr_at: [0; 2],
            header_len: HEADER_LEN,
        };
        match m.icmp_type {
            128 | 129 => {
                need(b, 8, "icmpv6", "echo id and sequence")?;
                m.echo = Some((be16(b, 4), be16(b, 6)));
                m.header_len = 8;
            }
            133 => {
                need(b, 8, "icmpv6", "router solicitation")?;
                m.header_len = b.len();
                m.read_options(b, 8);
            }
            134 => {
                need(b, 16, "icmpv6", "router advertisement")?;
                m.header_len = b.len();
                m.read_options(b, 16);
            }
            135 | 136 => {
                need(b, 24, "icmpv6", "neighbour discovery target")?;
                let f = byte(b, 4);
                if m.icmp_type == 136 {
                    m.na_flags = Some((f & 0x80 != 0, f & 0x40 != 0, f & 0x20 != 0));
                }
                m.target = Some(Ipv6Addr::from(array::<16>(b, 8)));
                m.header_len = b.len();
                m.read_options(b, 24);
            }
            1..=4 => m.header_len = 8.min(b.len()),
            _ => {}
        }
        Ok(m)
    }

    /// Walks NDP options from `at`; stops at a zero or overlong length (RFC 4861 §4.6).
    fn read_options(&mut self, b: &[u8], mut at: usize) {
        while let (Some(&kind), Some(&len)) = (b.get(at), b.get(at + 1)) {
            let bytes = usize::from(len) * 8;
            if bytes == 0 || at + bytes > b.len() {
                break;
            }
            if bytes >= 8 {
                let mac = Mac(array(b, at + 2));
                match kind {
                    1 => self.source_lladdr = Some(mac),
                    2 => self.target_lladdr = Some(mac),
                    _ => {}
                }
                if let 1 | 2 = kind {
                    self.lladdr_at[usize::from(kind - 1)] = at + 2;
                }
            }
            at += bytes;
        }
    }
}

/// The name of an ICMPv6 type.
pub fn type_name(t: u8) -> &'static str {
    match t {
        1 => "destination unreachable",
        2 => "packet too big",
        3 => "time exceeded",
        4 => "parameter problem",
        128 => "echo request",
        129 => "echo reply",
        130 => "multicast listener query",
        131 => "multicast listener report",
        133 => "router solicitation",
        134 => "router advertisement",
        135 => "neighbor solicitation",
        136 => "neighbor advertisement",
        137 => "redirect",
        143 => "multicast listener report v2",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real neighbour solicitation between the fixture namespaces (fd00:99::1 asks for
    /// fd00:99::2), with a source link-layer address option.
    static NS: [u8; 32] = [
        0x87, 0x00, 0x7c, 0x65, 0, 0, 0, 0, 0xfd, 0x00, 0x00, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 2, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
    ];

    #[test]
    fn neighbour_solicitation() {
        let m = Message::parse(&NS).unwrap();
        assert_eq!((m.icmp_type, m.checksum), (135, 0x7c65));
        assert_eq!(type_name(m.icmp_type), "neighbor solicitation");
        assert_eq!(m.target, Some("fd00:99::2".parse().unwrap()));
        assert_eq!(
            m.source_lladdr.map(|m| m.to_string()).as_deref(),
            Some("02:00:00:00:00:01")
        );
        // The option starts after the 8-byte header and the 16-byte target; its MAC after
        // the option's type and length.
        assert_eq!(m.lladdr_at, [26, 0]);
        assert!(Message::parse(&NS[..20]).unwrap_err().is_truncated());
    }

    #[test]
    fn echo_and_bad_option_length() {
        let m = Message::parse(&[128, 0, 0x12, 0x34, 0, 9, 0, 3]).unwrap();
        assert_eq!(m.echo, Some((9, 3)));
        let mut b = NS;
        b[25] = 0; // zero-length option must not loop
        assert_eq!(Message::parse(&b).unwrap().source_lladdr, None);
    }
}

//! UDP header (RFC 768): ports, length, checksum, and nothing else — no connection, no
//! acknowledgement, no order.
//!
//! ```text
//! |  Source Port (16)  | Destination Port (16) |
//! |   Length (16)      |    Checksum (16)      |
//! ```

use super::header_error::{be16, need, HeaderError};

pub const HEADER_LEN: usize = 8;

/// A parsed UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub src_port: u16,
    pub dst_port: u16,
    /// Length of header plus data in bytes (at least 8).
    pub length: u16,
    /// Checksum over a pseudo-header, the header and the data (0: not computed, IPv4 only).
    pub checksum: u16,
}

impl Header {
    pub fn parse(b: &[u8]) -> Result<Header, HeaderError> {
        need(b, HEADER_LEN, "udp", "header")?;
        let h = Header {
            src_port: be16(b, 0),
            dst_port: be16(b, 2),
            length: be16(b, 4),
            checksum: be16(b, 6),
        };
        if usize::from(h.length) < HEADER_LEN {
            return Err(HeaderError::Malformed {
                layer: "udp",
                field: "length",
                value: h.length.into(),
                reason: "a UDP length counts its own 8-byte header",
            });
        }
        Ok(h)
    }

    /// Writes the header into the front of `buf` (at least 8 bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        if buf.len() < HEADER_LEN {
            return;
        }
        buf[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        buf[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        buf[4..6].copy_from_slice(&self.length.to_be_bytes());
        buf[6..8].copy_from_slice(&self.checksum.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real DNS query's UDP header (dig to the loopback responder, fixtures/dns.pcap frame 1).
    static DNS_QUERY_UDP: [u8; 8] = [0xac, 0x78, 0x00, 0x35, 0x00, 0x26, 0xfe, 0x39];

    #[test]
    fn parse_emit() {
        let h = Header::parse(&DNS_QUERY_UDP).unwrap();
        assert_eq!((h.src_port, h.dst_port, h.length), (44152, 53, 38));
        let mut b = [0u8; 8];
        h.emit(&mut b);
        assert_eq!(b, DNS_QUERY_UDP);
    }

    #[test]
    fn agrees_with_pnet() {
        use pnet::packet::udp::UdpPacket;
        let p = UdpPacket::new(&DNS_QUERY_UDP).unwrap();
        let h = Header::parse(&DNS_QUERY_UDP).unwrap();
        assert_eq!(
            (p.get_source(), p.get_destination()),
            (h.src_port, h.dst_port)
        );
        assert_eq!((p.get_length(), p.get_checksum()), (h.length, h.checksum));
    }

    #[test]
    fn bad_length_and_truncation() {
        let mut b = DNS_QUERY_UDP;
        b[4] = 0;
        b[5] = 7;
        assert!(matches!(
            Header::parse(&b),
            Err(HeaderError::Malformed {
                field: "length",
                ..
            })
        ));
        assert!(Header::parse(&b[..7]).unwrap_err().is_truncated());
    }
}

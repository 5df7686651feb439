//! ARP (RFC 826): "who has this IP address? tell me your MAC." Only Ethernet/IPv4 ARP is
//! decoded field by field; other hardware/protocol pairs are reported as such.
//!
//! ```text
//! | htype(2) | ptype(2) | hlen(1) | plen(1) | oper(2) |
//! | sender MAC(6) | sender IP(4) | target MAC(6) | target IP(4) |
//! ```

use std::net::Ipv4Addr;

use super::ethernet::Mac;
use super::header_error::{array, be16, byte, need, HeaderError};

/// Bytes in an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;

/// A parsed Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    /// Hardware type: 1 is Ethernet.
    pub htype: u16,
    /// Protocol type: an EtherType, 0x0800 for IPv4.
    pub ptype: u16,
    pub hlen: u8,
    pub plen: u8,
    /// Operation: 1 request, 2 reply.
    pub oper: u16,
    pub sender_mac: Mac,
    pub sender_ip: Ipv4Addr,
    pub target_mac: Mac,
    pub target_ip: Ipv4Addr,
}

impl Packet {
    pub fn parse(b: &[u8]) -> Result<Packet, HeaderError> {
        need(b, 8, "arp", "fixed header")?;
        let (htype, ptype, hlen, plen) = (be16(b, 0), be16(b, 2), byte(b, 4), byte(b, 5));
        if hlen != 6 {
            return Err(HeaderError::Malformed {
                layer: "arp",
                field: "hlen",
                value: hlen.into(),
                reason: "only 6-byte (Ethernet) hardware addresses are decoded",
            });
        }
        if plen != 4 {
            return Err(HeaderError::Malformed {
                layer: "arp",
                field: "plen",
                value: plen.into(),
                reason: "only 4-byte (IPv4) protocol addresses are decoded",
            });
        }
        need(b, PACKET_LEN, "arp", "addresses")?;
        Ok(Packet {
            htype,
            ptype,
            hlen,
            plen,
            oper: be16(b, 6),
            sender_mac: Mac(array(b, 8)),
            sender_ip: Ipv4Addr::from(array::<4>(b, 14)),
            target_mac: Mac(array(b, 18)),
            target_ip: Ipv4Addr::from(array::<4>(b, 24)),
        })
    }

    /// What the operation code means.
    pub fn oper_name(&self) -> &'static str {
        match self.oper {
            1 => "request",
            2 => "reply",
            3 => "RARP request",
            4 => "RARP reply",
            _ => "unknown",
        }
    }

    /// A gratuitous ARP announces the sender's own address (sender IP = target IP).
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real ARP request from the netns fixture: 10.99.0.1 asks who has 10.99.0.2.
    static REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 10, 99,
        0, 1, 0, 0, 0, 0, 0, 0, 10, 99, 0, 2,
    ];

    #[test]
    fn request() {
        let p = Packet::parse(&REQUEST).unwrap();
        assert_eq!(p.oper, 1);
        assert_eq!(p.oper_name(), "request");
        assert_eq!(p.sender_mac.to_string(), "02:00:00:00:00:01");
        assert_eq!(p.sender_ip, Ipv4Addr::new(10, 99, 0, 1));
        assert_eq!(p.target_ip, Ipv4Addr::new(10, 99, 0, 2));
        assert!(!p.is_gratuitous());
    }

    #[test]
    fn truncated_and_malformed() {
        assert!(Packet::parse(&REQUEST[..20]).unwrap_err().is_truncated());
        let mut b = REQUEST;
        b[4] = 8;
        assert!(matches!(
            Packet::parse(&b),
            Err(HeaderError::Malformed { field: "hlen", .. })
        ));
    }
}

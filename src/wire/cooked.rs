//! Link headers that are not Ethernet: what `tcpdump -i any` writes (Linux "cooked" capture,
//! SLL v1 and v2) and BSD loopback ("null") framing.
//!
//! ```text
//! SLL v1 (16 bytes): packet type(2) | ARPHRD(2) | addr len(2) | addr(8) | protocol(2)
//! SLL v2 (20 bytes): protocol(2) | reserved(2) | ifindex(4) | ARPHRD(2) | packet type(1)
//!                    | addr len(1) | addr(8)
//! null   (4 bytes):  address family, in the byte order of the capturing host
//! ```

use super::header_error::{array, be16, be32, byte, need, HeaderError};

pub const SLL_LEN: usize = 16;
pub const SLL2_LEN: usize = 20;
pub const NULL_LEN: usize = 4;

/// A Linux cooked-capture header (v1 or v2 share these fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sll {
    /// 1 or 2.
    pub version: u8,
    /// Direction/kind: 0 to us, 1 broadcast, 2 multicast, 3 to another host, 4 sent by us.
    pub packet_type: u16,
    /// ARPHRD_ type of the interface (1 Ethernet, 772 loopback).
    pub hatype: u16,
    /// Bytes of `addr` that are used.
    pub halen: u8,
    /// Link-layer source address (first `halen` bytes).
    pub addr: [u8; 8],
    /// EtherType of the payload.
    pub protocol: u16,
    /// Interface index (v2 only; 0 in v1).
    pub ifindex: u32,
}

impl Sll {
    /// Reads an SLL v1 header.
    pub fn parse_v1(b: &[u8]) -> Result<Sll, HeaderError> {
        need(b, SLL_LEN, "sll", "header")?;
        Ok(Sll {
            version: 1,
            packet_type: be16(b, 0),
            hatype: be16(b, 2),
            halen: be16(b, 4).min(8) as u8,
            addr: array(b, 6),
            protocol: be16(b, 14),
            ifindex: 0,
        })
    }

    /// Reads an SLL v2 header.
    pub fn parse_v2(b: &[u8]) -> Result<Sll, HeaderError> {
        need(b, SLL2_LEN, "sll2", "header")?;
        Ok(Sll {
            version: 2,
            protocol: be16(b, 0),
            ifindex: be32(b, 4),
            hatype: be16(b, 8),
            packet_type: byte(b, 10).into(),
            halen: byte(b, 11).min(8),
            addr: array(b, 12),
        })
    }

    /// Header length for this version.
    pub fn len(&self) -> usize {
        if self.version == 2 {
            SLL2_LEN
        } else {
            SLL_LEN
        }
    }

    /// Always false: a cooked header is never empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The used part of the source address.
    pub fn addr_bytes(&self) -> &[u8] {
        &self.addr[..usize::from(self.halen.min(8))]
    }

    /// What the packet type means.
    pub fn packet_type_name(&self) -> &'static str {
        match self.packet_type {
            0 => "unicast to us",
            1 => "broadcast",
            2 => "multicast",
            3 => "unicast to another host",
            4 => "sent by us",
            _ => "unknown",
        }
    }
}

/// BSD loopback header: the address family of the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Null {
    pub family: u32,
}

impl Null {
    /// Reads the 4-byte family. It is in the capturing host's byte order, so both orders are
    /// tried: a family fits in the low 16 bits.
    pub fn parse(b: &[u8]) -> Result<Null, HeaderError> {
        need(b, NULL_LEN, "null", "address family")?;
        let raw: [u8; 4] = array(b, 0);
        let le = u32::from_le_bytes(raw);
        let family = if le <= 0xffff {
            le
        } else {
            u32::from_be_bytes(raw)
        };
        Ok(Null { family })
    }

    /// True for IPv4 (AF_INET 2).
    pub fn is_ipv4(&self) -> bool {
        self.family == 2
    }

    /// True for the IPv6 values used by the BSDs and macOS (24, 28, 30).
    pub fn is_ipv6(&self) -> bool {
        matches!(self.family, 24 | 28 | 30)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real SLL v2 header from `tcpdump -i any` on loopback, IPv4 inside.
    static SLL2: [u8; 20] = [
        0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x04, 0x00, 0x06, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn sll2_loopback() {
        let s = Sll::parse_v2(&SLL2).unwrap();
        assert_eq!(s.protocol, 0x0800);
        assert_eq!(s.ifindex, 1);
        assert_eq!(s.hatype, 772);
        assert_eq!(s.packet_type, 0);
        assert_eq!(s.addr_bytes(), &[0u8; 6]);
        assert_eq!(s.len(), 20);
    }

    /// A real SLL v1 header (fixtures/any-sll.pcap frame 1): loopback, IPv4 inside.
    static SLL1: [u8; 16] = [
        0x00, 0x00, 0x03, 0x04, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08,
        0x00,
    ];

    #[test]
    fn sll1_and_truncation() {
        let s = Sll::parse_v1(&SLL1).unwrap();
        assert_eq!(
            (s.packet_type_name(), s.hatype, s.protocol, s.halen),
            ("unicast to us", 772, 0x0800, 6)
        );
        assert_eq!(s.len(), 16);
        assert!(Sll::parse_v1(&SLL1[..15]).unwrap_err().is_truncated());
        assert!(Sll::parse_v2(&SLL2[..19]).unwrap_err().is_truncated());
    }

    #[test]
    fn null_both_byte_orders() {
        assert!(Null::parse(&[2, 0, 0, 0]).unwrap().is_ipv4());
        assert!(Null::parse(&[0, 0, 0, 30]).unwrap().is_ipv6());
        assert!(Null::parse(&[2, 0]).is_err());
    }
}

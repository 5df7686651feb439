//! Ethernet II frame header (IEEE 802.3 clause 3, "DIX" framing).
//!
//! ```text
//! +----------------+----------------+-----------+--------------------+
//! | destination(6) |   source(6)    | type(2)   | payload 46..1500   |
//! +----------------+----------------+-----------+--------------------+
//! ```
//!
//! A type value of 1500 or less is an IEEE 802.3 length, not an EtherType; an LLC header follows.

use std::fmt;

use super::header_error::{array, be16, need, HeaderError};

mod field {
    use std::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
}

/// Bytes in an Ethernet II header.
pub const HEADER_LEN: usize = field::ETHERTYPE.end;

/// A 48-bit IEEE MAC address, printed `aa:bb:cc:dd:ee:ff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    pub const BROADCAST: Mac = Mac([0xff; 6]);

    /// Group (multicast or broadcast) address: the lowest bit of the first byte is set.
    pub fn is_group(&self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// EtherType values this dissector follows (IEEE registry).
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const VLAN: u16 = 0x8100;
    pub const IPV6: u16 = 0x86dd;
    pub const QINQ: u16 = 0x88a8;
    pub const VLAN_9100: u16 = 0x9100;

    /// A short name for an EtherType, or `None` when this dissector does not know it.
    pub fn name(t: u16) -> Option<&'static str> {
        Some(match t {
            IPV4 => "IPv4",
            ARP => "ARP",
            VLAN => "802.1Q VLAN",
            IPV6 => "IPv6",
            QINQ => "802.1ad QinQ",
            VLAN_9100 => "VLAN (0x9100)",
            0x8035 => "RARP",
            0x88cc => "LLDP",
            0x8847 => "MPLS",
            0x888e => "EAPOL",
            0x88e5 => "MACsec",
            _ => return None,
        })
    }

    /// True for the tag types that put an 802.1Q tag next.
    pub fn is_vlan(t: u16) -> bool {
        matches!(t, VLAN | QINQ | VLAN_9100)
    }
}

/// A parsed Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Destination MAC: the neighbour (or group) on this link the frame is for.
    pub dst: Mac,
    /// Source MAC: the interface that sent the frame.
    pub src: Mac,
    /// EtherType (> 1500) naming the payload's protocol, or an 802.3 length (≤ 1500).
    pub ethertype: u16,
}

impl Header {
    /// Reads the 14-byte header at the front of `b`.
    pub fn parse(b: &[u8]) -> Result<Header, HeaderError> {
        need(b, HEADER_LEN, "ethernet", "header")?;
        Ok(Header {
            dst: Mac(array(b, field::DST.start)),
            src: Mac(array(b, field::SRC.start)),
            ethertype: be16(b, field::ETHERTYPE.start),
        })
    }

    /// True when the type field is an IEEE 802.3 length rather than an EtherType.
    pub fn is_length(&self) -> bool {
        self.ethertype <= 1500
    }

    /// Writes the header into the front of `buf` (at least [`HEADER_LEN`] bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        if buf.len() < HEADER_LEN {
            return;
        }
        buf[field::DST].copy_from_slice(&self.dst.0);
        buf[field::SRC].copy_from_slice(&self.src.0);
        buf[field::ETHERTYPE].copy_from_slice(&self.ethertype.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 14 bytes of a real ARP request between two veth ends (fixtures/make-fixtures).
    static ARP_FRAME_HEADER: [u8; 14] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
    ];

    #[test]
    fn parse_and_emit_real_header() {
        let h = Header::parse(&ARP_FRAME_HEADER).unwrap();
        assert_eq!(h.dst, Mac::BROADCAST);
        assert!(h.dst.is_group());
        assert_eq!(h.src.to_string(), "02:00:00:00:00:01");
        assert_eq!(h.ethertype, ethertype::ARP);
        assert_eq!(ethertype::name(h.ethertype), Some("ARP"));
        let mut out = [0u8; 14];
        h.emit(&mut out);
        assert_eq!(out, ARP_FRAME_HEADER);
    }

    #[test]
    fn truncated_header() {
        let e = Header::parse(&ARP_FRAME_HEADER[..13]).unwrap_err();
        assert_eq!(
            e,
            HeaderError::Truncated {
                layer: "ethernet",
                what: "header",
                needed: 14,
                got: 13
            }
        );
    }

    #[test]
    fn length_field_is_not_a_type() {
        let mut b = ARP_FRAME_HEADER;
        b[12] = 0x00;
        b[13] = 0x40;
        assert!(Header::parse(&b).unwrap().is_length());
    }
}

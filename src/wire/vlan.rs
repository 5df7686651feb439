//! IEEE 802.1Q VLAN tag: 4 bytes between the source MAC and the EtherType. Tags can be
//! stacked (802.1ad "QinQ"): each tag's inner type may name another tag.
//!
//! ```text
//! +-----+---+-------------+------------------+
//! |PCP 3|DEI| VID 12 bits |  inner type (16) |
//! +-----+---+-------------+------------------+
//! ```

use super::header_error::{be16, need, HeaderError};

/// Bytes in one tag (after the outer EtherType that announced it).
pub const TAG_LEN: usize = 4;

/// A parsed 802.1Q tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    /// Priority code point (802.1p): 0 best effort … 7 network control.
    pub pcp: u8,
    /// Drop eligible indicator: may be dropped first under congestion.
    pub dei: bool,
    /// VLAN identifier, 1–4094 (0: priority tag only, 4095 reserved).
    pub vid: u16,
    /// The EtherType of what follows the tag.
    pub ethertype: u16,
}

impl Tag {
    /// Reads a tag at the front of `b`.
    pub fn parse(b: &[u8]) -> Result<Tag, HeaderError> {
        need(b, TAG_LEN, "vlan", "802.1Q tag")?;
        let tci = be16(b, 0);
        Ok(Tag {
            pcp: (tci >> 13) as u8,
            dei: tci & 0x1000 != 0,
            vid: tci & 0x0fff,
            ethertype: be16(b, 2),
        })
    }

    /// Writes the tag into the front of `buf` (at least [`TAG_LEN`] bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        if buf.len() < TAG_LEN {
            return;
        }
        let tci =
            (u16::from(self.pcp & 7) << 13) | (u16::from(self.dei) << 12) | (self.vid & 0xfff);
        buf[0..2].copy_from_slice(&tci.to_be_bytes());
        buf[2..4].copy_from_slice(&self.ethertype.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real tag (fixtures/arp-vlan.pcap frame 17): VID 100, priority 0, ARP inside.
    static TAG_100: [u8; 4] = [0x00, 0x64, 0x08, 0x06];

    #[test]
    fn parse_and_emit() {
        let t = Tag::parse(&TAG_100).unwrap();
        assert_eq!(
            t,
            Tag {
                pcp: 0,
                dei: false,
                vid: 100,
                ethertype: 0x0806
            }
        );
        let mut b = [0u8; 4];
        t.emit(&mut b);
        assert_eq!(b, TAG_100);
    }

    #[test]
    fn priority_and_dei_bits() {
        let t = Tag::parse(&[0xb0, 0x05, 0x81, 0x00]).unwrap();
        assert_eq!((t.pcp, t.dei, t.vid, t.ethertype), (5, true, 5, 0x8100));
    }

    #[test]
    fn truncated() {
        assert!(Tag::parse(&TAG_100[..3]).unwrap_err().is_truncated());
    }
}

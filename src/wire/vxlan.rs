//! VXLAN (RFC 7348): an Ethernet frame carried in a UDP datagram to port 4789, behind an
//! 8-byte header that names the virtual network (the VNI, 24 bits).
//!
//! ```text
//! +--------+------------------------+--------------------------+--------+
//! |flags 8 |   reserved (24)        |  VNI (24)                | rsvd 8 |
//! +--------+------------------------+--------------------------+--------+
//! ```
//!
//! Flag bit 3 (0x08, "I") says the VNI is valid; RFC 7348 §5 says the other bits are zero.

use super::header_error::{need, HeaderError};

/// Bytes in the VXLAN header; the inner Ethernet frame follows.
pub const HEADER_LEN: usize = 8;
/// IANA's UDP port for VXLAN.
pub const PORT: u16 = 4789;
/// The I flag: the VNI is valid.
pub const FLAG_I: u8 = 0x08;

/// A parsed VXLAN header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The first byte (0x08 in every valid header).
    pub flags: u8,
    /// VXLAN network identifier: which overlay network the inner frame belongs to.
    pub vni: u32,
}

impl Header {
    /// Reads a header at the front of `b`. A header without the I flag is malformed
    /// (RFC 7348 §5: "The I flag MUST be set to 1 for a valid VXLAN Network ID").
    pub fn parse(b: &[u8]) -> Result<Header, HeaderError> {
        need(b, HEADER_LEN, "vxlan", "VXLAN header")?;
        if b[0] & FLAG_I == 0 {
            return Err(HeaderError::Malformed {
                layer: "vxlan",
                field: "flags",
                value: b[0].into(),
                reason: "the I flag (0x08) must be set",
            });
        }
        Ok(Header {
            flags: b[0],
            vni: u32::from_be_bytes([0, b[4], b[5], b[6]]),
        })
    }

    /// The 16 flag bits as tshark's `vxlan.flags` shows them (0x0800 for the I flag alone).
    pub fn flags16(&self) -> u16 {
        u16::from(self.flags) << 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// fixtures/vxlan.pcap frame 2: the 8 bytes after the outer UDP header (VNI 42), then the
    /// inner Ethernet destination's first bytes.
    static FRAME2: [u8; 10] = [0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x02, 0x00];

    #[test]
    fn reads_the_vni() {
        let h = Header::parse(&FRAME2).unwrap();
        assert_eq!(h.vni, 42);
        assert_eq!(h.flags, FLAG_I);
        assert_eq!(h.flags16(), 0x0800);
    }

    #[test]
    fn a_24_bit_vni() {
        let b = [0x08, 0, 0, 0, 0xff, 0xee, 0xdd, 0x00];
        assert_eq!(Header::parse(&b).unwrap().vni, 0xffeedd);
    }

    #[test]
    fn without_the_i_flag_is_malformed() {
        let mut b = FRAME2;
        b[0] = 0;
        let e = Header::parse(&b).unwrap_err();
        assert!(!e.is_truncated(), "{e}");
        assert!(e.to_string().contains("flags"), "{e}");
    }

    #[test]
    fn cut_short_is_truncated() {
        for n in 0..HEADER_LEN {
            assert!(Header::parse(&FRAME2[..n]).unwrap_err().is_truncated());
        }
    }
}

//! IPv6 header (RFC 8200 §3) and its extension headers (§4).
//!
//! ```text
//! +-------+---------------+---------------------------------------+
//! |Version| Traffic Class |              Flow Label               |
//! |        Payload Length         |  Next Header  |   Hop Limit   |
//! |                    Source Address (128)                       |
//! |                 Destination Address (128)                     |
//! +---------------------------------------------------------------+
//! ```
//!
//! Extension headers chain through "next header": hop-by-hop options (0), routing (43),
//! fragment (44) and destination options (60) are walked here, one at a time.

use std::net::Ipv6Addr;

use super::header_error::{array, be16, be32, byte, need, HeaderError};
use super::ipv4::protocol;

pub const HEADER_LEN: usize = 40;

/// A parsed IPv6 fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Traffic class (DSCP + ECN), as IPv4's type of service.
    pub traffic_class: u8,
    /// Flow label (20 bits): marks packets of one flow for routers.
    pub flow_label: u32,
    /// Bytes after this 40-byte header (extension headers included).
    pub payload_len: u16,
    /// The header that follows (an extension header or the upper-layer protocol).
    pub next_header: u8,
    /// Hop limit (RFC 8200 §3): decremented by each router; the packet is dropped at zero.
    pub hop_limit: u8,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
}

impl Header {
    pub fn parse(b: &[u8]) -> Result<Header, HeaderError> {
        need(b, HEADER_LEN, "ipv6", "header")?;
        let v = byte(b, 0) >> 4;
        if v != 6 {
            return Err(HeaderError::Malformed {
                layer: "ipv6",
                field: "version",
                value: v.into(),
                reason: "an IPv6 header has version 6",
            });
        }
        let first = be32(b, 0);
        Ok(Header {
            traffic_class: ((first >> 20) & 0xff) as u8,
            flow_label: first & 0x000f_ffff,
            payload_len: be16(b, 4),
            next_header: byte(b, 6),
            hop_limit: byte(b, 7),
            src: Ipv6Addr::from(array::<16>(b, 8)),
            dst: Ipv6Addr::from(array::<16>(b, 24)),
        })
    }
}

/// True if `next` names an extension header this module walks.
pub fn is_extension(next: u8) -> bool {
    matches!(
        next,
        protocol::HOPOPTS | protocol::IPV6_ROUTE | protocol::IPV6_FRAG | protocol::IPV6_OPTS
    )
}

/// One extension header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtHeader {
    /// Which extension header this is (its protocol number: 0, 43, 44 or 60).
    pub kind: u8,
    /// The header after this one.
    pub next_header: u8,
    /// Length of this extension header in bytes.
    pub len: usize,
    /// Routing header: routing type and segments left.
    pub routing: Option<(u8, u8)>,
    /// Fragment header: offset (8-byte units), more-fragments flag, identification.
    pub fragment: Option<(u16, bool, u32)>,
}

impl ExtHeader {
    /// Reads the extension header of kind `kind` at the front of `b`.
    pub fn parse(kind: u8, b: &[u8]) -> Result<ExtHeader, HeaderError> {
        let layer = ext_name(kind);
        need(b, 8, layer, "extension header")?;
        let next_header = byte(b, 0);
        if kind == protocol::IPV6_FRAG {
            let off = be16(b, 2);
            return Ok(ExtHeader {
                kind,
                next_header,
                len: 8,
                routing: None,
                fragment: Some((off >> 3, off & 1 == 1, be32(b, 4))),
            });
        }
        let len = (usize::from(byte(b, 1)) + 1) * 8;
        need(b, len, layer, "extension header length")?;
        Ok(ExtHeader {
            kind,
            next_header,
            len,
            routing: (kind == protocol::IPV6_ROUTE).then(|| (byte(b, 2), byte(b, 3))),
            fragment: None,
        })
    }
}

/// The layer name of an extension header, Wireshark style.
pub fn ext_name(kind: u8) -> &'static str {
    match kind {
        protocol::HOPOPTS => "ipv6.hopopts",
        protocol::IPV6_ROUTE => "ipv6.routing",
        protocol::IPV6_FRAG => "ipv6.fraghdr",
        protocol::IPV6_OPTS => "ipv6.dstopts",
        _ => "ipv6.ext",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The IPv6 header of a real ICMPv6 echo request to ::1 (`ping -6 ::1`).
    static ECHO_IP6: [u8; 40] = [
        0x60, 0x0b, 0x39, 0x7e, 0x00, 0x40, 0x3a, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    ];

    #[test]
    fn deconstruct() {
        let h = Header::parse(&ECHO_IP6).unwrap();
        assert_eq!(h.traffic_class, 0);
        assert_eq!(h.flow_label, 0xb397e);
        assert_eq!(h.payload_len, 64);
        assert_eq!(h.next_header, protocol::ICMPV6);
        assert_eq!(h.hop_limit, 64);
        assert_eq!(h.src, Ipv6Addr::LOCALHOST);
        assert!(Header::parse(&ECHO_IP6[..39]).unwrap_err().is_truncated());
        let mut b = ECHO_IP6;
        b[0] = 0x40;
        assert!(Header::parse(&b).is_err());
    }

    #[test]
    fn extension_headers() {
        // Hop-by-hop with a router alert (as MLD reports carry): next = ICMPv6, 8 bytes.
        let hbh = [58, 0, 5, 2, 0, 0, 1, 0];
        let e = ExtHeader::parse(0, &hbh).unwrap();
        assert_eq!((e.next_header, e.len), (58, 8));
        // Fragment: offset 185 (1480 bytes), more fragments, id 0x12345678.
        let frag = [17, 0, 0x05, 0xc9, 0x12, 0x34, 0x56, 0x78];
        let f = ExtHeader::parse(44, &frag).unwrap();
        assert_eq!(f.fragment, Some((185, true, 0x1234_5678)));
        // Routing header claiming 16 bytes but 8 present: truncated.
        let rt = [6, 1, 4, 0, 0, 0, 0, 0];
        assert!(ExtHeader::parse(43, &rt).unwrap_err().is_truncated());
        assert!(is_extension(60) && !is_extension(6));
    }
}

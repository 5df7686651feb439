//! IPv4 header (RFC 791).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |   DSCP    |ECN|          Total Length         |
//! |         Identification        |Flags|      Fragment Offset    |
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! |                       Source Address                          |
//! |                    Destination Address                        |
//! |                    Options (IHL > 5)                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::net::Ipv4Addr;

use super::header_error::{array, be16, byte, need, HeaderError};

/// Bytes in a header without options.
pub const MIN_HEADER_LEN: usize = 20;

/// IP protocol numbers (IANA) this dissector follows.
pub mod protocol {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6_ROUTE: u8 = 43;
    pub const IPV6_FRAG: u8 = 44;
    pub const ICMPV6: u8 = 58;
    pub const IPV6_NONXT: u8 = 59;
    pub const IPV6_OPTS: u8 = 60;
    pub const HOPOPTS: u8 = 0;

    /// The protocol's short name.
    pub fn name(p: u8) -> &'static str {
        match p {
            HOPOPTS => "IPv6 hop-by-hop options",
            ICMP => "ICMP",
            2 => "IGMP",
            4 => "IPv4-in-IP",
            TCP => "TCP",
            UDP => "UDP",
            41 => "IPv6-in-IP",
            IPV6_ROUTE => "IPv6 routing header",
            IPV6_FRAG => "IPv6 fragment header",
            47 => "GRE",
            50 => "ESP",
            51 => "AH",
            ICMPV6 => "ICMPv6",
            IPV6_NONXT => "no next header",
            IPV6_OPTS => "IPv6 destination options",
            132 => "SCTP",
            _ => "unknown",
        }
    }
}

/// A parsed IPv4 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Internet header length in 32-bit words (5–15).
    pub ihl: u8,
    /// Differentiated services code point (RFC 2474): the packet's traffic class.
    pub dscp: u8,
    /// Explicit congestion notification (RFC 3168), 2 bits.
    pub ecn: u8,
    /// Total length of the packet, header included, in bytes.
    pub total_len: u16,
    /// Identification: shared by all fragments of one datagram.
    pub id: u16,
    /// Don't Fragment: a router must drop rather than fragment (path MTU discovery).
    pub df: bool,
    /// More Fragments: more fragments of this datagram follow.
    pub mf: bool,
    /// Reserved (evil) bit, must be 0.
    pub reserved_bit: bool,
    /// Fragment offset in 8-byte units.
    pub frag_offset: u16,
    /// Time to live: hops left before a router discards the packet.
    pub ttl: u8,
    /// The protocol in the payload (IANA number).
    pub protocol: u8,
    /// Header checksum (RFC 1071) as sent.
    pub checksum: u16,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
}

impl Header {
    /// Reads the header and checks version, IHL and total length against the bytes present.
    /// A total length beyond the captured bytes is not an error here: the caller reports the
    /// payload as truncated.
    pub fn parse(b: &[u8]) -> Result<Header, HeaderError> {
        need(b, MIN_HEADER_LEN, "ipv4", "header")?;
        let v = byte(b, 0);
        if v >> 4 != 4 {
            return Err(HeaderError::Malformed {
                layer: "ipv4",
                field: "version",
                value: (v >> 4).into(),
                reason: "an IPv4 header has version 4",
            });
        }
        let ihl = v & 0x0f;
        if ihl < 5 {
            return Err(HeaderError::Malformed {
                layer: "ipv4",
                field: "ihl",
                value: ihl.into(),
                reason: "the header is at least 5 words (20 bytes)",
            });
        }
        let h = Header {
            ihl,
            dscp: byte(b, 1) >> 2,
            ecn: byte(b, 1) & 3,
            total_len: be16(b, 2),
            id: be16(b, 4),
            reserved_bit: byte(b, 6) & 0x80 != 0,
            df: byte(b, 6) & 0x40 != 0,
            mf: byte(b, 6) & 0x20 != 0,
            frag_offset: be16(b, 6) & 0x1fff,
            ttl: byte(b, 8),
            protocol: byte(b, 9),
            checksum: be16(b, 10),
            src: Ipv4Addr::from(array::<4>(b, 12)),
            dst: Ipv4Addr::from(array::<4>(b, 16)),
        };
        need(b, h.header_len(), "ipv4", "options")?;
        if usize::from(h.total_len) < h.header_len() {
            return Err(HeaderError::Malformed {
                layer: "ipv4",
                field: "total length",
                value: h.total_len.into(),
                reason: "shorter than the header itself",
            });
        }
        Ok(h)
    }

    /// Header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.ihl) * 4
    }

    /// True for any fragment but a whole datagram.
    pub fn is_fragment(&self) -> bool {
        self.mf || self.frag_offset != 0
    }

    /// The 3 flag bits as one number (reserved, DF, MF), as Wireshark's `ip.flags`.
    pub fn flags(&self) -> u8 {
        (u8::from(self.reserved_bit) << 2) | (u8::from(self.df) << 1) | u8::from(self.mf)
    }
}

/// The Internet checksum (RFC 1071) over `b`: 0 when a header with its checksum field is intact.
pub fn internet_checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = b.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The names of the options in `opts` (the bytes after the fixed header), in order. Stops at
/// End of Options or at an option whose length does not fit.
pub fn option_names(opts: &[u8]) -> Vec<&'static str> {
    let mut names = Vec::new();
    let mut i = 0;
    while let Some(&kind) = opts.get(i) {
        let name = match kind {
            0 => "end of options",
            1 => "no-op",
            7 => "record route",
            68 => "timestamp",
            130 => "security",
            131 => "loose source route",
            137 => "strict source route",
            148 => "router alert",
            _ => "unknown",
        };
        names.push(name);
        match kind {
            0 => break,
            1 => i += 1,
            _ => match opts.get(i + 1) {
                Some(&len) if len >= 2 => i += usize::from(len),
                _ => {
                    names.push("malformed option length");
                    break;
                }
            },
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The IPv4 header of a real SYN from curl to python3 -m http.server on loopback.
    static SYN_IP: [u8; 20] = [
        0x45, 0x00, 0x00, 0x3c, 0x31, 0x79, 0x40, 0x00, 0x40, 0x06, 0x0b, 0x41, 0x7f, 0x00, 0x00,
        0x01, 0x7f, 0x00, 0x00, 0x01,
    ];

    #[test]
    fn deconstruct_real_header() {
        let h = Header::parse(&SYN_IP).unwrap();
        assert_eq!(h.header_len(), 20);
        assert_eq!(h.total_len, 60);
        assert_eq!(h.id, 0x3179);
        assert!(h.df && !h.mf && !h.is_fragment());
        assert_eq!(h.flags(), 2);
        assert_eq!(h.ttl, 64);
        assert_eq!(h.protocol, protocol::TCP);
        assert_eq!(h.src, Ipv4Addr::LOCALHOST);
        assert_eq!(internet_checksum(&SYN_IP), 0, "checksum verifies");
    }

    #[test]
    fn malformed_cases() {
        let mut b = SYN_IP;
        b[0] = 0x65;
        assert!(matches!(
            Header::parse(&b),
            Err(HeaderError::Malformed {
                field: "version",
                ..
            })
        ));
        b[0] = 0x44;
        assert!(matches!(
            Header::parse(&b),
            Err(HeaderError::Malformed { field: "ihl", .. })
        ));
        b[0] = 0x46;
        assert!(
            Header::parse(&b).unwrap_err().is_truncated(),
            "IHL 6 needs 24 bytes"
        );
        let mut b = SYN_IP;
        b[3] = 10;
        assert!(matches!(
            Header::parse(&b),
            Err(HeaderError::Malformed {
                field: "total length",
                ..
            })
        ));
        assert!(Header::parse(&SYN_IP[..19]).unwrap_err().is_truncated());
    }

    #[test]
    fn agrees_with_pnet() {
        use pnet::packet::ipv4::Ipv4Packet;
        let p = Ipv4Packet::new(&SYN_IP).unwrap();
        let h = Header::parse(&SYN_IP).unwrap();
        assert_eq!(p.get_total_length(), h.total_len);
        assert_eq!(p.get_ttl(), h.ttl);
        assert_eq!(p.get_next_level_protocol().0, h.protocol);
        assert_eq!(p.get_flags(), h.flags());
        assert_eq!(p.get_checksum(), h.checksum);
        assert_eq!((p.get_source(), p.get_destination()), (h.src, h.dst));
    }

    #[test]
    fn options_walk_stops_safely() {
        assert_eq!(
            option_names(&[1, 1, 0, 0]),
            vec!["no-op", "no-op", "end of options"]
        );
        assert_eq!(option_names(&[148, 4, 0, 0]), vec!["router alert"]);
        assert_eq!(
            option_names(&[7, 0]),
            vec!["record route", "malformed option length"]
        );
        assert_eq!(
            option_names(&[7]),
            vec!["record route", "malformed option length"]
        );
    }
}

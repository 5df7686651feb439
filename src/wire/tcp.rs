//! TCP header (RFC 9293 §3.1) and its options (MSS, window scale RFC 7323, SACK RFC 2018,
//! timestamps RFC 7323).
//!
//! ```text
//! |          Source Port          |       Destination Port        |
//! |                        Sequence Number                        |
//! |                    Acknowledgment Number                      |
//! | DOff  | Rsrvd |C|E|U|A|P|R|S|F|            Window             |
//! |           Checksum            |         Urgent Pointer        |
//! |                     Options (DOff > 5)                        |
//! ```

use super::header_error::{be16, be32, byte, need, HeaderError};

pub const MIN_HEADER_LEN: usize = 20;

/// TCP control bits, as Wireshark's `tcp.flags` (12 bits: 3 reserved, AE, CWR, ECE, URG, ACK,
/// PSH, RST, SYN, FIN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(pub u16);

impl Flags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;
    pub const AE: u16 = 0x100;

    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
    pub fn syn(self) -> bool {
        self.has(Self::SYN)
    }
    pub fn ack(self) -> bool {
        self.has(Self::ACK)
    }
    pub fn fin(self) -> bool {
        self.has(Self::FIN)
    }
    pub fn rst(self) -> bool {
        self.has(Self::RST)
    }

    /// tcpdump's letters: S SYN, F FIN, R RST, P PSH, U URG, E ECE, W CWR, `.` ACK.
    pub fn tcpdump(self) -> TcpdumpFlags {
        let mut s = TcpdumpFlags::default();
        for (bit, c) in [
            (Self::SYN, b'S'),
            (Self::FIN, b'F'),
            (Self::PSH, b'P'),
            (Self::RST, b'R'),
            (Self::URG, b'U'),
            (Self::ECE, b'E'),
            (Self::CWR, b'W'),
            (Self::ACK, b'.'),
        ] {
            if self.has(bit) {
                s.push(c);
            }
        }
        if s.len == 0 {
            s.push(b'n');
            s.push(b'o');
            s.push(b'n');
            s.push(b'e');
        }
        s
    }

    /// Names of the set bits, e.g. "SYN, ACK".
    pub fn names(self) -> String {
        let mut v = Vec::new();
        for (bit, n) in [
            (Self::AE, "AE"),
            (Self::CWR, "CWR"),
            (Self::ECE, "ECE"),
            (Self::URG, "URG"),
            (Self::ACK, "ACK"),
            (Self::PSH, "PSH"),
            (Self::RST, "RST"),
            (Self::SYN, "SYN"),
            (Self::FIN, "FIN"),
        ] {
            if self.has(bit) {
                v.push(n);
            }
        }
        if v.is_empty() {
            "none".into()
        } else {
            v.join(", ")
        }
    }
}

/// tcpdump-style flag letters without a heap allocation.
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpdumpFlags {
    buf: [u8; 8],
    len: usize,
}

impl TcpdumpFlags {
    fn push(&mut self, c: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = c;
            self.len += 1;
        }
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or(&[])).unwrap_or("")
    }
}

/// The options this dissector understands, read without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// Maximum segment size (kind 2): the largest segment the sender wants to receive.
    pub mss: Option<u16>,
    /// Window scale shift count (kind 3): the window field is multiplied by 2^shift.
    pub wscale: Option<u8>,
    /// SACK permitted (kind 4): the sender can take selective acknowledgements.
    pub sack_permitted: bool,
    /// SACK blocks (kind 5): received ranges above the cumulative ack (up to 4).
    pub sack: [(u32, u32); 4],
    pub sack_count: u8,
    /// Timestamps (kind 8): TSval and TSecr, for RTT measurement and PAWS.
    pub timestamps: Option<(u32, u32)>,
    /// Option kinds in order (the first 16).
    pub kinds: [u8; 16],
    pub kind_count: u8,
    /// An option length ran past the header or was below 2.
    pub malformed: bool,
}

impl Options {
    /// Walks the option bytes (RFC 9293 §3.1): kinds 0 and 1 are one byte; others carry a
    /// length that includes kind and length bytes.
    pub fn parse(b: &[u8]) -> Options {
        let mut o = Options::default();
        let mut i = 0;
        while let Some(&kind) = b.get(i) {
            if let Some(slot) = o.kinds.get_mut(usize::from(o.kind_count)) {
                *slot = kind;
                o.kind_count += 1;
            }
            match kind {
                0 => break,
                1 => {
                    i += 1;
                    continue;
                }
                _ => {}
            }
            let len = match b.get(i + 1) {
                Some(&l) if l >= 2 && i + usize::from(l) <= b.len() => usize::from(l),
                _ => {
                    o.malformed = true;
                    break;
                }
            };
            let body = &b[i + 2..i + len];
            match (kind, body.len()) {
                (2, 2) => o.mss = Some(be16(body, 0)),
                (3, 1) => o.wscale = Some(byte(body, 0)),
                (4, 0) => o.sack_permitted = true,
                (5, n) if n % 8 == 0 => {
                    for (j, c) in body.chunks_exact(8).enumerate().take(4) {
                        o.sack[j] = (be32(c, 0), be32(c, 4));
                        o.sack_count = (j + 1) as u8;
                    }
                }
                (8, 8) => o.timestamps = Some((be32(body, 0), be32(body, 4))),
                (2 | 3 | 4 | 5 | 8, _) => o.malformed = true,
                _ => {}
            }
            i += len;
        }
        o
    }

    /// The option kinds seen, in order.
    pub fn kinds(&self) -> &[u8] {
        self.kinds
            .get(..usize::from(self.kind_count))
            .unwrap_or(&[])
    }

    /// The SACK blocks present.
    pub fn sack_blocks(&self) -> &[(u32, u32)] {
        self.sack.get(..usize::from(self.sack_count)).unwrap_or(&[])
    }
}

/// The name of an option kind.
pub fn option_name(kind: u8) -> &'static str {
    match kind {
        0 => "eol",
        1 => "nop",
        2 => "mss",
        3 => "wscale",
        4 => "sackOK",
        5 => "sack",
        8 => "TS",
        28 => "user timeout",
        29 => "TCP-AO",
        30 => "MPTCP",
        34 => "TFO",
        _ => "unknown",
    }
}

/// A parsed TCP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub src_port: u16,
    pub dst_port: u16,
    /// Sequence number: the position in the sender's byte stream of this segment's first byte
    /// (of the SYN itself for a SYN).
    pub seq: u32,
    /// Acknowledgement number: the next byte the sender expects (valid with ACK).
    pub ack: u32,
    /// Data offset in 32-bit words (5–15).
    pub data_offset: u8,
    pub flags: Flags,
    /// Receive window: bytes the sender can take, before window scaling.
    pub window: u16,
    pub checksum: u16,
    pub urgent: u16,
    pub options: Options,
}

impl Header {
    pub fn parse(b: &[u8]) -> Result<Header, HeaderError> {
        need(b, MIN_HEADER_LEN, "tcp", "header")?;
        let data_offset = byte(b, 12) >> 4;
        if data_offset < 5 {
            return Err(HeaderError::Malformed {
                layer: "tcp",
                field: "data offset",
                value: data_offset.into(),
                reason: "the header is at least 5 words (20 bytes)",
            });
        }
        let hlen = usize::from(data_offset) * 4;
        need(b, hlen, "tcp", "options")?;
        Ok(Header {
            src_port: be16(b, 0),
            dst_port: be16(b, 2),
            seq: be32(b, 4),
            ack: be32(b, 8),
            data_offset,
            flags: Flags(be16(b, 12) & 0x0fff),
            window: be16(b, 14),
            checksum: be16(b, 16),
            urgent: be16(b, 18),
            options: Options::parse(b.get(MIN_HEADER_LEN..hlen).unwrap_or(&[])),
        })
    }

    /// Header length in bytes (data offset × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.data_offset) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real SYN from curl to python3 -m http.server on loopback (after the IPv4 header).
    static SYN: [u8; 40] = [
        0xdb, 0x62, 0x46, 0xa0, 0x4f, 0x77, 0xca, 0xa5, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xff,
        0xd7, 0xfe, 0x30, 0x00, 0x00, 0x02, 0x04, 0xff, 0xd7, 0x04, 0x02, 0x08, 0x0a, 0x2f, 0x24,
        0x78, 0xd1, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
    ];

    /// The server's SYN-ACK in the same connection.
    static SYN_ACK: [u8; 40] = [
        0x46, 0xa0, 0xdb, 0x62, 0x28, 0x81, 0x55, 0xd6, 0x4f, 0x77, 0xca, 0xa6, 0xa0, 0x12, 0xff,
        0xcb, 0xfe, 0x30, 0x00, 0x00, 0x02, 0x04, 0xff, 0xd7, 0x04, 0x02, 0x08, 0x0a, 0x28, 0x45,
        0xdb, 0xb8, 0x2f, 0x24, 0x78, 0xd1, 0x01, 0x03, 0x03, 0x0a,
    ];

    #[test]
    fn syn_with_options() {
        let h = Header::parse(&SYN).unwrap();
        assert_eq!((h.src_port, h.dst_port), (56162, 18080));
        assert_eq!(h.seq, 1_333_250_725);
        assert_eq!(h.header_len(), 40);
        assert!(h.flags.syn() && !h.flags.ack());
        assert_eq!(h.flags.tcpdump().as_str(), "S");
        assert_eq!(h.window, 65495);
        let o = h.options;
        assert_eq!(o.mss, Some(65495));
        assert!(o.sack_permitted);
        assert_eq!(o.timestamps, Some((790_919_377, 0)));
        assert_eq!(o.wscale, Some(10));
        assert_eq!(o.kinds(), &[2, 4, 8, 1, 3]);
        assert!(!o.malformed);
    }

    #[test]
    fn syn_ack() {
        let h = Header::parse(&SYN_ACK).unwrap();
        assert_eq!(h.flags.tcpdump().as_str(), "S.");
        assert_eq!(h.flags.names(), "ACK, SYN");
        assert_eq!(h.ack, 1_333_250_726);
        assert_eq!(h.flags.0, 0x012);
    }

    #[test]
    fn malformed_and_truncated() {
        assert!(Header::parse(&SYN[..39]).unwrap_err().is_truncated());
        assert!(Header::parse(&SYN[..19]).unwrap_err().is_truncated());
        let mut b = SYN;
        b[12] = 0x40;
        assert!(matches!(
            Header::parse(&b),
            Err(HeaderError::Malformed { .. })
        ));
        // An option length running past the header.
        let o = Options::parse(&[2, 4, 0xff]);
        assert!(o.malformed && o.mss.is_none());
        let o = Options::parse(&[5, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        assert_eq!(o.sack_blocks(), &[(1, 2)]);
        assert!(Options::parse(&[3, 0]).malformed);
    }

    #[test]
    fn agrees_with_pnet() {
        use pnet::packet::tcp::TcpPacket;
        let p = TcpPacket::new(&SYN_ACK).unwrap();
        let h = Header::parse(&SYN_ACK).unwrap();
        assert_eq!(p.get_sequence(), h.seq);
        assert_eq!(p.get_acknowledgement(), h.ack);
        assert_eq!(p.get_window(), h.window);
        assert_eq!(u16::from(p.get_flags()), h.flags.0 & 0xff);
        assert_eq!(p.get_data_offset(), h.data_offset);
    }
}

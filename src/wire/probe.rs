//! wirelab's probe datagram: a numbered, timestamped UDP payload used by `udp send`,
//! `udp recv` and `compare`.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      magic "WL"               |     kind      |    flags      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       sequence number (64)                    |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |              send time, ns since the Unix epoch (64)          |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    reserved (32, zero)                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    padding up to --size ...                   |
//! ```
//!
//! All numbers are big-endian (network byte order). For `End` the sequence number field holds
//! how many datagrams were numbered; for `Ack` it is the sequence number acknowledged, and the
//! 8 bytes after the header carry the cumulative acknowledgement: every sequence number below
//! it has arrived (so one ack that gets through repairs the loss of earlier ones); the next 8
//! are a selective-acknowledgement bitmap, as TCP's SACK option: bit *i* (least significant
//! first) set means `cumulative + 1 + i` has arrived too.

use thiserror::Error;

mod field {
    use std::ops::Range;
    pub const MAGIC: Range<usize> = 0..2;
    pub const KIND: usize = 2;
    pub const FLAGS: usize = 3;
    pub const SEQ: Range<usize> = 4..12;
    pub const SENT_NS: Range<usize> = 12..20;
    pub const RESERVED: Range<usize> = 20..24;
}

/// Bytes of header before the padding.
pub const HEADER_LEN: usize = field::RESERVED.end;
/// The largest UDP payload over IPv4: 65535 − 20 (IPv4 header) − 8 (UDP header).
pub const MAX_UDP_PAYLOAD: usize = 65_507;
const MAGIC: [u8; 2] = *b"WL";

/// What a probe datagram is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Carries a numbered message.
    Data,
    /// Acknowledges one sequence number (reliable UDP only).
    Ack,
    /// End of stream: `seq` is how many data datagrams were numbered.
    End,
    Unknown(u8),
}

impl From<u8> for Kind {
    fn from(v: u8) -> Self {
        match v {
            0 => Kind::Data,
            1 => Kind::Ack,
            2 => Kind::End,
            n => Kind::Unknown(n),
        }
    }
}

impl From<Kind> for u8 {
    fn from(k: Kind) -> u8 {
        match k {
            Kind::Data => 0,
            Kind::Ack => 1,
            Kind::End => 2,
            Kind::Unknown(n) => n,
        }
    }
}

/// Why bytes are not a probe datagram.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProbeError {
    #[error("probe datagram truncated: needed {needed} bytes of header, got {got}")]
    Truncated { needed: usize, got: usize },
    #[error("not a wirelab probe: magic bytes are {0:02x?}, expected 57 4c (\"WL\")")]
    BadMagic([u8; 2]),
    #[error("unknown probe kind {0}")]
    UnknownKind(u8),
}

/// A parsed probe header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub kind: Kind,
    /// Retransmission flag: set on every copy after the first (reliable UDP).
    pub retransmit: bool,
    pub seq: u64,
    pub sent_ns: u64,
}

impl Probe {
    pub fn data(seq: u64, sent_ns: u64) -> Self {
        Probe {
            kind: Kind::Data,
            retransmit: false,
            seq,
            sent_ns,
        }
    }

    /// Reads the header; the payload after it is padding and is not checked.
    pub fn parse(buf: &[u8]) -> Result<Probe, ProbeError> {
        if buf.len() < HEADER_LEN {
            return Err(ProbeError::Truncated {
                needed: HEADER_LEN,
                got: buf.len(),
            });
        }
        let magic = [buf[field::MAGIC.start], buf[field::MAGIC.start + 1]];
        if magic != MAGIC {
            return Err(ProbeError::BadMagic(magic));
        }
        let kind = Kind::from(buf[field::KIND]);
        if let Kind::Unknown(n) = kind {
            return Err(ProbeError::UnknownKind(n));
        }
        Ok(Probe {
            kind,
            retransmit: buf[field::FLAGS] & 1 != 0,
            seq: be_u64(&buf[field::SEQ]),
            sent_ns: be_u64(&buf[field::SENT_NS]),
        })
    }

    /// Writes the header into the front of `buf` (which must hold [`HEADER_LEN`] bytes) and
    /// leaves the rest of `buf` as it is.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[field::MAGIC].copy_from_slice(&MAGIC);
        buf[field::KIND] = self.kind.into();
        buf[field::FLAGS] = u8::from(self.retransmit);
        buf[field::SEQ].copy_from_slice(&self.seq.to_be_bytes());
        buf[field::SENT_NS].copy_from_slice(&self.sent_ns.to_be_bytes());
        buf[field::RESERVED].fill(0);
    }

    /// A datagram of `size` bytes (at least [`HEADER_LEN`]): the header and zero padding.
    pub fn to_vec(&self, size: usize) -> Vec<u8> {
        let mut v = vec![0u8; size.max(HEADER_LEN)];
        self.emit(&mut v);
        v
    }
}

/// Bytes of an `Ack`: the header, the cumulative acknowledgement and the SACK bitmap.
pub const ACK_LEN: usize = HEADER_LEN + 16;

/// An `Ack` datagram for `seq`, echoing its send time, with the cumulative acknowledgement and
/// the selective-acknowledgement bitmap.
pub fn ack(seq: u64, sent_ns: u64, cumulative: u64, sack: u64) -> [u8; ACK_LEN] {
    let mut b = [0u8; ACK_LEN];
    Probe {
        kind: Kind::Ack,
        retransmit: false,
        seq,
        sent_ns,
    }
    .emit(&mut b);
    b[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(&cumulative.to_be_bytes());
    b[HEADER_LEN + 8..].copy_from_slice(&sack.to_be_bytes());
    b
}

/// The cumulative acknowledgement and SACK bitmap of an `Ack` datagram, if it carries them.
pub fn cumulative_ack(buf: &[u8]) -> Option<(u64, u64)> {
    let cum = buf.get(HEADER_LEN..HEADER_LEN + 8).map(be_u64)?;
    let sack = buf.get(HEADER_LEN + 8..ACK_LEN).map(be_u64)?;
    Some((cum, sack))
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data probe as `udp send` puts it on the wire: seq 258, sent at 1 s + 2 ns.
    static DATA_BYTES: [u8; 24] = [
        0x57, 0x4c, 0x00, 0x00, // "WL", data, no flags
        0, 0, 0, 0, 0, 0, 0x01, 0x02, // seq 258
        0, 0, 0, 0, 0x3b, 0x9a, 0xca, 0x02, // 1_000_000_002 ns
        0, 0, 0, 0,
    ];

    #[test]
    fn parse_real_bytes() {
        let p = Probe::parse(&DATA_BYTES).unwrap();
        assert_eq!(p, Probe::data(258, 1_000_000_002));
    }

    #[test]
    fn emit_matches_bytes() {
        assert_eq!(Probe::data(258, 1_000_000_002).to_vec(24), DATA_BYTES);
        let long = Probe::data(1, 2).to_vec(100);
        assert_eq!(long.len(), 100);
        assert!(long[HEADER_LEN..].iter().all(|&b| b == 0));
    }

    #[test]
    fn round_trip_every_kind() {
        for kind in [Kind::Data, Kind::Ack, Kind::End] {
            let p = Probe {
                kind,
                retransmit: true,
                seq: u64::MAX,
                sent_ns: 7,
            };
            assert_eq!(Probe::parse(&p.to_vec(64)).unwrap(), p);
        }
    }

    #[test]
    fn ack_carries_cumulative() {
        let a = ack(9, 5, 7, 0b101);
        let p = Probe::parse(&a).unwrap();
        assert_eq!((p.kind, p.seq, p.sent_ns), (Kind::Ack, 9, 5));
        assert_eq!(cumulative_ack(&a), Some((7, 0b101)));
        assert_eq!(cumulative_ack(&a[..HEADER_LEN + 8]), None);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Probe::parse(&DATA_BYTES[..10]),
            Err(ProbeError::Truncated {
                needed: 24,
                got: 10
            })
        );
        assert!(Probe::parse(&[]).is_err());
    }

    #[test]
    fn bad_magic_and_kind() {
        let mut b = DATA_BYTES;
        b[0] = b'X';
        assert_eq!(Probe::parse(&b), Err(ProbeError::BadMagic([b'X', 0x4c])));
        let mut b = DATA_BYTES;
        b[2] = 9;
        assert_eq!(Probe::parse(&b), Err(ProbeError::UnknownKind(9)));
    }
}

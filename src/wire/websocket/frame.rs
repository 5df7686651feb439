//! WebSocket frames (RFC 6455 §5.2): header parsing and emitting, masking, close payloads.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! | Masking-key (continued)       |          Payload Data         |
//! +-------------------------------- - - - - - - - - - - - - - - - +
//! ```

use std::fmt;

use thiserror::Error;

/// The largest payload a control frame (close, ping, pong) may carry (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// The longest possible frame header: 2 + 8 (64-bit length) + 4 (masking key).
pub const MAX_HEADER_LEN: usize = 14;

mod field {
    pub const FIN: u8 = 0x80;
    pub const RSV1: u8 = 0x40;
    pub const RSV2: u8 = 0x20;
    pub const RSV3: u8 = 0x10;
    pub const OPCODE: u8 = 0x0f;
    pub const MASK: u8 = 0x80;
    pub const LEN7: u8 = 0x7f;
    /// 7-bit length value meaning "a 16-bit length follows".
    pub const LEN_IS_16: u8 = 126;
    /// 7-bit length value meaning "a 64-bit length follows".
    pub const LEN_IS_64: u8 = 127;
}

/// The frame type (RFC 6455 §5.2, §11.8). 0x3–0x7 are reserved data opcodes, 0xB–0xF reserved
/// control opcodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: the next fragment of a message started by a text or binary frame.
    Continuation,
    /// 0x1: a message of UTF-8 text.
    Text,
    /// 0x2: a message of arbitrary bytes.
    Binary,
    /// 0x8: starts (or answers) the closing handshake.
    Close,
    /// 0x9: "are you there?"; the peer must answer with a pong carrying the same payload.
    Ping,
    /// 0xA: the answer to a ping (or an unsolicited heartbeat).
    Pong,
    /// Any other 4-bit value: no meaning without a negotiated extension.
    Reserved(u8),
}

impl From<u8> for OpCode {
    fn from(v: u8) -> Self {
        match v & field::OPCODE {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            n => OpCode::Reserved(n),
        }
    }
}

impl From<OpCode> for u8 {
    fn from(o: OpCode) -> u8 {
        match o {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
            OpCode::Reserved(n) => n & field::OPCODE,
        }
    }
}

impl OpCode {
    /// Control frames have the high bit of the opcode set (0x8–0xF, RFC 6455 §5.5).
    pub fn is_control(self) -> bool {
        u8::from(self) & 0x8 != 0
    }

    pub fn name(self) -> &'static str {
        match self {
            OpCode::Continuation => "continuation",
            OpCode::Text => "text",
            OpCode::Binary => "binary",
            OpCode::Close => "close",
            OpCode::Ping => "ping",
            OpCode::Pong => "pong",
            OpCode::Reserved(_) => "reserved",
        }
    }
}

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:x})", self.name(), u8::from(*self))
    }
}

/// How the payload length was written: in the 7-bit field, or in a 16- or 64-bit extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthEncoding {
    /// 0–125 in the 7-bit field.
    Short7,
    /// 126 in the 7-bit field, then 16 bits (126–65535).
    Extended16,
    /// 127 in the 7-bit field, then 64 bits (65536 and up; the top bit must be 0).
    Extended64,
}

impl LengthEncoding {
    /// The minimal encoding for `len` (RFC 6455 §5.2: "the minimal number of bytes MUST be used").
    pub fn for_len(len: u64) -> Self {
        if len <= 125 {
            LengthEncoding::Short7
        } else if len <= 0xffff {
            LengthEncoding::Extended16
        } else {
            LengthEncoding::Extended64
        }
    }

    /// Bytes of length field after the first two header bytes.
    pub fn extra_bytes(self) -> usize {
        match self {
            LengthEncoding::Short7 => 0,
            LengthEncoding::Extended16 => 2,
            LengthEncoding::Extended64 => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LengthEncoding::Short7 => "7-bit",
            LengthEncoding::Extended16 => "16-bit",
            LengthEncoding::Extended64 => "64-bit",
        }
    }
}

/// Why bytes are not a valid frame header or close payload.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum FrameError {
    #[error(
        "reserved bits set (RSV1={rsv1} RSV2={rsv2} RSV3={rsv3}) but no extension was negotiated"
    )]
    ReservedBits { rsv1: bool, rsv2: bool, rsv3: bool },
    #[error("reserved opcode 0x{0:x} (only 0x0-0x2 and 0x8-0xa are defined)")]
    ReservedOpcode(u8),
    #[error("{opcode} frame is fragmented (FIN=0); control frames must not be fragmented")]
    FragmentedControl { opcode: OpCode },
    #[error("{opcode} frame carries {len} bytes; control frames carry at most 125")]
    ControlTooLong { opcode: OpCode, len: u64 },
    #[error("64-bit payload length 0x{0:016x} has its most significant bit set")]
    LengthHighBit(u64),
    #[error("close payload of 1 byte: a close body is empty or starts with a 2-byte status code")]
    CloseOneByte,
    #[error("close status code {0} is not allowed on the wire ({reason})", reason = close_code_problem(*.0))]
    BadCloseCode(u16),
    #[error("close reason is not valid UTF-8 (first bad byte at offset {0})")]
    CloseReasonUtf8(usize),
}

/// A parsed frame header. Once [`FrameHeader::parse`] returned it, every field is consistent:
/// RSV2 and RSV3 are clear, the opcode is defined, control frames are final and short. RSV1
/// is kept: it means "compressed" when permessage-deflate was negotiated, and the
/// [`Assembler`](super::Assembler) rejects it otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the last fragment of its message.
    pub fin: bool,
    pub opcode: OpCode,
    /// The 4-byte masking key: present on every client-to-server frame, absent on
    /// server-to-client frames (RFC 6455 §5.3).
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes.
    pub payload_len: u64,
    /// Which length field carried `payload_len`.
    pub length_encoding: LengthEncoding,
    /// RSV1: with permessage-deflate, the message this frame starts is compressed.
    pub rsv1: bool,
}

impl FrameHeader {
    /// A header with the minimal length encoding.
    pub fn new(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload_len: u64) -> Self {
        FrameHeader {
            fin,
            opcode,
            mask,
            payload_len,
            length_encoding: LengthEncoding::for_len(payload_len),
            rsv1: false,
        }
    }

    /// Parses a header from the start of `buf`. `Ok(None)`: `buf` holds only part of a header,
    /// read more. `Ok(Some((header, n)))`: the header took `n` bytes; the payload follows.
    ///
    /// Checks the rules that need no connection state: reserved bits, reserved opcodes, control
    /// frames final and at most 125 bytes, the top bit of a 64-bit length clear.
    pub fn parse(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, FrameError> {
        let (b0, b1) = match buf {
            [b0, b1, ..] => (*b0, *b1),
            _ => return Ok(None),
        };
        let (rsv1, rsv2, rsv3) = (
            b0 & field::RSV1 != 0,
            b0 & field::RSV2 != 0,
            b0 & field::RSV3 != 0,
        );
        if rsv2 || rsv3 {
            return Err(FrameError::ReservedBits { rsv1, rsv2, rsv3 });
        }
        let fin = b0 & field::FIN != 0;
        let opcode = OpCode::from(b0);
        if let OpCode::Reserved(n) = opcode {
            return Err(FrameError::ReservedOpcode(n));
        }
        if opcode.is_control() && !fin {
            return Err(FrameError::FragmentedControl { opcode });
        }
        let masked = b1 & field::MASK != 0;
        let len7 = b1 & field::LEN7;
        let length_encoding = match len7 {
            field::LEN_IS_16 => LengthEncoding::Extended16,
            field::LEN_IS_64 => LengthEncoding::Extended64,
            _ => LengthEncoding::Short7,
        };
        let len_end = 2 + length_encoding.extra_bytes();
        let header_len = len_end + if masked { 4 } else { 0 };
        let Some(rest) = buf.get(2..header_len) else {
            return Ok(None);
        };
        let (len_bytes, mask_bytes) = rest.split_at(length_encoding.extra_bytes());
        let payload_len = match length_encoding {
            LengthEncoding::Short7 => u64::from(len7),
            LengthEncoding::Extended16 => len_bytes
                .iter()
                .fold(0u64, |acc, &b| acc << 8 | u64::from(b)),
            LengthEncoding::Extended64 => {
                let v = len_bytes
                    .iter()
                    .fold(0u64, |acc, &b| acc << 8 | u64::from(b));
                if v >> 63 != 0 {
                    return Err(FrameError::LengthHighBit(v));
                }
                v
            }
        };
        if opcode.is_control() && payload_len > MAX_CONTROL_PAYLOAD as u64 {
            return Err(FrameError::ControlTooLong {
                opcode,
                len: payload_len,
            });
        }
        let mask = match mask_bytes {
            [a, b, c, d] => Some([*a, *b, *c, *d]),
            _ => None,
        };
        Ok(Some((
            FrameHeader {
                fin,
                opcode,
                mask,
                payload_len,
                length_encoding,
                rsv1,
            },
            header_len,
        )))
    }

    /// Bytes this header takes on the wire.
    pub fn header_len(&self) -> usize {
        2 + self.length_encoding.extra_bytes() + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Writes the header into `out` and returns how many bytes it took (2 to 14).
    pub fn emit(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = if self.fin { field::FIN } else { 0 }
            | if self.rsv1 { field::RSV1 } else { 0 }
            | u8::from(self.opcode);
        let mask_bit = if self.mask.is_some() { field::MASK } else { 0 };
        let mut n = 2;
        match self.length_encoding {
            LengthEncoding::Short7 => out[1] = mask_bit | (self.payload_len as u8 & field::LEN7),
            LengthEncoding::Extended16 => {
                out[1] = mask_bit | field::LEN_IS_16;
                out[2..4].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
                n = 4;
            }
            LengthEncoding::Extended64 => {
                out[1] = mask_bit | field::LEN_IS_64;
                out[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
                n = 10;
            }
        }
        if let Some(m) = self.mask {
            out[n..n + 4].copy_from_slice(&m);
            n += 4;
        }
        n
    }

    /// Appends the header to `out`.
    pub fn emit_to_vec(&self, out: &mut Vec<u8>) {
        let mut h = [0u8; MAX_HEADER_LEN];
        let n = self.emit(&mut h);
        out.extend_from_slice(&h[..n]);
    }
}

impl fmt::Display for FrameHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "FIN={}{} opcode={} mask={} len={} ({})",
            u8::from(self.fin),
            if self.rsv1 { " RSV1=1" } else { "" },
            self.opcode,
            match self.mask {
                Some(m) => hex::encode(m),
                None => "none".into(),
            },
            self.payload_len,
            self.length_encoding.name()
        )
    }
}

/// XORs `buf` with the masking key (RFC 6455 §5.3): byte `i` of the payload is XORed with
/// `key[(offset + i) % 4]`, where `offset` is how many payload bytes came before `buf`.
/// Masking and unmasking are the same operation. Works eight bytes at a time.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let rot = offset % 4;
    let k = [
        key[rot],
        key[(rot + 1) % 4],
        key[(rot + 2) % 4],
        key[(rot + 3) % 4],
    ];
    let word = u64::from_ne_bytes([k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]]);
    let mut chunks = buf.chunks_exact_mut(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        c.copy_from_slice(&(u64::from_ne_bytes(w) ^ word).to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= k[i % 4];
    }
}

/// Is `code` a status code a peer may send in a close frame (RFC 6455 §7.4.1, §7.4.2)?
pub fn close_code_allowed(code: u16) -> bool {
    close_code_problem(code).is_empty()
}

fn close_code_problem(code: u16) -> &'static str {
    match code {
        0..=999 => "codes below 1000 are unused",
        1004 => "1004 is reserved",
        1005 | 1006 | 1015 => "1005, 1006 and 1015 are for reporting only, never sent",
        1000..=1003 | 1007..=1014 => "",
        1016..=2999 => "1016-2999 are reserved for future RFCs",
        3000..=4999 => "",
        _ => "codes above 4999 are undefined",
    }
}

/// What a close status code means (RFC 6455 §7.4.1 and the IANA registry).
pub fn close_code_name(code: u16) -> &'static str {
    match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1005 => "no status received",
        1006 => "abnormal closure",
        1007 => "invalid payload data",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "mandatory extension",
        1011 => "internal error",
        1012 => "service restart",
        1013 => "try again later",
        1014 => "bad gateway",
        3000..=3999 => "registered by a library or framework",
        4000..=4999 => "private use",
        _ => "unknown",
    }
}

/// The body of a close frame: an optional status code and UTF-8 reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosePayload {
    pub code: u16,
    pub reason: String,
}

impl ClosePayload {
    /// Parses an (unmasked) close payload. `Ok(None)`: empty body, no status code.
    pub fn parse(payload: &[u8]) -> Result<Option<ClosePayload>, FrameError> {
        match payload {
            [] => Ok(None),
            [_] => Err(FrameError::CloseOneByte),
            [hi, lo, reason @ ..] => {
                let code = u16::from_be_bytes([*hi, *lo]);
                if !close_code_allowed(code) {
                    return Err(FrameError::BadCloseCode(code));
                }
                let reason = std::str::from_utf8(reason)
                    .map_err(|e| FrameError::CloseReasonUtf8(e.valid_up_to()))?;
                Ok(Some(ClosePayload {
                    code,
                    reason: reason.to_string(),
                }))
            }
        }
    }

    /// The payload bytes: the code in network byte order, then the reason cut to fit in 125
    /// bytes (at a character boundary).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(2 + self.reason.len());
        v.extend_from_slice(&self.code.to_be_bytes());
        let mut end = self.reason.len().min(MAX_CONTROL_PAYLOAD - 2);
        while !self.reason.is_char_boundary(end) {
            end -= 1;
        }
        v.extend_from_slice(&self.reason.as_bytes()[..end]);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §5.7: a single-frame unmasked text message "Hello".
    static UNMASKED_HELLO: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    /// RFC 6455 §5.7: a single-frame masked text message "Hello".
    static MASKED_HELLO: [u8; 11] = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    /// RFC 6455 §5.7: a fragmented unmasked text message, "Hel" then "lo".
    static FRAGMENT_1: [u8; 5] = [0x01, 0x03, 0x48, 0x65, 0x6c];
    static FRAGMENT_2: [u8; 4] = [0x80, 0x02, 0x6c, 0x6f];
    /// RFC 6455 §5.7: unmasked ping "Hello", and the masked pong answer.
    static PING_HELLO: [u8; 7] = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    static MASKED_PONG: [u8; 11] = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    /// RFC 6455 §5.7: 256 bytes binary in one unmasked frame (16-bit length), header only.
    static BINARY_256: [u8; 4] = [0x82, 0x7E, 0x01, 0x00];
    /// RFC 6455 §5.7: 64 KiB binary in one unmasked frame (64-bit length), header only.
    static BINARY_64K: [u8; 10] = [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];

    #[test]
    fn rfc_unmasked_text() {
        let (h, n) = FrameHeader::parse(&UNMASKED_HELLO).unwrap().unwrap();
        assert_eq!(n, 2);
        assert!(h.fin);
        assert_eq!(h.opcode, OpCode::Text);
        assert_eq!(h.mask, None);
        assert_eq!(h.payload_len, 5);
        assert_eq!(&UNMASKED_HELLO[n..], b"Hello");
        let mut out = Vec::new();
        h.emit_to_vec(&mut out);
        assert_eq!(out, UNMASKED_HELLO[..2]);
    }

    #[test]
    fn rfc_masked_text() {
        let (h, n) = FrameHeader::parse(&MASKED_HELLO).unwrap().unwrap();
        assert_eq!(n, 6);
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        let mut payload = MASKED_HELLO[n..].to_vec();
        apply_mask(&mut payload, h.mask.unwrap(), 0);
        assert_eq!(payload, b"Hello");
        let mut out = Vec::new();
        h.emit_to_vec(&mut out);
        assert_eq!(out, MASKED_HELLO[..6]);
    }

    #[test]
    fn rfc_fragments_and_ping_pong() {
        let (h1, _) = FrameHeader::parse(&FRAGMENT_1).unwrap().unwrap();
        assert!(!h1.fin);
        assert_eq!(h1.opcode, OpCode::Text);
        let (h2, _) = FrameHeader::parse(&FRAGMENT_2).unwrap().unwrap();
        assert!(h2.fin);
        assert_eq!(h2.opcode, OpCode::Continuation);
        let (p, _) = FrameHeader::parse(&PING_HELLO).unwrap().unwrap();
        assert_eq!(p.opcode, OpCode::Ping);
        assert!(p.opcode.is_control());
        let (q, n) = FrameHeader::parse(&MASKED_PONG).unwrap().unwrap();
        assert_eq!(q.opcode, OpCode::Pong);
        let mut payload = MASKED_PONG[n..].to_vec();
        apply_mask(&mut payload, q.mask.unwrap(), 0);
        assert_eq!(payload, b"Hello");
    }

    #[test]
    fn rfc_extended_lengths() {
        let (h, n) = FrameHeader::parse(&BINARY_256).unwrap().unwrap();
        assert_eq!((h.payload_len, n), (256, 4));
        assert_eq!(h.length_encoding, LengthEncoding::Extended16);
        let (h, n) = FrameHeader::parse(&BINARY_64K).unwrap().unwrap();
        assert_eq!((h.payload_len, n), (65536, 10));
        assert_eq!(h.length_encoding, LengthEncoding::Extended64);
        for (bytes, len) in [(&BINARY_256[..], 256u64), (&BINARY_64K[..], 65536)] {
            let mut out = Vec::new();
            FrameHeader::new(true, OpCode::Binary, None, len).emit_to_vec(&mut out);
            assert_eq!(out, bytes);
        }
    }

    #[test]
    fn length_boundaries_round_trip() {
        for len in [0u64, 125, 126, 65535, 65536, 1 << 20, (1 << 63) - 1] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = FrameHeader::new(false, OpCode::Binary, mask, len);
                let mut out = Vec::new();
                h.emit_to_vec(&mut out);
                assert_eq!(out.len(), h.header_len());
                let (back, n) = FrameHeader::parse(&out).unwrap().unwrap();
                assert_eq!((back, n), (h, out.len()));
            }
        }
        assert_eq!(LengthEncoding::for_len(125), LengthEncoding::Short7);
        assert_eq!(LengthEncoding::for_len(126), LengthEncoding::Extended16);
        assert_eq!(LengthEncoding::for_len(65536), LengthEncoding::Extended64);
    }

    #[test]
    fn incomplete_headers_ask_for_more() {
        for bytes in [
            &[][..],
            &[0x81],
            &BINARY_256[..3],
            &BINARY_64K[..9],
            &MASKED_HELLO[..5],
        ] {
            assert_eq!(FrameHeader::parse(bytes), Ok(None), "{bytes:02x?}");
        }
    }

    #[test]
    fn reserved_bits_fail_but_rsv1_is_kept_for_the_extension() {
        // RSV1 (compressed, RFC 7692 §6): parsed here, judged by the Assembler.
        let (h, n) = FrameHeader::parse(&[0xc1, 0x01, 0xf2]).unwrap().unwrap();
        assert!(h.rsv1 && h.fin && n == 2);
        let mut out = Vec::new();
        h.emit_to_vec(&mut out);
        assert_eq!(out, [0xc1, 0x01], "RSV1 is written back");
        assert_eq!(
            FrameHeader::parse(&[0xe1, 0x00]),
            Err(FrameError::ReservedBits {
                rsv1: true,
                rsv2: true,
                rsv3: false
            })
        );
        assert!(matches!(
            FrameHeader::parse(&[0x91, 0x00]),
            Err(FrameError::ReservedBits { rsv3: true, .. })
        ));
    }

    #[test]
    fn reserved_opcodes_fail() {
        for op in [3u8, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
            assert_eq!(
                FrameHeader::parse(&[0x80 | op, 0x00]),
                Err(FrameError::ReservedOpcode(op))
            );
        }
    }

    #[test]
    fn control_frame_rules() {
        assert_eq!(
            FrameHeader::parse(&[0x09, 0x00]),
            Err(FrameError::FragmentedControl {
                opcode: OpCode::Ping
            })
        );
        assert_eq!(
            FrameHeader::parse(&[0x88, 0x7e, 0x00, 0x7e]),
            Err(FrameError::ControlTooLong {
                opcode: OpCode::Close,
                len: 126
            })
        );
        let e = FrameHeader::parse(&[0x8a, 0x7e, 0x00, 0x7e]).unwrap_err();
        assert!(e.to_string().contains("at most 125"), "{e}");
    }

    #[test]
    fn length_high_bit_fails() {
        let bytes = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            FrameHeader::parse(&bytes),
            Err(FrameError::LengthHighBit(0x8000_0000_0000_0001))
        );
    }

    #[test]
    fn mask_in_pieces_matches_whole() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let key = [0xde, 0xad, 0xbe, 0xef];
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        for (i, b) in whole.iter().enumerate() {
            assert_eq!(*b, data[i] ^ key[i % 4]);
        }
        let mut pieces = data.clone();
        let mut off = 0;
        for size in [1usize, 3, 7, 8, 9, 100, 500, 372] {
            apply_mask(&mut pieces[off..off + size], key, off);
            off += size;
        }
        assert_eq!(off, 1000);
        assert_eq!(pieces, whole);
    }

    #[test]
    fn close_payloads() {
        assert_eq!(ClosePayload::parse(&[]), Ok(None));
        assert_eq!(ClosePayload::parse(&[3]), Err(FrameError::CloseOneByte));
        let p = ClosePayload::parse(&[0x03, 0xe8, b'b', b'y', b'e'])
            .unwrap()
            .unwrap();
        assert_eq!((p.code, p.reason.as_str()), (1000, "bye"));
        assert_eq!(p.to_bytes(), [0x03, 0xe8, b'b', b'y', b'e']);
        for bad in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            assert_eq!(
                ClosePayload::parse(&bad.to_be_bytes()),
                Err(FrameError::BadCloseCode(bad)),
                "{bad}"
            );
        }
        for good in [
            1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999,
        ] {
            assert!(ClosePayload::parse(&good.to_be_bytes()).is_ok(), "{good}");
        }
        assert_eq!(
            ClosePayload::parse(&[0x03, 0xe8, b'o', b'k', 0xff]),
            Err(FrameError::CloseReasonUtf8(2))
        );
        let e = FrameError::BadCloseCode(1005).to_string();
        assert!(e.contains("1005") && e.contains("never sent"), "{e}");
    }

    #[test]
    fn long_close_reason_is_cut_at_a_char_boundary() {
        let p = ClosePayload {
            code: 1000,
            reason: "é".repeat(100),
        };
        let b = p.to_bytes();
        assert!(b.len() <= MAX_CONTROL_PAYLOAD);
        assert!(std::str::from_utf8(&b[2..]).is_ok());
    }

    #[test]
    fn display_names_fields() {
        let (h, _) = FrameHeader::parse(&MASKED_HELLO).unwrap().unwrap();
        assert_eq!(
            h.to_string(),
            "FIN=1 opcode=text (0x1) mask=37fa213d len=5 (7-bit)"
        );
        assert_eq!(close_code_name(1009), "message too big");
    }
}

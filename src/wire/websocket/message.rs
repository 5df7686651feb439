//! From frames to messages (RFC 6455 §5.4, §5.6): the rules that need connection state.
//!
//! ```text
//!  text, FIN=0 "Hel" ─┐
//!  ping, FIN=1        │  (control frames may come between fragments)
//!  cont, FIN=0 "l"    ├─ one message "Hello"
//!  cont, FIN=1 "o"   ─┘
//! ```
//!
//! [`Assembler`] is told about each frame header and each piece of (unmasked) payload as it
//! arrives, and says when a message is complete or which rule was broken. It does no I/O and
//! keeps no payload, so the socket code decides where the bytes live; [`decode_all`] is the
//! same machine over a byte slice, for tests and fuzzing.

use thiserror::Error;

use super::frame::{apply_mask, ClosePayload, FrameError, FrameHeader, OpCode};

/// Default largest message and frame: 16 MiB.
pub const DEFAULT_MAX_SIZE: u64 = 16 << 20;

/// Which end of the connection we are: decides which frames must be masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Receives masked frames, sends unmasked ones.
    Server,
    /// Receives unmasked frames, sends masked ones.
    Client,
}

/// Size limits for what we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload of a single frame.
    pub max_frame: u64,
    /// Largest message (all fragments together).
    pub max_message: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame: DEFAULT_MAX_SIZE,
            max_message: DEFAULT_MAX_SIZE,
        }
    }
}

/// A data message's type, from its first frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    Text,
    Binary,
}

/// A broken rule, and the close code it earns (RFC 6455 §7.4.1).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ProtocolError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("client sent an unmasked frame; every client-to-server frame must be masked (RFC 6455 §5.1)")]
    UnmaskedFromClient,
    #[error(
        "server sent a masked frame; server-to-client frames must not be masked (RFC 6455 §5.1)"
    )]
    MaskedFromServer,
    #[error("continuation frame without a message to continue")]
    UnexpectedContinuation,
    #[error("new {0} frame while a fragmented message is still open (expected a continuation)")]
    ExpectedContinuation(OpCode),
    #[error("frame of {len} bytes is larger than the limit of {max} bytes")]
    FrameTooBig { len: u64, max: u64 },
    #[error("message of at least {len} bytes is larger than the limit of {max} bytes")]
    MessageTooBig { len: u64, max: u64 },
    #[error("text message is not valid UTF-8: invalid sequence at byte offset {offset}")]
    InvalidUtf8 { offset: u64 },
    #[error("text message ends in the middle of a UTF-8 character")]
    IncompleteUtf8,
    #[error("RSV1 set on a {0} frame: only the first frame of a data message may carry it (RFC 7692 §6.1)")]
    Rsv1Misplaced(OpCode),
    #[error(transparent)]
    Inflate(#[from] super::deflate::InflateError),
}

impl ProtocolError {
    /// The close status code to send: 1007 for bad UTF-8 (in text or a close reason), 1009 for
    /// too big, 1002 for every other protocol error.
    pub fn close_code(&self) -> u16 {
        match self {
            ProtocolError::InvalidUtf8 { .. }
            | ProtocolError::IncompleteUtf8
            | ProtocolError::Frame(FrameError::CloseReasonUtf8(_)) => 1007,
            ProtocolError::FrameTooBig { .. }
            | ProtocolError::MessageTooBig { .. }
            | ProtocolError::Inflate(super::deflate::InflateError::TooBig { .. }) => 1009,
            ProtocolError::Inflate(_) => 1007,
            _ => 1002,
        }
    }
}

/// Validates UTF-8 that arrives in pieces, failing on the first byte that cannot start or
/// continue a character, without waiting for the rest.
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// The start of a character cut off at the end of the previous piece (at most 3 bytes).
    pending: [u8; 4],
    pending_len: usize,
    /// Bytes accepted so far (for error offsets).
    seen: u64,
}

impl Utf8Validator {
    /// Checks the next piece. On error, the offset counts from the start of the message.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), ProtocolError> {
        // First finish a character left open by the previous piece.
        while self.pending_len > 0 {
            let Some((&b, rest)) = bytes.split_first() else {
                return Ok(());
            };
            self.pending[self.pending_len] = b;
            self.pending_len += 1;
            bytes = rest;
            match std::str::from_utf8(&self.pending[..self.pending_len]) {
                Ok(_) => {
                    self.seen += self.pending_len as u64;
                    self.pending_len = 0;
                }
                Err(e) if e.error_len().is_some() => {
                    return Err(ProtocolError::InvalidUtf8 {
                        offset: self.seen + self.pending_len as u64 - 1,
                    })
                }
                Err(_) if self.pending_len == 4 => {
                    return Err(ProtocolError::InvalidUtf8 {
                        offset: self.seen + 3,
                    })
                }
                Err(_) => {}
            }
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => {
                self.seen += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                let good = e.valid_up_to();
                if let Some(bad) = e.error_len() {
                    let _ = bad;
                    return Err(ProtocolError::InvalidUtf8 {
                        offset: self.seen + good as u64,
                    });
                }
                // A character cut off at the end: keep its start for the next piece.
                let tail = bytes.get(good..).unwrap_or_default();
                self.seen += good as u64;
                self.pending_len = tail.len().min(3);
                self.pending[..self.pending_len].copy_from_slice(&tail[..self.pending_len]);
                Ok(())
            }
        }
    }

    /// The message ended: an open character is an error.
    pub fn finish(&mut self) -> Result<(), ProtocolError> {
        let open = self.pending_len > 0;
        *self = Utf8Validator::default();
        if open {
            Err(ProtocolError::IncompleteUtf8)
        } else {
            Ok(())
        }
    }
}

/// What the caller should do with a frame whose header was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Payload belongs to the current data message of this kind; `first` for its first frame.
    Data { kind: DataKind, first: bool },
    /// A control frame: read its whole payload (≤ 125 bytes) and handle it at once.
    Control(OpCode),
}

/// The per-connection state that turns frames into messages.
#[derive(Debug, Clone)]
pub struct Assembler {
    role: Role,
    limits: Limits,
    /// The kind of the message whose fragments are arriving, if one is open.
    open: Option<DataKind>,
    message_len: u64,
    utf8: Utf8Validator,
    /// permessage-deflate was negotiated: RSV1 may mark a message compressed.
    rsv1_allowed: bool,
    /// The open message is compressed (its first frame had RSV1).
    compressed: bool,
}

impl Assembler {
    pub fn new(role: Role, limits: Limits) -> Self {
        Assembler {
            role,
            limits,
            open: None,
            message_len: 0,
            utf8: Utf8Validator::default(),
            rsv1_allowed: false,
            compressed: false,
        }
    }

    /// permessage-deflate was negotiated: accept RSV1 on the first frame of a message.
    pub fn allow_compression(&mut self) {
        self.rsv1_allowed = true;
    }

    /// Is the message being assembled compressed? Its size limit then applies to the
    /// inflated bytes (checked by the caller while inflating), not to the wire bytes.
    pub fn compressed(&self) -> bool {
        self.compressed
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Checks a frame header against the connection's state: masking for our role, sizes,
    /// and fragmentation order.
    pub fn on_header(&mut self, h: &FrameHeader) -> Result<FrameKind, ProtocolError> {
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFromClient),
            (Role::Client, true) => return Err(ProtocolError::MaskedFromServer),
            _ => {}
        }
        if h.rsv1 {
            if !self.rsv1_allowed {
                return Err(ProtocolError::Frame(FrameError::ReservedBits {
                    rsv1: true,
                    rsv2: false,
                    rsv3: false,
                }));
            }
            if h.opcode.is_control() || h.opcode == OpCode::Continuation {
                return Err(ProtocolError::Rsv1Misplaced(h.opcode));
            }
        }
        if h.opcode.is_control() {
            return Ok(FrameKind::Control(h.opcode));
        }
        if h.payload_len > self.limits.max_frame {
            return Err(ProtocolError::FrameTooBig {
                len: h.payload_len,
                max: self.limits.max_frame,
            });
        }
        let (kind, first) = match (h.opcode, self.open) {
            (OpCode::Continuation, Some(k)) => (k, false),
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (op, Some(_)) => return Err(ProtocolError::ExpectedContinuation(op)),
            (OpCode::Text, None) => (DataKind::Text, true),
            (_, None) => (DataKind::Binary, true),
        };
        if first {
            self.message_len = 0;
            self.compressed = h.rsv1;
        }
        let total = self.message_len.saturating_add(h.payload_len);
        if total > self.limits.max_message && !self.compressed {
            return Err(ProtocolError::MessageTooBig {
                len: total,
                max: self.limits.max_message,
            });
        }
        self.message_len = total;
        self.open = Some(kind);
        Ok(FrameKind::Data { kind, first })
    }

    /// A piece of unmasked payload of the current data frame: text is checked as it comes.
    pub fn on_data(&mut self, chunk: &[u8]) -> Result<(), ProtocolError> {
        if self.open == Some(DataKind::Text) {
            self.utf8.feed(chunk)?;
        }
        Ok(())
    }

    /// The current data frame's payload is complete. Returns the message kind when `fin`
    /// ends the message.
    pub fn on_frame_end(&mut self, fin: bool) -> Result<Option<DataKind>, ProtocolError> {
        if !fin {
            return Ok(None);
        }
        let kind = self.open.take();
        if kind == Some(DataKind::Text) {
            self.utf8.finish()?;
        }
        Ok(kind)
    }
}

/// One thing read from the wire by [`decode_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<ClosePayload>),
}

/// Decodes every complete frame in `buf` into messages and control frames, stopping at a
/// close frame or at the first broken rule. Returns the events and how many bytes were used
/// (a trailing partial frame is left unused). A model of the socket loop, for tests and fuzzing.
pub fn decode_all(
    buf: &[u8],
    role: Role,
    limits: Limits,
) -> (Vec<Event>, usize, Option<ProtocolError>) {
    let mut asm = Assembler::new(role, limits);
    let mut events = Vec::new();
    let mut message = Vec::new();
    let mut pos = 0;
    loop {
        let rest = buf.get(pos..).unwrap_or_default();
        let (h, n) = match FrameHeader::parse(rest) {
            Ok(Some(x)) => x,
            Ok(None) => return (events, pos, None),
            Err(e) => return (events, pos, Some(e.into())),
        };
        let kind = match asm.on_header(&h) {
            Ok(k) => k,
            Err(e) => return (events, pos, Some(e)),
        };
        let Some(end) = usize::try_from(h.payload_len)
            .ok()
            .and_then(|l| n.checked_add(l))
        else {
            return (events, pos, None);
        };
        let Some(raw) = rest.get(n..end) else {
            return (events, pos, None);
        };
        let mut payload = raw.to_vec();
        if let Some(m) = h.mask {
            apply_mask(&mut payload, m, 0);
        }
        pos += end;
        match kind {
            FrameKind::Control(op) => match op {
                OpCode::Ping => events.push(Event::Ping(payload)),
                OpCode::Pong => events.push(Event::Pong(payload)),
                _ => match ClosePayload::parse(&payload) {
                    Ok(c) => {
                        events.push(Event::Close(c));
                        return (events, pos, None);
                    }
                    Err(e) => return (events, pos, Some(e.into())),
                },
            },
            FrameKind::Data { .. } => {
                if let Err(e) = asm.on_data(&payload) {
                    return (events, pos, Some(e));
                }
                message.extend_from_slice(&payload);
                match asm.on_frame_end(h.fin) {
                    Ok(Some(DataKind::Text)) => {
                        match String::from_utf8(std::mem::take(&mut message)) {
                            Ok(s) => events.push(Event::Text(s)),
                            Err(_) => return (events, pos, Some(ProtocolError::IncompleteUtf8)),
                        }
                    }
                    Ok(Some(DataKind::Binary)) => {
                        events.push(Event::Binary(std::mem::take(&mut message)))
                    }
                    Ok(None) => {}
                    Err(e) => return (events, pos, Some(e)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(fin: bool, op: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
        let h = FrameHeader::new(fin, OpCode::from(op), mask, payload.len() as u64);
        let mut out = Vec::new();
        h.emit_to_vec(&mut out);
        let start = out.len();
        out.extend_from_slice(payload);
        if let Some(m) = mask {
            apply_mask(&mut out[start..], m, 0);
        }
        out
    }

    const M: Option<[u8; 4]> = Some([0x37, 0xfa, 0x21, 0x3d]);

    fn server(buf: &[u8]) -> (Vec<Event>, usize, Option<ProtocolError>) {
        decode_all(buf, Role::Server, Limits::default())
    }

    #[test]
    fn rfc_fragmented_hello_with_ping_between() {
        // RFC 6455 §5.7 "Hel" + "lo" as seen by a client, with a ping between the fragments.
        let mut b = vec![0x01, 0x03, 0x48, 0x65, 0x6c];
        b.extend_from_slice(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        b.extend_from_slice(&[0x80, 0x02, 0x6c, 0x6f]);
        let (ev, used, err) = decode_all(&b, Role::Client, Limits::default());
        assert_eq!(err, None);
        assert_eq!(used, b.len());
        assert_eq!(
            ev,
            vec![Event::Ping(b"Hello".to_vec()), Event::Text("Hello".into())]
        );
    }

    #[test]
    fn masked_messages_and_close() {
        let mut b = frame(true, 2, M, &[0u8; 300]);
        b.extend(frame(true, 1, M, "héllo".as_bytes()));
        b.extend(frame(true, 8, M, &[0x03, 0xe8, b'o', b'k']));
        b.extend(frame(true, 1, M, b"after close"));
        let (ev, used, err) = server(&b);
        assert_eq!(err, None);
        assert_eq!(
            ev,
            vec![
                Event::Binary(vec![0; 300]),
                Event::Text("héllo".into()),
                Event::Close(Some(ClosePayload {
                    code: 1000,
                    reason: "ok".into()
                }))
            ]
        );
        assert!(used < b.len(), "stops at the close frame");
    }

    #[test]
    fn partial_frame_is_left_for_later() {
        let b = frame(true, 1, M, b"Hello");
        let (ev, used, err) = server(&b[..b.len() - 1]);
        assert_eq!((ev.len(), used, err), (0, 0, None));
    }

    #[test]
    fn masking_rules_by_role() {
        let (_, _, e) = server(&frame(true, 1, None, b"x"));
        assert_eq!(e, Some(ProtocolError::UnmaskedFromClient));
        let (_, _, e) = decode_all(&frame(true, 1, M, b"x"), Role::Client, Limits::default());
        assert_eq!(e, Some(ProtocolError::MaskedFromServer));
        assert_eq!(e.unwrap().close_code(), 1002);
    }

    #[test]
    fn fragmentation_order_rules() {
        let (_, _, e) = server(&frame(true, 0, M, b"x"));
        assert_eq!(e, Some(ProtocolError::UnexpectedContinuation));
        let mut b = frame(false, 1, M, b"a");
        b.extend(frame(true, 2, M, b"b"));
        let (_, _, e) = server(&b);
        assert_eq!(e, Some(ProtocolError::ExpectedContinuation(OpCode::Binary)));
        assert_eq!(e.unwrap().close_code(), 1002);
    }

    #[test]
    fn size_limits_give_1009() {
        let limits = Limits {
            max_frame: 10,
            max_message: 15,
        };
        let (_, _, e) = decode_all(&frame(true, 2, M, &[0; 11]), Role::Server, limits);
        assert_eq!(e, Some(ProtocolError::FrameTooBig { len: 11, max: 10 }));
        let mut b = frame(false, 2, M, &[0; 10]);
        b.extend(frame(true, 0, M, &[0; 6]));
        let (_, _, e) = decode_all(&b, Role::Server, limits);
        assert_eq!(e, Some(ProtocolError::MessageTooBig { len: 16, max: 15 }));
        assert_eq!(e.unwrap().close_code(), 1009);
    }

    #[test]
    fn frame_errors_pass_through_with_1002() {
        let (_, _, e) = server(&[0xc1, 0x80, 0, 0, 0, 0]);
        let e = e.unwrap();
        assert!(matches!(
            e,
            ProtocolError::Frame(FrameError::ReservedBits { .. })
        ));
        assert_eq!(e.close_code(), 1002);
        let (_, _, e) = server(&frame(true, 8, M, &[0x03, 0xed]));
        assert_eq!(
            e,
            Some(ProtocolError::Frame(FrameError::BadCloseCode(1005)))
        );
        let (_, _, e) = server(&frame(true, 8, M, &[0x03, 0xe8, 0xc0]));
        assert_eq!(e.clone().unwrap().close_code(), 1007);
    }

    #[test]
    fn invalid_utf8_fails_on_the_first_fragment() {
        // 0xce 0xba is "κ"; 0xf4 0x90 is past U+10FFFF and can never be valid.
        let mut b = frame(false, 1, M, &[0xce, 0xba, 0xf4, 0x90]);
        b.extend(frame(true, 0, M, b"never looked at"));
        let (ev, used, e) = server(&b);
        assert_eq!(e, Some(ProtocolError::InvalidUtf8 { offset: 2 }));
        assert_eq!(e.unwrap().close_code(), 1007);
        assert!(ev.is_empty());
        assert_eq!(used, 10, "failed inside the first frame");
    }

    #[test]
    fn utf8_split_across_fragments_is_fine() {
        let s = "κόσμε€𝄞".as_bytes();
        for cut in 0..s.len() {
            let mut b = frame(false, 1, M, &s[..cut]);
            b.extend(frame(true, 0, M, &s[cut..]));
            let (ev, _, e) = server(&b);
            assert_eq!(e, None, "cut at {cut}");
            assert_eq!(ev, vec![Event::Text("κόσμε€𝄞".into())]);
        }
    }

    #[test]
    fn utf8_validator_edge_cases() {
        let mut v = Utf8Validator::default();
        v.feed(&[0xf0]).unwrap();
        v.feed(&[0x9d]).unwrap();
        assert_eq!(
            v.feed(&[0x41]),
            Err(ProtocolError::InvalidUtf8 { offset: 2 })
        );
        let mut v = Utf8Validator::default();
        v.feed(&[0xe2, 0x82]).unwrap();
        assert_eq!(v.finish(), Err(ProtocolError::IncompleteUtf8));
        let mut v = Utf8Validator::default();
        assert_eq!(
            v.feed(b"ab\xffcd"),
            Err(ProtocolError::InvalidUtf8 { offset: 2 })
        );
        let mut v = Utf8Validator::default();
        v.feed(&[]).unwrap();
        v.feed(b"ok").unwrap();
        assert_eq!(v.finish(), Ok(()));
    }

    #[test]
    fn text_ending_mid_character_is_1007() {
        let (_, _, e) = server(&frame(true, 1, M, &[0x61, 0xe2, 0x82]));
        assert_eq!(e, Some(ProtocolError::IncompleteUtf8));
        assert_eq!(e.unwrap().close_code(), 1007);
    }

    #[test]
    fn empty_messages_and_pings() {
        let mut b = frame(true, 1, M, b"");
        b.extend(frame(true, 2, M, b""));
        b.extend(frame(true, 9, M, b""));
        b.extend(frame(true, 10, M, b"p"));
        b.extend(frame(true, 8, M, b""));
        let (ev, _, e) = server(&b);
        assert_eq!(e, None);
        assert_eq!(
            ev,
            vec![
                Event::Text(String::new()),
                Event::Binary(vec![]),
                Event::Ping(vec![]),
                Event::Pong(b"p".to_vec()),
                Event::Close(None)
            ]
        );
    }
}

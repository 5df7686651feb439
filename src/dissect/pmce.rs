//! permessage-deflate in captures (RFC 7692): the dissector inflates compressed WebSocket
//! messages as the receiver would, with what the server's 101 response agreed on.
//!
//! ```text
//!  101 response  Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12
//!        │
//!        ▼  one DEFLATE stream per direction, kept across messages (context takeover)
//!  frame RSV1=1 "f2 48 cd c9 c9 07 00" ──+tail 00 00 ff ff, inflate──▶ "Hello"
//!  frame RSV1=1 "f2 00 11 00 00"        ──same window──────────────▶ "Hello" (5 bytes for 5)
//! ```
//!
//! The compressor's window is never reset with context takeover, so the dissector can only
//! inflate a message if it saw every compressed byte before it in that direction: a frame
//! cut by the snap length, spread over segments, or past the size limit loses the context
//! until a message starts afresh (always, with `*_no_context_takeover`).
//! Compression is OSI's presentation layer (6): how the application's bytes are encoded.

use crate::wire::websocket::deflate::{InflateError, Inflater};
use crate::wire::websocket::handshake::{self, Deflate};
use crate::wire::websocket::message::DEFAULT_MAX_SIZE;

/// A compressed message inflates to at most this many bytes (what `ws serve` accepts by
/// default); past it the dissector stops and says so.
pub const MAX_INFLATED: u64 = DEFAULT_MAX_SIZE;

/// What one frame of a compressed message inflated to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inflated {
    /// Opcode of the message (1 text, 2 binary), also on its continuation frames.
    pub opcode: u8,
    /// Final frame of the message.
    pub fin: bool,
    /// Bytes of compressed payload in this frame.
    pub compressed_len: u64,
    /// What this frame's bytes inflated to (the tail's output is on the final frame).
    pub data: Vec<u8>,
    /// The message so far, compressed and inflated (on the final frame: the whole message).
    pub message_compressed: u64,
    pub message_len: u64,
    /// The LZ77 window the sender may use (`*_max_window_bits`).
    pub window_bits: u8,
    /// The sender resets its window after every message (`*_no_context_takeover`).
    pub no_context_takeover: bool,
    /// Inflating stopped at [`MAX_INFLATED`] bytes.
    pub cut: bool,
    /// Why the frame could not be inflated (corrupt data, or an earlier loss of context).
    pub error: Option<String>,
}

/// One direction of a connection.
struct Direction {
    inflater: Inflater,
    /// The message being inflated: (opcode, compressed so far, inflated so far).
    message: Option<(u8, u64, u64)>,
    /// A compressed frame was not seen whole: the window is unknown until a fresh start.
    lost: bool,
    no_context_takeover: bool,
    window_bits: u8,
}

/// The permessage-deflate state of one WebSocket connection.
pub struct ConnDeflate {
    pub agreed: Deflate,
    /// Which direction (the engine's 0 or 1) the server sends in.
    server_dir: usize,
    dirs: [Direction; 2],
}

impl std::fmt::Debug for ConnDeflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnDeflate")
            .field("agreed", &self.agreed)
            .field("server_dir", &self.server_dir)
            .finish_non_exhaustive()
    }
}

impl ConnDeflate {
    /// The state for a connection whose server (sending in `server_dir`) answered with these
    /// header fields; `None` when it did not agree to permessage-deflate (or answered
    /// something a client must reject).
    pub fn from_response(headers: &[(String, String)], server_dir: usize) -> Option<ConnDeflate> {
        let h = handshake::Headers(
            headers
                .iter()
                .map(|(n, v)| handshake::Header {
                    name: n.clone(),
                    value: v.clone(),
                })
                .collect(),
        );
        let agreed = handshake::client_accept(&h).ok()??;
        Some(Self::new(agreed, server_dir))
    }

    pub fn new(agreed: Deflate, server_dir: usize) -> ConnDeflate {
        let dir = |d: usize| {
            let (no_context_takeover, window_bits) = agreed.sending(d == server_dir);
            Direction {
                inflater: Inflater::new(no_context_takeover),
                message: None,
                lost: false,
                no_context_takeover,
                window_bits,
            }
        };
        ConnDeflate {
            agreed,
            server_dir,
            dirs: [dir(0), dir(1)],
        }
    }

    /// A data frame sent in direction `dir` (`rsv1`: its RSV1 bit; `payload`: unmasked, or
    /// `None` when not captured whole). Returns what it inflated to, or `None` when the frame
    /// is not part of a compressed message.
    pub fn frame(
        &mut self,
        dir: usize,
        opcode: u8,
        rsv1: bool,
        fin: bool,
        payload_len: u64,
        payload: Option<&[u8]>,
    ) -> Option<Inflated> {
        let d = self.dirs.get_mut(dir)?;
        let opcode = match (opcode, d.message) {
            (1 | 2, _) if rsv1 => {
                if d.no_context_takeover {
                    // Every message starts a fresh stream: nothing earlier is needed.
                    d.inflater = Inflater::new(true);
                    d.lost = false;
                }
                d.message = Some((opcode, 0, 0));
                opcode
            }
            (0, Some((op, ..))) => op,
            (1 | 2, _) => {
                // An uncompressed message: a message in progress ended unseen.
                d.message = None;
                return None;
            }
            _ => return None,
        };
        let (_, mut comp, mut len) = d.message.unwrap_or((opcode, 0, 0));
        comp += payload_len;
        let mut out = Vec::new();
        let mut cut = false;
        let mut error = None;
        match payload {
            _ if d.lost => {
                error = Some("an earlier compressed frame in this direction was not captured whole, so the DEFLATE window is unknown".to_string());
            }
            None => {
                d.lost = true;
                error = Some("the frame was not captured whole in this segment".to_string());
            }
            Some(p) => {
                let max = MAX_INFLATED.saturating_sub(len);
                let mut r = d.inflater.inflate(p, &mut out, max);
                if r.is_ok() && fin {
                    r = d.inflater.finish(&mut out, max);
                }
                match r {
                    Ok(()) => {}
                    Err(InflateError::TooBig { .. }) => {
                        cut = true;
                        d.lost = true;
                    }
                    Err(e) => {
                        d.lost = true;
                        error = Some(e.to_string());
                    }
                }
            }
        }
        len += out.len() as u64;
        d.message = (!fin).then_some((opcode, comp, len));
        Some(Inflated {
            opcode,
            fin,
            compressed_len: payload_len,
            data: out,
            message_compressed: comp,
            message_len: len,
            window_bits: d.window_bits,
            no_context_takeover: d.no_context_takeover,
            cut,
            error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(ext: &str) -> Vec<(String, String)> {
        vec![
            ("Upgrade".into(), "websocket".into()),
            ("Sec-WebSocket-Extensions".into(), ext.into()),
        ]
    }

    /// RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello" twice, the second with the first's window.
    const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    const HELLO_AGAIN: [u8; 5] = [0xf2, 0x00, 0x11, 0x00, 0x00];

    #[test]
    fn context_is_kept_per_direction_across_messages() {
        let mut c = ConnDeflate::from_response(&headers("permessage-deflate"), 1).unwrap();
        let a = c.frame(1, 1, true, true, 7, Some(&HELLO)).unwrap();
        assert_eq!((a.data.as_slice(), a.message_len), (&b"Hello"[..], 5));
        assert_eq!((a.window_bits, a.no_context_takeover), (15, false));
        // The client's direction has its own stream: the same bytes inflate the same.
        assert_eq!(
            c.frame(0, 1, true, true, 7, Some(&HELLO)).unwrap().data,
            b"Hello"
        );
        let b = c.frame(1, 1, true, true, 5, Some(&HELLO_AGAIN)).unwrap();
        assert_eq!(b.data, b"Hello", "{b:?}");
        assert!(b.error.is_none());
        // Uncompressed frames and control frames are not inflated.
        assert!(c.frame(1, 1, false, true, 5, Some(b"Hello")).is_none());
        assert!(c.frame(1, 9, false, true, 0, Some(b"")).is_none());
    }

    #[test]
    fn no_context_takeover_starts_each_message_afresh() {
        let ext = "permessage-deflate; server_no_context_takeover; server_max_window_bits=10";
        let mut c = ConnDeflate::from_response(&headers(ext), 0).unwrap();
        let a = c.frame(0, 1, true, true, 7, Some(&HELLO)).unwrap();
        assert_eq!((a.window_bits, a.no_context_takeover), (10, true));
        // The back-reference of the second "Hello" points at a window that was reset.
        let b = c.frame(0, 1, true, true, 5, Some(&HELLO_AGAIN)).unwrap();
        assert!(b.error.is_some(), "{b:?}");
        // …and the next message is readable again without the lost context.
        assert_eq!(
            c.frame(0, 1, true, true, 7, Some(&HELLO)).unwrap().data,
            b"Hello"
        );
        // The client's direction keeps its context (only the server's was reset).
        let (nc, bits) = c.agreed.sending(false);
        assert_eq!((nc, bits), (false, 15));
    }

    #[test]
    fn a_frame_not_seen_whole_loses_the_context() {
        let mut c = ConnDeflate::from_response(&headers("permessage-deflate"), 1).unwrap();
        let a = c.frame(1, 1, true, true, 7, None).unwrap();
        assert!(a.error.is_some());
        let b = c.frame(1, 1, true, true, 7, Some(&HELLO)).unwrap();
        assert!(
            b.error.as_deref().unwrap().contains("window is unknown"),
            "{b:?}"
        );
    }

    #[test]
    fn fragments_inflate_as_one_message() {
        let mut c = ConnDeflate::from_response(&headers("permessage-deflate"), 1).unwrap();
        let a = c.frame(1, 1, true, false, 3, Some(&HELLO[..3])).unwrap();
        let b = c.frame(1, 0, false, true, 4, Some(&HELLO[3..])).unwrap();
        assert_eq!(b.opcode, 1);
        assert_eq!([a.data, b.data].concat(), b"Hello");
        assert_eq!((b.message_compressed, b.message_len), (7, 5));
    }

    #[test]
    fn the_limit_cuts_a_bomb() {
        let zeros = vec![0u8; (MAX_INFLATED + 1) as usize];
        let mut wire = Vec::new();
        crate::wire::websocket::deflate::Deflater::new(15, false)
            .unwrap()
            .compress(&zeros, &mut wire)
            .unwrap();
        let mut c = ConnDeflate::from_response(&headers("permessage-deflate"), 1).unwrap();
        let a = c
            .frame(1, 2, true, true, wire.len() as u64, Some(&wire))
            .unwrap();
        assert!(a.cut);
        assert!(a.message_len <= MAX_INFLATED, "{}", a.message_len);
        // At the limit exactly: not cut.
        let mut wire = Vec::new();
        crate::wire::websocket::deflate::Deflater::new(15, false)
            .unwrap()
            .compress(&zeros[..MAX_INFLATED as usize], &mut wire)
            .unwrap();
        let mut c = ConnDeflate::from_response(&headers("permessage-deflate"), 1).unwrap();
        let a = c
            .frame(1, 2, true, true, wire.len() as u64, Some(&wire))
            .unwrap();
        assert!(!a.cut);
        assert_eq!(a.message_len, MAX_INFLATED);
    }

    #[test]
    fn no_agreement_no_state() {
        assert!(ConnDeflate::from_response(&[], 1).is_none());
        assert!(ConnDeflate::from_response(&headers("x-webkit-deflate-frame"), 1).is_none());
    }
}

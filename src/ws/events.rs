//! What the WebSocket server and client report, as typed events. `render::ws` prints them as
//! text or JSON lines; nothing here prints.

use serde::Serialize;

use super::conn::{Direction, FrameInfo, Message};
use crate::wire::websocket::frame::{close_code_name, ClosePayload};
use crate::wire::websocket::{DataKind, Deflate, OpCode};

/// One thing that happened. `conn` numbers a server's connections from 1 (absent on the client).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Listening {
        addr: String,
        mode: &'static str,
    },
    /// The kernel finished the TCP three-way handshake.
    Accepted {
        conn: u64,
        peer: String,
    },
    /// The client connected (TCP) to `addr`.
    Connected {
        url: String,
        addr: String,
        connect_ms: f64,
    },
    /// The HTTP head that asked for the upgrade, as text.
    HandshakeRequest {
        #[serde(skip_serializing_if = "Option::is_none")]
        conn: Option<u64>,
        text: String,
    },
    /// The HTTP head that answered it.
    HandshakeResponse {
        #[serde(skip_serializing_if = "Option::is_none")]
        conn: Option<u64>,
        text: String,
    },
    /// A plain HTTP request (no Upgrade) answered with a page or a 404.
    Http {
        conn: u64,
        method: String,
        path: String,
        status: u16,
    },
    /// A handshake refused with an HTTP error status.
    Rejected {
        conn: u64,
        status: u16,
        reason: String,
    },
    /// What came of the permessage-deflate negotiation (shown with --show-frames).
    Extension {
        #[serde(skip_serializing_if = "Option::is_none")]
        conn: Option<u64>,
        /// `None`: no compression (not offered, or declined).
        permessage_deflate: Option<Deflate>,
    },
    Frame {
        #[serde(skip_serializing_if = "Option::is_none")]
        conn: Option<u64>,
        direction: Direction,
        fin: bool,
        /// RSV1: this frame starts a compressed message.
        rsv1: bool,
        opcode: &'static str,
        opcode_value: u8,
        /// The masking key in hex, if the frame was masked.
        mask_key: Option<String>,
        payload_len: u64,
        /// Which length field carried the length: 7-bit, 16-bit or 64-bit.
        length_encoding: &'static str,
        header_len: usize,
        /// Frames of a compressed message: the payload's size once inflated.
        #[serde(skip_serializing_if = "Option::is_none")]
        inflated_len: Option<u64>,
        preview: String,
    },
    Message {
        #[serde(skip_serializing_if = "Option::is_none")]
        conn: Option<u64>,
        direction: Direction,
        kind: &'static str,
        len: usize,
        preview: String,
        /// The whole message: the text itself, or base64 of binary data (see `encoding`).
        data: String,
        /// "text" or "base64".
        encoding: &'static str,
    },
    /// Broadcast mode: a message was handed to `to` other clients (0: nobody got it).
    Relayed {
        conn: u64,
        to: usize,
    },
    /// The client's ping was answered.
    Pong {
        rtt_ms: f64,
        payload: String,
    },
    Closed {
        #[serde(skip_serializing_if = "Option::is_none")]
        conn: Option<u64>,
        /// "peer" (it sent close first), "us" (we did), "error" (a protocol or I/O error).
        initiator: &'static str,
        code: Option<u16>,
        meaning: Option<&'static str>,
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        messages_in: u64,
        messages_out: u64,
    },
    /// The server stopped.
    Stopped {
        reason: &'static str,
        connections: u64,
    },
    /// The client waited for replies and none came.
    Timeout {
        waited_s: f64,
        expected: u64,
        received: u64,
    },
}

/// Up to 32 bytes of a payload, readable: quoted text if it is UTF-8, else hex.
pub fn preview(bytes: &[u8], text: bool) -> String {
    let shown = bytes.get(..32).unwrap_or(bytes);
    let more = if bytes.len() > shown.len() { "…" } else { "" };
    match std::str::from_utf8(shown) {
        Ok(s) if text || !s.is_empty() && s.chars().all(|c| !c.is_control() || c == '\n') => {
            format!("{:?}{more}", s)
        }
        _ => {
            // A text preview may cut a character in half; show the valid part.
            if text {
                let valid = match std::str::from_utf8(shown) {
                    Ok(s) => s,
                    Err(e) => std::str::from_utf8(&shown[..e.valid_up_to()]).unwrap_or_default(),
                };
                return format!("{valid:?}…");
            }
            let mut h = hex::encode(shown.get(..16).unwrap_or(shown));
            if bytes.len() > 16 {
                h.push('…');
            }
            h
        }
    }
}

impl Event {
    pub fn frame(conn: Option<u64>, f: &FrameInfo) -> Event {
        let h = &f.header;
        Event::Frame {
            conn,
            direction: f.direction,
            fin: h.fin,
            rsv1: h.rsv1,
            opcode: h.opcode.name(),
            opcode_value: u8::from(h.opcode),
            mask_key: h.mask.map(hex::encode),
            payload_len: h.payload_len,
            length_encoding: h.length_encoding.name(),
            header_len: h.header_len(),
            inflated_len: f.inflated_len,
            preview: match (h.opcode, f.preview.as_slice()) {
                (OpCode::Close, [hi, lo, reason @ ..]) => {
                    let code = u16::from_be_bytes([*hi, *lo]);
                    format!(
                        "code {code} ({}) {}",
                        close_code_name(code),
                        preview(reason, true)
                    )
                }
                (op, bytes) => preview(bytes, op == OpCode::Text),
            },
        }
    }

    pub fn extension(conn: Option<u64>, d: Option<&Deflate>) -> Event {
        Event::Extension {
            conn,
            permessage_deflate: d.copied(),
        }
    }

    pub fn message(conn: Option<u64>, direction: Direction, m: &Message) -> Event {
        Event::Message {
            conn,
            direction,
            kind: match m.kind() {
                DataKind::Text => "text",
                DataKind::Binary => "binary",
            },
            len: m.len(),
            preview: preview(m.as_bytes(), m.kind() == DataKind::Text),
            data: match m {
                Message::Text(t) => t.clone(),
                Message::Binary(b) => {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.encode(b)
                }
            },
            encoding: match m.kind() {
                DataKind::Text => "text",
                DataKind::Binary => "base64",
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn closed(
        conn: Option<u64>,
        initiator: &'static str,
        payload: Option<&ClosePayload>,
        error: Option<String>,
        messages_in: u64,
        messages_out: u64,
    ) -> Event {
        Event::Closed {
            conn,
            initiator,
            code: payload.map(|p| p.code),
            meaning: payload.map(|p| close_code_name(p.code)),
            reason: payload.map(|p| p.reason.clone()).unwrap_or_default(),
            error,
            messages_in,
            messages_out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews() {
        assert_eq!(preview(b"hello", true), "\"hello\"");
        assert_eq!(preview(&[0, 1, 2, 255], false), "000102ff");
        assert_eq!(
            preview(&[7u8; 40], false),
            "07070707070707070707070707070707…"
        );
        let long = "é".repeat(20);
        let p = preview(long.as_bytes(), true);
        assert!(p.ends_with('…') && p.starts_with("\"é"), "{p}");
    }
}

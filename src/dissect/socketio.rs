//! The engine.io and socket.io layers: bodies of `/socket.io/` polling requests and responses,
//! and WebSocket messages on connections that upgraded from `/socket.io/`. The decoding is
//! `wire::engineio` and `wire::socketio`; this only places their packets as layers.

use crate::wire::engineio::{self, PacketType as EioType};
use crate::wire::socketio::{self, Value};

use super::Proto;

/// An Engine.IO packet, as a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineIoLayer {
    pub kind: Option<EioType>,
    /// A binary message (WebSocket binary frame, or `b` + base64 in a polling body).
    pub binary: bool,
    pub data_len: usize,
    /// Why it could not be decoded.
    pub error: Option<String>,
    /// The open packet's sid, pingInterval and pingTimeout.
    pub handshake: Option<(String, u64, u64)>,
    /// A `2probe` / `3probe` of the upgrade.
    pub probe: bool,
}

/// A Socket.IO packet, as a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketIoLayer {
    pub kind: Option<socketio::PacketType>,
    pub namespace: String,
    pub event: Option<String>,
    /// The arguments as JSON text (placeholders for attachments as they are on the wire).
    pub args: String,
    pub ack_id: Option<u64>,
    pub attachments: usize,
    pub error: Option<String>,
}

fn eio_layer(p: &engineio::Packet) -> EngineIoLayer {
    EngineIoLayer {
        kind: Some(p.kind),
        binary: matches!(p.data, engineio::Data::Binary(_)),
        data_len: match &p.data {
            engineio::Data::Text(s) => s.len(),
            engineio::Data::Binary(b) => b.len(),
        },
        error: None,
        handshake: p
            .handshake()
            .ok()
            .map(|h| (h.sid, h.ping_interval, h.ping_timeout)),
        probe: matches!(p.kind, EioType::Ping | EioType::Pong) && p.text_data() == "probe",
    }
}

fn sio_layer(text: &str) -> SocketIoLayer {
    match socketio::Packet::decode(text) {
        Ok(p) => SocketIoLayer {
            kind: Some(p.kind),
            event: p.event_name(),
            args: Value::Array(p.args().to_vec()).preview(200),
            namespace: p.nsp,
            ack_id: p.id,
            attachments: p.attachments,
            error: None,
        },
        Err(e) => SocketIoLayer {
            kind: None,
            namespace: String::new(),
            event: None,
            args: String::new(),
            ack_id: None,
            attachments: 0,
            error: Some(e.to_string()),
        },
    }
}

/// The layers of the packet(s) in `bytes`, which start at `base` in the frame: a polling body
/// (0x1e-separated text packets) or one WebSocket message (`binary` for a binary frame).
pub fn layers(bytes: &[u8], base: usize, binary: bool) -> Vec<(Proto, usize, usize)> {
    let mut out = Vec::new();
    if binary {
        let p = engineio::Packet::decode_binary(bytes);
        out.push((
            Proto::EngineIo(Box::new(eio_layer(&p))),
            base,
            base + bytes.len(),
        ));
        return out;
    }
    // "ok" answers a polling POST: not a payload.
    let Ok(text) = std::str::from_utf8(bytes) else {
        return out;
    };
    if text == "ok" {
        return out;
    }
    let mut at = base;
    for record in text.split(engineio::SEPARATOR).take(64) {
        let end = at + record.len();
        match engineio::Packet::decode_text(record) {
            Ok(p) => {
                out.push((Proto::EngineIo(Box::new(eio_layer(&p))), at, end));
                if let (EioType::Message, engineio::Data::Text(t)) = (p.kind, &p.data) {
                    out.push((Proto::SocketIo(Box::new(sio_layer(t))), at + 1, end));
                }
            }
            Err(e) => out.push((
                Proto::EngineIo(Box::new(EngineIoLayer {
                    kind: None,
                    binary: false,
                    data_len: record.len(),
                    error: Some(e.to_string()),
                    handshake: None,
                    probe: false,
                })),
                at,
                end,
            )),
        }
        at = end + 1;
    }
    out
}

/// The summary text: `socket.io EVENT / "chat message" ["hi"]` or `engine.io ping`.
pub fn summary(eio: &EngineIoLayer, sio: Option<&SocketIoLayer>) -> String {
    if let Some(s) = sio {
        let Some(k) = s.kind else {
            return format!("socket.io malformed: {}", s.error.as_deref().unwrap_or(""));
        };
        let mut t = format!("socket.io {} {}", k.name(), s.namespace);
        if let Some(id) = s.ack_id {
            t.push_str(&format!(" id={id}"));
        }
        if let Some(e) = &s.event {
            t.push_str(&format!(" {e:?}"));
            let rest = s.args.as_str();
            t.push_str(&format!(" {rest}"));
        } else if matches!(
            k,
            socketio::PacketType::Ack | socketio::PacketType::BinaryAck
        ) {
            t.push_str(&format!(" {}", s.args));
        }
        if s.attachments > 0 {
            t.push_str(&format!(" +{} attachments", s.attachments));
        }
        return t;
    }
    match (eio.kind, eio.binary) {
        (_, true) => format!(
            "engine.io binary message, {} bytes (an attachment)",
            eio.data_len
        ),
        (Some(k), _) if eio.probe => format!(
            "engine.io {} probe (testing the WebSocket before the upgrade)",
            k.name()
        ),
        (Some(k), _) => format!("engine.io {}", k.name()),
        (None, _) => format!(
            "engine.io malformed: {}",
            eio.error.as_deref().unwrap_or("")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_polling_body_is_one_layer_pair_per_packet() {
        let body = "40{\"sid\":\"x\"}\u{1e}42[\"chat message\",\"hi\"]\u{1e}2";
        let l = layers(body.as_bytes(), 100, false);
        let names: Vec<_> = l
            .iter()
            .map(|(p, ..)| matches!(p, Proto::SocketIo(_)))
            .collect();
        assert_eq!(names, [false, true, false, true, false]);
        assert_eq!((l[0].1, l[0].2), (100, 113));
        assert_eq!((l[2].1, l[4].1), (114, 138));
        let (Proto::EngineIo(e), Proto::SocketIo(s)) = (&l[2].0, &l[3].0) else {
            panic!()
        };
        assert_eq!(
            summary(e, Some(s)),
            r#"socket.io EVENT / "chat message" ["hi"]"#
        );
        let Proto::EngineIo(e) = &l[4].0 else {
            panic!()
        };
        assert_eq!(summary(e, None), "engine.io ping");
        let l = layers(b"\x01\x02", 0, true);
        let Proto::EngineIo(e) = &l[0].0 else {
            panic!()
        };
        assert!(summary(e, None).contains("2 bytes"));
        let l = layers(b"42[\"connect\"]", 0, false);
        let Proto::SocketIo(s) = &l[1].0 else {
            panic!()
        };
        assert!(s.error.as_deref().unwrap().contains("reserved"));
    }
}

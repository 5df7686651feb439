//! Engine.IO protocol v4: the session layer under Socket.IO.
//!
//! ```text
//! packet (text):    TYPE DATA…          TYPE = 0 open, 1 close, 2 ping, 3 pong, 4 message,
//!                                               5 upgrade, 6 noop
//! packet (binary):  bytes               always a binary message (WebSocket binary frame)
//! polling payload:  P1 0x1e P2 0x1e P3  packets batched in one HTTP body, each a text packet;
//!                                       a binary message is `b` + base64(bytes)
//! open:             0{"sid":"…","upgrades":["websocket"],"pingInterval":25000,
//!                     "pingTimeout":20000,"maxPayload":1000000}
//! upgrade probe:    2probe → 3probe → 5  (client ping, server pong, client upgrade)
//! ```
//!
//! Pure: bytes and strings in, typed packets out, and back. No I/O.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Protocol revision sent as `EIO=4` in every request.
pub const PROTOCOL: u8 = 4;
/// Record separator between the packets of one polling payload.
pub const SEPARATOR: char = '\x1e';
/// The reference server's default `maxPayload` (bytes in one HTTP body or one WebSocket message).
pub const DEFAULT_MAX_PAYLOAD: usize = 1_000_000;

/// What can be wrong with an Engine.IO packet or payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("engine.io packet is empty (it needs at least a type digit)")]
    Empty,
    #[error(
        "engine.io packet type {0:?} is not one of 0-6 (open close ping pong message upgrade noop)"
    )]
    UnknownType(char),
    #[error("engine.io binary packet `b…` is not valid base64")]
    BadBase64,
    #[error("engine.io payload of {len} bytes is over maxPayload {max}")]
    PayloadTooLarge { len: usize, max: usize },
    #[error("engine.io open packet's handshake is not the expected JSON: {0}")]
    BadHandshake(String),
    #[error("engine.io packet is {0}, not open")]
    NotOpen(PacketType),
}

/// The packet type digit (Engine.IO v4 "packet encoding").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// Server → client, first packet of a session: the handshake JSON.
    Open,
    /// Either side: the session ends.
    Close,
    /// Server → client heartbeat (and client → server `2probe` during an upgrade).
    Ping,
    /// Answer to a ping (`3probe` answers the probe).
    Pong,
    /// Application data: one Socket.IO packet or attachment.
    Message,
    /// Client → server on the new WebSocket: switch the session to it.
    Upgrade,
    /// Server → client on the old polling transport: nothing, lets a held GET finish.
    Noop,
}

impl PacketType {
    pub const ALL: [PacketType; 7] = [
        PacketType::Open,
        PacketType::Close,
        PacketType::Ping,
        PacketType::Pong,
        PacketType::Message,
        PacketType::Upgrade,
        PacketType::Noop,
    ];

    /// The digit on the wire.
    pub fn code(self) -> char {
        match self {
            PacketType::Open => '0',
            PacketType::Close => '1',
            PacketType::Ping => '2',
            PacketType::Pong => '3',
            PacketType::Message => '4',
            PacketType::Upgrade => '5',
            PacketType::Noop => '6',
        }
    }

    pub fn from_code(c: char) -> Option<PacketType> {
        PacketType::ALL.into_iter().find(|t| t.code() == c)
    }

    /// The reference implementation's name (`open`, `ping`, …).
    pub fn name(self) -> &'static str {
        match self {
            PacketType::Open => "open",
            PacketType::Close => "close",
            PacketType::Ping => "ping",
            PacketType::Pong => "pong",
            PacketType::Message => "message",
            PacketType::Upgrade => "upgrade",
            PacketType::Noop => "noop",
        }
    }

    /// One line for a student: what this packet does.
    pub fn meaning(self) -> &'static str {
        match self {
            PacketType::Open => {
                "the server opens the session: sid, upgrades, heartbeat and size limits"
            }
            PacketType::Close => "the session ends",
            PacketType::Ping => {
                "heartbeat: the server checks the client is alive (or a probe of the new transport)"
            }
            PacketType::Pong => "heartbeat answer (or the answer to the probe)",
            PacketType::Message => "carries one Socket.IO packet or binary attachment",
            PacketType::Upgrade => "the client moves the session to the WebSocket",
            PacketType::Noop => "nothing: ends a held long-poll during the upgrade",
        }
    }
}

impl std::fmt::Display for PacketType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A packet's data: text, or (messages only) bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    Text(String),
    Binary(Vec<u8>),
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub kind: PacketType,
    pub data: Data,
}

/// What one packet becomes on a WebSocket: a text frame or a binary frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

/// The JSON of the open packet (Engine.IO v4 "handshake").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handshake {
    /// Session id: every later polling request carries it as `sid=`.
    pub sid: String,
    /// Transports the client may upgrade to (`["websocket"]` on polling, `[]` on WebSocket).
    pub upgrades: Vec<String>,
    /// Milliseconds between the server's pings.
    pub ping_interval: u64,
    /// Milliseconds the server waits for a pong (the client waits interval + timeout for a ping).
    pub ping_timeout: u64,
    /// Largest HTTP body or WebSocket message, in bytes, the server accepts.
    #[serde(default = "default_max_payload")]
    pub max_payload: u64,
}

fn default_max_payload() -> u64 {
    DEFAULT_MAX_PAYLOAD as u64
}

impl Handshake {
    pub fn parse(json: &str) -> Result<Handshake, Error> {
        serde_json::from_str(json).map_err(|e| Error::BadHandshake(e.to_string()))
    }

    /// The JSON, fields in the reference server's order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Packet {
    /// A packet with text data (may be empty).
    pub fn text(kind: PacketType, data: impl Into<String>) -> Packet {
        Packet {
            kind,
            data: Data::Text(data.into()),
        }
    }

    /// A packet with no data.
    pub fn bare(kind: PacketType) -> Packet {
        Packet::text(kind, "")
    }

    /// A text message (a Socket.IO packet's string form).
    pub fn message(s: impl Into<String>) -> Packet {
        Packet::text(PacketType::Message, s)
    }

    /// A binary message (a Socket.IO attachment).
    pub fn binary(b: impl Into<Vec<u8>>) -> Packet {
        Packet {
            kind: PacketType::Message,
            data: Data::Binary(b.into()),
        }
    }

    /// The open packet for `h`.
    pub fn open(h: &Handshake) -> Packet {
        Packet::text(PacketType::Open, h.to_json())
    }

    /// The handshake of an open packet.
    pub fn handshake(&self) -> Result<Handshake, Error> {
        match (&self.kind, &self.data) {
            (PacketType::Open, Data::Text(s)) => Handshake::parse(s),
            (PacketType::Open, Data::Binary(_)) => Err(Error::BadHandshake("binary".into())),
            (k, _) => Err(Error::NotOpen(*k)),
        }
    }

    /// The text data, if any ("" for none or binary).
    pub fn text_data(&self) -> &str {
        match &self.data {
            Data::Text(s) => s,
            Data::Binary(_) => "",
        }
    }

    /// Decodes one text packet: a WebSocket text frame, or one record of a polling payload
    /// (where `b` + base64 is a binary message).
    pub fn decode_text(s: &str) -> Result<Packet, Error> {
        let mut chars = s.chars();
        let c = chars.next().ok_or(Error::Empty)?;
        let rest = chars.as_str();
        if c == 'b' {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .map_err(|_| Error::BadBase64)?;
            return Ok(Packet::binary(bytes));
        }
        let kind = PacketType::from_code(c).ok_or(Error::UnknownType(c))?;
        Ok(Packet::text(kind, rest))
    }

    /// Decodes a WebSocket binary frame: always a binary message, with no type byte.
    pub fn decode_binary(b: &[u8]) -> Packet {
        Packet::binary(b.to_vec())
    }

    /// The packet as one WebSocket frame.
    pub fn encode(&self) -> Frame {
        match &self.data {
            Data::Text(s) => Frame::Text(format!("{}{}", self.kind.code(), s)),
            Data::Binary(b) => Frame::Binary(b.clone()),
        }
    }

    /// The packet as one record of a polling payload (binary as `b` + base64).
    pub fn encode_text(&self) -> String {
        match &self.data {
            Data::Text(s) => format!("{}{}", self.kind.code(), s),
            Data::Binary(b) => format!("b{}", base64::engine::general_purpose::STANDARD.encode(b)),
        }
    }

    /// Bytes this packet takes in a polling payload, separator not counted.
    pub fn encoded_len(&self) -> usize {
        match &self.data {
            Data::Text(s) => 1 + s.len(),
            Data::Binary(b) => 1 + b.len().div_ceil(3) * 4,
        }
    }
}

/// Decodes a polling body (one or more packets separated by 0x1e). A body longer than
/// `max_payload` bytes is refused before it is split.
pub fn decode_payload(body: &str, max_payload: usize) -> Result<Vec<Packet>, Error> {
    if body.len() > max_payload {
        return Err(Error::PayloadTooLarge {
            len: body.len(),
            max: max_payload,
        });
    }
    body.split(SEPARATOR).map(Packet::decode_text).collect()
}

/// Encodes packets as one polling body.
pub fn encode_payload(packets: &[Packet]) -> String {
    let mut out = String::new();
    for (i, p) in packets.iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        out.push_str(&p.encode_text());
    }
    out
}

/// How many of `packets`, from the front, fit in one polling body of at most `max_payload`
/// bytes (at least one, so that a single large packet is still sent and the peer decides).
pub fn batch_len(packets: &[Packet], max_payload: usize) -> usize {
    let mut total = 0usize;
    for (i, p) in packets.iter().enumerate() {
        total += p.encoded_len() + usize::from(i > 0);
        if total > max_payload {
            return i.max(1);
        }
    }
    packets.len()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Real frames from the npm socket.io server and socket.io-client
    /// (`node fixtures/tools/sio_record.mjs`).
    pub(crate) const FRAMES: &str = include_str!("../../fixtures/socketio-frames.jsonl");

    /// (direction, transport, Some(text) | None, bytes) of each recorded body or frame.
    pub(crate) fn frames() -> Vec<(String, String, Result<String, Vec<u8>>)> {
        FRAMES
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let s = |k: &str| v[k].as_str().unwrap().to_string();
                let data = if s("kind") == "text" {
                    Ok(s("data"))
                } else {
                    Err(base64::engine::general_purpose::STANDARD
                        .decode(s("data"))
                        .unwrap())
                };
                (s("dir"), s("transport"), data)
            })
            .collect()
    }

    #[test]
    fn every_recorded_body_and_frame_decodes_and_encodes_back_to_the_same_bytes() {
        let mut kinds = std::collections::HashSet::new();
        for (_, transport, data) in frames() {
            match (transport.as_str(), data) {
                ("polling", Ok(body)) if body == "ok" => {} // the answer to a POST, not a payload
                ("polling", Ok(body)) => {
                    let packets = decode_payload(&body, DEFAULT_MAX_PAYLOAD).unwrap();
                    kinds.extend(packets.iter().map(|p| p.kind));
                    assert_eq!(encode_payload(&packets), body);
                }
                ("websocket", Ok(text)) => {
                    let p = Packet::decode_text(&text).unwrap();
                    kinds.insert(p.kind);
                    assert_eq!(p.encode(), Frame::Text(text));
                }
                ("websocket", Err(bytes)) => {
                    let p = Packet::decode_binary(&bytes);
                    assert_eq!(p.encode(), Frame::Binary(bytes));
                }
                other => panic!("unexpected record {other:?}"),
            }
        }
        for k in PacketType::ALL {
            if k != PacketType::Close {
                assert!(kinds.contains(&k), "the fixture has no {k} packet");
            }
        }
    }

    #[test]
    fn open_packet_carries_the_handshake() {
        let (_, _, first) = &frames()[0];
        let p = Packet::decode_text(first.as_ref().unwrap()).unwrap();
        let h = p.handshake().unwrap();
        assert_eq!(h.sid.len(), 20);
        assert_eq!(h.upgrades, vec!["websocket".to_string()]);
        assert_eq!(
            (h.ping_interval, h.ping_timeout, h.max_payload),
            (200, 1000, 1_000_000)
        );
        assert_eq!(Packet::open(&h).encode_text(), first.clone().unwrap());
        assert_eq!(
            Packet::bare(PacketType::Ping).handshake(),
            Err(Error::NotOpen(PacketType::Ping))
        );
        assert!(matches!(
            Packet::decode_text("0{}").unwrap().handshake(),
            Err(Error::BadHandshake(_))
        ));
    }

    #[test]
    fn probe_and_upgrade() {
        assert_eq!(
            Packet::decode_text("2probe").unwrap(),
            Packet::text(PacketType::Ping, "probe")
        );
        assert_eq!(
            Packet::text(PacketType::Pong, "probe").encode(),
            Frame::Text("3probe".into())
        );
        assert_eq!(
            Packet::decode_text("5").unwrap(),
            Packet::bare(PacketType::Upgrade)
        );
        assert_eq!(
            Packet::decode_text("6").unwrap(),
            Packet::bare(PacketType::Noop)
        );
    }

    #[test]
    fn binary_in_a_polling_payload_is_b_plus_base64() {
        let body = "bAQID\u{1e}bBAU=\u{1e}461-0[{\"_placeholder\":true,\"num\":0}]";
        let p = decode_payload(body, 100).unwrap();
        assert_eq!(p[0], Packet::binary(vec![1, 2, 3]));
        assert_eq!(p[1], Packet::binary(vec![4, 5]));
        assert_eq!(p[2].kind, PacketType::Message);
        assert_eq!(p[1].encoded_len(), "bBAU=".len());
        assert_eq!(Packet::decode_text("b!!"), Err(Error::BadBase64));
    }

    #[test]
    fn bad_packets_are_typed_errors() {
        assert_eq!(Packet::decode_text(""), Err(Error::Empty));
        assert_eq!(Packet::decode_text("7"), Err(Error::UnknownType('7')));
        assert_eq!(Packet::decode_text("é"), Err(Error::UnknownType('é')));
        assert_eq!(decode_payload("4a\u{1e}", 100), Err(Error::Empty));
        assert_eq!(
            decode_payload("4a\u{1e}x", 100),
            Err(Error::UnknownType('x'))
        );
    }

    #[test]
    fn max_payload_at_and_past_the_edge() {
        let body = "4hello\u{1e}4world"; // 13 bytes
        assert_eq!(decode_payload(body, 13).unwrap().len(), 2);
        assert_eq!(
            decode_payload(body, 12),
            Err(Error::PayloadTooLarge { len: 13, max: 12 })
        );
        let packets = [Packet::message("hello"), Packet::message("world")];
        assert_eq!(batch_len(&packets, 13), 2);
        assert_eq!(batch_len(&packets, 12), 1);
        assert_eq!(batch_len(&packets, 1), 1, "one packet always goes");
        assert_eq!(batch_len(&[], 1), 0);
    }
}

//! Socket.IO protocol v5: packets carried in Engine.IO messages.
//!
//! ```text
//! TYPE [ATTACHMENTS "-"] [NAMESPACE ","] [ACK_ID] [JSON]
//!
//! 0  CONNECT        0/admin,{"token":"x"}        auth payload (client) / {"sid","pid"} (server)
//! 1  DISCONNECT     1/admin,
//! 2  EVENT          2/admin,12["chat message","hi"]
//! 3  ACK            3/admin,12["ok"]
//! 4  CONNECT_ERROR  4/admin,{"message":"Invalid namespace"}
//! 5  BINARY_EVENT   51-["file",{"_placeholder":true,"num":0}]   then 1 binary message
//! 6  BINARY_ACK     61-12[{"_placeholder":true,"num":0}]          then 1 binary message
//! ```
//!
//! The namespace `/` is left out; an ack id is decimal digits. Binary values are taken out of
//! the arguments (deconstructed) and replaced by placeholders; the bytes follow as separate
//! Engine.IO binary messages, and the receiver puts them back (reconstructs).
//!
//! Pure: strings and bytes in, typed packets out, and back. No I/O.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// Protocol revision.
pub const PROTOCOL: u8 = 5;
/// The reference decoder's default limit on attachments per packet.
pub const DEFAULT_MAX_ATTACHMENTS: usize = 10;
/// Event names a peer may not send: the reference parser refuses them.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// What the reference parser refuses; each closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("socket.io packet is empty")]
    Empty,
    #[error("socket.io packet type {0:?} is not one of 0-6")]
    UnknownType(char),
    #[error(
        "socket.io binary packet has an illegal attachment count (digits then `-`, at least 1)"
    )]
    IllegalAttachments,
    #[error("socket.io packet has {count} attachments, over the limit of {max}")]
    TooManyAttachments { count: usize, max: usize },
    #[error("socket.io ack id is not a valid integer")]
    InvalidAckId,
    #[error("socket.io payload is not valid JSON")]
    InvalidJson,
    #[error("socket.io {kind} payload is invalid: {why}")]
    InvalidPayload { kind: PacketType, why: &'static str },
    #[error("socket.io placeholder num {num} is not below the {count} attachments received")]
    IllegalPlaceholder { num: i64, count: usize },
    #[error("socket.io got a text packet while {expected} binary attachments were still due")]
    UnexpectedText { expected: usize },
    #[error("socket.io got a binary attachment when none was due")]
    UnexpectedBinary,
}

/// The packet type digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    Connect,
    Disconnect,
    Event,
    Ack,
    ConnectError,
    BinaryEvent,
    BinaryAck,
}

impl PacketType {
    pub const ALL: [PacketType; 7] = [
        PacketType::Connect,
        PacketType::Disconnect,
        PacketType::Event,
        PacketType::Ack,
        PacketType::ConnectError,
        PacketType::BinaryEvent,
        PacketType::BinaryAck,
    ];

    pub fn code(self) -> u8 {
        match self {
            PacketType::Connect => 0,
            PacketType::Disconnect => 1,
            PacketType::Event => 2,
            PacketType::Ack => 3,
            PacketType::ConnectError => 4,
            PacketType::BinaryEvent => 5,
            PacketType::BinaryAck => 6,
        }
    }

    pub fn from_code(c: char) -> Option<PacketType> {
        PacketType::ALL
            .into_iter()
            .find(|t| char::from(b'0' + t.code()) == c)
    }

    /// The protocol's name (`CONNECT`, `BINARY_EVENT`, …).
    pub fn name(self) -> &'static str {
        match self {
            PacketType::Connect => "CONNECT",
            PacketType::Disconnect => "DISCONNECT",
            PacketType::Event => "EVENT",
            PacketType::Ack => "ACK",
            PacketType::ConnectError => "CONNECT_ERROR",
            PacketType::BinaryEvent => "BINARY_EVENT",
            PacketType::BinaryAck => "BINARY_ACK",
        }
    }

    /// One line for a student: what this packet does.
    pub fn meaning(self) -> &'static str {
        match self {
            PacketType::Connect => {
                "join a namespace (client, with auth) / accepted, with the socket id (server)"
            }
            PacketType::Disconnect => "leave a namespace",
            PacketType::Event => "an emit: event name and arguments",
            PacketType::Ack => "the answer to an emit that asked for an acknowledgement",
            PacketType::ConnectError => "the server refused the namespace",
            PacketType::BinaryEvent => {
                "an emit with binary arguments; the bytes follow as attachments"
            }
            PacketType::BinaryAck => "an acknowledgement with binary arguments; the bytes follow",
        }
    }

    pub fn is_binary(self) -> bool {
        matches!(self, PacketType::BinaryEvent | PacketType::BinaryAck)
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A JSON value that may hold bytes, with object keys kept in the order they came.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
    /// Bytes: sent as an attachment, never inside the JSON.
    Binary(Vec<u8>),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in an object (the last one, as JSON.parse keeps).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    /// True if bytes are anywhere inside.
    pub fn has_binary(&self) -> bool {
        match self {
            Value::Binary(_) => true,
            Value::Array(a) => a.iter().any(Value::has_binary),
            Value::Object(m) => m.iter().any(|(_, v)| v.has_binary()),
            _ => false,
        }
    }

    /// The placeholder's index, if this is `{"_placeholder":true,"num":N}`.
    fn placeholder(&self) -> Option<Option<i64>> {
        if self.get("_placeholder") != Some(&Value::Bool(true)) {
            return None;
        }
        Some(match self.get("num") {
            Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|_| -1)),
            _ => None,
        })
    }

    /// Parses JSON text, keeping key order.
    pub fn from_json(s: &str) -> Result<Value, Error> {
        serde_json::from_str(s).map_err(|_| Error::InvalidJson)
    }

    /// Compact JSON (bytes, which never go on the wire as JSON, as `{"_binary":"HEX"}`).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Short text for a summary line: JSON, with bytes as `<N bytes>`, cut at `max` chars.
    pub fn preview(&self, max: usize) -> String {
        let mut s = String::new();
        self.write_preview(&mut s);
        if s.chars().count() > max {
            let cut: String = s.chars().take(max.saturating_sub(1)).collect();
            format!("{cut}…")
        } else {
            s
        }
    }

    fn write_preview(&self, out: &mut String) {
        match self {
            Value::Binary(b) => out.push_str(&format!("<{} bytes>", b.len())),
            Value::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_preview(out);
                }
                out.push(']');
            }
            Value::Object(m) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).unwrap_or_default());
                    out.push(':');
                    v.write_preview(out);
                }
                out.push('}');
            }
            v => out.push_str(&v.to_json()),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => n.serialize(s),
            Value::String(v) => s.serialize_str(v),
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Object(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Value::Binary(b) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("_binary", &hex::encode(b))?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
                Ok(Value::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
                Ok(Value::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
                Ok(Value::Number(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
                serde_json::Number::from_f64(n)
                    .map(Value::Number)
                    .ok_or_else(|| E::custom("not a finite number"))
            }
            fn visit_str<E>(self, s: &str) -> Result<Value, E> {
                Ok(Value::String(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Value, E> {
                Ok(Value::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(Value::Array(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
                let mut m = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, Value>()? {
                    m.push((k, v));
                }
                Ok(Value::Object(m))
            }
        }
        d.deserialize_any(V)
    }
}

/// One Socket.IO packet as written on the wire: binary values are placeholders in `data`, and
/// `attachments` says how many binary messages follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub kind: PacketType,
    /// Namespace, `/` by default.
    pub nsp: String,
    /// Ack id: the sender wants an ACK with the same id.
    pub id: Option<u64>,
    pub data: Option<Value>,
    /// Binary messages that follow (BINARY_EVENT and BINARY_ACK only).
    pub attachments: usize,
}

impl Packet {
    fn new(kind: PacketType, nsp: &str, data: Option<Value>) -> Packet {
        Packet {
            kind,
            nsp: if nsp.is_empty() {
                "/".into()
            } else {
                nsp.into()
            },
            id: None,
            data,
            attachments: 0,
        }
    }

    /// CONNECT to a namespace, with an auth object (client) or `{sid, pid}` (server).
    pub fn connect(nsp: &str, auth: Option<Value>) -> Packet {
        Packet::new(PacketType::Connect, nsp, auth)
    }

    pub fn disconnect(nsp: &str) -> Packet {
        Packet::new(PacketType::Disconnect, nsp, None)
    }

    /// CONNECT_ERROR with `{"message": …}`.
    pub fn connect_error(nsp: &str, message: &str) -> Packet {
        let data = Value::Object(vec![("message".into(), message.into())]);
        Packet::new(PacketType::ConnectError, nsp, Some(data))
    }

    /// EVENT (or BINARY_EVENT if any argument holds bytes): `[event, args…]`. Returns the packet
    /// and the attachments to send after it, in order.
    pub fn event(
        nsp: &str,
        event: &str,
        args: Vec<Value>,
        id: Option<u64>,
    ) -> (Packet, Vec<Vec<u8>>) {
        let mut all = Vec::with_capacity(args.len() + 1);
        all.push(Value::from(event));
        all.extend(args);
        Packet::with_args(PacketType::Event, nsp, all, id)
    }

    /// ACK (or BINARY_ACK) for ack id `id`.
    pub fn ack(nsp: &str, id: u64, args: Vec<Value>) -> (Packet, Vec<Vec<u8>>) {
        Packet::with_args(PacketType::Ack, nsp, args, Some(id))
    }

    /// Deconstructs: bytes become placeholders and come back as the attachments.
    fn with_args(
        kind: PacketType,
        nsp: &str,
        args: Vec<Value>,
        id: Option<u64>,
    ) -> (Packet, Vec<Vec<u8>>) {
        let mut buffers = Vec::new();
        let data = deconstruct(Value::Array(args), &mut buffers);
        let kind = match (kind, buffers.is_empty()) {
            (PacketType::Event, false) => PacketType::BinaryEvent,
            (PacketType::Ack, false) => PacketType::BinaryAck,
            (k, _) => k,
        };
        let mut p = Packet::new(kind, nsp, Some(data));
        p.id = id;
        p.attachments = buffers.len();
        (p, buffers)
    }

    /// The string form (the Engine.IO message's text).
    pub fn encode(&self) -> String {
        let mut s = String::new();
        s.push(char::from(b'0' + self.kind.code()));
        if self.kind.is_binary() {
            s.push_str(&self.attachments.to_string());
            s.push('-');
        }
        if !self.nsp.is_empty() && self.nsp != "/" {
            s.push_str(&self.nsp);
            s.push(',');
        }
        if let Some(id) = self.id {
            s.push_str(&id.to_string());
        }
        if let Some(d) = &self.data {
            s.push_str(&d.to_json());
        }
        s
    }

    /// Decodes the string form, with the reference parser's checks. Attachments are not
    /// collected here: use [`Decoder`].
    pub fn decode(s: &str) -> Result<Packet, Error> {
        Packet::decode_with(s, DEFAULT_MAX_ATTACHMENTS)
    }

    pub fn decode_with(s: &str, max_attachments: usize) -> Result<Packet, Error> {
        let mut rest = s;
        let c = rest.chars().next().ok_or(Error::Empty)?;
        let kind = PacketType::from_code(c).ok_or(Error::UnknownType(c))?;
        rest = &rest[c.len_utf8()..];
        let mut attachments = 0;
        if kind.is_binary() {
            let dash = rest.find('-').ok_or(Error::IllegalAttachments)?;
            let digits = &rest[..dash];
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::IllegalAttachments);
            }
            let n: usize = digits.parse().map_err(|_| Error::TooManyAttachments {
                count: usize::MAX,
                max: max_attachments,
            })?;
            if n < 1 {
                return Err(Error::IllegalAttachments);
            }
            if n > max_attachments {
                return Err(Error::TooManyAttachments {
                    count: n,
                    max: max_attachments,
                });
            }
            attachments = n;
            rest = &rest[dash + 1..];
        }
        let mut nsp = "/".to_string();
        if rest.starts_with('/') {
            match rest.find(',') {
                Some(i) => {
                    nsp = rest[..i].to_string();
                    rest = &rest[i + 1..];
                }
                None => {
                    nsp = rest.to_string();
                    rest = "";
                }
            }
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let id = if digits > 0 {
            let id: u64 = rest[..digits].parse().map_err(|_| Error::InvalidAckId)?;
            // JavaScript numbers are exact up to 2^53.
            if id > (1u64 << 53) {
                return Err(Error::InvalidAckId);
            }
            rest = &rest[digits..];
            Some(id)
        } else {
            None
        };
        let data = if rest.is_empty() {
            None
        } else {
            Some(Value::from_json(rest).map_err(|_| Error::InvalidPayload {
                kind,
                why: "not valid JSON",
            })?)
        };
        check_payload(kind, data.as_ref())?;
        Ok(Packet {
            kind,
            nsp,
            id,
            data,
            attachments,
        })
    }

    /// For EVENT / BINARY_EVENT: the event name (a string, or a number as text).
    pub fn event_name(&self) -> Option<String> {
        if !matches!(self.kind, PacketType::Event | PacketType::BinaryEvent) {
            return None;
        }
        match &self.data {
            Some(Value::Array(a)) => match a.first() {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            },
            _ => None,
        }
    }

    /// The arguments: for an event, after the name; for an ack, all of them.
    pub fn args(&self) -> &[Value] {
        match (&self.kind, &self.data) {
            (PacketType::Event | PacketType::BinaryEvent, Some(Value::Array(a))) => {
                a.get(1..).unwrap_or(&[])
            }
            (PacketType::Ack | PacketType::BinaryAck, Some(Value::Array(a))) => a,
            _ => &[],
        }
    }
}

/// The reference parser's payload rules (`isPayloadValid` for each type).
fn check_payload(kind: PacketType, data: Option<&Value>) -> Result<(), Error> {
    let bad = |why| Err(Error::InvalidPayload { kind, why });
    match kind {
        PacketType::Connect => match data {
            None | Some(Value::Object(_)) => Ok(()),
            _ => bad("CONNECT carries an object or nothing"),
        },
        PacketType::Disconnect => match data {
            None => Ok(()),
            _ => bad("DISCONNECT carries nothing"),
        },
        PacketType::ConnectError => match data {
            None | Some(Value::String(_)) | Some(Value::Object(_)) => Ok(()),
            _ => bad("CONNECT_ERROR carries a string or an object"),
        },
        PacketType::Event | PacketType::BinaryEvent => match data {
            Some(Value::Array(a)) => match a.first() {
                Some(Value::Number(_)) => Ok(()),
                Some(Value::String(s)) if RESERVED_EVENTS.contains(&s.as_str()) => {
                    bad("the event name is reserved")
                }
                Some(Value::String(_)) => Ok(()),
                _ => bad("the first element must be the event name"),
            },
            _ => bad("an event is a non-empty array [name, args…]"),
        },
        PacketType::Ack | PacketType::BinaryAck => match data {
            Some(Value::Array(_)) => Ok(()),
            _ => bad("an ack is an array of arguments"),
        },
    }
}

/// Replaces bytes by placeholders, pushing the bytes to `buffers`.
pub fn deconstruct(v: Value, buffers: &mut Vec<Vec<u8>>) -> Value {
    match v {
        Value::Binary(b) => {
            let num = buffers.len();
            buffers.push(b);
            Value::Object(vec![
                ("_placeholder".into(), Value::Bool(true)),
                ("num".into(), Value::Number(num.into())),
            ])
        }
        Value::Array(a) => Value::Array(a.into_iter().map(|x| deconstruct(x, buffers)).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, x)| (k, deconstruct(x, buffers)))
                .collect(),
        ),
        v => v,
    }
}

/// Puts the attachments back where their placeholders are.
pub fn reconstruct(v: Value, buffers: &[Vec<u8>]) -> Result<Value, Error> {
    if let Some(num) = v.placeholder() {
        return match num {
            Some(n) if n >= 0 && (n as u64) < buffers.len() as u64 => {
                Ok(Value::Binary(buffers[n as usize].clone()))
            }
            n => Err(Error::IllegalPlaceholder {
                num: n.unwrap_or(-1),
                count: buffers.len(),
            }),
        };
    }
    Ok(match v {
        Value::Array(a) => Value::Array(
            a.into_iter()
                .map(|x| reconstruct(x, buffers))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, x)| Ok((k, reconstruct(x, buffers)?)))
                .collect::<Result<_, Error>>()?,
        ),
        v => v,
    })
}

/// A complete packet with its attachments put back: `data` holds [`Value::Binary`] where the
/// sender had bytes. `kind` stays BINARY_* so that one can see it came with attachments.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub packet: Packet,
    /// The raw attachments, in order (also inside `packet.data`).
    pub attachments: Vec<Vec<u8>>,
}

/// Collects the binary attachments that follow a BINARY_EVENT or BINARY_ACK.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: Option<Packet>,
    buffers: Vec<Vec<u8>>,
    max_attachments: Option<usize>,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    pub fn with_max_attachments(max: usize) -> Decoder {
        Decoder {
            max_attachments: Some(max),
            ..Decoder::default()
        }
    }

    /// Attachments still due for the packet being reconstructed.
    pub fn awaiting(&self) -> usize {
        self.pending
            .as_ref()
            .map(|p| p.attachments - self.buffers.len())
            .unwrap_or(0)
    }

    /// A text Engine.IO message. `Ok(None)` means attachments are due next.
    pub fn feed_text(&mut self, s: &str) -> Result<Option<Decoded>, Error> {
        if self.pending.is_some() {
            return Err(Error::UnexpectedText {
                expected: self.awaiting(),
            });
        }
        let p = Packet::decode_with(s, self.max_attachments.unwrap_or(DEFAULT_MAX_ATTACHMENTS))?;
        if p.kind.is_binary() {
            self.pending = Some(p);
            return Ok(None);
        }
        Ok(Some(Decoded {
            packet: p,
            attachments: Vec::new(),
        }))
    }

    /// A binary Engine.IO message: the next attachment.
    pub fn feed_binary(&mut self, b: &[u8]) -> Result<Option<Decoded>, Error> {
        let Some(p) = &self.pending else {
            return Err(Error::UnexpectedBinary);
        };
        self.buffers.push(b.to_vec());
        if self.buffers.len() < p.attachments {
            return Ok(None);
        }
        let mut packet = self.pending.take().ok_or(Error::UnexpectedBinary)?;
        let buffers = std::mem::take(&mut self.buffers);
        if let Some(d) = packet.data.take() {
            packet.data = Some(reconstruct(d, &buffers)?);
        }
        Ok(Some(Decoded {
            packet,
            attachments: buffers,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::engineio;

    /// Every Socket.IO packet in the recorded session, through one decoder per direction.
    fn recorded() -> Vec<(String, Decoded, Vec<String>)> {
        let mut decoders = [Decoder::new(), Decoder::new()];
        let mut texts: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        let mut out = Vec::new();
        for (dir, transport, data) in engineio::tests::frames() {
            let side = usize::from(dir == "s2c");
            let packets = match (transport.as_str(), data) {
                ("polling", Ok(body)) if body == "ok" => continue,
                ("polling", Ok(body)) => engineio::decode_payload(&body, 1_000_000).unwrap(),
                (_, Ok(text)) => vec![engineio::Packet::decode_text(&text).unwrap()],
                (_, Err(bytes)) => vec![engineio::Packet::decode_binary(&bytes)],
            };
            for p in packets
                .into_iter()
                .filter(|p| p.kind == engineio::PacketType::Message)
            {
                let got = match &p.data {
                    engineio::Data::Text(t) => {
                        texts[side].push(t.clone());
                        decoders[side].feed_text(t)
                    }
                    engineio::Data::Binary(b) => decoders[side].feed_binary(b),
                };
                if let Some(d) = got.unwrap() {
                    out.push((dir.clone(), d, std::mem::take(&mut texts[side])));
                }
            }
        }
        out
    }

    #[test]
    fn every_recorded_packet_decodes_and_encodes_back_to_the_same_text() {
        let all = recorded();
        let mut kinds = std::collections::HashSet::new();
        for (_, d, texts) in &all {
            kinds.insert(d.packet.kind);
            // Deconstruct what was reconstructed: the same header and the same attachments.
            let mut buffers = Vec::new();
            let mut p = d.packet.clone();
            p.data = p.data.map(|v| deconstruct(v, &mut buffers));
            assert_eq!(p.encode(), texts[0]);
            assert_eq!(buffers, d.attachments);
        }
        assert_eq!(
            kinds.len(),
            7,
            "every packet type is in the fixture: {kinds:?}"
        );
    }

    #[test]
    fn the_servers_connect_answer_has_sid_and_pid() {
        let all = recorded();
        let (_, d, _) = all
            .iter()
            .find(|(dir, d, _)| dir == "s2c" && d.packet.kind == PacketType::Connect)
            .unwrap();
        let data = d.packet.data.as_ref().unwrap();
        assert!(data.get("sid").and_then(Value::as_str).is_some());
        assert!(data.get("pid").and_then(Value::as_str).is_some());
        let (_, d, _) = all
            .iter()
            .find(|(dir, d, _)| dir == "c2s" && d.packet.kind == PacketType::Connect)
            .unwrap();
        assert_eq!(
            d.packet.data,
            Some(Value::from_json(r#"{"token":"abc"}"#).unwrap())
        );
    }

    #[test]
    fn namespace_ack_id_and_connect_error() {
        let p = Packet::decode(r#"2/admin,["chat message","to admin"]"#).unwrap();
        assert_eq!(
            (p.kind, p.nsp.as_str(), p.id),
            (PacketType::Event, "/admin", None)
        );
        assert_eq!(p.event_name().as_deref(), Some("chat message"));
        assert_eq!(p.args(), &[Value::from("to admin")]);
        let p = Packet::decode(r#"20["with-ack",1,"two"]"#).unwrap();
        assert_eq!((p.id, p.args().len()), (Some(0), 2));
        let p = Packet::decode(r#"30[{"got":[1,"two"]}]"#).unwrap();
        assert_eq!(
            (p.kind, p.id, p.args().len()),
            (PacketType::Ack, Some(0), 1)
        );
        assert_eq!(
            Packet::connect_error("/nope", "Invalid namespace").encode(),
            r#"4/nope,{"message":"Invalid namespace"}"#
        );
        assert_eq!(Packet::connect("/admin", None).encode(), "0/admin,");
        assert_eq!(
            Packet::decode("0/admin,").unwrap(),
            Packet::connect("/admin", None)
        );
        assert_eq!(
            Packet::decode("1/admin").unwrap(),
            Packet::disconnect("/admin")
        );
        assert_eq!(Packet::disconnect("/").encode(), "1");
        let (p, _) = Packet::event("/", "e", vec![], Some(12));
        assert_eq!(p.encode(), r#"212["e"]"#);
        let (p, _) = Packet::ack("/chat", 3, vec![Value::from("ok")]);
        assert_eq!(p.encode(), r#"3/chat,3["ok"]"#);
    }

    #[test]
    fn binary_event_deconstructs_as_the_npm_client_does() {
        let (p, buffers) = Packet::event("/", "bin", vec![Value::Binary(b"xyz".to_vec())], Some(1));
        assert_eq!(p.encode(), r#"51-1["bin",{"_placeholder":true,"num":0}]"#);
        assert_eq!(buffers, vec![b"xyz".to_vec()]);
        let nested = Value::Object(vec![(
            "nested".into(),
            Value::Array(vec![Value::Binary(vec![4, 5])]),
        )]);
        let (p, buffers) = Packet::event(
            "/",
            "bin-back",
            vec![Value::Binary(vec![1, 2, 3]), nested.clone()],
            None,
        );
        assert_eq!(
            p.encode(),
            r#"52-["bin-back",{"_placeholder":true,"num":0},{"nested":[{"_placeholder":true,"num":1}]}]"#
        );
        let mut d = Decoder::new();
        assert_eq!(d.feed_text(&p.encode()).unwrap(), None);
        assert_eq!(d.awaiting(), 2);
        assert_eq!(d.feed_binary(&buffers[0]).unwrap(), None);
        let got = d.feed_binary(&buffers[1]).unwrap().unwrap();
        assert_eq!(got.packet.args(), &[Value::Binary(vec![1, 2, 3]), nested]);
        assert_eq!(got.attachments, buffers);
        assert_eq!(d.awaiting(), 0);
    }

    #[test]
    fn what_the_reference_parser_rejects() {
        use Error::*;
        type Check = fn(&Error) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| *e == Empty),
            ("7", |e| *e == UnknownType('7')),
            ("a", |e| *e == UnknownType('a')),
            (r#"0"a string""#, |e| matches!(e, InvalidPayload { .. })),
            ("0[]", |e| matches!(e, InvalidPayload { .. })),
            ("1{}", |e| matches!(e, InvalidPayload { .. })),
            ("2", |e| matches!(e, InvalidPayload { .. })),
            ("2[]", |e| matches!(e, InvalidPayload { .. })),
            ("2{}", |e| matches!(e, InvalidPayload { .. })),
            ("2[null]", |e| matches!(e, InvalidPayload { .. })),
            (r#"2["connect"]"#, |e| matches!(e, InvalidPayload { .. })),
            (r#"2["disconnecting",1]"#, |e| {
                matches!(e, InvalidPayload { .. })
            }),
            (r#"2["a""#, |e| matches!(e, InvalidPayload { .. })),
            ("3", |e| matches!(e, InvalidPayload { .. })),
            (r#"3{"a":1}"#, |e| matches!(e, InvalidPayload { .. })),
            ("4[]", |e| matches!(e, InvalidPayload { .. })),
            (r#"5["a"]"#, |e| *e == IllegalAttachments),
            (r#"5-["a"]"#, |e| *e == IllegalAttachments),
            (r#"5a-["a"]"#, |e| *e == IllegalAttachments),
            (r#"50-["a"]"#, |e| *e == IllegalAttachments),
            (r#"511-["a"]"#, |e| {
                *e == TooManyAttachments { count: 11, max: 10 }
            }),
            (r#"599999999999999999999999-["a"]"#, |e| {
                matches!(e, TooManyAttachments { .. })
            }),
            (r#"299999999999999999999["a"]"#, |e| *e == InvalidAckId),
            (r#"29007199254740993["a"]"#, |e| *e == InvalidAckId),
        ];
        for (input, ok) in cases {
            match Packet::decode(input) {
                Err(e) => assert!(ok(&e), "{input:?} gave {e:?}"),
                Ok(p) => panic!("{input:?} was accepted as {p:?}"),
            }
        }
        // At the edges: 10 attachments and an ack id of 2^53 pass; a numeric event name passes.
        assert_eq!(Packet::decode(r#"510-["a"]"#).unwrap().attachments, 10);
        assert_eq!(
            Packet::decode(r#"29007199254740992["a"]"#).unwrap().id,
            Some(1 << 53)
        );
        assert_eq!(
            Packet::decode("2[7]").unwrap().event_name().as_deref(),
            Some("7")
        );
        assert!(Packet::decode(r#"4"not allowed""#).is_ok());
        assert_eq!(
            Decoder::with_max_attachments(1).feed_text(r#"52-["a"]"#),
            Err(TooManyAttachments { count: 2, max: 1 })
        );
    }

    #[test]
    fn the_decoder_refuses_out_of_order_attachments() {
        let mut d = Decoder::new();
        assert_eq!(d.feed_binary(b"x"), Err(Error::UnexpectedBinary));
        assert_eq!(
            d.feed_text(r#"51-["a",{"_placeholder":true,"num":0}]"#),
            Ok(None)
        );
        assert_eq!(
            d.feed_text(r#"2["a"]"#),
            Err(Error::UnexpectedText { expected: 1 })
        );
        let mut d = Decoder::new();
        d.feed_text(r#"51-["a",{"_placeholder":true,"num":1}]"#)
            .unwrap();
        assert_eq!(
            d.feed_binary(b"x"),
            Err(Error::IllegalPlaceholder { num: 1, count: 1 })
        );
        let mut d = Decoder::new();
        d.feed_text(r#"51-["a",{"_placeholder":true,"num":"0"}]"#)
            .unwrap();
        assert!(matches!(
            d.feed_binary(b"x"),
            Err(Error::IllegalPlaceholder { .. })
        ));
        // After an error the decoder is ready for the next packet.
        assert!(d.feed_text(r#"2["a"]"#).unwrap().is_some());
    }

    #[test]
    fn values_keep_key_order_and_preview_bytes() {
        let v = Value::from_json(r#"{"sid":"a","pid":"b","n":[1,2.5,null,true]}"#).unwrap();
        assert_eq!(
            v.to_json(),
            r#"{"sid":"a","pid":"b","n":[1,2.5,null,true]}"#
        );
        let v = Value::Array(vec![Value::from("hi"), Value::Binary(vec![0; 3])]);
        assert_eq!(v.preview(100), r#"["hi",<3 bytes>]"#);
        assert_eq!(v.preview(5), "[\"hi…");
        assert!(v.has_binary());
    }
}

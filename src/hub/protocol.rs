//! The hub's wire protocol: one JSON object per WebSocket text frame, `"type"` says which.
//! Pure: parsing and building, no I/O. The full description is `docs/hub-protocol.md`.
//!
//! ```text
//! client -> hub   {"type":"join","room":"R"}            {"type":"leave","room":"R"}
//!                 {"type":"emit","event":"E","data":..,"to":"rooms","rooms":["R"],"ack":7}
//!                 {"type":"ack","id":42,"data":..}        (received event 42; optional reply)
//!                 {"type":"enqueue","queue":"Q","event":"E","data":..}   (work queues)
//!                 {"type":"consume","queue":"Q","prefetch":1}  {"type":"job_ack","queue":"Q","id":"7"}
//! hub -> client   welcome, joined, left, event (with "id"), emitted, ack_reply, error
//!                 enqueued, consuming, job
//! ```

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

/// Longest room, event, namespace or client name, in bytes.
pub const MAX_NAME: usize = 128;

/// Why a frame from a client was not understood. The hub sends it back in an `error` frame
/// and keeps the connection open.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("not JSON: {0}")]
    BadJson(String),
    #[error("a hub message is a JSON object with a \"type\", got {0}")]
    NotObject(&'static str),
    #[error(
        "the message has no \"type\" (one of join, leave, emit, ack, enqueue, consume, job_ack)"
    )]
    NoType,
    #[error("unknown message type \"{0}\" (expected join, leave, emit, ack, enqueue, consume or job_ack)")]
    UnknownType(String),
    #[error("\"{ty}\" needs \"{field}\" ({expected})")]
    Missing {
        ty: &'static str,
        field: &'static str,
        expected: &'static str,
    },
    #[error("\"{field}\" in \"{ty}\" must be {expected}, got {got}")]
    BadField {
        ty: &'static str,
        field: &'static str,
        expected: &'static str,
        got: String,
    },
    #[error("unknown target \"{0}\" (expected self, namespace, broadcast, rooms or client)")]
    BadTarget(String),
    #[error("bad {what} \"{name}\": {problem}")]
    BadName {
        what: &'static str,
        name: String,
        problem: &'static str,
    },
    #[error("binary frames are not part of the hub protocol: send JSON in a text frame")]
    Binary,
}

/// Who an emit goes to (socket.io: `socket.emit`, `io.emit`, `socket.broadcast.emit`,
/// `io.to(room).emit`, `socket.to(room).emit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Only the sender.
    Sender,
    /// Everyone in the namespace, the sender included.
    Namespace,
    /// Everyone in the namespace except the sender.
    Broadcast,
    /// Everyone in any of these rooms (each once), the sender only if `include_self`.
    Rooms {
        rooms: Vec<String>,
        include_self: bool,
    },
    /// One identified client (queued if it is offline).
    Client(String),
}

impl Target {
    /// The `"to"` word for this target.
    pub fn word(&self) -> &'static str {
        match self {
            Target::Sender => "self",
            Target::Namespace => "namespace",
            Target::Broadcast => "broadcast",
            Target::Rooms { .. } => "rooms",
            Target::Client(_) => "client",
        }
    }

    /// Adds the target's fields to an emit object.
    fn write(&self, obj: &mut serde_json::Map<String, Value>) {
        obj.insert("to".into(), Value::from(self.word()));
        match self {
            Target::Rooms {
                rooms,
                include_self,
            } => {
                obj.insert("rooms".into(), Value::from(rooms.clone()));
                if *include_self {
                    obj.insert("include_self".into(), Value::Bool(true));
                }
            }
            Target::Client(c) => {
                obj.insert("client".into(), Value::from(c.clone()));
            }
            _ => {}
        }
    }
}

/// An event a client wants sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    pub event: String,
    pub data: Value,
    pub to: Target,
    /// The emitter's acknowledgement number: receivers' replies come back as `ack_reply`.
    pub ack: Option<u64>,
    /// May be dropped when a receiver is offline or slow; never queued.
    pub volatile: bool,
}

/// A message from a client to the hub.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMsg {
    Join {
        room: String,
    },
    Leave {
        room: String,
    },
    Emit(Emit),
    /// "Received event `id`": deletes it from the queue; `data` is the reply to the emitter.
    Ack {
        id: u64,
        data: Option<Value>,
    },
    /// Work queues: put a job on a queue (answered by `enqueued`).
    Enqueue {
        queue: String,
        event: String,
        data: Value,
    },
    /// Work queues: join the queue's consumer group (answered by `consuming`); at most
    /// `prefetch` unacknowledged jobs at a time.
    Consume {
        queue: String,
        prefetch: u64,
    },
    /// Work queues: "job `id` is done", removes it from the queue for good.
    JobAck {
        queue: String,
        id: String,
    },
}

/// Most jobs a worker may hold unacknowledged (`consume`'s `prefetch`).
pub const MAX_PREFETCH: u64 = 1000;

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks a room, event or client name: 1–128 bytes, no control characters.
pub fn check_name(what: &'static str, name: &str) -> Result<(), ProtocolError> {
    let bad = |problem| ProtocolError::BadName {
        what,
        name: name.chars().take(40).collect(),
        problem,
    };
    if name.is_empty() {
        return Err(bad("empty"));
    }
    if name.len() > MAX_NAME {
        return Err(bad("longer than 128 bytes"));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("contains a control character"));
    }
    Ok(())
}

fn string_field(
    obj: &serde_json::Map<String, Value>,
    ty: &'static str,
    field: &'static str,
    what: &'static str,
) -> Result<String, ProtocolError> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(ProtocolError::Missing {
            ty,
            field,
            expected: "a string",
        }),
        Some(Value::String(s)) => {
            check_name(what, s)?;
            Ok(s.clone())
        }
        Some(other) => Err(ProtocolError::BadField {
            ty,
            field,
            expected: "a string",
            got: kind(other).into(),
        }),
    }
}

fn u64_field(v: &Value, ty: &'static str, field: &'static str) -> Result<u64, ProtocolError> {
    v.as_u64().ok_or_else(|| ProtocolError::BadField {
        ty,
        field,
        expected: "a whole number ≥ 0",
        got: match v {
            Value::Number(n) => n.to_string(),
            other => kind(other).into(),
        },
    })
}

/// The fields a client message may have, typed, for the fast path of [`ClientMsg::parse`].
/// Unknown fields send a frame to the checked path (which ignores them), so that both paths
/// judge every frame alike: skipping an unknown field does not read its numbers, and a
/// number out of range there must fail in both.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(default, borrow)]
    room: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    event: Option<Cow<'a, str>>,
    /// Absent: `None`; present (even `null`): `Some`.
    #[serde(default, deserialize_with = "present")]
    data: Option<Value>,
    #[serde(default, borrow)]
    to: Option<Cow<'a, str>>,
    #[serde(default)]
    rooms: Option<RoomsField>,
    #[serde(default)]
    include_self: Option<bool>,
    #[serde(default, borrow)]
    client: Option<Cow<'a, str>>,
    #[serde(default)]
    ack: Option<AckField>,
    #[serde(default)]
    volatile: Option<bool>,
    #[serde(default)]
    id: Option<u64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RoomsField {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AckField {
    Number(u64),
    Flag(bool),
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl<'a> Fields<'a> {
    /// The message, if it is well-formed; `None` sends the frame to the slow path, which
    /// names the problem.
    fn into_msg(self) -> Option<ClientMsg> {
        let name = |what, s: &Option<Cow<'a, str>>| -> Option<String> {
            let s = s.as_deref()?;
            check_name(what, s).ok()?;
            Some(s.to_string())
        };
        match self.ty.as_ref() {
            "join" => Some(ClientMsg::Join {
                room: name("room", &self.room)?,
            }),
            "leave" => Some(ClientMsg::Leave {
                room: name("room", &self.room)?,
            }),
            "ack" => Some(ClientMsg::Ack {
                id: self.id?,
                data: self.data,
            }),
            "emit" => {
                let event = name("event name", &self.event)?;
                let include_self = self.include_self.unwrap_or(false);
                let to = match self.to.as_deref().unwrap_or("broadcast") {
                    "self" => Target::Sender,
                    "namespace" => Target::Namespace,
                    "broadcast" => Target::Broadcast,
                    "client" => Target::Client(name("client id", &self.client)?),
                    "rooms" => {
                        let rooms = match self.rooms? {
                            RoomsField::One(r) => vec![r],
                            RoomsField::Many(v) if !v.is_empty() => {
                                let mut names: Vec<String> = Vec::with_capacity(v.len());
                                for r in v {
                                    if !names.contains(&r) {
                                        names.push(r);
                                    }
                                }
                                names
                            }
                            RoomsField::Many(_) => return None,
                        };
                        if rooms.iter().any(|r| check_name("room", r).is_err()) {
                            return None;
                        }
                        Target::Rooms {
                            rooms,
                            include_self,
                        }
                    }
                    _ => return None,
                };
                let ack = match self.ack {
                    None | Some(AckField::Flag(false)) => None,
                    Some(AckField::Number(n)) => Some(n),
                    Some(AckField::Flag(true)) => return None,
                };
                Some(ClientMsg::Emit(Emit {
                    event,
                    data: self.data.unwrap_or(Value::Null),
                    to,
                    ack,
                    volatile: self.volatile.unwrap_or(false),
                }))
            }
            _ => None,
        }
    }
}

impl ClientMsg {
    /// Parses one text frame from a client.
    pub fn parse(text: &str) -> Result<ClientMsg, ProtocolError> {
        // Fast path: typed deserialization of a well-formed frame. Anything it does not accept
        // goes through the checks below, which say exactly what is wrong.
        if let Some(m) = serde_json::from_str::<Fields>(text)
            .ok()
            .and_then(Fields::into_msg)
        {
            return Ok(m);
        }
        Self::parse_checked(text)
    }

    /// Parses a frame field by field, naming the first problem (the slow path of
    /// [`ClientMsg::parse`]; public so that the fuzz target can compare the two).
    pub fn parse_checked(text: &str) -> Result<ClientMsg, ProtocolError> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| ProtocolError::BadJson(e.to_string()))?;
        let Value::Object(obj) = v else {
            return Err(ProtocolError::NotObject(kind(&v)));
        };
        let ty = match obj.get("type") {
            None => return Err(ProtocolError::NoType),
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(ProtocolError::BadField {
                    ty: "message",
                    field: "type",
                    expected: "a string",
                    got: kind(other).into(),
                })
            }
        };
        match ty {
            "join" => Ok(ClientMsg::Join {
                room: string_field(&obj, "join", "room", "room")?,
            }),
            "leave" => Ok(ClientMsg::Leave {
                room: string_field(&obj, "leave", "room", "room")?,
            }),
            "ack" => {
                let id = match obj.get("id") {
                    None | Some(Value::Null) => {
                        return Err(ProtocolError::Missing {
                            ty: "ack",
                            field: "id",
                            expected: "the id of the event received",
                        })
                    }
                    Some(v) => u64_field(v, "ack", "id")?,
                };
                Ok(ClientMsg::Ack {
                    id,
                    data: obj.get("data").cloned(),
                })
            }
            "emit" => Ok(ClientMsg::Emit(parse_emit(&obj)?)),
            "enqueue" => Ok(ClientMsg::Enqueue {
                queue: string_field(&obj, "enqueue", "queue", "queue")?,
                event: string_field(&obj, "enqueue", "event", "event name")?,
                data: obj.get("data").cloned().unwrap_or(Value::Null),
            }),
            "consume" => {
                let queue = string_field(&obj, "consume", "queue", "queue")?;
                let prefetch = match obj.get("prefetch") {
                    None | Some(Value::Null) => 1,
                    Some(v) => match v.as_u64() {
                        Some(n @ 1..=MAX_PREFETCH) => n,
                        _ => {
                            return Err(ProtocolError::BadField {
                                ty: "consume",
                                field: "prefetch",
                                expected: "a whole number 1..1000",
                                got: match v {
                                    Value::Number(n) => n.to_string(),
                                    other => kind(other).into(),
                                },
                            })
                        }
                    },
                };
                Ok(ClientMsg::Consume { queue, prefetch })
            }
            "job_ack" => {
                let queue = string_field(&obj, "job_ack", "queue", "queue")?;
                let id = match obj.get("id") {
                    Some(Value::String(s)) if !s.is_empty() && s.len() <= 64 => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    None | Some(Value::Null) => {
                        return Err(ProtocolError::Missing {
                            ty: "job_ack",
                            field: "id",
                            expected: "the id of the job done",
                        })
                    }
                    Some(other) => {
                        return Err(ProtocolError::BadField {
                            ty: "job_ack",
                            field: "id",
                            expected: "the job's id (a string of 1-64 bytes)",
                            got: kind(other).into(),
                        })
                    }
                };
                Ok(ClientMsg::JobAck { queue, id })
            }
            other => Err(ProtocolError::UnknownType(other.chars().take(40).collect())),
        }
    }

    /// The JSON text of this message (what a client sends).
    pub fn to_text(&self) -> String {
        let mut obj = serde_json::Map::new();
        match self {
            ClientMsg::Join { room } => {
                obj.insert("type".into(), "join".into());
                obj.insert("room".into(), room.clone().into());
            }
            ClientMsg::Leave { room } => {
                obj.insert("type".into(), "leave".into());
                obj.insert("room".into(), room.clone().into());
            }
            ClientMsg::Ack { id, data } => {
                obj.insert("type".into(), "ack".into());
                obj.insert("id".into(), (*id).into());
                if let Some(d) = data {
                    obj.insert("data".into(), d.clone());
                }
            }
            ClientMsg::Emit(e) => {
                obj.insert("type".into(), "emit".into());
                obj.insert("event".into(), e.event.clone().into());
                obj.insert("data".into(), e.data.clone());
                e.to.write(&mut obj);
                if let Some(a) = e.ack {
                    obj.insert("ack".into(), a.into());
                }
                if e.volatile {
                    obj.insert("volatile".into(), true.into());
                }
            }
            ClientMsg::Enqueue { queue, event, data } => {
                obj.insert("type".into(), "enqueue".into());
                obj.insert("queue".into(), queue.clone().into());
                obj.insert("event".into(), event.clone().into());
                obj.insert("data".into(), data.clone());
            }
            ClientMsg::Consume { queue, prefetch } => {
                obj.insert("type".into(), "consume".into());
                obj.insert("queue".into(), queue.clone().into());
                obj.insert("prefetch".into(), (*prefetch).into());
            }
            ClientMsg::JobAck { queue, id } => {
                obj.insert("type".into(), "job_ack".into());
                obj.insert("queue".into(), queue.clone().into());
                obj.insert("id".into(), id.clone().into());
            }
        }
        Value::Object(obj).to_string()
    }
}

fn parse_emit(obj: &serde_json::Map<String, Value>) -> Result<Emit, ProtocolError> {
    let event = string_field(obj, "emit", "event", "event name")?;
    let data = obj.get("data").cloned().unwrap_or(Value::Null);
    let to_word = match obj.get("to") {
        None | Some(Value::Null) => "broadcast",
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(ProtocolError::BadField {
                ty: "emit",
                field: "to",
                expected: "a string",
                got: kind(other).into(),
            })
        }
    };
    let include_self = match obj.get("include_self") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(ProtocolError::BadField {
                ty: "emit",
                field: "include_self",
                expected: "true or false",
                got: kind(other).into(),
            })
        }
    };
    let to = match to_word {
        "self" => Target::Sender,
        "namespace" => Target::Namespace,
        "broadcast" => Target::Broadcast,
        "client" => Target::Client(string_field(obj, "emit", "client", "client id")?),
        "rooms" => {
            let rooms = match obj.get("rooms") {
                Some(Value::Array(a)) if !a.is_empty() => a,
                Some(Value::String(s)) => {
                    check_name("room", s)?;
                    return finish_emit(
                        obj,
                        event,
                        data,
                        Target::Rooms {
                            rooms: vec![s.clone()],
                            include_self,
                        },
                    );
                }
                None | Some(Value::Null) => {
                    return Err(ProtocolError::Missing {
                        ty: "emit",
                        field: "rooms",
                        expected: "a non-empty array of room names when \"to\" is \"rooms\"",
                    })
                }
                Some(other) => {
                    return Err(ProtocolError::BadField {
                        ty: "emit",
                        field: "rooms",
                        expected: "a non-empty array of room names",
                        got: kind(other).into(),
                    })
                }
            };
            let mut names = Vec::with_capacity(a_len(rooms));
            for r in rooms {
                match r {
                    Value::String(s) => {
                        check_name("room", s)?;
                        if !names.contains(s) {
                            names.push(s.clone());
                        }
                    }
                    other => {
                        return Err(ProtocolError::BadField {
                            ty: "emit",
                            field: "rooms",
                            expected: "an array of strings",
                            got: format!("an array holding {}", kind(other)),
                        })
                    }
                }
            }
            Target::Rooms {
                rooms: names,
                include_self,
            }
        }
        other => return Err(ProtocolError::BadTarget(other.chars().take(40).collect())),
    };
    finish_emit(obj, event, data, to)
}

fn a_len(a: &[Value]) -> usize {
    a.len().min(64)
}

fn finish_emit(
    obj: &serde_json::Map<String, Value>,
    event: String,
    data: Value,
    to: Target,
) -> Result<Emit, ProtocolError> {
    let ack = match obj.get("ack") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => None,
        Some(v) => Some(u64_field(v, "emit", "ack")?),
    };
    let volatile = match obj.get("volatile") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(ProtocolError::BadField {
                ty: "emit",
                field: "volatile",
                expected: "true or false",
                got: kind(other).into(),
            })
        }
    };
    Ok(Emit {
        event,
        data,
        to,
        ack,
        volatile,
    })
}

/// An event as delivered to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventOut {
    /// The message id to acknowledge. Durable (queued) events keep their id across
    /// reconnects and hub restarts; `null` for volatile events, which need no ack.
    pub id: Option<u64>,
    pub event: String,
    pub data: Value,
    /// The sender: its client id, or `conn-N` for an anonymous connection.
    pub from: String,
    pub namespace: String,
    /// The room it was sent to, when it went to rooms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// The emitter asked for an acknowledgement: the `data` of your ack goes back to it.
    #[serde(default)]
    pub ack: bool,
    /// This id was delivered before and not acknowledged (drop it if you already have it).
    #[serde(default)]
    pub redelivery: bool,
    /// Milliseconds since the Unix epoch when the hub accepted the event.
    pub sent_ms: u64,
}

/// A job as delivered to one worker of a work queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobOut {
    pub queue: String,
    /// The id to send back in `job_ack`.
    pub id: String,
    pub event: String,
    pub data: Value,
    pub from: String,
    pub namespace: String,
    /// Deliveries so far, this one included (more than 1: a worker before you did not ack).
    pub deliveries: u64,
    pub sent_ms: u64,
}

/// A message from the hub to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// First frame on every connection.
    Welcome {
        namespace: String,
        #[serde(default)]
        client: Option<String>,
        conn: u64,
        /// Rooms an identified client is still in from earlier connections.
        #[serde(default)]
        rooms: Vec<String>,
        /// Queued events about to be delivered (identified clients).
        #[serde(default)]
        queued: u64,
        /// Events dropped from this client's queue because it was full, in all.
        #[serde(default)]
        dropped: u64,
    },
    Joined {
        room: String,
    },
    Left {
        room: String,
    },
    Event(EventOut),
    /// The answer to an emit: how many receivers got it now, how many it was queued for.
    Emitted {
        event: String,
        #[serde(default)]
        ack: Option<u64>,
        /// Receivers in all (each will acknowledge once it has the event).
        recipients: u64,
        /// Receivers connected now, sent at once.
        online: u64,
        /// Receivers it was written to the durable queue for (identified clients).
        queued: u64,
        /// Receivers that did not get it: volatile and offline or slow, or queue full
        /// (oldest dropped).
        dropped: u64,
        /// Several hubs on one Redis: the counts are this hub's, and the event was also
        /// published to the other hubs, which deliver it to their own members.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        published: bool,
    },
    /// A receiver acknowledged an event that asked for an ack.
    AckReply {
        ack: u64,
        from: String,
        id: u64,
        #[serde(default)]
        data: Value,
    },
    Error {
        error: String,
        /// The start of the frame that caused it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        input: Option<String>,
    },
    /// Work queues: the job is stored.
    Enqueued {
        queue: String,
        id: String,
        event: String,
    },
    /// Work queues: this connection is a member of the queue's consumer group.
    Consuming {
        queue: String,
        consumer: String,
        prefetch: u64,
    },
    /// Work queues: a job for this worker.
    Job(JobOut),
}

impl ServerMsg {
    pub fn to_text(&self) -> String {
        // Serializing these types cannot fail (string keys, no maps with other keys).
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"type\":\"error\",\"error\":\"cannot encode: {e}\"}}"))
    }

    /// Parses one frame from the hub (the client side).
    pub fn parse(text: &str) -> Result<ServerMsg, ProtocolError> {
        serde_json::from_str(text).map_err(|e| ProtocolError::BadJson(e.to_string()))
    }

    /// An error frame for a bad client frame, quoting its first 80 characters.
    pub fn error(e: &ProtocolError, input: &str) -> ServerMsg {
        ServerMsg::Error {
            error: e.to_string(),
            input: Some(input.chars().take(80).collect()),
        }
    }
}

/// Where a connection belongs: the namespace is the URL path, the identity `?client=ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub namespace: String,
    pub client: Option<String>,
}

/// Splits a request target such as `/parcels?client=driver-1` into namespace and identity.
/// Percent-escapes in the client id are decoded.
pub fn parse_target(target: &str) -> Result<Address, ProtocolError> {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let mut namespace = if path.is_empty() { "/" } else { path }.to_string();
    while namespace.len() > 1 && namespace.ends_with('/') {
        namespace.pop();
    }
    if !namespace.starts_with('/') {
        namespace.insert(0, '/');
    }
    check_name("namespace", &namespace)?;
    let mut client = None;
    for pair in query.unwrap_or_default().split('&') {
        if let Some(v) = pair.strip_prefix("client=") {
            let id = percent_decode(v).ok_or_else(|| ProtocolError::BadName {
                what: "client id",
                name: v.chars().take(40).collect(),
                problem: "bad percent-escape or not UTF-8",
            })?;
            check_name("client id", &id)?;
            client = Some(id);
        }
    }
    Ok(Address { namespace, client })
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn join_leave_ack() {
        assert_eq!(
            ClientMsg::parse(r#"{"type":"join","room":"vendor-7"}"#),
            Ok(ClientMsg::Join {
                room: "vendor-7".into()
            })
        );
        assert_eq!(
            ClientMsg::parse(r#"{"type":"leave","room":"a"}"#),
            Ok(ClientMsg::Leave { room: "a".into() })
        );
        assert_eq!(
            ClientMsg::parse(r#"{"type":"ack","id":42,"data":"ok"}"#),
            Ok(ClientMsg::Ack {
                id: 42,
                data: Some(json!("ok"))
            })
        );
    }

    #[test]
    fn emit_targets() {
        let e = |s: &str| match ClientMsg::parse(s) {
            Ok(ClientMsg::Emit(e)) => e,
            other => panic!("{other:?}"),
        };
        let x = e(r#"{"type":"emit","event":"pickup","data":{"parcel":"P-1"}}"#);
        assert_eq!(x.to, Target::Broadcast);
        assert_eq!(x.data, json!({"parcel":"P-1"}));
        assert_eq!((x.ack, x.volatile), (None, false));
        let x = e(
            r#"{"type":"emit","event":"e","to":"rooms","rooms":["a","b","a"],"include_self":true,"ack":3,"volatile":true}"#,
        );
        assert_eq!(
            x.to,
            Target::Rooms {
                rooms: vec!["a".into(), "b".into()],
                include_self: true
            }
        );
        assert_eq!((x.ack, x.volatile), (Some(3), true));
        assert_eq!(
            e(r#"{"type":"emit","event":"e","to":"rooms","rooms":"a"}"#).to,
            Target::Rooms {
                rooms: vec!["a".into()],
                include_self: false
            }
        );
        assert_eq!(
            e(r#"{"type":"emit","event":"e","to":"self"}"#).to,
            Target::Sender
        );
        assert_eq!(
            e(r#"{"type":"emit","event":"e","to":"namespace"}"#).to,
            Target::Namespace
        );
        assert_eq!(
            e(r#"{"type":"emit","event":"e","to":"client","client":"driver-1"}"#).to,
            Target::Client("driver-1".into())
        );
    }

    #[test]
    fn round_trip_through_text() {
        for m in [
            ClientMsg::Join { room: "r".into() },
            ClientMsg::Ack { id: 9, data: None },
            ClientMsg::Emit(Emit {
                event: "pickup".into(),
                data: json!([1, "two"]),
                to: Target::Rooms {
                    rooms: vec!["v".into()],
                    include_self: true,
                },
                ack: Some(1),
                volatile: false,
            }),
            ClientMsg::Emit(Emit {
                event: "x".into(),
                data: Value::Null,
                to: Target::Client("d".into()),
                ack: None,
                volatile: true,
            }),
        ] {
            assert_eq!(ClientMsg::parse(&m.to_text()), Ok(m));
        }
        let s = ServerMsg::Event(EventOut {
            id: Some(5),
            event: "pickup".into(),
            data: json!({"a":1}),
            from: "vendor-7".into(),
            namespace: "/parcels".into(),
            room: Some("vendor-7".into()),
            ack: true,
            redelivery: false,
            sent_ms: 1,
        });
        let text = s.to_text();
        assert!(text.starts_with(r#"{"type":"event","id":5,"#), "{text}");
        assert_eq!(ServerMsg::parse(&text), Ok(s));
    }

    #[test]
    fn errors_name_the_problem() {
        let err = |s: &str| ClientMsg::parse(s).unwrap_err().to_string();
        assert!(err("{not json").starts_with("not JSON: "), "{}", err("{x"));
        assert!(err("[1,2]").contains("got an array"));
        assert!(err(r#"{"room":"a"}"#).contains("no \"type\""));
        assert_eq!(
            err(r#"{"type":"shout"}"#),
            "unknown message type \"shout\" (expected join, leave, emit, ack, enqueue, consume or job_ack)"
        );
        assert!(err(r#"{"type":"join"}"#).contains("\"join\" needs \"room\""));
        assert!(err(r#"{"type":"join","room":5}"#).contains("must be a string, got a number"));
        assert!(err(r#"{"type":"join","room":""}"#).contains("bad room \"\": empty"));
        assert!(err(r#"{"type":"ack","id":-1}"#).contains("got -1"));
        assert!(err(r#"{"type":"emit","event":"e","to":"moon"}"#).contains("unknown target"));
        assert!(err(r#"{"type":"emit","event":"e","to":"rooms"}"#).contains("needs \"rooms\""));
        assert!(
            err(r#"{"type":"emit","event":"e","to":"rooms","rooms":[1]}"#)
                .contains("an array holding a number")
        );
        assert!(err(r#"{"type":"emit","data":1}"#).contains("needs \"event\""));
        let long = format!(r#"{{"type":"join","room":"{}"}}"#, "x".repeat(200));
        assert!(err(&long).contains("longer than 128"));
    }

    #[test]
    fn fast_and_checked_parsers_agree() {
        for s in [
            r#"{"type":"join","room":"a"}"#,
            r#"{"type":"leave","room":"a","extra":1}"#,
            r#"{"type":"ack","id":3}"#,
            r#"{"type":"ack","id":3,"data":null}"#,
            r#"{"type":"ack","id":3,"data":{"x":[1]}}"#,
            r#"{"type":"emit","event":"e"}"#,
            r#"{"type":"emit","event":"e","data":null,"to":null,"ack":false}"#,
            r#"{"type":"emit","event":"e","to":"rooms","rooms":["a","b","a"],"include_self":true}"#,
            r#"{"type":"emit","event":"e","to":"rooms","rooms":"a","ack":9,"volatile":true}"#,
            r#"{"type":"emit","event":"e","to":"client","client":"d-1"}"#,
            r#"{"type":"emit","event":"e","to":"self","data":"\u00e9"}"#,
            r#"{"type":"emit","event":"e\n"}"#,
            r#"{"type":"emit","event":"e","to":"rooms","rooms":[]}"#,
            r#"{"type":"emit","event":"e","ack":true}"#,
            r#"{"type":"join","room":"a","room":"b"}"#,
            r#"{"type":"ack","id":1.5}"#,
            r#"{"type":"emit","event":"e","x":1e999}"#,
        ] {
            let fast = serde_json::from_str::<Fields>(s)
                .ok()
                .and_then(Fields::into_msg);
            let checked = ClientMsg::parse_checked(s);
            if let Some(f) = fast {
                assert_eq!(Ok(f), checked, "{s}");
            }
            assert_eq!(ClientMsg::parse(s), checked, "{s}");
        }
    }

    #[test]
    fn work_queue_frames_round_trip_and_name_problems() {
        for m in [
            ClientMsg::Enqueue {
                queue: "jobs".into(),
                event: "resize".into(),
                data: json!({"n": 1}),
            },
            ClientMsg::Consume {
                queue: "jobs".into(),
                prefetch: 1,
            },
            ClientMsg::JobAck {
                queue: "jobs".into(),
                id: "1-0".into(),
            },
        ] {
            assert_eq!(ClientMsg::parse(&m.to_text()), Ok(m));
        }
        assert_eq!(
            ClientMsg::parse(r#"{"type":"consume","queue":"jobs"}"#),
            Ok(ClientMsg::Consume {
                queue: "jobs".into(),
                prefetch: 1
            })
        );
        assert_eq!(
            ClientMsg::parse(r#"{"type":"job_ack","queue":"q","id":7}"#),
            Ok(ClientMsg::JobAck {
                queue: "q".into(),
                id: "7".into()
            })
        );
        let err = |s: &str| ClientMsg::parse(s).unwrap_err().to_string();
        assert!(err(r#"{"type":"consume","queue":"jobs","prefetch":0}"#).contains("prefetch"));
        assert!(err(r#"{"type":"consume","queue":"jobs","prefetch":1001}"#).contains("1..1000"));
        assert!(err(r#"{"type":"enqueue","queue":"","event":"x"}"#).contains("bad queue"));
        assert!(err(r#"{"type":"enqueue","queue":"q"}"#).contains("needs \"event\""));
        assert!(err(r#"{"type":"job_ack","queue":"q"}"#).contains("needs \"id\""));
        let job = ServerMsg::Job(JobOut {
            queue: "q".into(),
            id: "3".into(),
            event: "e".into(),
            data: json!(1),
            from: "s".into(),
            namespace: "/".into(),
            deliveries: 2,
            sent_ms: 9,
        });
        let text = job.to_text();
        assert!(
            text.starts_with(r#"{"type":"job","queue":"q","id":"3""#),
            "{text}"
        );
        assert_eq!(ServerMsg::parse(&text), Ok(job));
    }

    #[test]
    fn targets_from_urls() {
        assert_eq!(
            parse_target("/parcels?client=driver%2D1&x=y"),
            Ok(Address {
                namespace: "/parcels".into(),
                client: Some("driver-1".into())
            })
        );
        assert_eq!(
            parse_target("/"),
            Ok(Address {
                namespace: "/".into(),
                client: None
            })
        );
        assert_eq!(parse_target("/caps/").unwrap().namespace, "/caps");
        assert!(parse_target("/?client=").is_err());
        assert!(parse_target("/?client=%zz").is_err());
        assert!(parse_target("/?client=%e2%82").is_err());
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "",
            "null",
            "1",
            "\"s\"",
            "{}",
            r#"{"type":null}"#,
            r#"{"type":"emit"}"#,
            r#"{"type":"emit","event":"e","ack":1.5}"#,
            r#"{"type":"emit","event":"e","to":1}"#,
            r#"{"type":"ack"}"#,
            r#"{"type":"ack","id":"1"}"#,
        ] {
            assert!(ClientMsg::parse(s).is_err(), "{s}");
        }
        for s in ["", "%", "%4", "?client=%", "a?client=b"] {
            let _ = parse_target(s);
        }
    }
}

//! The Socket.IO layer: sockets (one per namespace on a session), rooms that live only on the
//! server, the relay chosen by `--relay`, acks answered with recipient counts, the
//! `--conformance` handlers, and connection state recovery.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;

use super::recovery::{RecoveryStore, SavedSession};
use super::{Relay, Server, SioEvent};
use crate::wire::engineio::{Data, Packet as EPacket, PacketType as EType};
use crate::wire::socketio::{Decoded, Decoder, Packet, PacketType, Value};

/// One Engine.IO session and what waits to be sent on it.
pub struct Session {
    pub peer: String,
    /// The session's transport is WebSocket (directly, or since the upgrade).
    pub ws: bool,
    /// A WebSocket answered the probe; polling is being released (noop) until `5`.
    pub upgrading: bool,
    pub out: Vec<EPacket>,
    /// Woken (notify_waiters) whenever `out` grows or the session closes.
    pub notify: Arc<Notify>,
    /// A GET is being held open for this session.
    pub polling_held: bool,
    /// A POST is being read for this session.
    pub posting: bool,
    /// What a held GET answers when the session ends: close, or noop when the client closed
    /// (engine.io's polling transport releases the pending GET with a noop then).
    pub farewell: Arc<OnceLock<EType>>,
    pub awaiting_pong: bool,
    /// Woken (notify_one) when a pong arrives: the next ping is due pingInterval after it.
    pub pong: Arc<Notify>,
    /// Namespace → socket id.
    pub sockets: HashMap<String, String>,
    pub ever_connected: bool,
    pub decoder: Decoder,
}

impl Session {
    pub fn new(peer: String, ws: bool) -> Session {
        Session {
            peer,
            ws,
            upgrading: false,
            out: Vec::new(),
            notify: Arc::new(Notify::new()),
            polling_held: false,
            posting: false,
            farewell: Arc::new(OnceLock::new()),
            awaiting_pong: false,
            pong: Arc::new(Notify::new()),
            sockets: HashMap::new(),
            ever_connected: false,
            decoder: Decoder::new(),
        }
    }

    pub fn push(&mut self, p: EPacket) {
        self.out.push(p);
        self.notify.notify_waiters();
    }

    fn push_sio(&mut self, text: String, attachments: &[Vec<u8>]) {
        self.out.push(EPacket::message(text));
        for a in attachments {
            self.out.push(EPacket::binary(a.clone()));
        }
        self.notify.notify_waiters();
    }
}

/// A Socket.IO socket: a session connected to one namespace.
pub struct Sock {
    pub sid: String,
    pub nsp: String,
    pub pid: String,
    pub rooms: BTreeSet<String>,
}

#[derive(Default)]
pub struct Nsp {
    pub members: BTreeSet<String>,
    pub rooms: HashMap<String, BTreeSet<String>>,
}

pub struct State {
    pub sessions: HashMap<String, Session>,
    pub sockets: HashMap<String, Sock>,
    pub nsps: HashMap<String, Nsp>,
    pub store: Option<Box<dyn RecoveryStore>>,
}

/// A random id: 20 URL-safe characters, like the reference server's.
pub fn new_id() -> String {
    let mut b = [0u8; 15];
    let _ = getrandom::fill(&mut b);
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b)
}

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

impl State {
    /// Sends a Socket.IO packet (with attachments) on a session.
    fn send(&mut self, sid: &str, p: &Packet, attachments: &[Vec<u8>]) {
        if let Some(s) = self.sessions.get_mut(sid) {
            s.push_sio(p.encode(), attachments);
        }
    }

    /// Ends a session: its sockets leave their rooms (kept for recovery unless the client
    /// closed on purpose), and whatever waits on it wakes up.
    pub fn close_session(&mut self, srv: &Server, sid: &str, reason: &str) {
        let Some(mut s) = self.sessions.remove(sid) else {
            return;
        };
        let _ = s.farewell.set(EType::Close);
        s.notify.notify_waiters();
        let sockets: Vec<(String, String)> = s.sockets.drain().collect();
        for (nsp, id) in sockets {
            self.remove_socket(srv, &id, &nsp, reason, true);
        }
        srv.report(SioEvent::SessionClose {
            sid: sid.to_string(),
            reason: reason.to_string(),
        });
    }

    fn remove_socket(
        &mut self,
        srv: &Server,
        id: &str,
        nsp: &str,
        reason: &str,
        recoverable: bool,
    ) {
        let Some(sock) = self.sockets.remove(id) else {
            return;
        };
        if let Some(n) = self.nsps.get_mut(nsp) {
            n.members.remove(id);
            for r in &sock.rooms {
                if let Some(m) = n.rooms.get_mut(r) {
                    m.remove(id);
                    if m.is_empty() {
                        n.rooms.remove(r);
                    }
                }
            }
        }
        if let Some(st) = &self.store {
            let _ = st.disconnected(&sock.pid, recoverable);
        }
        srv.report(SioEvent::Disconnect {
            nsp: nsp.to_string(),
            id: id.to_string(),
            reason: reason.to_string(),
        });
    }

    /// One Engine.IO message from the client. A packet the reference parser refuses closes
    /// the session.
    pub fn on_message(&mut self, srv: &Server, sid: &str, data: Data) {
        let Some(s) = self.sessions.get_mut(sid) else {
            return;
        };
        let r = match &data {
            Data::Text(t) => s.decoder.feed_text(t),
            Data::Binary(b) => s.decoder.feed_binary(b),
        };
        match r {
            Ok(Some(d)) => self.on_packet(srv, sid, d),
            Ok(None) => {}
            Err(e) => self.close_session(srv, sid, &format!("parse error: {e}")),
        }
    }

    fn on_packet(&mut self, srv: &Server, sid: &str, d: Decoded) {
        let p = d.packet;
        match p.kind {
            PacketType::Connect => self.on_connect(srv, sid, &p.nsp, p.data),
            PacketType::Disconnect => {
                let id = self
                    .sessions
                    .get_mut(sid)
                    .and_then(|s| s.sockets.remove(&p.nsp));
                if let Some(id) = id {
                    self.remove_socket(srv, &id, &p.nsp, "client namespace disconnect", false);
                }
            }
            PacketType::Event | PacketType::BinaryEvent => {
                let id = self
                    .sessions
                    .get(sid)
                    .and_then(|s| s.sockets.get(&p.nsp))
                    .cloned();
                match id {
                    Some(id) => self.on_event(srv, sid, &id, &p),
                    // An event for a namespace it has not joined: the reference server
                    // closes the connection.
                    None => self.close_session(srv, sid, "event for a namespace not connected"),
                }
            }
            // The hub asks no acks of clients; the reference server ignores unknown ack ids.
            PacketType::Ack | PacketType::BinaryAck => {}
            PacketType::ConnectError => self.close_session(srv, sid, "CONNECT_ERROR from a client"),
        }
    }

    fn on_connect(&mut self, srv: &Server, sid: &str, nsp: &str, auth: Option<Value>) {
        if !srv.opts.namespaces.iter().any(|n| n == nsp) {
            let p = Packet::connect_error(nsp, "Invalid namespace");
            self.send(sid, &p, &[]);
            srv.report(SioEvent::ConnectError {
                nsp: nsp.to_string(),
                message: "Invalid namespace".into(),
            });
            return;
        }
        let Some(s) = self.sessions.get_mut(sid) else {
            return;
        };
        if s.sockets.contains_key(nsp) {
            // Already connected there: the reference server answers a second CONNECT anew.
            return;
        }
        s.ever_connected = true;
        let auth = auth.unwrap_or(Value::Object(Vec::new()));
        // Recovery: {pid, offset} in the auth, a saved state for it, and its missed events.
        let mut restored: Option<(SavedSession, Vec<super::recovery::SavedEvent>)> = None;
        let mut asked = false;
        if let (Some(st), Some(window)) = (&self.store, srv.opts.recovery_window) {
            if let (Some(pid), Some(off)) = (
                auth.get("pid").and_then(Value::as_str),
                auth.get("offset").and_then(Value::as_str),
            ) {
                asked = true;
                if let (Ok(off), Ok(Some(saved))) = (off.parse::<i64>(), st.find(pid, nsp, window))
                {
                    if !self.sockets.contains_key(&saved.id) {
                        if let Ok(missed) = st.missed(nsp, off, &saved.id, &saved.rooms) {
                            restored = Some((saved, missed));
                        }
                    }
                }
            }
        }
        let recovered = restored.is_some();
        let (id, pid, rooms, missed) = match restored {
            Some((s, m)) => (s.id, s.pid, s.rooms, m),
            None => (new_id(), new_id(), Vec::new(), Vec::new()),
        };
        let _ = asked;
        if let Some(s) = self.sessions.get_mut(sid) {
            s.sockets.insert(nsp.to_string(), id.clone());
        }
        let n = self.nsps.entry(nsp.to_string()).or_default();
        n.members.insert(id.clone());
        for r in &rooms {
            n.rooms.entry(r.clone()).or_default().insert(id.clone());
        }
        self.sockets.insert(
            id.clone(),
            Sock {
                sid: sid.to_string(),
                nsp: nsp.to_string(),
                pid: pid.clone(),
                rooms: rooms.iter().cloned().collect(),
            },
        );
        let mut answer = vec![("sid", Value::from(id.as_str()))];
        if let Some(st) = &self.store {
            answer.push(("pid", Value::from(pid.as_str())));
            let _ = st.connected(&SavedSession {
                pid: pid.clone(),
                id: id.clone(),
                nsp: nsp.to_string(),
                rooms: rooms.clone(),
            });
        }
        self.send(sid, &Packet::connect(nsp, Some(obj(answer))), &[]);
        let replayed = missed.len() as u64;
        if let Some(s) = self.sessions.get_mut(sid) {
            for e in missed {
                s.push_sio(e.packet, &e.attachments);
            }
        }
        srv.report(SioEvent::Connect {
            nsp: nsp.to_string(),
            id: id.clone(),
            recovered,
            replayed,
        });
        if srv.opts.conformance {
            let (p, atts) = Packet::event(nsp, "auth", vec![auth], None);
            self.send(sid, &p, &atts);
        }
    }

    fn ack(&mut self, sid: &str, nsp: &str, id: Option<u64>, args: Vec<Value>) {
        if let Some(id) = id {
            let (p, atts) = Packet::ack(nsp, id, args);
            self.send(sid, &p, &atts);
        }
    }

    fn on_event(&mut self, srv: &Server, sid: &str, id: &str, p: &Packet) {
        let name = p.event_name().unwrap_or_default();
        let args = p.args().to_vec();
        if srv.opts.conformance {
            match name.as_str() {
                "message" => {
                    let (e, atts) = Packet::event(&p.nsp, "message-back", args, None);
                    self.send(sid, &e, &atts);
                    return;
                }
                "message-with-ack" => {
                    self.ack(sid, &p.nsp, p.id, args);
                    return;
                }
                _ => {}
            }
        }
        if name == "join" || name == "leave" {
            let Some(room) = args.first().and_then(Value::as_str).map(str::to_string) else {
                self.ack(
                    sid,
                    &p.nsp,
                    p.id,
                    vec![obj(vec![(
                        "error",
                        Value::from("join and leave take a room name"),
                    )])],
                );
                return;
            };
            let members = self.room_op(srv, id, &p.nsp, &room, name == "join");
            let op = if name == "join" { "join" } else { "leave" };
            let rooms: Vec<Value> = self
                .sockets
                .get(id)
                .map(|s| s.rooms.iter().map(|r| Value::from(r.as_str())).collect())
                .unwrap_or_default();
            self.ack(
                sid,
                &p.nsp,
                p.id,
                vec![obj(vec![
                    (op, Value::from(room.as_str())),
                    ("members", Value::Number(members.into())),
                    ("rooms", Value::Array(rooms)),
                ])],
            );
            return;
        }
        let recipients = self.relay(srv, id, &p.nsp, &name, args);
        self.ack(
            sid,
            &p.nsp,
            p.id,
            vec![obj(vec![("recipients", Value::Number(recipients.into()))])],
        );
        if !srv.opts.quiet {
            srv.report(SioEvent::Relay {
                nsp: p.nsp.clone(),
                id: id.to_string(),
                event: name,
                recipients,
            });
        }
    }

    /// Joins or leaves a room; returns its member count after.
    fn room_op(&mut self, srv: &Server, id: &str, nsp: &str, room: &str, join: bool) -> usize {
        let n = self.nsps.entry(nsp.to_string()).or_default();
        let members = if join {
            let m = n.rooms.entry(room.to_string()).or_default();
            m.insert(id.to_string());
            m.len()
        } else {
            let left = match n.rooms.get_mut(room) {
                Some(m) => {
                    m.remove(id);
                    m.len()
                }
                None => 0,
            };
            if left == 0 {
                n.rooms.remove(room);
            }
            left
        };
        if let Some(s) = self.sockets.get_mut(id) {
            if join {
                s.rooms.insert(room.to_string());
            } else {
                s.rooms.remove(room);
            }
            if let Some(st) = &self.store {
                let rooms: Vec<String> = s.rooms.iter().cloned().collect();
                let _ = st.set_rooms(&s.pid, &rooms);
            }
        }
        srv.report(SioEvent::Room {
            nsp: nsp.to_string(),
            id: id.to_string(),
            op: if join { "join" } else { "leave" },
            room: room.to_string(),
            members,
        });
        members
    }

    /// Sends an event to the sockets `--relay` names; returns how many.
    fn relay(
        &mut self,
        srv: &Server,
        from: &str,
        nsp: &str,
        name: &str,
        mut args: Vec<Value>,
    ) -> usize {
        let Some(n) = self.nsps.get(nsp) else {
            return 0;
        };
        let (targets, rooms_filter, except): (Vec<String>, Option<Vec<String>>, Option<&str>) =
            match srv.opts.relay {
                Relay::Namespace => (n.members.iter().cloned().collect(), None, None),
                Relay::Broadcast => (
                    n.members.iter().filter(|m| *m != from).cloned().collect(),
                    None,
                    Some(from),
                ),
                Relay::Rooms => {
                    let rooms: Vec<String> = self
                        .sockets
                        .get(from)
                        .map(|s| s.rooms.iter().cloned().collect())
                        .unwrap_or_default();
                    let mut set = BTreeSet::new();
                    for r in &rooms {
                        if let Some(m) = n.rooms.get(r) {
                            set.extend(m.iter().filter(|x| *x != from).cloned());
                        }
                    }
                    (set.into_iter().collect(), Some(rooms), Some(from))
                }
            };
        // With recovery on, every relayed event carries its offset as the last argument
        // (as socket.io does) and is on disk before it is sent.
        let mut offset = None;
        // An event to the rooms of a sender in no room can reach no one, now or on recovery.
        let nobody = rooms_filter.as_ref().is_some_and(|r| r.is_empty());
        if let (Some(st), false) = (&self.store, nobody) {
            if let Ok(o) = st.next_offset() {
                args.push(Value::from(o.to_string().as_str()));
                offset = Some(o);
            }
        }
        let (p, atts) = Packet::event(nsp, name, args, None);
        let text = p.encode();
        if let (Some(st), Some(o)) = (&self.store, offset) {
            let _ = st.save_event(o, nsp, rooms_filter.as_deref(), except, &text, &atts);
        }
        let mut count = 0;
        for t in &targets {
            let Some(sock) = self.sockets.get(t) else {
                continue;
            };
            if let Some(s) = self.sessions.get_mut(&sock.sid) {
                s.push_sio(text.clone(), &atts);
                count += 1;
            }
        }
        count
    }

    /// Deletes expired recovery state: (events, sessions).
    pub fn expire(&mut self, window: std::time::Duration) -> Option<(u64, u64)> {
        self.store.as_ref().and_then(|s| s.expire(window).ok())
    }

    /// An Engine.IO packet that is not a message.
    pub fn on_engine(&mut self, srv: &Server, sid: &str, p: EPacket) {
        match p.kind {
            EType::Message => self.on_message(srv, sid, p.data),
            EType::Pong => {
                if let Some(s) = self.sessions.get_mut(sid) {
                    s.awaiting_pong = false;
                    s.pong.notify_one();
                }
            }
            EType::Close => {
                if let Some(s) = self.sessions.get(sid) {
                    let _ = s.farewell.set(EType::Noop);
                }
                self.close_session(srv, sid, "transport close")
            }
            // v4 clients do not ping; a stray ping or noop is ignored, as the reference does.
            EType::Ping | EType::Noop => {}
            EType::Open | EType::Upgrade => self.close_session(srv, sid, "parse error"),
        }
    }
}

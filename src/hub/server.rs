//! `hub serve`: an accept loop, one task per connection, and one hub task that owns all state
//! (sessions, rooms, the SQLite queue).
//!
//! Connection tasks parse frames ([`ClientMsg::parse`]) and hand them to the hub; the hub
//! handles everything that is waiting in one SQLite transaction, commits, and only then hands
//! the resulting frames to the connections: an event for an identified client is on disk
//! before any byte of it is sent (write-ahead), and deleted only when the client acks it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::events::HubEvent;
use super::protocol::{parse_target, Address, ClientMsg, Emit, EventOut, ServerMsg, Target};
use super::store::{Store, StoreError, Stored};
use super::workqueue::{Work, WorkMsg};
use crate::wire::websocket::{ClosePayload, OpCode};
use crate::ws::accept::{accept, AcceptOptions, Accepted};
use crate::ws::conn::{Config, Incoming, Message, WsError};

/// The browser page served on `GET /`.
pub const PAGE: &str = include_str!("page.html");

/// Where events go.
pub type HubSink = Arc<dyn Fn(HubEvent) + Send + Sync>;

#[derive(Debug, Clone)]
pub struct HubOptions {
    /// Connections open at once; more are refused with close code 1013 (try again later).
    pub max_clients: usize,
    /// Largest frame/message a client may send (bigger: close 1009).
    pub max_message: u64,
    /// Events kept per identified client; beyond it the oldest is dropped.
    pub queue_cap: u64,
    /// A delivered event not acknowledged within this time is sent again.
    pub ack_timeout: Duration,
    /// Stop after this many connections have been served.
    pub max_conns: Option<u64>,
    /// Stop when no client has been connected for this long.
    pub exit_after_idle: Option<Duration>,
    /// Report connections, rooms and emits, but not every delivery and ack.
    pub quiet: bool,
    /// Volatile events are dropped for a connection with more than this many frames waiting.
    pub volatile_backlog: usize,
    /// Work queues: a job delivered this many times without an ack is dead-lettered.
    pub max_attempts: u64,
    /// Work queues on Redis Streams (redis://HOST:PORT) instead of the SQLite file.
    pub redis: Option<String>,
    /// The Socket.IO server that answers `/socket.io/` on the same port (src/sio/).
    pub sio: Option<Arc<crate::sio::Server>>,
}

impl Default for HubOptions {
    fn default() -> Self {
        HubOptions {
            max_clients: 1000,
            max_message: 64 * 1024,
            queue_cap: 1000,
            ack_timeout: Duration::from_secs(10),
            max_conns: None,
            exit_after_idle: None,
            quiet: false,
            volatile_backlog: 64,
            max_attempts: 5,
            redis: None,
            sio: None,
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A frame for a connection to send, or an order to close it.
enum Out {
    Text(String),
    Close(u16, String),
}

#[derive(Clone)]
struct ConnHandle {
    tx: mpsc::UnboundedSender<Out>,
    /// Frames handed over but not yet written.
    backlog: Arc<AtomicUsize>,
}

/// Frames that may wait for one connection. A client that stops reading is not given more:
/// further frames for it are dropped (an identified client's events stay in its durable queue
/// and come back on reconnect), so a stalled reader cannot grow the hub's memory.
const MAX_BACKLOG: usize = 16_384;

impl ConnHandle {
    fn send(&self, out: Out) {
        if matches!(out, Out::Text(_)) && self.backlog.load(Ordering::Relaxed) >= MAX_BACKLOG {
            return;
        }
        self.backlog.fetch_add(1, Ordering::Relaxed);
        let _ = self.tx.send(out);
    }
}

enum Cmd {
    Open {
        conn: u64,
        addr: Address,
        peer: String,
        handle: ConnHandle,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Msg {
        conn: u64,
        msg: ClientMsg,
    },
    Closed {
        conn: u64,
        error: Option<String>,
        /// Answered once everything before it is committed.
        done: Option<oneshot::Sender<()>>,
    },
    /// A work-queue frame (src/hub/workqueue.rs).
    Work {
        conn: u64,
        msg: WorkMsg,
    },
    /// A broadcast from another hub process on the same Redis (src/hub/cluster.rs).
    Remote(super::cluster::Remote),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Member {
    Conn(u64),
    Client(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ReplyKey {
    /// A queued event (ids are unique in the database).
    Durable(u64),
    /// An event for an anonymous connection: (connection, its sequence number).
    Live(u64, u64),
}

struct Session {
    addr: Address,
    handle: ConnHandle,
    /// Rooms of an anonymous connection (identified clients' rooms live in the store).
    rooms: BTreeSet<String>,
    /// Durable events sent and not yet acknowledged, and when they were sent.
    inflight: BTreeMap<u64, Instant>,
    /// Ids for events to an anonymous connection.
    seq: u64,
}

impl Session {
    fn name(&self, conn: u64) -> String {
        self.addr
            .client
            .clone()
            .unwrap_or_else(|| format!("conn-{conn}"))
    }
}

type Key = (String, String);

struct Hub {
    store: Store,
    opts: Arc<HubOptions>,
    sink: HubSink,
    sessions: HashMap<u64, Session>,
    /// (namespace, client id) -> its connection.
    online: HashMap<Key, u64>,
    /// (namespace, room) -> members.
    rooms: HashMap<Key, BTreeSet<Member>>,
    /// Identified clients per namespace (every one that ever connected or was addressed).
    known: HashMap<String, BTreeSet<String>>,
    /// Ids queued per identified client, oldest first (the database holds the events).
    queued: HashMap<Key, BTreeSet<u64>>,
    dropped: HashMap<Key, u64>,
    replies: HashMap<ReplyKey, (u64, u64)>,
    outbox: Vec<(ConnHandle, Out)>,
    after_commit: Vec<oneshot::Sender<()>>,
    work: Work,
}

impl Hub {
    fn new(store: Store, opts: Arc<HubOptions>, sink: HubSink) -> Result<Hub, StoreError> {
        let redis = match &opts.redis {
            Some(url) => Some(super::redis_store::RedisJobs::connect(url)?),
            None => None,
        };
        let work = Work::new(&store, redis, opts.max_attempts, opts.ack_timeout)?;
        let mut hub = Hub {
            store,
            opts,
            sink,
            sessions: HashMap::new(),
            online: HashMap::new(),
            rooms: HashMap::new(),
            known: HashMap::new(),
            queued: HashMap::new(),
            dropped: HashMap::new(),
            replies: HashMap::new(),
            outbox: Vec::new(),
            after_commit: Vec::new(),
            work,
        };
        for (ns, client, room) in hub.store.memberships()? {
            hub.rooms
                .entry((ns, room))
                .or_default()
                .insert(Member::Client(client));
        }
        for (ns, client, dropped) in hub.store.clients()? {
            hub.known
                .entry(ns.clone())
                .or_default()
                .insert(client.clone());
            hub.dropped.insert((ns, client), dropped);
        }
        for (ns, client, id) in hub.store.queued_ids()? {
            hub.queued.entry((ns, client)).or_default().insert(id);
        }
        Ok(hub)
    }

    fn emit_log(&self, e: HubEvent) {
        (self.sink)(e)
    }

    fn push(&mut self, conn: u64, msg: &ServerMsg) {
        if let Some(s) = self.sessions.get(&conn) {
            self.outbox
                .push((s.handle.clone(), Out::Text(msg.to_text())));
        }
    }

    fn client_rooms(&self, ns: &str, client: &str) -> Vec<String> {
        let me = Member::Client(client.to_string());
        let mut v: Vec<String> = self
            .rooms
            .iter()
            .filter(|((n, _), m)| n == ns && m.contains(&me))
            .map(|((_, r), _)| r.clone())
            .collect();
        v.sort();
        v
    }

    fn handle(&mut self, cmd: Cmd) -> Result<(), StoreError> {
        match cmd {
            Cmd::Open {
                conn,
                addr,
                peer,
                handle,
                reply,
            } => self.open(conn, addr, peer, handle, reply),
            Cmd::Msg { conn, msg } => match msg {
                ClientMsg::Join { room } => self.join(conn, room, true),
                ClientMsg::Leave { room } => self.join(conn, room, false),
                ClientMsg::Ack { id, data } => self.ack(conn, id, data),
                ClientMsg::Emit(e) => self.emit(conn, e),
            },
            Cmd::Closed { conn, error, done } => {
                self.closed(conn, error);
                if let Some(d) = done {
                    self.after_commit.push(d);
                }
                Ok(())
            }
            Cmd::Work { conn, msg } => {
                let Some(s) = self.sessions.get(&conn) else {
                    return Ok(());
                };
                let (ns, name) = (s.addr.namespace.clone(), s.name(conn));
                Ok(self.work.handle(&self.store, conn, &ns, &name, msg)?)
            }
            Cmd::Remote(r) => self.remote(r),
        }
    }

    fn open(
        &mut self,
        conn: u64,
        addr: Address,
        peer: String,
        handle: ConnHandle,
        reply: oneshot::Sender<Result<(), String>>,
    ) -> Result<(), StoreError> {
        if self.sessions.len() >= self.opts.max_clients {
            let _ = reply.send(Err(format!(
                "the hub is full: {} clients connected (--max-clients)",
                self.opts.max_clients
            )));
            return Ok(());
        }
        let mut pending = Vec::new();
        let mut rooms = Vec::new();
        let mut dropped = 0;
        if let Some(c) = &addr.client {
            let key = (addr.namespace.clone(), c.clone());
            if let Some(old) = self.online.insert(key.clone(), conn) {
                if let Some(s) = self.sessions.remove(&old) {
                    self.outbox.push((
                        s.handle.clone(),
                        Out::Close(
                            4000,
                            "replaced by a newer connection with this client id".into(),
                        ),
                    ));
                    self.emit_log(HubEvent::Replaced {
                        conn: old,
                        by: conn,
                    });
                }
            }
            self.store.touch_client(&addr.namespace, c, now_ms())?;
            self.sync_client(&addr.namespace, c)?;
            self.known
                .entry(addr.namespace.clone())
                .or_default()
                .insert(c.clone());
            if let Some(ids) = self.queued.get(&key) {
                for id in ids {
                    if let Some(m) = self.store.get(*id)? {
                        pending.push(m);
                    }
                }
            }
            rooms = self.client_rooms(&addr.namespace, c);
            dropped = self.dropped.get(&key).copied().unwrap_or(0);
        }
        self.emit_log(HubEvent::Connected {
            conn,
            peer,
            namespace: addr.namespace.clone(),
            client: addr.client.clone(),
            queued: pending.len() as u64,
        });
        let welcome = ServerMsg::Welcome {
            namespace: addr.namespace.clone(),
            client: addr.client.clone(),
            conn,
            rooms,
            queued: pending.len() as u64,
            dropped,
        };
        self.sessions.insert(
            conn,
            Session {
                addr,
                handle,
                rooms: BTreeSet::new(),
                inflight: BTreeMap::new(),
                seq: 0,
            },
        );
        self.push(conn, &welcome);
        for m in pending {
            self.deliver_durable(conn, event_from(m))?;
        }
        let _ = reply.send(Ok(()));
        Ok(())
    }

    /// Sends a stored event and counts the delivery in the store.
    fn deliver_durable(&mut self, conn: u64, ev: EventOut) -> Result<(), StoreError> {
        if let Some(id) = ev.id {
            self.store.delivered(id)?;
        }
        self.send_durable(conn, ev);
        Ok(())
    }

    /// Sends a stored event whose delivery is already counted, and tracks it until its ack.
    fn send_durable(&mut self, conn: u64, ev: EventOut) {
        let Some(id) = ev.id else { return };
        let msg = ServerMsg::Event(ev);
        self.push(conn, &msg);
        let ServerMsg::Event(ev) = msg else { return };
        if !self.opts.quiet {
            if let Some(s) = self.sessions.get(&conn) {
                self.emit_log(HubEvent::Delivered {
                    conn,
                    to: s.name(conn),
                    id,
                    name: ev.event.clone(),
                    redelivery: ev.redelivery,
                });
            }
        }
        if let Some(s) = self.sessions.get_mut(&conn) {
            s.inflight.insert(id, Instant::now());
        }
    }

    fn join(&mut self, conn: u64, room: String, join: bool) -> Result<(), StoreError> {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return Ok(());
        };
        let ns = s.addr.namespace.clone();
        let member = match &s.addr.client {
            Some(c) => {
                if join {
                    self.store.join(&ns, c, &room)?;
                } else {
                    self.store.leave(&ns, c, &room)?;
                }
                Member::Client(c.clone())
            }
            None => {
                if join {
                    s.rooms.insert(room.clone());
                } else {
                    s.rooms.remove(&room);
                }
                Member::Conn(conn)
            }
        };
        let key = (ns, room.clone());
        if join {
            self.rooms.entry(key).or_default().insert(member);
            self.push(conn, &ServerMsg::Joined { room: room.clone() });
            self.emit_log(HubEvent::Joined { conn, room });
        } else {
            if let Some(set) = self.rooms.get_mut(&key) {
                set.remove(&member);
                if set.is_empty() {
                    self.rooms.remove(&key);
                }
            }
            self.push(conn, &ServerMsg::Left { room: room.clone() });
            self.emit_log(HubEvent::Left { conn, room });
        }
        Ok(())
    }

    fn ack(
        &mut self,
        conn: u64,
        id: u64,
        data: Option<serde_json::Value>,
    ) -> Result<(), StoreError> {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return Ok(());
        };
        let by = s.name(conn);
        s.inflight.remove(&id);
        let key = match s.addr.client.clone() {
            Some(c) => {
                let ns = s.addr.namespace.clone();
                // Only the receiver's own queue: an id of someone else's event is ignored.
                let mine = self
                    .queued
                    .get_mut(&(ns, c))
                    .map(|q| (q.remove(&id), q.len() as u64));
                if let Some((true, depth)) = mine {
                    self.store.ack(id)?;
                    if !self.opts.quiet {
                        self.emit_log(HubEvent::Acked {
                            conn,
                            by: by.clone(),
                            id,
                            depth,
                        });
                    }
                }
                ReplyKey::Durable(id)
            }
            None => ReplyKey::Live(conn, id),
        };
        if let Some((emitter, ack)) = self.replies.remove(&key) {
            self.push(
                emitter,
                &ServerMsg::AckReply {
                    ack,
                    from: by,
                    id,
                    data: data.unwrap_or(serde_json::Value::Null),
                },
            );
        }
        Ok(())
    }

    fn emit(&mut self, conn: u64, mut e: Emit) -> Result<(), StoreError> {
        let Some(sender) = self.sessions.get(&conn) else {
            return Ok(());
        };
        let ns = sender.addr.namespace.clone();
        let from = sender.name(conn);
        let me = match &sender.addr.client {
            Some(c) => Member::Client(c.clone()),
            None => Member::Conn(conn),
        };
        // Receivers in a stable order, each once, with the room it came through.
        let mut targets: Vec<(Member, Option<String>)> = Vec::new();
        let mut seen: BTreeSet<Member> = BTreeSet::new();
        let mut add = |m: Member, room: Option<String>, targets: &mut Vec<_>| {
            if seen.insert(m.clone()) {
                targets.push((m, room));
            }
        };
        match &e.to {
            Target::Sender => add(me.clone(), None, &mut targets),
            Target::Namespace | Target::Broadcast => {
                let mut conns: Vec<u64> = self
                    .sessions
                    .iter()
                    .filter(|(_, s)| s.addr.namespace == ns && s.addr.client.is_none())
                    .map(|(c, _)| *c)
                    .collect();
                conns.sort_unstable();
                for c in conns {
                    add(Member::Conn(c), None, &mut targets);
                }
                for c in self.known.get(&ns).into_iter().flatten() {
                    add(Member::Client(c.clone()), None, &mut targets);
                }
                if e.to == Target::Broadcast {
                    targets.retain(|(m, _)| *m != me);
                }
            }
            Target::Rooms {
                rooms,
                include_self,
            } => {
                for r in rooms {
                    if let Some(set) = self.rooms.get(&(ns.clone(), r.clone())) {
                        for m in set {
                            if *include_self || *m != me {
                                add(m.clone(), Some(r.clone()), &mut targets);
                            }
                        }
                    }
                }
            }
            Target::Client(c) => {
                if self.known.entry(ns.clone()).or_default().insert(c.clone()) {
                    self.store.touch_client(&ns, c, now_ms())?;
                }
                add(Member::Client(c.clone()), None, &mut targets);
            }
        }
        let sent_ms = now_ms();
        let data_text = e.data.to_string();
        let (mut online, mut queued, mut dropped) = (0u64, 0u64, 0u64);
        let recipients = targets.len() as u64;
        let n = targets.len();
        for (i, (m, room)) in targets.into_iter().enumerate() {
            let data = if i + 1 == n {
                std::mem::take(&mut e.data)
            } else {
                e.data.clone()
            };
            let mut ev = EventOut {
                id: None,
                event: e.event.clone(),
                data,
                from: from.clone(),
                namespace: ns.clone(),
                room: room.clone(),
                ack: e.ack.is_some() && !e.volatile,
                redelivery: false,
                sent_ms,
            };
            match m {
                Member::Conn(c) => {
                    let Some(s) = self.sessions.get_mut(&c) else {
                        dropped += 1;
                        continue;
                    };
                    if e.volatile {
                        if s.handle.backlog.load(Ordering::Relaxed) > self.opts.volatile_backlog {
                            dropped += 1;
                            continue;
                        }
                    } else {
                        s.seq += 1;
                        ev.id = Some(s.seq);
                        if let Some(a) = e.ack {
                            self.replies.insert(ReplyKey::Live(c, s.seq), (conn, a));
                        }
                    }
                    online += 1;
                    self.push(c, &ServerMsg::Event(ev));
                }
                Member::Client(client) => {
                    let key = (ns.clone(), client.clone());
                    let live = self.online.get(&key).copied();
                    if e.volatile {
                        match live {
                            Some(c)
                                if self.sessions.get(&c).is_some_and(|s| {
                                    s.handle.backlog.load(Ordering::Relaxed)
                                        <= self.opts.volatile_backlog
                                }) =>
                            {
                                online += 1;
                                self.push(c, &ServerMsg::Event(ev));
                            }
                            _ => dropped += 1,
                        }
                        continue;
                    }
                    let id = self.store.enqueue(
                        &ns,
                        &client,
                        &e.event,
                        &data_text,
                        &from,
                        room.as_deref(),
                        e.ack.is_some(),
                        sent_ms,
                        live.is_some(),
                    )?;
                    queued += 1;
                    ev.id = Some(id);
                    if let Some(a) = e.ack {
                        self.replies.insert(ReplyKey::Durable(id), (conn, a));
                    }
                    let queue = self.queued.entry(key.clone()).or_default();
                    queue.insert(id);
                    let oldest = if queue.len() as u64 > self.opts.queue_cap {
                        queue.pop_first()
                    } else {
                        None
                    };
                    if let Some(old) = oldest {
                        // Queue full: the oldest event goes (docs/hub-protocol.md, queue cap).
                        self.store.drop_message(&ns, &client, old)?;
                        dropped += 1;
                        *self.dropped.entry(key.clone()).or_default() += 1;
                        self.replies.remove(&ReplyKey::Durable(old));
                        if let Some(s) = live.and_then(|c| self.sessions.get_mut(&c)) {
                            s.inflight.remove(&old);
                        }
                        self.emit_log(HubEvent::Dropped {
                            namespace: ns.clone(),
                            client: client.clone(),
                            id: old,
                            cap: self.opts.queue_cap,
                        });
                    }
                    if let Some(c) = live {
                        online += 1;
                        self.send_durable(c, ev);
                    }
                }
            }
        }
        self.publish_remote(&ns, &e, &data_text, &from, sent_ms)?;
        if !self.opts.quiet {
            self.emit_log(HubEvent::Emitted {
                conn,
                name: e.event.clone(),
                to: match &e.to {
                    Target::Rooms { rooms, .. } => format!("rooms {}", rooms.join(",")),
                    Target::Client(c) => format!("client {c}"),
                    t => t.word().to_string(),
                },
                recipients,
                online,
                queued,
                dropped,
            });
        }
        self.push(
            conn,
            &ServerMsg::Emitted {
                event: e.event,
                ack: e.ack,
                recipients,
                online,
                queued,
                dropped,
            },
        );
        Ok(())
    }

    fn closed(&mut self, conn: u64, error: Option<String>) {
        let Some(s) = self.sessions.remove(&conn) else {
            return;
        };
        self.work.disconnected(conn);
        if let Some(c) = &s.addr.client {
            let key = (s.addr.namespace.clone(), c.clone());
            if self.online.get(&key) == Some(&conn) {
                self.online.remove(&key);
            }
        }
        for r in &s.rooms {
            let key = (s.addr.namespace.clone(), r.clone());
            if let Some(set) = self.rooms.get_mut(&key) {
                set.remove(&Member::Conn(conn));
                if set.is_empty() {
                    self.rooms.remove(&key);
                }
            }
        }
        self.replies.retain(|k, (emitter, _)| {
            *emitter != conn && !matches!(k, ReplyKey::Live(c, _) if *c == conn)
        });
        self.emit_log(HubEvent::Disconnected {
            conn,
            client: s.addr.client.clone(),
            unacked: s.inflight.len() as u64,
            error,
        });
    }

    /// Sends again what was delivered and not acknowledged within the ack timeout.
    fn redeliver(&mut self) -> Result<(), StoreError> {
        let now = Instant::now();
        let timeout = self.opts.ack_timeout;
        let mut due: Vec<(u64, u64)> = Vec::new();
        for (conn, s) in &self.sessions {
            for (id, sent) in &s.inflight {
                if now.duration_since(*sent) >= timeout {
                    due.push((*conn, *id));
                }
            }
        }
        for (conn, id) in due {
            match self.store.get(id)? {
                Some(m) => {
                    let mut ev = event_from(m);
                    ev.redelivery = true;
                    self.deliver_durable(conn, ev)?;
                }
                None => {
                    // Dropped meanwhile (queue full): nothing to send again.
                    if let Some(s) = self.sessions.get_mut(&conn) {
                        s.inflight.remove(&id);
                    }
                }
            }
        }
        Ok(())
    }

    /// Handles a batch of commands in one transaction, then sends what they produced. If the
    /// transaction fails, nothing it produced is sent and the error is returned: the hub then
    /// stops (fail-stop), since its memory may no longer match the database; a restart on the
    /// same data reloads the committed state.
    fn batch(&mut self, cmds: Vec<Cmd>, tick: bool) -> Result<(), StoreError> {
        let result = (|| -> Result<(), StoreError> {
            self.store.begin()?;
            for c in cmds {
                self.handle(c)?;
            }
            if tick {
                self.redeliver()?;
            }
            self.work.pump(&self.store)?;
            self.store.commit()
        })();
        for (conn, text) in std::mem::take(&mut self.work.out) {
            self.push_text(conn, text);
        }
        for l in std::mem::take(&mut self.work.log) {
            if !self.opts.quiet || !matches!(l.what, "delivered" | "acked" | "enqueued") {
                self.emit_log(HubEvent::Work(l));
            }
        }
        if let Err(e) = result {
            self.store.rollback();
            self.emit_log(HubEvent::StoreError {
                error: e.to_string(),
            });
            // Nothing uncommitted may leave: an event not on disk is not sent.
            self.outbox.clear();
            self.after_commit.clear();
            return Err(e);
        }
        for (h, out) in self.outbox.drain(..) {
            h.send(out);
        }
        for d in self.after_commit.drain(..) {
            let _ = d.send(());
        }
        Ok(())
    }
}

impl Hub {
    /// With Redis: reads a client's queue and rooms back from Redis (another hub may have
    /// queued or acknowledged events for it); returns the events new to this hub.
    fn sync_client(&mut self, ns: &str, c: &str) -> Result<Vec<Stored>, StoreError> {
        let Some(r) = self.store.redis_mirror() else {
            return Ok(Vec::new());
        };
        let remote = r.queue(ns, c)?;
        let rooms = r.rooms(ns, c)?;
        let key = (ns.to_string(), c.to_string());
        let ids: BTreeSet<u64> = remote.iter().map(|m| m.id).collect();
        let q = self.queued.entry(key).or_default();
        let gone: Vec<u64> = q.difference(&ids).copied().collect();
        for id in gone {
            q.remove(&id);
            self.store.delete_local(id)?;
        }
        let mut new = Vec::new();
        for m in remote {
            if q.insert(m.id) {
                self.store.insert_local(&m)?;
                new.push(m);
            }
        }
        for room in rooms {
            self.rooms
                .entry((ns.to_string(), room))
                .or_default()
                .insert(Member::Client(c.to_string()));
        }
        Ok(new)
    }

    /// With Redis: a room or namespace emit also goes to the other hub processes.
    fn publish_remote(
        &mut self,
        ns: &str,
        e: &Emit,
        data_text: &str,
        from: &str,
        sent_ms: u64,
    ) -> Result<(), StoreError> {
        let Some(node) = self.work.node() else {
            return Ok(());
        };
        let rooms = match &e.to {
            Target::Rooms { rooms, .. } => rooms.clone(),
            Target::Namespace | Target::Broadcast => Vec::new(),
            _ => return Ok(()),
        };
        // Identified clients this hub has just queued the event for (in Redis): the other
        // hubs must not queue it a second time.
        let mut queued_for: Vec<String> = if rooms.is_empty() {
            self.known.get(ns).into_iter().flatten().cloned().collect()
        } else {
            rooms
                .iter()
                .filter_map(|r| self.rooms.get(&(ns.to_string(), r.clone())))
                .flatten()
                .filter_map(|m| match m {
                    Member::Client(c) => Some(c.clone()),
                    Member::Conn(_) => None,
                })
                .collect()
        };
        if e.volatile {
            queued_for.clear();
        }
        let r = super::cluster::Remote {
            node: node.to_string(),
            namespace: ns.to_string(),
            event: e.event.clone(),
            data: serde_json::from_str(data_text).unwrap_or(serde_json::Value::Null),
            from: from.to_string(),
            rooms,
            sent_ms,
            queued_for,
        };
        Ok(self.work.publish(&r)?)
    }

    /// Delivers another hub's broadcast to this hub's members (each once).
    fn remote(&mut self, r: super::cluster::Remote) -> Result<(), StoreError> {
        let ns = r.namespace.clone();
        let mut targets: Vec<(Member, Option<String>)> = Vec::new();
        let mut seen: BTreeSet<Member> = BTreeSet::new();
        if r.rooms.is_empty() {
            let mut conns: Vec<u64> = self
                .sessions
                .iter()
                .filter(|(_, s)| s.addr.namespace == ns && s.addr.client.is_none())
                .map(|(c, _)| *c)
                .collect();
            conns.sort_unstable();
            for c in conns {
                targets.push((Member::Conn(c), None));
            }
            for c in self.known.get(&ns).into_iter().flatten() {
                targets.push((Member::Client(c.clone()), None));
            }
        } else {
            for room in &r.rooms {
                for m in self
                    .rooms
                    .get(&(ns.clone(), room.clone()))
                    .into_iter()
                    .flatten()
                {
                    if seen.insert(m.clone()) {
                        targets.push((m.clone(), Some(room.clone())));
                    }
                }
            }
        }
        // The sender is on another hub: an identified sender known here too is skipped.
        targets.retain(|(m, _)| *m != Member::Client(r.from.clone()));
        // Clients the sending hub queued it for (in Redis): read back, not queued again.
        let mut synced = Vec::new();
        targets.retain(|(m, _)| match m {
            Member::Client(c) if r.queued_for.contains(c) => {
                synced.push(c.clone());
                false
            }
            _ => true,
        });
        for c in synced {
            let live = self.online.get(&(ns.clone(), c.clone())).copied();
            if let Some(conn) = live {
                for m in self.sync_client(&ns, &c)? {
                    self.deliver_durable(conn, event_from(m))?;
                }
            }
        }
        let data_text = r.data.to_string();
        for (m, room) in targets {
            let mut ev = EventOut {
                id: None,
                event: r.event.clone(),
                data: r.data.clone(),
                from: r.from.clone(),
                namespace: ns.clone(),
                room: room.clone(),
                ack: false,
                redelivery: false,
                sent_ms: r.sent_ms,
            };
            match m {
                Member::Conn(c) => {
                    let Some(s) = self.sessions.get_mut(&c) else {
                        continue;
                    };
                    s.seq += 1;
                    ev.id = Some(s.seq);
                    self.push(c, &ServerMsg::Event(ev));
                }
                Member::Client(client) => {
                    let key = (ns.clone(), client.clone());
                    let live = self.online.get(&key).copied();
                    let id = self.store.enqueue(
                        &ns,
                        &client,
                        &r.event,
                        &data_text,
                        &r.from,
                        room.as_deref(),
                        false,
                        r.sent_ms,
                        live.is_some(),
                    )?;
                    ev.id = Some(id);
                    self.queued.entry(key).or_default().insert(id);
                    if let Some(c) = live {
                        self.send_durable(c, ev);
                    }
                }
            }
        }
        Ok(())
    }

    fn push_text(&mut self, conn: u64, text: String) {
        if let Some(s) = self.sessions.get(&conn) {
            self.outbox.push((s.handle.clone(), Out::Text(text)));
        }
    }
}

/// A stored event as sent to its client.
fn event_from(m: Stored) -> EventOut {
    EventOut {
        id: Some(m.id),
        event: m.event,
        data: serde_json::from_str(&m.data).unwrap_or(serde_json::Value::Null),
        from: m.sender,
        namespace: m.namespace,
        room: m.room,
        ack: m.ack_wanted,
        redelivery: m.deliveries > 0,
        sent_ms: m.created_ms,
    }
}

async fn hub_task(
    mut hub: Hub,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    failed: oneshot::Sender<StoreError>,
) {
    let period = (hub.opts.ack_timeout / 4).max(Duration::from_millis(20));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Work queues: timeouts, stale jobs and (on Redis) jobs added by other hub processes.
    let mut work_tick = tokio::time::interval(period.min(Duration::from_millis(50)));
    work_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            c = rx.recv() => {
                let Some(c) = c else { break };
                let mut cmds = vec![c];
                while cmds.len() < 512 {
                    match rx.try_recv() {
                        Ok(c) => cmds.push(c),
                        Err(_) => break,
                    }
                }
                if let Err(e) = hub.batch(cmds, false) {
                    let _ = failed.send(e);
                    return;
                }
            }
            _ = tick.tick() => {
                if hub.sessions.values().any(|s| !s.inflight.is_empty()) {
                    if let Err(e) = hub.batch(Vec::new(), true) {
                        let _ = failed.send(e);
                        return;
                    }
                }
            }
            _ = work_tick.tick() => {
                if hub.work.active() {
                    if let Err(e) = hub.batch(Vec::new(), false) {
                        let _ = failed.send(e);
                        return;
                    }
                }
            }
        }
    }
}

/// Serves the hub on `listener` until `shutdown` completes (or `max_conns` / idle).
/// Returns how many connections were accepted.
pub async fn serve(
    listener: TcpListener,
    store: Store,
    opts: HubOptions,
    sink: HubSink,
    shutdown: impl Future<Output = ()>,
) -> Result<u64, StoreError> {
    let opts = Arc::new(opts);
    let hub = Hub::new(store, opts.clone(), sink.clone())?;
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    if let (Some(url), Some(node)) = (&opts.redis, hub.work.node()) {
        let weak = cmd_tx.downgrade();
        super::cluster::subscribe(url, node.to_string(), move |r| match weak.upgrade() {
            Some(tx) => {
                if !r.node.is_empty() {
                    let _ = tx.send(Cmd::Remote(r));
                }
                true
            }
            None => false,
        })
        .map_err(StoreError::Jobs)?;
    }
    let (failed_tx, mut failed_rx) = oneshot::channel();
    let hub_join = tokio::spawn(hub_task(hub, cmd_rx, failed_tx));
    let mut failure: Option<StoreError> = None;
    let (stop_tx, stop_rx) = watch::channel(false);
    let accept_opts = Arc::new(AcceptOptions {
        config: Config {
            limits: crate::wire::websocket::Limits {
                max_frame: opts.max_message,
                max_message: opts.max_message,
            },
        },
        timeout: Duration::from_secs(10),
        page: Some(PAGE),
    });
    let mut tasks = JoinSet::new();
    let mut accepted = 0u64;
    let mut idle_since = Instant::now();
    tokio::pin!(shutdown);
    let mut reason = "interrupted";
    loop {
        if opts.max_conns.is_some_and(|m| accepted >= m) {
            reason = "served --max-conns connections";
            break;
        }
        let idle_limit = if tasks.is_empty() {
            opts.exit_after_idle
        } else {
            None
        };
        let idle = async {
            match idle_limit {
                Some(d) => tokio::time::sleep_until((idle_since + d).into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut shutdown => break,
            _ = idle => { reason = "idle (--exit-after-idle)"; break; }
            // Polled at most once: the loop ends when it completes.
            r = &mut failed_rx => {
                failure = Some(r.unwrap_or(StoreError::HubEnded));
                reason = "queue error";
                break;
            }
            r = listener.accept() => {
                let (stream, peer) = match r {
                    Ok(x) => x,
                    Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue; }
                };
                accepted += 1;
                let sio = opts.sio.clone();
                let (opts, hub, sink, stop) = (accept_opts.clone(), cmd_tx.clone(), sink.clone(), stop_rx.clone());
                tasks.spawn(async move {
                    // /socket.io/ goes to the Socket.IO server (src/sio/), the rest to the hub.
                    if let Some(sio) = sio {
                        if crate::sio::engine::is_for_sio(&stream).await {
                            return crate::sio::serve_connection(stream, peer.to_string(), sio).await;
                        }
                    }
                    connection(accepted, stream, peer.to_string(), opts, hub, sink, stop).await
                });
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {
                if tasks.is_empty() { idle_since = Instant::now(); }
            }
        }
    }
    drop(listener);
    let interrupted = reason == "interrupted";
    if !interrupted && failure.is_none() {
        tokio::select! {
            _ = async { while tasks.join_next().await.is_some() {} } => {}
            _ = &mut shutdown => { reason = "interrupted"; }
        }
    }
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    drop(cmd_tx);
    let _ = hub_join.await;
    sink(HubEvent::Stopped {
        reason,
        connections: accepted,
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(accepted),
    }
}

async fn connection(
    conn: u64,
    stream: TcpStream,
    peer: String,
    opts: Arc<AcceptOptions>,
    hub: mpsc::UnboundedSender<Cmd>,
    sink: HubSink,
    mut stop: watch::Receiver<bool>,
) {
    let (ws, request) = match accept(stream, &opts).await {
        Ok(Accepted::WebSocket { ws, request, .. }) => (ws, request),
        Ok(Accepted::Http { request, status }) => {
            sink(HubEvent::Http {
                conn,
                path: request.target.clone(),
                status,
            });
            return;
        }
        Ok(Accepted::Rejected { error, .. }) => {
            sink(HubEvent::Rejected {
                conn,
                reason: error.to_string(),
            });
            return;
        }
        Err(e) => {
            sink(HubEvent::Rejected {
                conn,
                reason: e.to_string(),
            });
            return;
        }
    };
    let (mut reader, mut writer) = ws.into_split();
    let refuse = |code: u16, why: String| ClosePayload {
        code,
        reason: why.chars().take(120).collect(),
    };
    let addr = match parse_target(&request.target) {
        Ok(a) => a,
        Err(e) => {
            let why = e.to_string();
            let _ = writer
                .send(&Message::Text(
                    ServerMsg::error(&e, &request.target).to_text(),
                ))
                .await;
            let _ = writer.close(Some(&refuse(1008, why.clone()))).await;
            sink(HubEvent::Rejected { conn, reason: why });
            return;
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let backlog = Arc::new(AtomicUsize::new(0));
    let (reply_tx, reply_rx) = oneshot::channel();
    let _ = hub.send(Cmd::Open {
        conn,
        addr,
        peer,
        handle: ConnHandle {
            tx,
            backlog: backlog.clone(),
        },
        reply: reply_tx,
    });
    match reply_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(why)) => {
            let _ = writer
                .send(&Message::Text(
                    ServerMsg::Error {
                        error: why.clone(),
                        input: None,
                    }
                    .to_text(),
                ))
                .await;
            let _ = writer.close(Some(&refuse(1013, why.clone()))).await;
            sink(HubEvent::Rejected { conn, reason: why });
            return;
        }
        Err(_) => return,
    }
    let mut error: Option<String> = None;
    let mut closed_sent = false;
    loop {
        let incoming = tokio::select! {
            biased;
            _ = stop.changed() => {
                let _ = writer.close(Some(&refuse(1001, "hub shutting down".into()))).await;
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    loop {
                        match reader.read_event().await {
                            Ok(Incoming::Close(_)) | Err(_) => return,
                            Ok(_) => continue,
                        }
                    }
                }).await;
                break;
            }
            out = rx.recv() => {
                let Some(first) = out else { break };
                let mut batch = vec![first];
                while batch.len() < 256 {
                    match rx.try_recv() { Ok(o) => batch.push(o), Err(_) => break }
                }
                backlog.fetch_sub(batch.len(), Ordering::Relaxed);
                let mut close = None;
                for o in batch {
                    match o {
                        Out::Text(t) => {
                            if let Err(e) = writer.queue_frame(true, OpCode::Text, t.as_bytes()) { error = Some(e.to_string()); }
                        }
                        Out::Close(code, why) => { close = Some(refuse(code, why)); break; }
                    }
                }
                if let Err(e) = writer.flush().await { error = Some(e.to_string()); break; }
                if let Some(c) = close {
                    let _ = writer.close(Some(&c)).await;
                    break;
                }
                continue;
            }
            ev = reader.read_event() => ev,
        };
        match incoming {
            Ok(Incoming::Message(Message::Text(t))) if super::workqueue::parse(&t).is_some() => {
                match super::workqueue::parse(&t) {
                    Some(Ok(msg)) => {
                        let _ = hub.send(Cmd::Work { conn, msg });
                    }
                    Some(Err(e)) => {
                        sink(HubEvent::ProtocolError {
                            conn,
                            error: e.clone(),
                        });
                        let m = ServerMsg::Error {
                            error: e,
                            input: Some(t.chars().take(80).collect()),
                        }
                        .to_text();
                        if let Err(e) = writer.send(&Message::Text(m)).await {
                            error = Some(e.to_string());
                            break;
                        }
                    }
                    None => {}
                }
            }
            Ok(Incoming::Message(Message::Text(t))) => match ClientMsg::parse(&t) {
                Ok(msg) => {
                    let _ = hub.send(Cmd::Msg { conn, msg });
                }
                Err(e) => {
                    sink(HubEvent::ProtocolError {
                        conn,
                        error: e.to_string(),
                    });
                    let m = ServerMsg::error(&e, &t).to_text();
                    if let Err(e) = writer.send(&Message::Text(m)).await {
                        error = Some(e.to_string());
                        break;
                    }
                }
            },
            Ok(Incoming::Message(Message::Binary(_))) => {
                let e = super::protocol::ProtocolError::Binary;
                sink(HubEvent::ProtocolError {
                    conn,
                    error: e.to_string(),
                });
                if let Err(e) = writer
                    .send(&Message::Text(ServerMsg::error(&e, "").to_text()))
                    .await
                {
                    error = Some(e.to_string());
                    break;
                }
            }
            Ok(Incoming::Ping(p)) => {
                if let Err(e) = writer.pong(&p).await {
                    error = Some(e.to_string());
                    break;
                }
            }
            Ok(Incoming::Pong(_)) => {}
            Ok(Incoming::Close(c)) => {
                // Answer the close only once the acks sent before it are on disk: a client
                // that saw the close handshake complete knows its acks count.
                let (done_tx, done_rx) = oneshot::channel();
                let _ = hub.send(Cmd::Closed {
                    conn,
                    error: None,
                    done: Some(done_tx),
                });
                closed_sent = true;
                let _ = tokio::time::timeout(Duration::from_secs(2), done_rx).await;
                let reply = c.as_ref().map(|p| ClosePayload {
                    code: p.code,
                    reason: String::new(),
                });
                let _ = writer.close(reply.as_ref()).await;
                break;
            }
            Err(WsError::Protocol(e)) => {
                let bye = ClosePayload {
                    code: e.close_code(),
                    reason: e.to_string(),
                };
                let _ = writer.close(Some(&bye)).await;
                error = Some(e.to_string());
                break;
            }
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    if !closed_sent {
        let _ = hub.send(Cmd::Closed {
            conn,
            error,
            done: None,
        });
    }
    let _ = writer.shutdown().await;
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(n) = reader.io_mut().read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

//! The hub's state and its one routing path.
//!
//! [`Hub`] owns everything: sessions, rooms, the identified clients' queues (ids in memory,
//! events in the [`Inbox`]), the work queues. It handles the connections' commands in batches
//! (`batch`): one store transaction, commit, and only then are the frames it produced handed
//! to the connections, so an event for an identified client is stored before any byte of it
//! is sent (write-ahead), and deleted only when the client acks it.
//!
//! Routing has two steps, the same for a local emit and for a broadcast from another hub:
//! [`Hub::recipients`] resolves a target to members (each once, with the room it came
//! through), and [`Hub::deliver`] sends to each one: volatile events only to connected readers
//! that keep up; anonymous connections straight away unless they are far behind (dropped and
//! counted); identified clients through their durable queue (cap: the oldest goes).
//!
//! Flow control (docs/hub-protocol.md, "A slow reader"): at most `window` durable events are
//! in flight (sent, not acknowledged) to a connection. The rest wait in the store and go out,
//! in id order, as acks free the window, like AMQP's prefetch or Redis Streams' `COUNT`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::oneshot;

use super::cluster::{Cluster, Remote};
use super::connection::{Cmd, Out, Recipient};
use super::events::{HubEvent, HubSink};
use super::inbox::{Inbox, NewEvent, StoreError, Stored};
use super::protocol::{Address, ClientMsg, Emit, EventOut, ServerMsg, Target};
use super::work::dispatch::Work;
use super::work::redis::RedisJobs;

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
    /// Durable events in flight (sent, not acknowledged) to one connection at most.
    pub window: usize,
    /// Stop after this many connections have been served.
    pub max_conns: Option<u64>,
    /// Stop when no client has been connected for this long.
    pub exit_after_idle: Option<Duration>,
    /// Report connections, rooms and emits, but not every delivery and ack.
    pub quiet: bool,
    /// Volatile events are dropped for a connection with more than this many frames waiting.
    pub volatile_backlog: usize,
    /// Events for an anonymous connection are dropped when this many frames wait for it.
    pub max_backlog: usize,
    /// Work queues: a job delivered this many times without an ack is dead-lettered.
    pub max_attempts: u64,
    /// Work queues and broadcasts on Redis (redis://HOST:PORT) instead of the SQLite file.
    pub redis: Option<String>,
    /// The Socket.IO server that answers `/socket.io/` on the same port (src/sio/).
    pub sio: Option<Arc<crate::sio::Server>>,
}

/// The default credit window: deep enough that acks coming back never stall a fast reader
/// on loopback, small enough that a stalled one holds little.
pub const DEFAULT_WINDOW: usize = 1024;

impl Default for HubOptions {
    fn default() -> Self {
        HubOptions {
            max_clients: 1000,
            max_message: 64 * 1024,
            queue_cap: 1000,
            ack_timeout: Duration::from_secs(10),
            window: DEFAULT_WINDOW,
            max_conns: None,
            exit_after_idle: None,
            quiet: false,
            volatile_backlog: 64,
            max_backlog: 16_384,
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

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Member {
    Conn(u64),
    Client(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ReplyKey {
    /// A queued event (ids are unique in the store).
    Durable(u64),
    /// An event for an anonymous connection: (connection, its sequence number).
    Live(u64, u64),
}

struct Session {
    addr: Address,
    to: Recipient,
    /// Rooms of an anonymous connection (identified clients' rooms live in the store).
    rooms: BTreeSet<String>,
    /// Durable events sent and not yet acknowledged, and when they were sent.
    inflight: BTreeMap<u64, Instant>,
    /// Queued for this client and not yet sent on this connection (the window was full).
    unsent: BTreeSet<u64>,
    /// The last ack (or the connection's start): a reader that acks is slow, not stuck.
    progress: Instant,
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

/// One event on its way to its recipients: from a local emit or from another hub.
struct Routed {
    ns: String,
    event: String,
    data: Value,
    data_text: String,
    from: String,
    sent_ms: u64,
    volatile: bool,
    /// The emitter's connection and ack number, when it asked for acks (local emits only).
    reply_to: Option<(u64, u64)>,
}

/// What a delivery did, as the emitter is told.
#[derive(Default)]
struct Counts {
    online: u64,
    queued: u64,
    dropped: u64,
}

pub struct Hub {
    store: Box<dyn Inbox>,
    opts: Arc<HubOptions>,
    sink: HubSink,
    sessions: HashMap<u64, Session>,
    /// (namespace, client id) -> its connection.
    online: HashMap<Key, u64>,
    /// (namespace, room) -> members.
    rooms: HashMap<Key, BTreeSet<Member>>,
    /// Identified clients per namespace (every one that ever connected or was addressed).
    known: HashMap<String, BTreeSet<String>>,
    /// Ids queued per identified client, oldest first (the store holds the events).
    queued: HashMap<Key, BTreeSet<u64>>,
    dropped: HashMap<Key, u64>,
    replies: HashMap<ReplyKey, (u64, u64)>,
    outbox: Vec<(Recipient, Out)>,
    after_commit: Vec<oneshot::Sender<()>>,
    work: Work,
    /// Several hubs on one Redis: publishes broadcasts to the others.
    cluster: Option<Cluster>,
    /// Broadcasts of this batch, published once it is committed (the other hubs then read
    /// back what this one queued).
    to_publish: Vec<Remote>,
}

impl Hub {
    pub fn new(
        store: Box<dyn Inbox>,
        opts: Arc<HubOptions>,
        sink: HubSink,
    ) -> Result<Hub, StoreError> {
        let (jobs, cluster) = match &opts.redis {
            Some(url) => (
                Some(RedisJobs::connect(url)?),
                Some(Cluster::connect(url).map_err(StoreError::Jobs)?),
            ),
            None => (None, None),
        };
        let work = Work::new(store.sqlite(), jobs, opts.max_attempts, opts.ack_timeout)?;
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
            cluster,
            to_publish: Vec::new(),
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

    pub fn opts(&self) -> &HubOptions {
        &self.opts
    }

    /// This process's node id when several hubs share Redis.
    pub fn node(&self) -> Option<&str> {
        self.cluster.as_ref().map(|c| c.node.as_str())
    }

    /// Some durable event waits for its ack (the hub then checks the ack timeout).
    pub fn has_inflight(&self) -> bool {
        self.sessions.values().any(|s| !s.inflight.is_empty())
    }

    /// Some work queue has members (the hub then polls for new, timed-out and stale jobs).
    pub fn work_active(&self) -> bool {
        self.work.active()
    }

    fn emit_log(&self, e: HubEvent) {
        (self.sink)(e)
    }

    fn push(&mut self, conn: u64, msg: ServerMsg) {
        if let Some(s) = self.sessions.get(&conn) {
            self.outbox.push((s.to.clone(), Out::Msg(msg)));
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
                to,
                reply,
            } => self.open(conn, addr, peer, to, reply),
            Cmd::Msg { conn, msg } => match msg {
                ClientMsg::Join { room } => self.join(conn, room, true),
                ClientMsg::Leave { room } => self.join(conn, room, false),
                ClientMsg::Ack { id, data } => self.ack(conn, id, data),
                ClientMsg::Emit(e) => self.emit(conn, e),
                work @ (ClientMsg::Enqueue { .. }
                | ClientMsg::Consume { .. }
                | ClientMsg::JobAck { .. }) => {
                    let Some(s) = self.sessions.get(&conn) else {
                        return Ok(());
                    };
                    let (ns, name) = (s.addr.namespace.clone(), s.name(conn));
                    Ok(self
                        .work
                        .handle(self.store.sqlite(), conn, &ns, &name, work)?)
                }
            },
            Cmd::Closed { conn, error, done } => {
                self.closed(conn, error);
                if let Some(d) = done {
                    self.after_commit.push(d);
                }
                Ok(())
            }
            Cmd::Remote(r) => self.remote(r),
        }
    }

    fn open(
        &mut self,
        conn: u64,
        addr: Address,
        peer: String,
        to: Recipient,
        reply: oneshot::Sender<Result<(), String>>,
    ) -> Result<(), StoreError> {
        if self.sessions.len() >= self.opts.max_clients {
            let _ = reply.send(Err(format!(
                "the hub is full: {} clients connected (--max-clients)",
                self.opts.max_clients
            )));
            return Ok(());
        }
        let mut unsent = BTreeSet::new();
        let mut rooms = Vec::new();
        let mut dropped = 0;
        if let Some(c) = &addr.client {
            let key = (addr.namespace.clone(), c.clone());
            if let Some(old) = self.online.insert(key.clone(), conn) {
                if let Some(s) = self.sessions.remove(&old) {
                    self.outbox.push((
                        s.to.clone(),
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
            self.refresh(&addr.namespace, c)?;
            self.known
                .entry(addr.namespace.clone())
                .or_default()
                .insert(c.clone());
            if let Some(ids) = self.queued.get(&key) {
                unsent = ids.clone();
            }
            rooms = self.client_rooms(&addr.namespace, c);
            dropped = self.dropped.get(&key).copied().unwrap_or(0);
        }
        let queued = unsent.len() as u64;
        self.emit_log(HubEvent::Connected {
            conn,
            peer,
            namespace: addr.namespace.clone(),
            client: addr.client.clone(),
            queued,
        });
        let welcome = ServerMsg::Welcome {
            namespace: addr.namespace.clone(),
            client: addr.client.clone(),
            conn,
            rooms,
            queued,
            dropped,
        };
        self.sessions.insert(
            conn,
            Session {
                addr,
                to,
                rooms: BTreeSet::new(),
                inflight: BTreeMap::new(),
                unsent,
                progress: Instant::now(),
                seq: 0,
            },
        );
        self.push(conn, welcome);
        self.fill_window(conn)?;
        let _ = reply.send(Ok(()));
        Ok(())
    }

    /// Sends queued events to `conn`, oldest first, while its window has room.
    fn fill_window(&mut self, conn: u64) -> Result<(), StoreError> {
        loop {
            let Some(s) = self.sessions.get_mut(&conn) else {
                return Ok(());
            };
            if s.inflight.len() >= self.opts.window {
                return Ok(());
            }
            let Some(id) = s.unsent.pop_first() else {
                return Ok(());
            };
            if let Some(m) = self.store.get(id)? {
                self.store.delivered(id)?;
                self.send_durable(conn, event_from(m));
            }
        }
    }

    /// Sends a stored event whose delivery is already counted, and tracks it until its ack.
    fn send_durable(&mut self, conn: u64, ev: EventOut) {
        let Some(id) = ev.id else { return };
        let Some(s) = self.sessions.get_mut(&conn) else {
            return;
        };
        s.inflight.insert(id, Instant::now());
        if !self.opts.quiet {
            let to = s.name(conn);
            self.emit_log(HubEvent::Delivered {
                conn,
                to,
                id,
                name: ev.event.clone(),
                redelivery: ev.redelivery,
            });
        }
        self.push(conn, ServerMsg::Event(ev));
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
            self.push(conn, ServerMsg::Joined { room: room.clone() });
            self.emit_log(HubEvent::Joined { conn, room });
        } else {
            if let Some(set) = self.rooms.get_mut(&key) {
                set.remove(&member);
                if set.is_empty() {
                    self.rooms.remove(&key);
                }
            }
            self.push(conn, ServerMsg::Left { room: room.clone() });
            self.emit_log(HubEvent::Left { conn, room });
        }
        Ok(())
    }

    fn ack(&mut self, conn: u64, id: u64, data: Option<Value>) -> Result<(), StoreError> {
        let Some(s) = self.sessions.get_mut(&conn) else {
            return Ok(());
        };
        let by = s.name(conn);
        s.progress = Instant::now();
        s.inflight.remove(&id);
        s.unsent.remove(&id);
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
                self.fill_window(conn)?;
                ReplyKey::Durable(id)
            }
            None => ReplyKey::Live(conn, id),
        };
        if let Some((emitter, ack)) = self.replies.remove(&key) {
            self.push(
                emitter,
                ServerMsg::AckReply {
                    ack,
                    from: by,
                    id,
                    data: data.unwrap_or(Value::Null),
                },
            );
        }
        Ok(())
    }

    /// The members a target reaches in a namespace, each once, in a stable order, with the
    /// room it came through. `me` is the sender when it is a member here.
    fn recipients(
        &mut self,
        ns: &str,
        to: &Target,
        me: Option<&Member>,
    ) -> Result<Vec<(Member, Option<String>)>, StoreError> {
        let mut targets: Vec<(Member, Option<String>)> = Vec::new();
        let mut seen: BTreeSet<Member> = BTreeSet::new();
        let mut add = |m: Member, room: Option<String>, targets: &mut Vec<_>| {
            if seen.insert(m.clone()) {
                targets.push((m, room));
            }
        };
        match to {
            Target::Sender => {
                if let Some(me) = me {
                    add(me.clone(), None, &mut targets);
                }
            }
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
                for c in self.known.get(ns).into_iter().flatten() {
                    add(Member::Client(c.clone()), None, &mut targets);
                }
                if *to == Target::Broadcast {
                    targets.retain(|(m, _)| Some(m) != me);
                }
            }
            Target::Rooms {
                rooms,
                include_self,
            } => {
                for r in rooms {
                    if let Some(set) = self.rooms.get(&(ns.to_string(), r.clone())) {
                        for m in set {
                            if *include_self || Some(m) != me {
                                add(m.clone(), Some(r.clone()), &mut targets);
                            }
                        }
                    }
                }
            }
            Target::Client(c) => {
                if self
                    .known
                    .entry(ns.to_string())
                    .or_default()
                    .insert(c.clone())
                {
                    self.store.touch_client(ns, c, now_ms())?;
                }
                add(Member::Client(c.clone()), None, &mut targets);
            }
        }
        Ok(targets)
    }

    /// Delivers one event to its recipients (the one delivery path, local or remote).
    fn deliver(
        &mut self,
        r: &Routed,
        targets: Vec<(Member, Option<String>)>,
    ) -> Result<Counts, StoreError> {
        let mut n = Counts::default();
        for (m, room) in targets {
            let mut ev = EventOut {
                id: None,
                event: r.event.clone(),
                data: r.data.clone(),
                from: r.from.clone(),
                namespace: r.ns.clone(),
                room: room.clone(),
                ack: r.reply_to.is_some() && !r.volatile,
                redelivery: false,
                sent_ms: r.sent_ms,
            };
            match m {
                Member::Conn(c) => {
                    let Some(s) = self.sessions.get_mut(&c) else {
                        n.dropped += 1;
                        continue;
                    };
                    // A reader that is behind: volatile events go first, then (far behind)
                    // everything for an anonymous connection, which has no queue to wait in.
                    let limit = if r.volatile {
                        self.opts.volatile_backlog
                    } else {
                        self.opts.max_backlog
                    };
                    if s.to.backlog() >= limit {
                        n.dropped += 1;
                        continue;
                    }
                    if !r.volatile {
                        s.seq += 1;
                        ev.id = Some(s.seq);
                        if let Some((emitter, a)) = r.reply_to {
                            self.replies.insert(ReplyKey::Live(c, s.seq), (emitter, a));
                        }
                    }
                    n.online += 1;
                    self.push(c, ServerMsg::Event(ev));
                }
                Member::Client(client) => {
                    let key = (r.ns.clone(), client.clone());
                    let live = self.online.get(&key).copied();
                    if r.volatile {
                        match live.and_then(|c| self.sessions.get(&c).map(|s| (c, s))) {
                            Some((c, s)) if s.to.backlog() < self.opts.volatile_backlog => {
                                n.online += 1;
                                self.push(c, ServerMsg::Event(ev));
                            }
                            _ => n.dropped += 1,
                        }
                        continue;
                    }
                    // Sent now only if the window has room and nothing older waits.
                    let send_now = live.and_then(|c| self.sessions.get(&c)).is_some_and(|s| {
                        s.unsent.is_empty() && s.inflight.len() < self.opts.window
                    });
                    let id = self.store.enqueue(NewEvent {
                        namespace: &r.ns,
                        client: &client,
                        event: &r.event,
                        data: &r.data_text,
                        sender: &r.from,
                        room: room.as_deref(),
                        ack_wanted: r.reply_to.is_some(),
                        now_ms: r.sent_ms,
                        sending: send_now,
                    })?;
                    n.queued += 1;
                    ev.id = Some(id);
                    if let Some(reply) = r.reply_to {
                        self.replies.insert(ReplyKey::Durable(id), reply);
                    }
                    self.queued.entry(key.clone()).or_default().insert(id);
                    n.dropped += self.enforce_cap(&key)?;
                    if let Some(c) = live {
                        n.online += 1;
                        if send_now {
                            self.send_durable(c, ev);
                        } else if let Some(s) = self.sessions.get_mut(&c) {
                            s.unsent.insert(id);
                        }
                    }
                }
            }
        }
        Ok(n)
    }

    /// Queue full: the oldest events go (docs/hub-protocol.md, queue cap). Returns how many.
    fn enforce_cap(&mut self, key: &Key) -> Result<u64, StoreError> {
        let mut n = 0;
        loop {
            let Some(queue) = self.queued.get_mut(key) else {
                return Ok(n);
            };
            if queue.len() as u64 <= self.opts.queue_cap {
                return Ok(n);
            }
            let Some(old) = queue.pop_first() else {
                return Ok(n);
            };
            self.store.drop_message(&key.0, &key.1, old)?;
            n += 1;
            *self.dropped.entry(key.clone()).or_default() += 1;
            self.replies.remove(&ReplyKey::Durable(old));
            if let Some(s) = self.online.get(key).and_then(|c| self.sessions.get_mut(c)) {
                s.inflight.remove(&old);
                s.unsent.remove(&old);
            }
            self.emit_log(HubEvent::Dropped {
                namespace: key.0.clone(),
                client: key.1.clone(),
                id: old,
                cap: self.opts.queue_cap,
            });
        }
    }

    fn emit(&mut self, conn: u64, e: Emit) -> Result<(), StoreError> {
        let Some(sender) = self.sessions.get(&conn) else {
            return Ok(());
        };
        let ns = sender.addr.namespace.clone();
        let from = sender.name(conn);
        let me = match &sender.addr.client {
            Some(c) => Member::Client(c.clone()),
            None => Member::Conn(conn),
        };
        let targets = self.recipients(&ns, &e.to, Some(&me))?;
        let recipients = targets.len() as u64;
        // Identified members queued here: in a shared store, the other hubs read them back.
        let queued_for: Vec<String> = if e.volatile {
            Vec::new()
        } else {
            targets
                .iter()
                .filter_map(|(m, _)| match m {
                    Member::Client(c) => Some(c.clone()),
                    Member::Conn(_) => None,
                })
                .collect()
        };
        let routed = Routed {
            data_text: e.data.to_string(),
            ns,
            event: e.event,
            data: e.data,
            from,
            sent_ms: now_ms(),
            volatile: e.volatile,
            reply_to: e.ack.map(|a| (conn, a)),
        };
        let n = self.deliver(&routed, targets)?;
        let published = self.publish(&routed, &e.to, queued_for)?;
        if !self.opts.quiet {
            self.emit_log(HubEvent::Emitted {
                conn,
                name: routed.event.clone(),
                to: match &e.to {
                    Target::Rooms { rooms, .. } => format!("rooms {}", rooms.join(",")),
                    Target::Client(c) => format!("client {c}"),
                    t => t.word().to_string(),
                },
                recipients,
                online: n.online,
                queued: n.queued,
                dropped: n.dropped,
                published,
            });
        }
        self.push(
            conn,
            ServerMsg::Emitted {
                event: routed.event,
                ack: e.ack,
                recipients,
                online: n.online,
                queued: n.queued,
                dropped: n.dropped,
                published,
            },
        );
        Ok(())
    }

    /// With Redis: a room or namespace emit also goes to the other hub processes.
    fn publish(
        &mut self,
        r: &Routed,
        to: &Target,
        queued_for: Vec<String>,
    ) -> Result<bool, StoreError> {
        let Some(cluster) = &self.cluster else {
            return Ok(false);
        };
        let rooms = match to {
            Target::Rooms { rooms, .. } => rooms.clone(),
            Target::Namespace | Target::Broadcast => Vec::new(),
            _ => return Ok(false),
        };
        let remote = Remote {
            node: cluster.node.clone(),
            namespace: r.ns.clone(),
            event: r.event.clone(),
            data: r.data.clone(),
            from: r.from.clone(),
            rooms,
            sent_ms: r.sent_ms,
            queued_for,
            volatile: r.volatile,
        };
        self.to_publish.push(remote);
        Ok(true)
    }

    /// Delivers another hub's broadcast to this hub's members, through the same path.
    fn remote(&mut self, r: Remote) -> Result<(), StoreError> {
        let to = if r.rooms.is_empty() {
            Target::Namespace
        } else {
            Target::Rooms {
                rooms: r.rooms.clone(),
                include_self: false,
            }
        };
        // The sender is on another hub: an identified sender known here too is skipped.
        let sender = Member::Client(r.from.clone());
        let mut targets = self.recipients(&r.namespace, &to, Some(&sender))?;
        targets.retain(|(m, _)| *m != sender);
        // Members the sending hub queued it for (in Redis): read back, not queued again.
        let mut synced = Vec::new();
        targets.retain(|(m, _)| match m {
            Member::Client(c) if r.queued_for.contains(c) => {
                synced.push(c.clone());
                false
            }
            _ => true,
        });
        for c in synced {
            if self.online.contains_key(&(r.namespace.clone(), c.clone())) {
                self.refresh(&r.namespace, &c)?;
            }
        }
        let routed = Routed {
            data_text: r.data.to_string(),
            ns: r.namespace,
            event: r.event,
            data: r.data,
            from: r.from,
            sent_ms: r.sent_ms,
            volatile: r.volatile,
            reply_to: None,
        };
        self.deliver(&routed, targets)?;
        Ok(())
    }

    /// A shared store: brings a client's queue and rooms up to date with what other hubs did
    /// (queued for it, or saw acknowledged), then sends what is new if it is connected here.
    fn refresh(&mut self, ns: &str, c: &str) -> Result<(), StoreError> {
        let Some(fresh) = self.store.refresh(ns, c)? else {
            return Ok(());
        };
        let key = (ns.to_string(), c.to_string());
        let live = self.online.get(&key).copied();
        let q = self.queued.entry(key.clone()).or_default();
        for id in &fresh.gone {
            q.remove(id);
        }
        for m in &fresh.new {
            q.insert(m.id);
        }
        for room in fresh.rooms {
            self.rooms
                .entry((ns.to_string(), room))
                .or_default()
                .insert(Member::Client(c.to_string()));
        }
        if let Some(s) = live.and_then(|conn| self.sessions.get_mut(&conn)) {
            for id in &fresh.gone {
                s.inflight.remove(id);
                s.unsent.remove(id);
            }
            s.unsent.extend(fresh.new.iter().map(|m| m.id));
        }
        self.enforce_cap(&key)?;
        if let Some(conn) = live {
            self.fill_window(conn)?;
        }
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

    /// Sends again what was delivered and not acknowledged within the ack timeout, on a
    /// connection that acknowledged nothing for that long (one that acks is only slow: what
    /// it has in flight is on its way, TCP does not lose it).
    fn redeliver(&mut self) -> Result<(), StoreError> {
        let now = Instant::now();
        let timeout = self.opts.ack_timeout;
        let mut due: Vec<(u64, u64)> = Vec::new();
        for (conn, s) in &self.sessions {
            if now.duration_since(s.progress) < timeout {
                continue;
            }
            for (id, sent) in &s.inflight {
                if now.duration_since(*sent) >= timeout {
                    due.push((*conn, *id));
                }
            }
        }
        for (conn, id) in due {
            match self.store.get(id)? {
                Some(m) => {
                    self.store.delivered(id)?;
                    let mut ev = event_from(m);
                    ev.redelivery = true;
                    self.send_durable(conn, ev);
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
    /// stops (fail-stop), since its memory may no longer match the store; a restart on the
    /// same data reloads the committed state.
    pub fn batch(&mut self, cmds: Vec<Cmd>, tick: bool) -> Result<(), StoreError> {
        let result = (|| -> Result<(), StoreError> {
            self.store.begin()?;
            for c in cmds {
                self.handle(c)?;
            }
            if tick {
                self.redeliver()?;
            }
            self.work.pump(self.store.sqlite())?;
            self.store.commit()
        })();
        for (conn, msg) in std::mem::take(&mut self.work.out) {
            self.push(conn, msg);
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
            // Nothing uncommitted may leave: an event not stored is not sent.
            self.outbox.clear();
            self.after_commit.clear();
            self.to_publish.clear();
            return Err(e);
        }
        let published = match &mut self.cluster {
            Some(cluster) => std::mem::take(&mut self.to_publish)
                .iter()
                .try_for_each(|r| cluster.publish(r)),
            None => Ok(()),
        };
        if let Err(e) = published {
            let e = StoreError::Jobs(e);
            self.emit_log(HubEvent::StoreError {
                error: e.to_string(),
            });
            return Err(e);
        }
        for (to, out) in self.outbox.drain(..) {
            to.send(out);
        }
        for d in self.after_commit.drain(..) {
            let _ = d.send(());
        }
        Ok(())
    }
}

/// A stored event as sent to its client.
fn event_from(m: Stored) -> EventOut {
    EventOut {
        id: Some(m.id),
        event: m.event,
        data: serde_json::from_str(&m.data).unwrap_or(Value::Null),
        from: m.sender,
        namespace: m.namespace,
        room: m.room,
        ack: m.ack_wanted,
        redelivery: m.deliveries > 0,
        sent_ms: m.created_ms,
    }
}

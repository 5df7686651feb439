//! The hub's side of work queues: the members of each queue's consumer group, round robin
//! over those with room under their prefetch, timeouts, jobs released by members that left,
//! stale jobs left by other hub processes, dead letters. The jobs live in a [`JobStore`].

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;

use super::redis::RedisJobs;
use super::sqlite::SqliteJobs;
use super::{JobError, JobStore, QueueSummary, WorkLog};
use crate::hub::protocol::{ClientMsg, JobOut, ServerMsg};

/// How often a hub on Redis looks for jobs that other hub processes added.
const POLL: Duration = Duration::from_millis(50);

struct Member {
    conn: u64,
    consumer: String,
    prefetch: u64,
    inflight: usize,
}

#[derive(Default)]
struct Queue {
    members: Vec<Member>,
    /// Round-robin position.
    next: usize,
    /// Jobs to deliver again (from a member that left or timed out), with who had them.
    orphans: VecDeque<(String, Option<u64>)>,
    /// Jobs delivered by this hub and not acknowledged: id -> (connection, when).
    inflight: HashMap<String, (u64, Instant)>,
    /// New jobs may be waiting in the store.
    maybe_new: bool,
    last_stale_scan: Option<Instant>,
    /// On Redis, other hub processes add jobs: look for new ones at least this often.
    last_poll: Option<Instant>,
}

/// The work queues of one hub process.
pub struct Work {
    redis: Option<RedisJobs>,
    queues: HashMap<(String, String), Queue>,
    pub max_attempts: u64,
    pub ack_timeout: Duration,
    /// Frames to send: (connection, frame).
    pub out: Vec<(u64, ServerMsg)>,
    pub log: Vec<WorkLog>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

macro_rules! with_jobs {
    ($self:ident, $store:ident, $js:ident, $body:expr) => {{
        let mut sq;
        let $js: &mut dyn JobStore = match &mut $self.redis {
            Some(r) => r,
            None => {
                sq = SqliteJobs($store);
                &mut sq
            }
        };
        $body
    }};
}

impl Work {
    /// Work queues in the hub's SQLite file (`redis: None`) or on Redis.
    pub fn new(
        store: &Connection,
        redis: Option<RedisJobs>,
        max_attempts: u64,
        ack_timeout: Duration,
    ) -> Result<Work, JobError> {
        if redis.is_none() {
            SqliteJobs::create(store)?;
        }
        Ok(Work {
            redis,
            queues: HashMap::new(),
            max_attempts,
            ack_timeout,
            out: Vec::new(),
            log: Vec::new(),
        })
    }

    /// Some queue has members (the hub then polls for new, timed-out and stale jobs).
    pub fn active(&self) -> bool {
        self.queues.values().any(|q| !q.members.is_empty())
    }

    fn note(&mut self, what: &'static str, key: &(String, String)) -> &mut WorkLog {
        self.log.push(WorkLog {
            what,
            namespace: key.0.clone(),
            queue: key.1.clone(),
            id: None,
            consumer: None,
            deliveries: None,
        });
        let n = self.log.len() - 1;
        &mut self.log[n]
    }

    /// Handles one work-queue frame from connection `conn` (`name`: its client id or conn-N);
    /// other frames are not the work queues' and are ignored.
    pub fn handle(
        &mut self,
        store: &Connection,
        conn: u64,
        ns: &str,
        name: &str,
        msg: ClientMsg,
    ) -> Result<(), JobError> {
        match msg {
            ClientMsg::Enqueue { queue, event, data } => {
                let data_text = data.to_string();
                let id = with_jobs!(self, store, js, {
                    js.add(ns, &queue, &event, &data_text, name, now_ms())
                })?;
                let key = (ns.to_string(), queue.clone());
                self.queues.entry(key.clone()).or_default().maybe_new = true;
                self.out.push((
                    conn,
                    ServerMsg::Enqueued {
                        queue,
                        id: id.clone(),
                        event,
                    },
                ));
                self.note("enqueued", &key).id = Some(id);
            }
            ClientMsg::Consume { queue, prefetch } => {
                let key = (ns.to_string(), queue.clone());
                let q = self.queues.entry(key.clone()).or_default();
                q.maybe_new = true;
                q.members.retain(|m| m.conn != conn);
                q.members.push(Member {
                    conn,
                    consumer: name.to_string(),
                    prefetch,
                    inflight: 0,
                });
                self.out.push((
                    conn,
                    ServerMsg::Consuming {
                        queue,
                        consumer: name.to_string(),
                        prefetch,
                    },
                ));
                self.note("consuming", &key).consumer = Some(name.to_string());
            }
            ClientMsg::JobAck { queue, id } => {
                let key = (ns.to_string(), queue.clone());
                let done = with_jobs!(self, store, js, js.ack(ns, &queue, &id))?;
                if let Some(q) = self.queues.get_mut(&key) {
                    if let Some((holder, _)) = q.inflight.remove(&id) {
                        if let Some(m) = q.members.iter_mut().find(|m| m.conn == holder) {
                            m.inflight = m.inflight.saturating_sub(1);
                        }
                    }
                    q.orphans.retain(|(o, _)| *o != id);
                }
                if done {
                    let l = self.note("acked", &key);
                    l.id = Some(id);
                    l.consumer = Some(name.to_string());
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Connection `conn` is gone: the jobs it had go to the other members.
    pub fn disconnected(&mut self, conn: u64) {
        let mut logs = Vec::new();
        for (key, q) in self.queues.iter_mut() {
            q.members.retain(|m| m.conn != conn);
            let mine: Vec<String> = q
                .inflight
                .iter()
                .filter(|(_, (c, _))| *c == conn)
                .map(|(id, _)| id.clone())
                .collect();
            for id in mine {
                q.inflight.remove(&id);
                q.orphans.push_front((id.clone(), Some(conn)));
                logs.push((key.clone(), id));
            }
        }
        for (key, id) in logs {
            self.note("released", &key).id = Some(id);
        }
    }

    /// Moves timed-out jobs to the orphans, picks up stale ones from the store (other hubs,
    /// earlier runs), and hands jobs to members with room for more.
    pub fn pump(&mut self, store: &Connection) -> Result<(), JobError> {
        let now = Instant::now();
        let keys: Vec<(String, String)> = self
            .queues
            .iter()
            .filter(|(_, q)| !q.members.is_empty() || !q.inflight.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        let shared = self.redis.is_some();
        for key in keys {
            if shared {
                if let Some(q) = self.queues.get_mut(&key) {
                    if q.last_poll.is_none_or(|t| now.duration_since(t) >= POLL) {
                        q.last_poll = Some(now);
                        q.maybe_new = true;
                    }
                }
            }
            self.timeouts(&key, now);
            self.scan_stale(store, &key, now)?;
            self.dispatch(store, &key)?;
        }
        Ok(())
    }

    fn timeouts(&mut self, key: &(String, String), now: Instant) {
        let timeout = self.ack_timeout;
        let Some(q) = self.queues.get_mut(key) else {
            return;
        };
        let due: Vec<(String, u64)> = q
            .inflight
            .iter()
            .filter(|(_, (_, sent))| now.duration_since(*sent) >= timeout)
            .map(|(id, (c, _))| (id.clone(), *c))
            .collect();
        let mut logs = Vec::new();
        for (id, c) in due {
            q.inflight.remove(&id);
            if let Some(m) = q.members.iter_mut().find(|m| m.conn == c) {
                m.inflight = m.inflight.saturating_sub(1);
            }
            q.orphans.push_back((id.clone(), Some(c)));
            logs.push(id);
        }
        for id in logs {
            self.note("timeout", key).id = Some(id);
        }
    }

    fn scan_stale(
        &mut self,
        store: &Connection,
        key: &(String, String),
        now: Instant,
    ) -> Result<(), JobError> {
        let every = (self.ack_timeout / 2).max(Duration::from_millis(100));
        let Some(q) = self.queues.get_mut(key) else {
            return Ok(());
        };
        if q.members.is_empty()
            || q.last_stale_scan
                .is_some_and(|t| now.duration_since(t) < every)
        {
            return Ok(());
        }
        q.last_stale_scan = Some(now);
        let consumer = q.members[0].consumer.clone();
        let idle = self.ack_timeout;
        let ids = with_jobs!(self, store, js, {
            js.stale(&key.0, &key.1, &consumer, idle, now_ms())
        })?;
        let Some(q) = self.queues.get_mut(key) else {
            return Ok(());
        };
        let mut found = Vec::new();
        for id in ids {
            if !q.inflight.contains_key(&id) && !q.orphans.iter().any(|(o, _)| *o == id) {
                q.orphans.push_back((id.clone(), None));
                found.push(id);
            }
        }
        for id in found {
            self.note("stale", key).id = Some(id);
        }
        Ok(())
    }

    /// The member to get the next job: round robin over those with room, not `avoid` if
    /// another one has room.
    fn pick(q: &mut Queue, avoid: Option<u64>) -> Option<usize> {
        let n = q.members.len();
        let mut fallback = None;
        for k in 0..n {
            let i = (q.next + k) % n;
            let m = &q.members[i];
            if (m.inflight as u64) < m.prefetch {
                if Some(m.conn) == avoid {
                    fallback.get_or_insert(i);
                    continue;
                }
                q.next = (i + 1) % n;
                return Some(i);
            }
        }
        if let Some(i) = fallback {
            q.next = (i + 1) % n;
        }
        fallback
    }

    fn dispatch(&mut self, store: &Connection, key: &(String, String)) -> Result<(), JobError> {
        let (ns, qname) = (key.0.as_str(), key.1.as_str());
        let max = self.max_attempts;
        loop {
            let Some(q) = self.queues.get_mut(key) else {
                return Ok(());
            };
            let orphan = q.orphans.front().cloned();
            if orphan.is_none() && !q.maybe_new {
                return Ok(());
            }
            let Some(mi) = Self::pick(q, orphan.as_ref().and_then(|o| o.1)) else {
                return Ok(());
            };
            let conn = q.members[mi].conn;
            let consumer = q.members[mi].consumer.clone();
            let job = match &orphan {
                Some((id, _)) => {
                    q.orphans.pop_front();
                    with_jobs!(self, store, js, {
                        js.claim(ns, qname, id, &consumer, now_ms())
                    })?
                }
                None => {
                    let j = with_jobs!(self, store, js, {
                        js.next_new(ns, qname, &consumer, now_ms())
                    })?;
                    if j.is_none() {
                        if let Some(q) = self.queues.get_mut(key) {
                            q.maybe_new = false;
                        }
                    }
                    j
                }
            };
            let Some(job) = job else { continue };
            if job.deliveries > max {
                let mut job = job;
                job.deliveries -= 1;
                with_jobs!(self, store, js, {
                    js.dead_letter(ns, qname, &job, now_ms())
                })?;
                let l = self.note("dead", key);
                l.id = Some(job.id.clone());
                l.deliveries = Some(job.deliveries);
                continue;
            }
            let data: Value = serde_json::from_str(&job.data).unwrap_or(Value::Null);
            self.out.push((
                conn,
                ServerMsg::Job(JobOut {
                    queue: qname.to_string(),
                    id: job.id.clone(),
                    event: job.event.clone(),
                    data,
                    from: job.sender.clone(),
                    namespace: ns.to_string(),
                    deliveries: job.deliveries,
                    sent_ms: job.created_ms,
                }),
            ));
            if let Some(q) = self.queues.get_mut(key) {
                q.inflight.insert(job.id.clone(), (conn, Instant::now()));
                if let Some(m) = q.members.get_mut(mi) {
                    m.inflight += 1;
                }
            }
            let l = self.note("delivered", key);
            l.id = Some(job.id);
            l.consumer = Some(consumer);
            l.deliveries = Some(job.deliveries);
        }
    }

    /// Work queues and dead letters, for `hub queue`.
    pub fn summary(
        store: &Connection,
        redis: Option<&mut RedisJobs>,
    ) -> Result<Vec<QueueSummary>, JobError> {
        match redis {
            Some(r) => r.summary(),
            None => {
                let has: Option<String> = store
                    .query_row(
                        "SELECT name FROM sqlite_master WHERE name='jobs'",
                        [],
                        |r| r.get(0),
                    )
                    .optional()?;
                if has.is_none() {
                    return Ok(Vec::new());
                }
                SqliteJobs(store).summary()
            }
        }
    }
}

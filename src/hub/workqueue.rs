//! Work queues with competing consumers (docs/hub-protocol.md, "Work queues").
//!
//! A room fans an event out to every member; a work queue gives each job to exactly **one**
//! member of its consumer group. The member acknowledges the job when it is done; a job whose
//! member disconnects, or does not acknowledge within the ack timeout, goes to another member
//! (at-least-once, with a delivery count); after `max_attempts` deliveries it goes to the
//! dead-letter list instead.
//!
//! The hub task owns a [`Work`]: the members of each queue and the jobs in flight, in memory.
//! The jobs themselves live in a [`JobStore`]: the hub's SQLite file (tables `jobs` and
//! `dead_jobs`, written in the same transaction as everything else) or Redis Streams
//! ([`super::redis_store`]), where several hub processes share one consumer group.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::{json, Value};
use thiserror::Error;

use super::protocol::check_name;
use super::redis_store::RedisJobs;
use super::store::Store;

#[derive(Debug, Error)]
pub enum JobError {
    #[error("sqlite: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("redis: {0}")]
    Redis(String),
}

/// A work-queue frame from a client (the other frames are [`super::protocol::ClientMsg`]).
#[derive(Debug, Clone, PartialEq)]
pub enum WorkMsg {
    /// Put a job on a queue (answered by `enqueued`).
    Enqueue {
        queue: String,
        event: String,
        data: Value,
    },
    /// Join the queue's consumer group (answered by `consuming`).
    Consume { queue: String, prefetch: u64 },
    /// "Job `id` is done": removes it from the queue for good.
    JobAck { queue: String, id: String },
}

/// `Some` if `text` is a work-queue frame (`enqueue`, `consume`, `job_ack`), with the problem
/// if it is malformed; `None` for every other frame (the hub's own parser handles those).
pub fn parse(text: &str) -> Option<Result<WorkMsg, String>> {
    if !(text.contains("\"enqueue\"")
        || text.contains("\"consume\"")
        || text.contains("\"job_ack\""))
    {
        return None;
    }
    let v: Value = serde_json::from_str(text).ok()?;
    let obj = v.as_object()?;
    let ty = obj.get("type")?.as_str()?;
    if !matches!(ty, "enqueue" | "consume" | "job_ack") {
        return None;
    }
    Some(parse_obj(ty, obj))
}

fn parse_obj(ty: &str, obj: &serde_json::Map<String, Value>) -> Result<WorkMsg, String> {
    let allowed: &[&str] = match ty {
        "enqueue" => &["type", "queue", "event", "data"],
        "consume" => &["type", "queue", "prefetch"],
        _ => &["type", "queue", "id"],
    };
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!(
            "unknown field {k:?} in {ty} (expected {allowed:?})"
        ));
    }
    let string = |k: &str| -> Result<String, String> {
        match obj.get(k) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(format!("{ty}: \"{k}\" must be a string")),
            None => Err(format!("{ty}: missing \"{k}\"")),
        }
    };
    let queue = string("queue")?;
    check_name("queue", &queue).map_err(|e| e.to_string())?;
    match ty {
        "enqueue" => {
            let event = string("event")?;
            check_name("event name", &event).map_err(|e| e.to_string())?;
            let data = obj.get("data").cloned().unwrap_or(Value::Null);
            Ok(WorkMsg::Enqueue { queue, event, data })
        }
        "consume" => {
            let prefetch = match obj.get("prefetch") {
                None => 1,
                Some(v) => match v.as_u64() {
                    Some(n @ 1..=1000) => n,
                    _ => return Err("consume: \"prefetch\" must be a whole number 1..1000".into()),
                },
            };
            Ok(WorkMsg::Consume { queue, prefetch })
        }
        _ => {
            let id = match obj.get("id") {
                Some(Value::String(s)) if !s.is_empty() && s.len() <= 64 => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err("job_ack: \"id\" must be the job's id (a string)".into()),
            };
            Ok(WorkMsg::JobAck { queue, id })
        }
    }
}

/// One job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub event: String,
    /// JSON text.
    pub data: String,
    pub sender: String,
    pub created_ms: u64,
    /// Deliveries so far, this one included.
    pub deliveries: u64,
}

/// One row of `hub queue` for a work queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueSummary {
    pub namespace: String,
    pub queue: String,
    /// Jobs not yet delivered.
    pub ready: u64,
    /// Delivered and not acknowledged.
    pub pending: u64,
    /// In the dead-letter list.
    pub dead: u64,
    /// The newest dead letters: (id, event, deliveries).
    pub dead_letters: Vec<DeadLetter>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub id: String,
    pub event: String,
    pub data: String,
    pub deliveries: u64,
}

/// Where jobs live: the hub's SQLite file or Redis Streams.
pub trait JobStore {
    fn add(
        &mut self,
        ns: &str,
        queue: &str,
        event: &str,
        data: &str,
        sender: &str,
        now_ms: u64,
    ) -> Result<String, JobError>;
    /// The oldest job never delivered, now delivered to `consumer`.
    fn next_new(
        &mut self,
        ns: &str,
        queue: &str,
        consumer: &str,
        now_ms: u64,
    ) -> Result<Option<Job>, JobError>;
    /// Job `id` delivered again, to `consumer` (`None`: it was acknowledged meanwhile).
    fn claim(
        &mut self,
        ns: &str,
        queue: &str,
        id: &str,
        consumer: &str,
        now_ms: u64,
    ) -> Result<Option<Job>, JobError>;
    /// Delivered jobs not acknowledged for `idle` (their consumer or its hub is gone).
    fn stale(
        &mut self,
        ns: &str,
        queue: &str,
        consumer: &str,
        idle: Duration,
        now_ms: u64,
    ) -> Result<Vec<String>, JobError>;
    fn ack(&mut self, ns: &str, queue: &str, id: &str) -> Result<bool, JobError>;
    fn dead_letter(
        &mut self,
        ns: &str,
        queue: &str,
        job: &Job,
        now_ms: u64,
    ) -> Result<(), JobError>;
    fn summary(&mut self) -> Result<Vec<QueueSummary>, JobError>;
}

/// The embedded store: tables in the hub's SQLite file.
pub struct SqliteJobs<'a>(pub &'a Connection);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  namespace TEXT NOT NULL, queue TEXT NOT NULL, event TEXT NOT NULL, data TEXT NOT NULL,
  sender TEXT NOT NULL, created_ms INTEGER NOT NULL, deliveries INTEGER NOT NULL DEFAULT 0,
  consumer TEXT, claimed_ms INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs(namespace, queue, deliveries, id);
CREATE TABLE IF NOT EXISTS work_queues(
  namespace TEXT NOT NULL, queue TEXT NOT NULL, PRIMARY KEY(namespace, queue));
CREATE TABLE IF NOT EXISTS dead_jobs(
  namespace TEXT NOT NULL, queue TEXT NOT NULL, id INTEGER NOT NULL, event TEXT NOT NULL,
  data TEXT NOT NULL, sender TEXT NOT NULL, created_ms INTEGER NOT NULL,
  deliveries INTEGER NOT NULL, dead_ms INTEGER NOT NULL);
";

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl SqliteJobs<'_> {
    pub fn create(conn: &Connection) -> Result<(), JobError> {
        conn.execute_batch(SCHEMA)?;
        Ok(())
    }

    fn row(&self, id: i64) -> Result<Option<Job>, JobError> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT id, event, data, sender, created_ms, deliveries FROM jobs WHERE id=?1",
            )?
            .query_row(params![id], |r| {
                Ok(Job {
                    id: r.get::<_, i64>(0)?.to_string(),
                    event: r.get(1)?,
                    data: r.get(2)?,
                    sender: r.get(3)?,
                    created_ms: u(r.get(4)?),
                    deliveries: u(r.get(5)?),
                })
            })
            .optional()?)
    }
}

impl JobStore for SqliteJobs<'_> {
    fn add(
        &mut self,
        ns: &str,
        queue: &str,
        event: &str,
        data: &str,
        sender: &str,
        now_ms: u64,
    ) -> Result<String, JobError> {
        self.0
            .prepare_cached(
                "INSERT INTO jobs(namespace, queue, event, data, sender, created_ms) VALUES(?1,?2,?3,?4,?5,?6)",
            )?
            .execute(params![ns, queue, event, data, sender, i(now_ms)])?;
        let id = self.0.last_insert_rowid();
        self.0
            .prepare_cached("INSERT OR IGNORE INTO work_queues(namespace, queue) VALUES(?1,?2)")?
            .execute(params![ns, queue])?;
        Ok(id.to_string())
    }

    fn next_new(
        &mut self,
        ns: &str,
        queue: &str,
        consumer: &str,
        now_ms: u64,
    ) -> Result<Option<Job>, JobError> {
        let id: Option<i64> = self
            .0
            .prepare_cached(
                "SELECT id FROM jobs WHERE namespace=?1 AND queue=?2 AND deliveries=0 ORDER BY id LIMIT 1",
            )?
            .query_row(params![ns, queue], |r| r.get(0))
            .optional()?;
        match id {
            Some(id) => self.claim(ns, queue, &id.to_string(), consumer, now_ms),
            None => Ok(None),
        }
    }

    fn claim(
        &mut self,
        _ns: &str,
        _queue: &str,
        id: &str,
        consumer: &str,
        now_ms: u64,
    ) -> Result<Option<Job>, JobError> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let n = self
            .0
            .prepare_cached(
                "UPDATE jobs SET deliveries = deliveries + 1, consumer=?2, claimed_ms=?3 WHERE id=?1",
            )?
            .execute(params![id, consumer, i(now_ms)])?;
        if n == 0 {
            return Ok(None);
        }
        self.row(id)
    }

    fn stale(
        &mut self,
        ns: &str,
        queue: &str,
        _consumer: &str,
        idle: Duration,
        now_ms: u64,
    ) -> Result<Vec<String>, JobError> {
        let before = now_ms.saturating_sub(u64::try_from(idle.as_millis()).unwrap_or(u64::MAX));
        let mut st = self.0.prepare_cached(
            "SELECT id FROM jobs WHERE namespace=?1 AND queue=?2 AND deliveries>0 AND claimed_ms<=?3 ORDER BY id LIMIT 100",
        )?;
        let rows = st.query_map(params![ns, queue, i(before)], |r| {
            Ok(r.get::<_, i64>(0)?.to_string())
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn ack(&mut self, _ns: &str, _queue: &str, id: &str) -> Result<bool, JobError> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(false);
        };
        let n = self
            .0
            .prepare_cached("DELETE FROM jobs WHERE id=?1")?
            .execute(params![id])?;
        Ok(n > 0)
    }

    fn dead_letter(
        &mut self,
        ns: &str,
        queue: &str,
        job: &Job,
        now_ms: u64,
    ) -> Result<(), JobError> {
        self.0
            .prepare_cached(
                "INSERT INTO dead_jobs(namespace, queue, id, event, data, sender, created_ms, deliveries, dead_ms)
                 VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
            )?
            .execute(params![
                ns,
                queue,
                job.id.parse::<i64>().unwrap_or(0),
                job.event,
                job.data,
                job.sender,
                i(job.created_ms),
                i(job.deliveries),
                i(now_ms)
            ])?;
        self.ack(ns, queue, &job.id)?;
        Ok(())
    }

    fn summary(&mut self) -> Result<Vec<QueueSummary>, JobError> {
        let mut map: std::collections::BTreeMap<(String, String), QueueSummary> =
            Default::default();
        let mut st = self
            .0
            .prepare("SELECT namespace, queue FROM work_queues ORDER BY 1,2")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (ns, q) = row?;
            summary_entry(&mut map, ns, q);
        }
        let mut st = self.0.prepare(
            "SELECT namespace, queue, SUM(deliveries=0), SUM(deliveries>0) FROM jobs GROUP BY 1,2",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                u(r.get(2)?),
                u(r.get(3)?),
            ))
        })?;
        for row in rows {
            let (ns, q, ready, pending) = row?;
            let e = summary_entry(&mut map, ns, q);
            e.ready = ready;
            e.pending = pending;
        }
        let mut st = self.0.prepare(
            "SELECT namespace, queue, id, event, data, deliveries FROM dead_jobs ORDER BY dead_ms, id",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                DeadLetter {
                    id: r.get::<_, i64>(2)?.to_string(),
                    event: r.get(3)?,
                    data: r.get(4)?,
                    deliveries: u(r.get(5)?),
                },
            ))
        })?;
        for row in rows {
            let (ns, q, d) = row?;
            let e = summary_entry(&mut map, ns, q);
            e.dead += 1;
            e.dead_letters.push(d);
        }
        Ok(map.into_values().collect())
    }
}

pub(crate) fn summary_entry(
    map: &mut std::collections::BTreeMap<(String, String), QueueSummary>,
    ns: String,
    q: String,
) -> &mut QueueSummary {
    map.entry((ns.clone(), q.clone()))
        .or_insert_with(|| QueueSummary {
            namespace: ns,
            queue: q,
            ready: 0,
            pending: 0,
            dead: 0,
            dead_letters: Vec::new(),
        })
}

/// What the work queues report (one `hub serve` line each, `"type":"work"` in JSON).
#[derive(Debug, Clone, Serialize)]
pub struct WorkLog {
    /// enqueued, consuming, delivered, acked, timeout, released, dead, stale
    pub what: &'static str,
    pub namespace: String,
    pub queue: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<u64>,
}

impl WorkLog {
    pub fn text(&self) -> String {
        let id = self
            .id
            .as_deref()
            .map(|i| format!(" job {i}"))
            .unwrap_or_default();
        let who = self
            .consumer
            .as_deref()
            .map(|c| format!(" -> {c}"))
            .unwrap_or_default();
        let n = self
            .deliveries
            .map(|d| format!(" (delivery {d})"))
            .unwrap_or_default();
        format!(
            "work {} queue {} (namespace {}){id}{who}{n}",
            self.what, self.queue, self.namespace
        )
    }
}

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
    /// Frames to send: (connection, text).
    pub out: Vec<(u64, String)>,
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
                sq = SqliteJobs($store.sql());
                &mut sq
            }
        };
        $body
    }};
}

impl Work {
    /// Work queues in the hub's SQLite file (`redis: None`) or on Redis.
    pub fn new(
        store: &Store,
        redis: Option<RedisJobs>,
        max_attempts: u64,
        ack_timeout: Duration,
    ) -> Result<Work, JobError> {
        if redis.is_none() {
            SqliteJobs::create(store.sql())?;
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

    /// This process's node id when several hubs share Redis (None: embedded store).
    pub fn node(&self) -> Option<&str> {
        self.redis.as_ref().map(|r| r.node.as_str())
    }

    /// Publishes a room or namespace broadcast to the other hub processes.
    pub fn publish(&mut self, r: &super::cluster::Remote) -> Result<(), JobError> {
        match &mut self.redis {
            Some(redis) => redis.publish(&super::cluster::channel(&r.namespace), r),
            None => Ok(()),
        }
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

    /// Handles one work-queue frame from connection `conn` (`name`: its client id or conn-N).
    pub fn handle(
        &mut self,
        store: &Store,
        conn: u64,
        ns: &str,
        name: &str,
        msg: WorkMsg,
    ) -> Result<(), JobError> {
        match msg {
            WorkMsg::Enqueue { queue, event, data } => {
                let data_text = data.to_string();
                let id = with_jobs!(self, store, js, {
                    js.add(ns, &queue, &event, &data_text, name, now_ms())
                })?;
                let key = (ns.to_string(), queue.clone());
                self.queues.entry(key.clone()).or_default().maybe_new = true;
                self.out.push((
                    conn,
                    json!({"type": "enqueued", "queue": queue, "id": id, "event": event})
                        .to_string(),
                ));
                self.note("enqueued", &key).id = Some(id);
            }
            WorkMsg::Consume { queue, prefetch } => {
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
                    json!({"type": "consuming", "queue": queue, "consumer": name, "prefetch": prefetch})
                        .to_string(),
                ));
                self.note("consuming", &key).consumer = Some(name.to_string());
            }
            WorkMsg::JobAck { queue, id } => {
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
    pub fn pump(&mut self, store: &Store) -> Result<(), JobError> {
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
        store: &Store,
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

    fn dispatch(&mut self, store: &Store, key: &(String, String)) -> Result<(), JobError> {
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
                json!({
                    "type": "job", "queue": qname, "id": job.id, "event": job.event,
                    "data": data, "from": job.sender, "namespace": ns,
                    "deliveries": job.deliveries, "sent_ms": job.created_ms,
                })
                .to_string(),
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
        store: &Store,
        redis: Option<&mut RedisJobs>,
    ) -> Result<Vec<QueueSummary>, JobError> {
        match redis {
            Some(r) => r.summary(),
            None => {
                let has: Option<String> = store
                    .sql()
                    .query_row(
                        "SELECT name FROM sqlite_master WHERE name='jobs'",
                        [],
                        |r| r.get(0),
                    )
                    .optional()?;
                if has.is_none() {
                    return Ok(Vec::new());
                }
                SqliteJobs(store.sql()).summary()
            }
        }
    }
}

impl From<JobError> for super::store::StoreError {
    fn from(e: JobError) -> Self {
        super::store::StoreError::Jobs(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_work_frames_and_names_problems() {
        assert_eq!(parse(r#"{"type":"join","room":"a"}"#), None);
        assert_eq!(
            parse(r#"{"type":"enqueue","queue":"jobs","event":"resize","data":{"n":1}}"#),
            Some(Ok(WorkMsg::Enqueue {
                queue: "jobs".into(),
                event: "resize".into(),
                data: json!({"n":1})
            }))
        );
        assert_eq!(
            parse(r#"{"type":"consume","queue":"jobs"}"#),
            Some(Ok(WorkMsg::Consume {
                queue: "jobs".into(),
                prefetch: 1
            }))
        );
        assert_eq!(
            parse(r#"{"type":"job_ack","queue":"jobs","id":"1-0"}"#),
            Some(Ok(WorkMsg::JobAck {
                queue: "jobs".into(),
                id: "1-0".into()
            }))
        );
        let e = parse(r#"{"type":"consume","queue":"jobs","prefetch":0}"#).unwrap();
        assert!(e.unwrap_err().contains("prefetch"));
        let e = parse(r#"{"type":"enqueue","queue":"","event":"x"}"#).unwrap();
        assert!(e.unwrap_err().contains("queue"));
        let e = parse(r#"{"type":"job_ack","queue":"q","id":"1","extra":1}"#).unwrap();
        assert!(e.unwrap_err().contains("extra"));
    }

    #[test]
    fn sqlite_jobs_deliver_once_count_and_dead_letter() {
        let store = Store::open(None, false).unwrap();
        SqliteJobs::create(store.sql()).unwrap();
        let mut js = SqliteJobs(store.sql());
        let a = js.add("/", "q", "e", "1", "s", 10).unwrap();
        let b = js.add("/", "q", "e", "2", "s", 11).unwrap();
        let j = js.next_new("/", "q", "w1", 20).unwrap().unwrap();
        assert_eq!((j.id.clone(), j.deliveries), (a.clone(), 1));
        let j2 = js.next_new("/", "q", "w2", 20).unwrap().unwrap();
        assert_eq!(j2.id, b);
        assert_eq!(js.next_new("/", "q", "w1", 20).unwrap(), None);
        assert_eq!(
            js.stale("/", "q", "w1", Duration::from_millis(5), 30)
                .unwrap(),
            vec![a.clone(), b.clone()]
        );
        let again = js.claim("/", "q", &a, "w2", 40).unwrap().unwrap();
        assert_eq!(again.deliveries, 2);
        assert!(js.ack("/", "q", &b).unwrap());
        assert!(!js.ack("/", "q", &b).unwrap());
        js.dead_letter("/", "q", &again, 50).unwrap();
        let s = js.summary().unwrap();
        assert_eq!((s[0].ready, s[0].pending, s[0].dead), (0, 0, 1));
        assert_eq!(s[0].dead_letters[0].id, a);
    }
}

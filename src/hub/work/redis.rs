//! Work queues on Redis Streams (`hub serve --store redis://HOST:PORT`).
//!
//! ```text
//! wirelab:{ns}:queue:{q}   stream; one entry per job (fields event, data, sender, created_ms);
//!                          consumer group "workers"; an entry is deleted (XDEL) once acked
//! wirelab:{ns}:dead:{q}    stream; dead letters (fields id, event, data, sender, deliveries)
//! wirelab:queues           set of "{ns} {q}", for `hub queue`
//! ```
//!
//! New jobs: `XREADGROUP GROUP workers CONSUMER COUNT 1 STREAMS key >`. Done: `XACK` + `XDEL`
//! (in one `EVAL`, so only a pending entry is deleted).
//! A job of a member that left: `XCLAIM key workers OTHER 0 id` (counts one more delivery).
//! Stale jobs (a member or a whole hub process died): `XAUTOCLAIM ... JUSTID` after the ack
//! timeout. Delivery counts come from `XPENDING`. Watch it all with
//! `redis-cli XINFO GROUPS wirelab:/:queue:jobs` and `XPENDING wirelab:/:queue:jobs workers`.
//!
//! The client is the `redis` crate's synchronous connection: the hub task owns all state and
//! makes one decision after the other anyway; loopback round trips are tens of microseconds.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use redis::Value;

use super::{summary_entry, DeadLetter, Job, JobError, JobStore, QueueSummary};
use crate::hub::redis_reply::{int, items, pairs, text};

pub const GROUP: &str = "workers";

const ACK_SCRIPT: &str = "if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) > 0 then \
    redis.call('XDEL', KEYS[1], ARGV[2]) return 1 end return 0";

pub struct RedisJobs {
    con: redis::Connection,
    /// Streams whose group this process has created (or found).
    groups: HashSet<String>,
}

fn err(e: redis::RedisError) -> JobError {
    JobError::Redis(e.to_string())
}

pub fn queue_key(ns: &str, q: &str) -> String {
    format!("wirelab:{ns}:queue:{q}")
}

pub fn dead_key(ns: &str, q: &str) -> String {
    format!("wirelab:{ns}:dead:{q}")
}

/// An entry `[id, [field, value, ...]]` as a job (deliveries filled in by the caller).
fn entry(v: &Value) -> Option<Job> {
    let e = items(v);
    let id = text(e.first()?)?;
    let fields = items(e.get(1)?);
    let mut job = Job {
        id,
        event: String::new(),
        data: "null".into(),
        sender: String::new(),
        created_ms: 0,
        deliveries: 1,
    };
    for (k, v) in pairs(fields) {
        match k.as_str() {
            "event" => job.event = v,
            "data" => job.data = v,
            "sender" => job.sender = v,
            "created_ms" => job.created_ms = v.parse().unwrap_or(0),
            _ => {}
        }
    }
    Some(job)
}

impl RedisJobs {
    /// Connects to `url` (redis://HOST:PORT) and checks it answers PING.
    pub fn connect(url: &str) -> Result<RedisJobs, JobError> {
        let mut con = crate::hub::redis_reply::connect(url).map_err(err)?;
        redis::cmd("PING").query::<String>(&mut con).map_err(err)?;
        Ok(RedisJobs {
            con,
            groups: HashSet::new(),
        })
    }

    fn q(&mut self, c: &mut redis::Cmd) -> Result<Value, JobError> {
        c.query::<Value>(&mut self.con).map_err(err)
    }

    fn group(&mut self, ns: &str, q: &str) -> Result<String, JobError> {
        let key = queue_key(ns, q);
        if !self.groups.contains(&key) {
            let r = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&key)
                .arg(GROUP)
                .arg("0")
                .arg("MKSTREAM")
                .query::<Value>(&mut self.con);
            match r {
                Ok(_) => {}
                Err(e) if e.to_string().contains("BUSYGROUP") => {}
                Err(e) => return Err(err(e)),
            }
            self.q(redis::cmd("SADD")
                .arg("wirelab:queues")
                .arg(format!("{ns} {q}")))?;
            self.groups.insert(key.clone());
        }
        Ok(key)
    }

    fn deliveries(&mut self, key: &str, id: &str) -> Result<u64, JobError> {
        let v = self.q(redis::cmd("XPENDING")
            .arg(key)
            .arg(GROUP)
            .arg(id)
            .arg(id)
            .arg(1))?;
        Ok(items(&v)
            .first()
            .map(|e| items(e).get(3).map(int).unwrap_or(1))
            .unwrap_or(1))
    }
}

impl JobStore for RedisJobs {
    fn add(
        &mut self,
        ns: &str,
        queue: &str,
        event: &str,
        data: &str,
        sender: &str,
        now_ms: u64,
    ) -> Result<String, JobError> {
        let key = self.group(ns, queue)?;
        let v = self.q(redis::cmd("XADD")
            .arg(&key)
            .arg("*")
            .arg("event")
            .arg(event)
            .arg("data")
            .arg(data)
            .arg("sender")
            .arg(sender)
            .arg("created_ms")
            .arg(now_ms))?;
        text(&v).ok_or_else(|| JobError::Redis(format!("XADD answered {v:?}")))
    }

    fn next_new(
        &mut self,
        ns: &str,
        queue: &str,
        consumer: &str,
        _now_ms: u64,
    ) -> Result<Option<Job>, JobError> {
        let key = self.group(ns, queue)?;
        let v = self.q(redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(1)
            .arg("STREAMS")
            .arg(&key)
            .arg(">"))?;
        // [[key, [entry...]]] or nil; RESP3 would give a map, RESP2 (the default) arrays.
        let stream = items(&v).first().map(items).unwrap_or(&[]);
        let entries = stream.get(1).map(items).unwrap_or(&[]);
        Ok(entries.first().and_then(entry))
    }

    fn claim(
        &mut self,
        ns: &str,
        queue: &str,
        id: &str,
        consumer: &str,
        _now_ms: u64,
    ) -> Result<Option<Job>, JobError> {
        let key = self.group(ns, queue)?;
        let v = self.q(redis::cmd("XCLAIM")
            .arg(&key)
            .arg(GROUP)
            .arg(consumer)
            .arg(0)
            .arg(id))?;
        let Some(mut job) = items(&v).first().and_then(entry) else {
            return Ok(None);
        };
        job.deliveries = self.deliveries(&key, id)?;
        Ok(Some(job))
    }

    fn stale(
        &mut self,
        ns: &str,
        queue: &str,
        consumer: &str,
        idle: Duration,
        _now_ms: u64,
    ) -> Result<Vec<String>, JobError> {
        let key = self.group(ns, queue)?;
        let v = self.q(redis::cmd("XAUTOCLAIM")
            .arg(&key)
            .arg(GROUP)
            .arg(consumer)
            .arg(u64::try_from(idle.as_millis()).unwrap_or(u64::MAX))
            .arg("0-0")
            .arg("COUNT")
            .arg(100)
            .arg("JUSTID"))?;
        Ok(items(&v)
            .get(1)
            .map(items)
            .unwrap_or(&[])
            .iter()
            .filter_map(text)
            .collect())
    }

    fn ack(&mut self, ns: &str, queue: &str, id: &str) -> Result<bool, JobError> {
        let key = self.group(ns, queue)?;
        // XACK, and XDEL only what was pending (a made-up id cannot delete a waiting job):
        // one round trip, atomic.
        let n = int(&self.q(redis::cmd("EVAL")
            .arg(ACK_SCRIPT)
            .arg(1)
            .arg(&key)
            .arg(GROUP)
            .arg(id))?);
        Ok(n > 0)
    }

    fn dead_letter(
        &mut self,
        ns: &str,
        queue: &str,
        job: &Job,
        _now_ms: u64,
    ) -> Result<(), JobError> {
        self.q(redis::cmd("XADD")
            .arg(dead_key(ns, queue))
            .arg("*")
            .arg("id")
            .arg(&job.id)
            .arg("event")
            .arg(&job.event)
            .arg("data")
            .arg(&job.data)
            .arg("sender")
            .arg(&job.sender)
            .arg("deliveries")
            .arg(job.deliveries))?;
        self.ack(ns, queue, &job.id)?;
        Ok(())
    }

    fn summary(&mut self) -> Result<Vec<QueueSummary>, JobError> {
        let v = self.q(redis::cmd("SMEMBERS").arg("wirelab:queues"))?;
        let mut map = BTreeMap::new();
        for m in items(&v).iter().filter_map(text) {
            let Some((ns, q)) = m.split_once(' ') else {
                continue;
            };
            let key = queue_key(ns, q);
            let len = int(&self.q(redis::cmd("XLEN").arg(&key))?);
            let pend = self.q(redis::cmd("XPENDING").arg(&key).arg(GROUP))?;
            let pending = items(&pend).first().map(int).unwrap_or(0);
            let dead = self.q(redis::cmd("XRANGE").arg(dead_key(ns, q)).arg("-").arg("+"))?;
            let e = summary_entry(&mut map, ns.to_string(), q.to_string());
            e.pending = pending;
            e.ready = len.saturating_sub(pending);
            for d in items(&dead) {
                let fields = items(d).get(1).map(items).unwrap_or(&[]);
                let mut dl = DeadLetter {
                    id: String::new(),
                    event: String::new(),
                    data: String::new(),
                    deliveries: 0,
                };
                for (k, v) in pairs(fields) {
                    match k.as_str() {
                        "id" => dl.id = v,
                        "event" => dl.event = v,
                        "data" => dl.data = v,
                        "deliveries" => dl.deliveries = v.parse().unwrap_or(0),
                        _ => {}
                    }
                }
                e.dead += 1;
                e.dead_letters.push(dl);
            }
        }
        Ok(map.into_values().collect())
    }
}

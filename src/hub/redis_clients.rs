//! Per-client durable queues mirrored to Redis (`hub serve --store redis://...`), so that a
//! client whose hub process dies finds its queue on any other hub on the same Redis.
//!
//! ```text
//! wirelab:next_id                     INCR: message ids, unique across every hub process
//! wirelab:{ns}:client:{client}        stream; one entry per queued event, entry id "{id}-0",
//!                                     fields event, data, sender, room, ack_wanted, created_ms;
//!                                     XDEL on ack (or when dropped by the queue cap)
//! wirelab:deliveries                  hash id -> deliveries so far
//! wirelab:{ns}:rooms:{client}         set of the client's rooms
//! ```
//!
//! The hub keeps working on its SQLite store (in memory with `--store`), which is its index;
//! every change to a queue or a membership is also written here before anything is sent, and
//! a client's queue and rooms are read back from here when it connects.

use std::cell::RefCell;
use std::time::Duration;

use redis::Value;

use super::redis_store::{items, text};
use super::store::{StoreError, Stored};

pub struct RedisClients {
    con: RefCell<redis::Connection>,
}

fn err(e: redis::RedisError) -> StoreError {
    StoreError::Jobs(format!("redis: {e}"))
}

fn stream(ns: &str, client: &str) -> String {
    format!("wirelab:{ns}:client:{client}")
}

fn rooms_key(ns: &str, client: &str) -> String {
    format!("wirelab:{ns}:rooms:{client}")
}

impl RedisClients {
    pub fn connect(url: &str) -> Result<RedisClients, StoreError> {
        let client = redis::Client::open(url).map_err(err)?;
        let con = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .map_err(err)?;
        Ok(RedisClients {
            con: RefCell::new(con),
        })
    }

    fn q(&self, c: &redis::Cmd) -> Result<Value, StoreError> {
        c.query::<Value>(&mut *self.con.borrow_mut()).map_err(err)
    }

    /// A new message id.
    pub fn next_id(&self) -> Result<u64, StoreError> {
        let v = self.q(redis::cmd("INCR").arg("wirelab:next_id"))?;
        text(&v)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| StoreError::Jobs(format!("redis: INCR answered {v:?}")))
    }

    pub fn add(&self, m: &Stored) -> Result<(), StoreError> {
        self.q(redis::cmd("XADD")
            .arg(stream(&m.namespace, &m.client))
            .arg(format!("{}-0", m.id))
            .arg("event")
            .arg(&m.event)
            .arg("data")
            .arg(&m.data)
            .arg("sender")
            .arg(&m.sender)
            .arg("room")
            .arg(m.room.as_deref().unwrap_or(""))
            .arg("ack_wanted")
            .arg(u8::from(m.ack_wanted))
            .arg("created_ms")
            .arg(m.created_ms))?;
        if m.deliveries > 0 {
            self.delivered(m.id)?;
        }
        Ok(())
    }

    pub fn remove(&self, ns: &str, client: &str, id: u64) -> Result<(), StoreError> {
        self.q(redis::cmd("XDEL")
            .arg(stream(ns, client))
            .arg(format!("{id}-0")))?;
        self.q(redis::cmd("HDEL").arg("wirelab:deliveries").arg(id))?;
        Ok(())
    }

    pub fn delivered(&self, id: u64) -> Result<(), StoreError> {
        self.q(redis::cmd("HINCRBY")
            .arg("wirelab:deliveries")
            .arg(id)
            .arg(1))?;
        Ok(())
    }

    pub fn join(&self, ns: &str, client: &str, room: &str, join: bool) -> Result<(), StoreError> {
        let verb = if join { "SADD" } else { "SREM" };
        self.q(redis::cmd(verb).arg(rooms_key(ns, client)).arg(room))?;
        Ok(())
    }

    pub fn rooms(&self, ns: &str, client: &str) -> Result<Vec<String>, StoreError> {
        let v = self.q(redis::cmd("SMEMBERS").arg(rooms_key(ns, client)))?;
        Ok(items(&v).iter().filter_map(text).collect())
    }

    /// The client's queue as stored in Redis, oldest first.
    pub fn queue(&self, ns: &str, client: &str) -> Result<Vec<Stored>, StoreError> {
        let v = self.q(redis::cmd("XRANGE")
            .arg(stream(ns, client))
            .arg("-")
            .arg("+"))?;
        let mut out = Vec::new();
        for e in items(&v) {
            let e = items(e);
            let Some(id) = e
                .first()
                .and_then(text)
                .and_then(|s| s.split('-').next().and_then(|n| n.parse::<u64>().ok()))
            else {
                continue;
            };
            let mut m = Stored {
                id,
                namespace: ns.to_string(),
                client: client.to_string(),
                event: String::new(),
                data: "null".into(),
                sender: String::new(),
                room: None,
                ack_wanted: false,
                created_ms: 0,
                deliveries: 0,
            };
            let fields = e.get(1).map(items).unwrap_or(&[]);
            for pair in fields.chunks(2) {
                let (Some(k), Some(v)) = (pair.first().and_then(text), pair.get(1).and_then(text))
                else {
                    continue;
                };
                match k.as_str() {
                    "event" => m.event = v,
                    "data" => m.data = v,
                    "sender" => m.sender = v,
                    "room" if !v.is_empty() => m.room = Some(v),
                    "ack_wanted" => m.ack_wanted = v == "1",
                    "created_ms" => m.created_ms = v.parse().unwrap_or(0),
                    _ => {}
                }
            }
            let d = self.q(redis::cmd("HGET").arg("wirelab:deliveries").arg(id))?;
            m.deliveries = text(&d).and_then(|s| s.parse().ok()).unwrap_or(0);
            out.push(m);
        }
        Ok(out)
    }
}

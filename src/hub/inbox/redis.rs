//! The inbox on Redis: per-client durable queues (`hub serve --store redis://...`), so that a
//! client whose hub process dies finds its queue on any other hub on the same Redis.
//!
//! ```text
//! wirelab:next_id                     INCRBY: message ids, unique across every hub process
//! wirelab:{ns}:client:{client}        stream; one entry per queued event, its entry id given
//!                                     by Redis (`*`), fields id, event, data, sender, room,
//!                                     ack_wanted, created_ms; XDEL on ack (or when dropped by
//!                                     the queue cap)
//! wirelab:entries                     hash id -> stream entry id (for the XDEL)
//! wirelab:deliveries                  hash id -> deliveries so far
//! wirelab:{ns}:rooms:{client}         set of the client's rooms
//! ```
//!
//! Writes are pipelined: the batch's XADDs, XDELs and counters go in one round trip at commit.
//! Ids are reserved in runs with one `INCRBY` (16, then twice as many each time the batch uses
//! a run up, to at most 8,192); what a batch did not use is given up at its end, so that ids
//! stay in time order across hubs. Reading a queue back costs two round trips per 1,024
//! entries (`XRANGE ... COUNT`, then one `HMGET` of their delivery counts).
//!
//! Entry ids are Redis's own, not ours: two hubs that write to one client's stream at the same
//! time may add a later id before an earlier one, and a stream refuses an explicit entry id
//! below its last (that used to stop the hub). Reading back sorts by our id. Each add and
//! each removal is one small Lua script, so that the stream and the id map change together.
//!
//! The hub keeps working on its SQLite store (in memory with `--store`), which is its index;
//! every change to a queue or a membership is also written here before anything is sent, and
//! a client's queue and rooms are read back from here when it connects.

use std::cell::RefCell;
use std::collections::BTreeSet;

use redis::Value;

use super::sqlite::SqliteInbox;
use super::{Inbox, NewEvent, Refreshed, StoreError, Stored};
use crate::hub::redis_reply::{items, pairs, text};

/// Queues and rooms in Redis; this process's index of them in an in-memory SQLite.
pub struct RedisInbox {
    con: RefCell<redis::Connection>,
    /// Writes of the batch in progress, sent in one round trip by `commit` (before any frame
    /// of the batch leaves the hub, so write-ahead still holds).
    pending: RefCell<redis::Pipeline>,
    url: String,
    local: SqliteInbox,
    /// Ids reserved for this batch: the next one to hand out, the end of the run (exclusive),
    /// and the size of the last reservation.
    ids: RefCell<Reserved>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Reserved {
    next: u64,
    end: u64,
    last_run: u64,
}

/// The first run of ids a batch reserves, and the largest.
const FIRST_RUN: u64 = 16;
const MAX_RUN: u64 = 8192;
const ENTRIES: &str = "wirelab:entries";
const DELIVERIES: &str = "wirelab:deliveries";
/// XADD with an entry id of Redis's choosing, and the id -> entry id map.
const ADD_SCRIPT: &str = "local e = redis.call('XADD', KEYS[1], '*', 'id', ARGV[1], \
unpack(ARGV, 2)) redis.call('HSET', KEYS[2], ARGV[1], e) return e";
/// XDEL through the map (or the id itself, for entries from before the map), and forget it.
const REMOVE_SCRIPT: &str = "local e = redis.call('HGET', KEYS[2], ARGV[1]) \
if not e then e = ARGV[1] .. '-0' end redis.call('XDEL', KEYS[1], e) \
redis.call('HDEL', KEYS[2], ARGV[1]) redis.call('HDEL', KEYS[3], ARGV[1]) return 1";
/// Entries read back per `XRANGE` round trip.
const PAGE: usize = 1024;

fn err(e: redis::RedisError) -> StoreError {
    StoreError::Jobs(format!("redis: {e}"))
}

fn stream(ns: &str, client: &str) -> String {
    format!("wirelab:{ns}:client:{client}")
}

fn rooms_key(ns: &str, client: &str) -> String {
    format!("wirelab:{ns}:rooms:{client}")
}

impl RedisInbox {
    pub fn connect(url: &str) -> Result<RedisInbox, StoreError> {
        let con = crate::hub::redis_reply::connect(url).map_err(err)?;
        Ok(RedisInbox {
            con: RefCell::new(con),
            pending: RefCell::new(redis::Pipeline::new()),
            url: url.to_string(),
            local: SqliteInbox::open(None, false)?,
            ids: RefCell::new(Reserved::default()),
        })
    }

    fn q(&self, c: &redis::Cmd) -> Result<Value, StoreError> {
        c.query::<Value>(&mut *self.con.borrow_mut()).map_err(err)
    }

    /// A write, sent with the batch's others at `commit`.
    fn w(&self, c: &redis::Cmd) -> Result<(), StoreError> {
        self.pending.borrow_mut().add_command(c.clone()).ignore();
        Ok(())
    }

    /// Sends the writes waiting in the pipeline (one round trip).
    fn flush(&self) -> Result<(), StoreError> {
        let p = self.pending.replace(redis::Pipeline::new());
        if p.is_empty() {
            return Ok(());
        }
        p.query::<()>(&mut *self.con.borrow_mut()).map_err(err)
    }

    /// A new message id: unique across hub processes, and growing, so that every client's
    /// stream gets its entries in id order whichever hub adds them. Taken from the batch's
    /// reserved run; when that is used up, one `INCRBY` reserves the next (twice as long).
    fn next_id(&self) -> Result<u64, StoreError> {
        let mut r = self.ids.borrow_mut();
        if r.next == r.end {
            let run = (r.last_run * 2).clamp(FIRST_RUN, MAX_RUN);
            let v = self.q(redis::cmd("INCRBY").arg("wirelab:next_id").arg(run))?;
            let top: u64 = text(&v)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| StoreError::Jobs(format!("redis: INCRBY answered {v:?}")))?;
            *r = Reserved {
                next: top + 1 - run,
                end: top + 1,
                last_run: run,
            };
        }
        let id = r.next;
        r.next += 1;
        Ok(id)
    }

    /// Gives up the ids the batch reserved and did not use (a later batch reserves anew, so
    /// that no id waits long enough to fall behind another hub's).
    fn release_ids(&self) {
        self.ids.replace(Reserved::default());
    }

    fn add(&self, m: &Stored) -> Result<(), StoreError> {
        self.w(redis::cmd("EVAL")
            .arg(ADD_SCRIPT)
            .arg(2)
            .arg(stream(&m.namespace, &m.client))
            .arg(ENTRIES)
            .arg(m.id)
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
            self.count_delivery(m.id)?;
        }
        Ok(())
    }

    fn remove(&self, ns: &str, client: &str, id: u64) -> Result<(), StoreError> {
        self.w(redis::cmd("EVAL")
            .arg(REMOVE_SCRIPT)
            .arg(3)
            .arg(stream(ns, client))
            .arg(ENTRIES)
            .arg(DELIVERIES)
            .arg(id))?;
        Ok(())
    }

    fn count_delivery(&self, id: u64) -> Result<(), StoreError> {
        self.w(redis::cmd("HINCRBY").arg(DELIVERIES).arg(id).arg(1))?;
        Ok(())
    }

    fn member(&self, ns: &str, client: &str, room: &str, join: bool) -> Result<(), StoreError> {
        let verb = if join { "SADD" } else { "SREM" };
        self.w(redis::cmd(verb).arg(rooms_key(ns, client)).arg(room))?;
        Ok(())
    }

    fn rooms(&self, ns: &str, client: &str) -> Result<Vec<String>, StoreError> {
        self.flush()?;
        let v = self.q(redis::cmd("SMEMBERS").arg(rooms_key(ns, client)))?;
        Ok(items(&v).iter().filter_map(text).collect())
    }

    /// The client's queue as stored in Redis, oldest first.
    fn queue(&self, ns: &str, client: &str) -> Result<Vec<Stored>, StoreError> {
        self.flush()?;
        let key = stream(ns, client);
        let mut out = Vec::new();
        let mut from = "-".to_string();
        loop {
            let v = self.q(redis::cmd("XRANGE")
                .arg(&key)
                .arg(&from)
                .arg("+")
                .arg("COUNT")
                .arg(PAGE))?;
            let entries = items(&v);
            if let Some(last) = entries.last().and_then(|e| items(e).first()).and_then(text) {
                from = format!("({last}");
            }
            let page: Vec<Stored> = entries
                .iter()
                .filter_map(|e| entry(ns, client, items(e)))
                .collect();
            if !page.is_empty() {
                let mut hmget = redis::cmd("HMGET");
                hmget.arg(DELIVERIES);
                for m in &page {
                    hmget.arg(m.id);
                }
                let counts = self.q(&hmget)?;
                let counts = items(&counts);
                for (i, mut m) in page.into_iter().enumerate() {
                    m.deliveries = counts
                        .get(i)
                        .and_then(text)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    out.push(m);
                }
            }
            if entries.len() < PAGE {
                // Stream order is arrival order; the queue is in id order.
                out.sort_by_key(|m| m.id);
                return Ok(out);
            }
        }
    }
}

/// One `XRANGE` entry as a stored event (its deliveries not yet known); `None` if it carries
/// no id of ours. Entries written before ids moved into a field have the id as entry id.
fn entry(ns: &str, client: &str, e: &[Value]) -> Option<Stored> {
    let fields = e.get(1).map(items).unwrap_or(&[]);
    let id = pairs(fields)
        .find(|(k, _)| k == "id")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .or_else(|| {
            e.first()
                .and_then(text)
                .and_then(|s| s.strip_suffix("-0").and_then(|n| n.parse::<u64>().ok()))
        })?;
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
    for (k, v) in pairs(fields) {
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
    Some(m)
}

impl Inbox for RedisInbox {
    fn begin(&self) -> Result<(), StoreError> {
        self.local.begin()
    }

    fn commit(&self) -> Result<(), StoreError> {
        self.release_ids();
        self.flush()?;
        self.local.commit()
    }

    fn rollback(&self) {
        self.release_ids();
        self.pending.replace(redis::Pipeline::new());
        self.local.rollback()
    }

    fn touch_client(&self, ns: &str, client: &str, now_ms: u64) -> Result<(), StoreError> {
        self.local.touch_client(ns, client, now_ms)
    }

    fn enqueue(&self, e: NewEvent<'_>) -> Result<u64, StoreError> {
        let m = Stored {
            id: self.next_id()?,
            namespace: e.namespace.into(),
            client: e.client.into(),
            event: e.event.into(),
            data: e.data.into(),
            sender: e.sender.into(),
            room: e.room.map(Into::into),
            ack_wanted: e.ack_wanted,
            created_ms: e.now_ms,
            deliveries: u64::from(e.sending),
        };
        self.add(&m)?;
        self.local.insert_local(&m)?;
        Ok(m.id)
    }

    fn drop_message(&self, ns: &str, client: &str, id: u64) -> Result<(), StoreError> {
        self.remove(ns, client, id)?;
        self.local.drop_message(ns, client, id)
    }

    fn ack(&self, id: u64) -> Result<bool, StoreError> {
        if let Some(m) = self.local.get(id)? {
            self.remove(&m.namespace, &m.client, id)?;
        }
        self.local.ack(id)
    }

    fn delivered(&self, id: u64) -> Result<(), StoreError> {
        self.count_delivery(id)?;
        self.local.delivered(id)
    }

    fn get(&self, id: u64) -> Result<Option<Stored>, StoreError> {
        self.local.get(id)
    }

    fn join(&self, ns: &str, client: &str, room: &str) -> Result<(), StoreError> {
        self.member(ns, client, room, true)?;
        self.local.join(ns, client, room)
    }

    fn leave(&self, ns: &str, client: &str, room: &str) -> Result<(), StoreError> {
        self.member(ns, client, room, false)?;
        self.local.leave(ns, client, room)
    }

    fn memberships(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        self.local.memberships()
    }

    fn clients(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        self.local.clients()
    }

    fn queued_ids(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        self.local.queued_ids()
    }

    fn refresh(&self, ns: &str, client: &str) -> Result<Option<Refreshed>, StoreError> {
        let remote = self.queue(ns, client)?;
        let rooms = self.rooms(ns, client)?;
        let have: BTreeSet<u64> = self.local.ids_of(ns, client)?.into_iter().collect();
        let ids: BTreeSet<u64> = remote.iter().map(|m| m.id).collect();
        let gone: Vec<u64> = have.difference(&ids).copied().collect();
        for id in &gone {
            self.local.delete_local(*id)?;
        }
        let mut new = Vec::new();
        for m in remote {
            if !have.contains(&m.id) {
                self.local.insert_local(&m)?;
                new.push(m);
            }
        }
        for room in &rooms {
            self.local.join(ns, client, room)?;
        }
        Ok(Some(Refreshed { new, gone, rooms }))
    }

    fn sqlite(&self) -> &rusqlite::Connection {
        self.local.sqlite()
    }

    fn location(&self) -> Option<String> {
        Some(self.url.clone())
    }
}

//! Recovery state in Redis (`hub serve --store redis://...`): a socket whose hub was killed
//! recovers on the restarted hub, or on any other hub on the same Redis.
//!
//! ```text
//! wirelab:sio:offset           INCR: event offsets, growing, unique across hub processes
//! wirelab:sio:events           sorted set, score = offset, member = one saved event as JSON
//!                              {o, nsp, to, except, packet, atts (base64), at}
//! wirelab:sio:session:{pid}    hash: id, nsp, rooms (JSON)
//! wirelab:sio:seen             sorted set, score = when the socket was last seen (ms), member
//!                              = pid
//! ```
//!
//! A socket is recoverable while it was seen within the window. A hub refreshes the `seen` of
//! its connected sockets at every expiry pass (a quarter of the window), so a hub that is
//! killed stops refreshing them, and they expire one window after its last pass; nothing has to
//! be marked when a hub starts, which would wrong the other hubs on the same Redis.

use std::cell::RefCell;
use std::collections::HashSet;
use std::time::Duration;

use redis::Value;
use serde_json::json;

use super::{
    attachments_from_text, attachments_to_text, now_ms, receives, window_ms, RecoveryError,
    RecoveryStore, SavedEvent, SavedSession,
};
use crate::hub::redis_reply::{items, pairs, text};

const OFFSET: &str = "wirelab:sio:offset";
const EVENTS: &str = "wirelab:sio:events";
const SEEN: &str = "wirelab:sio:seen";

fn session_key(pid: &str) -> String {
    format!("wirelab:sio:session:{pid}")
}

/// Forgets a session if it was last seen before ARGV[2]; 1 if it did.
const EXPIRE_SESSION: &str = "local s = redis.call('ZSCORE', KEYS[1], ARGV[1]) \
if s and tonumber(s) < tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) \
redis.call('DEL', KEYS[2]) return 1 end return 0";

/// How many saved events one expiry round trip looks at.
const EXPIRE_BATCH: isize = 256;

pub struct RedisStore {
    con: RefCell<redis::Connection>,
    /// The pids of the sockets connected to this process (their `seen` is kept fresh).
    live: RefCell<HashSet<String>>,
}

fn reply(what: &str, v: &Value) -> RecoveryError {
    RecoveryError::Reply(format!("{what} answered {v:?}"))
}

impl RedisStore {
    pub fn connect(url: &str) -> Result<RedisStore, RecoveryError> {
        let con = crate::hub::redis_reply::connect(url)?;
        Ok(RedisStore {
            con: RefCell::new(con),
            live: RefCell::new(HashSet::new()),
        })
    }

    fn q(&self, c: &redis::Cmd) -> Result<Value, RecoveryError> {
        Ok(c.query::<Value>(&mut *self.con.borrow_mut())?)
    }

    fn seen_now(&self, pid: &str) -> Result<(), RecoveryError> {
        self.q(redis::cmd("ZADD").arg(SEEN).arg(now_ms()).arg(pid))?;
        Ok(())
    }
}

impl RecoveryStore for RedisStore {
    fn connected(&self, s: &SavedSession) -> Result<(), RecoveryError> {
        let rooms = serde_json::to_string(&s.rooms).unwrap_or_else(|_| "[]".into());
        let mut p = redis::pipe();
        p.cmd("HSET")
            .arg(session_key(&s.pid))
            .arg("id")
            .arg(&s.id)
            .arg("nsp")
            .arg(&s.nsp)
            .arg("rooms")
            .arg(rooms)
            .ignore()
            .cmd("ZADD")
            .arg(SEEN)
            .arg(now_ms())
            .arg(&s.pid)
            .ignore();
        p.query::<()>(&mut *self.con.borrow_mut())?;
        self.live.borrow_mut().insert(s.pid.clone());
        Ok(())
    }

    fn set_rooms(&self, pid: &str, rooms: &[String]) -> Result<(), RecoveryError> {
        let rooms = serde_json::to_string(rooms).unwrap_or_else(|_| "[]".into());
        self.q(redis::cmd("HSET")
            .arg(session_key(pid))
            .arg("rooms")
            .arg(rooms))?;
        Ok(())
    }

    fn disconnected(&self, pid: &str, recoverable: bool) -> Result<(), RecoveryError> {
        self.live.borrow_mut().remove(pid);
        if recoverable {
            return self.seen_now(pid);
        }
        let mut p = redis::pipe();
        p.cmd("DEL")
            .arg(session_key(pid))
            .ignore()
            .cmd("ZREM")
            .arg(SEEN)
            .arg(pid)
            .ignore();
        p.query::<()>(&mut *self.con.borrow_mut())?;
        Ok(())
    }

    fn find(
        &self,
        pid: &str,
        nsp: &str,
        window: Duration,
    ) -> Result<Option<SavedSession>, RecoveryError> {
        let seen = self.q(redis::cmd("ZSCORE").arg(SEEN).arg(pid))?;
        let Some(seen) = text(&seen).and_then(|s| s.parse::<f64>().ok()) else {
            return Ok(None);
        };
        if (seen as i64) < now_ms().saturating_sub(window_ms(window)) {
            return Ok(None);
        }
        let h = self.q(redis::cmd("HGETALL").arg(session_key(pid)))?;
        let (mut id, mut got_nsp, mut rooms) = (None, None, Vec::new());
        let fields: Vec<(String, String)> = match &h {
            Value::Map(m) => m
                .iter()
                .filter_map(|(k, v)| Some((text(k)?, text(v)?)))
                .collect(),
            v => pairs(items(v)).collect(),
        };
        for (k, v) in fields {
            match k.as_str() {
                "id" => id = Some(v),
                "nsp" => got_nsp = Some(v),
                "rooms" => rooms = serde_json::from_str(&v).unwrap_or_default(),
                _ => {}
            }
        }
        match (id, got_nsp) {
            (Some(id), Some(n)) if n == nsp => Ok(Some(SavedSession {
                pid: pid.to_string(),
                id,
                nsp: n,
                rooms,
            })),
            _ => Ok(None),
        }
    }

    fn next_offset(&self) -> Result<i64, RecoveryError> {
        let v = self.q(redis::cmd("INCR").arg(OFFSET))?;
        match v {
            Value::Int(n) => Ok(n),
            v => Err(reply("INCR", &v)),
        }
    }

    fn save_event(
        &self,
        offset: i64,
        nsp: &str,
        rooms: Option<&[String]>,
        except: Option<&str>,
        packet: &str,
        attachments: &[Vec<u8>],
    ) -> Result<(), RecoveryError> {
        let atts = attachments_to_text(attachments);
        let member = json!({
            "o": offset,
            "nsp": nsp,
            "to": rooms,
            "except": except,
            "packet": packet,
            "atts": atts,
            "at": now_ms(),
        });
        self.q(redis::cmd("ZADD")
            .arg(EVENTS)
            .arg(offset)
            .arg(member.to_string()))?;
        Ok(())
    }

    fn missed(
        &self,
        nsp: &str,
        offset: i64,
        id: &str,
        rooms: &[String],
    ) -> Result<Vec<SavedEvent>, RecoveryError> {
        let v = self.q(redis::cmd("ZRANGEBYSCORE")
            .arg(EVENTS)
            .arg(format!("({offset}"))
            .arg("+inf"))?;
        let mut out = Vec::new();
        for m in items(&v).iter().filter_map(text) {
            let Ok(e) = serde_json::from_str::<serde_json::Value>(&m) else {
                continue;
            };
            if e["nsp"] != nsp {
                continue;
            }
            let to: Option<Vec<String>> = e["to"].as_array().map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect()
            });
            if !receives(to.as_deref(), e["except"].as_str(), id, rooms) {
                continue;
            }
            let attachments = e["atts"]
                .as_array()
                .map(|a| attachments_from_text(a.iter().filter_map(|x| x.as_str())))
                .unwrap_or_default();
            out.push(SavedEvent {
                offset: e["o"].as_i64().unwrap_or(0),
                packet: e["packet"].as_str().unwrap_or_default().to_string(),
                attachments,
            });
        }
        Ok(out)
    }

    fn expire(&self, window: Duration) -> Result<(u64, u64), RecoveryError> {
        let now = now_ms();
        let before = now.saturating_sub(window_ms(window));
        // This process's sockets are alive: keep them fresh.
        let live: Vec<String> = self.live.borrow().iter().cloned().collect();
        if !live.is_empty() {
            let mut p = redis::pipe();
            for pid in &live {
                p.cmd("ZADD").arg(SEEN).arg(now).arg(pid).ignore();
            }
            p.query::<()>(&mut *self.con.borrow_mut())?;
        }
        // Events: offsets grow with time, so the old ones are at the low end. Exactly the
        // members read are removed (ZREM), so another hub expiring at the same moment cannot
        // make this one delete or count an event twice or one that is still in the window.
        let mut events = 0u64;
        loop {
            let v = self.q(redis::cmd("ZRANGE")
                .arg(EVENTS)
                .arg(0)
                .arg(EXPIRE_BATCH - 1))?;
            let batch: Vec<String> = items(&v).iter().filter_map(text).collect();
            let old: Vec<&String> = batch
                .iter()
                .take_while(|m| {
                    serde_json::from_str::<serde_json::Value>(m)
                        .ok()
                        .and_then(|e| e["at"].as_i64())
                        .is_none_or(|at| at < before)
                })
                .collect();
            if old.is_empty() {
                break;
            }
            let mut zrem = redis::cmd("ZREM");
            zrem.arg(EVENTS);
            for m in &old {
                zrem.arg(m.as_str());
            }
            events += crate::hub::redis_reply::int(&self.q(&zrem)?);
            if old.len() < batch.len() || batch.len() < EXPIRE_BATCH as usize {
                break;
            }
        }
        // Sessions not seen within the window: removed only if still not seen since (a Lua
        // script checks the score again), counted only by the hub whose ZREM took them.
        let v = self.q(redis::cmd("ZRANGEBYSCORE")
            .arg(SEEN)
            .arg("-inf")
            .arg(format!("({before}")))?;
        let mut gone = 0u64;
        for pid in items(&v).iter().filter_map(text) {
            let removed = self.q(redis::cmd("EVAL")
                .arg(EXPIRE_SESSION)
                .arg(2)
                .arg(SEEN)
                .arg(session_key(&pid))
                .arg(&pid)
                .arg(before))?;
            gone += crate::hub::redis_reply::int(&removed);
        }
        Ok((events, gone))
    }
}

//! Several hub processes on one Redis (`hub serve --store redis://...`): room and namespace
//! broadcasts cross processes over Redis pub/sub.
//!
//! A hub that handles an emit to rooms or to the namespace delivers it to its own clients as
//! usual, then `PUBLISH`es it on `wirelab:bcast:{namespace}` with its node id. Every hub
//! subscribes to `wirelab:bcast:*` (`PSUBSCRIBE`, on a thread of its own with its own
//! connection) and delivers what other nodes published to its own members of those rooms.
//! Watch it with `redis-cli PSUBSCRIBE 'wirelab:bcast:*'`.
//!
//! A broadcast from another hub goes through the same routing as a local emit
//! (`route.rs`): volatile stays volatile, the queue cap holds, and members the publishing hub
//! already queued the event for (in the shared Redis inbox) are read back, not queued twice.
//!
//! Pub/sub is fire-and-forget: a hub that is down when an event is published does not get it
//! later. What must not be lost goes to a work queue (Redis Streams) instead.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One broadcast as published.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Remote {
    /// The publishing hub process (it ignores its own messages).
    pub node: String,
    pub namespace: String,
    pub event: String,
    pub data: Value,
    pub from: String,
    /// Rooms, or empty for the whole namespace.
    #[serde(default)]
    pub rooms: Vec<String>,
    pub sent_ms: u64,
    /// Identified clients the publishing hub queued it for (in Redis).
    #[serde(default)]
    pub queued_for: Vec<String>,
    /// Sent only to members connected now, never queued.
    #[serde(default)]
    pub volatile: bool,
}

/// This hub process's side of the cluster: its node id and a connection to publish on.
pub struct Cluster {
    pub node: String,
    con: redis::Connection,
}

impl Cluster {
    pub fn connect(url: &str) -> Result<Cluster, String> {
        let con = crate::hub::redis_reply::connect(url).map_err(|e| e.to_string())?;
        Ok(Cluster {
            node: node_id(),
            con,
        })
    }

    /// Publishes a broadcast to the other hub processes.
    pub fn publish(&mut self, r: &Remote) -> Result<(), String> {
        let payload = serde_json::to_string(r).map_err(|e| e.to_string())?;
        redis::cmd("PUBLISH")
            .arg(channel(&r.namespace))
            .arg(payload)
            .query::<redis::Value>(&mut self.con)
            .map_err(|e| format!("redis: {e}"))?;
        Ok(())
    }
}

pub fn channel(ns: &str) -> String {
    format!("wirelab:bcast:{ns}")
}

/// A node id for this process: pid and start time.
pub fn node_id() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{:x}", std::process::id(), t & 0xffff_ffff)
}

/// Subscribes on a thread of its own and calls `deliver` with every broadcast of another
/// node, until `deliver` returns false (the hub has stopped).
pub fn subscribe(
    url: &str,
    node: String,
    deliver: impl Fn(Remote) -> bool + Send + 'static,
) -> Result<(), String> {
    let mut con = crate::hub::redis_reply::connect(url).map_err(|e| e.to_string())?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut ps = con.as_pubsub();
        let r = ps.psubscribe("wirelab:bcast:*");
        let ok = r.is_ok();
        let _ = ready_tx.send(r.map_err(|e| e.to_string()));
        if !ok {
            return;
        }
        let _ = ps.set_read_timeout(Some(Duration::from_millis(500)));
        loop {
            match ps.get_message() {
                Ok(m) => {
                    let Ok(payload) = m.get_payload::<String>() else {
                        continue;
                    };
                    let Ok(r) = serde_json::from_str::<Remote>(&payload) else {
                        continue;
                    };
                    if r.node != node && !deliver(r) {
                        return;
                    }
                }
                Err(e) if e.is_timeout() => {
                    // Still wanted? A probe with nothing in it says.
                    if !deliver(Remote {
                        node: String::new(),
                        namespace: String::new(),
                        event: String::new(),
                        data: Value::Null,
                        from: String::new(),
                        rooms: Vec::new(),
                        sent_ms: 0,
                        queued_for: Vec::new(),
                        volatile: false,
                    }) {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    });
    // Subscribed before the hub says it is listening: no broadcast is missed after that.
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .map_err(|_| "no answer to PSUBSCRIBE".to_string())?
}

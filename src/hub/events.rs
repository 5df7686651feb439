//! What `hub serve` reports, as typed events; `render::hub` prints them as text or JSON lines.

use std::sync::Arc;

use serde::Serialize;

/// Where `hub serve` reports go.
pub type HubSink = Arc<dyn Fn(HubEvent) + Send + Sync>;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubEvent {
    Listening {
        addr: String,
        /// The SQLite file, or null when the queue lives in memory only.
        data: Option<String>,
        queue_cap: u64,
        ack_timeout_s: f64,
        /// Durable events in flight to one connection at most (`--window`).
        window: u64,
    },
    /// A plain HTTP request (the browser page is served on `GET /`).
    Http {
        conn: u64,
        path: String,
        status: u16,
    },
    Rejected {
        conn: u64,
        reason: String,
    },
    Connected {
        conn: u64,
        peer: String,
        namespace: String,
        client: Option<String>,
        queued: u64,
    },
    /// A second connection with the same client id replaced this one.
    Replaced {
        conn: u64,
        by: u64,
    },
    Joined {
        conn: u64,
        room: String,
    },
    Left {
        conn: u64,
        room: String,
    },
    Emitted {
        conn: u64,
        /// The event's name.
        name: String,
        to: String,
        recipients: u64,
        online: u64,
        queued: u64,
        dropped: u64,
        /// Also published to the other hubs on the same Redis.
        published: bool,
    },
    Delivered {
        conn: u64,
        to: String,
        id: u64,
        name: String,
        redelivery: bool,
    },
    Acked {
        conn: u64,
        by: String,
        id: u64,
        /// Events still queued for this client.
        depth: u64,
    },
    /// The queue of `client` was full: the oldest event was dropped.
    Dropped {
        namespace: String,
        client: String,
        id: u64,
        cap: u64,
    },
    ProtocolError {
        conn: u64,
        error: String,
    },
    Disconnected {
        conn: u64,
        client: Option<String>,
        /// Delivered but not acknowledged: stays queued for the next connection.
        unacked: u64,
        error: Option<String>,
    },
    StoreError {
        error: String,
    },
    Stopped {
        reason: &'static str,
        connections: u64,
    },
    /// Work queues (src/hub/work/): enqueued, delivered, acked, timeout, dead, ...
    Work(super::work::WorkLog),
}

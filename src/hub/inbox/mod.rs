//! The per-client inbox: a durable queue of events for each identified client, kept while it
//! is offline or has not acknowledged them, and the rooms it is in.
//!
//! One trait, [`Inbox`], with two stores behind it:
//! - [`sqlite::SqliteInbox`]: one SQLite file (WAL) in the data directory (`hub serve --data`);
//! - [`redis::RedisInbox`]: Redis (`hub serve --store redis://...`), shared by several hub
//!   processes, with an in-memory SQLite index of this process's clients.
//!
//! The hub calls it from one task, in batches: `begin`, many changes, `commit`; nothing a batch
//! produced is sent before its `commit` returned (write-ahead).

pub mod redis;
pub mod sqlite;

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot create the data directory {0}: {1}")]
    Dir(PathBuf, std::io::Error),
    #[error("no hub data in {0} (start `wirelab hub serve --data {0}` first)")]
    Missing(PathBuf),
    #[error("sqlite: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the hub task ended unexpectedly")]
    HubEnded,
    /// Redis unreachable or answering nonsense, or a work-queue store error.
    #[error("{0}")]
    Jobs(String),
}

/// One queued event, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub id: u64,
    pub namespace: String,
    pub client: String,
    pub event: String,
    /// The event's data as JSON text.
    pub data: String,
    pub sender: String,
    pub room: Option<String>,
    pub ack_wanted: bool,
    pub created_ms: u64,
    pub deliveries: u64,
}

/// One row of `hub queue`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueueRow {
    pub namespace: String,
    pub client: String,
    pub depth: u64,
    pub oldest_id: Option<u64>,
    pub oldest_event: Option<String>,
    pub oldest_ms: Option<u64>,
    pub dropped: u64,
    pub rooms: Vec<String>,
    pub last_seen_ms: u64,
}

/// An event to write for one receiver.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    pub namespace: &'a str,
    pub client: &'a str,
    pub event: &'a str,
    /// JSON text.
    pub data: &'a str,
    pub sender: &'a str,
    pub room: Option<&'a str>,
    pub ack_wanted: bool,
    pub now_ms: u64,
    /// It goes out at once: one delivery is counted.
    pub sending: bool,
}

/// Where identified clients' events and rooms are kept.
pub trait Inbox: Send {
    /// Starts a batch (one transaction).
    fn begin(&self) -> Result<(), StoreError>;
    /// Ends a batch: everything in it is durable once this returns.
    fn commit(&self) -> Result<(), StoreError>;
    /// Drops a failed batch.
    fn rollback(&self);
    /// Records that `client` connected to `namespace` (or was addressed there).
    fn touch_client(&self, ns: &str, client: &str, now_ms: u64) -> Result<(), StoreError>;
    /// Writes one event for one receiver; returns its id (ids grow and are never reused).
    fn enqueue(&self, e: NewEvent<'_>) -> Result<u64, StoreError>;
    /// Drops a queued event because its client's queue is full, and counts the drop.
    fn drop_message(&self, ns: &str, client: &str, id: u64) -> Result<(), StoreError>;
    /// Deletes an acknowledged event; false if it was not there.
    fn ack(&self, id: u64) -> Result<bool, StoreError>;
    /// Counts one more delivery attempt.
    fn delivered(&self, id: u64) -> Result<(), StoreError>;
    fn get(&self, id: u64) -> Result<Option<Stored>, StoreError>;
    fn join(&self, ns: &str, client: &str, room: &str) -> Result<(), StoreError>;
    fn leave(&self, ns: &str, client: &str, room: &str) -> Result<(), StoreError>;
    /// Every (namespace, client, room) membership.
    fn memberships(&self) -> Result<Vec<(String, String, String)>, StoreError>;
    /// Every known (namespace, client) with its drop count.
    fn clients(&self) -> Result<Vec<(String, String, u64)>, StoreError>;
    /// (namespace, client, id) of every queued event, oldest first.
    fn queued_ids(&self) -> Result<Vec<(String, String, u64)>, StoreError>;
    /// A shared store: the client's queue and rooms as other hub processes left them, with
    /// this process's index brought up to date (`None`: this process is the only writer).
    fn refresh(&self, ns: &str, client: &str) -> Result<Option<Refreshed>, StoreError>;
    /// The SQLite file or connection that holds the batch (embedded work queues use it).
    fn sqlite(&self) -> &rusqlite::Connection;
    /// What to show as the store: the file, the Redis URL, or `None` (in memory).
    fn location(&self) -> Option<String>;
}

/// A client's queue read back from a shared store.
#[derive(Debug, Default)]
pub struct Refreshed {
    /// Events new to this process, oldest first.
    pub new: Vec<Stored>,
    /// Ids this process had that are gone (acknowledged through another hub).
    pub gone: Vec<u64>,
    pub rooms: Vec<String>,
}

//! Work queues with competing consumers (docs/hub-protocol.md, "Work queues").
//!
//! A room fans an event out to every member; a work queue gives each job to exactly **one**
//! member of its consumer group. The member acknowledges the job when it is done; a job whose
//! member disconnects, or does not acknowledge within the ack timeout, goes to another member
//! (at-least-once, with a delivery count); after `max_attempts` deliveries it goes to the
//! dead-letter list instead.
//!
//! One trait, [`JobStore`], with two stores behind it: [`sqlite::SqliteJobs`] (tables in the
//! hub's SQLite file, written in the same transaction as everything else) and
//! [`redis::RedisJobs`] (Redis Streams, where several hub processes share one consumer group).
//! [`dispatch::Work`] is the hub's side: the members of each queue and the jobs in flight.

pub mod dispatch;
pub mod redis;
pub mod sqlite;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use thiserror::Error;

use super::inbox::StoreError;

#[derive(Debug, Error)]
pub enum JobError {
    #[error("sqlite: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("redis: {0}")]
    Redis(String),
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

pub fn summary_entry(
    map: &mut BTreeMap<(String, String), QueueSummary>,
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

/// What the work queues report (one `hub serve` line each, `"event":"work"` in JSON).
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

impl From<JobError> for StoreError {
    fn from(e: JobError) -> Self {
        StoreError::Jobs(e.to_string())
    }
}

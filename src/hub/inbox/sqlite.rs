//! The inbox on SQLite: the durable per-client queue (rusqlite, bundled) in WAL mode, one file `hub.sqlite3` in the
//! data directory. Students can open it with `sqlite3 DIR/hub.sqlite3` while the hub runs:
//! in WAL mode readers do not block the writer and see the last committed state.
//!
//! ```text
//! messages(id INTEGER PRIMARY KEY, namespace, client, event, data, sender, room, ack_wanted,
//!          created_ms, deliveries)     one row per (event, identified receiver); ids grow, so
//!                                      an insert appends at the right edge of the b-tree
//! meta(key, value)                     next_id
//! memberships(namespace, client, room) rooms of identified clients, outliving connections
//! clients(namespace, client, first_seen_ms, last_seen_ms, dropped)
//! ```
//!
//! Ids come from a counter whose next value is stored in `meta` in the same transaction as the
//! rows that used it, so an id is never reused (not even after the newest rows were deleted and
//! the hub restarted): a client that drops duplicates by id never drops a new event by mistake.

use std::cell::Cell;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::{Inbox, NewEvent, QueueRow, Refreshed, StoreError, Stored};

/// The database file inside the data directory.
pub const DB_FILE: &str = "hub.sqlite3";

pub struct SqliteInbox {
    conn: Connection,
    pub path: Option<PathBuf>,
    /// The next message id, and the value last written to `meta`.
    next_id: Cell<u64>,
    saved_next_id: Cell<u64>,
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages(
  id INTEGER PRIMARY KEY,
  namespace TEXT NOT NULL, client TEXT NOT NULL, event TEXT NOT NULL, data TEXT NOT NULL,
  sender TEXT NOT NULL, room TEXT, ack_wanted INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL, deliveries INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS memberships(
  namespace TEXT NOT NULL, client TEXT NOT NULL, room TEXT NOT NULL,
  PRIMARY KEY(namespace, client, room));
CREATE TABLE IF NOT EXISTS clients(
  namespace TEXT NOT NULL, client TEXT NOT NULL, first_seen_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL, dropped INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(namespace, client));
";

/// Deletes an SQLite database file and its WAL and shared-memory files (`hub serve --reset`).
pub fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

impl SqliteInbox {
    /// Opens (creating) `dir/hub.sqlite3`, or an in-memory database when `dir` is `None`.
    /// `reset` deletes what was there first.
    pub fn open(dir: Option<&Path>, reset: bool) -> Result<SqliteInbox, StoreError> {
        let (conn, path) = match dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|e| StoreError::Dir(d.to_path_buf(), e))?;
                let p = d.join(DB_FILE);
                if reset {
                    remove_database(&p);
                }
                (Connection::open(&p)?, Some(p))
            }
            None => (Connection::open_in_memory()?, None),
        };
        // WAL: readers (sqlite3, `hub queue`) never block the hub. synchronous=NORMAL: a
        // commit is durable once it is in the WAL file, which survives a killed process (not
        // necessarily a power cut).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoint (copy the WAL into the database file, with an fsync) every 8000 pages
        // (32 MiB) instead of 1000: the same few pages are rewritten by every batch.
        conn.pragma_update(None, "wal_autocheckpoint", 8000)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let saved: Option<i64> = conn
            .query_row("SELECT value FROM meta WHERE key='next_id'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let max: Option<i64> = conn.query_row("SELECT MAX(id) FROM messages", [], |r| r.get(0))?;
        let next = u(saved.unwrap_or(1)).max(u(max.unwrap_or(0)) + 1).max(1);
        Ok(SqliteInbox {
            conn,
            path,
            next_id: Cell::new(next),
            saved_next_id: Cell::new(u(saved.unwrap_or(0))),
        })
    }

    /// Opens an existing data directory read-only (for `hub queue`).
    pub fn open_read_only(dir: &Path) -> Result<SqliteInbox, StoreError> {
        let p = dir.join(DB_FILE);
        if !p.exists() {
            return Err(StoreError::Missing(dir.to_path_buf()));
        }
        let conn = Connection::open_with_flags(
            &p,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(SqliteInbox {
            conn,
            path: Some(p),
            next_id: Cell::new(0),
            saved_next_id: Cell::new(0),
        })
    }
}

impl Inbox for SqliteInbox {
    fn sqlite(&self) -> &Connection {
        &self.conn
    }

    fn location(&self) -> Option<String> {
        self.path.as_ref().map(|p| p.display().to_string())
    }

    fn refresh(&self, _ns: &str, _client: &str) -> Result<Option<Refreshed>, StoreError> {
        Ok(None)
    }

    fn begin(&self) -> Result<(), StoreError> {
        self.conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(())
    }

    /// Commits, with the id counter if ids were used.
    fn commit(&self) -> Result<(), StoreError> {
        let next = self.next_id.get();
        if next != self.saved_next_id.get() {
            self.conn
                .prepare_cached("INSERT OR REPLACE INTO meta(key, value) VALUES('next_id', ?1)")?
                .execute(params![i(next)])?;
        }
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.saved_next_id.set(next);
        Ok(())
    }

    /// Rolls back; ids handed out in the transaction are not handed out again.
    fn rollback(&self) {
        let _ = self.conn.execute_batch("ROLLBACK");
    }

    /// Records that `client` connected to `namespace` (or was addressed there).
    fn touch_client(&self, ns: &str, client: &str, now_ms: u64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO clients(namespace, client, first_seen_ms, last_seen_ms) VALUES(?1,?2,?3,?3)
                 ON CONFLICT(namespace, client) DO UPDATE SET last_seen_ms = ?3",
            )?
            .execute(params![ns, client, i(now_ms)])?;
        Ok(())
    }

    fn enqueue(&self, e: NewEvent<'_>) -> Result<u64, StoreError> {
        let id = self.next_id.get();
        self.conn
            .prepare_cached(
                "INSERT INTO messages(namespace, client, id, event, data, sender, room, ack_wanted, created_ms, deliveries)
                 VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
            )?
            .execute(params![
                e.namespace,
                e.client,
                i(id),
                e.event,
                e.data,
                e.sender,
                e.room,
                e.ack_wanted,
                i(e.now_ms),
                i64::from(e.sending)
            ])?;
        self.next_id.set(id + 1);
        Ok(id)
    }

    /// Drops a queued event because its client's queue is full, and counts the drop.
    fn drop_message(&self, ns: &str, client: &str, id: u64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM messages WHERE id=?1")?
            .execute(params![i(id)])?;
        self.conn
            .prepare_cached(
                "UPDATE clients SET dropped = dropped + 1 WHERE namespace=?1 AND client=?2",
            )?
            .execute(params![ns, client])?;
        Ok(())
    }

    /// Deletes an acknowledged event (the caller checked that it is the acking client's);
    /// false if it was not there.
    fn ack(&self, id: u64) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM messages WHERE id=?1")?
            .execute(params![i(id)])?;
        Ok(n > 0)
    }

    /// Counts one more delivery attempt.
    fn delivered(&self, id: u64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE messages SET deliveries = deliveries + 1 WHERE id=?1")?
            .execute(params![i(id)])?;
        Ok(())
    }

    /// One stored event.
    fn get(&self, id: u64) -> Result<Option<Stored>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, namespace, client, event, data, sender, room, ack_wanted, created_ms, deliveries
                 FROM messages WHERE id=?1",
            )?
            .query_row(params![i(id)], |r| {
                Ok(Stored {
                    id: u(r.get(0)?),
                    namespace: r.get(1)?,
                    client: r.get(2)?,
                    event: r.get(3)?,
                    data: r.get(4)?,
                    sender: r.get(5)?,
                    room: r.get(6)?,
                    ack_wanted: r.get(7)?,
                    created_ms: u(r.get(8)?),
                    deliveries: u(r.get(9)?),
                })
            })
            .optional()?)
    }

    /// (namespace, client, id) of every queued event, oldest first.
    fn queued_ids(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT namespace, client, id FROM messages ORDER BY id")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, u(r.get(2)?))))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn join(&self, ns: &str, client: &str, room: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO memberships(namespace, client, room) VALUES(?1,?2,?3)",
            )?
            .execute(params![ns, client, room])?;
        Ok(())
    }

    fn leave(&self, ns: &str, client: &str, room: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM memberships WHERE namespace=?1 AND client=?2 AND room=?3")?
            .execute(params![ns, client, room])?;
        Ok(())
    }

    /// Every (namespace, client, room) membership.
    fn memberships(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT namespace, client, room FROM memberships ORDER BY 1,2,3")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every known client with its drop count.
    fn clients(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT namespace, client, dropped FROM clients ORDER BY 1,2")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, u(r.get(2)?))))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl SqliteInbox {
    /// Queue depth and oldest event per client, for `hub queue` (one pass over the queue).
    pub fn summary(&self) -> Result<Vec<QueueRow>, StoreError> {
        let memberships = self.memberships()?;
        let mut queues: std::collections::HashMap<(String, String), (u64, u64, String, u64)> =
            std::collections::HashMap::new();
        {
            let mut st = self.conn.prepare(
                "SELECT namespace, client, id, event, created_ms FROM messages ORDER BY id",
            )?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                let key = (r.get::<_, String>(0)?, r.get::<_, String>(1)?);
                let id = u(r.get(2)?);
                let q = queues
                    .entry(key)
                    .or_insert_with(|| (0, id, String::new(), 0));
                if q.0 == 0 {
                    q.2 = r.get(3)?;
                    q.3 = u(r.get(4)?);
                }
                q.0 += 1;
            }
        }
        let mut st = self
            .conn
            .prepare("SELECT namespace, client, dropped, last_seen_ms FROM clients ORDER BY 1,2")?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                u(r.get(2)?),
                u(r.get(3)?),
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (namespace, client, dropped, last_seen_ms) = row?;
            let q = queues.remove(&(namespace.clone(), client.clone()));
            let rooms = memberships
                .iter()
                .filter(|(n, c, _)| *n == namespace && *c == client)
                .map(|(_, _, r)| r.clone())
                .collect();
            out.push(QueueRow {
                depth: q.as_ref().map(|q| q.0).unwrap_or(0),
                oldest_id: q.as_ref().map(|q| q.1),
                oldest_event: q.as_ref().map(|q| q.2.clone()),
                oldest_ms: q.as_ref().map(|q| q.3),
                namespace,
                client,
                dropped,
                rooms,
                last_seen_ms,
            });
        }
        Ok(out)
    }
}

/// The index of a shared store (src/hub/inbox/redis.rs): rows read back from Redis.
impl SqliteInbox {
    /// Inserts an event read back from the shared store, keeping its id.
    pub fn insert_local(&self, m: &Stored) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO messages(namespace, client, id, event, data, sender, room, ack_wanted, created_ms, deliveries)
                 VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
            )?
            .execute(params![m.namespace, m.client, i(m.id), m.event, m.data, m.sender, m.room, m.ack_wanted, i(m.created_ms), i(m.deliveries)])?;
        Ok(())
    }

    /// Deletes an event that is gone from the shared store.
    pub fn delete_local(&self, id: u64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM messages WHERE id=?1")?
            .execute(params![i(id)])?;
        Ok(())
    }

    /// Ids this index holds for one client, oldest first.
    pub fn ids_of(&self, ns: &str, client: &str) -> Result<Vec<u64>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id FROM messages WHERE namespace=?1 AND client=?2 ORDER BY id",
        )?;
        let rows = st.query_map(params![ns, client], |r| Ok(u(r.get(0)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::too_many_arguments)]
    fn ev<'a>(
        namespace: &'a str,
        client: &'a str,
        event: &'a str,
        data: &'a str,
        sender: &'a str,
        room: Option<&'a str>,
        ack_wanted: bool,
        now_ms: u64,
        sending: bool,
    ) -> NewEvent<'a> {
        NewEvent {
            namespace,
            client,
            event,
            data,
            sender,
            room,
            ack_wanted,
            now_ms,
            sending,
        }
    }

    #[test]
    fn enqueue_ack_and_order_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteInbox::open(Some(dir.path()), false).unwrap();
        s.begin().unwrap();
        s.touch_client("/p", "d1", 1).unwrap();
        let a = s
            .enqueue(ev(
                "/p",
                "d1",
                "pickup",
                "{}",
                "v",
                Some("v7"),
                false,
                1,
                false,
            ))
            .unwrap();
        let b = s
            .enqueue(ev("/p", "d1", "pickup", "2", "v", None, true, 2, true))
            .unwrap();
        s.join("/p", "d1", "v7").unwrap();
        s.commit().unwrap();
        assert!(b > a);
        drop(s);
        let s = SqliteInbox::open(Some(dir.path()), false).unwrap();
        let ids: Vec<u64> = s.queued_ids().unwrap().iter().map(|q| q.2).collect();
        assert_eq!(ids, vec![a, b]);
        assert!(s.get(b).unwrap().unwrap().ack_wanted);
        assert!(s.ack(a).unwrap());
        assert!(!s.ack(a).unwrap(), "second ack finds nothing");
        assert_eq!(s.get(b).unwrap().map(|m| m.data), Some("2".to_string()));
        s.drop_message("/p", "d1", b).unwrap();
        assert_eq!(s.get(b).unwrap(), None);
        // The newest rows are gone; after a reopen their ids are still not handed out again.
        drop(s);
        let s = SqliteInbox::open(Some(dir.path()), false).unwrap();
        s.begin().unwrap();
        let c = s
            .enqueue(ev("/p", "d1", "x", "1", "v", None, false, 3, false))
            .unwrap();
        s.commit().unwrap();
        assert!(c > b, "id {c} reused (b = {b})");
        let rows = s.summary().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].depth, rows[0].dropped), (1, 1));
        assert_eq!(rows[0].rooms, vec!["v7".to_string()]);
        assert_eq!(rows[0].oldest_event.as_deref(), Some("x"));
        let ro = SqliteInbox::open_read_only(dir.path()).unwrap();
        assert_eq!(ro.summary().unwrap()[0].depth, 1);
        assert!(matches!(
            SqliteInbox::open_read_only(&dir.path().join("nope")),
            Err(StoreError::Missing(_))
        ));
    }
}

//! Recovery state in SQLite (`DIR/sio.sqlite3`, WAL), so it survives a SIGKILL and a
//! restart of the hub:
//!
//! - `sio_session`: one row per socket (`pid` -> socket id, namespace, rooms, when last seen);
//! - `sio_event`: every relayed event, as sent (offset = rowid, the text packet with the offset
//!   as its last argument, the attachments), with who it went to (rooms or the whole namespace,
//!   minus the sender).

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::{
    attachments_from_text, attachments_to_text, now_ms, receives, window_ms, RecoveryError,
    RecoveryStore, SavedEvent, SavedSession,
};

/// The SQLite store: one file in the hub's data directory (or in memory).
pub struct SqliteStore {
    db: Connection,
}

const SCHEMA: &str = "
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE IF NOT EXISTS sio_session (
    pid TEXT PRIMARY KEY, id TEXT NOT NULL, nsp TEXT NOT NULL, rooms TEXT NOT NULL,
    connected INTEGER NOT NULL, seen INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sio_event (
    offset INTEGER PRIMARY KEY AUTOINCREMENT, nsp TEXT NOT NULL, rooms TEXT,
    except_id TEXT, packet TEXT NOT NULL, attachments TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sio_event_at ON sio_event(at);
";

impl SqliteStore {
    /// Opens (creates) `DIR/sio.sqlite3`. Sockets that were connected when the hub last
    /// stopped (or was killed) count as disconnected now.
    pub fn open(dir: &Path, reset: bool) -> Result<SqliteStore, RecoveryError> {
        let path = dir.join("sio.sqlite3");
        if reset {
            crate::hub::inbox::sqlite::remove_database(&path);
        }
        let db = Connection::open(&path).map_err(|source| RecoveryError::Open {
            path: path.display().to_string(),
            source,
        })?;
        SqliteStore::init(db)
    }

    /// A store in memory (nothing survives a restart).
    pub fn memory() -> Result<SqliteStore, RecoveryError> {
        SqliteStore::init(Connection::open_in_memory()?)
    }

    fn init(db: Connection) -> Result<SqliteStore, RecoveryError> {
        db.execute_batch(SCHEMA)?;
        db.execute(
            "UPDATE sio_session SET connected = 0, seen = ?1 WHERE connected = 1",
            params![now_ms()],
        )?;
        Ok(SqliteStore { db })
    }
}

impl RecoveryStore for SqliteStore {
    /// A socket connected (or was recovered).
    fn connected(&self, s: &SavedSession) -> Result<(), RecoveryError> {
        let rooms = serde_json::to_string(&s.rooms).unwrap_or_else(|_| "[]".into());
        self.db
            .prepare_cached(
                "INSERT OR REPLACE INTO sio_session (pid, id, nsp, rooms, connected, seen)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5)",
            )?
            .execute(params![s.pid, s.id, s.nsp, rooms, now_ms()])?;
        Ok(())
    }

    fn set_rooms(&self, pid: &str, rooms: &[String]) -> Result<(), RecoveryError> {
        let rooms = serde_json::to_string(rooms).unwrap_or_else(|_| "[]".into());
        self.db
            .prepare_cached("UPDATE sio_session SET rooms = ?2 WHERE pid = ?1")?
            .execute(params![pid, rooms])?;
        Ok(())
    }

    /// A socket went away: kept for the window if it may come back, deleted if it left on
    /// purpose.
    fn disconnected(&self, pid: &str, recoverable: bool) -> Result<(), RecoveryError> {
        if recoverable {
            self.db
                .prepare_cached("UPDATE sio_session SET connected = 0, seen = ?2 WHERE pid = ?1")?
                .execute(params![pid, now_ms()])?;
        } else {
            self.db
                .prepare_cached("DELETE FROM sio_session WHERE pid = ?1")?
                .execute(params![pid])?;
        }
        Ok(())
    }

    /// The saved state of `pid` in `nsp`, if it was seen within `window`.
    fn find(
        &self,
        pid: &str,
        nsp: &str,
        window: Duration,
    ) -> Result<Option<SavedSession>, RecoveryError> {
        let since = now_ms().saturating_sub(window_ms(window));
        let row = self
            .db
            .prepare_cached(
                "SELECT id, rooms FROM sio_session
                 WHERE pid = ?1 AND nsp = ?2 AND (connected = 1 OR seen >= ?3)",
            )?
            .query_row(params![pid, nsp, since], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?;
        Ok(row.map(|(id, rooms)| SavedSession {
            pid: pid.to_string(),
            id,
            nsp: nsp.to_string(),
            rooms: serde_json::from_str(&rooms).unwrap_or_default(),
        }))
    }

    /// The offset the next event will get.
    fn next_offset(&self) -> Result<i64, RecoveryError> {
        let seq: Option<i64> = self
            .db
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = 'sio_event'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok(seq.unwrap_or(0) + 1)
    }

    /// Saves a relayed event sent to `rooms` (None: the whole namespace) minus `except`.
    fn save_event(
        &self,
        offset: i64,
        nsp: &str,
        rooms: Option<&[String]>,
        except: Option<&str>,
        packet: &str,
        attachments: &[Vec<u8>],
    ) -> Result<(), RecoveryError> {
        let rooms = rooms.map(|r| serde_json::to_string(r).unwrap_or_else(|_| "[]".into()));
        let atts = attachments_to_text(attachments);
        let atts = serde_json::to_string(&atts).unwrap_or_else(|_| "[]".into());
        self.db
            .prepare_cached(
                "INSERT INTO sio_event (offset, nsp, rooms, except_id, packet, attachments, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![offset, nsp, rooms, except, packet, atts, now_ms()])?;
        Ok(())
    }

    /// Events in `nsp` after `offset` that socket `id` in `rooms` would have received.
    fn missed(
        &self,
        nsp: &str,
        offset: i64,
        id: &str,
        rooms: &[String],
    ) -> Result<Vec<SavedEvent>, RecoveryError> {
        let mut stmt = self.db.prepare_cached(
            "SELECT offset, rooms, except_id, packet, attachments FROM sio_event
             WHERE nsp = ?1 AND offset > ?2 ORDER BY offset",
        )?;
        let rows = stmt.query_map(params![nsp, offset], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (offset, to, except, packet, atts) = row?;
            let to: Option<Vec<String>> = to.map(|t| serde_json::from_str(&t).unwrap_or_default());
            if !receives(to.as_deref(), except.as_deref(), id, rooms) {
                continue;
            }
            let atts: Vec<String> = serde_json::from_str(&atts).unwrap_or_default();
            let attachments = attachments_from_text(atts.iter().map(String::as_str));
            out.push(SavedEvent {
                offset,
                packet,
                attachments,
            });
        }
        Ok(out)
    }

    /// Deletes events and disconnected sessions older than `window`: (events, sessions).
    fn expire(&self, window: Duration) -> Result<(u64, u64), RecoveryError> {
        let before = now_ms().saturating_sub(window_ms(window));
        let events = self
            .db
            .execute("DELETE FROM sio_event WHERE at < ?1", params![before])?;
        let sessions = self.db.execute(
            "DELETE FROM sio_session WHERE connected = 0 AND seen < ?1",
            params![before],
        )?;
        Ok((events as u64, sessions as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(pid: &str, rooms: &[&str]) -> SavedSession {
        SavedSession {
            pid: pid.into(),
            id: format!("id-{pid}"),
            nsp: "/".into(),
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn a_session_and_its_missed_events_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SqliteStore::open(dir.path(), false).unwrap();
            s.connected(&session("p1", &["a"])).unwrap();
            let o = s.next_offset().unwrap();
            s.save_event(o, "/", None, None, "2[\"x\",\"1\"]", &[])
                .unwrap();
            let o = s.next_offset().unwrap();
            s.save_event(o, "/", Some(&["b".into()]), None, "2[\"y\"]", &[])
                .unwrap();
            let o = s.next_offset().unwrap();
            s.save_event(
                o,
                "/",
                Some(&["a".into()]),
                None,
                "51-[\"z\"]",
                &[vec![1, 2]],
            )
            .unwrap();
            let o = s.next_offset().unwrap();
            s.save_event(o, "/", None, Some("id-p1"), "2[\"mine\"]", &[])
                .unwrap();
            // Killed: no disconnect recorded.
        }
        let s = SqliteStore::open(dir.path(), false).unwrap();
        let saved = s.find("p1", "/", Duration::from_secs(60)).unwrap().unwrap();
        assert_eq!(saved.rooms, vec!["a".to_string()]);
        assert!(s
            .find("p1", "/other", Duration::from_secs(60))
            .unwrap()
            .is_none());
        assert!(s
            .find("nope", "/", Duration::from_secs(60))
            .unwrap()
            .is_none());
        let missed = s.missed("/", 0, &saved.id, &saved.rooms).unwrap();
        let packets: Vec<&str> = missed.iter().map(|e| e.packet.as_str()).collect();
        assert_eq!(packets, ["2[\"x\",\"1\"]", "51-[\"z\"]"]);
        assert_eq!(missed[1].attachments, vec![vec![1u8, 2]]);
        let after_first = s
            .missed("/", missed[0].offset, &saved.id, &saved.rooms)
            .unwrap();
        assert_eq!(after_first.len(), 1);
        assert_eq!(s.next_offset().unwrap(), 5);
    }

    #[test]
    fn reset_forgets_every_session_and_event() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SqliteStore::open(dir.path(), false).unwrap();
            s.connected(&session("p1", &[])).unwrap();
            s.save_event(s.next_offset().unwrap(), "/", None, None, "2[\"x\"]", &[])
                .unwrap();
        }
        let s = SqliteStore::open(dir.path(), false).unwrap();
        assert!(s
            .find("p1", "/", Duration::from_secs(60))
            .unwrap()
            .is_some());
        drop(s);
        let s = SqliteStore::open(dir.path(), true).unwrap();
        assert!(s
            .find("p1", "/", Duration::from_secs(60))
            .unwrap()
            .is_none());
        assert!(s.missed("/", 0, "id-p1", &[]).unwrap().is_empty());
        assert_eq!(s.next_offset().unwrap(), 1);
    }

    #[test]
    fn the_window_expires_events_and_sessions_and_counts_them() {
        let s = SqliteStore::memory().unwrap();
        s.connected(&session("p1", &[])).unwrap();
        s.disconnected("p1", true).unwrap();
        s.save_event(1, "/", None, None, "2[\"x\"]", &[]).unwrap();
        // Inside the window nothing goes.
        assert_eq!(s.expire(Duration::from_secs(60)).unwrap(), (0, 0));
        std::thread::sleep(Duration::from_millis(20));
        assert!(s
            .find("p1", "/", Duration::from_millis(5))
            .unwrap()
            .is_none());
        assert_eq!(s.expire(Duration::from_millis(5)).unwrap(), (1, 1));
        // A socket that left on purpose is not kept at all.
        s.connected(&session("p2", &[])).unwrap();
        s.disconnected("p2", false).unwrap();
        assert!(s
            .find("p2", "/", Duration::from_secs(60))
            .unwrap()
            .is_none());
    }
}

//! Connection state recovery, durable: what socket.io 4.6+ keeps in memory for two minutes,
//! wirelab keeps in the hub's store, so it survives a SIGKILL and a restart.
//!
//! One trait, [`RecoveryStore`], with two stores behind it, as the hub's inbox has:
//! - [`sqlite::SqliteStore`]: `DIR/sio.sqlite3` in the data directory (or in memory);
//! - [`redis::RedisStore`]: Redis (`hub serve --store redis://...`), shared by every hub on it.
//!
//! A client that reconnects with `{pid, offset}` in its auth gets its id and rooms back and
//! every event after `offset` that it would have received. State older than the window
//! (`--recovery-window`) expires and is counted.

pub mod redis;
pub mod sqlite;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use self::redis::RedisStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("recovery store {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("recovery store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("recovery store on Redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("recovery store on Redis: {0}")]
    Reply(String),
}

/// A socket's saved state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSession {
    pub pid: String,
    pub id: String,
    pub nsp: String,
    pub rooms: Vec<String>,
}

/// An event to replay: the text packet and its attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedEvent {
    pub offset: i64,
    pub packet: String,
    pub attachments: Vec<Vec<u8>>,
}

/// Where recovery state is kept. Called from the server's one state lock, so a store needs
/// no locking of its own.
pub trait RecoveryStore: Send {
    /// A socket connected (or was recovered).
    fn connected(&self, s: &SavedSession) -> Result<(), RecoveryError>;
    fn set_rooms(&self, pid: &str, rooms: &[String]) -> Result<(), RecoveryError>;
    /// A socket went away: kept for the window if it may come back, deleted if it left on
    /// purpose.
    fn disconnected(&self, pid: &str, recoverable: bool) -> Result<(), RecoveryError>;
    /// The saved state of `pid` in `nsp`, if it was seen within `window`.
    fn find(
        &self,
        pid: &str,
        nsp: &str,
        window: Duration,
    ) -> Result<Option<SavedSession>, RecoveryError>;
    /// The offset for the next event (greater than every offset saved before).
    fn next_offset(&self) -> Result<i64, RecoveryError>;
    /// Saves a relayed event sent to `rooms` (None: the whole namespace) minus `except`.
    fn save_event(
        &self,
        offset: i64,
        nsp: &str,
        rooms: Option<&[String]>,
        except: Option<&str>,
        packet: &str,
        attachments: &[Vec<u8>],
    ) -> Result<(), RecoveryError>;
    /// Events in `nsp` after `offset` that socket `id` in `rooms` would have received, oldest
    /// first.
    fn missed(
        &self,
        nsp: &str,
        offset: i64,
        id: &str,
        rooms: &[String],
    ) -> Result<Vec<SavedEvent>, RecoveryError>;
    /// Deletes events and disconnected sessions older than `window`: (events, sessions).
    fn expire(&self, window: Duration) -> Result<(u64, u64), RecoveryError>;
}

/// Would socket `id`, in `rooms`, have received an event sent to `to` (None: the whole
/// namespace) minus `except`? A socket id is also a room of its own, as in socket.io.
pub(crate) fn receives(
    to: Option<&[String]>,
    except: Option<&str>,
    id: &str,
    rooms: &[String],
) -> bool {
    if except == Some(id) {
        return false;
    }
    match to {
        None => true,
        Some(to) => to.iter().any(|r| rooms.contains(r) || r == id),
    }
}

/// Binary attachments as stored (base64 text), and back; both stores keep them so.
pub(crate) fn attachments_to_text(attachments: &[Vec<u8>]) -> Vec<String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    attachments.iter().map(|a| b64.encode(a)).collect()
}

pub(crate) fn attachments_from_text<'a>(text: impl IntoIterator<Item = &'a str>) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    text.into_iter()
        .filter_map(|s| b64.decode(s).ok())
        .collect()
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(crate) fn window_ms(w: Duration) -> i64 {
    i64::try_from(w.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::receives;

    #[test]
    fn who_receives_a_saved_event() {
        let rooms = vec!["a".to_string()];
        assert!(receives(None, None, "s1", &rooms));
        assert!(!receives(None, Some("s1"), "s1", &rooms));
        assert!(receives(Some(&["a".into()]), None, "s1", &rooms));
        assert!(!receives(Some(&["b".into()]), None, "s1", &rooms));
        assert!(receives(Some(&["s1".into()]), None, "s1", &[]));
        assert!(!receives(Some(&[]), None, "s1", &rooms));
    }
}

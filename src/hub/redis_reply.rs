//! Talking to Redis, shared by every Redis store (the inbox, work queues, cluster pub/sub and
//! Socket.IO recovery): one way to connect, and reading the `redis` crate's untyped replies.

use std::time::Duration;

use redis::Value;

/// How long a Redis store waits for the TCP connection and the handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to the Redis at `url` (`redis://HOST:PORT`), within [`CONNECT_TIMEOUT`].
pub fn connect(url: &str) -> redis::RedisResult<redis::Connection> {
    redis::Client::open(url)?.get_connection_with_timeout(CONNECT_TIMEOUT)
}

/// A Redis reply as text (bulk, simple or integer), if it is one.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A Redis reply as a number (0 if it is none).
pub fn int(v: &Value) -> u64 {
    match v {
        Value::Int(n) => u64::try_from(*n).unwrap_or(0),
        v => text(v).and_then(|s| s.parse().ok()).unwrap_or(0),
    }
}

/// The elements of an array or set reply; empty for anything else.
pub fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        Value::Set(a) => a,
        _ => &[],
    }
}

/// The field/value pairs of a stream entry's field list.
pub fn pairs(v: &[Value]) -> impl Iterator<Item = (String, String)> + '_ {
    v.chunks(2)
        .filter_map(|p| Some((p.first().and_then(text)?, p.get(1).and_then(text)?)))
}

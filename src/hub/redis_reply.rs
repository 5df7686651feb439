//! Reading the `redis` crate's untyped replies (shared by the Redis inbox and work queues).

use redis::Value;

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

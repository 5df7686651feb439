//! Text for the event hub: server log lines, client lines, and the `hub queue` table.

use std::io::{self, Write};

use crate::hub::client::ClientEvent;
use crate::hub::events::HubEvent;
use crate::hub::inbox::QueueRow;

fn who(client: &Option<String>) -> String {
    match client {
        Some(c) => format!("client {c}"),
        None => "anonymous".into(),
    }
}

/// Writes a `hub serve` event as text, or as one JSON line when `json`.
pub fn server<W: Write>(out: &mut W, e: &HubEvent, json: bool) -> io::Result<()> {
    if json {
        return super::json_line(out, e);
    }
    match e {
        HubEvent::Listening {
            addr,
            data,
            queue_cap,
            ack_timeout_s,
            window,
        } => writeln!(
            out,
            "hub serve: listening on {addr} (ws://{addr}/NAMESPACE, page at http://{addr}/; queue {}, cap {queue_cap} per client, ack timeout {ack_timeout_s} s, window {window})",
            data.as_deref().unwrap_or("in memory only"),
        ),
        HubEvent::Http { conn, path, status } => {
            writeln!(out, "[{conn}] plain HTTP GET {path} -> {status}")
        }
        HubEvent::Rejected { conn, reason } => writeln!(out, "[{conn}] refused: {reason}"),
        HubEvent::Connected {
            conn,
            peer,
            namespace,
            client,
            queued,
        } => {
            write!(
                out,
                "[{conn}] connected {peer} to namespace {namespace} as {}",
                who(client)
            )?;
            if client.is_some() {
                write!(out, " ({queued} queued)")?;
            }
            writeln!(out)
        }
        HubEvent::Replaced { conn, by } => writeln!(
            out,
            "[{conn}] replaced by [{by}] (same client id), closed with 4000"
        ),
        HubEvent::Joined { conn, room } => writeln!(out, "[{conn}] joined room {room}"),
        HubEvent::Left { conn, room } => writeln!(out, "[{conn}] left room {room}"),
        HubEvent::Emitted {
            conn,
            name,
            to,
            recipients,
            online,
            queued,
            dropped,
            published,
        } => writeln!(
            out,
            "[{conn}] emit {name} to {to}: {recipients} recipient(s), {online} online now, {queued} written to the queue, {dropped} dropped{}",
            if *published { "; published to the other hubs" } else { "" }
        ),
        HubEvent::Delivered {
            conn,
            to,
            id,
            name,
            redelivery,
        } => writeln!(
            out,
            "[{conn}] {} #{id} {name} to {to}",
            if *redelivery { "redelivered" } else { "delivered" }
        ),
        HubEvent::Acked {
            conn,
            by,
            id,
            depth,
        } => writeln!(
            out,
            "[{conn}] ack #{id} from {by}: deleted from the queue ({depth} left)"
        ),
        HubEvent::Dropped {
            namespace,
            client,
            id,
            cap,
        } => writeln!(
            out,
            "queue of {client} in {namespace} is full ({cap}): dropped the oldest event #{id}"
        ),
        HubEvent::ProtocolError { conn, error } => {
            writeln!(out, "[{conn}] bad frame, answered with an error: {error}")
        }
        HubEvent::Disconnected {
            conn,
            client,
            unacked,
            error,
        } => {
            write!(out, "[{conn}] disconnected ({})", who(client))?;
            if client.is_some() && *unacked > 0 {
                write!(
                    out,
                    "; {unacked} delivered but unacknowledged stay queued"
                )?;
            }
            if let Some(e) = error {
                write!(out, ": {e}")?;
            }
            writeln!(out)
        }
        HubEvent::StoreError { error } => writeln!(out, "queue error: {error}"),
        HubEvent::Stopped {
            reason,
            connections,
        } => writeln!(out, "stopped ({reason}) after {connections} connection(s)"),
        HubEvent::Work(w) => super::workqueue::log_line(out, w),
    }
}

/// Writes a `hub listen` / `hub emit` event as text, or as one JSON line when `json`.
pub fn client<W: Write>(out: &mut W, e: &ClientEvent, json: bool) -> io::Result<()> {
    if json {
        return super::json_line(out, e);
    }
    match e {
        ClientEvent::Welcome {
            namespace,
            client,
            conn,
            rooms,
            queued,
            dropped,
        } => {
            write!(
                out,
                "welcome: namespace {namespace}, connection {conn}, {}",
                who(client)
            )?;
            if client.is_some() {
                write!(out, ", {queued} queued event(s) coming")?;
                if !rooms.is_empty() {
                    write!(out, ", still in room(s) {}", rooms.join(", "))?;
                }
                if *dropped > 0 {
                    write!(
                        out,
                        ", {dropped} dropped because the queue was full"
                    )?;
                }
            }
            writeln!(out)
        }
        ClientEvent::Joined { room } => writeln!(out, "joined room {room}"),
        ClientEvent::Ready { rooms } => {
            if rooms.is_empty() {
                writeln!(out, "ready: listening")
            } else {
                writeln!(out, "ready: listening in room(s) {}", rooms.join(", "))
            }
        }
        ClientEvent::Event { event, duplicate } => {
            let id = event
                .id
                .map(|i| format!("#{i}"))
                .unwrap_or_else(|| "(volatile, no id)".into());
            if *duplicate {
                return writeln!(
                    out,
                    "duplicate {id} {} dropped (redelivered; acknowledged again)",
                    event.event
                );
            }
            write!(out, "event {id} {} {}", event.event, event.data)?;
            write!(out, " from {}", event.from)?;
            if let Some(r) = &event.room {
                write!(out, " in room {r}")?;
            }
            if event.redelivery {
                write!(out, " (redelivery)")?;
            }
            writeln!(out)
        }
        ClientEvent::Emitted {
            event,
            recipients,
            online,
            queued,
            dropped,
            published,
        } => writeln!(
            out,
            "emitted {event}: {recipients} recipient(s), {online} online now, {queued} written to the queue, {dropped} dropped{}",
            if *published { "; published to the other hubs" } else { "" }
        ),
        ClientEvent::AckReply {
            from,
            id,
            data,
            rtt_ms,
        } => writeln!(
            out,
            "ack from {from} (message #{id}) after {rtt_ms:.1} ms: {data}"
        ),
        ClientEvent::ServerError { error } => writeln!(out, "hub error: {error}"),
        ClientEvent::Done { events, duplicates } => writeln!(
            out,
            "done: {events} event(s), {duplicates} duplicate(s) dropped"
        ),
    }
}

fn age(now_ms: u64, then: u64) -> String {
    let s = now_ms.saturating_sub(then) / 1000;
    if s < 120 {
        format!("{s} s")
    } else if s < 7200 {
        format!("{} min", s / 60)
    } else {
        format!("{} h", s / 3600)
    }
}

/// The `hub queue` table.
pub fn queue_table<W: Write>(out: &mut W, rows: &[QueueRow], now_ms: u64) -> io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "no identified clients yet");
    }
    let mut t = super::table(&[
        "namespace",
        "client",
        "queued",
        "oldest",
        "age",
        "dropped",
        "rooms",
    ]);
    for r in rows {
        t.add_row(vec![
            r.namespace.clone(),
            r.client.clone(),
            r.depth.to_string(),
            match (&r.oldest_id, &r.oldest_event) {
                (Some(i), Some(e)) => format!("#{i} {e}"),
                _ => "-".into(),
            },
            r.oldest_ms
                .map(|m| age(now_ms, m))
                .unwrap_or_else(|| "-".into()),
            r.dropped.to_string(),
            if r.rooms.is_empty() {
                "-".into()
            } else {
                r.rooms.join(", ")
            },
        ]);
    }
    writeln!(out, "{t}")?;
    let total: u64 = rows.iter().map(|r| r.depth).sum();
    writeln!(
        out,
        "{total} event(s) waiting for {} client(s)",
        rows.iter().filter(|r| r.depth > 0).count()
    )
}

//! Text for `sio connect` / `sio emit` events: one line each.

use std::io::{self, Write};

use crate::sio::client::{Direction, Event};
use crate::wire::socketio::Value;

fn arrow(d: Direction) -> &'static str {
    match d {
        Direction::In => "<-",
        Direction::Out => "->",
    }
}

fn args_text(args: &[Value]) -> String {
    Value::Array(args.to_vec()).preview(200)
}

/// Writes `event` as text, or as one JSON line when `json`.
pub fn write<W: Write>(out: &mut W, event: &Event, json: bool) -> io::Result<()> {
    if json {
        return super::json_line(out, event);
    }
    match event {
        Event::HttpRequest { method, target, body_bytes } => {
            writeln!(out, "   http -> {method} {target} ({body_bytes} body bytes)")
        }
        Event::HttpResponse { status, reason, body_bytes } => {
            writeln!(out, "   http <- {status} {reason} ({body_bytes} body bytes)")
        }
        Event::WebsocketOpen { target, status } => {
            writeln!(out, "   ws   -> GET {target} (Upgrade: websocket) <- {status} Switching Protocols")
        }
        Event::EngineioPacket { direction, transport, packet_type, data, meaning } => {
            let data = if data.chars().count() > 80 {
                format!("{}…", data.chars().take(79).collect::<String>())
            } else {
                data.clone()
            };
            writeln!(out, "   engine.io {} {packet_type} {data:?} [{transport}]: {meaning}", arrow(*direction))
        }
        Event::SocketioPacket { direction, packet_type, namespace, id, data, attachments, meaning } => {
            let id = id.map(|i| format!(" id={i}")).unwrap_or_default();
            let data = data.as_ref().map(|d| format!(" {}", d.preview(120))).unwrap_or_default();
            let att = if *attachments > 0 { format!(" +{attachments} attachments") } else { String::new() };
            writeln!(out, "   socket.io {} {packet_type} {namespace}{id}{data}{att}: {meaning}", arrow(*direction))
        }
        Event::Open { transport, sid, upgrades, ping_interval_ms, ping_timeout_ms, max_payload } => writeln!(
            out,
            "open: session {sid} over {transport} (upgrades {upgrades:?}, ping every {ping_interval_ms} ms, pong within {ping_timeout_ms} ms, maxPayload {max_payload} bytes)"
        ),
        Event::Upgrade { transport } => writeln!(out, "upgrade: the session moved to {transport}"),
        Event::Connected { namespace, sid, pid, recovered } => {
            let pid = pid.as_ref().map(|p| format!(", pid {p}")).unwrap_or_default();
            let rec = if *recovered { ", recovered (missed events replayed)" } else { "" };
            writeln!(out, "connected to {namespace} as {sid}{pid}{rec}")
        }
        Event::ConnectError { namespace, message } => writeln!(out, "connect error on {namespace}: {message}"),
        Event::Emitted { namespace, event, args, id } => {
            let id = id.map(|i| format!(" (ack id {i})")).unwrap_or_default();
            writeln!(out, "emitted {namespace} {event:?} {}{id}", args_text(args))
        }
        Event::Event { namespace, event, args, offset, ack_id } => {
            let off = offset.as_ref().map(|o| format!(" (offset {o})")).unwrap_or_default();
            let id = ack_id.map(|i| format!(" (asks ack {i})")).unwrap_or_default();
            writeln!(out, "event {namespace} {event:?} {}{off}{id}", args_text(args))
        }
        Event::Ack { namespace, id, args } => writeln!(out, "ack {namespace} id {id} {}", args_text(args)),
        Event::ServerDisconnect { namespace } => writeln!(out, "the server disconnected us from {namespace}"),
        Event::Lost { reason } => writeln!(out, "connection lost: {reason}"),
        Event::Reconnecting { attempt, delay_ms } => {
            writeln!(out, "reconnecting (attempt {attempt}) in {delay_ms:.0} ms, with pid and offset for recovery")
        }
        Event::Report { events, acks, reconnects, recovered, transport } => writeln!(
            out,
            "done: {events} events, {acks} acks, {reconnects} reconnects, recovered {recovered}, last transport {transport}"
        ),
    }
}

/// The line that says the client is connected (and its emit answered) and now listens: what a
/// lesson waits for before the next step emits to it.
pub fn ready<W: Write>(out: &mut W, json: bool) -> io::Result<()> {
    if json {
        return writeln!(out, "{{\"type\":\"ready\"}}");
    }
    writeln!(out, "ready: connected; listening for events")
}

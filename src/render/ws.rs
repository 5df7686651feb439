//! Text for WebSocket events: one line each (handshake heads indented below their line).

use std::io::{self, Write};

use crate::ws::conn::Direction;
use crate::ws::events::Event;

fn prefix(conn: Option<u64>) -> String {
    conn.map(|c| format!("[{c}] ")).unwrap_or_default()
}

fn arrow(d: Direction) -> &'static str {
    match d {
        Direction::In => "<- in ",
        Direction::Out => "-> out",
    }
}

fn takeover(no_context_takeover: bool) -> &'static str {
    if no_context_takeover {
        "no context takeover (window reset every message)"
    } else {
        "context takeover"
    }
}

/// Writes `event` as text, or as one JSON line when `json`.
pub fn write<W: Write>(out: &mut W, event: &Event, json: bool) -> io::Result<()> {
    if json {
        return super::json_line(out, event);
    }
    match event {
        Event::Listening { addr, mode } => writeln!(
            out,
            "ws serve: listening on {addr} ({mode}; WebSocket at ws://{addr}/, demo page at http://{addr}/)"
        ),
        Event::Accepted { conn, peer } => {
            writeln!(out, "[{conn}] accepted {peer} (TCP handshake done, HTTP comes next)")
        }
        Event::Connected {
            url,
            addr,
            connect_ms,
        } => writeln!(
            out,
            "connected to {addr} for {url} in {connect_ms:.2} ms (TCP handshake done)"
        ),
        Event::HandshakeRequest { conn, text } => {
            writeln!(out, "{}handshake request (HTTP/1.1):", prefix(*conn))?;
            for l in text.trim_end().lines() {
                writeln!(out, "    > {l}")?;
            }
            Ok(())
        }
        Event::HandshakeResponse { conn, text } => {
            writeln!(out, "{}handshake response:", prefix(*conn))?;
            for l in text.trim_end().lines() {
                writeln!(out, "    < {l}")?;
            }
            Ok(())
        }
        Event::Http {
            conn,
            method,
            path,
            status,
        } => writeln!(out, "[{conn}] plain HTTP {method} {path} -> {status}"),
        Event::Rejected {
            conn,
            status,
            reason,
        } => writeln!(out, "[{conn}] handshake refused with {status}: {reason}"),
        Event::Extension { conn, permessage_deflate: None } => writeln!(
            out,
            "{}permessage-deflate: not negotiated (messages go uncompressed, RSV1 must be 0)",
            prefix(*conn)
        ),
        Event::Extension { conn, permessage_deflate: Some(d) } => writeln!(
            out,
            "{}permessage-deflate: server sends with {} and a {}-byte window, client with {} and a {}-byte window",
            prefix(*conn),
            takeover(d.server_no_context_takeover),
            1u32 << d.server_max_window_bits,
            takeover(d.client_no_context_takeover),
            1u32 << d.client_max_window_bits,
        ),
        Event::Frame {
            conn,
            direction,
            fin,
            rsv1,
            opcode,
            opcode_value,
            mask_key,
            payload_len,
            length_encoding,
            header_len,
            inflated_len,
            preview,
        } => writeln!(
            out,
            "{}frame {} FIN={}{} opcode=0x{opcode_value:x} {opcode} mask={} len={payload_len} ({length_encoding} length, {header_len}-byte header){} {preview}",
            prefix(*conn),
            arrow(*direction),
            u8::from(*fin),
            if *rsv1 { " RSV1=1" } else { "" },
            mask_key.as_deref().unwrap_or("none"),
            match inflated_len {
                Some(n) => format!(" compressed, {n} bytes inflated"),
                None => String::new(),
            },
        ),
        // The client shows each message whole, on one line (text quoted, binary as base64),
        // so `ws connect` output can be scripted; a busy server shows previews.
        Event::Message {
            conn: None,
            direction,
            kind,
            len,
            data,
            encoding,
            ..
        } => {
            let shown = if *encoding == "text" {
                format!("{data:?}")
            } else {
                format!("base64:{data}")
            };
            writeln!(out, "{} {kind} message, {len} bytes: {shown}", arrow(*direction))
        }
        Event::Message {
            conn,
            direction,
            kind,
            len,
            preview,
            ..
        } => writeln!(
            out,
            "{}{} {kind} message, {len} bytes: {preview}",
            prefix(*conn),
            arrow(*direction)
        ),
        Event::Relayed { conn, to: 0 } => writeln!(
            out,
            "[{conn}] relayed to nobody: no other client is connected, so the message is gone"
        ),
        Event::Relayed { conn, to } => {
            writeln!(out, "[{conn}] relayed to {to} other client(s)")
        }
        Event::Pong { rtt_ms, payload } => {
            writeln!(out, "pong {payload} after {rtt_ms:.3} ms")
        }
        Event::Closed {
            conn,
            initiator,
            code,
            meaning,
            reason,
            error,
            messages_in,
            messages_out,
        } => {
            let how = match (code, meaning) {
                (Some(c), Some(m)) if reason.is_empty() => format!("{c} ({m})"),
                (Some(c), Some(m)) => format!("{c} ({m}) {reason:?}"),
                _ => "no status code".to_string(),
            };
            let by = match *initiator {
                "peer" => "closed by the peer",
                "us" => "closed by us",
                _ => "closed on error",
            };
            write!(
                out,
                "{}{by}: {how}; {} in, {messages_out} out",
                prefix(*conn),
                if *messages_in == 1 {
                    "1 message".to_string()
                } else {
                    format!("{messages_in} messages")
                }
            )?;
            match error {
                Some(e) => writeln!(out, " ({e})"),
                None => writeln!(out),
            }
        }
        Event::Stopped {
            reason,
            connections,
        } => writeln!(out, "ws serve: stopped ({reason}) after {connections} connections"),
        Event::Timeout {
            waited_s,
            expected,
            received,
        } => writeln!(
            out,
            "no more messages after waiting {waited_s} s: got {received} of the {expected} expected"
        ),
    }
}

/// `ws connect -q`: only the messages that came in, each whole on its own line, as
/// websocat prints them (text as it is, binary as base64).
pub fn quiet_message<W: Write>(out: &mut W, event: &Event) -> io::Result<()> {
    match event {
        Event::Message {
            direction: Direction::In,
            data,
            ..
        } => writeln!(out, "{data}"),
        _ => Ok(()),
    }
}

/// The accept-key computation, one step a line, ending in the header the server sends.
pub fn accept_steps<W: Write>(
    out: &mut W,
    s: &crate::wire::websocket::handshake::AcceptSteps,
    key_problem: Option<&str>,
) -> io::Result<()> {
    writeln!(out, "Sec-WebSocket-Key (from the client):  {}", s.key)?;
    if let Some(p) = key_problem {
        writeln!(out, "  note: {p}; a server would refuse this key with 400")?;
    }
    writeln!(
        out,
        "1. append the GUID from RFC 6455:     {}",
        s.concatenated
    )?;
    writeln!(out, "2. SHA-1 of that string (20 bytes):   {}", s.sha1_hex)?;
    writeln!(out, "3. base64 of those 20 bytes:          {}", s.accept)?;
    writeln!(out, "Sec-WebSocket-Accept: {}", s.accept)
}

//! Text for the Socket.IO server inside `hub serve` (the client's is `render::sio`): one line
//! per session, connect, room operation and relayed event.

use std::io::{self, Write};

use crate::sio::SioEvent;

/// Writes a Socket.IO server event as text, or as one JSON line when `json`.
pub fn server<W: Write>(out: &mut W, e: &SioEvent, json: bool) -> io::Result<()> {
    if json {
        return super::json_line(out, e);
    }
    match e {
        SioEvent::SessionOpen {
            sid,
            transport,
            peer,
        } => writeln!(
            out,
            "socket.io: engine.io session {sid} open over {transport} from {peer}"
        ),
        SioEvent::Upgrade { sid } => writeln!(
            out,
            "socket.io: session {sid} upgraded polling -> websocket (2probe, 3probe, 5)"
        ),
        SioEvent::SessionClose { sid, reason } => {
            writeln!(out, "socket.io: session {sid} closed: {reason}")
        }
        SioEvent::Connect {
            nsp,
            id,
            recovered,
            replayed,
        } => {
            if *recovered {
                writeln!(
                    out,
                    "socket.io: {id} connected to {nsp} (recovered: {replayed} missed event(s) replayed)"
                )
            } else {
                writeln!(out, "socket.io: {id} connected to {nsp}")
            }
        }
        SioEvent::ConnectError { nsp, message } => {
            writeln!(out, "socket.io: CONNECT_ERROR for {nsp}: {message}")
        }
        SioEvent::Disconnect { nsp, id, reason } => {
            writeln!(out, "socket.io: {id} left {nsp}: {reason}")
        }
        SioEvent::Room {
            nsp,
            id,
            op,
            room,
            members,
        } => writeln!(
            out,
            "socket.io: {id} {op} room {room} in {nsp} ({members} member(s))"
        ),
        SioEvent::Relay {
            nsp,
            id,
            event,
            recipients,
        } => writeln!(
            out,
            "socket.io: {id} emitted {event:?} in {nsp} -> {recipients} recipient(s)"
        ),
        SioEvent::BadRequest {
            status,
            code,
            message,
            peer,
        } => match code {
            Some(c) => writeln!(
                out,
                "socket.io: refused {peer}: {status} {{\"code\":{c},\"message\":\"{message}\"}}"
            ),
            None => writeln!(out, "socket.io: refused {peer}: {status} {message}"),
        },
        SioEvent::Expired { events, sessions } => writeln!(
            out,
            "socket.io: recovery window passed: {events} event(s) and {sessions} session(s) expired"
        ),
    }
}

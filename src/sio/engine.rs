//! Engine.IO v4 sessions over HTTP long-polling and WebSocket, answered the way the reference
//! `engine.io` server answers:
//!
//! ```text
//! GET  /socket.io/?EIO=4&transport=polling            → 0{"sid":…,"upgrades":["websocket"],…}
//! GET  /socket.io/?EIO=4&transport=polling&sid=S      held until a packet is due (ping at the latest)
//! POST /socket.io/?EIO=4&transport=polling&sid=S      packets from the client → "ok"
//! GET  /socket.io/?EIO=4&transport=websocket&sid=S    101; 2probe → 3probe; noop on the held GET; 5
//! GET  /socket.io/?EIO=4&transport=websocket          101; the open packet is the first message
//! ```
//!
//! Refusals carry `{"code":N,"message":"…"}` with status 400: 0 Transport unknown, 1 Session ID
//! unknown, 2 Bad handshake method, 3 Bad request, 5 Unsupported protocol version. A second
//! GET while one is held, or a second POST, is 400 and ends the session ("overlap").

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::http_server::{HttpError, HttpRequest, HttpResponse, RequestReader};
use super::socket::{new_id, Session};
use super::{Server, SioEvent};
use crate::wire::engineio::{self, Data, Handshake, Packet as EPacket, PacketType as EType};
use crate::wire::websocket::handshake::{self, Intent};
use crate::wire::websocket::{ClosePayload, Limits, Role};
use crate::ws::conn::{Config, Incoming, Message, WebSocket, WsError};

/// The chat page served at `/socket.io/chat.html` (it loads `/socket.io/socket.io.js`).
pub const CHAT_PAGE: &str = include_str!("chat.html");

/// How long a kept-alive connection may sit idle between requests.
const IDLE: Duration = Duration::from_secs(60);
/// How long a WebSocket may take from the probe to `5` (the reference's upgradeTimeout).
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(10);

/// The reference server's error codes and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TransportUnknown,
    SessionIdUnknown,
    BadHandshakeMethod,
    BadRequest,
    UnsupportedProtocolVersion,
}

impl Refusal {
    pub fn code(self) -> u8 {
        match self {
            Refusal::TransportUnknown => 0,
            Refusal::SessionIdUnknown => 1,
            Refusal::BadHandshakeMethod => 2,
            Refusal::BadRequest => 3,
            Refusal::UnsupportedProtocolVersion => 5,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::TransportUnknown => "Transport unknown",
            Refusal::SessionIdUnknown => "Session ID unknown",
            Refusal::BadHandshakeMethod => "Bad handshake method",
            Refusal::BadRequest => "Bad request",
            Refusal::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The JSON body of the 400 answer.
    pub fn json(self) -> String {
        format!(
            "{{\"code\":{},\"message\":\"{}\"}}",
            self.code(),
            self.message()
        )
    }
}

/// Peeks at the request line without consuming it: is it for the Socket.IO server?
pub async fn is_for_sio(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 512];
    let wait = async {
        loop {
            let n = match stream.peek(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => n,
            };
            let seen = buf.get(..n).unwrap_or_default();
            let line_end = seen.windows(2).position(|w| w == b"\r\n");
            let line = match line_end {
                Some(i) => seen.get(..i).unwrap_or_default(),
                None if n == buf.len() => seen,
                None => {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
            };
            let line = String::from_utf8_lossy(line);
            let target = line.split(' ').nth(1).unwrap_or_default();
            return Server::wants(target.split('?').next().unwrap_or_default());
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or(false)
}

fn cors(req: &HttpRequest, mut r: HttpResponse) -> HttpResponse {
    if let Some(origin) = req.header("Origin") {
        r = r
            .with("Access-Control-Allow-Origin", origin)
            .with("Access-Control-Allow-Credentials", "true")
            .with("Vary", "Origin");
    } else {
        r = r.with("Access-Control-Allow-Origin", "*");
    }
    r
}

fn refuse(srv: &Server, peer: &str, why: Refusal) -> HttpResponse {
    srv.report(SioEvent::BadRequest {
        status: 400,
        code: Some(why.code()),
        message: why.message().to_string(),
        peer: peer.to_string(),
    });
    HttpResponse::new(400, "application/json", why.json())
}

/// Serves one TCP connection whose first request is for `/socket.io/` (or `/socket.io/chat.html`): HTTP
/// keep-alive requests, until it closes or becomes a WebSocket.
pub async fn serve_connection(stream: TcpStream, peer: String, srv: Arc<Server>) {
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let mut reader = RequestReader::new(rd, &[]);
    // The body cap: maxPayload, plus room for the separators of a batch.
    let max_body = u64::try_from(srv.opts.max_payload).unwrap_or(u64::MAX);
    loop {
        let req = match reader.next(max_body, IDLE).await {
            Ok(r) => r,
            Err(HttpError::TooLarge { len, max }) => {
                srv.report(SioEvent::BadRequest {
                    status: 413,
                    code: None,
                    message: format!("body of {len} bytes is over maxPayload {max}"),
                    peer: peer.clone(),
                });
                let _ = HttpResponse::empty(413).write(&mut wr, true).await;
                let _ = wr.shutdown().await;
                reader.linger(len, Duration::from_secs(5)).await;
                return;
            }
            Err(HttpError::Head(e)) => {
                let _ = wr.write_all(handshake::error_response(&e).as_bytes()).await;
                return;
            }
            Err(_) => return,
        };
        let close = req.wants_close();
        let path = req.head.path().to_string();
        let resp = if req.head.method == "OPTIONS" {
            let mut r = cors(&req, HttpResponse::empty(204)).with(
                "Access-Control-Allow-Methods",
                "GET,HEAD,PUT,PATCH,POST,DELETE",
            );
            if let Some(h) = req.header("Access-Control-Request-Headers") {
                r = r.with("Access-Control-Allow-Headers", h);
            }
            r
        } else if path == "/socket.io/socket.io.js" || path == "/socket.io/socket.io.min.js" {
            match &srv.opts.client_bundle {
                Some(b) => {
                    HttpResponse::new(200, "application/javascript; charset=utf-8", b.to_vec())
                        .with("Cache-Control", "public, max-age=0")
                }
                None => HttpResponse::new(
                    404,
                    "text/plain; charset=utf-8",
                    "the socket.io-client bundle was not found: run hub serve where \
                     node_modules/socket.io-client is, or set WIRELAB_SOCKETIO_CLIENT\n",
                ),
            }
        } else if path == "/socket.io/chat.html" {
            HttpResponse::new(200, "text/html; charset=utf-8", CHAT_PAGE)
        } else if path == "/socket.io/" || path == "/socket.io" {
            let is_ws =
                req.query("transport") == Some("websocket") && req.header("Upgrade").is_some();
            if is_ws {
                let (rd, leftover) = reader.into_parts();
                websocket_request(rd, wr, leftover, req, peer, srv).await;
                return;
            }
            polling_request(&srv, &req, &peer).await
        } else {
            HttpResponse::new(404, "text/plain; charset=utf-8", "not found\n")
        };
        let resp = if req.head.method == "OPTIONS" {
            resp
        } else {
            cors(&req, resp)
        };
        if resp.write(&mut wr, close).await.is_err() || close {
            return;
        }
    }
}

/// The checks the reference server makes before a request reaches a session.
fn verify(srv: &Server, req: &HttpRequest, upgrade: bool) -> Result<Option<String>, Refusal> {
    let transport = req.query("transport").unwrap_or_default();
    if transport != "polling" && transport != "websocket" {
        return Err(Refusal::TransportUnknown);
    }
    match req.query("sid") {
        Some(sid) => {
            let st = srv.lock();
            let Some(s) = st.sessions.get(sid) else {
                return Err(Refusal::SessionIdUnknown);
            };
            // An upgrade on a session that has (or is getting) its WebSocket passes here and
            // is closed after the 101, as the reference server does.
            if upgrade {
                if transport != "websocket" {
                    return Err(Refusal::BadRequest);
                }
            } else if (transport == "websocket") != s.ws {
                return Err(Refusal::BadRequest);
            }
            Ok(Some(sid.to_string()))
        }
        None => {
            if req.head.method != "GET" {
                return Err(Refusal::BadHandshakeMethod);
            }
            if req.query("EIO") != Some("4") {
                return Err(Refusal::UnsupportedProtocolVersion);
            }
            Ok(None)
        }
    }
}

/// Opens a session: its id, its heartbeat and its connect timeout.
fn open_session(srv: &Arc<Server>, peer: &str, ws: bool) -> (String, EPacket) {
    let sid = new_id();
    let open = EPacket::open(&Handshake {
        sid: sid.clone(),
        upgrades: if ws { vec![] } else { vec!["websocket".into()] },
        ping_interval: u64::try_from(srv.opts.ping_interval.as_millis()).unwrap_or(u64::MAX),
        ping_timeout: u64::try_from(srv.opts.ping_timeout.as_millis()).unwrap_or(u64::MAX),
        max_payload: srv.opts.max_payload as u64,
    });
    srv.lock()
        .sessions
        .insert(sid.clone(), Session::new(peer.to_string(), ws));
    srv.report(SioEvent::SessionOpen {
        sid: sid.clone(),
        transport: if ws { "websocket" } else { "polling" },
        peer: peer.to_string(),
    });
    spawn_timers(srv, &sid);
    (sid, open)
}

/// The heartbeat (ping every pingInterval, close if no pong within pingTimeout) and the
/// connect timeout (close if no namespace was connected in time).
fn spawn_timers(srv: &Arc<Server>, sid: &str) {
    let weak = Arc::downgrade(srv);
    let id = sid.to_string();
    tokio::spawn(async move {
        let Some(s) = weak.upgrade() else { return };
        let (interval, timeout) = (s.opts.ping_interval, s.opts.ping_timeout);
        drop(s);
        // As the reference server: a ping every pingInterval counted from the last pong (not
        // from the last ping), and the session closes if a ping is not answered in pingTimeout.
        loop {
            tokio::time::sleep(interval).await;
            let pong = {
                let Some(s) = weak.upgrade() else { return };
                let mut st = s.lock();
                let Some(sess) = st.sessions.get_mut(&id) else {
                    return;
                };
                sess.awaiting_pong = true;
                sess.push(EPacket::bare(EType::Ping));
                sess.pong.clone()
            };
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                let waited = tokio::time::timeout_at(deadline, pong.notified()).await;
                let Some(s) = weak.upgrade() else { return };
                let mut st = s.lock();
                match st.sessions.get(&id) {
                    None => return,
                    Some(sess) if !sess.awaiting_pong => break,
                    Some(_) if waited.is_err() => {
                        st.close_session(&s, &id, "ping timeout");
                        return;
                    }
                    // A pong from before this ping left a permit: wait on.
                    Some(_) => {}
                }
            }
        }
    });
    let weak = Arc::downgrade(srv);
    let id = sid.to_string();
    tokio::spawn(async move {
        let Some(s) = weak.upgrade() else { return };
        let wait = s.opts.connect_timeout;
        drop(s);
        tokio::time::sleep(wait).await;
        let Some(s) = weak.upgrade() else { return };
        let mut st = s.lock();
        if st.sessions.get(&id).is_some_and(|x| !x.ever_connected) {
            st.close_session(&s, &id, "connect timeout (no CONNECT packet in time)");
        }
    });
}

async fn polling_request(srv: &Arc<Server>, req: &HttpRequest, peer: &str) -> HttpResponse {
    let sid = match verify(srv, req, false) {
        Ok(s) => s,
        Err(why) => return refuse(srv, peer, why),
    };
    let Some(sid) = sid else {
        let (_, open) = open_session(srv, peer, false);
        return text_payload(engineio::encode_payload(&[open]));
    };
    match req.head.method.as_str() {
        "GET" => poll(srv, &sid).await,
        "POST" => post(srv, &sid, &req.body),
        _ => refuse(srv, peer, Refusal::BadRequest),
    }
}

fn text_payload(body: String) -> HttpResponse {
    HttpResponse::new(200, "text/plain; charset=UTF-8", body)
}

/// The held GET: answered when packets are due (a ping at the latest), with a noop while an
/// upgrade is under way or when the client closed, or with a close packet when the server
/// ends the session.
async fn poll(srv: &Arc<Server>, sid: &str) -> HttpResponse {
    let (notify, farewell) = {
        let mut st = srv.lock();
        let Some(s) = st.sessions.get_mut(sid) else {
            return refuse(srv, "", Refusal::SessionIdUnknown);
        };
        if s.polling_held {
            st.close_session(srv, sid, "transport error: overlapping GET from client");
            return HttpResponse::empty(400);
        }
        s.polling_held = true;
        (s.notify.clone(), s.farewell.clone())
    };
    loop {
        let woken = notify.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        {
            let mut st = srv.lock();
            let Some(s) = st.sessions.get_mut(sid) else {
                let last = farewell.get().copied().unwrap_or(EType::Close);
                return text_payload(EPacket::bare(last).encode_text());
            };
            if !s.out.is_empty() {
                let n = engineio::batch_len(&s.out, srv.opts.max_payload);
                let batch: Vec<EPacket> = s.out.drain(..n.max(1).min(s.out.len())).collect();
                s.polling_held = false;
                return text_payload(engineio::encode_payload(&batch));
            }
            if s.upgrading || s.ws {
                s.polling_held = false;
                return text_payload(EPacket::bare(EType::Noop).encode_text());
            }
        }
        woken.await;
    }
}

fn post(srv: &Arc<Server>, sid: &str, body: &[u8]) -> HttpResponse {
    let ok = HttpResponse::new(200, "text/html", "ok");
    let mut st = srv.lock();
    let Some(s) = st.sessions.get_mut(sid) else {
        return refuse(srv, "", Refusal::SessionIdUnknown);
    };
    if s.posting {
        st.close_session(srv, sid, "transport error: overlapping POST from client");
        return HttpResponse::empty(400);
    }
    let packets = std::str::from_utf8(body)
        .map_err(|_| ())
        .and_then(|t| engineio::decode_payload(t, srv.opts.max_payload).map_err(|_| ()));
    match packets {
        Ok(ps) => {
            for p in ps {
                st.on_engine(srv, sid, p);
            }
        }
        Err(()) => st.close_session(srv, sid, "parse error"),
    }
    ok
}

async fn websocket_request<R, W>(
    rd: R,
    mut wr: W,
    leftover: Vec<u8>,
    req: HttpRequest,
    peer: String,
    srv: Arc<Server>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let abort = |why: Refusal| {
        srv.report(SioEvent::BadRequest {
            status: 400,
            code: Some(why.code()),
            message: why.message().to_string(),
            peer: peer.clone(),
        });
        format!(
            "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-type: text/html\r\n\
             Content-Length: {}\r\n\r\n{}",
            why.message().len(),
            why.message()
        )
    };
    let sid = match verify(&srv, &req, true) {
        Ok(s) => s,
        Err(why) => {
            let _ = wr.write_all(abort(why).as_bytes()).await;
            return;
        }
    };
    let key = match req.head.intent() {
        Ok(Intent::Upgrade { key }) => key,
        Ok(Intent::PlainHttp) | Err(_) => {
            let _ = wr.write_all(abort(Refusal::BadRequest).as_bytes()).await;
            return;
        }
    };
    if wr
        .write_all(handshake::response_101(&key).as_bytes())
        .await
        .is_err()
    {
        return;
    }
    let max = srv.opts.max_payload as u64;
    let config = Config {
        limits: Limits {
            max_frame: max,
            max_message: max,
        },
    };
    let ws = WebSocket::new(rd, wr, Role::Server, config, &leftover);
    let (mut reader, mut writer) = ws.into_split();
    let sid = match sid {
        None => {
            let (sid, open) = open_session(&srv, &peer, true);
            if let engineio::Frame::Text(t) = open.encode() {
                if writer.send_text(&t).await.is_err() {
                    srv.lock().close_session(&srv, &sid, "transport error");
                    return;
                }
            }
            sid
        }
        Some(sid) => {
            let taken = srv
                .lock()
                .sessions
                .get(&sid)
                .is_none_or(|s| s.ws || s.upgrading);
            if taken {
                // A second WebSocket on an upgraded session: closed; the first one goes on.
                let _ = writer.close(None).await;
                return;
            }
            let upgraded = tokio::time::timeout(UPGRADE_TIMEOUT, async {
                loop {
                    match reader.read_event().await {
                        Ok(Incoming::Message(Message::Text(t))) if t == "2probe" => {
                            if writer.send_text("3probe").await.is_err() {
                                return false;
                            }
                            let mut st = srv.lock();
                            if let Some(s) = st.sessions.get_mut(&sid) {
                                s.upgrading = true;
                                s.notify.notify_waiters();
                            }
                        }
                        Ok(Incoming::Message(Message::Text(t))) if t == "5" => {
                            let mut st = srv.lock();
                            return match st.sessions.get_mut(&sid) {
                                Some(s) if s.upgrading => {
                                    s.ws = true;
                                    s.upgrading = false;
                                    s.notify.notify_waiters();
                                    true
                                }
                                _ => false,
                            };
                        }
                        Ok(Incoming::Ping(p)) => {
                            let _ = writer.pong(&p).await;
                        }
                        Ok(Incoming::Pong(_)) => {}
                        _ => return false,
                    }
                }
            })
            .await
            .unwrap_or(false);
            if !upgraded {
                if let Some(s) = srv.lock().sessions.get_mut(&sid) {
                    s.upgrading = false;
                }
                let _ = writer.close(None).await;
                return;
            }
            srv.report(SioEvent::Upgrade { sid: sid.clone() });
            sid
        }
    };
    let notify = match srv.lock().sessions.get(&sid) {
        Some(s) => s.notify.clone(),
        None => return,
    };
    let mut batch: Vec<EPacket> = Vec::new();
    let reason = loop {
        let woken = notify.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let gone = {
            let mut st = srv.lock();
            match st.sessions.get_mut(&sid) {
                Some(s) => {
                    std::mem::swap(&mut batch, &mut s.out);
                    false
                }
                None => true,
            }
        };
        for p in batch.drain(..) {
            let r = match p.encode() {
                engineio::Frame::Text(t) => writer.queue(&Message::Text(t)),
                engineio::Frame::Binary(b) => writer.queue(&Message::Binary(b)),
            };
            if r.is_err() {
                break;
            }
        }
        if writer.flush().await.is_err() {
            break Some("transport error");
        }
        if gone {
            let _ = writer
                .close(Some(&ClosePayload {
                    code: 1000,
                    reason: String::new(),
                }))
                .await;
            break None;
        }
        tokio::select! {
            ev = reader.read_event() => match ev {
                Ok(Incoming::Message(Message::Text(t))) => {
                    let mut st = srv.lock();
                    match EPacket::decode_text(&t) {
                        Ok(p) => st.on_engine(&srv, &sid, p),
                        Err(_) => st.close_session(&srv, &sid, "parse error"),
                    }
                }
                Ok(Incoming::Message(Message::Binary(b))) => {
                    srv.lock().on_message(&srv, &sid, Data::Binary(b));
                }
                Ok(Incoming::Ping(p)) => { let _ = writer.pong(&p).await; }
                Ok(Incoming::Pong(_)) => {}
                Ok(Incoming::Close(_)) => {
                    let _ = writer.close(None).await;
                    break Some("transport close");
                }
                Err(WsError::Protocol(e)) => {
                    let _ = writer.close(Some(&ClosePayload { code: e.close_code(), reason: String::new() })).await;
                    break Some("transport error");
                }
                Err(_) => break Some("transport close"),
            },
            _ = &mut woken => {}
        }
    };
    if let Some(reason) = reason {
        srv.lock().close_session(&srv, &sid, reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_like_the_reference_server() {
        assert_eq!(
            Refusal::SessionIdUnknown.json(),
            r#"{"code":1,"message":"Session ID unknown"}"#
        );
        assert_eq!(
            Refusal::TransportUnknown.json(),
            r#"{"code":0,"message":"Transport unknown"}"#
        );
        assert_eq!(Refusal::UnsupportedProtocolVersion.code(), 5);
    }
}

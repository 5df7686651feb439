//! `ws serve`: accept loop and per-connection sessions (echo or broadcast), reporting typed
//! [`Event`]s to a sink. Graceful shutdown: on the `shutdown` future every open connection is
//! closed with 1001 (going away).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::accept::{accept_with, AcceptOptions, Accepted};
use super::conn::{Direction, FrameTap, Incoming, Message, WsError, WsReader, WsWriter};
use super::events::Event;
use crate::wire::websocket::ClosePayload;

/// The demo page served on `GET /`.
pub const DEMO_PAGE: &str = include_str!("page.html");

/// Where events go.
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// What the server does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Sends every message back to its sender.
    Echo,
    /// Relays every message to every other client (a chat).
    Broadcast,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Echo => "echo",
            Mode::Broadcast => "broadcast",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub mode: Mode,
    /// Report every frame in and out.
    pub show_frames: bool,
    /// Report only listening, errors and the end (no handshakes, messages).
    pub quiet: bool,
    /// Stop after this many connections have been served.
    pub max_conns: Option<u64>,
    pub accept: AcceptOptions,
    /// Accept permessage-deflate when a client offers it.
    pub compress: bool,
}

type Peers = Arc<Mutex<HashMap<u64, mpsc::Sender<Arc<Message>>>>>;

/// Messages that may wait for one broadcast client. A client that reads slower than the room
/// talks misses what does not fit (it is not counted in `relayed to`), so one stalled reader
/// cannot grow the server's memory without bound.
const BROADCAST_QUEUE: usize = 1024;

/// Serves WebSocket connections on `listener` until `max_conns` connections have finished or
/// `shutdown` completes. Returns how many connections were accepted.
pub async fn serve(
    listener: TcpListener,
    opts: ServeOptions,
    sink: EventSink,
    shutdown: impl Future<Output = ()>,
) -> io::Result<u64> {
    let opts = Arc::new(opts);
    let (stop_tx, stop_rx) = watch::channel(false);
    let peers: Peers = Arc::default();
    let mut tasks = JoinSet::new();
    let mut accepted = 0u64;
    tokio::pin!(shutdown);
    let mut interrupted = false;
    loop {
        if opts.max_conns.is_some_and(|m| accepted >= m) {
            break;
        }
        tokio::select! {
            _ = &mut shutdown => { interrupted = true; break; }
            r = listener.accept() => {
                let (stream, peer) = match r {
                    Ok(x) => x,
                    // Out of file descriptors and the like: keep serving the others.
                    Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue; }
                };
                accepted += 1;
                if !opts.quiet {
                    sink(Event::Accepted { conn: accepted, peer: peer.to_string() });
                }
                tasks.spawn(connection(accepted, stream, opts.clone(), sink.clone(), peers.clone(), stop_rx.clone()));
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    if !interrupted {
        // Wait for the last connections, unless interrupted meanwhile.
        tokio::select! {
            _ = async { while tasks.join_next().await.is_some() {} } => {}
            _ = &mut shutdown => { interrupted = true; }
        }
    }
    if interrupted {
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(3), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        tasks.abort_all();
    }
    sink(Event::Stopped {
        reason: if interrupted {
            "interrupted"
        } else {
            "served --max-conns connections"
        },
        connections: accepted,
    });
    Ok(accepted)
}

async fn connection(
    conn: u64,
    stream: TcpStream,
    opts: Arc<ServeOptions>,
    sink: EventSink,
    peers: Peers,
    stop: watch::Receiver<bool>,
) {
    // In broadcast mode, join the room before the handshake is answered: once a client has
    // its 101 it receives everything sent after that (messages wait in the channel).
    let (rx, registration) = match opts.mode {
        Mode::Echo => (None, None),
        Mode::Broadcast => {
            let (tx, rx) = mpsc::channel(BROADCAST_QUEUE);
            if let Ok(mut p) = peers.lock() {
                p.insert(conn, tx);
            }
            (
                Some(rx),
                Some(Registration {
                    peers: peers.clone(),
                    conn,
                }),
            )
        }
    };
    let accepted = match accept_with(stream, &opts.accept, opts.compress).await {
        Ok(a) => a,
        Err(e) => {
            sink(Event::closed(
                Some(conn),
                "error",
                None,
                Some(e.to_string()),
                0,
                0,
            ));
            return;
        }
    };
    let (ws, request_text, response_text, deflate) = match accepted {
        Accepted::WebSocket {
            ws,
            request_text,
            response_text,
            deflate,
            ..
        } => (ws, request_text, response_text, deflate),
        Accepted::Http { request, status } => {
            sink(Event::Http {
                conn,
                method: request.method.clone(),
                path: request.path().to_string(),
                status,
            });
            return;
        }
        Accepted::Rejected {
            request_text,
            error,
        } => {
            if let Some(text) = request_text {
                sink(Event::HandshakeRequest {
                    conn: Some(conn),
                    text,
                });
            }
            sink(Event::Rejected {
                conn,
                status: error.status(),
                reason: error.to_string(),
            });
            return;
        }
    };
    if !opts.quiet {
        sink(Event::HandshakeRequest {
            conn: Some(conn),
            text: request_text,
        });
        sink(Event::HandshakeResponse {
            conn: Some(conn),
            text: response_text,
        });
    }
    if opts.show_frames && opts.compress {
        sink(Event::extension(Some(conn), deflate.as_ref()));
    }
    let mut ws = *ws;
    if opts.show_frames {
        let s = sink.clone();
        let tap: FrameTap = Arc::new(move |f| s(Event::frame(Some(conn), f)));
        ws.set_tap(Some(tap));
    }
    let (reader, writer) = ws.into_split();
    let mut session = Session {
        conn,
        reader,
        writer,
        sink: sink.clone(),
        report_messages: !opts.quiet,
        messages_in: 0,
        messages_out: 0,
    };
    let room = registration.as_ref().map(|r| r.peers.clone());
    let (initiator, payload, error) = session.run(stop, rx, room).await;
    drop(registration);
    if !opts.quiet || error.is_some() {
        sink(Event::closed(
            Some(conn),
            initiator,
            payload.as_ref(),
            error,
            session.messages_in,
            session.messages_out,
        ));
    }
    session.finish().await;
}

/// A broadcast client's place in the room; leaving is dropping it.
struct Registration {
    peers: Peers,
    conn: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut p) = self.peers.lock() {
            p.remove(&self.conn);
        }
    }
}

/// One WebSocket connection being served.
pub struct Session<R, W> {
    pub conn: u64,
    pub reader: WsReader<R>,
    pub writer: WsWriter<W>,
    sink: EventSink,
    report_messages: bool,
    pub messages_in: u64,
    pub messages_out: u64,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Session<R, W> {
    async fn send(&mut self, m: &Message) -> Result<(), WsError> {
        self.writer.send(m).await?;
        self.messages_out += 1;
        if self.report_messages {
            (self.sink)(Event::message(Some(self.conn), Direction::Out, m));
        }
        Ok(())
    }

    async fn send_batch(&mut self, batch: &[Arc<Message>]) -> Result<(), WsError> {
        for m in batch {
            self.writer.queue(m)?;
            self.messages_out += 1;
            if self.report_messages {
                (self.sink)(Event::message(Some(self.conn), Direction::Out, m));
            }
        }
        self.writer.flush().await
    }

    /// Runs until the connection closes. Returns who closed it, the close payload, and the
    /// error if there was one.
    async fn run(
        &mut self,
        mut stop: watch::Receiver<bool>,
        mut relay: Option<mpsc::Receiver<Arc<Message>>>,
        peers: Option<Peers>,
    ) -> (&'static str, Option<ClosePayload>, Option<String>) {
        loop {
            // Only reads are raced (they are cancel-safe); writes happen below, uncancelled.
            let incoming = tokio::select! {
                biased;
                _ = stop.changed() => {
                    let bye = ClosePayload { code: 1001, reason: "server shutting down".into() };
                    let _ = self.writer.close(Some(&bye)).await;
                    let reply = tokio::time::timeout(Duration::from_secs(1), async {
                        loop {
                            match self.reader.read_event().await {
                                Ok(Incoming::Close(c)) => return c,
                                Ok(_) => continue,
                                Err(_) => return None,
                            }
                        }
                    }).await.ok().flatten();
                    return ("us", reply.or(Some(bye)), None);
                }
                Some(m) = async { match relay.as_mut() { Some(r) => r.recv().await, None => None } }, if relay.is_some() => {
                    // Everything already waiting goes out in one write.
                    let mut batch = vec![m];
                    if let Some(r) = relay.as_mut() {
                        while batch.len() < 64 {
                            match r.try_recv() {
                                Ok(more) => batch.push(more),
                                Err(_) => break,
                            }
                        }
                    }
                    if let Err(e) = self.send_batch(&batch).await {
                        return ("error", None, Some(e.to_string()));
                    }
                    continue;
                }
                ev = self.reader.read_event() => ev,
            };
            match incoming {
                Ok(Incoming::Message(m)) => {
                    self.messages_in += 1;
                    if self.report_messages {
                        (self.sink)(Event::message(Some(self.conn), Direction::In, &m));
                    }
                    let sent = match &peers {
                        None => {
                            let r = self.send(&m).await;
                            self.reader.recycle(m);
                            r
                        }
                        Some(peers) => {
                            let m = Arc::new(m);
                            let mut to = 0;
                            if let Ok(p) = peers.lock() {
                                for (id, tx) in p.iter() {
                                    if *id != self.conn && tx.try_send(m.clone()).is_ok() {
                                        to += 1;
                                    }
                                }
                            }
                            if self.report_messages {
                                (self.sink)(Event::Relayed {
                                    conn: self.conn,
                                    to,
                                });
                            }
                            Ok(())
                        }
                    };
                    if let Err(e) = sent {
                        return ("error", None, Some(e.to_string()));
                    }
                }
                Ok(Incoming::Ping(p)) => {
                    if let Err(e) = self.writer.pong(&p).await {
                        return ("error", None, Some(e.to_string()));
                    }
                }
                Ok(Incoming::Pong(_)) => {}
                Ok(Incoming::Close(c)) => {
                    let reply = c.as_ref().map(|p| ClosePayload {
                        code: p.code,
                        reason: String::new(),
                    });
                    let _ = self.writer.close(reply.as_ref()).await;
                    return ("peer", c, None);
                }
                Err(WsError::Protocol(e)) => {
                    let bye = ClosePayload {
                        code: e.close_code(),
                        reason: e.to_string(),
                    };
                    let _ = self.writer.close(Some(&bye)).await;
                    return ("error", Some(bye), Some(e.to_string()));
                }
                Err(e) => return ("error", None, Some(e.to_string())),
            }
        }
    }

    /// The server closes the TCP connection first (RFC 6455 §7.1.1): FIN, then read until
    /// the client's FIN (at most 2 s) so that unread bytes do not turn the close into a reset.
    async fn finish(mut self) {
        let _ = self.writer.shutdown().await;
        let mut sink = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Ok(n) = self.reader.io_mut().read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
    }
}

//! One client connection: the WebSocket handshake, then a loop that reads the client's frames
//! (parsed by [`ClientMsg::parse`] and handed to the hub as [`Cmd`]s) and writes what the hub
//! hands it through its [`Recipient`].
//!
//! A [`Recipient`] is protocol-neutral: the hub routes typed [`ServerMsg`]s to it, and the
//! connection task encodes them for its wire protocol (here the hub's JSON over WebSocket). A
//! second wire protocol (Socket.IO) is one more kind of connection task with its own encoder,
//! handed the same kind of recipient; `dispatch` picks the protocol by the request path.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};

use super::cluster::Remote;
use super::events::{HubEvent, HubSink};
use super::protocol::{parse_target, Address, ClientMsg, ProtocolError, ServerMsg};
use crate::wire::websocket::{ClosePayload, OpCode};
use crate::ws::accept::{accept, AcceptOptions, Accepted};
use crate::ws::conn::{Incoming, Message, WsError};

/// A frame for a connection to send, or an order to close it.
pub enum Out {
    Msg(ServerMsg),
    Close(u16, String),
}

/// Where the hub sends one connection's frames. Cloned into the hub's state; the connection
/// task holds the receiving end. `backlog` counts frames handed over and not yet written:
/// routing reads it to drop volatile and anonymous traffic for a reader that is behind.
#[derive(Clone)]
pub struct Recipient {
    tx: mpsc::UnboundedSender<Out>,
    backlog: Arc<AtomicUsize>,
}

/// The receiving end of a [`Recipient`], for the connection task.
pub struct Outbox {
    rx: mpsc::UnboundedReceiver<Out>,
    backlog: Arc<AtomicUsize>,
}

impl Recipient {
    pub fn new() -> (Recipient, Outbox) {
        let (tx, rx) = mpsc::unbounded_channel();
        let backlog = Arc::new(AtomicUsize::new(0));
        (
            Recipient {
                tx,
                backlog: backlog.clone(),
            },
            Outbox { rx, backlog },
        )
    }

    /// Frames waiting to be written.
    pub fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Relaxed)
    }

    /// Hands a frame over (routing has decided that it goes: this never drops).
    pub fn send(&self, out: Out) {
        self.backlog.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(out).is_err() {
            self.backlog.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Outbox {
    /// The next frames (up to `max`), waiting for the first; `None` once the hub let go.
    pub async fn next_batch(&mut self, max: usize) -> Option<Vec<Out>> {
        let first = self.rx.recv().await?;
        let mut batch = vec![first];
        while batch.len() < max {
            match self.rx.try_recv() {
                Ok(o) => batch.push(o),
                Err(_) => break,
            }
        }
        self.backlog.fetch_sub(batch.len(), Ordering::Relaxed);
        Some(batch)
    }
}

/// Commands that may wait for the hub task. Past it, connection tasks wait before reading
/// more from their clients: a publisher faster than the hub is slowed down by TCP (like
/// RabbitMQ's flow control) instead of queueing without bound ahead of other clients' acks.
pub const CMD_QUEUE: usize = 1024;

/// The way to the hub task: acks on a lane of their own, which the hub serves first, so that
/// a flood of emits never delays the acks that free a slow reader's window.
#[derive(Clone)]
pub struct HubTx {
    pub cmds: mpsc::Sender<Cmd>,
    pub acks: mpsc::Sender<Cmd>,
}

impl HubTx {
    /// The two lanes and their receiving ends (acks, then everything else).
    pub fn new() -> (HubTx, mpsc::Receiver<Cmd>, mpsc::Receiver<Cmd>) {
        let (cmds, cmd_rx) = mpsc::channel(CMD_QUEUE);
        let (acks, ack_rx) = mpsc::channel(CMD_QUEUE);
        (HubTx { cmds, acks }, ack_rx, cmd_rx)
    }

    /// Hands a command to the hub, waiting while its lane is full.
    pub async fn send(&self, c: Cmd) -> Result<(), mpsc::error::SendError<Cmd>> {
        match c {
            c @ Cmd::Msg {
                msg: ClientMsg::Ack { .. },
                ..
            } => self.acks.send(c).await,
            c => self.cmds.send(c).await,
        }
    }
}

/// What connections (and the cluster subscriber) tell the hub task.
pub enum Cmd {
    Open {
        conn: u64,
        addr: Address,
        peer: String,
        to: Recipient,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Msg {
        conn: u64,
        msg: ClientMsg,
    },
    Closed {
        conn: u64,
        error: Option<String>,
        /// Answered once everything before it is committed.
        done: Option<oneshot::Sender<()>>,
    },
    /// A broadcast from another hub process on the same Redis (src/hub/cluster.rs).
    Remote(Remote),
}

/// Serves one accepted TCP connection: the protocol is chosen by the HTTP request: Socket.IO
/// on `/socket.io/` (and the chat page on `/chat`) when `sio` is given (src/sio/), else the
/// hub protocol over WebSocket on every path, and the page on `GET /`.
#[allow(clippy::too_many_arguments)]
pub async fn dispatch(
    conn: u64,
    stream: TcpStream,
    peer: String,
    opts: Arc<AcceptOptions>,
    hub: HubTx,
    sink: HubSink,
    stop: watch::Receiver<bool>,
    sio: Option<Arc<crate::sio::Server>>,
) {
    if let Some(sio) = sio {
        if crate::sio::engine::is_for_sio(&stream).await {
            return crate::sio::serve_connection(stream, peer, sio).await;
        }
    }
    connection(conn, stream, peer, opts, hub, sink, stop).await
}

async fn connection(
    conn: u64,
    stream: TcpStream,
    peer: String,
    opts: Arc<AcceptOptions>,
    hub: HubTx,
    sink: HubSink,
    mut stop: watch::Receiver<bool>,
) {
    let (ws, request) = match accept(stream, &opts).await {
        Ok(Accepted::WebSocket { ws, request, .. }) => (ws, request),
        Ok(Accepted::Http { request, status }) => {
            sink(HubEvent::Http {
                conn,
                path: request.target.clone(),
                status,
            });
            return;
        }
        Ok(Accepted::Rejected { error, .. }) => {
            sink(HubEvent::Rejected {
                conn,
                reason: error.to_string(),
            });
            return;
        }
        Err(e) => {
            sink(HubEvent::Rejected {
                conn,
                reason: e.to_string(),
            });
            return;
        }
    };
    let (mut reader, mut writer) = ws.into_split();
    let refuse = |code: u16, why: String| ClosePayload {
        code,
        reason: why.chars().take(120).collect(),
    };
    let addr = match parse_target(&request.target) {
        Ok(a) => a,
        Err(e) => {
            let why = e.to_string();
            let _ = writer
                .send(&Message::Text(
                    ServerMsg::error(&e, &request.target).to_text(),
                ))
                .await;
            let _ = writer.close(Some(&refuse(1008, why.clone()))).await;
            sink(HubEvent::Rejected { conn, reason: why });
            return;
        }
    };
    let (to, mut outbox) = Recipient::new();
    let (reply_tx, reply_rx) = oneshot::channel();
    let _ = hub
        .send(Cmd::Open {
            conn,
            addr,
            peer,
            to,
            reply: reply_tx,
        })
        .await;
    match reply_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(why)) => {
            let _ = writer
                .send(&Message::Text(
                    ServerMsg::Error {
                        error: why.clone(),
                        input: None,
                    }
                    .to_text(),
                ))
                .await;
            let _ = writer.close(Some(&refuse(1013, why.clone()))).await;
            sink(HubEvent::Rejected { conn, reason: why });
            return;
        }
        Err(_) => return,
    }
    let mut error: Option<String> = None;
    let mut closed_sent = false;
    loop {
        let incoming = tokio::select! {
            biased;
            _ = stop.changed() => {
                let _ = writer.close(Some(&refuse(1001, "hub shutting down".into()))).await;
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    loop {
                        match reader.read_event().await {
                            Ok(Incoming::Close(_)) | Err(_) => return,
                            Ok(_) => continue,
                        }
                    }
                }).await;
                break;
            }
            out = outbox.next_batch(256) => {
                let Some(batch) = out else { break };
                let mut close = None;
                for o in batch {
                    match o {
                        Out::Msg(m) => {
                            if let Err(e) = writer.queue_frame(true, OpCode::Text, m.to_text().as_bytes()) { error = Some(e.to_string()); }
                        }
                        Out::Close(code, why) => { close = Some(refuse(code, why)); break; }
                    }
                }
                if let Err(e) = writer.flush().await { error = Some(e.to_string()); break; }
                if let Some(c) = close {
                    let _ = writer.close(Some(&c)).await;
                    break;
                }
                continue;
            }
            ev = reader.read_event() => ev,
        };
        match incoming {
            Ok(Incoming::Message(Message::Text(t))) => match ClientMsg::parse(&t) {
                Ok(msg) => {
                    let _ = hub.send(Cmd::Msg { conn, msg }).await;
                }
                Err(e) => {
                    sink(HubEvent::ProtocolError {
                        conn,
                        error: e.to_string(),
                    });
                    let m = ServerMsg::error(&e, &t).to_text();
                    if let Err(e) = writer.send(&Message::Text(m)).await {
                        error = Some(e.to_string());
                        break;
                    }
                }
            },
            Ok(Incoming::Message(Message::Binary(_))) => {
                let e = ProtocolError::Binary;
                sink(HubEvent::ProtocolError {
                    conn,
                    error: e.to_string(),
                });
                if let Err(e) = writer
                    .send(&Message::Text(ServerMsg::error(&e, "").to_text()))
                    .await
                {
                    error = Some(e.to_string());
                    break;
                }
            }
            Ok(Incoming::Ping(p)) => {
                if let Err(e) = writer.pong(&p).await {
                    error = Some(e.to_string());
                    break;
                }
            }
            Ok(Incoming::Pong(_)) => {}
            Ok(Incoming::Close(c)) => {
                // Answer the close only once the acks sent before it are on disk: a client
                // that saw the close handshake complete knows its acks count.
                let (done_tx, done_rx) = oneshot::channel();
                let _ = hub
                    .send(Cmd::Closed {
                        conn,
                        error: None,
                        done: Some(done_tx),
                    })
                    .await;
                closed_sent = true;
                let _ = tokio::time::timeout(Duration::from_secs(2), done_rx).await;
                let reply = c.as_ref().map(|p| ClosePayload {
                    code: p.code,
                    reason: String::new(),
                });
                let _ = writer.close(reply.as_ref()).await;
                break;
            }
            Err(WsError::Protocol(e)) => {
                let bye = ClosePayload {
                    code: e.close_code(),
                    reason: e.to_string(),
                };
                let _ = writer.close(Some(&bye)).await;
                error = Some(e.to_string());
                break;
            }
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    if !closed_sent {
        let _ = hub
            .send(Cmd::Closed {
                conn,
                error,
                done: None,
            })
            .await;
    }
    let _ = writer.shutdown().await;
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(n) = reader.io_mut().read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

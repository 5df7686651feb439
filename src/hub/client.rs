//! `hub listen` and `hub emit`: hub clients over wirelab's WebSocket client. They report typed
//! [`ClientEvent`]s to a sink; `render::hub` prints them.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use super::protocol::{ClientMsg, Emit, EventOut, ServerMsg, Target};
use crate::wire::websocket::ClosePayload;
use crate::ws::accept::TcpWebSocket;
use crate::ws::client::{connect, WsUrl};
use crate::ws::conn::{Config, Incoming, Message, WsError};

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot open a WebSocket to {url}")]
    Connect { url: String, source: WsError },
    #[error("connection lost: {0}")]
    Lost(WsError),
    #[error("the hub closed the connection{}", .0.as_ref().map(|c| format!(" ({} {})", c.code, c.reason)).unwrap_or_default())]
    Closed(Option<ClosePayload>),
    #[error("the hub sent something that is not a hub frame: {0}")]
    BadFrame(String),
    #[error("the hub refused: {0}")]
    Refused(String),
    #[error("got {got} of {want} events within {waited_s} s")]
    TooFew { got: u64, want: u64, waited_s: f64 },
    #[error("no answer from the hub within {0} s")]
    Timeout(f64),
    #[error("ack timeout: {got} of {want} receivers acknowledged within {waited_s} s")]
    AckTimeout { got: u64, want: u64, waited_s: f64 },
    /// Writing the output failed (for a closed pipe the command ends with status 0); what
    /// was not written was not acknowledged and stays queued.
    #[error("cannot write the output: {0}")]
    Output(std::io::Error),
}

impl ClientError {
    /// The reader of our output went away (`| head -1`): a normal end, not a failure.
    pub fn is_closed_output(&self) -> bool {
        matches!(self, ClientError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// What a client saw.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientEvent {
    Welcome {
        namespace: String,
        client: Option<String>,
        conn: u64,
        rooms: Vec<String>,
        queued: u64,
        dropped: u64,
    },
    Joined {
        room: String,
    },
    /// Every room joined: events sent to them from now on arrive here.
    Ready {
        rooms: Vec<String>,
    },
    Event {
        #[serde(flatten)]
        event: EventOut,
        /// Already seen (an at-least-once redelivery): acknowledged again, not counted.
        duplicate: bool,
    },
    Emitted {
        event: String,
        recipients: u64,
        online: u64,
        queued: u64,
        dropped: u64,
        /// Also published to the other hubs on the same Redis (the counts are this hub's).
        published: bool,
    },
    AckReply {
        from: String,
        id: u64,
        data: Value,
        rtt_ms: f64,
    },
    ServerError {
        error: String,
    },
    Done {
        events: u64,
        duplicates: u64,
    },
}

/// Where a client's events go; an error (stdout closed) stops the client before it acks.
pub type ClientSink = Arc<dyn Fn(ClientEvent) -> std::io::Result<()> + Send + Sync>;

fn say(sink: &ClientSink, e: ClientEvent) -> Result<(), ClientError> {
    sink(e).map_err(ClientError::Output)
}

/// `url` with `?client=ID` added.
pub fn with_client(url: &WsUrl, client: Option<&str>) -> WsUrl {
    let mut u = url.clone();
    if let Some(c) = client {
        let enc: String = c
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let sep = if u.path.contains('?') { '&' } else { '?' };
        u.path = format!("{}{sep}client={enc}", u.path);
    }
    u
}

struct Conn {
    ws: TcpWebSocket,
}

impl Conn {
    async fn open(url: &WsUrl, timeout: Duration) -> Result<Conn, ClientError> {
        let c = connect(url, Config::default(), timeout)
            .await
            .map_err(|source| ClientError::Connect {
                url: format!("ws://{}{}", url.authority(), url.path),
                source,
            })?;
        Ok(Conn { ws: c.ws })
    }

    async fn send(&mut self, m: &ClientMsg) -> Result<(), ClientError> {
        self.ws
            .writer
            .send(&Message::Text(m.to_text()))
            .await
            .map_err(ClientError::Lost)
    }

    /// The next hub frame, or `None` after `wait` without one.
    async fn next(&mut self, wait: Duration) -> Result<Option<ServerMsg>, ClientError> {
        match next_text(&mut self.ws, wait).await? {
            None => Ok(None),
            Some(t) => ServerMsg::parse(&t)
                .map(Some)
                .map_err(|e| ClientError::BadFrame(format!("{e}: {t}"))),
        }
    }

    /// Reads the welcome; returns how many queued events follow it.
    async fn welcome(&mut self, timeout: Duration, sink: &ClientSink) -> Result<u64, ClientError> {
        match self.next(timeout).await? {
            Some(ServerMsg::Welcome {
                namespace,
                client,
                conn,
                rooms,
                queued,
                dropped,
            }) => {
                say(
                    sink,
                    ClientEvent::Welcome {
                        namespace,
                        client,
                        conn,
                        rooms,
                        queued,
                        dropped,
                    },
                )?;
                Ok(queued)
            }
            Some(ServerMsg::Error { error, .. }) => Err(ClientError::Refused(error)),
            Some(other) => Err(ClientError::BadFrame(format!(
                "expected welcome first, got {}",
                other.to_text()
            ))),
            None => Err(ClientError::Timeout(timeout.as_secs_f64())),
        }
    }

    /// Closes with 1000 and waits (briefly) for the hub's close and FIN.
    async fn bye(mut self) {
        let _ = self
            .ws
            .writer
            .close(Some(&ClosePayload {
                code: 1000,
                reason: String::new(),
            }))
            .await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match self.ws.reader.read_event().await {
                    Ok(Incoming::Close(_)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            let _ = self.ws.reader.read_event().await;
        })
        .await;
    }
}

/// What `hub listen` does.
#[derive(Debug, Clone)]
pub struct ListenOptions {
    pub client: Option<String>,
    pub rooms: Vec<String>,
    /// Stop after this many (distinct) events.
    pub count: Option<u64>,
    /// Stop when no event came for this long (an error if `count` is not reached).
    pub timeout: Option<Duration>,
    /// Acknowledge events (off: they stay queued and come back).
    pub ack: bool,
    /// The reply sent with each ack.
    pub reply: Option<Value>,
    /// Read nothing for this long after the welcome (a slow reader).
    pub pause: Option<Duration>,
}

/// Connects, joins rooms, prints events and acknowledges them.
pub async fn listen(
    url: &WsUrl,
    opts: &ListenOptions,
    sink: ClientSink,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), ClientError> {
    let url = with_client(url, opts.client.as_deref());
    // --timeout bounds the listening; connecting gets at least 10 s, so that a short
    // --timeout on a busy machine does not fail before the hub has said welcome.
    let connect_timeout = opts
        .timeout
        .map_or(Duration::from_secs(10), |t| t.max(Duration::from_secs(10)));
    let mut c = Conn::open(&url, connect_timeout).await?;
    let _queued = c.welcome(connect_timeout, &sink).await?;
    if let Some(p) = opts.pause {
        tokio::time::sleep(p).await;
    }
    for r in &opts.rooms {
        c.send(&ClientMsg::Join { room: r.clone() }).await?;
    }
    let mut waiting_joins = opts.rooms.len();
    if waiting_joins == 0 {
        say(&sink, ClientEvent::Ready { rooms: Vec::new() })?;
    }
    let mut seen: HashSet<u64> = HashSet::new();
    let (mut events, mut duplicates) = (0u64, 0u64);
    let idle = opts.timeout.unwrap_or(Duration::from_secs(u64::MAX / 4));
    tokio::pin!(stop);
    let result = loop {
        if opts.count.is_some_and(|n| events >= n) {
            break Ok(());
        }
        let msg = tokio::select! {
            _ = &mut stop => break Ok(()),
            m = c.next(idle) => m,
        };
        match msg {
            Err(e) => return Err(e),
            Ok(None) => {
                break match opts.count {
                    Some(n) => Err(ClientError::TooFew {
                        got: events,
                        want: n,
                        waited_s: idle.as_secs_f64(),
                    }),
                    None => Ok(()),
                }
            }
            Ok(Some(ServerMsg::Joined { room })) => {
                say(&sink, ClientEvent::Joined { room })?;
                waiting_joins = waiting_joins.saturating_sub(1);
                if waiting_joins == 0 {
                    say(
                        &sink,
                        ClientEvent::Ready {
                            rooms: opts.rooms.clone(),
                        },
                    )?;
                }
            }
            Ok(Some(ServerMsg::Event(ev))) => {
                let duplicate = match ev.id {
                    Some(id) => !seen.insert(id),
                    None => false,
                };
                let id = ev.id;
                if duplicate {
                    duplicates += 1;
                } else {
                    events += 1;
                }
                say(
                    &sink,
                    ClientEvent::Event {
                        event: ev,
                        duplicate,
                    },
                )?;
                if let (Some(id), true) = (id, opts.ack) {
                    c.send(&ClientMsg::Ack {
                        id,
                        data: opts.reply.clone(),
                    })
                    .await?;
                }
            }
            Ok(Some(ServerMsg::Error { error, .. })) => {
                say(&sink, ClientEvent::ServerError { error })?
            }
            Ok(Some(_)) => {}
        }
    };
    say(&sink, ClientEvent::Done { events, duplicates })?;
    c.bye().await;
    result
}

/// What `hub emit` sends.
#[derive(Debug, Clone)]
pub struct EmitOptions {
    pub client: Option<String>,
    pub event: String,
    /// One event per value, sent one after the other on one connection.
    pub data: Vec<Value>,
    pub to: Target,
    pub ack: bool,
    pub volatile: bool,
    pub timeout: Duration,
}

/// Connects, emits one event, reports the hub's answer and (with `ack`) the receivers' acks.
pub async fn emit(url: &WsUrl, opts: &EmitOptions, sink: ClientSink) -> Result<(), ClientError> {
    let url = with_client(url, opts.client.as_deref());
    let mut c = Conn::open(&url, opts.timeout).await?;
    // Emitting as an identified client (--as) also receives its queue: leave those events
    // queued (not acknowledged) for the client's own listener.
    let mut backlog = c.welcome(opts.timeout, &sink).await?;
    let start = Instant::now();
    for (n, data) in opts.data.iter().enumerate() {
        c.send(&ClientMsg::Emit(Emit {
            event: opts.event.clone(),
            data: data.clone(),
            to: opts.to.clone(),
            ack: opts.ack.then_some(n as u64 + 1),
            volatile: opts.volatile,
        }))
        .await?;
    }
    let deadline = start + opts.timeout;
    let total = opts.data.len() as u64;
    // Answers so far, and the receivers they counted in all.
    let (mut answers, mut recipients_all) = (0u64, 0u64);
    let mut want: Option<u64> = None;
    let mut got = 0u64;
    let result = loop {
        if let Some(w) = want {
            if answers >= total && (!opts.ack || got >= w) {
                break Ok(());
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match c.next(left).await? {
            None => {
                break Err(match want {
                    Some(w) => ClientError::AckTimeout {
                        got,
                        want: w,
                        waited_s: opts.timeout.as_secs_f64(),
                    },
                    None => ClientError::Timeout(opts.timeout.as_secs_f64()),
                })
            }
            Some(ServerMsg::Emitted {
                event,
                recipients,
                online,
                queued,
                dropped,
                published,
                ..
            }) => {
                answers += 1;
                recipients_all += recipients;
                // One line per emit; with --repeat only the last one's.
                if answers == total {
                    say(
                        &sink,
                        ClientEvent::Emitted {
                            event,
                            recipients,
                            online,
                            queued,
                            dropped,
                            published,
                        },
                    )?;
                }
                want = Some(recipients_all);
            }
            Some(ServerMsg::AckReply { from, id, data, .. }) => {
                got += 1;
                say(
                    &sink,
                    ClientEvent::AckReply {
                        from,
                        id,
                        data,
                        rtt_ms: start.elapsed().as_secs_f64() * 1000.0,
                    },
                )?;
            }
            Some(ServerMsg::Event(ev)) => {
                if backlog > 0 {
                    backlog -= 1;
                    continue;
                }
                // Sent to ourselves (--to-self, the namespace, or a room we are in with
                // --include-self): show it and acknowledge it.
                let id = ev.id;
                say(
                    &sink,
                    ClientEvent::Event {
                        event: ev,
                        duplicate: false,
                    },
                )?;
                if let Some(id) = id {
                    c.send(&ClientMsg::Ack {
                        id,
                        data: Some(Value::from("ok")),
                    })
                    .await?;
                }
            }
            Some(ServerMsg::Error { error, .. }) => {
                say(
                    &sink,
                    ClientEvent::ServerError {
                        error: error.clone(),
                    },
                )?;
                break Err(ClientError::Refused(error));
            }
            Some(_) => {}
        }
    };
    c.bye().await;
    result
}

/// The next text frame from the hub, or `None` after `wait` without one. Answers pings; a close
/// from the hub is answered and returned as an error (1008/1013: the hub refused us).
pub(crate) async fn next_text(
    ws: &mut TcpWebSocket,
    wait: Duration,
) -> Result<Option<String>, ClientError> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = match tokio::time::timeout(left, ws.reader.read_event()).await {
            Err(_) => return Ok(None),
            Ok(r) => r.map_err(ClientError::Lost)?,
        };
        match ev {
            Incoming::Message(Message::Text(t)) => return Ok(Some(t)),
            Incoming::Message(Message::Binary(_)) => {
                return Err(ClientError::BadFrame("a binary frame".into()))
            }
            Incoming::Ping(p) => ws.writer.pong(&p).await.map_err(ClientError::Lost)?,
            Incoming::Pong(_) => {}
            Incoming::Close(c) => {
                let _ = ws.writer.close(c.as_ref()).await;
                if let Some(p) = &c {
                    if p.code == 1013 || p.code == 1008 {
                        return Err(ClientError::Refused(p.reason.clone()));
                    }
                }
                return Err(ClientError::Closed(c));
            }
        }
    }
}

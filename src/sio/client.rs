//! A Socket.IO v5 client over Engine.IO v4: the polling handshake, the upgrade to WebSocket
//! (`2probe`, `3probe`, `5`), the heartbeat, namespaces, emits with acks, binary attachments,
//! and reconnection with connection state recovery (`{pid, offset}` in the CONNECT auth).
//!
//! Everything it does is reported as an [`Event`] to a sink; it prints nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::http::{self, HttpError};
use crate::wire::engineio::{self, Data, PacketType as EioType};
use crate::wire::socketio::{self, Decoder, Packet, PacketType, Value};
use crate::ws::client::{connect as ws_connect, WsUrl};
use crate::ws::conn::{Config, Incoming, Message, WsError, WsReader, WsWriter};

type TcpRead = tokio::net::tcp::OwnedReadHalf;
type TcpWrite = tokio::net::tcp::OwnedWriteHalf;

/// Which transports to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportChoice {
    /// Polling first, then upgrade to WebSocket if the server offers it (socket.io's default).
    Auto,
    Polling,
    Websocket,
}

/// One emit to make once connected.
#[derive(Debug, Clone)]
pub struct Emit {
    pub namespace: String,
    pub event: String,
    pub args: Vec<Value>,
    pub ack: bool,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub host: String,
    pub port: u16,
    /// Engine.IO path, `/socket.io/` by default.
    pub path: String,
    pub namespaces: Vec<String>,
    pub auth: Option<Value>,
    pub transport: TransportChoice,
    pub emit: Option<Emit>,
    /// Rooms to join first, one after the other (`join ROOM`, each acknowledged), in the
    /// first namespace: the hub's rooms live on the server, and this is how a client asks.
    pub joins: Vec<String>,
    /// Stop after this many events received.
    pub count: Option<u64>,
    /// Give up (or, with no --count and no ack due, stop listening) after this long.
    pub timeout: Duration,
    /// Reconnection attempts after the connection is lost (not after a server DISCONNECT).
    pub reconnect: u32,
    pub reconnect_delay: Duration,
    pub show_packets: bool,
    /// At the end, DISCONNECT each namespace and close the session (leaving on purpose: the
    /// server forgets the socket). False: just drop the transport, as a lost network does, so
    /// the server keeps the socket's state for connection state recovery.
    pub goodbye: bool,
    /// The pid and last offset of an earlier run (for the first namespace), sent in the
    /// CONNECT auth as after a lost connection, so that this run resumes that socket.
    pub resume: Option<(String, String)>,
}

/// Which way a packet went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

/// Everything the client reports, in order.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// An HTTP request of the polling transport (with --show-packets).
    HttpRequest {
        method: String,
        target: String,
        body_bytes: usize,
    },
    /// Its answer.
    HttpResponse {
        status: u16,
        reason: String,
        body_bytes: usize,
    },
    /// The WebSocket opening handshake of the websocket transport (with --show-packets).
    WebsocketOpen {
        target: String,
        status: u16,
    },
    /// An Engine.IO packet (with --show-packets).
    EngineioPacket {
        direction: Direction,
        transport: &'static str,
        packet_type: &'static str,
        data: String,
        meaning: &'static str,
    },
    /// A Socket.IO packet (with --show-packets).
    SocketioPacket {
        direction: Direction,
        packet_type: &'static str,
        namespace: String,
        id: Option<u64>,
        data: Option<Value>,
        attachments: usize,
        meaning: &'static str,
    },
    /// The Engine.IO session is open.
    Open {
        transport: &'static str,
        sid: String,
        upgrades: Vec<String>,
        ping_interval_ms: u64,
        ping_timeout_ms: u64,
        max_payload: u64,
    },
    /// The session moved from polling to WebSocket.
    Upgrade {
        transport: &'static str,
    },
    /// A namespace accepted us.
    Connected {
        namespace: String,
        sid: String,
        pid: Option<String>,
        recovered: bool,
    },
    ConnectError {
        namespace: String,
        message: String,
    },
    /// We emitted.
    Emitted {
        namespace: String,
        event: String,
        args: Vec<Value>,
        id: Option<u64>,
    },
    /// The server emitted to us.
    Event {
        namespace: String,
        event: String,
        args: Vec<Value>,
        /// Connection state recovery offset the server appended (not an argument).
        offset: Option<String>,
        ack_id: Option<u64>,
    },
    /// The answer to our emit.
    Ack {
        namespace: String,
        id: u64,
        args: Vec<Value>,
    },
    /// The server sent DISCONNECT for a namespace.
    ServerDisconnect {
        namespace: String,
    },
    /// The connection was lost; `reason` says how.
    Lost {
        reason: String,
    },
    Reconnecting {
        attempt: u32,
        delay_ms: f64,
    },
    /// The end.
    Report {
        events: u64,
        acks: u64,
        reconnects: u32,
        recovered: bool,
        transport: &'static str,
    },
}

/// Where events go; an error (stdout closed) ends the client with [`SioError::Output`].
pub type Sink = Arc<dyn Fn(&Event) -> std::io::Result<()> + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum SioError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("websocket: {0}")]
    Ws(#[from] WsError),
    #[error("the server answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error(transparent)]
    Engineio(#[from] engineio::Error),
    #[error(transparent)]
    Socketio(#[from] socketio::Error),
    #[error("the server's first packet is {0}, not open")]
    NoOpen(String),
    #[error("the WebSocket probe was answered with {0:?}, not 3probe")]
    Probe(String),
    #[error("namespace {namespace} refused: {message}")]
    ConnectError { namespace: String, message: String },
    #[error("connection lost: {0}")]
    Lost(String),
    #[error("timed out after {secs} s: {what}")]
    Timeout { secs: f64, what: String },
    /// The sink could not write an event (e.g. a closed stdout): nothing more is acked.
    #[error("output: {0}")]
    Output(std::io::Error),
}

/// What arrives from a transport's reader.
enum Inbound {
    Packet(engineio::Packet, &'static str),
    /// An RFC 6455 ping frame (below Engine.IO): answered with a pong, same payload.
    WsPing(Vec<u8>),
    Closed(String),
}

/// The sending half of the current transport.
enum Writer {
    /// `max_payload`: the server's limit on one POST body (packets beyond it go in the next).
    Polling {
        sid: String,
        max_payload: usize,
    },
    Ws(Box<WsWriter<TcpWrite>>),
}

impl Writer {
    fn name(&self) -> &'static str {
        match self {
            Writer::Polling { .. } => "polling",
            Writer::Ws(_) => "websocket",
        }
    }
}

/// Per-namespace recovery state: the server's pid and the last offset seen.
#[derive(Debug, Clone, Default)]
struct Recovery {
    pid: Option<String>,
    offset: Option<String>,
}

struct Client {
    o: Options,
    sink: Sink,
    decoder: Decoder,
    recovery: Vec<(String, Recovery)>,
    events: u64,
    acks: u64,
    next_ack: u64,
    recovered: bool,
    /// Packets for a namespace that came before its CONNECT answer (a recovering server
    /// replays missed events first); handled right after it, as socket.io-client does.
    early: Vec<Packet>,
    /// Acks owed to the server for events it emitted with an ack (`emitWithAck`), each
    /// added only once the event was written by the sink; sent by the loop.
    acks_owed: Vec<(String, u64)>,
    /// The joins, then the emit: sent one at a time, each after the last one's ack.
    queue: Vec<Emit>,
    next_emit: usize,
}

enum SessionEnd {
    Done,
    Lost(String),
}

/// Runs the client to the end: the [`Event::Report`] is the last event.
pub async fn run(o: Options, sink: Sink) -> Result<(), SioError> {
    let mut queue: Vec<Emit> = o
        .joins
        .iter()
        .map(|room| Emit {
            namespace: o.namespaces.first().cloned().unwrap_or_else(|| "/".into()),
            event: "join".into(),
            args: vec![Value::String(room.clone())],
            ack: true,
        })
        .collect();
    queue.extend(o.emit.clone());
    let mut c = Client {
        queue,
        next_emit: 0,
        recovery: o
            .namespaces
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let rec = match (&o.resume, i) {
                    (Some((pid, offset)), 0) => Recovery {
                        pid: Some(pid.clone()),
                        offset: Some(offset.clone()),
                    },
                    _ => Recovery::default(),
                };
                (n.clone(), rec)
            })
            .collect(),
        o,
        sink,
        decoder: Decoder::new(),
        events: 0,
        acks: 0,
        next_ack: 0,
        recovered: false,
        early: Vec::new(),
        acks_owed: Vec::new(),
    };
    let deadline = Instant::now() + c.o.timeout;
    let mut attempt = 0;
    let mut emitted = false;
    loop {
        c.decoder = Decoder::new();
        c.early.clear();
        let end = c.session(deadline, &mut emitted).await;
        let (end, transport) = match end {
            Ok(x) => x,
            Err(e) if attempt < c.o.reconnect && is_transient(&e) => {
                (SessionEnd::Lost(e.to_string()), "polling")
            }
            Err(e) => return Err(e),
        };
        match end {
            SessionEnd::Done => {
                let r = Event::Report {
                    events: c.events,
                    acks: c.acks,
                    reconnects: attempt,
                    recovered: c.recovered,
                    transport,
                };
                c.say(&r)?;
                return Ok(());
            }
            SessionEnd::Lost(reason) => {
                c.say(&Event::Lost {
                    reason: reason.clone(),
                })?;
                if attempt >= c.o.reconnect || Instant::now() >= deadline {
                    return Err(SioError::Lost(reason));
                }
                attempt += 1;
                c.say(&Event::Reconnecting {
                    attempt,
                    delay_ms: c.o.reconnect_delay.as_secs_f64() * 1000.0,
                })?;
                tokio::time::sleep(c.o.reconnect_delay).await;
            }
        }
    }
}

fn is_transient(e: &SioError) -> bool {
    matches!(
        e,
        SioError::Http(_) | SioError::Ws(_) | SioError::Lost(_) | SioError::Status { .. }
    )
}

impl Client {
    /// Hands one event to the sink.
    fn say(&self, e: &Event) -> Result<(), SioError> {
        (self.sink)(e).map_err(SioError::Output)
    }

    fn show(&self, e: Event) {
        if self.o.show_packets {
            // A failed write shows again on the next event, which does stop the client.
            let _ = self.say(&e);
        }
    }

    fn query(&self, transport: &str, sid: Option<&str>) -> String {
        let mut t = format!(
            "{}?EIO={}&transport={transport}",
            self.o.path,
            engineio::PROTOCOL
        );
        if let Some(s) = sid {
            t.push_str("&sid=");
            t.push_str(s);
        }
        t
    }

    fn show_eio(&self, dir: Direction, transport: &'static str, p: &engineio::Packet) {
        if !self.o.show_packets {
            return;
        }
        let data = match &p.data {
            Data::Text(s) => s.clone(),
            Data::Binary(b) => format!("<{} bytes>", b.len()),
        };
        self.show(Event::EngineioPacket {
            direction: dir,
            transport,
            packet_type: p.kind.name(),
            data,
            meaning: if matches!(p.data, Data::Binary(_)) {
                "a binary attachment of the Socket.IO packet before it"
            } else {
                p.kind.meaning()
            },
        });
    }

    fn show_sio(&self, dir: Direction, p: &Packet) {
        self.show(Event::SocketioPacket {
            direction: dir,
            packet_type: p.kind.name(),
            namespace: p.nsp.clone(),
            id: p.id,
            data: p.data.clone(),
            attachments: p.attachments,
            meaning: p.kind.meaning(),
        });
    }

    /// One polling request, shown.
    async fn http(
        &self,
        method: &str,
        target: &str,
        body: &[u8],
    ) -> Result<http::Response, SioError> {
        http_shown(&self.o, &self.sink, method, target, body).await
    }

    async fn session(
        &mut self,
        deadline: Instant,
        emitted: &mut bool,
    ) -> Result<(SessionEnd, &'static str), SioError> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Inbound>();
        // 1. Open the session.
        let (handshake, mut writer, mut poller) = if self.o.transport == TransportChoice::Websocket
        {
            let target = self.query("websocket", None);
            let (mut rd, wr) = self.open_ws(&target).await?;
            let first = read_ws_packet(&mut rd).await?;
            self.show_eio(Direction::In, "websocket", &first);
            let h = first
                .handshake()
                .map_err(|_| SioError::NoOpen(first.kind.name().into()))?;
            spawn_ws_reader(rd, tx.clone());
            (h, Writer::Ws(Box::new(wr)), None)
        } else {
            let target = self.query("polling", None);
            let r = self.http("GET", &target, b"").await?;
            let body = String::from_utf8_lossy(&r.body).into_owned();
            let packets = engineio::decode_payload(&body, usize::MAX)?;
            let first = packets.first().ok_or(SioError::NoOpen("nothing".into()))?;
            for p in &packets {
                self.show_eio(Direction::In, "polling", p);
            }
            let h = first
                .handshake()
                .map_err(|_| SioError::NoOpen(first.kind.name().into()))?;
            for p in packets.into_iter().skip(1) {
                let _ = tx.send(Inbound::Packet(p, "polling"));
            }
            let sid = h.sid.clone();
            let max_payload = usize::try_from(h.max_payload).unwrap_or(usize::MAX);
            (h, Writer::Polling { sid, max_payload }, None)
        };
        self.say(&Event::Open {
            transport: writer.name(),
            sid: handshake.sid.clone(),
            upgrades: handshake.upgrades.clone(),
            ping_interval_ms: handshake.ping_interval,
            ping_timeout_ms: handshake.ping_timeout,
            max_payload: handshake.max_payload,
        })?;

        // 2. CONNECT to every namespace (with the recovery state of the last session).
        let mut connects = Vec::new();
        for (nsp, rec) in &self.recovery {
            let mut auth = match &self.o.auth {
                Some(Value::Object(m)) => m.clone(),
                _ => Vec::new(),
            };
            if let (Some(pid), Some(offset)) = (&rec.pid, &rec.offset) {
                auth.push(("pid".into(), Value::String(pid.clone())));
                auth.push(("offset".into(), Value::String(offset.clone())));
            }
            let data = if auth.is_empty() && self.o.auth.is_none() {
                None
            } else {
                Some(Value::Object(auth))
            };
            connects.push(Packet::connect(nsp, data));
        }
        let mut out = Vec::new();
        for p in &connects {
            self.show_sio(Direction::Out, p);
            out.push(engineio::Packet::message(p.encode()));
        }
        self.send(&mut writer, &out).await?;

        // 3. Read: a long-poll loop, or the WebSocket reader already running.
        let stop = Arc::new(AtomicBool::new(false));
        if let Writer::Polling { sid, .. } = &writer {
            poller = Some(spawn_poller(
                self.o.clone(),
                self.sink.clone(),
                self.query("polling", Some(sid)),
                tx.clone(),
                stop.clone(),
            ));
        }

        // 4. Upgrade.
        if self.o.transport == TransportChoice::Auto
            && handshake.upgrades.iter().any(|u| u == "websocket")
        {
            let target = self.query("websocket", Some(&handshake.sid));
            let (mut rd, mut wr) = self.open_ws(&target).await?;
            let probe = engineio::Packet::text(EioType::Ping, "probe");
            self.ws_send(&mut wr, &probe).await?;
            let answer = read_ws_packet(&mut rd).await?;
            self.show_eio(Direction::In, "websocket", &answer);
            if answer != engineio::Packet::text(EioType::Pong, "probe") {
                return Err(SioError::Probe(answer.encode_text()));
            }
            // Let the held GET finish (the server answers it with noop), then switch.
            stop.store(true, Ordering::SeqCst);
            if let Some(p) = poller.take() {
                let _ = tokio::time::timeout(Duration::from_secs(30), p).await;
            }
            self.ws_send(&mut wr, &engineio::Packet::bare(EioType::Upgrade))
                .await?;
            spawn_ws_reader(rd, tx.clone());
            writer = Writer::Ws(Box::new(wr));
            self.say(&Event::Upgrade {
                transport: "websocket",
            })?;
        }
        drop(tx);

        // 5. The loop.
        let ping_wait = Duration::from_millis(handshake.ping_interval + handshake.ping_timeout);
        let mut ping_deadline = Instant::now() + ping_wait;
        let mut pending: Vec<String> = self.recovery.iter().map(|(n, _)| n.clone()).collect();
        let mut ack_due: Option<u64> = None;
        let result = loop {
            if pending.is_empty() && ack_due.is_none() && !*emitted {
                let next = self.queue.get(self.next_emit).cloned();
                self.next_emit += 1;
                *emitted = self.next_emit >= self.queue.len();
                if let Some(e) = next {
                    let id = e.ack.then(|| {
                        self.next_ack += 1;
                        self.next_ack - 1
                    });
                    ack_due = id;
                    let (p, atts) = Packet::event(&e.namespace, &e.event, e.args.clone(), id);
                    self.show_sio(Direction::Out, &p);
                    let mut out = vec![engineio::Packet::message(p.encode())];
                    out.extend(atts.into_iter().map(engineio::Packet::binary));
                    self.send(&mut writer, &out).await?;
                    self.say(&Event::Emitted {
                        namespace: e.namespace,
                        event: e.event,
                        args: e.args,
                        id,
                    })?;
                }
            }
            if *emitted && ack_due.is_none() && self.o.count.is_some_and(|n| self.events >= n) {
                break SessionEnd::Done;
            }
            if *emitted && ack_due.is_none() && self.o.count.is_none() && self.o.emit.is_some() {
                break SessionEnd::Done;
            }
            let got = tokio::select! {
                m = rx.recv() => m,
                _ = tokio::time::sleep_until(ping_deadline) => {
                    break SessionEnd::Lost(format!("ping timeout: no ping from the server in {} ms (pingInterval + pingTimeout)", ping_wait.as_millis()));
                }
                _ = tokio::time::sleep_until(deadline) => {
                    if self.o.count.is_none() && ack_due.is_none() && pending.is_empty() {
                        break SessionEnd::Done;
                    }
                    let what = if !pending.is_empty() {
                        format!("no CONNECT answer for {}", pending.join(", "))
                    } else if let Some(id) = ack_due {
                        format!("no ack for emit id {id}")
                    } else {
                        format!("{} of {} events", self.events, self.o.count.unwrap_or(0))
                    };
                    return Err(SioError::Timeout { secs: self.o.timeout.as_secs_f64(), what });
                }
            };
            let (p, transport) = match got {
                None => break SessionEnd::Lost("the transport closed".into()),
                Some(Inbound::Closed(why)) => break SessionEnd::Lost(why),
                Some(Inbound::WsPing(payload)) => {
                    if let Writer::Ws(w) = &mut writer {
                        w.pong(&payload).await?;
                    }
                    continue;
                }
                Some(Inbound::Packet(p, t)) => (p, t),
            };
            self.show_eio(Direction::In, transport, &p);
            match p.kind {
                EioType::Ping => {
                    ping_deadline = Instant::now() + ping_wait;
                    self.send(&mut writer, &[engineio::Packet::bare(EioType::Pong)])
                        .await?;
                }
                EioType::Close => {
                    break SessionEnd::Lost("the server closed the Engine.IO session".into())
                }
                EioType::Message => {
                    let decoded = match &p.data {
                        Data::Text(t) => self.decoder.feed_text(t)?,
                        Data::Binary(b) => self.decoder.feed_binary(b)?,
                    };
                    let Some(d) = decoded else { continue };
                    self.show_sio(Direction::In, &d.packet);
                    let end = self.on_packet(d.packet, &mut pending, &mut ack_due)?;
                    let owed = std::mem::take(&mut self.acks_owed);
                    if !owed.is_empty() {
                        let mut out = Vec::new();
                        for (nsp, id) in owed {
                            let (p, _) = Packet::ack(&nsp, id, Vec::new());
                            self.show_sio(Direction::Out, &p);
                            out.push(engineio::Packet::message(p.encode()));
                        }
                        self.send(&mut writer, &out).await?;
                    }
                    match end {
                        Some(end) => break end,
                        None => continue,
                    }
                }
                EioType::Open | EioType::Pong | EioType::Upgrade | EioType::Noop => {}
            }
        };
        let transport = writer.name();
        if let (SessionEnd::Done, true) = (&result, self.o.goodbye) {
            // Leave politely: DISCONNECT each namespace, then close the session.
            let mut out = Vec::new();
            for (nsp, _) in &self.recovery {
                let p = Packet::disconnect(nsp);
                self.show_sio(Direction::Out, &p);
                out.push(engineio::Packet::message(p.encode()));
            }
            out.push(engineio::Packet::bare(EioType::Close));
            let _ = self.send(&mut writer, &out).await;
            if let Writer::Ws(w) = &mut writer {
                let _ = w.close(None).await;
            }
        }
        stop.store(true, Ordering::SeqCst);
        Ok((result, transport))
    }

    fn on_packet(
        &mut self,
        p: Packet,
        pending: &mut Vec<String>,
        ack_due: &mut Option<u64>,
    ) -> Result<Option<SessionEnd>, SioError> {
        if pending.contains(&p.nsp) && matches!(p.kind, PacketType::Event | PacketType::BinaryEvent)
        {
            self.early.push(p);
            return Ok(None);
        }
        let connected = (p.kind == PacketType::Connect).then(|| p.nsp.clone());
        let end = self.on_packet_now(p, pending, ack_due)?;
        if let Some(nsp) = connected {
            let (now, later) = std::mem::take(&mut self.early)
                .into_iter()
                .partition(|e| e.nsp == nsp);
            self.early = later;
            for e in now {
                self.on_packet_now(e, pending, ack_due)?;
            }
        }
        Ok(end)
    }

    fn on_packet_now(
        &mut self,
        p: Packet,
        pending: &mut Vec<String>,
        ack_due: &mut Option<u64>,
    ) -> Result<Option<SessionEnd>, SioError> {
        match p.kind {
            PacketType::Connect => {
                let sid = p
                    .data
                    .as_ref()
                    .and_then(|d| d.get("sid"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let pid = p
                    .data
                    .as_ref()
                    .and_then(|d| d.get("pid"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                pending.retain(|n| *n != p.nsp);
                let mut recovered = false;
                if let Some((_, rec)) = self.recovery.iter_mut().find(|(n, _)| *n == p.nsp) {
                    recovered = pid.is_some() && rec.pid == pid && rec.offset.is_some();
                    if rec.pid != pid {
                        rec.offset = None;
                    }
                    rec.pid = pid.clone();
                }
                self.recovered |= recovered;
                self.say(&Event::Connected {
                    namespace: p.nsp,
                    sid,
                    pid,
                    recovered,
                })?;
            }
            PacketType::ConnectError => {
                let message = match &p.data {
                    Some(Value::String(s)) => s.clone(),
                    Some(d) => d
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    None => String::new(),
                };
                self.say(&Event::ConnectError {
                    namespace: p.nsp.clone(),
                    message: message.clone(),
                })?;
                return Err(SioError::ConnectError {
                    namespace: p.nsp,
                    message,
                });
            }
            PacketType::Event | PacketType::BinaryEvent => {
                let event = p.event_name().unwrap_or_default();
                let mut args = p.args().to_vec();
                let mut offset = None;
                if let Some((_, rec)) = self.recovery.iter_mut().find(|(n, _)| *n == p.nsp) {
                    if rec.pid.is_some() {
                        if let Some(Value::String(s)) = args.last() {
                            offset = Some(s.clone());
                            rec.offset = offset.clone();
                            args.pop();
                        }
                    }
                }
                self.events += 1;
                self.say(&Event::Event {
                    namespace: p.nsp.clone(),
                    event,
                    args,
                    offset,
                    ack_id: p.id,
                })?;
                // Written where the user sees it: only now is the server's ack request answered.
                if let Some(id) = p.id {
                    self.acks_owed.push((p.nsp, id));
                }
            }
            PacketType::Ack | PacketType::BinaryAck => {
                let id = p.id.unwrap_or(0);
                if *ack_due == p.id {
                    *ack_due = None;
                }
                self.acks += 1;
                self.say(&Event::Ack {
                    namespace: p.nsp.clone(),
                    id,
                    args: p.args().to_vec(),
                })?;
            }
            PacketType::Disconnect => {
                self.say(&Event::ServerDisconnect {
                    namespace: p.nsp.clone(),
                })?;
                self.recovery.retain(|(n, _)| *n != p.nsp);
                if self.recovery.is_empty() {
                    return Ok(Some(SessionEnd::Done));
                }
            }
        }
        Ok(None)
    }

    async fn open_ws(
        &self,
        target: &str,
    ) -> Result<(WsReader<TcpRead>, WsWriter<TcpWrite>), SioError> {
        let url = WsUrl {
            host: self.o.host.clone(),
            port: self.o.port,
            path: target.to_string(),
        };
        let remaining = self.o.timeout;
        let c = ws_connect(&url, Config::default(), remaining).await?;
        self.show(Event::WebsocketOpen {
            target: target.to_string(),
            status: 101,
        });
        Ok(c.ws.into_split())
    }

    async fn ws_send(
        &self,
        w: &mut WsWriter<TcpWrite>,
        p: &engineio::Packet,
    ) -> Result<(), SioError> {
        self.show_eio(Direction::Out, "websocket", p);
        match p.encode() {
            engineio::Frame::Text(t) => w.send_text(&t).await?,
            engineio::Frame::Binary(b) => w.send_binary(&b).await?,
        }
        Ok(())
    }

    async fn send(
        &self,
        writer: &mut Writer,
        packets: &[engineio::Packet],
    ) -> Result<(), SioError> {
        match writer {
            Writer::Ws(w) => {
                for p in packets {
                    self.ws_send(w, p).await?;
                }
            }
            Writer::Polling { sid, max_payload } => {
                let target = self.query("polling", Some(sid));
                let mut rest = packets;
                while !rest.is_empty() {
                    let n = engineio::batch_len(rest, *max_payload);
                    let (batch, later) = rest.split_at(n);
                    rest = later;
                    for p in batch {
                        self.show_eio(Direction::Out, "polling", p);
                    }
                    let body = engineio::encode_payload(batch);
                    let r = self.http("POST", &target, body.as_bytes()).await?;
                    if r.status != 200 {
                        return Err(SioError::Status {
                            status: r.status,
                            body: String::from_utf8_lossy(&r.body).into_owned(),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

async fn http_shown(
    o: &Options,
    sink: &Sink,
    method: &str,
    target: &str,
    body: &[u8],
) -> Result<http::Response, SioError> {
    let authority = WsUrl {
        host: o.host.clone(),
        port: o.port,
        path: String::new(),
    }
    .authority();
    let head = http::request_text(method, &authority, target, body);
    if o.show_packets {
        let _ = sink(&Event::HttpRequest {
            method: method.into(),
            target: target.into(),
            body_bytes: body.len(),
        });
    }
    let r = http::request(&o.host, o.port, &head, body, o.timeout).await?;
    if o.show_packets {
        let _ = sink(&Event::HttpResponse {
            status: r.status,
            reason: r.reason.clone(),
            body_bytes: r.body.len(),
        });
    }
    if r.status != 200 {
        return Err(SioError::Status {
            status: r.status,
            body: String::from_utf8_lossy(&r.body).into_owned(),
        });
    }
    Ok(r)
}

/// Long-polling: GET after GET until told to stop or the server ends the session.
fn spawn_poller(
    o: Options,
    sink: Sink,
    target: String,
    tx: mpsc::UnboundedSender<Inbound>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut o = o;
        // A held GET lasts up to pingInterval; never give up on it sooner than the run does.
        o.timeout = o.timeout.max(Duration::from_secs(60));
        while !stop.load(Ordering::SeqCst) {
            let r = match http_shown(&o, &sink, "GET", &target, b"").await {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Inbound::Closed(e.to_string()));
                    return;
                }
            };
            let body = String::from_utf8_lossy(&r.body).into_owned();
            match engineio::decode_payload(&body, usize::MAX) {
                Ok(packets) => {
                    for p in packets {
                        let close = p.kind == EioType::Close;
                        let _ = tx.send(Inbound::Packet(p, "polling"));
                        if close {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.send(Inbound::Closed(e.to_string()));
                    return;
                }
            }
        }
    })
}

async fn read_ws_packet(rd: &mut WsReader<TcpRead>) -> Result<engineio::Packet, SioError> {
    loop {
        match read_ws_inbound(rd).await? {
            Inbound::Packet(p, _) => return Ok(p),
            Inbound::WsPing(_) => continue,
            Inbound::Closed(why) => return Err(SioError::Lost(why)),
        }
    }
}

/// One Engine.IO packet or one ping from the WebSocket.
async fn read_ws_inbound(rd: &mut WsReader<TcpRead>) -> Result<Inbound, SioError> {
    loop {
        return Ok(match rd.read_event().await? {
            Incoming::Message(Message::Text(t)) => {
                Inbound::Packet(engineio::Packet::decode_text(&t)?, "websocket")
            }
            Incoming::Message(Message::Binary(b)) => {
                Inbound::Packet(engineio::Packet::decode_binary(&b), "websocket")
            }
            Incoming::Ping(p) => Inbound::WsPing(p),
            Incoming::Pong(_) => continue,
            Incoming::Close(_) => Inbound::Closed("the server closed the WebSocket".into()),
        });
    }
}

fn spawn_ws_reader(mut rd: WsReader<TcpRead>, tx: mpsc::UnboundedSender<Inbound>) {
    tokio::spawn(async move {
        loop {
            let (m, last) = match read_ws_inbound(&mut rd).await {
                Ok(m @ Inbound::Closed(_)) => (m, true),
                Ok(m) => (m, false),
                Err(e) => (Inbound::Closed(e.to_string()), true),
            };
            if tx.send(m).is_err() || last {
                return;
            }
        }
    });
}

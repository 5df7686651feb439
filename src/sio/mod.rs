//! Socket.IO and Engine.IO I/O around [`crate::wire::engineio`] and [`crate::wire::socketio`]:
//! the client (`sio connect`, [`client`], [`http`]) and the server inside `hub serve`
//! (Engine.IO v4 sessions and transports, and the Socket.IO v5 layer), sketched here.
//!
//! ```text
//! TCP ── HTTP/1.1 keep-alive ── /socket.io/?EIO=4&transport=polling     GET (held) / POST
//!                           └── /socket.io/?EIO=4&transport=websocket   101, then frames
//!        engine.io session (sid): open, heartbeat (ping → pong), upgrade (2probe 3probe 5)
//!        socket.io: one socket per namespace on the session; rooms; relay; acks; recovery
//! ```
//!
//! - [`http_server`]: keep-alive requests and responses of the polling transport (server side;
//!   [`http`] is the client's);
//! - [`engine`]: sessions, the polling and WebSocket transports, the upgrade, heartbeat;
//! - [`socket`]: namespaces, rooms, the relay chosen by `--relay`, `--conformance`;
//! - [`recovery`]: connection state recovery kept in SQLite, so it survives a restart.
//!
//! The hub has no JavaScript to run handlers in, so its handlers are chosen on the command
//! line: `join` / `leave` are room operations, every other event is relayed (see [`Relay`]).

pub mod client;
pub mod engine;
pub mod http;
pub mod http_server;
pub mod recovery;
pub mod socket;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use engine::serve_connection;

/// Where the hub sends an event that is not a room operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Relay {
    /// Everyone in the sender's namespace, the sender too (`io.emit` / `io.of(nsp).emit`).
    Namespace,
    /// Everyone in the namespace but the sender (`socket.broadcast.emit`).
    Broadcast,
    /// Everyone in the rooms the sender is in, but the sender (`socket.to(rooms).emit`).
    Rooms,
}

/// Options of the Socket.IO server (`hub serve --ping-interval` ...).
#[derive(Debug, Clone)]
pub struct SioOptions {
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// Largest HTTP body or WebSocket message a client may send, in bytes.
    pub max_payload: usize,
    /// A session with no namespace connected by then is closed.
    pub connect_timeout: Duration,
    pub relay: Relay,
    /// Namespaces clients may connect to (others get CONNECT_ERROR).
    pub namespaces: Vec<String>,
    /// Behave like the socket.io-protocol test suite's reference server.
    pub conformance: bool,
    /// How long a disconnected client's state and missed events are kept (None: no recovery).
    pub recovery_window: Option<Duration>,
    /// Report sessions, connects and rooms, not every relayed event.
    pub quiet: bool,
    /// The socket.io-client browser bundle served at /socket.io/socket.io.js, if found.
    pub client_bundle: Option<Arc<Vec<u8>>>,
}

impl Default for SioOptions {
    fn default() -> Self {
        SioOptions {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_payload: 1_000_000,
            connect_timeout: Duration::from_millis(45_000),
            relay: Relay::Namespace,
            namespaces: vec!["/".into()],
            conformance: false,
            recovery_window: Some(Duration::from_secs(120)),
            quiet: false,
            client_bundle: None,
        }
    }
}

impl SioOptions {
    /// The reference server of the socket.io-protocol test suite: pingInterval 300,
    /// pingTimeout 200, maxPayload 1000000, connectTimeout 1000, namespaces / and /custom.
    pub fn conformance(mut self) -> SioOptions {
        self.ping_interval = Duration::from_millis(300);
        self.ping_timeout = Duration::from_millis(200);
        self.max_payload = 1_000_000;
        self.connect_timeout = Duration::from_millis(1000);
        self.namespaces = vec!["/".into(), "/custom".into()];
        // The reference server has no connectionStateRecovery: its CONNECT answer is {sid}
        // alone, and the suite checks that it has no other key.
        self.recovery_window = None;
        self.conformance = true;
        self
    }
}

/// What the Socket.IO server reports (rendered by `render::sio`).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SioEvent {
    /// An Engine.IO session opened.
    SessionOpen {
        sid: String,
        transport: &'static str,
        peer: String,
    },
    /// The session moved from polling to WebSocket (2probe, 3probe, 5).
    Upgrade {
        sid: String,
    },
    SessionClose {
        sid: String,
        reason: String,
    },
    /// A Socket.IO CONNECT to a namespace was accepted.
    Connect {
        nsp: String,
        id: String,
        recovered: bool,
        replayed: u64,
    },
    ConnectError {
        nsp: String,
        message: String,
    },
    Disconnect {
        nsp: String,
        id: String,
        reason: String,
    },
    Room {
        nsp: String,
        id: String,
        op: &'static str,
        room: String,
        members: usize,
    },
    /// An event relayed to `recipients` sockets.
    Relay {
        nsp: String,
        id: String,
        event: String,
        recipients: usize,
    },
    /// A request the server refused (the same status and body as the reference server).
    BadRequest {
        status: u16,
        code: Option<u8>,
        message: String,
        peer: String,
    },
    /// Recovery state older than --recovery-window was deleted.
    Expired {
        events: u64,
        sessions: u64,
    },
}

/// Where events go.
pub type SioSink = Arc<dyn Fn(SioEvent) + Send + Sync>;

/// The server: options, the report sink and all sessions, sockets and rooms behind one lock.
pub struct Server {
    pub opts: SioOptions,
    pub sink: SioSink,
    state: Mutex<socket::State>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("sio::Server")
            .field("opts", &self.opts)
            .finish()
    }
}

impl Server {
    /// A server keeping recovery state in `store` (None: recovery off).
    pub fn new(
        opts: SioOptions,
        store: Option<Box<dyn recovery::RecoveryStore>>,
        sink: SioSink,
    ) -> Arc<Server> {
        let store = if opts.recovery_window.is_some() {
            store
        } else {
            None
        };
        Arc::new(Server {
            state: Mutex::new(socket::State {
                sessions: HashMap::new(),
                sockets: HashMap::new(),
                nsps: HashMap::new(),
                store,
            }),
            opts,
            sink,
        })
    }

    fn lock(&self) -> MutexGuard<'_, socket::State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn report(&self, e: SioEvent) {
        (self.sink)(e)
    }

    /// Deletes recovery state older than the window, every `every`, until the server is
    /// dropped; reports what expired.
    pub fn spawn_expiry(self: &Arc<Self>, every: Duration) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(s) = weak.upgrade() else { return };
                let Some(window) = s.opts.recovery_window else {
                    return;
                };
                let expired = s.lock().expire(window);
                if let Some((events, sessions)) = expired {
                    if events > 0 || sessions > 0 {
                        s.report(SioEvent::Expired { events, sessions });
                    }
                }
            }
        });
    }

    /// The request path starts with `/socket.io/` (or is the chat page): this server
    /// answers it.
    pub fn wants(path: &str) -> bool {
        path == "/socket.io" || path.starts_with("/socket.io/")
    }
}

/// The socket.io-client browser bundle (`dist/socket.io.min.js` of the npm package), looked
/// for in `$WIRELAB_SOCKETIO_CLIENT` or `node_modules/socket.io-client/dist/` under the
/// current directory. Never downloaded.
pub fn find_client_bundle() -> Option<Vec<u8>> {
    let mut paths = Vec::new();
    if let Ok(p) = std::env::var("WIRELAB_SOCKETIO_CLIENT") {
        paths.push(std::path::PathBuf::from(p));
    }
    paths.push("node_modules/socket.io-client/dist/socket.io.min.js".into());
    paths.push("node_modules/socket.io-client/dist/socket.io.js".into());
    paths.into_iter().find_map(|p| std::fs::read(p).ok())
}

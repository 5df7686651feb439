//! The command line: clap types only. Doc comments are the help text.
//!
//! Each subcommand's layer comes from [`crate::layers`] and is added to its `--help` by
//! [`command`], so it is declared once.

use std::net::{SocketAddr, ToSocketAddrs};

use clap::{Args, CommandFactory, Parser, Subcommand};

/// wirelab teaches networking by running it.
///
/// Every command says where it works on the OSI and TCP/IP models. Start with
/// `wirelab layers`, then `wirelab lesson list`, or run everything with `wirelab tour`.
/// Servers listen on 127.0.0.1 unless told otherwise. Exit codes: 0 success, 1 run-time
/// failure (peer gone, I/O error), 2 bad usage or bad input.
#[derive(Debug, Parser)]
#[command(name = "wirelab", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The OSI and TCP/IP models side by side, with each wirelab command at its layer.
    Layers {
        /// One JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// TCP: a connection-oriented, reliable byte stream.
    #[command(subcommand)]
    Tcp(TcpCommand),
    /// UDP: independent datagrams, no connection, no acknowledgement, no retransmission.
    #[command(subcommand)]
    Udp(UdpCommand),
    /// The same workload over plain UDP, reliable UDP (acks + retransmission) and kernel TCP.
    ///
    /// All three run on loopback inside this process. The lossy link drops, reorders and
    /// duplicates datagrams with a seeded random generator, so the same --seed gives the same
    /// losses. Kernel TCP cannot be made lossy on loopback without root; with --netem (root
    /// only) its row runs between two network namespaces joined by a veth pair with
    /// `tc netem loss P`, and the kernel's own retransmission count is shown.
    Compare(CompareArgs),
    /// Dissect a pcap/pcapng capture or raw hex bytes: every header field, placed on its layer
    ///
    /// Reads pcap (µs and ns, either byte order) and pcapng (several interfaces; enhanced and
    /// simple packet blocks) as a stream, so memory stays flat. Link types: Ethernet, Linux
    /// cooked v1/v2 (`tcpdump -i any`), raw IP, BSD loopback. Each layer says its OSI layer
    /// (1–7) and TCP/IP layer, the bytes it spans, and what each field means.
    ///
    /// Examples:
    ///   wirelab dissect fixtures/http.pcap
    ///   wirelab dissect fixtures/http.pcapng --format detail --count 3
    ///   wirelab dissect fixtures/dns.pcap --filter 'udp and port 53' --format json
    ///   wirelab dissect --hex '45 00 00 1c 00 01 00 00 40 01 ...' --link ipv4
    ///   tcpdump -w - | wirelab dissect -
    #[command(verbatim_doc_comment)]
    Dissect(DissectArgs),
    /// Live capture from an interface (pnet datalink), shown with the same views as dissect.
    ///
    /// Needs root or CAP_NET_RAW. Captures on loopback (`lo`) unless told otherwise. Stops
    /// after --count packets, after --duration seconds, or on Ctrl-C; --write saves a pcap
    /// file that tshark, tcpdump and Wireshark open.
    Capture(CaptureArgs),
    /// WebSocket (RFC 6455), hand-rolled: the HTTP/1.1 upgrade handshake and frames.
    #[command(subcommand)]
    Ws(WsCommand),
    /// Socket.IO client (Engine.IO v4, Socket.IO v5) for any socket.io v4 server.
    #[command(subcommand)]
    Sio(SioCommand),
    /// Event hub: socket.io-style events, rooms, namespaces, acks, and a durable message queue.
    #[command(subcommand)]
    Hub(HubCommand),
    /// The lessons in lessons/: list them, show one, or run its steps.
    #[command(subcommand)]
    Lesson(LessonCommand),
    /// Run every lesson end to end on loopback: servers are started and stopped on free ports.
    Tour {
        /// Only these lessons (by id, repeated or comma-separated), in this order.
        #[arg(long = "only", value_name = "ID", value_delimiter = ',')]
        only: Vec<String>,
        /// One JSON object a lesson (`"type":"lesson"`: its steps, result and time).
        #[arg(long)]
        json: bool,
    },
    /// Print shell completions for SHELL to standard output.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum TcpCommand {
    /// TCP echo server: shows each accept, every read as hex+ASCII, the echo, FIN or RST.
    ///
    /// "accepted" means the kernel has finished the three-way handshake (SYN, SYN-ACK, ACK)
    /// before the program ever sees the connection. Each read shows how many bytes arrived
    /// together: TCP keeps no message boundaries. Ctrl-C stops the server and prints totals.
    Serve(TcpServeArgs),
    /// TCP client: connects, sends each MSG, prints the echo and the kernel's TCP_INFO.
    ///
    /// With no MSG it works like `nc HOST PORT`: standard input goes to the server and what
    /// the server sends goes to standard output, byte for byte; the commentary (connect,
    /// each read as hex+ASCII, TCP_INFO at the end) goes to standard error. That talks to any
    /// TCP server. When standard input is a terminal, each line you type is sent as a message
    /// and its echo awaited instead (an echo server); --no-echo turns that off.
    Send(TcpSendArgs),
}

#[derive(Debug, Args)]
pub struct TcpServeArgs {
    /// Address to listen on (HOST:PORT, or a bare PORT on 127.0.0.1; port 0 picks a free one).
    #[arg(long, short, default_value = "127.0.0.1:7007", value_parser = parse_addr)]
    pub listen: SocketAddr,
    /// Close a connection after this many seconds without data.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS", value_parser = parse_seconds)]
    pub idle_timeout: f64,
    /// Stop after serving this many connections (default: run until Ctrl-C).
    #[arg(long, value_name = "N", value_parser = parse_at_least_one)]
    pub max_conns: Option<u64>,
    /// Show at most this many bytes of each read in the hex dump.
    #[arg(long, default_value_t = 256, value_name = "BYTES")]
    pub dump_limit: usize,
    /// Report connections only, not every read (for benchmarks and busy servers).
    #[arg(long, short)]
    pub quiet: bool,
    /// JSON lines, one event a line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TcpSendArgs {
    /// The server (HOST:PORT, or a bare PORT on 127.0.0.1).
    #[arg(value_parser = parse_addr)]
    pub addr: SocketAddr,
    /// Messages to send, one write each (none: standard input, like nc).
    #[arg(value_name = "MSG")]
    pub messages: Vec<String>,
    /// With no MSG: do not wait for echoes; relay standard input to the server and the
    /// server to standard output (the default when standard input is not a terminal).
    #[arg(long)]
    pub no_echo: bool,
    /// Send all messages back to back before reading: the echo then arrives as one stream, and
    /// message boundaries are gone (TCP is a byte stream; applications need their own framing).
    #[arg(long)]
    pub coalesce: bool,
    /// Set TCP_NODELAY: turn off Nagle's algorithm, so small writes leave at once.
    #[arg(long)]
    pub no_delay: bool,
    /// Give up on connect or on a read after this many seconds.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: f64,
    /// JSON lines, one event a line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum UdpCommand {
    /// Receive numbered datagrams and report received, lost, duplicated, out of order.
    ///
    /// Stops after --count datagrams, after the sender's end marker, or after --timeout
    /// seconds of silence, then prints the report.
    Recv(UdpRecvArgs),
    /// Send numbered, timestamped datagrams through a seeded lossy link.
    ///
    /// The sender itself drops, holds back (reorders) and duplicates datagrams with a random
    /// generator seeded by --seed, so the same seed loses the same datagrams on every run.
    /// After the last datagram it sends an end marker (not subject to loss) telling the
    /// receiver how many were numbered.
    Send(UdpSendArgs),
}

#[derive(Debug, Args)]
pub struct UdpRecvArgs {
    /// Address to listen on (HOST:PORT, or a bare PORT on 127.0.0.1; port 0 picks a free one).
    #[arg(long, short, default_value = "127.0.0.1:7008", value_parser = parse_addr)]
    pub listen: SocketAddr,
    /// Stop after this many distinct datagrams.
    #[arg(long, short = 'n', value_name = "N", value_parser = parse_at_least_one)]
    pub count: Option<u64>,
    /// Stop after this many seconds of silence.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: f64,
    /// Print every datagram as it arrives.
    #[arg(long, short)]
    pub verbose: bool,
    /// Also report every SECONDS (from the first datagram): received, bitrate, lost, jitter,
    /// like iperf3's interval lines.
    #[arg(long, short = 'i', value_name = "SECONDS", value_parser = parse_seconds)]
    pub interval: Option<f64>,
    /// JSON: the final report as one object (with --verbose, one line per datagram first;
    /// with --interval, one line per interval).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct LinkArgs {
    /// Probability in 0..1 that the link drops a datagram.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    pub loss: f64,
    /// Probability in 0..1 that the link holds a datagram back and sends it after the next one.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    pub reorder: f64,
    /// Probability in 0..1 that the link sends a datagram twice.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    pub duplicate: f64,
    /// Seed of the link's random generator: the same seed drops the same datagrams.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct UdpSendArgs {
    /// The receiver (HOST:PORT, or a bare PORT on 127.0.0.1).
    #[arg(value_parser = parse_addr)]
    pub addr: SocketAddr,
    /// How many datagrams to number and send (default 100; no limit with --duration).
    #[arg(long, short = 'n', value_name = "N", value_parser = parse_at_least_one)]
    pub count: Option<u64>,
    /// Send for this many seconds (iperf3's -t), then stop (sooner if --count is reached).
    #[arg(long, short = 't', value_name = "SECONDS", value_parser = parse_seconds)]
    pub duration: Option<f64>,
    /// UDP payload size in bytes, header included (24 to 65507).
    #[arg(long, default_value_t = 64, value_name = "BYTES", value_parser = parse_size)]
    pub size: usize,
    /// Datagrams per second (0: as fast as the socket takes them).
    #[arg(long, default_value_t = 10_000, value_name = "PPS")]
    pub rate: u64,
    /// Target bitrate of UDP payload in bits/s, with K, M or G (iperf3's -b, e.g. 10M):
    /// sets the datagram rate to BITRATE / (8 × --size).
    #[arg(long, short = 'b', value_name = "BITRATE", value_parser = parse_bitrate, conflicts_with = "rate")]
    pub bitrate: Option<u64>,
    #[command(flatten)]
    pub link: LinkArgs,
    /// JSON: the final report as one object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Messages in the workload.
    #[arg(long, short = 'n', default_value_t = 1000, value_name = "N", value_parser = parse_at_least_one)]
    pub count: u64,
    /// Message size in bytes, header included (24 to 1400).
    #[arg(long, default_value_t = 512, value_name = "BYTES", value_parser = parse_compare_size)]
    pub size: usize,
    /// Probability in 0..1 that the lossy link drops a datagram (both directions).
    #[arg(long, default_value_t = 0.1, value_name = "P", value_parser = parse_probability, allow_negative_numbers = true)]
    pub loss: f64,
    /// Seed of the lossy link's random generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Reliable UDP: how many unacknowledged datagrams may be in flight.
    #[arg(long, default_value_t = 32, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub window: u32,
    /// Messages per second for every row (0 is not allowed: a burst would overflow the
    /// kernel's UDP buffers and add losses that are not the link's).
    #[arg(long, default_value_t = 20_000, value_name = "PPS", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub rate: u64,
    /// Root only: run the tcp row across two network namespaces with `tc netem loss`.
    #[arg(long)]
    pub netem: bool,
    /// One JSON object: {"rows": [...]}.
    #[arg(long)]
    pub json: bool,
    /// After the table, chart each transport's delivery latency by sequence number.
    #[arg(long)]
    pub chart: bool,
    /// Write that chart as an SVG image to FILE.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum WsCommand {
    /// WebSocket server: shows the HTTP upgrade handshake, then messages (and frames).
    ///
    /// A connection starts as HTTP/1.1: the client sends GET with `Upgrade: websocket` and a
    /// random `Sec-WebSocket-Key`; the server answers `101 Switching Protocols` with
    /// `Sec-WebSocket-Accept`. From then on the same TCP connection carries frames both ways
    /// at any time (full duplex). A GET of / without Upgrade serves a demo page that opens a
    /// WebSocket back here. Ctrl-C closes every connection with 1001 (going away) and exits 0.
    Serve(WsServeArgs),
    /// WebSocket client: handshake, send each MSG (or stdin lines), print what comes back,
    /// close cleanly.
    ///
    /// After sending, waits until as many messages came back as were sent (--expect to
    /// change that) or until --timeout seconds pass without one, then sends a close frame
    /// and waits for the server's.
    Connect(WsConnectArgs),
    /// The Sec-WebSocket-Accept computation, step by step:
    /// base64(SHA-1(KEY + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
    AcceptKey {
        /// The client's Sec-WebSocket-Key, e.g. the RFC's dGhlIHNhbXBsZSBub25jZQ==.
        key: String,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct WsLimitArgs {
    /// Largest message accepted, in bytes; a bigger one closes with 1009 (message too big).
    #[arg(long, default_value_t = 16 << 20, value_name = "BYTES", value_parser = parse_at_least_one)]
    pub max_message: u64,
    /// Largest single frame accepted, in bytes (1009 above it).
    #[arg(long, default_value_t = 16 << 20, value_name = "BYTES", value_parser = parse_at_least_one)]
    pub max_frame: u64,
}

#[derive(Debug, Args)]
pub struct WsServeArgs {
    /// Address to listen on (HOST:PORT, or a bare PORT on 127.0.0.1; port 0 picks a free one).
    #[arg(long, short, default_value = "127.0.0.1:7009", value_parser = parse_addr)]
    pub listen: SocketAddr,
    /// Send every message back to its sender (the default).
    #[arg(long, conflicts_with = "broadcast")]
    pub echo: bool,
    /// Relay every message to every other client: a chat room.
    #[arg(long)]
    pub broadcast: bool,
    /// Show every frame in and out: FIN, RSV1, opcode, mask key, length and its encoding,
    /// compressed and inflated sizes, preview; and the negotiated permessage-deflate.
    #[arg(long)]
    pub show_frames: bool,
    #[command(flatten)]
    pub compress: WsCompressArgs,
    /// Stop after serving this many connections (default: run until Ctrl-C).
    #[arg(long, value_name = "N", value_parser = parse_at_least_one)]
    pub max_conns: Option<u64>,
    /// Print only the listening line, errors and the end: for benchmarks and test suites.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub limits: WsLimitArgs,
    /// JSON lines, one event a line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct WsConnectArgs {
    /// The server, e.g. ws://127.0.0.1:7009/
    pub url: String,
    /// Messages to send, one text message each (none: read lines from stdin).
    #[arg(value_name = "MSG")]
    pub messages: Vec<String>,
    /// Send the messages as binary frames instead of text.
    #[arg(long)]
    pub binary: bool,
    /// Send a ping first and report the pong's round-trip time.
    #[arg(long)]
    pub ping: bool,
    /// How many messages to wait for before closing (default: as many as were sent).
    #[arg(long, value_name = "N")]
    pub expect: Option<u64>,
    /// Seconds to wait for the handshake, and for each reply.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: f64,
    /// Status code of our close frame (1000 normal, 1001 going away, 3000-4999 custom).
    #[arg(long, default_value_t = 1000, value_name = "CODE")]
    pub close_code: u16,
    /// Reason text in our close frame.
    #[arg(long, default_value = "done", value_name = "TEXT")]
    pub close_reason: String,
    /// Show every frame in and out: FIN, RSV1, opcode, mask key, length and its encoding,
    /// compressed and inflated sizes, preview; and the negotiated permessage-deflate.
    #[arg(long)]
    pub show_frames: bool,
    #[command(flatten)]
    pub compress: WsCompressArgs,
    #[command(flatten)]
    pub limits: WsLimitArgs,
    /// Print only the messages that come in, each whole on its own line, as websocat does
    /// (binary as base64); with --json, leave out the connect and handshake lines.
    #[arg(long, short)]
    pub quiet: bool,
    /// JSON lines, one event a line; messages carry their whole data (text, or base64 with
    /// "encoding":"base64").
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SioCommand {
    /// Connect to a socket.io server and listen: the polling handshake, the upgrade to
    /// WebSocket (2probe, 3probe, 5), the heartbeat, every event.
    ///
    /// Engine.IO opens a session with an HTTP GET (long-polling), then probes a WebSocket and
    /// moves the session to it; Socket.IO packets (CONNECT, EVENT, ACK, ...) ride inside
    /// Engine.IO messages, one namespace or several over the same connection. Listens until
    /// --count events came or --timeout seconds passed.
    ///
    /// Examples:
    ///   wirelab sio connect http://127.0.0.1:3000 --show-packets --count 1
    ///   wirelab sio connect http://127.0.0.1:3000/admin --auth '{"token":"x"}' --json
    #[command(verbatim_doc_comment)]
    Connect(SioConnectArgs),
    /// Connect, emit one event, wait for its ack if asked, then leave.
    ///
    /// ARGS are JSON if they look like JSON, `bin:HEX` for bytes (sent as an attachment), else
    /// strings; --ack asks for an acknowledgement and waits for it.
    ///
    /// Example: wirelab sio emit http://127.0.0.1:3000 "chat message" hi '{"n":1}' --ack
    #[command(verbatim_doc_comment)]
    Emit(SioEmitArgs),
}

#[derive(Debug, Args)]
pub struct SioConnectArgs {
    /// The server: http://HOST:PORT[/NAMESPACE] (ws:// works too).
    pub url: String,
    /// Namespace to join (repeatable; default: the URL's path, or /).
    #[arg(long = "namespace", value_name = "NSP")]
    pub namespaces: Vec<String>,
    /// Auth payload for CONNECT, a JSON object.
    #[arg(long, value_name = "JSON")]
    pub auth: Option<String>,
    /// polling, websocket, or (default) polling then upgrade to websocket.
    #[arg(long, value_enum, default_value_t = SioTransport::Auto)]
    pub transport: SioTransport,
    /// The server's Engine.IO path.
    #[arg(long, default_value = "/socket.io/", value_name = "PATH")]
    pub path: String,
    /// Stop after this many events from the server.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Seconds to run (with --count or an ack due: give up after this long, exit 1).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: f64,
    /// Reconnection attempts after the connection is lost, with connection state recovery
    /// (the last pid and offset go in the CONNECT auth).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub reconnect: u32,
    /// Seconds between losing the connection and reconnecting.
    #[arg(long, default_value_t = 0.5, value_name = "SECONDS", value_parser = parse_seconds)]
    pub reconnect_delay: f64,
    /// Show every HTTP request, Engine.IO packet and Socket.IO packet, each explained.
    #[arg(long)]
    pub show_packets: bool,
    /// At the end, drop the connection without DISCONNECT, as a phone that loses its network:
    /// the server keeps this socket's id, rooms and missed events for recovery (a DISCONNECT is
    /// leaving on purpose, and the server forgets the socket).
    #[arg(long)]
    pub vanish: bool,
    /// Join ROOM first (emit `join ROOM` and wait for its ack; repeatable), then emit or
    /// listen: the hub keeps rooms on the server, as socket.io does.
    #[arg(long = "join", value_name = "ROOM")]
    pub joins: Vec<String>,
    /// Keep the recovery pid and last offset in FILE (JSON), read at start and sent in the
    /// CONNECT auth, so a later run resumes this socket: socket.io-client keeps them in memory,
    /// for one page's life; this keeps them between runs. One namespace only.
    #[arg(long, value_name = "FILE")]
    pub state: Option<std::path::PathBuf>,
    /// JSON lines, one event a line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SioEmitArgs {
    #[command(flatten)]
    pub connect: SioConnectArgs,
    /// The event name.
    #[arg(value_name = "EVENT")]
    pub event: String,
    /// Arguments: JSON if they start with { [ or " (or are a number, true, false, null),
    /// `bin:HEX` for bytes (sent as an attachment), else a string.
    #[arg(value_name = "ARGS", allow_negative_numbers = true)]
    pub args: Vec<String>,
    /// Ask for an acknowledgement and wait for it.
    #[arg(long)]
    pub ack: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SioTransport {
    Auto,
    Polling,
    Websocket,
}

/// permessage-deflate (RFC 7692) on or off.
#[derive(Debug, Args)]
pub struct WsCompressArgs {
    /// Negotiate permessage-deflate: the client offers it, the server accepts the first valid
    /// offer; messages then travel DEFLATE-compressed with RSV1 set. Off by default (as
    /// Node's ws server), so that frames show the bytes as sent.
    #[arg(long, overrides_with = "no_compress")]
    pub compress: bool,
    /// Neither offer nor accept compression (the default).
    #[arg(long, overrides_with = "compress")]
    pub no_compress: bool,
}

impl WsCompressArgs {
    pub fn on(&self) -> bool {
        self.compress && !self.no_compress
    }
}

#[derive(Debug, Subcommand)]
pub enum LessonCommand {
    /// List the lessons.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Print a lesson's text, rendered for the terminal (without its front matter).
    Show {
        id: String,
        /// The markdown source instead (still without the front matter).
        #[arg(long)]
        raw: bool,
    },
    /// Run a lesson: its text, and each command step run for real.
    Run {
        id: String,
        /// Do not wait for Enter between steps.
        #[arg(long)]
        no_pause: bool,
    },
    /// Ask a lesson's numbered questions and check the answers (one a line, from stdin).
    ///
    /// The right answers are computed at check time by wirelab's own code from the data the
    /// question is about: a bundled capture, or the seed the student gave `udp send --seed`.
    Check {
        id: String,
        /// Read the answers from FILE (one a line, in question order) instead of stdin.
        #[arg(long, value_name = "FILE")]
        answers: Option<std::path::PathBuf>,
        /// The seed used in the lesson's lossy-link steps (`udp send --seed N`, `compare --seed N`).
        #[arg(long, value_name = "N")]
        seed: Option<u64>,
        /// A capture to ask about instead of the bundled one (e.g. one you made with `capture`).
        #[arg(long, value_name = "FILE")]
        capture: Option<std::path::PathBuf>,
        /// Only print the questions.
        #[arg(long)]
        list: bool,
        /// Print the answer key instead (for the teacher): one JSON object a question.
        #[arg(long, conflicts_with = "list")]
        key: bool,
    },
}

/// How `dissect` and `capture` show packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PacketFormat {
    /// One line a packet, shaped like `tcpdump -nn`; TCP handshake and teardown labelled.
    Summary,
    /// Every layer and field with its meaning, like `tshark -V`.
    Detail,
    /// The bytes as hex+ASCII, each range marked with its layer (header vs payload).
    Hex,
    /// JSON lines, one object a packet (see docs/dissect-json.md).
    Json,
}

/// Where raw bytes (--hex, --hex-file) start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LinkArg {
    /// An Ethernet II header.
    Ethernet,
    /// An IPv4 header.
    Ipv4,
    /// An IPv6 header.
    Ipv6,
    /// An IP header, version read from the first byte.
    Raw,
    /// Linux cooked capture v1.
    Sll,
    /// Linux cooked capture v2.
    Sll2,
    /// BSD loopback (4-byte address family).
    Null,
}

/// Display options shared by `dissect` and `capture`.
#[derive(Debug, Args, Clone)]
pub struct ViewArgs {
    /// How to show each packet.
    #[arg(long, short = 'f', value_enum, default_value_t = PacketFormat::Summary)]
    pub format: PacketFormat,
    /// Same as --format json (and --stats as one JSON object).
    #[arg(long)]
    pub json: bool,
    /// Show at most N packets (after --filter and --skip).
    #[arg(long, short = 'c', value_name = "N")]
    pub count: Option<u64>,
    /// Skip the first N packets that match the filter.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub skip: u64,
    /// Only packets matching EXPR, in tcpdump's filter language (pcap-filter(7)): host, net,
    /// port, portrange with src/dst and ip/ip6/arp/tcp/udp/icmp/icmp6/ether qualifiers,
    /// vlan, len/greater/less, byte tests like 'tcp[tcpflags] & tcp-syn != 0', joined with
    /// and/or/not; also wirelab's decoded layers dns, http, websocket.
    /// Example: 'tcp dst port 80 and not net 10.0.0.0/8'.
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Instead of packets, print a protocol hierarchy and a conversations table
    /// (like tshark -z io,phs and -z conv,tcp), and the TCP streams with their index.
    #[arg(long)]
    pub stats: bool,
    /// Decode each TCP segment alone, as tshark -o tcp.desegment_tcp_streams:FALSE. By
    /// default HTTP, WebSocket and DNS over TCP are read on each direction's reassembled byte
    /// stream: a message split over segments is decoded in the frame that completes it (from
    /// the "reassembled" bytes), and the earlier frames show a "segment" layer.
    #[arg(long)]
    pub no_reassemble: bool,
}

#[derive(Debug, Args)]
pub struct DissectArgs {
    /// A pcap or pcapng file, or - for standard input.
    #[arg(value_name = "FILE", required_unless_present_any = ["hex", "hex_file"], conflicts_with_all = ["hex", "hex_file"])]
    pub file: Option<std::path::PathBuf>,
    /// Raw bytes of one packet in hex ("45 00 00 3c", "45:00", "0x45,0x00"; spaces optional).
    #[arg(long, value_name = "BYTES", conflicts_with = "hex_file")]
    pub hex: Option<String>,
    /// A file of hex bytes, one packet a line (blank lines and # comments skipped).
    #[arg(long, value_name = "PATH")]
    pub hex_file: Option<std::path::PathBuf>,
    /// Draw the conversations as a ladder diagram: one column per host:port, one arrow per
    /// packet with its flags, relative seq/ack and length, time on the left.
    #[arg(long, conflicts_with_all = ["stats", "follow"])]
    pub flow: bool,
    /// Where raw bytes start (default for --hex: guessed from the first byte, and said); with
    /// a FILE, overrides its link type.
    #[arg(long, value_enum)]
    pub link: Option<LinkArg>,
    /// Show TCP stream N's bytes, both directions in sequence order, as
    /// `tshark -z follow,tcp,ascii,N` does (--format hex: as follow,tcp,hex; json: one object
    /// a chunk). N is the `stream` index of --stats and the JSON view.
    #[arg(long, value_name = "N")]
    pub follow: Option<u32>,
    #[command(flatten)]
    pub view: ViewArgs,
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// The interface to capture on.
    #[arg(
        long = "interface",
        short = 'i',
        default_value = "lo",
        value_name = "IFACE"
    )]
    pub interface: String,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub duration: Option<f64>,
    /// Also write the captured packets (those matching --filter) to a pcap file.
    #[arg(long, value_name = "FILE.pcap")]
    pub write: Option<std::path::PathBuf>,
    /// Keep at most this many bytes of each packet.
    #[arg(long, default_value_t = 262_144, value_name = "BYTES")]
    pub snaplen: u32,
    /// Print no packets (with --write: only save them).
    #[arg(long, short)]
    pub quiet: bool,
    /// Stop once every TCP connection seen (matching --filter) has closed: both FINs
    /// acknowledged, or a RST. Start it before the client; it waits for the first connection.
    #[arg(long)]
    pub until_closed: bool,
    #[command(flatten)]
    pub view: ViewArgs,
}

/// The clap command with each subcommand's layer added to its help, from [`crate::layers`].
pub fn command() -> clap::Command {
    decorate(Cli::command(), "")
}

fn decorate(mut cmd: clap::Command, prefix: &str) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix} {name}")
        };
        cmd = cmd.mut_subcommand(&name, |sub| {
            let sub = match crate::layers::help_heading(&path) {
                Some(h) => sub.before_help(h),
                None => sub,
            };
            decorate(sub, &path)
        });
    }
    cmd
}

/// `HOST:PORT`, `[V6]:PORT`, `localhost:PORT`, or a bare `PORT` (on 127.0.0.1).
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    let bad = || format!("'{s}' is not an address: expected HOST:PORT such as 127.0.0.1:7007");
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let port: u16 = s.parse().map_err(|_| bad())?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    if !s.contains(':') {
        return Err(bad());
    }
    match s.to_socket_addrs() {
        Ok(mut addrs) => addrs.next().ok_or_else(bad),
        Err(e) => Err(format!("'{s}' does not resolve: {e}")),
    }
}

/// A count of at least 1 (for "stop after N" limits and workload sizes).
pub fn parse_at_least_one(s: &str) -> Result<u64, String> {
    let v: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a whole number"))?;
    if v == 0 {
        Err("0 is not allowed: give at least 1 (leave the flag out for no limit where there is one)".into())
    } else {
        Ok(v)
    }
}

/// A probability: a number from 0 to 1.
pub fn parse_probability(s: &str) -> Result<f64, String> {
    let p: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number; expected a probability from 0 to 1"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{s} is outside 0..1; a probability is from 0 to 1"))
    }
}

/// A positive number of seconds.
pub fn parse_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if v.is_finite() && v > 0.0 && v <= 86_400.0 {
        Ok(v)
    } else {
        Err(format!(
            "{s} seconds is out of range (more than 0, at most 86400)"
        ))
    }
}

/// A bitrate in bits per second: `800000`, `800K`, `10M`, `1.5G` (powers of 1000, as iperf3).
pub fn parse_bitrate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1e3),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('G') => (&t[..t.len() - 1], 1e9),
        _ => (t, 1.0),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a bitrate: expected bits/s such as 800K, 10M or 1G"))?;
    let bits = v * mult;
    if bits.is_finite() && (1.0..=100e9).contains(&bits) {
        Ok(bits.round() as u64)
    } else {
        Err(format!("{s} is out of range: from 1 bit/s to 100G"))
    }
}

fn parse_size_in(s: &str, max: usize) -> Result<usize, String> {
    let min = crate::wire::probe::HEADER_LEN;
    let v: usize = s
        .parse()
        .map_err(|_| format!("'{s}' is not a size in bytes"))?;
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "{v} bytes is out of range: from {min} (the sequence-number header) to {max}"
        ))
    }
}

fn parse_size(s: &str) -> Result<usize, String> {
    parse_size_in(s, crate::wire::probe::MAX_UDP_PAYLOAD)
}

fn parse_compare_size(s: &str) -> Result<usize, String> {
    parse_size_in(s, 1400)
}

// --- hub (issue 5) -------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub enum HubCommand {
    /// Event hub over wirelab's WebSocket: namespaces, rooms, emits, acks, a durable queue.
    ///
    /// Namespaces are the URL path (ws://127.0.0.1:7010/parcels); rooms are groups a client
    /// joins. A client that connects with an identity (ws://HOST/parcels?client=driver-1) has
    /// a durable queue: every event addressed to it is written to SQLite (DIR/hub.sqlite3, WAL
    /// mode: open it with sqlite3 while the hub runs) before it is sent, carries a message id,
    /// and is deleted only when the client acknowledges it. Offline, events wait; on reconnect
    /// they come first, in order, then live events. Unacknowledged events are sent again after
    /// --ack-timeout or on reconnect (at-least-once: clients drop duplicates by id). GET / in a
    /// browser serves a page that speaks the protocol. Ctrl-C closes every connection with 1001
    /// and exits 0. Protocol: docs/hub-protocol.md.
    Serve(HubServeArgs),
    /// Connect, join rooms, print events as they arrive and acknowledge each one.
    ///
    /// With --client ID the hub keeps a queue for you: what was sent while you were away comes
    /// first. Duplicates (redelivered ids) are acknowledged again and shown as duplicates.
    /// --count N stops after N events (exit 1 if they do not come within --timeout).
    Listen(HubListenArgs),
    /// Connect, emit one event, print how many receivers got or will get it, and (with --ack)
    /// each receiver's acknowledgement.
    ///
    /// Targets: --room R (repeatable; everyone in those rooms but you, unless --include-self),
    /// --broadcast (everyone in the namespace but you), --to-self, --to-client ID (one identified
    /// client, queued if offline); none of these: everyone in the namespace. --ack waits up to
    /// --timeout for every receiver's ack, and exits 1 saying how many did not answer.
    Emit(HubEmitArgs),
    /// The durable queue on disk: depth, oldest event, drops and rooms per identified client.
    Queue(HubQueueArgs),
}

#[derive(Debug, Args)]
pub struct HubServeArgs {
    /// Address to listen on (HOST:PORT, or a bare PORT on 127.0.0.1; port 0 picks a free one).
    #[arg(long, short, default_value = "127.0.0.1:7010", value_parser = parse_addr)]
    pub listen: SocketAddr,
    /// Directory of the durable queue (hub.sqlite3 inside; created if missing).
    #[arg(long, default_value = ".wirelab-hub", value_name = "DIR")]
    pub data: std::path::PathBuf,
    /// Delete the queue, rooms and clients in --data before starting (and the Socket.IO
    /// recovery state, sio.sqlite3).
    #[arg(long)]
    pub reset: bool,
    /// Keep the queue in memory only (nothing survives a restart).
    #[arg(long, conflicts_with_all = ["data", "reset"])]
    pub memory: bool,
    /// Events kept per identified client; when full, the oldest is dropped (counted).
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub queue_cap: u64,
    /// Seconds to wait for an ack before sending an event again.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS", value_parser = parse_seconds)]
    pub ack_timeout: f64,
    /// Flow control: durable events in flight (sent, not yet acknowledged) to one connection
    /// at most; the rest wait in the queue and go out, in order, as acks come back.
    #[arg(long, default_value_t = 1024, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub window: u64,
    /// Connections open at once; more are refused (close 1013, try again later).
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_clients: u64,
    /// Largest message a client may send, in bytes (bigger: close 1009).
    #[arg(long, default_value_t = 64 * 1024, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(64..))]
    pub max_message: u64,
    /// Stop after serving this many connections (default: run until Ctrl-C).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_conns: Option<u64>,
    /// Stop when no client has been connected for this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub exit_after_idle: Option<f64>,
    /// Report connections, rooms and emits only (not every delivery and ack).
    #[arg(long, short)]
    pub quiet: bool,
    /// JSON lines, one event a line.
    #[arg(long)]
    pub json: bool,
    /// Keep queues in Redis (redis://127.0.0.1:PORT) instead of --data: work queues and each
    /// client's queue are Redis Streams; hub processes on one Redis act as one hub (shared
    /// queues, room and namespace emits cross processes). docs/hub-protocol.md.
    #[arg(long, value_name = "URL", conflicts_with_all = ["data", "reset"])]
    pub store: Option<String>,
    /// Work queues: a job delivered this many times without an ack goes to the dead letters.
    #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_attempts: u64,
    // --- Socket.IO server at /socket.io/ (issue 10, docs/socketio.md) ---
    /// Socket.IO: milliseconds between the server's Engine.IO pings (pingInterval) [default:
    /// 25000; 300 with --conformance].
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub ping_interval: Option<u64>,
    /// Socket.IO: milliseconds to wait for the pong before the session is closed (pingTimeout)
    /// [default: 20000; 200 with --conformance].
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub ping_timeout: Option<u64>,
    /// Socket.IO: largest HTTP body or WebSocket message a client may send (maxPayload; over
    /// it: 413 on polling, close 1009 on WebSocket).
    /// [default: 1000000]
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(16..))]
    pub max_payload: Option<u64>,
    /// Socket.IO: milliseconds a new session has to CONNECT to a namespace (connectTimeout)
    /// [default: 45000; 1000 with --conformance].
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub connect_timeout: Option<u64>,
    /// Socket.IO: where an event that is not join/leave goes: namespace (io.emit, the sender
    /// too), broadcast (socket.broadcast.emit), rooms (socket.to(the sender's rooms).emit).
    #[arg(long, value_enum, default_value_t = crate::sio::Relay::Namespace)]
    pub relay: crate::sio::Relay,
    /// Socket.IO namespace clients may connect to (repeatable; default /). Others get
    /// CONNECT_ERROR "Invalid namespace".
    #[arg(long = "sio-namespace", value_name = "NSP")]
    pub sio_namespaces: Vec<String>,
    /// Socket.IO: behave like the socket.io-protocol test suite's reference server (emit auth
    /// on connect, message -> message-back, message-with-ack acked; / and /custom; ping 300/200
    /// ms, connect timeout 1000 ms; no connection state recovery).
    #[arg(long)]
    pub conformance: bool,
    /// Socket.IO connection state recovery: seconds a disconnected client's id, rooms and
    /// missed events are kept (in --data, or in Redis with --store, so they survive a restart;
    /// expired ones are counted).
    #[arg(long, default_value_t = 120.0, value_name = "SECONDS", value_parser = parse_seconds)]
    pub recovery_window: f64,
    /// Socket.IO: no connection state recovery (no pid, no offsets: at-most-once, as socket.io
    /// without connectionStateRecovery).
    #[arg(long, conflicts_with = "recovery_window")]
    pub no_recovery: bool,
}

#[derive(Debug, Args)]
pub struct HubListenArgs {
    /// The hub and namespace, e.g. ws://127.0.0.1:7010/parcels
    pub url: String,
    /// Your identity: the hub keeps a durable queue and your rooms for it.
    #[arg(long, value_name = "ID")]
    pub client: Option<String>,
    /// Join this room first (repeatable).
    #[arg(long = "room", value_name = "ROOM")]
    pub rooms: Vec<String>,
    /// Exit after this many events (duplicates do not count).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Seconds to wait for the next event (default: for ever; with --count, 10).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Option<f64>,
    /// Do not acknowledge: events stay queued and come back (to see redelivery).
    #[arg(long)]
    pub no_ack: bool,
    /// JSON value sent back with each ack (the emitter sees it with hub emit --ack).
    #[arg(long, value_name = "JSON")]
    pub reply: Option<String>,
    /// Be a slow reader: read nothing for this many seconds after connecting (flow control:
    /// the hub sends at most its window of events, hub serve --window, and the rest wait in
    /// the queue).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub pause: Option<f64>,
    /// JSON lines, one event a line.
    #[arg(long)]
    pub json: bool,
    /// Be a worker on this work queue: each job goes to one worker only (not a room's fan-out).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["rooms", "reply"])]
    pub queue: Option<String>,
    /// With --queue: milliseconds each job takes (the worker waits before acknowledging).
    #[arg(long, default_value_t = 0, value_name = "MS", requires = "queue")]
    pub work_ms: u64,
    /// With --queue: run this many workers, each its own connection (client ID-1, ID-2, ...).
    #[arg(long, default_value_t = 1, value_name = "N", requires = "queue", value_parser = clap::value_parser!(u64).range(1..=64))]
    pub workers: u64,
    /// With --queue: jobs handed to this worker at a time, unacknowledged.
    #[arg(long, default_value_t = 1, value_name = "N", requires = "queue", value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub prefetch: u64,
}

#[derive(Debug, Args)]
pub struct HubEmitArgs {
    /// The hub and namespace, e.g. ws://127.0.0.1:7010/parcels
    pub url: String,
    /// Event name, e.g. pickup.
    pub event: String,
    /// Event data as JSON (a bare word is sent as a string). Default: null.
    pub data: Option<String>,
    /// Send to everyone in this room (repeatable).
    #[arg(long = "room", value_name = "ROOM", conflicts_with_all = ["broadcast", "to_self", "to_client"])]
    pub rooms: Vec<String>,
    /// With --room: include yourself if you are in the room.
    #[arg(long, requires = "rooms")]
    pub include_self: bool,
    /// Everyone in the namespace except you.
    #[arg(long, conflicts_with_all = ["to_self", "to_client"])]
    pub broadcast: bool,
    /// Only to yourself (the hub sends it straight back).
    #[arg(long, conflicts_with = "to_client")]
    pub to_self: bool,
    /// One identified client (queued if it is offline).
    #[arg(long = "to-client", value_name = "ID")]
    pub to_client: Option<String>,
    /// Emit as this client id (so receivers see who sent it). Events queued for that client
    /// stay queued: this command does not acknowledge them.
    #[arg(long = "as", value_name = "ID")]
    pub as_client: Option<String>,
    /// Ask every receiver for an acknowledgement and wait for them.
    #[arg(long)]
    pub ack: bool,
    /// Volatile: drop it for receivers that are offline or slow; never queued.
    #[arg(long)]
    pub volatile: bool,
    /// Seconds to wait for the hub and for acks.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: f64,
    /// JSON lines, one event a line.
    #[arg(long)]
    pub json: bool,
    /// Put it on this work queue as a job for exactly one worker (hub listen --queue NAME).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["rooms", "broadcast", "to_self", "to_client", "ack", "volatile"])]
    pub queue: Option<String>,
    /// This many events, or jobs with --queue (in DATA_JSON, the placeholder { n } written
    /// without spaces becomes 1, 2, ...).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub repeat: u64,
}

#[derive(Debug, Args)]
pub struct HubQueueArgs {
    /// Directory of the durable queue (as given to hub serve --data).
    #[arg(long, default_value = ".wirelab-hub", value_name = "DIR")]
    pub data: std::path::PathBuf,
    /// One JSON object.
    #[arg(long)]
    pub json: bool,
    /// Show the work queues on this Redis (as given to hub serve --store) instead.
    #[arg(long, value_name = "URL", conflicts_with = "data")]
    pub store: Option<String>,
}

// --- end hub ---------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(parse_addr("7007").unwrap().to_string(), "127.0.0.1:7007");
        assert_eq!(parse_addr("[::1]:9").unwrap().to_string(), "[::1]:9");
        assert!(parse_addr("localhost:80").unwrap().ip().is_loopback());
        let e = parse_addr("nonsense").unwrap_err();
        assert!(e.contains("'nonsense'"), "{e}");
        assert!(parse_addr("99999").is_err());
    }

    #[test]
    fn bitrates() {
        assert_eq!(parse_bitrate("10M"), Ok(10_000_000));
        assert_eq!(parse_bitrate("1.5k"), Ok(1500));
        assert_eq!(parse_bitrate("800"), Ok(800));
        assert!(parse_bitrate("fast").unwrap_err().contains("'fast'"));
        assert!(parse_bitrate("0").is_err());
    }

    #[test]
    fn probabilities() {
        assert_eq!(parse_probability("0.2"), Ok(0.2));
        assert!(parse_probability("1.5").unwrap_err().contains("1.5"));
        assert!(parse_probability("-0.1").is_err());
        assert!(parse_probability("NaN").is_err());
    }

    #[test]
    fn cli_parses_and_rejects() {
        let c = Cli::try_parse_from(["wirelab", "udp", "send", "9000", "--loss", "0.3"]).unwrap();
        match c.command {
            Command::Udp(UdpCommand::Send(a)) => {
                assert_eq!(a.link.loss, 0.3);
                assert_eq!(a.addr.port(), 9000);
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["wirelab", "udp", "send", "9000", "--count", "0"]).is_err());
        assert!(Cli::try_parse_from(["wirelab", "udp", "send", "9000", "--size", "3"]).is_err());
    }

    /// Every command has its layer declared in `layers.rs`, and every declaration names a real
    /// command.
    #[test]
    fn every_command_has_a_layer() {
        let cmd = command();
        let mut paths = Vec::new();
        for top in cmd.get_subcommands() {
            let name = top.get_name().to_string();
            if top.has_subcommands() && crate::layers::placement(&name).is_none() {
                for sub in top.get_subcommands() {
                    paths.push(format!("{name} {}", sub.get_name()));
                }
            } else {
                paths.push(name);
            }
        }
        for p in &paths {
            assert!(crate::layers::placement(p).is_some(), "no layer for `{p}`");
        }
        for p in crate::layers::COMMANDS {
            assert!(
                paths.iter().any(|x| x == p.command),
                "placement for unknown `{}`",
                p.command
            );
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        command().debug_assert();
    }
}

//! `wirelab lesson check`: each lesson's numbered questions, with answers worked out at check
//! time by wirelab's own code from the data the question is about — a bundled capture (or one
//! the student made), the lossy link with the seed the student chose, or a hub session that
//! the check runs itself. No answer is stored as a string.

use std::io::Cursor;
use std::path::Path;

use anyhow::{anyhow, Context, Result};

use crate::capture::Reader;
use crate::dissect::{Dissector, FrameInfo, Layer, Packet, Proto};
use crate::exit::BadInput;
use crate::transport::lossy::{Fate, LinkConfig, LossyLink};

use super::run::{self, StepRecord};

/// One question and its answer, as computed now.
#[derive(Debug, Clone)]
pub struct Question {
    pub text: String,
    /// The right answer, in its usual spelling.
    pub answer: String,
    /// Other spellings that are just as right (compared without case).
    pub also: Vec<String>,
    /// Where the answer is to be read: a field name, a line of a command's output.
    pub field: String,
    /// Why that is the answer.
    pub why: String,
}

impl Question {
    fn new(text: impl Into<String>, answer: impl ToString, field: &str, why: String) -> Self {
        Question {
            text: text.into(),
            answer: answer.to_string(),
            also: Vec::new(),
            field: field.into(),
            why,
        }
    }

    fn or(mut self, other: impl ToString) -> Self {
        self.also.push(other.to_string());
        self
    }

    /// Is `given` this answer? Numbers compare as numbers, words without case or a final dot.
    pub fn accepts(&self, given: &str) -> bool {
        let norm = |s: &str| s.trim().trim_end_matches('.').trim().to_lowercase();
        let g = norm(given);
        if g.is_empty() {
            return false;
        }
        std::iter::once(&self.answer).chain(&self.also).any(|a| {
            match (norm(a).parse::<f64>(), g.parse::<f64>()) {
                (Ok(x), Ok(y)) => x == y,
                _ => norm(a) == g,
            }
        })
    }
}

/// What the questions may be about, as the student chose it.
#[derive(Debug, Default)]
pub struct Data {
    /// The seed given to `udp send --seed` / `compare --seed` (else the lesson's own).
    pub seed: Option<u64>,
    /// A capture to ask about instead of the bundled one.
    pub capture: Option<Vec<u8>>,
}

impl Data {
    pub fn load(seed: Option<u64>, capture: Option<&Path>) -> Result<Data> {
        let capture = match capture {
            Some(p) => Some(
                std::fs::read(p)
                    .map_err(|e| BadInput(format!("cannot read --capture {}: {e}", p.display())))?,
            ),
            None => None,
        };
        Ok(Data { seed, capture })
    }

    /// The capture the student gave, else the bundled one named.
    fn capture_or(&self, bundled: &str) -> Result<&[u8]> {
        match &self.capture {
            Some(c) => Ok(c),
            None => {
                super::fixtures::get(bundled).ok_or_else(|| anyhow!("{bundled} is not bundled"))
            }
        }
    }
}

/// The questions of lesson `id`, answers computed now.
pub fn questions(id: &str, data: &Data) -> Result<Vec<Question>> {
    match id {
        "layers" => Ok(layers()),
        "tcp" => tcp(data.capture_or("http.pcap")?),
        "udp" => Ok(udp(data.seed.unwrap_or(7))),
        "tcp-vs-udp" => Ok(tcp_vs_udp(data.seed.unwrap_or(1))),
        "packets" => packets(data),
        "websocket" => websocket(data.capture_or("websocket.pcap")?),
        "socketio" => socketio(data.capture_or("socketio.pcap")?),
        "events" | "message-queue" | "work-queue" => hub(id),
        other => Err(BadInput(format!("lesson '{other}' has no questions yet")).into()),
    }
}

fn layers() -> Vec<Question> {
    let osi = |n| crate::layers::osi(n).expect("OSI layers 1-7 exist");
    let tcp = crate::layers::placement("tcp send")
        .and_then(|p| p.osi.first().copied())
        .unwrap_or(4);
    let l5 = osi(5);
    vec![
        Question::new(
            "At which OSI layer (a number) does `wirelab tcp send` work?",
            tcp,
            "the 'OSI' column of `wirelab layers` (and the Layer: line of `wirelab tcp send --help`)",
            format!("TCP is a transport protocol: OSI {tcp}, {}", osi(tcp).name),
        ),
        Question::new(
            "What is one unit of data called at the transport layer (its PDU)?",
            osi(4).pdu,
            "the 'PDU' column of `wirelab layers`, OSI 4",
            format!("a TCP {} (a UDP one is a datagram)", osi(4).pdu),
        )
        .or("segments")
        .or("datagram"),
        Question::new(
            "Which TCP/IP layer holds OSI layers 5, 6 and 7?",
            l5.tcpip.name(),
            "the 'TCP/IP' column of `wirelab layers`",
            format!(
                "the TCP/IP model folds session and presentation into {}: on the Internet they \
                 have no header of their own",
                l5.tcpip.name()
            ),
        ),
    ]
}

/// One frame: its metadata, bytes, layers, and the messages it completed (reassembled).
type DissectedFrame = (FrameInfo, Vec<u8>, Vec<Layer>, Vec<u8>);

/// Every packet of a capture, dissected.
struct Dissected {
    frames: Vec<DissectedFrame>,
}

impl Dissected {
    fn read(bytes: &[u8]) -> Result<Dissected> {
        let mut reader = Reader::new(Cursor::new(bytes.to_vec()))
            .map_err(|e| BadInput(format!("not a capture: {e}")))?;
        let mut d = Dissector::new();
        let mut frames = Vec::new();
        reader
            .for_each_event(|ev| -> Result<bool> {
                if let Some((info, data)) = ev {
                    let mut layers = Vec::new();
                    d.dissect(info, data, &mut layers);
                    frames.push((*info, data.to_vec(), layers, d.reassembled().to_vec()));
                }
                Ok(true)
            })
            .context("reading the capture")?;
        Ok(Dissected { frames })
    }

    fn packets(&self) -> impl Iterator<Item = Packet<'_>> {
        self.frames
            .iter()
            .map(|(info, data, layers, reassembled)| Packet {
                info,
                data,
                layers,
                reassembled,
            })
    }
}

fn tcp_of<'a>(
    p: &Packet<'a>,
) -> Option<(&'a crate::wire::tcp::Header, &'a crate::dissect::TcpMeta)> {
    p.layers.iter().find_map(|l| match &l.proto {
        Proto::Tcp(h, m) if !l.quoted => Some((h, m)),
        _ => None,
    })
}

fn tcp(capture: &[u8]) -> Result<Vec<Question>> {
    let d = Dissected::read(capture)?;
    let pk: Vec<Packet> = d.packets().collect();
    let find = |f: &dyn Fn(&crate::wire::tcp::Header) -> bool| {
        pk.iter()
            .find(|p| tcp_of(p).is_some_and(|(h, _)| f(h)))
            .ok_or_else(|| BadInput("the capture has no TCP handshake".into()))
    };
    let syn = find(&|h| h.flags.syn() && !h.flags.ack())?;
    let synack = find(&|h| h.flags.syn() && h.flags.ack())?;
    let (sh, _) = tcp_of(syn).expect("found by its TCP header");
    let (ah, _) = tcp_of(synack).expect("found by its TCP header");
    let client = sh.src_port;
    let data = pk
        .iter()
        .filter_map(|p| tcp_of(p).map(|t| (p, t)))
        .find(|(_, (h, m))| h.src_port == client && m.len > 0);
    let fin = pk
        .iter()
        .find(|p| tcp_of(p).is_some_and(|(h, _)| h.flags.fin()))
        .map(|p| p.info.number);
    let mut q =
        vec![
        Question::new(
            "What is the client's initial sequence number (the raw sequence number of the SYN)?",
            sh.seq,
            &format!("tcp.seq of packet {} (`dissect --format detail`)", syn.info.number),
            "the client picks it at random; its SYN carries it".into(),
        ),
        Question::new(
            "What acknowledgement number does the SYN-ACK carry (raw)?",
            ah.ack,
            &format!("tcp.ack of packet {}", synack.info.number),
            format!(
                "{} + 1 = {}: the SYN uses up one sequence number, and an ACK names the next \
                 byte expected, not the last one received",
                sh.seq,
                sh.seq.wrapping_add(1)
            ),
        ),
        Question::new(
            "Which port does the server listen on (one of the four numbers that name the \
             connection)?",
            sh.dst_port,
            &format!("tcp.dstport of packet {}", syn.info.number),
            format!(
                "the 4-tuple is client address and port {client}, server address and port {}; \
                 a second client differs in its own port",
                sh.dst_port
            ),
        ),
    ];
    if let Some((p, (_, m))) = data {
        q.push(Question::new(
            "How many bytes of data does the client's first data segment carry?",
            m.len,
            &format!("tcp.len of packet {}", p.info.number),
            "IP total length minus the IP and TCP headers".into(),
        ));
    }
    if let Some(n) = fin {
        q.push(Question::new(
            "Which packet (its number) carries the first FIN?",
            n,
            "tcp.flags.fin (`F` in the summary's flags)",
            "the side that is done sending says so with FIN: an orderly half-close".into(),
        ));
    }
    Ok(q)
}

/// The lossy link of `udp send`, run again with the same settings: what it drops.
fn link_run(count: u64, cfg: LinkConfig) -> (Vec<u64>, u64) {
    let mut link = LossyLink::new(cfg);
    let mut dropped = Vec::new();
    for seq in 0..count {
        if link.send(&[], |_| Ok::<(), ()>(())) == Ok(Fate::Dropped) {
            dropped.push(seq);
        }
    }
    (dropped, link.stats.duplicated)
}

fn udp(seed: u64) -> Vec<Question> {
    let cfg = LinkConfig {
        loss: 0.2,
        reorder: 0.05,
        duplicate: 0.02,
        seed,
    };
    let (dropped, duplicated) = link_run(1000, cfg);
    let cmd = format!(
        "`udp send ADDR --count 1000 --loss 0.2 --reorder 0.05 --duplicate 0.02 --seed {seed}`"
    );
    let mut q = vec![Question::new(
        format!("{cmd}: how many datagrams did the lossy link drop?"),
        dropped.len(),
        "the sender's 'dropped' count, and the receiver's 'lost'",
        format!(
            "seed {seed} draws the same random numbers every run; {} of 1000 fell under 0.2",
            dropped.len()
        ),
    )];
    if let Some(first) = dropped.first() {
        q.push(Question::new(
            format!("{cmd}: what is the sequence number of the first datagram dropped?"),
            first,
            "the first number in the sender's list of dropped sequence numbers",
            "sequence numbers start at 0; the receiver sees the gap".into(),
        ));
    }
    q.push(Question::new(
        format!("{cmd}: how many datagrams did the link send twice?"),
        duplicated,
        "the receiver's 'duplicated' count",
        "UDP does not notice duplicates; the application must".into(),
    ));
    q
}

fn tcp_vs_udp(seed: u64) -> Vec<Question> {
    let cfg = LinkConfig {
        loss: 0.2,
        reorder: 0.0,
        duplicate: 0.0,
        seed,
    };
    let (dropped, _) = link_run(1000, cfg);
    vec![
        Question::new(
            format!(
                "`compare --count 1000 --size 512 --loss 0.2 --seed {seed}`: how many messages \
                 did the plain udp row lose?"
            ),
            dropped.len(),
            "the 'lost' column of the udp row",
            "nobody retransmits on plain UDP: every datagram the link drops is lost".into(),
        ),
        Question::new(
            "Same command: how many messages did the reliable-udp row lose (it retransmits)?",
            0,
            "the 'lost' column of the reliable-udp row",
            format!(
                "its ARQ sent the {} dropped ones again until they were acknowledged",
                dropped.len()
            ),
        ),
    ]
}

fn packets(data: &Data) -> Result<Vec<Question>> {
    let dns = Dissected::read(data.capture_or("dns.pcap")?)?;
    let http = Dissected::read(super::fixtures::get("http.pcap").unwrap_or_default())?;
    let vlan = Dissected::read(super::fixtures::get("arp-vlan.pcap").unwrap_or_default())?;
    let mut q = Vec::new();
    let answer = dns.packets().find_map(|p| {
        p.layers.iter().find_map(|l| match &l.proto {
            Proto::Dns(m) if m.is_response() => m.answers.iter().find_map(|r| match &r.data {
                crate::wire::dns::RData::A(a) => Some((p.info.number, r.name.clone(), *a)),
                _ => None,
            }),
            _ => None,
        })
    });
    if let Some((n, name, a)) = answer {
        q.push(Question::new(
            format!("dns.pcap: what IPv4 address does the DNS response give for {name}?"),
            a,
            &format!("dns.a in packet {n} (`dissect fixtures/dns.pcap --format detail`)"),
            "the answer section's A record".into(),
        ));
    }
    q.push(Question::new(
        "http.pcap: how many packets does the capture hold?",
        http.frames.len(),
        "frame.number of the last packet",
        "one line a packet in the summary".into(),
    ));
    let status = http.packets().find_map(|p| {
        p.layers.iter().find_map(|l| match &l.proto {
            Proto::Http(m) => match &m.start {
                crate::wire::http_message::StartLine::Response { status, .. } => {
                    Some((p.info.number, *status))
                }
                _ => None,
            },
            _ => None,
        })
    });
    if let Some((n, s)) = status {
        q.push(Question::new(
            "http.pcap: what status code does the server answer with?",
            s,
            &format!("http.response.code in packet {n}"),
            "the response's start line, inside the TCP payload (OSI 7)".into(),
        ));
    }
    let vid = vlan.packets().find_map(|p| {
        p.layers.iter().find_map(|l| match &l.proto {
            Proto::Vlan(t) => Some((p.info.number, t.vid)),
            _ => None,
        })
    });
    if let Some((n, v)) = vid {
        q.push(Question::new(
            "arp-vlan.pcap: what VLAN ID does the first tagged frame carry?",
            v,
            &format!("vlan.id in packet {n}"),
            "the low 12 bits of the 802.1Q tag's TCI".into(),
        ));
    }
    Ok(q)
}

fn websocket(capture: &[u8]) -> Result<Vec<Question>> {
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let mut q = vec![Question::new(
        format!("What Sec-WebSocket-Accept does a server answer to the key {key}?"),
        crate::wire::websocket::handshake::accept_key(key),
        "the Sec-WebSocket-Accept header of the 101 response (`wirelab ws accept-key KEY`)",
        "base64(SHA-1(key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11))".into(),
    )];
    let d = Dissected::read(capture)?;
    let frames: Vec<(u64, crate::wire::websocket_frame::FrameHeader)> = d
        .packets()
        .flat_map(|p| {
            let n = p.info.number;
            p.layers
                .iter()
                .filter_map(move |l| match &l.proto {
                    Proto::WebSocket(f) => Some((n, *f)),
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
        .collect();
    if let Some((n, f)) = frames.iter().find(|(_, f)| f.masked) {
        q.push(Question::new(
            "websocket.pcap: how many bytes long is the header of the first client frame?",
            f.header_len,
            &format!("websocket header in packet {n} (`--format detail`)"),
            format!(
                "2 bytes, {} more for the length, 4 for the mask key: a client masks every \
                 frame",
                f.header_len.saturating_sub(6)
            ),
        ));
    }
    if let Some((n, f)) = frames.iter().find(|(_, f)| !f.masked) {
        q.push(Question::new(
            "websocket.pcap: is the first server frame masked? (yes or no)",
            if f.masked { "yes" } else { "no" },
            &format!("websocket.mask in packet {n}"),
            "only client-to-server frames are masked (RFC 6455 5.3)".into(),
        ));
    }
    if let Some((n, f)) = frames.iter().find(|(_, f)| f.opcode == 8) {
        q.push(Question::new(
            "websocket.pcap: what opcode number does the close frame have?",
            f.opcode,
            &format!("websocket.opcode in packet {n}"),
            "opcodes 8, 9, 10 are the control frames close, ping, pong".into(),
        ));
    }
    Ok(q)
}

/// Hub lessons: the check runs the lesson's own session again (a real hub on a free port,
/// real clients) and reads the answers from what the hub and clients said.
fn hub(id: &str) -> Result<Vec<Question>> {
    let lesson = super::find(id)?;
    let o = run::run(
        &lesson,
        run::Options {
            pause: false,
            colour: false,
            // The work queue's answers are read from the clients' JSON lines.
            json: id == "work-queue",
        },
        &mut std::io::sink(),
    )?;
    if let Some(f) = &o.failure {
        return Err(anyhow!("the hub session for the check failed: {f}"));
    }
    let s = &o.steps;
    let mut q = Vec::new();
    let mut recipients = |event: &str, text: &str, why: &str| {
        if let Some(n) = grab(s, &format!("emitted {event}: "), " recipient") {
            q.push(Question::new(
                text,
                n,
                &format!("the 'emitted {event}: N recipient(s)' line of that `hub emit`"),
                why.into(),
            ));
        }
    };
    match id {
        "events" => {
            recipients(
                "weather",
                "How many recipients did the broadcast `weather` in / have?",
                "alice and bob: a broadcast reaches everyone in the namespace but its sender",
            );
            recipients(
                "everyone",
                "How many recipients did the namespace emit `everyone` have?",
                "alice, bob and the sender itself: a namespace emit includes you",
            );
            recipients(
                "score",
                "How many recipients did the broadcast in /games have?",
                "nobody is connected to /games: namespaces are separate worlds",
            );
            recipients(
                "doorbell",
                "How many clients received `doorbell` live, while connected (room porch)?",
                "carol's listener was connected in porch: the hub pushed it to her at once",
            );
        }
        "message-queue" => {
            recipients(
                "pickup",
                "How many recipients did a `pickup` to room vendor-7 have while driver-1 was away?",
                "driver-1 is in the room although offline: the hub queues the event for it",
            );
            if let Some(n) = grab_on(s, "emitted location: ", "queue, ", " dropped") {
                q.push(Question::new(
                    "How many receivers was the volatile `location` event dropped for?",
                    n,
                    "the 'N dropped' of the 'emitted location:' line",
                    "a volatile event is never queued: driver-1 was offline, so it was dropped"
                        .into(),
                ));
            }
        }
        _ => {
            let stored = json_lines(s, "--repeat ")
                .find(|v| v["type"] == "stored")
                .and_then(|v| v["jobs"].as_u64());
            if let Some(n) = stored {
                q.push(Question::new(
                    "`hub emit ... --queue resize --repeat N`: how many jobs did the hub store?",
                    n,
                    "`jobs` of the emitter's {\"type\":\"stored\"} line (`hub emit --json`)",
                    "each --repeat is one job; the queue keeps them until a worker acks".into(),
                ));
            }
            // The last `hub queue` of the first hub: its dead letters, the corrupt job among them.
            let dead = s
                .iter()
                .filter(|st| !st.background && st.shown.contains("hub queue --data"))
                .filter_map(|st| dead_letter_deliveries(st, "corrupt.jpg"))
                .next_back();
            if let Some(n) = dead {
                q.push(Question::new(
                    "After how many deliveries did the corrupt job become a dead letter?",
                    n,
                    "`deliveries` of its entry in `dead_letters` (`hub queue --json`)",
                    "the hub's --max-attempts: a job delivered that often without an ack is dead"
                        .into(),
                ));
            }
        }
    }
    if q.is_empty() {
        return Err(anyhow!(
            "the hub session said nothing the questions are about"
        ));
    }
    Ok(q)
}

/// The socket.io lesson: two questions about a capture (the bundled one, made from the npm
/// server and client, or the student's own), then the lesson's session run again, answers read
/// from what the hub and the clients said.
fn socketio(capture: &[u8]) -> Result<Vec<Question>> {
    use crate::wire::engineio::PacketType as Eio;
    let d = Dissected::read(capture)?;
    let mut q = Vec::new();
    let eio: Vec<(u64, &crate::dissect::socketio::EngineIoLayer)> = d
        .frames
        .iter()
        .flat_map(|(info, _, layers, _)| {
            layers.iter().filter_map(move |l| match &l.proto {
                Proto::EngineIo(e) => Some((info.number, e.as_ref())),
                _ => None,
            })
        })
        .collect();
    if let Some((n, (_, interval, _))) = eio
        .iter()
        .find_map(|(n, e)| e.handshake.as_ref().map(|h| (n, h)))
    {
        q.push(Question::new(
            "socketio.pcap: how many milliseconds apart does the server's open packet say its pings come (pingInterval)?",
            interval,
            &format!("pingInterval in the engine.io open packet, packet {n}"),
            "the server pings, every pingInterval; a pong must come within pingTimeout".into(),
        ));
    }
    if let Some((n, _)) = eio
        .iter()
        .find(|(_, e)| e.probe && e.kind == Some(Eio::Ping))
    {
        q.push(Question::new(
            "socketio.pcap: in which packet (its number) does the client send the WebSocket probe, 2probe?",
            n,
            "the 'engine.io ping probe' line of `wirelab dissect FILE --filter engineio`",
            "the first message on the new WebSocket, before the session moves to it (3probe, then 5)"
                .into(),
        ));
    }
    let lesson = super::find("socketio")?;
    let o = run::run(
        &lesson,
        run::Options {
            pause: false,
            colour: false,
            json: false,
        },
        &mut std::io::sink(),
    )?;
    if let Some(f) = &o.failure {
        return Err(anyhow!("the socket.io session for the check failed: {f}"));
    }
    let s = &o.steps;
    let mut ask = |step: &str, before: &str, after: &str, text: &str, field: &str, why: &str| {
        if let Some(n) = grab_step(s, step, before, after) {
            q.push(Question::new(text, n, field, why.into()));
        }
    };
    ask(
        "hello from alice",
        "\"recipients\":",
        "}",
        "`io.emit` (--relay namespace): how many recipients did alice's \"hello from alice\" have?",
        "the ack's {\"recipients\":N} of that `sio emit`",
        "bob and alice herself: io.emit sends to every socket in the namespace, the sender too",
    );
    ask(
        "hello, everyone else",
        "\"recipients\":",
        "}",
        "`socket.broadcast.emit` (--relay broadcast): how many recipients did \"hello, everyone else\" have?",
        "the ack's {\"recipients\":N} of that `sio emit`",
        "only bob: a broadcast goes to everyone in the namespace but the sender",
    );
    ask(
        "dinner is ready",
        "\"members\":",
        ",",
        "How many members did the kitchen have once alice had joined it?",
        "the join ack's {\"members\":N} of alice's `sio emit --join kitchen`",
        "bob and alice: the room is kept by the server, carol is in the garden",
    );
    ask(
        "is anyone there?",
        "\"recipients\":",
        "}",
        "Without recovery: how many recipients did \"is anyone there?\" have?",
        "the ack's {\"recipients\":N} of that `sio emit`",
        "only the sender: nobody else was connected, and nothing is kept for later (at-most-once)",
    );
    ask(
        "--state alice.json --count 1",
        "recovered: ",
        " missed",
        "With recovery: how many missed events did the hub replay when alice came back?",
        "the hub's 'connected to / (recovered: N missed event(s) replayed)' line",
        "message 2, sent while she was away; message 1 she had (her offset said so)",
    );
    if q.is_empty() {
        return Err(anyhow!(
            "the socket.io session said nothing the questions are about"
        ));
    }
    Ok(q)
}

/// The JSON objects the first foreground step whose command line contains `step` printed
/// (a run with `Options::json`); lines that are not JSON objects are skipped.
fn json_lines<'a>(
    steps: &'a [StepRecord],
    step: &str,
) -> impl Iterator<Item = serde_json::Value> + 'a {
    steps
        .iter()
        .find(|s| !s.background && s.shown.contains(step))
        .into_iter()
        .flat_map(json_objects)
}

/// The JSON objects among one step's output lines.
fn json_objects(step: &StepRecord) -> impl Iterator<Item = serde_json::Value> + '_ {
    step.output
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.is_object())
}

/// In a `hub queue --json` step's output: the `deliveries` of the dead letter whose data
/// contains `data`.
fn dead_letter_deliveries(step: &StepRecord, data: &str) -> Option<u64> {
    json_objects(step)
        .filter(|v| v["type"] == "queue")
        .flat_map(|v| v["work_queues"].as_array().cloned().unwrap_or_default())
        .flat_map(|w| w["dead_letters"].as_array().cloned().unwrap_or_default())
        .find(|d| d["data"].as_str().is_some_and(|t| t.contains(data)))
        .and_then(|d| d["deliveries"].as_u64())
}

/// The number between `before` and `after` in the output of the first step whose command line
/// contains `step` (and not a background one: the step that ran it).
fn grab_step(steps: &[StepRecord], step: &str, before: &str, after: &str) -> Option<u64> {
    let st = steps
        .iter()
        .find(|s| !s.background && s.shown.contains(step))?;
    grab(std::slice::from_ref(st), before, after)
}

/// The first text between `before` and `after` on a line the steps printed, as a number.
fn grab(steps: &[StepRecord], before: &str, after: &str) -> Option<u64> {
    grab_on(steps, "", before, after)
}

/// The same, on the first line that also contains `on`.
fn grab_on(steps: &[StepRecord], on: &str, before: &str, after: &str) -> Option<u64> {
    let lines = steps.iter().flat_map(|s| &s.output);
    lines.filter(|l| l.contains(on)).find_map(|line| {
        let rest = match before {
            "" => line.as_str(),
            b => &line[line.find(b)? + b.len()..],
        };
        let end = rest.find(after)?;
        let word = rest[..end].rsplit(' ').next()?;
        word.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_follow_the_seed() {
        let a = udp(7);
        let b = udp(8);
        assert_ne!(a[0].answer, b[0].answer, "different seeds, same drops?");
        // The answer is what the lossy link really does with that seed.
        let (dropped, _) = link_run(
            1000,
            LinkConfig {
                loss: 0.2,
                reorder: 0.05,
                duplicate: 0.02,
                seed: 8,
            },
        );
        assert_eq!(b[0].answer, dropped.len().to_string());
    }

    #[test]
    fn accepts_numbers_and_words_loosely() {
        let q = Question::new("?", 42, "f", String::new()).or("forty-two");
        assert!(q.accepts(" 42 "));
        assert!(q.accepts("42.0"));
        assert!(q.accepts("Forty-Two."));
        assert!(!q.accepts("43"));
        assert!(!q.accepts(""));
    }

    #[test]
    fn the_syn_ack_acknowledges_isn_plus_one() {
        let q = tcp(super::super::fixtures::get("http.pcap").unwrap()).unwrap();
        let isn: u32 = q[0].answer.parse().unwrap();
        let ack: u32 = q[1].answer.parse().unwrap();
        assert_eq!(ack, isn.wrapping_add(1));
    }

    #[test]
    fn grab_reads_numbers_from_lines() {
        let s = vec![StepRecord {
            shown: String::new(),
            ran: vec![],
            background: false,
            result: "ok".into(),
            ms: 0.0,
            output: vec!["emitted weather: 2 recipient(s), 2 online now".into()],
        }];
        assert_eq!(grab(&s, "emitted weather: ", " recipient"), Some(2));
        assert_eq!(grab(&s, "emitted rain: ", " recipient"), None);
    }
}

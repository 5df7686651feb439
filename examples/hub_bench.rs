//! Helper for `benches/hub.sh`:
//!
//! - `hub_bench fanout URL CLIENTS EVENTS`: CLIENTS anonymous clients join room `bench`; one
//!   emitter sends EVENTS events into the room as fast as the hub takes them; done when every
//!   client has every event. Prints `events N deliveries M per_s X deliveries_per_s Y`.
//! - `hub_bench durable URL MESSAGES`: identified client `bench-1` is connected; an emitter
//!   sends MESSAGES events to it (each written to SQLite before delivery); the client acks each
//!   one; done when the client has closed cleanly (its acks committed). Prints `messages N per_s X`.
//! - `hub_bench redis PORT MESSAGES`: the same job on Redis Streams: a producer XADDs (pipelined),
//!   a consumer in a group reads with XREADGROUP (COUNT 100, BLOCK) and XACKs every entry.
//!   Prints `messages N per_s X`.
//!
//! Clients are wirelab's own WebSocket client (src/ws/client.rs).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use wirelab::hub::protocol::{ClientMsg, Emit, ServerMsg, Target};
use wirelab::ws::client::{connect, WsUrl};
use wirelab::ws::conn::{Config, Incoming, Message};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let num = |i: usize, d: u64| arg(i).parse().unwrap_or(d);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    match arg(1).as_str() {
        "fanout" => rt.block_on(fanout(&arg(2), num(3, 100) as usize, num(4, 1000))),
        "durable" => rt.block_on(durable(&arg(2), num(3, 10000))),
        "redis" => redis(&arg(2), num(3, 10000)),
        _ => {
            eprintln!("usage: hub_bench fanout URL CLIENTS EVENTS | durable URL MESSAGES | redis PORT MESSAGES");
            std::process::exit(2);
        }
    }
}

fn text(m: &ClientMsg) -> Message {
    Message::Text(m.to_text())
}

async fn open(url: &str) -> wirelab::ws::accept::TcpWebSocket {
    let u = WsUrl::parse(url).expect("url");
    let mut ws = connect(&u, Config::default(), Duration::from_secs(10))
        .await
        .expect("connect")
        .ws;
    // welcome
    match ws.recv().await {
        Ok(Ok(Message::Text(_))) => {}
        other => panic!("no welcome: {other:?}"),
    }
    ws
}

async fn next_msg(
    ws: &mut wirelab::ws::conn::WsReader<tokio::net::tcp::OwnedReadHalf>,
) -> ServerMsg {
    loop {
        match ws.read_event().await.expect("read") {
            Incoming::Message(Message::Text(t)) => return ServerMsg::parse(&t).expect("frame"),
            Incoming::Close(c) => panic!("closed: {c:?}"),
            _ => {}
        }
    }
}

async fn fanout(url: &str, clients: usize, events: u64) {
    let mut joined = Vec::new();
    for _ in 0..clients {
        let mut ws = open(url).await;
        ws.send(&text(&ClientMsg::Join {
            room: "bench".into(),
        }))
        .await
        .expect("join");
        let (mut r, w) = ws.into_split();
        match next_msg(&mut r).await {
            ServerMsg::Joined { .. } => {}
            other => panic!("expected joined, got {other:?}"),
        }
        joined.push((r, w));
    }
    let mut waiters = Vec::new();
    for (mut r, w) in joined {
        waiters.push(tokio::spawn(async move {
            let mut got = 0;
            while got < events {
                if let ServerMsg::Event(_) = next_msg(&mut r).await {
                    got += 1;
                }
            }
            drop(w);
        }));
    }
    let emitter = open(url).await;
    let (mut er, mut ew) = emitter.into_split();
    let drain = tokio::spawn(async move {
        let mut n = 0;
        while n < events {
            if let ServerMsg::Emitted { .. } = next_msg(&mut er).await {
                n += 1;
            }
        }
    });
    let start = Instant::now();
    for i in 0..events {
        let m = text(&ClientMsg::Emit(Emit {
            event: "tick".into(),
            data: serde_json::json!({ "n": i, "pad": "0123456789abcdef" }),
            to: Target::Rooms {
                rooms: vec!["bench".into()],
                include_self: false,
            },
            ack: None,
            volatile: false,
        }));
        ew.queue(&m).expect("queue");
        if i % 64 == 63 {
            ew.flush().await.expect("flush");
        }
    }
    ew.flush().await.expect("flush");
    for w in waiters {
        w.await.expect("client");
    }
    let secs = start.elapsed().as_secs_f64();
    drain.await.expect("drain");
    let deliveries = events * clients as u64;
    println!(
        "events {events} deliveries {deliveries} per_s {:.0} deliveries_per_s {:.0}",
        events as f64 / secs,
        deliveries as f64 / secs
    );
}

async fn durable(url: &str, messages: u64) {
    let base = url.trim_end_matches('/');
    let receiver = open(&format!("{base}/durable?client=bench-1")).await;
    let (mut rr, mut rw) = receiver.into_split();
    let emitter = open(&format!("{base}/durable")).await;
    let (mut er, mut ew) = emitter.into_split();
    let drain = tokio::spawn(async move {
        let mut n = 0;
        while n < messages {
            if let ServerMsg::Emitted { queued, .. } = next_msg(&mut er).await {
                assert_eq!(queued, 1, "not queued");
                n += 1;
            }
        }
    });
    let start = Instant::now();
    let recv = tokio::spawn(async move {
        let mut got = 0;
        let mut last = 0;
        while got < messages {
            // Ack everything that is already here in one write.
            if let ServerMsg::Event(ev) = next_msg(&mut rr).await {
                let id = ev.id.expect("durable id");
                assert!(id > last, "out of order");
                last = id;
                got += 1;
                rw.queue(&text(&ClientMsg::Ack { id, data: None }))
                    .expect("ack");
                if got % 32 == 0 || got == messages {
                    rw.flush().await.expect("flush");
                }
            }
        }
        rw.flush().await.expect("flush");
        rw.close(None).await.expect("close");
        // The hub answers our close after our acks are committed.
        loop {
            match rr.read_event().await {
                Ok(Incoming::Close(_)) | Err(_) => break,
                _ => {}
            }
        }
    });
    for i in 0..messages {
        let m = text(&ClientMsg::Emit(Emit {
            event: "job".into(),
            data: serde_json::json!({ "n": i, "pad": "0123456789abcdef" }),
            to: Target::Client("bench-1".into()),
            ack: None,
            volatile: false,
        }));
        ew.queue(&m).expect("queue");
        if i % 64 == 63 {
            ew.flush().await.expect("flush");
        }
    }
    ew.flush().await.expect("flush");
    recv.await.expect("receiver");
    let secs = start.elapsed().as_secs_f64();
    drain.await.expect("drain");
    println!("messages {messages} per_s {:.0}", messages as f64 / secs);
}

// --- Redis Streams over RESP, with std sockets ---------------------------------------------

#[derive(Debug)]
#[allow(dead_code)] // shown in panics only
enum Resp {
    Simple(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

fn read_resp(r: &mut impl BufRead) -> Resp {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).expect("read");
    let body = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
    match line[0] {
        b'+' => Resp::Simple(body),
        b'-' => panic!("redis error: {body}"),
        b':' => Resp::Int(body.parse().expect("int")),
        b'$' => {
            let n: i64 = body.parse().expect("len");
            if n < 0 {
                return Resp::Bulk(None);
            }
            let mut buf = vec![0; n as usize + 2];
            std::io::Read::read_exact(r, &mut buf).expect("bulk");
            buf.truncate(n as usize);
            Resp::Bulk(Some(buf))
        }
        b'*' => {
            let n: i64 = body.parse().expect("len");
            if n < 0 {
                return Resp::Array(None);
            }
            Resp::Array(Some((0..n).map(|_| read_resp(r)).collect()))
        }
        other => panic!("bad RESP type byte {other}"),
    }
}

fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn redis(port: &str, messages: u64) {
    let addr = format!("127.0.0.1:{port}");
    let setup = TcpStream::connect(&addr).expect("redis");
    let mut sr = BufReader::new(setup.try_clone().expect("clone"));
    let mut sw = setup;
    let mut buf = Vec::new();
    command(&mut buf, &[b"DEL", b"bench"]);
    command(
        &mut buf,
        &[b"XGROUP", b"CREATE", b"bench", b"g", b"$", b"MKSTREAM"],
    );
    sw.write_all(&buf).expect("write");
    read_resp(&mut sr);
    read_resp(&mut sr);
    let start = Instant::now();
    let consumer = std::thread::spawn(move || {
        let s = TcpStream::connect(&addr).expect("redis");
        s.set_nodelay(true).ok();
        let mut r = BufReader::new(s.try_clone().expect("clone"));
        let mut w = s;
        let mut got = 0u64;
        while got < messages {
            let mut buf = Vec::new();
            command(
                &mut buf,
                &[
                    b"XREADGROUP",
                    b"GROUP",
                    b"g",
                    b"c",
                    b"COUNT",
                    b"100",
                    b"BLOCK",
                    b"1000",
                    b"STREAMS",
                    b"bench",
                    b">",
                ],
            );
            w.write_all(&buf).expect("write");
            let ids: Vec<Vec<u8>> = match read_resp(&mut r) {
                Resp::Array(Some(streams)) => streams
                    .into_iter()
                    .flat_map(|s| match s {
                        Resp::Array(Some(mut kv)) if kv.len() == 2 => match kv.pop() {
                            Some(Resp::Array(Some(entries))) => entries,
                            _ => Vec::new(),
                        },
                        _ => Vec::new(),
                    })
                    .filter_map(|e| match e {
                        Resp::Array(Some(mut parts)) if !parts.is_empty() => {
                            match parts.swap_remove(0) {
                                Resp::Bulk(Some(id)) => Some(id),
                                _ => None,
                            }
                        }
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            // One XACK per entry, pipelined (the hub client acks each event in its own frame).
            let mut buf = Vec::new();
            for id in &ids {
                command(&mut buf, &[b"XACK", b"bench", b"g", id]);
            }
            w.write_all(&buf).expect("write");
            for _ in &ids {
                match read_resp(&mut r) {
                    Resp::Int(1) => {}
                    other => panic!("XACK: {other:?}"),
                }
            }
            got += ids.len() as u64;
        }
    });
    let p = TcpStream::connect(format!("127.0.0.1:{port}")).expect("redis");
    p.set_nodelay(true).ok();
    let mut pr = BufReader::new(p.try_clone().expect("clone"));
    let mut pw = p;
    let reader = std::thread::spawn(move || {
        for _ in 0..messages {
            match read_resp(&mut pr) {
                Resp::Bulk(Some(_)) => {}
                other => panic!("XADD: {other:?}"),
            }
        }
    });
    let mut buf = Vec::new();
    for i in 0..messages {
        let data = format!("{{\"n\":{i},\"pad\":\"0123456789abcdef\"}}");
        command(
            &mut buf,
            &[b"XADD", b"bench", b"*", b"data", data.as_bytes()],
        );
        if i % 64 == 63 {
            pw.write_all(&buf).expect("write");
            buf.clear();
        }
    }
    pw.write_all(&buf).expect("write");
    consumer.join().expect("consumer");
    let secs = start.elapsed().as_secs_f64();
    reader.join().expect("reader");
    println!("messages {messages} per_s {:.0}", messages as f64 / secs);
}

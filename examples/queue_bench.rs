//! Helper for `benches/queue.sh`: jobs/s through a work queue.
//!
//! - `queue_bench hub URL JOBS CONSUMERS PREFETCH`: CONSUMERS connections join work queue
//!   `bench` (`consume`, PREFETCH jobs in flight each); one producer sends JOBS `enqueue` frames
//!   (pipelined); every consumer acks each job at once. Done when all JOBS are acked by a
//!   consumer. Prints `jobs N per_s X`.
//! - `queue_bench raw REDIS_URL JOBS CONSUMERS PREFETCH`: the same job with Redis Streams and no
//!   hub: a producer XADDs (pipelined, 100 at a time), CONSUMERS threads read with XREADGROUP
//!   (COUNT PREFETCH, BLOCK 100) and XACK + XDEL each entry, as the hub's Redis store does.
//!
//! Clients are wirelab's own WebSocket client and the `redis` crate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wirelab::ws::client::{connect, WsUrl};
use wirelab::ws::conn::{Config, Message};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let num = |i: usize, d: u64| arg(i).parse().unwrap_or(d);
    let (jobs, consumers, prefetch) = (num(3, 10000), num(4, 1), num(5, 1));
    let secs = match arg(1).as_str() {
        "hub" => {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(hub(&arg(2), jobs, consumers, prefetch))
        }
        "raw" => raw(&arg(2), jobs, consumers, prefetch),
        _ => {
            eprintln!("usage: queue_bench hub|raw URL JOBS CONSUMERS PREFETCH");
            std::process::exit(2);
        }
    };
    println!("jobs {jobs} per_s {:.0}", jobs as f64 / secs);
}

async fn open(url: &str) -> wirelab::ws::accept::TcpWebSocket {
    let u = WsUrl::parse(url).expect("url");
    let mut ws = connect(&u, Config::default(), Duration::from_secs(10))
        .await
        .expect("connect")
        .ws;
    match ws.recv().await {
        Ok(Ok(Message::Text(_))) => {}
        other => panic!("no welcome: {other:?}"),
    }
    ws
}

async fn frame(ws: &mut wirelab::ws::accept::TcpWebSocket) -> Value {
    match ws.recv().await {
        Ok(Ok(Message::Text(t))) => serde_json::from_str(&t).expect("json"),
        other => panic!("hub frame expected: {other:?}"),
    }
}

async fn hub(url: &str, jobs: u64, consumers: u64, prefetch: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    for _ in 0..consumers {
        let mut ws = open(url).await;
        ws.writer
            .send(&Message::Text(
                json!({"type":"consume","queue":"bench","prefetch":prefetch}).to_string(),
            ))
            .await
            .expect("send");
        assert_eq!(frame(&mut ws).await["type"], "consuming");
        let (done, tx) = (done.clone(), tx.clone());
        tokio::spawn(async move {
            loop {
                let v = frame(&mut ws).await;
                if v["type"] != "job" {
                    continue;
                }
                let ack = json!({"type":"job_ack","queue":"bench","id":v["id"]}).to_string();
                ws.writer.send(&Message::Text(ack)).await.expect("ack");
                if done.fetch_add(1, Ordering::Relaxed) + 1 == jobs {
                    let _ = tx.send(());
                }
            }
        });
    }
    let producer = open(url).await;
    let start = Instant::now();
    let (mut reader, mut writer) = producer.into_split();
    let answers = tokio::spawn(async move {
        let mut n = 0;
        while n < jobs {
            match reader.read_event().await {
                Ok(wirelab::ws::conn::Incoming::Message(Message::Text(_))) => n += 1,
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    for i in 0..jobs {
        let m = json!({"type":"enqueue","queue":"bench","event":"job","data":i}).to_string();
        writer
            .queue_frame(true, wirelab::wire::websocket::OpCode::Text, m.as_bytes())
            .expect("frame");
        if i % 64 == 63 {
            writer.flush().await.expect("flush");
        }
    }
    writer.flush().await.expect("flush");
    rx.recv().await;
    let secs = start.elapsed().as_secs_f64();
    let _ = answers.await;
    secs
}

fn raw(url: &str, jobs: u64, consumers: u64, prefetch: u64) -> f64 {
    let client = redis::Client::open(url).expect("redis url");
    let key = format!("bench:raw:{}", std::process::id());
    let mut con = client.get_connection().expect("redis");
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&key)
        .arg("workers")
        .arg("0")
        .arg("MKSTREAM")
        .query(&mut con)
        .expect("group");
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut threads = Vec::new();
    for c in 0..consumers {
        let (client, key, done) = (client.clone(), key.clone(), done.clone());
        threads.push(std::thread::spawn(move || {
            let mut con = client.get_connection().expect("redis");
            let name = format!("c{c}");
            while done.load(Ordering::Relaxed) < jobs {
                let v: redis::Value = redis::cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg("workers")
                    .arg(&name)
                    .arg("COUNT")
                    .arg(prefetch)
                    .arg("BLOCK")
                    .arg(100)
                    .arg("STREAMS")
                    .arg(&key)
                    .arg(">")
                    .query(&mut con)
                    .expect("xreadgroup");
                for id in entry_ids(&v) {
                    let _: ((), ()) = redis::pipe()
                        .cmd("XACK")
                        .arg(&key)
                        .arg("workers")
                        .arg(&id)
                        .ignore()
                        .cmd("XDEL")
                        .arg(&key)
                        .arg(&id)
                        .ignore()
                        .query(&mut con)
                        .unwrap_or(((), ()));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let mut i = 0;
    while i < jobs {
        let mut p = redis::pipe();
        for _ in 0..100.min(jobs - i) {
            p.cmd("XADD")
                .arg(&key)
                .arg("*")
                .arg("event")
                .arg("job")
                .arg("data")
                .arg(i)
                .ignore();
            i += 1;
        }
        let _: () = p.query(&mut con).expect("xadd");
    }
    for t in threads {
        t.join().expect("consumer");
    }
    let secs = start.elapsed().as_secs_f64();
    let _: () = redis::cmd("DEL").arg(&key).query(&mut con).expect("del");
    secs
}

fn entry_ids(v: &redis::Value) -> Vec<String> {
    use redis::Value as V;
    let arr = |v: &V| match v {
        V::Array(a) => a.clone(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for stream in arr(v) {
        if let Some(entries) = arr(&stream).get(1) {
            for e in arr(entries) {
                if let Some(V::BulkString(id)) = arr(&e).first() {
                    out.push(String::from_utf8_lossy(id).into_owned());
                }
            }
        }
    }
    out
}

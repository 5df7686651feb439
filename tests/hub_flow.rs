//! Flow control and one routing path, against the real binary on both stores: a reader that
//! pauses gets everything in order, once, with no redelivery (the credit window); volatile and
//! the queue cap hold for events that come from another hub; `hub listen` acks only what it
//! wrote to stdout, and a closed pipe ends it with status 0.

mod hub_common;
mod redis_common;
mod ws_common;

use std::collections::HashSet;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hub_common::{ok, wirelab};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as TMessage;
use ws_common::{spawn_server, Server};

/// `hub serve` on a free port: on a data directory, or on `redis` when given.
fn serve(dir: &std::path::Path, redis: Option<&str>, args: &[&str]) -> Server {
    let mut cmd: Command = wirelab();
    cmd.args(["hub", "serve", "--listen", "127.0.0.1:0"]);
    match redis {
        Some(url) => cmd.args(["--store", url]),
        None => cmd.arg("--data").arg(dir),
    };
    cmd.args(args);
    spawn_server(cmd)
}

fn text(m: TMessage) -> Option<Value> {
    match m {
        TMessage::Text(t) => serde_json::from_str(t.as_str()).ok(),
        _ => None,
    }
}

/// 100,000 durable events to an identified client that is connected but reads nothing for a
/// second, then reads and acks as fast as it can.
fn paused_reader(redis: Option<&str>) {
    const N: u64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), redis, &["--queue-cap", "200000", "--quiet"]);
    let addr = server.addr.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (mut reader, _) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/flow?client=slow"))
                .await
                .unwrap();
        let welcome = text(reader.next().await.unwrap().unwrap()).unwrap();
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        let (emitter, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/flow"))
            .await
            .unwrap();
        let (mut tx, mut rx) = emitter.split();
        let answers = tokio::spawn(async move {
            let mut n = 0u64;
            while n < N {
                match rx.next().await {
                    Some(Ok(m)) => {
                        if text(m).is_some_and(|v| v["type"] == "emitted" && v["queued"] == 1) {
                            n += 1;
                        }
                    }
                    _ => break,
                }
            }
            n
        });
        let send = tokio::spawn(async move {
            for i in 1..=N {
                let f = json!({"type":"emit","event":"n","data":i,"to":"client","client":"slow"});
                tx.feed(TMessage::text(f.to_string())).await.unwrap();
            }
            tx.flush().await.unwrap();
            tx
        });
        // The pause: not a byte read for a second while the events pour in.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut seen = HashSet::new();
        let mut last_data = 0u64;
        let mut last_id = 0u64;
        // Generous for a loaded CI machine: here it takes about 20 s on a debug build.
        let deadline = Instant::now() + Duration::from_secs(300);
        while (seen.len() as u64) < N {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = tokio::time::timeout(left, reader.next())
                .await
                .unwrap_or_else(|_| panic!("only {} of {N} events arrived", seen.len()))
                .unwrap()
                .unwrap();
            let Some(v) = text(m) else { continue };
            if v["type"] != "event" {
                continue;
            }
            let id = v["id"].as_u64().unwrap();
            let data = v["data"].as_u64().unwrap();
            assert_eq!(v["redelivery"], false, "a redelivery after the pause: {v}");
            assert!(seen.insert(id), "event {id} came twice");
            assert!(id > last_id, "id {id} after {last_id}: out of order");
            assert_eq!(data, last_data + 1, "event {data} after {last_data}");
            last_id = id;
            last_data = data;
            let ack = json!({"type":"ack","id":id});
            reader.send(TMessage::text(ack.to_string())).await.unwrap();
        }
        assert_eq!(answers.await.unwrap(), N, "every emit was queued");
        let _tx = send.await.unwrap();
        // Nothing more comes: no redelivery of anything acknowledged.
        let more = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                match reader.next().await {
                    Some(Ok(m)) => {
                        if let Some(v) = text(m) {
                            if v["type"] == "event" {
                                return v;
                            }
                        }
                    }
                    _ => std::future::pending::<()>().await,
                }
            }
        })
        .await;
        assert!(more.is_err(), "an extra event: {more:?}");
        let _ = reader.close(None).await;
    });
    assert!(server.interrupt().success());
}

#[test]
fn paused_reader_gets_100k_durable_events_in_order_once_sqlite() {
    paused_reader(None);
}

#[test]
fn paused_reader_gets_100k_durable_events_in_order_once_redis() {
    let r = redis_common::start();
    paused_reader(Some(&r.url));
}

fn url(s: &Server, ns: &str) -> String {
    format!("ws://{}{ns}", s.addr)
}

/// Two hubs on one Redis. A member of room r1 known only on hub B is offline: a volatile emit
/// to r1 on hub A is not queued for it, and B's queue cap (2) holds for events from A.
#[test]
fn volatile_and_the_queue_cap_hold_for_events_from_another_hub() {
    let r = redis_common::start();
    let dir = tempfile::tempdir().unwrap();
    let hub_a = serve(dir.path(), Some(&r.url), &[]);
    let hub_b = serve(dir.path(), Some(&r.url), &["--queue-cap", "2"]);
    let (ua, ub) = (url(&hub_a, "/v"), url(&hub_b, "/v"));
    // m1 joins r1 on B, then goes offline.
    let o = hub_common::run(&[
        "hub",
        "listen",
        &ub,
        "--client",
        "m1",
        "--room",
        "r1",
        "--timeout",
        "0.3",
    ]);
    assert!(o.status.success(), "{}", hub_common::stdout(&o));
    let emitted = ok(&[
        "hub",
        "emit",
        &ua,
        "cursor",
        r#"{"x":1}"#,
        "--room",
        "r1",
        "--volatile",
        "--json",
    ]);
    let v: Value = serde_json::from_str(emitted.lines().last().unwrap()).unwrap();
    assert_eq!(v["published"], true, "{emitted}");
    for n in 1..=3 {
        ok(&["hub", "emit", &ua, "e", &n.to_string(), "--room", "r1"]);
    }
    // The third event from A fills m1's queue on B past its cap: the oldest goes.
    let drop = hub_b.wait_line("is full (2)");
    assert!(drop.contains("queue of m1"), "{drop}");
    let o = hub_common::run(&[
        "hub",
        "listen",
        &ub,
        "--client",
        "m1",
        "--json",
        "--timeout",
        "1",
    ]);
    assert!(o.status.success(), "{}", hub_common::stdout(&o));
    let lines: Vec<String> = hub_common::stdout(&o).lines().map(String::from).collect();
    let got: Vec<(String, Value)> = hub_common::events(&lines)
        .into_iter()
        .map(|e| (e.1, e.2))
        .collect();
    assert_eq!(
        got,
        vec![("e".to_string(), json!(2)), ("e".to_string(), json!(3))],
        "not the volatile cursor, not the dropped e 1: {lines:#?}"
    );
    let welcome: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(welcome["dropped"], 1, "{lines:#?}");
}

/// `hub listen --client X` whose stdout is a pipe closed by its reader: it stops at once with
/// status 0, acks nothing it could not write, and the next run gets those events.
#[test]
fn listen_into_a_closed_pipe_exits_0_and_leaves_unprinted_events_queued() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), None, &[]);
    let u = url(&server, "/p");
    let mut child = wirelab()
        .args(["hub", "listen", &u, "--client", "pipe-test"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    // Read up to the end of the first line ("welcome ..."), byte by byte, then close the pipe.
    let mut first = Vec::new();
    let mut b = [0u8; 1];
    while out.read(&mut b).unwrap() == 1 && b[0] != b'\n' {
        first.push(b[0]);
    }
    assert!(
        String::from_utf8_lossy(&first).contains("pipe-test"),
        "{first:?}"
    );
    drop(out);
    let start = Instant::now();
    for n in 1..=3 {
        ok(&[
            "hub",
            "emit",
            &u,
            "e",
            &n.to_string(),
            "--to-client",
            "pipe-test",
        ]);
    }
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "still running");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let o = hub_common::run(&[
        "hub",
        "listen",
        &u,
        "--client",
        "pipe-test",
        "--json",
        "--count",
        "3",
    ]);
    assert!(o.status.success(), "{}", hub_common::stdout(&o));
    let lines: Vec<String> = hub_common::stdout(&o).lines().map(String::from).collect();
    let data: Vec<Value> = hub_common::events(&lines)
        .into_iter()
        .map(|e| e.2)
        .collect();
    assert_eq!(data, vec![json!(1), json!(2), json!(3)], "{lines:#?}");
}

/// The same through `| head -1` with three events already queued: at once, status 0 for the
/// listener; what `head` read and threw away is gone, everything after it is still queued.
#[test]
fn listen_piped_into_head_exits_at_once_and_acks_only_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), None, &[]);
    let u = url(&server, "/p");
    for n in 1..=3 {
        ok(&["hub", "emit", &u, "e", &n.to_string(), "--to-client", "x"]);
    }
    let start = Instant::now();
    let o = Command::new("bash")
        .args([
            "-c",
            &format!(
                "set -o pipefail; {} hub listen {u} --client x | head -1",
                env!("CARGO_BIN_EXE_wirelab")
            ),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "listen | head -1: {:?}", o.status);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    // Acks the hub counted for run 1, events left for run 2: together exactly the three.
    let mut acked = 0;
    loop {
        let l = server
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("the hub saw run 1 go");
        acked += usize::from(l.contains("ack #"));
        if l.contains("disconnected (client x)") {
            break;
        }
    }
    let o2 = hub_common::run(&[
        "hub",
        "listen",
        &u,
        "--client",
        "x",
        "--json",
        "--timeout",
        "1",
    ]);
    let lines: Vec<String> = hub_common::stdout(&o2).lines().map(String::from).collect();
    let left: Vec<u64> = hub_common::events(&lines)
        .iter()
        .map(|e| e.2.as_u64().unwrap())
        .collect();
    assert_eq!(acked + left.len(), 3, "acked {acked}, left {left:?}");
    assert!(left.windows(2).all(|w| w[0] < w[1]), "{left:?}");
}

/// On Redis, a queue is read back in pages (`XRANGE ... COUNT 1024`, one `HMGET` of delivery
/// counts each): 2,500 events queued through hub A for a client that then takes 3 of them on A
/// (window 3) without acking come back on hub B all, in order, once, and exactly those 3
/// marked as redeliveries.
#[test]
fn redis_queue_read_back_across_pages_keeps_order_and_delivery_counts() {
    const N: u64 = 2_500;
    const MINUTE: Duration = Duration::from_secs(60);
    let r = redis_common::start();
    let dir = tempfile::tempdir().unwrap();
    let hub_a = serve(
        dir.path(),
        Some(&r.url),
        &["--window", "3", "--queue-cap", "5000", "--quiet"],
    );
    let hub_b = serve(
        dir.path(),
        Some(&r.url),
        &["--queue-cap", "5000", "--quiet"],
    );
    let (a, b) = (hub_a.addr.clone(), hub_b.addr.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (mut em, _) = tokio_tungstenite::connect_async(format!("ws://{a}/pg"))
            .await
            .unwrap();
        for i in 1..=N {
            let f = json!({"type":"emit","event":"n","data":i,"to":"client","client":"far"});
            em.feed(TMessage::text(f.to_string())).await.unwrap();
        }
        em.flush().await.unwrap();
        let mut queued = 0;
        while queued < N {
            let m = tokio::time::timeout(MINUTE, em.next())
                .await
                .expect("emitted answers")
                .unwrap()
                .unwrap();
            if text(m).is_some_and(|v| v["type"] == "emitted" && v["queued"] == 1) {
                queued += 1;
            }
        }
        // On A: the window lets 3 go out; they are read and not acknowledged.
        let (mut on_a, _) = tokio_tungstenite::connect_async(format!("ws://{a}/pg?client=far"))
            .await
            .unwrap();
        let mut first = Vec::new();
        while first.len() < 3 {
            let m = tokio::time::timeout(MINUTE, on_a.next())
                .await
                .expect("events on A")
                .unwrap()
                .unwrap();
            if let Some(v) = text(m).filter(|v| v["type"] == "event") {
                first.push(v["id"].as_u64().unwrap());
            }
        }
        drop(on_a);
        // On B: everything, read back from Redis across three pages.
        let (mut on_b, _) = tokio_tungstenite::connect_async(format!("ws://{b}/pg?client=far"))
            .await
            .unwrap();
        let mut last = (0u64, 0u64);
        let mut redelivered = Vec::new();
        for _ in 0..N {
            let v = loop {
                let m = tokio::time::timeout(MINUTE, on_b.next())
                    .await
                    .expect("events on B")
                    .unwrap()
                    .unwrap();
                if let Some(v) = text(m).filter(|v| v["type"] == "event") {
                    break v;
                }
            };
            let (id, data) = (v["id"].as_u64().unwrap(), v["data"].as_u64().unwrap());
            assert!(id > last.0, "id {id} after {}", last.0);
            assert_eq!(data, last.1 + 1, "{v}");
            if v["redelivery"] == true {
                redelivered.push(id);
            }
            last = (id, data);
            let ack = json!({"type":"ack","id":id});
            on_b.send(TMessage::text(ack.to_string())).await.unwrap();
        }
        assert_eq!(
            redelivered, first,
            "exactly the 3 sent on A come as redeliveries"
        );
    });
}

/// Two hubs on one Redis flooding one client's queue at the same moment (it is known on both):
/// a later id may reach the stream before an earlier one. Neither hub may stop over it (a
/// stream refuses an entry id below its last, which used to fail-stop the hub), and the client
/// then gets every event once, in id order.
#[test]
fn two_hubs_writing_one_clients_queue_at_once_both_stay_up_and_nothing_is_lost() {
    const N: usize = 3000;
    let r = redis_common::start();
    let dir = tempfile::tempdir().unwrap();
    let args = ["--queue-cap", "100000"];
    let hub_a = serve(dir.path(), Some(&r.url), &args);
    let hub_b = serve(dir.path(), Some(&r.url), &args);
    let (ua, ub) = (url(&hub_a, "/x"), url(&hub_b, "/x"));
    for u in [&ua, &ub] {
        let o = hub_common::run(&["hub", "listen", u, "--client", "c", "--timeout", "0.3"]);
        assert!(o.status.success(), "{}", hub_common::stdout(&o));
    }
    let flood = |u: String, tag: &'static str| {
        std::thread::spawn(move || {
            hub_common::run(&[
                "hub",
                "emit",
                &u,
                tag,
                "{n}",
                "--repeat",
                &N.to_string(),
                "--timeout",
                "60",
            ])
        })
    };
    let (fa, fb) = (flood(ua.clone(), "a"), flood(ub.clone(), "b"));
    for (name, f) in [("a", fa), ("b", fb)] {
        let o = f.join().unwrap();
        assert!(
            o.status.success(),
            "emit on hub {name}: {}{}",
            hub_common::stdout(&o),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // Both hubs are still up: each answers a new client.
    for u in [&ua, &ub] {
        ok(&["hub", "emit", u, "ping", "1"]);
    }
    let o = hub_common::run(&[
        "hub",
        "listen",
        &ub,
        "--client",
        "c",
        "--json",
        "--timeout",
        "3",
    ]);
    let lines: Vec<String> = hub_common::stdout(&o).lines().map(String::from).collect();
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap();
        if v["type"] == "event" && (v["event"] == "a" || v["event"] == "b") {
            let id = v["id"].as_u64().unwrap();
            assert!(
                seen.insert((v["event"].to_string(), v["data"].to_string())),
                "twice: {l}"
            );
            ids.push(id);
        }
    }
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "in id order");
    for tag in ["\"a\"", "\"b\""] {
        let got = seen.iter().filter(|(t, _)| t == tag).count();
        assert_eq!(got, N, "every event from hub {tag} once");
    }
    drop(hub_a);
    drop(hub_b);
}

/// Two hubs on one Redis: the emitter's `emitted` answer counts this hub's recipients (one
/// connected listener, one offline member queued) and says the event was published to the
/// other hubs; a listener on hub B gets it, and is not among A's counts.
#[test]
fn emitted_counts_this_hubs_recipients_and_says_published() {
    let r = redis_common::start();
    let dir = tempfile::tempdir().unwrap();
    let hub_a = serve(dir.path(), Some(&r.url), &[]);
    let hub_b = serve(dir.path(), Some(&r.url), &[]);
    let (ua, ub) = (url(&hub_a, "/c"), url(&hub_b, "/c"));
    // m1: a member of r1 on A, offline.
    let o = hub_common::run(&[
        "hub",
        "listen",
        &ua,
        "--client",
        "m1",
        "--room",
        "r1",
        "--timeout",
        "0.3",
    ]);
    assert!(o.status.success(), "{}", hub_common::stdout(&o));
    let on_a = hub_common::background(&[
        "hub", "listen", &ua, "--room", "r1", "--count", "1", "--json",
    ]);
    let on_b = hub_common::background(&[
        "hub", "listen", &ub, "--room", "r1", "--count", "1", "--json",
    ]);
    let emitted = ok(&["hub", "emit", &ua, "e", "7", "--room", "r1", "--json"]);
    let v: Value = serde_json::from_str(emitted.lines().last().unwrap()).unwrap();
    assert_eq!(v["type"], "emitted", "{emitted}");
    assert_eq!(
        (&v["recipients"], &v["online"], &v["queued"], &v["dropped"]),
        (&json!(2), &json!(1), &json!(1), &json!(0)),
        "this hub's counts: {emitted}"
    );
    assert_eq!(v["published"], true, "{emitted}");
    for (name, l) in [("A", on_a), ("B", on_b)] {
        let (status, lines) = l.finish();
        assert!(status.success(), "{name}: {lines:#?}");
        let got: Vec<Value> = hub_common::events(&lines)
            .into_iter()
            .map(|e| e.2)
            .collect();
        assert_eq!(got, vec![json!(7)], "{name}: {lines:#?}");
    }
}

//! The event hub with wirelab's own clients: rooms, the durable queue across reconnects and a
//! SIGKILL of the hub, redelivery of unacknowledged events, acks and their timeout, limits.

mod hub_common;
mod ws_common;

use hub_common::{background, depth, events, hub, ok, run, stdout, wait_depth};
use serde_json::json;

#[test]
fn rooms_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let server = hub(dir.path(), &[]);
    let url = format!("ws://{}/", server.addr);
    let a = background(&[
        "hub", "listen", &url, "--room", "r1", "--count", "1", "--json",
    ]);
    let b = background(&[
        "hub", "listen", &url, "--room", "r2", "--count", "1", "--json",
    ]);
    let out = ok(&["hub", "emit", &url, "first", "1", "--room", "r1", "--json"]);
    assert!(out.contains(r#""recipients":1"#), "{out}");
    ok(&["hub", "emit", &url, "second", "2", "--room", "r2"]);
    let (sa, la) = a.finish();
    let (sb, lb) = b.finish();
    assert!(sa.success() && sb.success());
    // Events leave the hub in order: had r2's listener got `first`, it would have come first.
    assert_eq!(events(&la)[0].1, "first", "{la:#?}");
    assert_eq!(events(&lb)[0].1, "second", "{lb:#?}");
    assert!(
        server.interrupt().success(),
        "hub serve did not exit 0 on SIGINT"
    );
}

#[test]
fn offline_client_gets_what_it_missed_in_order_then_live_events() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let server = hub(dir.path(), &[]);
    let url = format!("ws://{}/parcels", server.addr);
    // The driver joins the vendor's room once, then goes offline.
    ok(&[
        "hub",
        "listen",
        &url,
        "--client",
        "driver-1",
        "--room",
        "vendor-7",
        "--timeout",
        "0.2",
    ]);
    for i in 1..=3 {
        let out = ok(&[
            "hub",
            "emit",
            &url,
            "pickup",
            &format!("{{\"parcel\":{i}}}"),
            "--room",
            "vendor-7",
        ]);
        assert!(out.contains("1 written to the queue"), "{out}");
    }
    assert_eq!(depth(dir.path()), 3);
    let table = ok(&["hub", "queue", "--data", data]);
    assert!(
        table.contains("driver-1") && table.contains("pickup"),
        "{table}"
    );
    let mut l = background(&[
        "hub", "listen", &url, "--client", "driver-1", "--count", "4", "--json",
    ]);
    // The room membership outlived the connection; the queued events come first.
    let welcome = l
        .seen
        .iter()
        .find(|x| x.contains("welcome"))
        .cloned()
        .unwrap();
    assert!(
        welcome.contains(r#""queued":3"#) && welcome.contains("vendor-7"),
        "{welcome}"
    );
    l.wait_line(r#""parcel":3"#);
    ok(&[
        "hub",
        "emit",
        &url,
        "pickup",
        r#"{"parcel":4}"#,
        "--room",
        "vendor-7",
    ]);
    let (st, lines) = l.finish();
    assert!(st.success());
    let ev = events(&lines);
    let parcels: Vec<_> = ev.iter().map(|e| e.2["parcel"].clone()).collect();
    assert_eq!(parcels, vec![json!(1), json!(2), json!(3), json!(4)]);
    assert!(ev.windows(2).all(|w| w[0].0 < w[1].0), "ids ascend: {ev:?}");
    wait_depth(dir.path(), 0);
    assert!(server.interrupt().success());
}

#[test]
fn sigkill_loses_no_accepted_event_and_revives_no_acknowledged_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = hub(dir.path(), &[]);
    let url = format!("ws://{}/p", server.addr);
    ok(&[
        "hub",
        "listen",
        &url,
        "--client",
        "d",
        "--room",
        "r",
        "--timeout",
        "0.2",
    ]);
    for i in 1..=5 {
        ok(&["hub", "emit", &url, "e", &i.to_string(), "--room", "r"]);
    }
    // Accepted (the emitter got its answer), not delivered: kill -9.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);
    let mut server = hub(dir.path(), &[]);
    let url = format!("ws://{}/p", server.addr);
    let out = ok(&[
        "hub", "listen", &url, "--client", "d", "--count", "5", "--json",
    ]);
    let lines: Vec<String> = out.lines().map(String::from).collect();
    let got: Vec<_> = events(&lines).iter().map(|e| e.2.clone()).collect();
    assert_eq!(got, (1..=5).map(|i| json!(i)).collect::<Vec<_>>(), "{out}");
    wait_depth(dir.path(), 0);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);
    let server = hub(dir.path(), &[]);
    let url = format!("ws://{}/p", server.addr);
    let out = ok(&[
        "hub",
        "listen",
        &url,
        "--client",
        "d",
        "--timeout",
        "0.5",
        "--json",
    ]);
    assert!(out.contains(r#""queued":0"#), "{out}");
    assert!(
        events(&out.lines().map(String::from).collect::<Vec<_>>()).is_empty(),
        "{out}"
    );
    assert!(server.interrupt().success());
}

#[test]
fn unacknowledged_events_come_back_on_reconnect() {
    let dir = tempfile::tempdir().unwrap();
    let server = hub(dir.path(), &[]);
    let url = format!("ws://{}/", server.addr);
    ok(&["hub", "emit", &url, "a", "1", "--to-client", "d"]);
    ok(&["hub", "emit", &url, "b", "2", "--to-client", "d"]);
    // Receives both, acknowledges neither, disconnects.
    let first = ok(&[
        "hub", "listen", &url, "--client", "d", "--count", "2", "--no-ack", "--json",
    ]);
    let first = events(&first.lines().map(String::from).collect::<Vec<_>>());
    assert_eq!(first.len(), 2);
    assert_eq!(depth(dir.path()), 2);
    let again = ok(&[
        "hub", "listen", &url, "--client", "d", "--count", "2", "--json",
    ]);
    assert!(again.contains(r#""redelivery":true"#), "{again}");
    let again = events(&again.lines().map(String::from).collect::<Vec<_>>());
    assert_eq!(
        first.iter().map(|e| e.0).collect::<Vec<_>>(),
        again.iter().map(|e| e.0).collect::<Vec<_>>(),
        "the same ids come back"
    );
    wait_depth(dir.path(), 0);
    assert!(server.interrupt().success());
}

#[test]
fn ack_round_trip_and_ack_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = hub(dir.path(), &[]);
    let url = format!("ws://{}/acks", server.addr);
    let l = background(&[
        "hub",
        "listen",
        &url,
        "--room",
        "r",
        "--count",
        "1",
        "--reply",
        r#"{"ok":true}"#,
    ]);
    let out = ok(&[
        "hub", "emit", &url, "ping", "--room", "r", "--ack", "--json",
    ]);
    assert!(
        out.contains(r#""type":"ack_reply""#) && out.contains(r#""data":{"ok":true}"#),
        "{out}"
    );
    assert!(l.finish().0.success());
    // A receiver that never acknowledges: the emitter gives up and says so (exit 1).
    let _silent = background(&["hub", "listen", &url, "--room", "r", "--no-ack"]);
    let o = run(&[
        "hub",
        "emit",
        &url,
        "ping",
        "--room",
        "r",
        "--ack",
        "--timeout",
        "0.5",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("ack timeout: 0 of 1 receivers acknowledged within 0.5 s"),
        "{err}"
    );
    assert!(server.interrupt().success());
}

#[test]
fn queue_cap_drops_the_oldest_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let server = hub(dir.path(), &["--queue-cap", "2"]);
    let url = format!("ws://{}/", server.addr);
    for i in 1..=3 {
        ok(&["hub", "emit", &url, "e", &i.to_string(), "--to-client", "d"]);
    }
    server.wait_line("is full (2): dropped the oldest event");
    let q = ok(&[
        "hub",
        "queue",
        "--json",
        "--data",
        dir.path().to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_str(q.trim()).unwrap();
    assert_eq!(v["clients"][0]["depth"], 2);
    assert_eq!(v["clients"][0]["dropped"], 1);
    let out = ok(&[
        "hub", "listen", &url, "--client", "d", "--count", "2", "--json",
    ]);
    assert!(out.contains(r#""dropped":1"#), "{out}");
    let got: Vec<_> = events(&out.lines().map(String::from).collect::<Vec<_>>())
        .iter()
        .map(|e| e.2.clone())
        .collect();
    assert_eq!(got, vec![json!(2), json!(3)]);
    assert!(server.interrupt().success());
}

#[test]
fn max_clients_refuses_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = hub(dir.path(), &["--max-clients", "1"]);
    let url = format!("ws://{}/", server.addr);
    let _one = background(&["hub", "listen", &url]);
    let o = run(&["hub", "emit", &url, "x"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("the hub is full: 1 clients connected"),
        "{err}"
    );
    assert!(server.interrupt().success());
}

#[test]
fn bad_input_exits_2() {
    for args in [
        vec!["hub", "emit", "http://x/", "e"],
        vec!["hub", "listen", "ws://127.0.0.1:1/", "--room", ""],
        vec!["hub", "queue", "--data", "/nonexistent/wirelab"],
    ] {
        let o = run(&args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn json_lines_and_exit_after_idle() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "hub",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        dir.path().to_str().unwrap(),
        "--json",
        "--exit-after-idle",
        "0.3",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = stdout(&o);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines[0]["type"], "listening");
    assert!(lines[0]["addr"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(lines[0]["data"].as_str().unwrap().ends_with("hub.sqlite3"));
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "stopped");
    assert_eq!(last["reason"], "idle (--exit-after-idle)");
}

#[test]
fn emitting_as_a_client_leaves_its_queue_alone() {
    let dir = tempfile::tempdir().unwrap();
    let server = hub(dir.path(), &[]);
    let url = format!("ws://{}/", server.addr);
    ok(&["hub", "emit", &url, "a", "1", "--to-client", "d"]);
    let out = ok(&["hub", "emit", &url, "b", "2", "--as", "d", "--broadcast"]);
    assert!(out.contains("1 queued event(s) coming"), "{out}");
    assert!(!out.contains("event #"), "{out}");
    wait_depth(dir.path(), 1);
    let got = ok(&[
        "hub", "listen", &url, "--client", "d", "--count", "1", "--json",
    ]);
    assert_eq!(
        events(&got.lines().map(String::from).collect::<Vec<_>>())[0].1,
        "a"
    );
    assert!(server.interrupt().success());
}

/// While another process holds the database's write lock, the hub cannot commit: it must not
/// answer the emit (nothing was accepted), and it stops with exit 1 rather than go on with a
/// memory that no longer matches the disk. Restarted, it has nothing queued.
#[test]
fn a_failed_commit_sends_nothing_and_stops_the_hub() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let server = hub(dir.path(), &[]);
    let url = format!("ws://{}/", server.addr);
    ok(&["hub", "listen", &url, "--client", "d", "--timeout", "0.2"]);
    let db = dir.path().join("hub.sqlite3");
    let mut locker = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys,time\n\
             c=sqlite3.connect(sys.argv[1],isolation_level=None)\n\
             c.execute('BEGIN EXCLUSIVE')\n\
             print('locked',flush=True)\n\
             time.sleep(7)\n\
             c.execute('ROLLBACK')",
        ])
        .arg(&db)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(locker.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    let o = run(&[
        "hub",
        "emit",
        &url,
        "e",
        "1",
        "--to-client",
        "d",
        "--timeout",
        "15",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(!stdout(&o).contains("emitted"), "{}", stdout(&o));
    server.wait_line("queue error: sqlite: database is locked");
    server.wait_line("stopped (queue error)");
    let mut server = server;
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    locker.wait().unwrap();
    assert_eq!(depth(dir.path()), 0, "nothing was accepted");
}

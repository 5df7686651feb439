//! `wirelab sio connect` / `sio emit` against real socket.io servers: the npm `socket.io`
//! server (tests/peers/sio_server.mjs) and python-socketio (tests/peers/sio_py_server.py), over
//! each transport; and against broken peers, which must end the run with an error, no panic.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{lines, require, wait_for, wirelab};
use serde_json::Value;

/// A peer server started on port 0; killed on drop. `out`: what it prints after listening.
struct Peer {
    child: Child,
    port: u16,
    out: std::sync::mpsc::Receiver<String>,
}

impl Peer {
    fn start(cmd: &mut Command) -> Peer {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start peer");
        let out = lines(child.stdout.take().expect("stdout"));
        let (line, _) = wait_for(&out, "listening on", 20);
        let port = line
            .rsplit(' ')
            .next()
            .unwrap()
            .trim()
            .parse()
            .expect("port");
        Peer { child, port, out }
    }

    fn node(env: &[(&str, &str)]) -> Peer {
        require("node");
        let mut c = Command::new("node");
        c.args(["tests/peers/sio_server.mjs", "0"]);
        for (k, v) in env {
            c.env(k, v);
        }
        Peer::start(&mut c)
    }

    fn python() -> Peer {
        Peer::start(Command::new(".venv/bin/python").args(["tests/peers/sio_py_server.py", "0"]))
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs wirelab with `--json`; returns (exit code, JSON lines, stderr).
fn run(args: &[&str]) -> (i32, Vec<Value>, String) {
    let out = wirelab()
        .args(args)
        .arg("--json")
        .output()
        .expect("run wirelab");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "wirelab panicked: {stderr}");
    let v = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    (out.status.code().unwrap_or(-1), v, stderr)
}

fn of<'a>(v: &'a [Value], ty: &str) -> Vec<&'a Value> {
    v.iter().filter(|x| x["type"] == ty).collect()
}

fn emit_with_ack(url: &str, transport: &str) -> Vec<Value> {
    let (code, v, err) = run(&[
        "sio",
        "emit",
        url,
        "with-ack",
        "1",
        "two",
        r#"{"a":[true]}"#,
        "--ack",
        "--transport",
        transport,
    ]);
    assert_eq!(code, 0, "{transport}: {err} {v:?}");
    let acks = of(&v, "ack");
    assert_eq!(acks.len(), 1, "{v:?}");
    assert_eq!(
        acks[0]["args"],
        serde_json::json!([{"got": [1, "two", {"a": [true]}]}])
    );
    assert_eq!(of(&v, "connected").len(), 1);
    assert_eq!(of(&v, "report")[0]["acks"], 1);
    v
}

#[test]
fn npm_server_each_transport_with_an_ack() {
    let peer = Peer::node(&[]);
    let v = emit_with_ack(&peer.url("/"), "auto");
    assert_eq!(of(&v, "open")[0]["transport"], "polling");
    assert_eq!(of(&v, "upgrade")[0]["transport"], "websocket");
    assert_eq!(of(&v, "report")[0]["transport"], "websocket");
    assert!(
        of(&v, "connected")[0]["pid"].is_string(),
        "recovery is on: the CONNECT answer has a pid"
    );
    let v = emit_with_ack(&peer.url("/"), "polling");
    assert!(of(&v, "upgrade").is_empty());
    assert_eq!(of(&v, "report")[0]["transport"], "polling");
    let v = emit_with_ack(&peer.url("/"), "websocket");
    assert_eq!(of(&v, "open")[0]["transport"], "websocket");
}

#[test]
fn show_packets_shows_the_handshake_probe_and_upgrade() {
    let peer = Peer::node(&[]);
    let (code, v, err) = run(&[
        "sio",
        "emit",
        &peer.url("/"),
        "chat message",
        "hi",
        "--count",
        "2",
        "--show-packets",
    ]);
    assert_eq!(code, 0, "{err}");
    let http = of(&v, "http_request");
    assert_eq!(http[0]["method"], "GET");
    assert!(http[0]["target"]
        .as_str()
        .unwrap()
        .contains("EIO=4&transport=polling"));
    assert!(http.iter().any(|r| r["method"] == "POST"));
    let eio: Vec<String> = of(&v, "engineio_packet")
        .iter()
        .map(|p| {
            format!(
                "{} {} {}",
                p["direction"].as_str().unwrap(),
                p["packet_type"].as_str().unwrap(),
                p["data"].as_str().unwrap()
            )
        })
        .collect();
    let pos = |s: &str| {
        eio.iter()
            .position(|x| x == s)
            .unwrap_or_else(|| panic!("no {s:?} in {eio:?}"))
    };
    assert!(pos("out ping probe") < pos("in pong probe"));
    assert!(pos("in pong probe") < pos("out upgrade "));
    let sio = of(&v, "socketio_packet");
    assert!(sio.iter().any(|p| p["packet_type"] == "EVENT"
        && p["data"][0] == "chat message"
        && p["direction"] == "in"));
    let events = of(&v, "event");
    assert_eq!(
        events
            .iter()
            .filter(|e| e["event"] == "chat message")
            .count(),
        1
    );
    assert_eq!(
        events
            .iter()
            .find(|e| e["event"] == "chat message")
            .unwrap()["args"],
        serde_json::json!(["hi"])
    );
}

#[test]
fn binary_attachments_both_ways_on_both_transports() {
    let peer = Peer::node(&[]);
    for t in ["polling", "websocket"] {
        let (code, v, err) = run(&[
            "sio",
            "emit",
            &peer.url("/admin"),
            "bin",
            "bin:78797a",
            "--ack",
            "--count",
            "2",
            "--transport",
            t,
        ]);
        assert_eq!(code, 0, "{t}: {err}");
        assert_eq!(
            of(&v, "ack")[0]["args"],
            serde_json::json!([{"_binary": "78797a"}]),
            "{t}"
        );
        let back = of(&v, "event")
            .into_iter()
            .find(|e| e["event"] == "bin-back")
            .expect("bin-back");
        assert_eq!(
            back["args"],
            serde_json::json!([{"_binary": "010203"}, {"nested": {"_binary": "78797a"}}])
        );
        assert_eq!(back["namespace"], "/admin");
    }
}

#[test]
fn namespaces_share_one_connection_and_an_unknown_one_is_refused() {
    let peer = Peer::node(&[]);
    let (code, v, err) = run(&[
        "sio",
        "connect",
        &peer.url(""),
        "--namespace",
        "/",
        "--namespace",
        "/admin",
        "--count",
        "2",
        "--auth",
        r#"{"token":"t"}"#,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(of(&v, "open").len(), 1, "one Engine.IO session");
    let nsps: Vec<_> = of(&v, "connected")
        .iter()
        .map(|c| c["namespace"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(nsps.len(), 2);
    assert!(nsps.contains(&"/".into()) && nsps.contains(&"/admin".into()));
    for w in of(&v, "event") {
        assert_eq!(w["args"][0]["auth"], serde_json::json!({"token": "t"}));
    }
    let (code, v, err) = run(&["sio", "connect", &peer.url("/nope"), "--reconnect", "0"]);
    assert_eq!(code, 1);
    assert_eq!(of(&v, "connect_error")[0]["message"], "Invalid namespace");
    assert!(err.contains("/nope"), "{err}");
}

#[test]
fn reconnect_recovers_missed_events() {
    let peer = Peer::node(&[]);
    for t in ["auto", "polling", "websocket"] {
        let (code, v, err) = run(&[
            "sio",
            "emit",
            &peer.url("/"),
            "drop",
            "--count",
            "2",
            "--transport",
            t,
        ]);
        assert_eq!(code, 0, "{t}: {err}");
        assert_eq!(of(&v, "reconnecting").len(), 1);
        let c = of(&v, "connected");
        assert_eq!(c.len(), 2);
        assert_eq!(
            c[0]["sid"], c[1]["sid"],
            "{t}: the same socket id after recovery"
        );
        assert_eq!(c[1]["recovered"], true, "{t}");
        let missed = of(&v, "event")
            .into_iter()
            .find(|e| e["event"] == "missed")
            .expect("missed event replayed");
        assert_eq!(missed["args"], serde_json::json!(["while you were away"]));
        assert!(missed["offset"].is_string());
        assert_eq!(of(&v, "report")[0]["recovered"], true);
    }
    // With no reconnection allowed, a lost connection is a failure.
    let (code, v, _) = run(&[
        "sio",
        "emit",
        &peer.url("/"),
        "drop",
        "--count",
        "2",
        "--reconnect",
        "0",
    ]);
    assert_eq!(code, 1);
    assert_eq!(of(&v, "lost").len(), 1);
}

#[test]
fn heartbeat_pings_are_answered() {
    let peer = Peer::node(&[("PING_INTERVAL", "100"), ("PING_TIMEOUT", "300")]);
    for t in ["polling", "websocket"] {
        let (code, v, err) = run(&[
            "sio",
            "connect",
            &peer.url("/"),
            "--timeout",
            "0.6",
            "--show-packets",
            "--transport",
            t,
        ]);
        assert_eq!(code, 0, "{err}");
        let e = of(&v, "engineio_packet");
        let pings = e
            .iter()
            .filter(|p| p["packet_type"] == "ping" && p["direction"] == "in")
            .count();
        let pongs = e
            .iter()
            .filter(|p| p["packet_type"] == "pong" && p["direction"] == "out")
            .count();
        assert!(
            pings >= 2,
            "{t}: {pings} pings in 0.6 s at a 100 ms interval"
        );
        assert_eq!(pings, pongs, "{t}: every ping answered");
        assert!(of(&v, "lost").is_empty(), "{t}: the server kept us: {v:?}");
    }
}

#[test]
fn python_socketio_server_each_transport() {
    let peer = Peer::python();
    for t in ["auto", "polling", "websocket"] {
        let (code, v, err) = run(&[
            "sio",
            "emit",
            &peer.url("/admin"),
            "with-ack",
            "1",
            "--ack",
            "--count",
            "1",
            "--transport",
            t,
            "--auth",
            r#"{"k":1}"#,
        ]);
        assert_eq!(code, 0, "{t}: {err}");
        assert_eq!(of(&v, "ack")[0]["args"], serde_json::json!([{"got": [1]}]));
        let w = of(&v, "event");
        assert_eq!(
            w[0]["args"][0],
            serde_json::json!({"nsp": "/admin", "auth": {"k": 1}})
        );
    }
}

#[test]
fn bad_arguments_exit_2_naming_them() {
    let (code, _, err) = run(&["sio", "emit", "http://127.0.0.1:9/", "e", "ok", "{bad json"]);
    assert_eq!(code, 2);
    assert!(err.contains("{bad json"), "{err}");
    let (code, _, err) = run(&["sio", "connect", "http://127.0.0.1:9/", "--auth", "[1]"]);
    assert_eq!(code, 2);
    assert!(err.contains("--auth"), "{err}");
    let (code, _, err) = run(&["sio", "connect", "ftp://x/"]);
    assert_eq!(code, 2);
    assert!(err.contains("ftp://x/"), "{err}");
    let (code, _, err) = run(&["sio", "emit", "http://127.0.0.1:9/", "e", "bin:zz"]);
    assert_eq!(code, 2, "{err}");
}

/// A fake Engine.IO server: answers each HTTP request with `answer(n, request)`, n counting
/// from 0; `None` holds the request for 2 s and closes it.
fn fake(answer: fn(usize, &str) -> Option<String>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, s) in l.incoming().enumerate().take(20) {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let k = s.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..k]).into_owned();
                match answer(n, &req) {
                    Some(body) => {
                        let _ = write!(
                            s,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    None => std::thread::sleep(Duration::from_secs(2)),
                }
            });
        }
    });
    port
}

const OPEN: &str =
    r#"0{"sid":"s","upgrades":[],"pingInterval":100,"pingTimeout":100,"maxPayload":1000}"#;

#[test]
fn broken_peers_end_the_run_with_an_error_not_a_panic() {
    // Not Engine.IO at all.
    let port = fake(|_, _| Some("hello".into()));
    let (code, _, err) = run(&[
        "sio",
        "connect",
        &format!("http://127.0.0.1:{port}/"),
        "--reconnect",
        "0",
        "--timeout",
        "3",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not one of 0-6"), "{err}");
    // A reserved event name, which the reference parser refuses.
    let port = fake(|n, req| match n {
        0 => Some(OPEN.into()),
        _ if req.starts_with("POST") => Some("ok".into()),
        1 | 2 => Some("40{\"sid\":\"x\"}\u{1e}42[\"connect\"]".into()),
        _ => None,
    });
    let (code, _, err) = run(&[
        "sio",
        "connect",
        &format!("http://127.0.0.1:{port}/"),
        "--reconnect",
        "0",
        "--timeout",
        "3",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("reserved"), "{err}");
}

#[test]
fn a_server_that_stops_pinging_is_a_ping_timeout() {
    // pingInterval 100 + pingTimeout 100: no ping in 200 ms ends the session.
    let port = fake(|n, req| match n {
        0 => Some(OPEN.into()),
        _ if req.starts_with("POST") => Some("ok".into()),
        1 | 2 => Some("40{\"sid\":\"x\"}".into()),
        _ => None,
    });
    let start = std::time::Instant::now();
    let (code, v, err) = run(&[
        "sio",
        "connect",
        &format!("http://127.0.0.1:{port}/"),
        "--reconnect",
        "0",
        "--timeout",
        "5",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        of(&v, "lost")[0]["reason"]
            .as_str()
            .unwrap()
            .contains("ping timeout"),
        "{v:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "ended by the ping timeout, not --timeout"
    );
}

#[test]
fn polling_posts_respect_the_servers_max_payload() {
    // maxPayload 60: the BINARY_EVENT (41 bytes) and its attachment as base64 (29 bytes) fit
    // one POST alone but not together, so they go in two.
    let peer = Peer::node(&[("MAX_PAYLOAD", "60")]);
    let hex20 = format!("bin:{}", "ab".repeat(20));
    let (code, v, err) = run(&[
        "sio",
        "emit",
        &peer.url("/"),
        "bin",
        &hex20,
        "--ack",
        "--transport",
        "polling",
        "--show-packets",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(of(&v, "open")[0]["max_payload"], 60);
    let posts: Vec<_> = of(&v, "http_request")
        .into_iter()
        .filter(|r| r["method"] == "POST")
        .collect();
    assert!(
        posts
            .iter()
            .all(|p| p["body_bytes"].as_u64().unwrap() <= 60),
        "{posts:?}"
    );
    assert!(
        posts.iter().any(|p| p["body_bytes"] == 29),
        "the attachment went alone: {posts:?}"
    );
    assert_eq!(of(&v, "ack")[0]["args"][0]["_binary"], "ab".repeat(20));
    // Past the edge: one packet over maxPayload is refused by the server (HTTP 413).
    let big = "x".repeat(80);
    let (code, _, err) = run(&[
        "sio",
        "emit",
        &peer.url("/"),
        "chat message",
        &big,
        "--transport",
        "polling",
        "--reconnect",
        "0",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("413"), "{err}");
}

/// `--vanish` and `--state` against the npm server: a client that drops off the network after
/// an event (the server's "welcome", which carries an offset) comes back in a later run with
/// the pid and offset from its state file, and the reference server recovers it: the same
/// socket id, `recovered`. A run that says goodbye (no --vanish) is not recovered.
#[test]
fn state_file_and_vanish_recover_across_runs_on_the_npm_server() {
    let peer = Peer::node(&[]);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("alice.json");
    let state_s = state.to_str().unwrap();
    let url = peer.url("/");
    for (vanish, recovered) in [(true, true), (false, false)] {
        let _ = std::fs::remove_file(&state);
        let mut a = vec!["sio", "connect", &url, "--state", state_s, "--count", "1"];
        if vanish {
            a.push("--vanish");
        }
        let (code, before, err) = run(&a);
        assert_eq!(code, 0, "{err}");
        let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
        assert!(
            saved["pid"].is_string() && saved["offset"].is_string(),
            "{saved}"
        );
        assert_eq!(of(&before, "ready").len(), 1, "{before:?}");
        let (code, v, err) = run(&["sio", "connect", &url, "--state", state_s, "--count", "1"]);
        assert_eq!(code, 0, "{err}");
        let c = of(&v, "connected");
        assert_eq!(c[0]["recovered"], recovered, "vanish {vanish}: {v:?}");
        let same = c[0]["sid"] == of(&before, "connected")[0]["sid"];
        assert_eq!(same, recovered, "{v:?}");
        // The server's own view: its welcome says socket.recovered.
        let welcome = of(&v, "event")[0];
        assert_eq!(welcome["args"][0]["recovered"], recovered, "{v:?}");
    }
    // Bad input: --state with two namespaces is refused, exit 2.
    let out = wirelab()
        .args(["sio", "connect", &url, "--state", state_s])
        .args(["--namespace", "/", "--namespace", "/admin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--state"));
}

/// A server's emitWithAck is acked once the event's line was written, not before; with the
/// reader of stdout gone the client stops at once (status 0) and acks nothing.
#[test]
fn a_servers_emit_with_ack_is_acked_only_after_the_event_is_written() {
    let peer = Peer::node(&[]);
    let url = peer.url("/");
    for t in ["polling", "websocket"] {
        let (code, v, err) = run(&[
            "sio",
            "emit",
            &url,
            "ask-later",
            "50",
            "--count",
            "2",
            "--transport",
            t,
        ]);
        assert_eq!(code, 0, "{t}: {err} {v:?}");
        let q: Vec<_> = of(&v, "event")
            .into_iter()
            .filter(|e| e["event"] == "question")
            .collect();
        assert_eq!(q.len(), 1, "{t}: {v:?}");
        assert!(q[0]["ack_id"].is_u64(), "{t}: {v:?}");
        let (line, _) = wait_for(&peer.out, "question", 10);
        assert_eq!(line, "acked question", "{t}");
    }

    // The same, but the reader of stdout goes away before the question comes.
    let mut child = wirelab()
        .args([
            "sio",
            "emit",
            &url,
            "ask-later",
            "400",
            "--count",
            "2",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains(r#""type":"emitted""#) {
        line.clear();
        assert!(
            std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0,
            "no emitted line"
        );
    }
    drop(out); // the reader leaves, 400 ms before the question
    let (status, err) = common::ended_within(&mut child, 5, "sio emit after its reader left");
    assert!(status.success(), "{status:?} {err}");
    let (line, _) = wait_for(&peer.out, "question", 10);
    assert!(line.starts_with("no ack for question"), "{line}");
}

/// RFC 6455 pings below Engine.IO (the `ws` library's socket.ping()) get a pong with the same
/// payload, directly on WebSocket and after an upgrade from polling.
#[test]
fn websocket_pings_are_answered_with_the_same_payload() {
    let peer = Peer::node(&[("WS_PING", "1")]);
    for t in ["websocket", "auto"] {
        let (code, v, err) = run(&[
            "sio",
            "connect",
            &peer.url("/"),
            "--timeout",
            "1",
            "--transport",
            t,
        ]);
        assert_eq!(code, 0, "{t}: {err} {v:?}");
        let (line, _) = wait_for(&peer.out, "ws pong", 10);
        assert_eq!(line, "ws pong hello", "{t}");
    }
}

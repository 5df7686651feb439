//! The Socket.IO server inside `hub serve`, against real peers: the npm socket.io-client
//! (tests/peers/sio_chat.mjs) on each transport, rooms, recovery after a SIGKILL of the hub,
//! python-socketio, the reference server's answers to bad requests, and `--conformance`.

mod hub_common;
mod redis_common;
mod ws_common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use hub_common::hub;
use ws_common::{installed, root, Server};

fn node_chat(addr: &str, mode: &str, transport: &str) {
    installed("node_modules/socket.io-client");
    let out = Command::new("node")
        .current_dir(root())
        .arg(root().join("tests/peers/sio_chat.mjs"))
        .args([&format!("http://{addr}/"), mode, transport])
        .output()
        .expect("cannot run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("done"),
        "socket.io-client {mode} over {transport} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn socket_io_client_chat_over_polling() {
    let dir = tempfile::tempdir().unwrap();
    let s = hub(dir.path(), &[]);
    node_chat(&s.addr, "chat", "polling");
}

#[test]
fn socket_io_client_chat_over_websocket() {
    let dir = tempfile::tempdir().unwrap();
    let s = hub(dir.path(), &[]);
    node_chat(&s.addr, "chat", "websocket");
}

#[test]
fn socket_io_client_chat_polling_then_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let s = hub(dir.path(), &[]);
    node_chat(&s.addr, "chat", "both");
    s.wait_line("upgraded polling -> websocket");
}

#[test]
fn relay_rooms_reaches_only_the_senders_rooms() {
    let dir = tempfile::tempdir().unwrap();
    let s = hub(dir.path(), &["--relay", "rooms"]);
    node_chat(&s.addr, "rooms", "websocket");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `hub serve` on `port` with its store: `--data DIR` or `--store URL`.
fn hub_on(port: u16, store: &[&str]) -> Server {
    let mut cmd = hub_common::wirelab();
    cmd.args(["hub", "serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(store);
    ws_common::spawn_server(cmd)
}

#[test]
fn recovery_survives_a_sigkill_of_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    recovery_across_a_sigkill(&["--data", dir.path().to_str().unwrap()]);
}

/// The same with the state in Redis: the restarted hub finds it there (no sio.sqlite3).
#[test]
fn recovery_on_redis_survives_a_sigkill_of_the_hub() {
    let r = redis_common::start();
    recovery_across_a_sigkill(&["--store", &r.url]);
}

fn recovery_across_a_sigkill(store: &[&str]) {
    installed("node_modules/socket.io-client");
    let port = free_port();
    let mut first = hub_on(port, store);
    let mut node = Command::new("node")
        .current_dir(root())
        .arg(root().join("tests/peers/sio_chat.mjs"))
        .args([&format!("http://127.0.0.1:{port}/"), "recover", "websocket"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cannot run node");
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    loop {
        let l = lines
            .next()
            .expect("node ended before asking for the kill")
            .unwrap();
        seen.push(l.clone());
        assert!(!l.starts_with("FAIL"), "{seen:#?}");
        if l == "kill" {
            break;
        }
    }
    first.child.kill().unwrap(); // SIGKILL: nothing is flushed or closed
    first.child.wait().unwrap();
    let second = hub_on(port, store);
    writeln!(node.stdin.as_mut().unwrap(), "restarted").unwrap();
    for l in lines {
        seen.push(l.unwrap());
    }
    let status = node.wait().unwrap();
    assert!(status.success(), "{seen:#?}");
    assert!(
        seen.iter()
            .any(|l| l.contains("ok socket.recovered === true")),
        "{seen:#?}"
    );
    second.wait_line("recovered: 2 missed event(s) replayed");
}

/// One HTTP request on its own connection: (status, body).
fn http(addr: &str, method: &str, target: &str, body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = std::io::Read::read_to_end(&mut s, &mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, body.to_string())
}

const EIO: &str = "/socket.io/?EIO=4&transport=polling";

/// Opens a polling session: its sid and the open packet's JSON.
fn open(addr: &str) -> (String, serde_json::Value) {
    let (status, body) = http(addr, "GET", EIO, "");
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value =
        serde_json::from_str(body.strip_prefix('0').expect("open packet")).unwrap();
    (json["sid"].as_str().unwrap().to_string(), json)
}

fn get(addr: &str, sid: &str) -> (u16, String) {
    http(addr, "GET", &format!("{EIO}&sid={sid}"), "")
}

fn post(addr: &str, sid: &str, body: &str) -> (u16, String) {
    http(addr, "POST", &format!("{EIO}&sid={sid}"), body)
}

#[test]
fn bad_requests_get_the_reference_servers_answers() {
    let dir = tempfile::tempdir().unwrap();
    let s = hub(dir.path(), &[]);
    let a = s.addr.as_str();
    let refused = |target: &str, method: &str, code: u8, msg: &str| {
        let (status, body) = http(a, method, target, "");
        assert_eq!(status, 400, "{target}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"code": code, "message": msg}),
            "{target}"
        );
    };
    refused(
        "/socket.io/?EIO=4&transport=carrier-pigeon",
        "GET",
        0,
        "Transport unknown",
    );
    refused("/socket.io/?EIO=4", "GET", 0, "Transport unknown");
    refused(&format!("{EIO}&sid=nope"), "GET", 1, "Session ID unknown");
    refused(&format!("{EIO}&sid=nope"), "POST", 1, "Session ID unknown");
    refused(EIO, "POST", 2, "Bad handshake method");
    refused(
        "/socket.io/?EIO=3&transport=polling",
        "GET",
        5,
        "Unsupported protocol version",
    );
    refused(
        "/socket.io/?transport=polling",
        "GET",
        5,
        "Unsupported protocol version",
    );
    // A polling request for a WebSocket session is a bad request (3).
    let (sid, _) = open(a);
    assert_eq!(post(a, &sid, "40").0, 200);
    let (_, body) = get(a, &sid);
    assert!(body.starts_with("40{\"sid\":"), "{body}");
    // Oversize: the body is over maxPayload (1000000 by default) -> 413.
    let big = "4".repeat(1_000_001);
    assert_eq!(post(a, &sid, &big).0, 413);
    // The session is still there after a 413 (as in engine.io).
    let ok = post(a, &sid, "42[\"x\"]");
    assert_eq!(ok, (200, "ok".to_string()));
    // A malformed Socket.IO packet (the reference parser refuses it) closes the session.
    for bad in [
        "4X",
        "42{\"not\":\"an array\"}",
        "42[\"connect\"]",
        "45-[]",
        "9",
    ] {
        let (sid, _) = open(a);
        let (status, _) = post(a, &sid, bad);
        assert_eq!(status, 200, "{bad}");
        let (status, body) = get(a, &sid);
        assert_eq!(status, 400, "{bad}: session should be gone, got {body}");
    }
    // hub serve is still serving.
    assert!(open(a).0.len() >= 20);
}

#[test]
fn a_second_concurrent_long_poll_is_400_and_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let s = hub(dir.path(), &[]);
    let a = s.addr.clone();
    let (sid, _) = open(&a);
    let (a2, sid2) = (a.clone(), sid.clone());
    let held = std::thread::spawn(move || get(&a2, &sid2));
    // Wait until the first GET is held (the hub answers nothing yet).
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!held.is_finished(), "the first GET was not held");
    let (status, body) = get(&a, &sid);
    assert_eq!((status, body.as_str()), (400, ""));
    // The held GET is released with a close packet; the session is gone.
    assert_eq!(held.join().unwrap(), (200, "1".to_string()));
    assert_eq!(get(&a, &sid).0, 400);
}

#[test]
fn conformance_mode_behaves_like_the_test_suites_reference_server() {
    let dir = tempfile::tempdir().unwrap();
    let s = hub(dir.path(), &["--conformance"]);
    let a = s.addr.as_str();
    let (sid, open_json) = open(a);
    assert_eq!(open_json["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(open_json["pingInterval"], 300);
    assert_eq!(open_json["pingTimeout"], 200);
    assert_eq!(open_json["maxPayload"], 1_000_000);
    // CONNECT with auth -> the answer with a sid, then `auth` with the same auth.
    assert_eq!(post(a, &sid, "40{\"token\":\"123\"}").0, 200);
    let (_, body) = get(a, &sid);
    let packets: Vec<&str> = body.split('\x1e').collect();
    assert!(packets[0].starts_with("40{\"sid\":"), "{body}");
    let answer: serde_json::Value = serde_json::from_str(&packets[0][2..]).unwrap();
    assert_eq!(
        answer.as_object().map(|o| o.len()),
        Some(1),
        "the reference server answers CONNECT with {{sid}} alone (no recovery pid): {body}"
    );
    let auth = if packets.len() > 1 {
        packets[1].to_string()
    } else {
        get(a, &sid).1
    };
    assert_eq!(auth, "42[\"auth\",{\"token\":\"123\"}]");
    // message -> message-back with the same args; message-with-ack is acked with them.
    post(a, &sid, "42[\"message\",1,\"2\",{\"3\":[true]}]");
    assert_eq!(
        get(a, &sid).1,
        "42[\"message-back\",1,\"2\",{\"3\":[true]}]"
    );
    post(a, &sid, "4213[\"message-with-ack\",1,\"2\"]");
    assert_eq!(get(a, &sid).1, "4313[1,\"2\"]");
    // The /custom namespace on the same session; an unknown one gets CONNECT_ERROR.
    post(a, &sid, "40/custom,");
    let (_, body) = get(a, &sid);
    assert!(body.starts_with("40/custom,{\"sid\":"), "{body}");
    post(a, &sid, "40/random,");
    let mut body = get(a, &sid).1;
    while body == "2" || body.starts_with("42/custom,[\"auth\"") {
        if body == "2" {
            post(a, &sid, "3");
        }
        body = get(a, &sid).1;
    }
    assert_eq!(body, "44/random,{\"message\":\"Invalid namespace\"}");
    // Binary: message-back carries the attachment back (b + base64 on polling).
    post(
        a,
        &sid,
        "451-[\"message\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID",
    );
    let mut body = get(a, &sid).1;
    while body == "2" {
        post(a, &sid, "3");
        body = get(a, &sid).1;
    }
    assert_eq!(
        body,
        "451-[\"message-back\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID"
    );
    // Heartbeat: a ping within pingInterval; no pong within pingTimeout closes the session.
    let t = std::time::Instant::now();
    assert_eq!(get(a, &sid).1, "2");
    assert!(t.elapsed() < std::time::Duration::from_millis(1000));
    let (status, body) = get(a, &sid);
    // The held GET ends with the close packet, or the session is already gone.
    assert!(
        (status, body.as_str()) == (200, "1") || status == 400,
        "{status} {body}"
    );
    assert_eq!(get(a, &sid).0, 400);
    // connectTimeout 1000: a session that never sends CONNECT is closed.
    let (sid, _) = open(a);
    let mut closed = false;
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_secs(3) {
        let (status, body) = get(a, &sid);
        if status == 400 || body == "1" {
            closed = true;
            break;
        }
        if body == "2" {
            post(a, &sid, "3");
        }
    }
    assert!(
        closed,
        "no CONNECT within connectTimeout should close the session"
    );
    assert!(t.elapsed() >= std::time::Duration::from_millis(900));
}

#[test]
fn python_socketio_client_on_both_transports() {
    let py = installed(".venv/bin/python");
    let dir = tempfile::tempdir().unwrap();
    let s = hub(dir.path(), &[]);
    for transport in ["polling", "websocket"] {
        let out = Command::new(&py)
            .arg(root().join("tests/peers/sio_python_client.py"))
            .args([&format!("http://{}", s.addr), transport])
            .output()
            .expect("cannot run python");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(&format!("transport {transport}")),
            "python-socketio over {transport}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("ok {'recipients': 1}"), "{stdout}");
    }
}

#[test]
fn chat_page_in_two_chromium_tabs_recovers_a_dropped_connection() {
    installed("node_modules/playwright-core");
    installed("node_modules/socket.io-client/dist/socket.io.min.js");
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: run scripts/test, which installs it"
    );
    let dir = tempfile::tempdir().unwrap();
    let s = hub(dir.path(), &[]);
    let out = Command::new("node")
        .current_dir(root())
        .arg(root().join("tests/peers/sio_browser.mjs"))
        .arg(format!("http://{}/socket.io/chat.html", s.addr))
        .output()
        .expect("cannot run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("browser: ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.wait_line("recovered: ");
}

/// A direct WebSocket session (no polling): the open packet first with no upgrades, CONNECT,
/// the conformance echo, the heartbeat answered, and a message over maxPayload closed with 1009.
#[tokio::test]
async fn websocket_transport_directly_with_heartbeat_and_max_payload() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as T;
    let dir = tempfile::tempdir().unwrap();
    let s = hub(dir.path(), &["--conformance"]);
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", s.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut next = async || loop {
        match ws.next().await.unwrap().unwrap() {
            T::Text(t) => return t.to_string(),
            T::Close(c) => return format!("close {}", c.map(|c| u16::from(c.code)).unwrap_or(0)),
            _ => continue,
        }
    };
    let open = next().await;
    assert!(open.starts_with("0{\"sid\":"), "{open}");
    assert!(open.contains("\"upgrades\":[]"), "{open}");
    assert!(open.contains("\"maxPayload\":1000000}"), "{open}");
    ws.send(T::text("40")).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        if let T::Text(t) = ws.next().await.unwrap().unwrap() {
            got.push(t.to_string());
        }
    }
    assert!(got[0].starts_with("40{\"sid\":"), "{got:?}");
    assert_eq!(got[1], "42[\"auth\",{}]");
    // A ping comes within pingInterval (300 ms); answering keeps the session.
    let t = std::time::Instant::now();
    loop {
        if let T::Text(x) = ws.next().await.unwrap().unwrap() {
            assert_eq!(x.as_str(), "2");
            break;
        }
    }
    assert!(t.elapsed() < std::time::Duration::from_millis(1000));
    ws.send(T::text("3")).await.unwrap();
    ws.send(T::text("42[\"message\",\"still here\"]"))
        .await
        .unwrap();
    loop {
        if let T::Text(x) = ws.next().await.unwrap().unwrap() {
            if x.as_str() == "2" {
                ws.send(T::text("3")).await.unwrap();
                continue;
            }
            assert_eq!(x.as_str(), "42[\"message-back\",\"still here\"]");
            break;
        }
    }
    // 1001 bytes: over --max-payload 1000, closed with 1009 (message too big).
    let dir = tempfile::tempdir().unwrap();
    let s = hub(dir.path(), &["--max-payload", "1000"]);
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", s.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let _open = ws.next().await;
    ws.send(T::text("40")).await.unwrap();
    let _connected = ws.next().await;
    let at_limit = format!("42[\"e\",\"{}\"]", "y".repeat(990));
    assert_eq!(at_limit.len(), 1000);
    ws.send(T::text(at_limit)).await.unwrap();
    // At the limit: read and relayed (back to the sender: --relay namespace).
    match ws.next().await {
        Some(Ok(T::Text(t))) => assert!(t.starts_with("42[\"e\",\"yyy"), "{t}"),
        other => panic!("{other:?}"),
    }
    ws.send(T::text(format!("4{}", "x".repeat(1000))))
        .await
        .unwrap();
    let code = loop {
        match ws.next().await {
            Some(Ok(T::Close(c))) => break c.map(|c| u16::from(c.code)).unwrap_or(0),
            Some(Ok(_)) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    };
    assert_eq!(code, 1009);
}

#[test]
fn recovery_state_expires_after_the_window_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    expiry_is_counted(&hub(dir.path(), &["--recovery-window", "0.4"]), 1);
}

/// On Redis too the window bounds the state, and what expires is counted.
#[test]
fn recovery_state_on_redis_expires_after_the_window_and_is_counted() {
    let r = redis_common::start();
    expiry_is_counted(
        &hub_on(
            free_port(),
            &["--recovery-window", "0.4", "--store", &r.url],
        ),
        1,
    );
}

/// Past the Redis store's expiry batch (256 events a round trip): 700 events expire, every one
/// counted once, in passes of several batches.
#[test]
fn recovery_expiry_on_redis_crosses_its_batch() {
    let r = redis_common::start();
    expiry_is_counted(
        &hub_on(
            free_port(),
            &["--recovery-window", "0.4", "--store", &r.url],
        ),
        700,
    );
}

/// A socket that sent `n` events, whose transport goes away (not a namespace disconnect): its
/// state is kept until the window passes, then the `n` events and one session expire, counted,
/// and the pid no longer recovers.
fn expiry_is_counted(s: &Server, n: u64) {
    let a = s.addr.as_str();
    let (sid, _) = open(a);
    post(a, &sid, "40");
    let (_, body) = get(a, &sid);
    let v: serde_json::Value = serde_json::from_str(body.strip_prefix("40").unwrap()).unwrap();
    let pid = v["pid"]
        .as_str()
        .expect("CONNECT answer carries a pid")
        .to_string();
    // The events in one POST (a payload joined with 0x1e), relayed to the namespace.
    let events: Vec<String> = (0..n)
        .map(|i| format!("42[\"chat message\",\"m{i}\"]"))
        .collect();
    post(a, &sid, &events.join("\x1e"));
    let (_, body) = get(a, &sid);
    assert!(
        body.starts_with("42[\"chat message\",\"m0\",\""),
        "offset appended: {body}"
    );
    post(a, &sid, "1");
    // The event and the session may go in two expiry passes: add them up.
    let (mut events, mut sessions) = (0, 0);
    while events < n || sessions == 0 {
        let line = s.wait_line("expired");
        let n: Vec<u64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        assert!(n.len() >= 2, "{line}");
        events += n[n.len() - 2];
        sessions += n[n.len() - 1];
    }
    assert_eq!((events, sessions), (n, 1));
    // Too late: reconnecting with that pid is a new socket (no pid match, not recovered).
    let (sid, _) = open(a);
    post(
        a,
        &sid,
        &format!("40{{\"pid\":\"{pid}\",\"offset\":\"1\"}}"),
    );
    let (_, body) = get(a, &sid);
    assert!(!body.contains(&pid), "{body}");
    s.wait_line("connected to /");
}

/// As engine.io's own server: the next ping goes pingInterval after the pong that answered the
/// last one, not pingInterval + pingTimeout after the last ping (the client gives up at
/// pingInterval + pingTimeout, so that would race its timer).
#[test]
fn the_next_ping_goes_ping_interval_after_the_pong() {
    let dir = tempfile::tempdir().unwrap();
    let s = hub(
        dir.path(),
        &["--ping-interval", "300", "--ping-timeout", "3000"],
    );
    let a = s.addr.as_str();
    let (sid, open) = open(a);
    assert_eq!(open["pingInterval"], 300);
    post(a, &sid, "40");
    let (_, body) = get(a, &sid);
    assert!(body.starts_with("40"), "{body}");
    let (_, body) = get(a, &sid);
    assert_eq!(body, "2", "the first ping");
    for round in 0..3 {
        post(a, &sid, "3");
        let pong_at = std::time::Instant::now();
        let (_, body) = get(a, &sid);
        let after = pong_at.elapsed();
        assert_eq!(body, "2", "round {round}: the next ping");
        assert!(
            after >= std::time::Duration::from_millis(250)
                && after < std::time::Duration::from_millis(2000),
            "round {round}: next ping {after:?} after the pong (interval 300 ms, timeout 3000 ms)"
        );
    }
}

/// --conformance sets the reference server's values, but a flag given on the command line wins.
#[test]
fn conformance_defaults_give_way_to_explicit_flags() {
    let dir = tempfile::tempdir().unwrap();
    let s = hub(
        dir.path(),
        &[
            "--conformance",
            "--ping-interval",
            "5000",
            "--max-payload",
            "2000",
        ],
    );
    let (_, open_json) = open(&s.addr);
    assert_eq!(open_json["pingInterval"], 5000);
    assert_eq!(
        open_json["pingTimeout"], 200,
        "not given: the conformance value"
    );
    assert_eq!(open_json["maxPayload"], 2000);
    let dir = tempfile::tempdir().unwrap();
    let s = hub(dir.path(), &[]);
    let (_, open_json) = open(&s.addr);
    assert_eq!(open_json["pingInterval"], 25000, "the socket.io default");
    assert_eq!(open_json["pingTimeout"], 20000);
}

/// As engine.io's polling transport: a client that closes (POST `1`) while its GET is held
/// gets that GET answered with a noop (`6`), not a close; the session is then gone. The POST
/// may beat the GET to the hub (then the GET is a 400 for an unknown sid): try again, waiting
/// a little longer each time, until one GET was held.
#[test]
fn a_client_close_answers_the_held_get_with_a_noop() {
    let dir = tempfile::tempdir().unwrap();
    let s = hub(dir.path(), &[]);
    let a = s.addr.clone();
    let mut held_once = false;
    for attempt in 1..=20u64 {
        let (sid, _) = open(&a);
        let (a2, sid2) = (a.clone(), sid.clone());
        let held = std::thread::spawn(move || get(&a2, &sid2));
        std::thread::sleep(std::time::Duration::from_millis(10 * attempt));
        assert_eq!(post(&a, &sid, "1"), (200, "ok".to_string()));
        let (status, body) = held.join().unwrap();
        assert_eq!(get(&a, &sid).0, 400, "the session outlived the close");
        if status == 400 {
            continue;
        }
        assert_eq!((status, body.as_str()), (200, "6"), "attempt {attempt}");
        held_once = true;
        break;
    }
    assert!(held_once, "no GET was ever held before the close");
}

/// As the reference server: a WebSocket for a session that has already upgraded gets its 101
/// and is closed at once; the first WebSocket goes on.
#[tokio::test]
async fn a_second_websocket_on_an_upgraded_session_is_closed() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message as T;
    let dir = tempfile::tempdir().unwrap();
    let s = hub(dir.path(), &["--conformance", "--ping-interval", "60000"]);
    let a = s.addr.clone();
    let sid = {
        let a = a.clone();
        tokio::task::spawn_blocking(move || {
            let (sid, _) = open(&a);
            post(&a, &sid, "40");
            let (_, body) = get(&a, &sid);
            assert!(body.starts_with("40{\"sid\":"), "{body}");
            sid
        })
        .await
        .unwrap()
    };
    let url = format!("ws://{a}/socket.io/?EIO=4&transport=websocket&sid={sid}");
    let (mut ws1, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws1.send(T::text("2probe")).await.unwrap();
    match ws1.next().await {
        Some(Ok(T::Text(t))) => assert_eq!(t.as_str(), "3probe"),
        other => panic!("{other:?}"),
    }
    ws1.send(T::text("5")).await.unwrap();
    // The second one: upgraded to WebSocket, then closed with nothing else said.
    let (mut ws2, resp) = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert_eq!(resp.status(), 101);
    match ws2.next().await {
        Some(Ok(T::Close(_))) | None => {}
        other => panic!("the second WebSocket was not closed: {other:?}"),
    }
    // The first still carries the session (the auth emit from the CONNECT may come first).
    ws1.send(T::text("42[\"message\",\"one\"]")).await.unwrap();
    loop {
        match ws1.next().await {
            Some(Ok(T::Text(t))) if t.as_str() == "42[\"message-back\",\"one\"]" => break,
            Some(Ok(T::Text(_))) | Some(Ok(T::Ping(_))) => continue,
            other => panic!("the first WebSocket lost its session: {other:?}"),
        }
    }
}

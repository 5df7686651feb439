//! Interop with real peers: the Python `websockets` library and tokio-tungstenite, each as
//! client against wirelab's server and as server for wirelab's client. Messages of 0, 125,
//! 126, 65535, 65536 bytes and 1 MiB (every length encoding and its edges), ping/pong, close
//! codes; and the close codes wirelab sends for protocol errors (1002, 1007, 1009).

mod ws_common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as TMessage;
use wirelab::wire::websocket::frame::{apply_mask, FrameHeader, OpCode};
use wirelab::wire::websocket::{ClosePayload, Limits};
use wirelab::ws::accept::AcceptOptions;
use wirelab::ws::client::{connect, WsUrl};
use wirelab::ws::conn::{Config, Message};
use wirelab::ws::server::{serve, EventSink, Mode, ServeOptions, DEMO_PAGE};
use ws_common::{installed, root, spawn_server, wirelab_server, SIZES};

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn letters(n: usize) -> String {
    (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect()
}

fn python_server() -> ws_common::Server {
    let mut cmd = Command::new(installed(".venv/bin/python"));
    cmd.arg(root().join("tests/peers/ws_echo_server.py"));
    spawn_server(cmd)
}

/// wirelab's server in this process, through the library API. Returns its address and a
/// handle that stops it.
async fn in_process_server(limits: Limits) -> (String, tokio::sync::oneshot::Sender<()>) {
    in_process_server_mode(limits, Mode::Echo).await
}

async fn in_process_server_mode(
    limits: Limits,
    mode: Mode,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let opts = ServeOptions {
        compress: false,
        mode,
        show_frames: false,
        quiet: true,
        max_conns: None,
        accept: AcceptOptions {
            config: Config { limits },
            timeout: Duration::from_secs(5),
            page: Some(DEMO_PAGE),
        },
    };
    let sink: EventSink = Arc::new(|_| {});
    tokio::spawn(serve(listener, opts, sink, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

#[test]
fn python_client_against_wirelab_server() {
    let python = installed(".venv/bin/python");
    let server = wirelab_server(&["--echo", "--quiet"]);
    let out = Command::new(python)
        .arg(root().join("tests/peers/ws_client_check.py"))
        .arg(format!("ws://{}/", server.addr))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    assert!(
        out.status.success(),
        "python client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("python client: all checks passed"),
        "{stdout}"
    );
    assert!(server.interrupt().success());
}

#[tokio::test]
async fn wirelab_client_against_python_server() {
    let server = python_server();
    let url = WsUrl::parse(&format!("ws://{}/", server.addr)).unwrap();
    let mut c = connect(&url, Config::default(), Duration::from_secs(5))
        .await
        .unwrap();
    for n in SIZES {
        for m in [Message::Binary(pattern(n)), Message::Text(letters(n))] {
            c.ws.send(&m).await.unwrap();
            assert_eq!(c.ws.recv().await.unwrap(), Ok(m), "{n} bytes");
        }
    }
    // The server pings us; recv() answers with a pong, and the server confirms.
    c.ws.send(&Message::Text("ping-me".into())).await.unwrap();
    assert_eq!(
        c.ws.recv().await.unwrap(),
        Ok(Message::Text("pong-ok".into()))
    );
    let reply =
        c.ws.close(Some(&ClosePayload {
            code: 4001,
            reason: "rust says bye".into(),
        }))
        .await
        .unwrap();
    assert_eq!(reply.map(|p| p.code), Some(4001));
    let line = server.wait_line("closed");
    assert_eq!(line, "closed 4001 rust says bye");
}

#[test]
fn wirelab_cli_against_python_server() {
    let server = python_server();
    let url = format!("ws://{}/", server.addr);
    let out = Command::new(env!("CARGO_BIN_EXE_wirelab"))
        .args(["ws", "connect", &url, "hello", "κόσμε", "--ping"])
        .args(["--close-code", "4002", "--close-reason", "cli", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let received: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "message" && e["direction"] == "in")
        .map(|e| e["preview"].as_str().unwrap())
        .collect();
    assert_eq!(received, ["\"hello\"", "\"κόσμε\""]);
    assert!(events.iter().any(|e| e["type"] == "pong"), "no pong event");
    let closed = events.iter().find(|e| e["type"] == "closed").unwrap();
    assert_eq!(closed["initiator"], "us");
    assert_eq!(closed["code"], 4002);
    assert_eq!(server.wait_line("closed"), "closed 4002 cli");

    // A 1 MiB message from stdin (too long for a command-line argument).
    let mut child = Command::new(env!("CARGO_BIN_EXE_wirelab"))
        .args(["ws", "connect", &url, "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(letters(1 << 20).as_bytes()).unwrap();
    stdin.write_all(b"\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let big_in = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["type"] == "message" && e["direction"] == "in")
        .expect("no echo of the 1 MiB message");
    assert_eq!(big_in["len"], 1 << 20);
}

/// websocat-like: against Python websockets, stdin lines go out one message each; `-q`
/// prints each echo whole on its own line and nothing else; `--json` carries the whole data
/// (a message far longer than the 32-character preview), binary as base64.
#[test]
fn wirelab_cli_stdin_quiet_and_full_json_against_python_server() {
    let server = python_server();
    let url = format!("ws://{}/", server.addr);
    let run = |args: &[&str], input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wirelab"))
            .args(["ws", "connect", &url])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let long = letters(200);
    let input = format!("first line\n{long}\nκόσμε \"quoted\"\n");
    assert_eq!(
        run(&["-q"], &input),
        input,
        "-q prints the echoes, whole, one per line"
    );

    let text = run(&[], &input);
    assert!(
        text.contains(&format!("<- in  text message, 200 bytes: \"{long}\"")),
        "{text}"
    );
    assert!(text.contains("handshake response:"), "{text}");

    let json = run(&["--json", "--binary"], &format!("{long}\n"));
    let events: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let back = events
        .iter()
        .find(|e| e["type"] == "message" && e["direction"] == "in")
        .expect("the echo");
    assert_eq!(back["kind"], "binary");
    assert_eq!(back["encoding"], "base64");
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD
        .decode(back["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, long.as_bytes());
    assert!(events.iter().all(|e| e["type"].is_string()), "{json}");

    let quiet_json = run(&["--json", "-q"], "x\n");
    assert!(!quiet_json.contains("handshake"), "{quiet_json}");
    assert!(quiet_json.contains(r#""data":"x""#), "{quiet_json}");
}

/// A plain TCP echo server is not an HTTP server: said once, with the cause.
#[test]
fn ws_connect_and_hub_emit_to_an_echo_server_say_so_once() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let mut r = s.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut s);
            });
        }
    });
    let url = format!("ws://{addr}/");
    for args in [
        vec!["ws", "connect", url.as_str(), "hi"],
        vec!["hub", "emit", url.as_str(), "pickup", "1"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_wirelab"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let says = "that server answered with what we sent: not an HTTP server (an echo server?)";
        assert_eq!(err.matches(says).count(), 1, "{args:?}: {err}");
        assert!(!err.contains("malformed status line"), "{err}");
    }
}

#[tokio::test]
async fn tungstenite_client_against_wirelab_server() {
    let (addr, stop) = in_process_server(Limits::default()).await;
    let (mut ws, resp) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    for n in SIZES {
        for m in [TMessage::binary(pattern(n)), TMessage::text(letters(n))] {
            ws.send(m.clone()).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap(), m, "{n} bytes");
        }
    }
    ws.send(TMessage::Ping(b"tung".to_vec().into()))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        TMessage::Pong(b"tung".to_vec().into())
    );
    ws.send(TMessage::Close(Some(CloseFrame {
        code: CloseCode::from(4003),
        reason: "bye".into(),
    })))
    .await
    .unwrap();
    match ws.next().await.unwrap().unwrap() {
        TMessage::Close(Some(f)) => assert_eq!(u16::from(f.code), 4003),
        other => panic!("expected the close echo, got {other:?}"),
    }
    let _ = stop.send(());
}

#[tokio::test]
async fn wirelab_client_against_tungstenite_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(s).await.unwrap();
        let mut code = None;
        while let Some(m) = ws.next().await {
            match m.unwrap() {
                TMessage::Text(t) if t.as_str() == "ping-me" => {
                    ws.send(TMessage::Ping(b"srv".to_vec().into()))
                        .await
                        .unwrap();
                }
                TMessage::Pong(p) => {
                    assert_eq!(&p[..], b"srv");
                    ws.send(TMessage::text("pong-ok")).await.unwrap();
                }
                // Keep polling: tungstenite sends its close reply on the next poll.
                TMessage::Close(f) => code = f.map(|f| u16::from(f.code)),
                m @ (TMessage::Text(_) | TMessage::Binary(_)) => ws.send(m).await.unwrap(),
                _ => {}
            }
        }
        code
    });
    let url = WsUrl::parse(&format!("ws://{addr}/chat")).unwrap();
    let mut c = connect(&url, Config::default(), Duration::from_secs(5))
        .await
        .unwrap();
    for n in SIZES {
        for m in [Message::Binary(pattern(n)), Message::Text(letters(n))] {
            c.ws.send(&m).await.unwrap();
            assert_eq!(c.ws.recv().await.unwrap(), Ok(m), "{n} bytes");
        }
    }
    c.ws.send(&Message::Text("ping-me".into())).await.unwrap();
    assert_eq!(
        c.ws.recv().await.unwrap(),
        Ok(Message::Text("pong-ok".into()))
    );
    let reply =
        c.ws.close(Some(&ClosePayload {
            code: 4004,
            reason: String::new(),
        }))
        .await
        .unwrap();
    assert_eq!(reply.map(|p| p.code), Some(4004));
    assert_eq!(server.await.unwrap(), Some(4004));
}

/// A masked client frame.
fn frame(fin: bool, op: OpCode, payload: &[u8], masked: bool) -> Vec<u8> {
    let key = [9, 8, 7, 6];
    let h = FrameHeader::new(fin, op, masked.then_some(key), payload.len() as u64);
    let mut v = Vec::new();
    h.emit_to_vec(&mut v);
    let start = v.len();
    v.extend_from_slice(payload);
    if masked {
        apply_mask(&mut v[start..], key, 0);
    }
    v
}

/// Opens a raw WebSocket by hand, writes `bytes`, returns the close code the server sends.
async fn close_code_for(addr: &str, bytes: &[u8]) -> u16 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let _ = s.write_all(bytes).await;
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut got)).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 101 "), "{text}");
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let rest = &got[head_end..];
    let (h, n) = FrameHeader::parse(rest).unwrap().unwrap();
    assert_eq!(h.opcode, OpCode::Close);
    assert!(h.mask.is_none(), "server frames are never masked");
    u16::from_be_bytes([rest[n], rest[n + 1]])
}

#[tokio::test]
async fn protocol_errors_close_with_1002_1007_1009() {
    let limits = Limits {
        max_frame: 1000,
        max_message: 1500,
    };
    let (addr, stop) = in_process_server(limits).await;
    let unmasked = frame(true, OpCode::Text, b"hi", false);
    assert_eq!(close_code_for(&addr, &unmasked).await, 1002);
    let reserved = frame(true, OpCode::Reserved(3), b"", true);
    assert_eq!(close_code_for(&addr, &reserved).await, 1002);
    let mut cont = frame(false, OpCode::Text, b"a", true);
    cont.extend(frame(true, OpCode::Binary, b"b", true));
    assert_eq!(close_code_for(&addr, &cont).await, 1002);
    let bad_utf8 = frame(false, OpCode::Text, &[b'o', b'k', 0xff], true);
    assert_eq!(close_code_for(&addr, &bad_utf8).await, 1007);
    let too_big_frame = frame(true, OpCode::Binary, &[0; 1001], true);
    assert_eq!(close_code_for(&addr, &too_big_frame).await, 1009);
    let mut too_big_msg = frame(false, OpCode::Binary, &[0; 1000], true);
    too_big_msg.extend(frame(true, OpCode::Continuation, &[0; 501], true));
    assert_eq!(close_code_for(&addr, &too_big_msg).await, 1009);
    let bad_close = frame(true, OpCode::Close, &1005u16.to_be_bytes(), true);
    assert_eq!(close_code_for(&addr, &bad_close).await, 1002);
    let _ = stop.send(());
}

async fn http(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test]
async fn plain_http_page_and_refused_handshakes() {
    let (addr, stop) = in_process_server(Limits::default()).await;
    let page = http(&addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("new WebSocket("), "{page}");
    let missing = http(&addr, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
    let v8 = http(
        &addr,
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    )
    .await;
    assert!(v8.starts_with("HTTP/1.1 426 Upgrade Required\r\n"), "{v8}");
    assert!(v8.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{v8}");
    let nokey = http(
        &addr,
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .await;
    assert!(nokey.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{nokey}");
    assert!(nokey.contains("no Sec-WebSocket-Key header"), "{nokey}");
    let _ = stop.send(());
}

#[test]
fn max_conns_stops_by_itself_and_prints_the_handshake() {
    let server = wirelab_server(&["--max-conns", "1", "--show-frames"]);
    let url = format!("ws://{}/", server.addr);
    let out = Command::new(env!("CARGO_BIN_EXE_wirelab"))
        .args(["ws", "connect", &url, "hi"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let client = String::from_utf8_lossy(&out.stdout);
    assert!(
        client.contains("< HTTP/1.1 101 Switching Protocols"),
        "{client}"
    );
    assert!(
        client.contains("<- in  text message, 2 bytes: \"hi\""),
        "{client}"
    );
    server.wait_line("> Sec-WebSocket-Version: 13");
    let frame = server.wait_line("frame <- in");
    assert!(frame.contains("FIN=1 opcode=0x1 text"), "{frame}");
    assert!(
        !frame.contains("mask=none"),
        "client frames are masked: {frame}"
    );
    server.wait_line("stopped");
    let mut server = server;
    let status = server.child.wait().unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn broadcast_relays_to_the_others_only() {
    let (addr, stop) = in_process_server_mode(Limits::default(), Mode::Broadcast).await;
    let url = WsUrl::parse(&format!("ws://{addr}/")).unwrap();
    let t = Duration::from_secs(5);
    let mut a = connect(&url, Config::default(), t).await.unwrap();
    let mut b = connect(&url, Config::default(), t).await.unwrap();
    let (mut c, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .unwrap();
    // A client is in the room as soon as it has its 101, so no waiting is needed.
    a.ws.send(&Message::Text("from a".into())).await.unwrap();
    assert_eq!(
        b.ws.recv().await.unwrap(),
        Ok(Message::Text("from a".into()))
    );
    assert_eq!(c.next().await.unwrap().unwrap(), TMessage::text("from a"));
    c.send(TMessage::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(
        a.ws.recv().await.unwrap(),
        Ok(Message::Binary(vec![1, 2, 3]))
    );
    assert_eq!(
        b.ws.recv().await.unwrap(),
        Ok(Message::Binary(vec![1, 2, 3]))
    );
    // a never got its own message back: the next thing it sees is b's.
    b.ws.send(&Message::Text("from b".into())).await.unwrap();
    assert_eq!(
        a.ws.recv().await.unwrap(),
        Ok(Message::Text("from b".into()))
    );
    let _ = stop.send(());
}

#[test]
fn sigint_closes_open_connections_with_1001_and_exits_0() {
    let server = wirelab_server(&["--echo"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = server.addr.clone();
    let (mut ws, _) = rt
        .block_on(tokio_tungstenite::connect_async(format!("ws://{addr}/")))
        .unwrap();
    server.wait_line("handshake response");
    let status = server.interrupt();
    assert!(status.success(), "exit status {status}");
    let got = rt.block_on(async {
        loop {
            match ws.next().await {
                Some(Ok(TMessage::Close(f))) => return f.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    });
    assert_eq!(got, Some(1001), "server closes with 1001 going away");
}

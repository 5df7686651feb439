//! The Socket.IO server inside `hub serve`, against real peers: the npm socket.io-client
//! (tests/peers/sio_chat.mjs) on each transport, rooms, recovery after a SIGKILL of the hub,
//! python-socketio, the reference server's answers to bad requests, and `--conformance`.

mod hub_common;
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

fn hub_on(dir: &std::path::Path, port: u16) -> Server {
    let mut cmd = hub_common::wirelab();
    cmd.args([
        "hub",
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data",
    ])
    .arg(dir);
    ws_common::spawn_server(cmd)
}

#[test]
fn recovery_survives_a_sigkill_of_the_hub() {
    installed("node_modules/socket.io-client");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut first = hub_on(dir.path(), port);
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
    let second = hub_on(dir.path(), port);
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

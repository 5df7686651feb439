//! `wirelab ws` at the command line: accept-key, exit codes, and the client's report of a
//! server that answers the handshake wrongly.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

use assert_cmd::Command;
use predicates::prelude::*;

fn wirelab() -> Command {
    Command::cargo_bin("wirelab").unwrap()
}

#[test]
fn accept_key_of_the_rfc_sample() {
    wirelab()
        .args(["ws", "accept-key", "dGhlIHNhbXBsZSBub25jZQ=="])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
        ))
        .stdout(predicate::str::contains(
            "b37a4f2cc0624f1690f64606cf385945b2bec4ea",
        ))
        .stdout(predicate::str::ends_with(
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n",
        ));
    let out = wirelab()
        .args(["ws", "accept-key", "dGhlIHNhbXBsZSBub25jZQ==", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(v["key_valid"], true);
    // A key that is not 16 bytes still gets the computation, with a note.
    wirelab()
        .args(["ws", "accept-key", "c2hvcnQ="])
        .assert()
        .success()
        .stdout(predicate::str::contains("decodes to 5 bytes"));
}

#[test]
fn bad_input_is_exit_2() {
    wirelab()
        .args(["ws", "connect", "http://127.0.0.1:1/"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "'http://127.0.0.1:1/' is not a ws:// URL",
        ));
    wirelab()
        .args(["ws", "connect", "wss://127.0.0.1:1/"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("TLS"));
    wirelab()
        .args(["ws", "connect", "ws://127.0.0.1:1/", "--close-code", "1005"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--close-code 1005"));
    wirelab()
        .args(["ws", "serve", "--echo", "--broadcast"])
        .assert()
        .code(2);
}

#[test]
fn refused_connection_is_exit_1() {
    // Bind and drop to find a port where nobody listens.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    wirelab()
        .args(["ws", "connect", &format!("ws://127.0.0.1:{port}/"), "x"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot open a WebSocket"));
}

/// A fake server whose 101 carries the wrong Sec-WebSocket-Accept.
#[test]
fn accept_mismatch_is_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let mut got = Vec::new();
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        s.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        )
        .unwrap();
    });
    wirelab()
        .args(["ws", "connect", &format!("ws://{addr}/"), "x"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "Sec-WebSocket-Accept mismatch: expected",
        ))
        .stderr(predicate::str::contains(
            "server sent s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        ));
    server.join().unwrap();
}

#[test]
fn help_names_the_layer() {
    wirelab()
        .args(["ws", "serve", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("OSI 7 application"))
        .stdout(predicate::str::contains("--show-frames"));
}

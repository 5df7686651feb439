//! permessage-deflate (RFC 7692) against Python `websockets`: as client with every offer the
//! Autobahn 13.x sections test (kosoku 0.1.0 cannot run 13.2, 13.5, 13.6, 13.7), as server
//! with each parameter it can ask for, and a decompression bomb against `--max-message`.

mod ws_common;

use std::process::Command;
use std::time::Duration;

use wirelab::wire::websocket::Deflate;
use wirelab::ws::client::{connect_with, WsUrl};
use wirelab::ws::conn::{Config, Message};
use ws_common::{installed, root, spawn_server, wirelab_server};

fn python_client(url: &str, args: &[&str]) -> String {
    let out = Command::new(installed(".venv/bin/python"))
        .arg(root().join("tests/peers/ws_deflate_client.py"))
        .arg(url)
        .args(args)
        .output()
        .expect("cannot run python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python {args:?} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn python_clients_with_every_offer_against_the_server() {
    let server = wirelab_server(&["--echo", "--quiet", "--compress"]);
    let url = format!("ws://{}/", server.addr);
    for (offer, answer) in [
        ("default", "permessage-deflate"),
        // Autobahn 13.2, 13.5, 13.6: server_no_context_takeover with 0, 9, 15 window bits.
        (
            "server-reset",
            "permessage-deflate; server_no_context_takeover",
        ),
        (
            "server-reset-9",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
        ),
        (
            "server-reset-15",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=15",
        ),
        // Autobahn 13.7: three offers in one header, the first is taken.
        (
            "several",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
        ),
        (
            "client-reset",
            "permessage-deflate; client_no_context_takeover",
        ),
        // 8 is accepted; zlib cannot make a 256-byte window, so we answer uncompressed.
        ("server-8", "permessage-deflate; server_max_window_bits=8"),
    ] {
        let out = python_client(&url, &[offer]);
        assert!(
            out.contains(&format!("negotiated: {answer}\n")),
            "{offer}: {out}"
        );
        assert!(
            out.contains("round 1: echo 1048576 bytes text+binary ok"),
            "{offer}: {out}"
        );
        assert!(
            out.contains("python deflate client: all checks passed"),
            "{offer}: {out}"
        );
    }
    // Without --compress the same offer is declined: no extension in the answer.
    let plain = wirelab_server(&["--echo", "--quiet"]);
    let out = python_client(&format!("ws://{}/", plain.addr), &["default"]);
    assert!(out.contains("negotiated: None\n"), "{out}");
    assert!(server.interrupt().success());
    assert!(plain.interrupt().success());
}

fn python_server(config: &str) -> ws_common::Server {
    let mut cmd = Command::new(installed(".venv/bin/python"));
    cmd.arg(root().join("tests/peers/ws_deflate_server.py"))
        .arg(config);
    spawn_server(cmd)
}

#[tokio::test]
async fn the_client_against_python_servers_with_each_parameter() {
    let d = |snt, cnt, sb, cb| Deflate {
        server_no_context_takeover: snt,
        client_no_context_takeover: cnt,
        server_max_window_bits: sb,
        client_max_window_bits: cb,
    };
    for (config, agreed) in [
        ("default", d(false, false, 15, 15)),
        ("server-reset", d(true, false, 15, 15)),
        ("client-reset", d(false, true, 15, 15)),
        ("client-9", d(false, false, 15, 9)),
        ("server-9", d(false, false, 9, 15)),
    ] {
        let server = python_server(config);
        let url = WsUrl::parse(&format!("ws://{}/", server.addr)).unwrap();
        let mut c = connect_with(&url, Config::default(), Duration::from_secs(5), true)
            .await
            .unwrap();
        assert_eq!(c.deflate, Some(agreed), "{config}");
        for _round in 0..2 {
            for n in [0usize, 125, 64 << 10, 1 << 20] {
                let bin: Vec<u8> = (0..n).map(|i| ((i * 7 + i / 100) % 251) as u8).collect();
                let text: String = "chat message; ".repeat(n / 14 + 1)[..n].to_string();
                for m in [Message::Binary(bin), Message::Text(text)] {
                    c.ws.send(&m).await.unwrap();
                    assert_eq!(c.ws.recv().await.unwrap(), Ok(m), "{config}: {n} bytes");
                }
            }
        }
        c.ws.close(None).await.unwrap();
    }
}

#[test]
fn the_cli_shows_the_negotiation_and_rsv1() {
    let server = python_server("server-reset");
    let url = format!("ws://{}/", server.addr);
    let hello = "hello hello hello hello hello hello";
    let out = Command::new(env!("CARGO_BIN_EXE_wirelab"))
        .args([
            "ws",
            "connect",
            &url,
            hello,
            hello,
            "--compress",
            "--show-frames",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("> Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, permessage-deflate; client_no_context_takeover"));
    assert!(
        text.contains("< Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover")
    );
    assert!(text.contains(
        "permessage-deflate: server sends with no context takeover (window reset every message)"
    ));
    // Our two sends: the second is cheaper (context takeover on the client's side); the
    // server's two answers cost the same (it resets its window).
    let lens = |dir: &str| -> Vec<u64> {
        text.lines()
            .filter(|l| l.starts_with(&format!("frame {dir}")) && l.contains("RSV1=1"))
            .map(|l| {
                assert!(
                    l.contains(&format!("compressed, {} bytes inflated", hello.len())),
                    "{l}"
                );
                l.split(" len=")
                    .nth(1)
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect()
    };
    let (sent, got) = (lens("-> out"), lens("<- in"));
    assert_eq!((sent.len(), got.len()), (2, 2), "{text}");
    assert!(
        sent[1] < sent[0] && (sent[0] as usize) < hello.len(),
        "{sent:?}"
    );
    assert_eq!(got[0], got[1], "{got:?}");
    // --no-compress wins when given last: no offer at all.
    let out = Command::new(env!("CARGO_BIN_EXE_wirelab"))
        .args(["ws", "connect", &url, "x", "--compress", "--no-compress"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Sec-WebSocket-Extensions"));
}

/// Peak resident memory of a process (kB), from /proc.
fn vm_hwm_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("no VmHWM")
}

#[test]
fn a_decompression_bomb_is_closed_with_1009_in_bounded_memory() {
    let server = wirelab_server(&[
        "--echo",
        "--quiet",
        "--compress",
        "--max-message",
        "65536",
        "--max-frame",
        "1048576",
    ]);
    let url = format!("ws://{}/", server.addr);
    // At the edge: 65536 zeros inflate to exactly the limit and come back.
    let out = python_client(&url, &["bomb", "65536"]);
    assert!(out.contains("65536 zeros came back"), "{out}");
    let before = vm_hwm_kb(server.child.id());
    // 1 MiB of zeros is about 1 KiB compressed; 64 MiB about 64 KiB (one frame).
    for n in [1u64 << 20, 64 << 20] {
        let out = python_client(&url, &["bomb", &n.to_string()]);
        assert!(out.contains("closed 1009"), "{n}: {out}");
    }
    let after = vm_hwm_kb(server.child.id());
    eprintln!("ws serve peak memory (VmHWM): {before} kB before the bombs, {after} kB after");
    // Inflating all of it would take 64 MiB; the limit plus one 16 KiB chunk is all it costs.
    assert!(
        after - before < 4096,
        "peak grew from {before} kB to {after} kB"
    );
    assert!(server.interrupt().success());
}

#[test]
fn headless_chromium_negotiates_and_echoes_compressed() {
    installed("node_modules/playwright-core");
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: run scripts/test, which installs it"
    );
    let server = wirelab_server(&["--echo", "--compress", "--show-frames"]);
    let out = Command::new("node")
        .arg(root().join("tests/peers/ws_browser_deflate.mjs"))
        .arg(format!("http://{}/", server.addr))
        .output()
        .expect("cannot run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser script failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("browser deflate: extensions=permessage-deflate\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("browser deflate: all echoes ok"),
        "{stdout}"
    );
    // The browser's 1 MiB text, as the server saw it: compressed, RSV1 set.
    let frame = server.wait_line("compressed, 1048576 bytes inflated");
    assert!(
        frame.contains("frame <- in  FIN=1 RSV1=1 opcode=0x1 text"),
        "{frame}"
    );
    assert!(server.interrupt().success());
}

//! A closed pipe ends every streaming command at once with status 0, as `| head` users expect
//! of tcpdump, nc or websocat: the reader reads one line, then goes away, and whatever the
//! command would print next (or is waiting to print) must not keep it running.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use common::wirelab;

/// Starts wirelab with stdout a pipe; returns the child and its first line of stdout.
fn start(args: &[&str]) -> (Child, BufReader<std::process::ChildStdout>, String) {
    start_with(args, Stdio::null())
}

fn start_with(
    args: &[&str],
    stdin: Stdio,
) -> (Child, BufReader<std::process::ChildStdout>, String) {
    let mut child = wirelab()
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wirelab");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(!first.is_empty(), "{args:?}: no first line");
    (child, out, first)
}

/// Closes the reader, runs `then` (traffic that makes the command print again), and checks
/// the command has ended with status 0 within 5 s.
fn ends_cleanly(
    name: &str,
    mut child: Child,
    out: BufReader<std::process::ChildStdout>,
    then: impl FnOnce(),
) {
    drop(out);
    then();
    let (status, err) =
        common::ended_within(&mut child, 5, &format!("{name} after its reader left"));
    assert!(!err.contains("panicked"), "{name}: {err}");
    assert!(status.success(), "{name}: {status:?} {err}");
}

/// The address in a "listening on ADDR" line.
fn addr_in(line: &str) -> String {
    line.split_whitespace()
        .skip_while(|w| *w != "on")
        .nth(1)
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim_end_matches(',')
        .to_string()
}

fn ok(args: &[&str]) {
    let o = wirelab().args(args).output().unwrap();
    assert!(o.status.success(), "{args:?}: {o:?}");
}

#[test]
fn servers_end_when_their_reader_leaves() {
    let (c, out, first) = start(&["tcp", "serve", "--listen", "127.0.0.1:0"]);
    let addr = addr_in(&first);
    ends_cleanly("tcp serve", c, out, || {
        let _ = wirelab().args(["tcp", "send", &addr, "hi"]).output();
    });

    let (c, out, first) = start(&["ws", "serve", "--listen", "127.0.0.1:0", "--echo"]);
    let url = format!("ws://{}/", addr_in(&first));
    ends_cleanly("ws serve", c, out, || {
        let _ = wirelab().args(["ws", "connect", &url, "hi"]).output();
    });

    let (c, out, first) = start(&["hub", "serve", "--listen", "127.0.0.1:0", "--memory"]);
    let url = format!("ws://{}/", addr_in(&first));
    ends_cleanly("hub serve", c, out, || {
        let _ = wirelab().args(["hub", "emit", &url, "e", "1"]).output();
    });

    let (c, out, first) = start(&["udp", "recv", "--listen", "127.0.0.1:0", "--verbose"]);
    let addr = addr_in(&first);
    ends_cleanly("udp recv", c, out, || {
        ok(&["udp", "send", &addr, "--count", "50"]);
    });
}

#[test]
fn clients_and_readers_end_when_their_reader_leaves() {
    let (c, out, _) = start(&["dissect", "fixtures/http.pcap"]);
    ends_cleanly("dissect", c, out, || {});

    // An echo server for ws connect, a hub for sio connect and hub listen.
    let mut ws = wirelab()
        .args([
            "ws",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--echo",
            "--quiet",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ws_out = BufReader::new(ws.stdout.take().unwrap());
    let mut line = String::new();
    ws_out.read_line(&mut line).unwrap();
    let ws_url = format!("ws://{}/", addr_in(&line));
    // Like websocat: stdin stays open (nothing typed yet) while the reader leaves.
    let (mut c, out, _) = start_with(&["ws", "connect", &ws_url], Stdio::piped());
    let stdin = c.stdin.take();
    ends_cleanly("ws connect (waiting for stdin)", c, out, || {});
    drop(stdin);

    let mut hub = wirelab()
        .args([
            "hub",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--memory",
            "--quiet",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut hub_out = BufReader::new(hub.stdout.take().unwrap());
    line.clear();
    hub_out.read_line(&mut line).unwrap();
    let addr = addr_in(&line);
    let (c, out, _) = start(&[
        "sio",
        "connect",
        &format!("http://{addr}/"),
        "--timeout",
        "30",
    ]);
    ends_cleanly("sio connect (waiting)", c, out, || {});
    let hub_url = format!("ws://{addr}/");
    let (c, out, _) = start(&["hub", "listen", &hub_url, "--timeout", "30"]);
    ends_cleanly("hub listen (waiting)", c, out, || {
        ok(&["hub", "emit", &hub_url, "e", "1"]);
    });
    let _ = ws.kill();
    let _ = ws.wait();
    let _ = hub.kill();
    let _ = hub.wait();
}

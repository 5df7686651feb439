//! Helpers for the hub tests: start `wirelab hub serve` on a free port, run clients, start a
//! listener in the background and wait until it has joined its rooms.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use crate::ws_common::{spawn_server, Server};

pub fn wirelab() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wirelab"));
    c.env("NO_COLOR", "1");
    c
}

/// `wirelab hub serve --listen 127.0.0.1:0 --data DIR ARGS...`
pub fn hub(data: &Path, args: &[&str]) -> Server {
    let mut cmd = wirelab();
    cmd.args(["hub", "serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(args);
    spawn_server(cmd)
}

/// Runs `wirelab ARGS...` to the end.
pub fn run(args: &[&str]) -> Output {
    wirelab().args(args).output().expect("cannot run wirelab")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "wirelab {args:?} failed: {}\n{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(&o)
}

/// A client running in the background whose lines we read.
pub struct Bg {
    pub child: Child,
    pub lines: Receiver<String>,
    pub seen: Vec<String>,
}

/// Starts `wirelab ARGS...` and waits until it printed a line containing `ready`.
pub fn background(args: &[&str]) -> Bg {
    let mut child = wirelab()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .stdin(Stdio::null())
        .spawn()
        .expect("cannot start wirelab");
    let out = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(l) = line else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let mut bg = Bg {
        child,
        lines: rx,
        seen: Vec::new(),
    };
    bg.wait_line("ready");
    bg
}

impl Bg {
    pub fn wait_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!("no line containing {needle:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// Waits for the process to exit and returns its status and everything it printed.
    pub fn finish(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "client did not finish: {:#?}",
                self.seen
            );
            thread::sleep(Duration::from_millis(20));
        };
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(l);
        }
        (status, self.seen.clone())
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Total queue depth according to `hub queue --json`.
pub fn depth(data: &Path) -> u64 {
    let o = ok(&["hub", "queue", "--json", "--data", data.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(o.trim()).expect("queue json");
    v["total"].as_u64().expect("total")
}

/// Waits until the queue depth is `want` (the hub commits acks in batches).
pub fn wait_depth(data: &Path, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let d = depth(data);
        if d == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "queue depth stays {d}, expected {want}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// The JSON `event` lines a `--json` client printed, as (id, event, data).
pub fn events(lines: &[String]) -> Vec<(u64, String, serde_json::Value, bool)> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "event")
        .map(|v| {
            (
                v["id"].as_u64().unwrap_or(0),
                v["event"].as_str().unwrap_or_default().to_string(),
                v["data"].clone(),
                v["duplicate"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

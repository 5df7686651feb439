//! Helpers for tests that run the wirelab binary against real peers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// The wirelab binary built for these tests.
pub fn wirelab() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wirelab"));
    c.env("NO_COLOR", "1").stdin(Stdio::null());
    c
}

/// Is a program on the PATH? Tests that need a peer fail loudly when it is missing: the test
/// command installs them.
pub fn require(program: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{program} is not installed; run scripts/test, which installs it"
    );
}

/// A port that was free a moment ago (for peers like ncat that cannot report port 0).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Lines of a stream, as a channel, read on a thread.
pub fn lines<R: Read + Send + 'static>(r: R) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            match line {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    });
    rx
}

/// Waits (bounded) for a line containing `needle`; returns it and the lines before it.
pub fn wait_for(rx: &Receiver<String>, needle: &str, secs: u64) -> (String, Vec<String>) {
    let mut before = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(secs)) {
            Ok(l) if l.contains(needle) => return (l, before),
            Ok(l) => before.push(l),
            Err(_) => panic!("no line with {needle:?} within {secs}s; got {before:?}"),
        }
    }
}

/// A wirelab server started with `--listen 127.0.0.1:0 --json`, once it is listening.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub out: Receiver<String>,
}

impl Server {
    pub fn start(args: &[&str]) -> Server {
        let mut child = wirelab()
            .args(args)
            .args(["--listen", "127.0.0.1:0", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start wirelab");
        let out = lines(child.stdout.take().expect("stdout"));
        let (line, _) = wait_for(&out, "\"listening\"", 15);
        let v: serde_json::Value = serde_json::from_str(&line).expect("listening line is JSON");
        let addr = v["addr"]
            .as_str()
            .expect("addr")
            .parse()
            .expect("addr parses");
        Server { child, addr, out }
    }

    /// Every JSON line until the process exits (bounded); the process must exit 0.
    pub fn finish(self, secs: u64) -> Vec<serde_json::Value> {
        let (v, status) = self.finish_status(secs);
        assert!(status.success(), "server exited with {status}; said {v:?}");
        v
    }

    /// Every JSON line until the process exits (bounded), and how it exited.
    pub fn finish_status(
        mut self,
        secs: u64,
    ) -> (Vec<serde_json::Value>, std::process::ExitStatus) {
        let mut v = Vec::new();
        loop {
            match self.out.recv_timeout(Duration::from_secs(secs)) {
                Ok(l) => v.push(serde_json::from_str(&l).unwrap_or(serde_json::Value::String(l))),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("server still running after {secs}s; said {v:?}");
                }
            }
        }
        let status = self.child.wait().expect("wait");
        (v, status)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts a peer process and waits until its stderr or stdout says `ready`.
pub fn start_peer(cmd: &mut Command, ready: &str) -> (Child, Receiver<String>) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start peer");
    let err: ChildStderr = child.stderr.take().expect("stderr");
    let out: ChildStdout = child.stdout.take().expect("stdout");
    let rx = lines(err);
    let rx_out = lines(out);
    std::thread::spawn(move || for _ in rx_out.iter() {});
    wait_for(&rx, ready, 15);
    (child, rx)
}

/// Sends SIGINT to a child we started.
pub fn interrupt(child: &Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
}

/// Every capture in fixtures/ (*.pcap, *.pcapng), sorted.
pub fn capture_fixtures() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut v: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .expect("fixtures/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    v.sort();
    v
}

/// Waits for `child` to end within `secs` (killing it and failing with `what` otherwise);
/// returns its status and what it wrote to stderr (if stderr was piped).
pub fn ended_within(
    child: &mut std::process::Child,
    secs: u64,
    what: &str,
) -> (std::process::ExitStatus, String) {
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    (status, err)
}

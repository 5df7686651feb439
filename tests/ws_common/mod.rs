//! Helpers shared by the WebSocket integration tests: start `wirelab ws serve` (or another
//! server) on a free port, wait for its `listening on` line, stop it by pid.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

pub const SIZES: [usize; 6] = [0, 125, 126, 65535, 65536, 1 << 20];

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A tool installed by scripts/test into the repository (the Python venv, node_modules).
pub fn installed(rel: &str) -> PathBuf {
    let p = root().join(rel);
    assert!(
        p.exists(),
        "{} is missing: run scripts/test, which installs the test peers",
        p.display()
    );
    p
}

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub lines: Receiver<String>,
}

/// Spawns `cmd`, which must print a line containing `listening on ADDR`, and waits for it.
// If the line never comes the test panics and the child is killed when the test process exits.
#[allow(clippy::zombie_processes)]
pub fn spawn_server(mut cmd: Command) -> Server {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .stdin(Stdio::null())
        .spawn()
        .expect("cannot start server");
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("server did not say 'listening on' in time"));
        if let Some(rest) = line.split("listening on ").nth(1) {
            let addr = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            return Server {
                child,
                addr,
                lines: rx,
            };
        }
    }
}

/// `wirelab ws serve --listen 127.0.0.1:0 ARGS...`
pub fn wirelab_server(args: &[&str]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wirelab"));
    cmd.args(["ws", "serve", "--listen", "127.0.0.1:0"])
        .args(args);
    spawn_server(cmd)
}

impl Server {
    /// Sends SIGINT and waits (at most 10 s) for the exit status.
    pub fn interrupt(mut self) -> ExitStatus {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the pid of our own child.
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            assert!(Instant::now() < deadline, "server ignored SIGINT");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for a line containing `needle` (at most 10 s) and returns it.
    pub fn wait_line(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return l,
                Ok(_) => continue,
                Err(_) => panic!("no line containing {needle:?}"),
            }
        }
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

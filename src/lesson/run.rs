//! Runs a lesson's steps as real processes of this same binary, and streams what they print.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use super::{listen_addr, Block, Lesson, Step};

/// How long one foreground step may run.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a background server has to say `listening on ADDR`.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a background server has to finish by itself once the steps are done.
const NATURAL_EXIT: Duration = Duration::from_secs(10);
/// How long after SIGINT before SIGKILL.
const INTERRUPT_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Wait for Enter before each block of steps (only when stdin is a terminal).
    pub pause: bool,
}

/// What happened when a lesson ran.
#[derive(Debug)]
pub struct Outcome {
    pub steps_run: usize,
    /// The first failure, if any.
    pub failure: Option<String>,
    pub elapsed: Duration,
}

enum Msg {
    Line { label: String, text: String },
    Eof,
}

struct Background {
    label: String,
    child: Child,
    /// Reader threads still open for this child.
    open: usize,
}

/// Runs every block of `lesson` in order, writing prose, commands and their output to `out`.
pub fn run<W: Write>(lesson: &Lesson, opts: Options, out: &mut W) -> Result<Outcome> {
    let start = Instant::now();
    let exe = std::env::current_exe().context("cannot find the wirelab executable")?;
    let (tx, rx) = mpsc::channel();
    let mut runner = Runner {
        exe,
        tx,
        rx,
        addrs: BTreeMap::new(),
        background: Vec::new(),
        steps_run: 0,
        redis: None,
        skipped: Vec::new(),
    };
    let interactive = opts.pause && io::stdin().is_terminal();
    let mut failure = None;
    for block in &lesson.blocks {
        match block {
            Block::Text(t) => write!(out, "{t}")?,
            Block::Steps(steps) => {
                if interactive {
                    write!(out, "\n[press Enter to run the next step] ")?;
                    out.flush()?;
                    let mut s = String::new();
                    io::stdin().read_line(&mut s)?;
                }
                for step in steps {
                    if let Err(e) = runner.step(step, out) {
                        failure = Some(format!("{}: {e:#}", step.line));
                        break;
                    }
                }
            }
        }
        if failure.is_some() {
            break;
        }
    }
    if let Err(e) = runner.stop_background(out) {
        failure.get_or_insert_with(|| format!("{e:#}"));
    }
    out.flush()?;
    Ok(Outcome {
        steps_run: runner.steps_run,
        failure,
        elapsed: start.elapsed(),
    })
}

struct Runner {
    exe: PathBuf,
    tx: Sender<(usize, Msg)>,
    rx: Receiver<(usize, Msg)>,
    /// Address as written in the lesson -> address the server really got.
    addrs: BTreeMap<String, String>,
    background: Vec<Background>,
    steps_run: usize,
    /// The private redis-server of a lesson whose steps need one.
    redis: Option<Child>,
    /// Programs whose absence was already announced.
    skipped: Vec<String>,
}

/// Is `program` an executable file in a directory of `PATH`?
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Where lessons write the Redis address; the runner puts its private server's there instead.
const LESSON_REDIS: &str = "127.0.0.1:6379";

/// Foreground children carry this id in messages; background ones their index.
const FOREGROUND: usize = usize::MAX;

impl Runner {
    fn substitute(&self, args: &[String]) -> Vec<String> {
        args.iter()
            .map(|a| {
                self.addrs
                    .iter()
                    .fold(a.clone(), |acc, (from, to)| acc.replace(from, to))
            })
            .collect()
    }

    fn spawn(&self, args: &[String], id: usize, label: &str) -> Result<(Child, usize)> {
        let mut child = Command::new(&self.exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("NO_COLOR", "1")
            .spawn()
            .with_context(|| format!("cannot start {}", self.exe.display()))?;
        let mut open = 0;
        if let Some(o) = child.stdout.take() {
            forward(o, id, label.to_string(), self.tx.clone());
            open += 1;
        }
        if let Some(e) = child.stderr.take() {
            forward(e, id, label.to_string(), self.tx.clone());
            open += 1;
        }
        Ok((child, open))
    }

    fn step<W: Write>(&mut self, step: &Step, out: &mut W) -> Result<()> {
        if let Some(program) = &step.needs {
            if !on_path(program) {
                if !self.skipped.contains(program) {
                    writeln!(
                        out,
                        "\n(skipped: these steps need {program}, which is not installed here; \
                         on Debian: apt-get install {program})"
                    )?;
                    self.skipped.push(program.clone());
                }
                writeln!(out, "  skipped $ {}", step.line)?;
                return Ok(());
            }
            if program == "redis-server" {
                self.start_redis(out)?;
            }
        }
        let mut args = self.substitute(&step.args);
        writeln!(out, "\n$ {}", step.line)?;
        self.steps_run += 1;
        if step.background {
            return self.start_background(&mut args, out);
        }
        let (mut child, mut open) = self.spawn(&args, FOREGROUND, "")?;
        let deadline = Instant::now() + STEP_TIMEOUT;
        let mut status: Option<ExitStatus> = None;
        while status.is_none() || open > 0 {
            if let Some((id, msg)) = self.recv(Duration::from_millis(20))? {
                if id == FOREGROUND {
                    match msg {
                        Msg::Line { text, .. } => writeln!(out, "{text}")?,
                        Msg::Eof => open -= 1,
                    }
                } else {
                    self.background_msg(id, msg, out)?;
                }
            }
            if status.is_none() {
                status = child.try_wait()?;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("still running after {}s", STEP_TIMEOUT.as_secs());
            }
        }
        self.settle(out)?;
        match status {
            Some(s) if s.success() => Ok(()),
            Some(s) => Err(anyhow!("exited with {s}")),
            None => Ok(()),
        }
    }

    /// Gives background servers a moment to print what the last step made them say, so their
    /// output appears next to the step rather than after the following prose.
    fn settle<W: Write>(&mut self, out: &mut W) -> Result<()> {
        if self.background.is_empty() {
            return Ok(());
        }
        let until = Instant::now() + Duration::from_millis(150);
        while Instant::now() < until {
            if let Some((id, msg)) = self.recv(Duration::from_millis(10))? {
                self.background_msg(id, msg, out)?;
            }
        }
        Ok(())
    }

    fn recv(&self, wait: Duration) -> Result<Option<(usize, Msg)>> {
        match self.rx.recv_timeout(wait) {
            Ok(m) => Ok(Some(m)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            // The runner holds a sender itself, so the channel cannot disconnect.
            Err(RecvTimeoutError::Disconnected) => bail!("output channel closed"),
        }
    }

    fn background_msg<W: Write>(&mut self, id: usize, msg: Msg, out: &mut W) -> Result<()> {
        match msg {
            Msg::Line { label, text } => writeln!(out, "  [{label}] {text}")?,
            Msg::Eof => {
                if let Some(b) = self.background.get_mut(id) {
                    b.open = b.open.saturating_sub(1);
                }
            }
        }
        Ok(())
    }

    fn start_background<W: Write>(&mut self, args: &mut [String], out: &mut W) -> Result<()> {
        let (i, written) = listen_addr(args).ok_or_else(|| anyhow!("no --listen address"))?;
        let host = written
            .rsplit_once(':')
            .map(|(h, _)| h.to_string())
            .ok_or_else(|| anyhow!("--listen {written} has no port"))?;
        if args[i].starts_with("--listen=") {
            args[i] = format!("--listen={host}:0");
        } else {
            args[i] = format!("{host}:0");
        }
        // e.g. "hub serve 127.0.0.1:7022": the address as the lesson wrote it tells two
        // servers of one kind apart.
        let mut label = args
            .iter()
            .take_while(|a| !a.starts_with('-'))
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        label.push(' ');
        label.push_str(&written);
        let id = self.background.len();
        let (child, open) = self.spawn(args, id, &label)?;
        self.background.push(Background {
            label: label.clone(),
            child,
            open,
        });
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if Instant::now() > deadline {
                bail!(
                    "{label} did not say 'listening on' within {}s",
                    READY_TIMEOUT.as_secs()
                );
            }
            if let Some(status) = self.background[id].child.try_wait()? {
                // Drain what it said before dying, so the error is visible.
                while let Some((bid, msg)) = self.recv(Duration::from_millis(50))? {
                    self.background_msg(bid, msg, out)?;
                }
                bail!("{label} exited with {status} before it was ready");
            }
            let Some((bid, msg)) = self.recv(Duration::from_millis(20))? else {
                continue;
            };
            if bid == id {
                if let Msg::Line { text, .. } = &msg {
                    if let Some(addr) = listening_addr(text) {
                        self.addrs.insert(written.clone(), addr);
                        self.background_msg(bid, msg, out)?;
                        return Ok(());
                    }
                }
            }
            self.background_msg(bid, msg, out)?;
        }
    }

    /// Starts the lesson's private redis-server (once) on a free loopback port and waits until
    /// it answers PING.
    fn start_redis<W: Write>(&mut self, out: &mut W) -> Result<()> {
        if self.redis.is_some() {
            return Ok(());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start redis-server")?;
        self.redis = Some(child);
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if redis_answers(&addr) {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "redis-server on {addr} did not answer PING within {}s",
                    READY_TIMEOUT.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        writeln!(
            out,
            "\n(a private redis-server for this lesson listens on {addr})"
        )?;
        self.addrs.insert(LESSON_REDIS.to_string(), addr);
        Ok(())
    }

    /// Lets each background server finish by itself (servers in lessons are told when to stop,
    /// e.g. `--max-conns` or `--count`), interrupting it if it does not.
    fn stop_background<W: Write>(&mut self, out: &mut W) -> Result<()> {
        let mut failure = None;
        for id in 0..self.background.len() {
            let mut status = None;
            let mut phase = 0; // 0 natural, 1 interrupted, 2 killed
            let mut deadline = Instant::now() + NATURAL_EXIT;
            while status.is_none() || self.background[id].open > 0 {
                if let Some((bid, msg)) = self.recv(Duration::from_millis(20))? {
                    self.background_msg(bid, msg, out)?;
                }
                if status.is_none() {
                    status = self.background[id].child.try_wait()?;
                }
                if status.is_none() && Instant::now() > deadline {
                    let pid = self.background[id].child.id();
                    if phase == 0 {
                        signal(pid, libc::SIGINT);
                        deadline = Instant::now() + INTERRUPT_GRACE;
                    } else {
                        let _ = self.background[id].child.kill();
                        deadline = Instant::now() + INTERRUPT_GRACE;
                    }
                    phase += 1;
                }
                if phase > 2 && Instant::now() > deadline {
                    break;
                }
            }
            match status {
                Some(s) if s.success() => {}
                Some(s) => {
                    failure.get_or_insert(format!("{} exited with {s}", self.background[id].label));
                }
                None => {
                    failure.get_or_insert(format!(
                        "{} could not be stopped",
                        self.background[id].label
                    ));
                }
            }
        }
        self.background.clear();
        if let Some(mut r) = self.redis.take() {
            let _ = r.kill();
            let _ = r.wait();
        }
        match failure {
            Some(f) => Err(anyhow!(f)),
            None => Ok(()),
        }
    }
}

/// Does a Redis server at `addr` answer PING with +PONG?
fn redis_answers(addr: &str) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Some(r) = &mut self.redis {
            let _ = r.kill();
            let _ = r.wait();
        }
        for b in &mut self.background {
            let _ = b.child.kill();
            let _ = b.child.wait();
        }
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) with a pid of a child we spawned and still own; no memory involved.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

fn forward<R: Read + Send + 'static>(r: R, id: usize, label: String, tx: Sender<(usize, Msg)>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(r);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&buf).trim_end().to_string();
                    let line = Msg::Line {
                        label: label.clone(),
                        text,
                    };
                    if tx.send((id, line)).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = tx.send((id, Msg::Eof));
    });
}

/// The address in a server's readiness line: `listening on 127.0.0.1:40123 ...` in text mode,
/// or `"addr":"127.0.0.1:40123"` in a JSON `listening` event.
pub fn listening_addr(line: &str) -> Option<String> {
    if let Some(rest) = line.split("listening on ").nth(1) {
        return rest.split_whitespace().next().map(str::to_string);
    }
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v.get("type")?.as_str()? == "listening" {
        return v.get("addr")?.as_str().map(str::to_string);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_lines() {
        assert_eq!(
            listening_addr("tcp serve: listening on 127.0.0.1:4242 (idle timeout 60s)").as_deref(),
            Some("127.0.0.1:4242")
        );
        assert_eq!(
            listening_addr(r#"{"type":"listening","addr":"[::1]:9"}"#).as_deref(),
            Some("[::1]:9")
        );
        assert_eq!(listening_addr("accepted 127.0.0.1:5"), None);
        assert_eq!(listening_addr(r#"{"type":"accepted"}"#), None);
    }
}

//! Runs a lesson's steps as real processes of this same binary, and streams what they print.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use super::{listen_addr, Block, Lesson, Step};

/// How long one foreground step may run.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a background server has to say `listening on ADDR`.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a background server has to finish by itself once the steps are done.
const NATURAL_EXIT: Duration = Duration::from_secs(10);
/// How long a background client (```` & ```` without `--listen`) may run: it is waited for at
/// the end of its block.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long after SIGINT before SIGKILL.
const INTERRUPT_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Wait for Enter before each block of steps (only when stdin is a terminal).
    pub pause: bool,
    /// Prose with ANSI colour (a terminal without NO_COLOR), else plain text.
    pub colour: bool,
    /// Give every foreground step `--json` (for `lesson check`, which reads the answers from
    /// the JSON lines rather than from the text meant for people).
    pub json: bool,
}

/// One step as it ran: what the student saw and what the runner started.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    /// The command line printed after `$`.
    pub shown: String,
    /// The arguments the runner gave the process (after `wirelab`).
    pub ran: Vec<String>,
    pub background: bool,
    /// `ok`, `failed` or `skipped`.
    pub result: String,
    /// Wall time from start to exit (for a background step: to readiness), ms.
    pub ms: f64,
    /// What the step printed, then what background processes printed meanwhile (labelled).
    pub output: Vec<String>,
}

/// What happened when a lesson ran.
#[derive(Debug)]
pub struct Outcome {
    pub steps_run: usize,
    /// Steps in the lesson (runnable lines).
    pub steps_total: usize,
    /// The first failure, if any.
    pub failure: Option<String>,
    pub elapsed: Duration,
    pub steps: Vec<StepRecord>,
}

enum Msg {
    Line { text: String, at: Instant },
    Eof,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Has `--listen`; runs until the lesson ends.
    Server,
    /// A client kept running while later steps run; waited for at the end of its block.
    Client,
}

struct Background {
    label: String,
    child: Child,
    /// Reader threads still open for this child.
    open: usize,
    kind: Kind,
    /// Still to be waited for (clients) or stopped (servers).
    done: bool,
    /// Its `--exit-after-idle` was left out (interactive run): it never ends by itself, so
    /// the lesson's end interrupts it at once.
    no_idle_exit: bool,
}

/// Runs every block of `lesson` in order, writing prose, commands and their output to `out`.
/// Steps run in a fresh scratch directory holding the bundled fixtures, never in the cwd.
pub fn run<W: Write>(lesson: &Lesson, opts: Options, out: &mut W) -> Result<Outcome> {
    lesson.check_ports().map_err(crate::exit::BadInput)?;
    let start = Instant::now();
    let exe = std::env::current_exe().context("cannot find the wirelab executable")?;
    let scratch = tempfile::Builder::new()
        .prefix("wirelab-lesson-")
        .tempdir()
        .context("cannot make a scratch directory")?;
    super::fixtures::write_all(scratch.path())
        .with_context(|| format!("cannot write fixtures to {}", scratch.path().display()))?;
    let (tx, rx) = mpsc::channel();
    let steps_total = lesson.steps().count();
    let interactive = opts.pause && io::stdin().is_terminal();
    let mut runner = Runner {
        interactive,
        idle_note: false,
        json: opts.json,
        exe,
        dir: scratch.path().to_path_buf(),
        tx,
        rx,
        addrs: BTreeMap::new(),
        background: Vec::new(),
        steps_run: 0,
        redis: None,
        skipped: Vec::new(),
        pending: Vec::new(),
        records: Vec::new(),
        index: 0,
        steps_total,
    };
    writeln!(
        out,
        "(the steps run in the scratch directory {}, which holds the bundled captures in \
         fixtures/; it is removed when the lesson ends)",
        scratch.path().display()
    )?;
    let mut failure = None;
    for block in &lesson.blocks {
        match block {
            Block::Text(t) => write!(out, "{}", crate::render::markdown::render(t, opts.colour))?,
            Block::Steps(steps) => {
                if interactive {
                    let next = steps.first().map(|s| runner.preview(s)).unwrap_or_default();
                    write!(
                        out,
                        "\n[step {} of {steps_total}, next: {next} — press Enter] ",
                        runner.index + 1
                    )?;
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
                if failure.is_none() {
                    if let Err(e) = runner.wait_clients(out) {
                        failure = Some(format!("{e:#}"));
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
        steps_total,
        failure,
        elapsed: start.elapsed(),
        steps: std::mem::take(&mut runner.records),
    })
}

struct Runner {
    exe: PathBuf,
    /// The scratch directory every step runs in.
    dir: PathBuf,
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
    /// Background lines that came while a foreground step ran: shown after it, grouped.
    pending: Vec<(usize, Instant, String)>,
    records: Vec<StepRecord>,
    /// Steps reached so far (for "step 3 of 7").
    index: usize,
    steps_total: usize,
    /// Pausing at "press Enter" on a terminal: servers must outlive any time spent reading.
    interactive: bool,
    /// The note on a left-out `--exit-after-idle` was shown.
    idle_note: bool,
    /// Foreground steps get `--json` (see `Options::json`).
    json: bool,
}

/// ```` ```sh needs=capture ````: steps that open a packet socket (root or CAP_NET_RAW).
const NEEDS_CAPTURE: &str = "capture";

/// May this process open a packet socket, as `wirelab capture` does?
fn may_capture() -> bool {
    // SAFETY: socket(2) with constant arguments; the descriptor is closed at once.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    if fd < 0 {
        return false;
    }
    // SAFETY: fd is the socket just opened and owned here.
    unsafe { libc::close(fd) };
    true
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

/// The command line as shown: exactly the arguments the process gets, quoted for a shell.
pub fn shown(args: &[String], background: bool) -> String {
    let mut s = format!("wirelab {}", shell_words::join(args));
    if background {
        s.push_str(" &");
    }
    s
}

/// Removes `--exit-after-idle N` (or `--exit-after-idle=N`) from a server's arguments; says
/// whether there was one.
fn drop_exit_after_idle(args: &mut Vec<String>) -> bool {
    const FLAG: &str = "--exit-after-idle";
    if let Some(i) = args.iter().position(|a| a == FLAG) {
        let end = (i + 2).min(args.len());
        args.drain(i..end);
        return true;
    }
    if let Some(i) = args
        .iter()
        .position(|a| a.starts_with("--exit-after-idle="))
    {
        args.remove(i);
        return true;
    }
    false
}

/// Does this line say a background client is connected and ready (`hub listen`'s "ready:",
/// `ws connect`'s handshake response, `capture`'s "capturing on" once its socket is open)?
fn client_ready(line: &str) -> bool {
    line.starts_with("ready:")
        || line.contains("101 Switching Protocols")
        || line.starts_with("capturing on ")
}

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

    /// The command a step will run, for the prompt: addresses already known substituted, and
    /// a server's `--exit-after-idle` left out as `step` will (its own port is picked then).
    fn preview(&self, step: &Step) -> String {
        let mut args = self.substitute(&step.args);
        if step.background && self.interactive && listen_addr(&args).is_some() {
            drop_exit_after_idle(&mut args);
        }
        shown(&args, step.background)
    }

    fn spawn(&self, args: &[String], id: usize) -> Result<(Child, usize)> {
        let mut child = Command::new(&self.exe)
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("NO_COLOR", "1")
            .spawn()
            .with_context(|| format!("cannot start {}", self.exe.display()))?;
        let mut open = 0;
        if let Some(o) = child.stdout.take() {
            forward(o, id, self.tx.clone());
            open += 1;
        }
        if let Some(e) = child.stderr.take() {
            forward(e, id, self.tx.clone());
            open += 1;
        }
        Ok((child, open))
    }

    fn record(&mut self, shown: String, ran: Vec<String>, background: bool) {
        self.records.push(StepRecord {
            shown,
            ran,
            background,
            result: "ok".into(),
            ms: 0.0,
            output: Vec::new(),
        });
    }

    fn current(&mut self) -> Option<&mut StepRecord> {
        self.records.last_mut()
    }

    /// Writes a line of the current step's output (and keeps it in its record).
    fn say<W: Write>(&mut self, out: &mut W, text: String) -> Result<()> {
        writeln!(out, "{text}")?;
        if let Some(r) = self.current() {
            r.output.push(text);
        }
        Ok(())
    }

    fn step<W: Write>(&mut self, step: &Step, out: &mut W) -> Result<()> {
        self.index += 1;
        if step.needs.as_deref() == Some(NEEDS_CAPTURE) && !may_capture() {
            if !self.skipped.iter().any(|p| p == NEEDS_CAPTURE) {
                writeln!(
                    out,
                    "\n(skipped: these steps capture packets, which needs root or CAP_NET_RAW; \
                     run the lesson with sudo, or once: sudo setcap cap_net_raw+ep \"$(command -v \
                     wirelab)\")"
                )?;
                self.skipped.push(NEEDS_CAPTURE.to_string());
            }
            writeln!(out, "  skipped $ {}", step.line)?;
            let args = self.substitute(&step.args);
            self.record(shown(&args, step.background), args, step.background);
            if let Some(r) = self.current() {
                r.result = "skipped".into();
            }
            return Ok(());
        }
        if let Some(program) = step.needs.as_ref().filter(|p| *p != NEEDS_CAPTURE) {
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
                let args = self.substitute(&step.args);
                self.record(shown(&args, step.background), args, step.background);
                if let Some(r) = self.current() {
                    r.result = "skipped".into();
                }
                return Ok(());
            }
            if program == "redis-server" {
                self.start_redis(out)?;
            }
        }
        let mut args = self.substitute(&step.args);
        let server = step.background && listen_addr(&args).is_some();
        // A student may read at a prompt for longer than any idle limit: interactively, a
        // server runs until the lesson ends (which stops it), and the command shown says so.
        let dropped_idle = server && self.interactive && drop_exit_after_idle(&mut args);
        if self.json && !step.background && !args.iter().any(|a| a == "--json") {
            args.push("--json".into());
        }
        let written = if server {
            Some(self.free_port(&mut args)?)
        } else {
            None
        };
        let line = shown(&args, step.background);
        writeln!(out, "\n── step {} of {}", self.index, self.steps_total)?;
        writeln!(out, "$ {line}")?;
        if dropped_idle && !self.idle_note {
            writeln!(
                out,
                "  (run interactively, so without the lesson's --exit-after-idle: time you spend \
                 at a prompt must not stop the server; it is stopped when the lesson ends)"
            )?;
            self.idle_note = true;
        }
        self.record(line, args.clone(), step.background);
        self.steps_run += 1;
        let started = Instant::now();
        let result = match written {
            Some(w) => self.start_server(&args, &w, out).map(|()| {
                if let Some(b) = self.background.last_mut() {
                    b.no_idle_exit = dropped_idle;
                }
            }),
            None if step.background => self.start_client(&args, out),
            None => self.foreground(&args, out),
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if let Some(r) = self.current() {
            r.ms = (ms * 1000.0).round() / 1000.0;
            if result.is_err() {
                r.result = "failed".into();
            }
        }
        result
    }

    fn foreground<W: Write>(&mut self, args: &[String], out: &mut W) -> Result<()> {
        let started = Instant::now();
        let (mut child, mut open) = self.spawn(args, FOREGROUND)?;
        let deadline = started + STEP_TIMEOUT;
        let mut status: Option<ExitStatus> = None;
        while status.is_none() || open > 0 {
            if let Some((id, msg)) = self.recv(Duration::from_millis(20))? {
                if id == FOREGROUND {
                    match msg {
                        Msg::Line { text, .. } => self.say(out, text)?,
                        Msg::Eof => open -= 1,
                    }
                } else {
                    self.hold(id, msg);
                }
            }
            if status.is_none() {
                status = child.try_wait()?;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                self.flush_pending(out, started)?;
                bail!("still running after {}s", STEP_TIMEOUT.as_secs());
            }
        }
        self.settle();
        self.flush_pending(out, started)?;
        match status {
            Some(s) if s.success() => Ok(()),
            Some(s) => Err(anyhow!("exited with {s}")),
            None => Ok(()),
        }
    }

    /// Keeps a background line for after the foreground step, so it never cuts into it.
    fn hold(&mut self, id: usize, msg: Msg) {
        match msg {
            Msg::Line { text, at } => self.pending.push((id, at, text)),
            Msg::Eof => self.closed(id),
        }
    }

    fn closed(&mut self, id: usize) {
        if let Some(b) = self.background.get_mut(id) {
            b.open = b.open.saturating_sub(1);
        }
    }

    /// Gives background processes a moment to print what the last step made them say, so their
    /// output appears next to the step rather than after the following prose.
    fn settle(&mut self) {
        if self.background.iter().all(|b| b.done) {
            return;
        }
        let until = Instant::now() + Duration::from_millis(150);
        while Instant::now() < until {
            if let Ok(Some((id, msg))) = self.recv(Duration::from_millis(10)) {
                self.hold(id, msg);
            }
        }
    }

    /// What the background processes printed during the step that started at `since`: one
    /// group per process, each line with its arrival time from the step's start.
    fn flush_pending<W: Write>(&mut self, out: &mut W, since: Instant) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let mut ids: Vec<usize> = pending.iter().map(|(id, _, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        self.say(
            out,
            "  ┄┄ meanwhile in the background (time since this step started):".into(),
        )?;
        for id in ids {
            let label = self.label(id);
            for (_, at, text) in pending.iter().filter(|(i, _, _)| *i == id) {
                let ms = at.saturating_duration_since(since).as_secs_f64() * 1000.0;
                self.say(out, format!("  [{label}] +{ms:.1} ms  {text}"))?;
            }
        }
        Ok(())
    }

    fn label(&self, id: usize) -> String {
        self.background
            .get(id)
            .map(|b| b.label.clone())
            .unwrap_or_default()
    }

    /// A background line shown at once (no foreground step is running).
    fn show_now<W: Write>(&mut self, id: usize, msg: Msg, out: &mut W) -> Result<()> {
        match msg {
            Msg::Line { text, .. } => {
                let label = self.label(id);
                if id == FOREGROUND {
                    self.say(out, text)?;
                } else {
                    self.say(out, format!("  [{label}] {text}"))?;
                }
            }
            Msg::Eof => self.closed(id),
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

    /// Replaces the port of `--listen HOST:PORT` by 0 (the kernel picks a free one); returns
    /// the address as the lesson wrote it.
    fn free_port(&self, args: &mut [String]) -> Result<String> {
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
        // The address as written, as later steps (already substituted) may not mention it.
        Ok(written)
    }

    /// The label of a background process: its subcommand words, and the client name if any.
    fn new_label(&self, args: &[String], extra: &str) -> String {
        let mut label = args
            .iter()
            .take_while(|a| !a.starts_with('-') && !a.contains("://"))
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(i) = args.iter().position(|a| a == "--client") {
            if let Some(c) = args.get(i + 1) {
                label.push(' ');
                label.push_str(c);
            }
        }
        if !extra.is_empty() {
            label.push(' ');
            label.push_str(extra);
        }
        let same = self
            .background
            .iter()
            .filter(|b| b.label == label || b.label.starts_with(&format!("{label} #")))
            .count();
        if same > 0 {
            label = format!("{label} #{}", same + 1);
        }
        label
    }

    fn start_server<W: Write>(
        &mut self,
        args: &[String],
        written: &str,
        out: &mut W,
    ) -> Result<()> {
        let id = self.background.len();
        let (child, open) = self.spawn(args, id)?;
        // Labelled with the real address once it is known.
        self.background.push(Background {
            label: args
                .iter()
                .take_while(|a| !a.starts_with('-'))
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
            child,
            open,
            kind: Kind::Server,
            done: false,
            no_idle_exit: false,
        });
        let addr = self.wait_ready(id, out, listening_addr)?;
        let label = format!("{} {addr}", self.background[id].label);
        self.background[id].label = label;
        if addr != written {
            self.say(
                out,
                format!("  (the kernel picked {addr}: the later steps say {addr})"),
            )?;
        }
        // A capture filter names the server's port alone (`tcp port 7007`).
        if let (Some((_, wp)), Some((_, rp))) = (written.rsplit_once(':'), addr.rsplit_once(':')) {
            self.addrs
                .insert(format!("port {wp}"), format!("port {rp}"));
        }
        self.addrs.insert(written.to_string(), addr);
        Ok(())
    }

    fn start_client<W: Write>(&mut self, args: &[String], out: &mut W) -> Result<()> {
        let id = self.background.len();
        let label = self.new_label(args, "");
        let (child, open) = self.spawn(args, id)?;
        self.background.push(Background {
            label,
            child,
            open,
            kind: Kind::Client,
            done: false,
            no_idle_exit: false,
        });
        self.wait_ready(id, out, |line| client_ready(line).then_some(String::new()))?;
        Ok(())
    }

    /// Shows what background process `id` prints until `ready` finds its readiness line.
    fn wait_ready<W: Write>(
        &mut self,
        id: usize,
        out: &mut W,
        ready: impl Fn(&str) -> Option<String>,
    ) -> Result<String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let label = self.background[id].label.clone();
            if Instant::now() > deadline {
                bail!(
                    "{label} did not say it was ready within {}s",
                    READY_TIMEOUT.as_secs()
                );
            }
            if let Some(status) = self.background[id].child.try_wait()? {
                // Drain what it said before it ended, so an error is visible.
                while let Some((bid, msg)) = self.recv(Duration::from_millis(50))? {
                    self.show_now(bid, msg, out)?;
                }
                self.background[id].done = true;
                if self.background[id].kind == Kind::Client && status.success() {
                    return Ok(String::new());
                }
                bail!("{label} exited with {status} before it was ready");
            }
            let Some((bid, msg)) = self.recv(Duration::from_millis(20))? else {
                continue;
            };
            let found = match &msg {
                Msg::Line { text, .. } if bid == id => ready(text),
                _ => None,
            };
            self.show_now(bid, msg, out)?;
            if let Some(v) = found {
                return Ok(v);
            }
        }
    }

    /// Waits for the background clients started in this block to end by themselves (each is
    /// told when: `--count`, `--expect`, `--timeout`), bounded by CLIENT_TIMEOUT.
    fn wait_clients<W: Write>(&mut self, out: &mut W) -> Result<()> {
        let ids: Vec<usize> = (0..self.background.len())
            .filter(|&i| self.background[i].kind == Kind::Client && !self.background[i].done)
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = ids.iter().map(|&i| self.label(i)).collect();
        self.say(
            out,
            format!(
                "  (waiting for the background clients to finish: {})",
                names.join(", ")
            ),
        )?;
        let mut failure = None;
        for id in ids {
            if let Err(e) = self.finish(id, CLIENT_TIMEOUT, out) {
                failure.get_or_insert(e);
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Lets background process `id` end by itself within `natural`, then interrupts it, then
    /// kills it. A process that had to be stopped, or exited with an error, is a failure.
    fn finish<W: Write>(&mut self, id: usize, natural: Duration, out: &mut W) -> Result<()> {
        let mut status = None;
        let mut phase = 0; // 0 natural, 1 interrupted, 2 killed
        let mut deadline = Instant::now() + natural;
        while status.is_none() || self.background[id].open > 0 {
            if let Some((bid, msg)) = self.recv(Duration::from_millis(20))? {
                self.show_now(bid, msg, out)?;
            }
            if status.is_none() {
                status = self.background[id].child.try_wait()?;
            }
            if status.is_none() && Instant::now() > deadline {
                let pid = self.background[id].child.id();
                if phase == 0 {
                    signal(pid, libc::SIGINT);
                } else {
                    let _ = self.background[id].child.kill();
                }
                deadline = Instant::now() + INTERRUPT_GRACE;
                phase += 1;
            }
            if phase > 2 && Instant::now() > deadline {
                break;
            }
        }
        self.background[id].done = true;
        let label = self.label(id);
        match status {
            Some(s) if s.success() && (phase == 0 || self.background[id].kind == Kind::Server) => {
                Ok(())
            }
            Some(s) if s.success() => Err(anyhow!(
                "{label} had to be interrupted after {}s",
                natural.as_secs()
            )),
            Some(s) => Err(anyhow!("{label} exited with {s}")),
            None => Err(anyhow!("{label} could not be stopped")),
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
        writeln!(out)?;
        self.say(
            out,
            format!("(a private redis-server for this lesson listens on {addr})"),
        )?;
        self.addrs.insert(LESSON_REDIS.to_string(), addr);
        Ok(())
    }

    /// Lets each background server finish by itself (servers in lessons are told when to stop,
    /// e.g. `--max-conns` or `--exit-after-idle`), interrupting it if it does not.
    fn stop_background<W: Write>(&mut self, out: &mut W) -> Result<()> {
        let mut failure = None;
        for id in 0..self.background.len() {
            if self.background[id].done {
                continue;
            }
            let natural = if self.background[id].no_idle_exit {
                Duration::ZERO
            } else {
                NATURAL_EXIT
            };
            if let Err(e) = self.finish(id, natural, out) {
                failure.get_or_insert(e);
            }
        }
        self.background.clear();
        if let Some(mut r) = self.redis.take() {
            let _ = r.kill();
            let _ = r.wait();
        }
        match failure {
            Some(f) => Err(f),
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

fn forward<R: Read + Send + 'static>(r: R, id: usize, tx: Sender<(usize, Msg)>) {
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
                        text,
                        at: Instant::now(),
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
        assert!(client_ready("capturing on lo (Ethernet); Ctrl-C to stop"));
        assert!(client_ready("ready: subscribed to news"));
        assert!(!client_ready("[capture] 10 packets shown, 10 seen on lo"));
    }
}

//! The lessons as a student meets them: run from a scratch directory outside the repository
//! with the binary copied out of target/, the commands shown equal to the commands run (real
//! addresses), live background steps, and `lesson check` answered right and wrong.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// Copies of the binary and spawns of processes take turns (see `Scratch::run`).
static SPAWN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A scratch directory outside the repository holding a copy of the binary.
struct Scratch {
    dir: tempfile::TempDir,
    exe: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("wirelab-student-")
            .tempdir()
            .unwrap();
        let exe = dir.path().join("wirelab");
        {
            let _one_at_a_time = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
            std::fs::copy(env!("CARGO_BIN_EXE_wirelab"), &exe).unwrap();
        }
        assert!(!dir.path().starts_with(env!("CARGO_MANIFEST_DIR")));
        Scratch { dir, exe }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.run_in(args, stdin, None)
    }

    /// The same with the lessons read from `lessons` (`WIRELAB_LESSONS`).
    fn run_with_lessons(&self, args: &[&str], lessons: &std::path::Path) -> Output {
        self.run_in(args, None, Some(lessons))
    }

    fn run_in(
        &self,
        args: &[&str],
        stdin: Option<&str>,
        lessons: Option<&std::path::Path>,
    ) -> Output {
        let mut c = Command::new(&self.exe);
        match lessons {
            Some(d) => c.env("WIRELAB_LESSONS", d),
            None => c.env_remove("WIRELAB_LESSONS"),
        };
        c.args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        // A copy being written while another thread forks leaves the child holding the file
        // open for writing, and exec then fails with "Text file busy": copies and spawns take
        // turns.
        let mut child = {
            let _one_at_a_time = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
            c.spawn().unwrap()
        };
        if let Some(text) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// Files in the scratch directory besides the binary (a lesson must leave none).
    fn litter(&self) -> Vec<String> {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "wirelab")
            .collect()
    }
}

/// Runs one lesson with `tour --json`; returns its object.
fn lesson_json(s: &Scratch, id: &str) -> Value {
    let out = s.run(&["tour", "--only", id, "--json"], None);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{id} failed from a scratch dir:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one object a lesson: {text}");
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["type"], "lesson");
    assert_eq!(v["id"], id);
    assert_eq!(v["result"], "ok");
    v
}

/// The real addresses the lesson's servers announced.
fn announced(v: &Value) -> Vec<String> {
    let mut addrs = Vec::new();
    for step in v["steps"].as_array().unwrap() {
        for line in step["output"].as_array().unwrap() {
            let l = line.as_str().unwrap();
            if let Some(rest) = l.split("listening on ").nth(1) {
                addrs.push(rest.split_whitespace().next().unwrap().to_string());
            }
            // A JSON `listening` line: {"addr":"127.0.0.1:PORT",...}.
            if let Some(rest) = l.split(r#""addr":""#).nth(1) {
                if l.contains("listening") {
                    addrs.push(rest.split('"').next().unwrap().to_string());
                }
            }
            if let Some(rest) = l.split("redis-server for this lesson listens on ").nth(1) {
                addrs.push(rest.trim_end_matches(')').to_string());
            }
        }
    }
    addrs
}

fn shown_equals_run(id: &str) {
    let s = Scratch::new();
    let v = lesson_json(&s, id);
    let steps = v["steps"].as_array().unwrap();
    assert!(!steps.is_empty(), "{id} ran no step");
    let real = announced(&v);
    for step in steps {
        let shown = step["shown"].as_str().unwrap();
        let ran: Vec<String> = step["ran"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let mut words = shell_words::split(shown).unwrap();
        if step["background"] == true {
            assert_eq!(words.pop().as_deref(), Some("&"), "{shown}");
        }
        assert_eq!(words[0], "wirelab", "{shown}");
        assert_eq!(words[1..], ran[..], "{id}: shown is not what ran");
        // Every loopback address a step names is one a server of this lesson really got
        // (or port 0, for the kernel to pick).
        for a in &ran {
            for part in a.split(['/', '=']) {
                if let Some(port) = part.strip_prefix("127.0.0.1:") {
                    let addr = format!("127.0.0.1:{port}");
                    assert!(
                        port == "0" || real.contains(&addr),
                        "{id}: `{shown}` names {addr}, which no server here listens on ({real:?})"
                    );
                }
            }
        }
    }
    assert!(
        s.litter().is_empty(),
        "{id} left files in the cwd: {:?}",
        s.litter()
    );
}

macro_rules! lesson_tests {
    ($($name:ident => $id:literal),* $(,)?) => {$(
        #[test]
        fn $name() {
            shown_equals_run($id);
        }
    )*};
}

lesson_tests! {
    layers_shows_what_it_runs => "layers",
    tcp_shows_what_it_runs => "tcp",
    udp_shows_what_it_runs => "udp",
    tcp_vs_udp_shows_what_it_runs => "tcp-vs-udp",
    packets_shows_what_it_runs => "packets",
    websocket_shows_what_it_runs => "websocket",
    socketio_shows_what_it_runs => "socketio",
    events_shows_what_it_runs => "events",
    message_queue_shows_what_it_runs => "message-queue",
    work_queue_shows_what_it_runs => "work-queue",
}

/// Every lesson is covered by one of the tests above.
#[test]
fn every_lesson_has_a_shown_equals_run_test() {
    let src = include_str!("lesson_runner.rs");
    let s = Scratch::new();
    let out = s.run(&["lesson", "list", "--json"], None);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for l in v["lessons"].as_array().unwrap() {
        let id = l["id"].as_str().unwrap();
        assert!(
            src.contains(&format!("=> \"{id}\"")),
            "lesson {id} has no shown-equals-run test"
        );
    }
}

/// The events lesson: a listener connected in the background receives the event live, and
/// the runner shows its arrival time after the emit step, labelled.
#[test]
fn events_lesson_pushes_to_a_connected_listener() {
    let s = Scratch::new();
    let v = lesson_json(&s, "events");
    let steps = v["steps"].as_array().unwrap();
    let listen = steps
        .iter()
        .position(|st| st["background"] == true && st["shown"].as_str().unwrap().contains("porch"))
        .expect("a background listener in porch");
    let emit = steps
        .iter()
        .position(|st| st["shown"].as_str().unwrap().contains("doorbell"))
        .expect("the doorbell emit");
    assert!(listen < emit);
    let out: Vec<&str> = steps[emit]["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    // The emit's own output first, then the background group.
    let own = out
        .iter()
        .position(|l| l.starts_with("emitted doorbell: 1 recipient(s), 1 online now"))
        .unwrap_or_else(|| panic!("{out:#?}"));
    let group = out
        .iter()
        .position(|l| l.contains("meanwhile in the background"))
        .unwrap();
    assert!(own < group, "{out:#?}");
    let arrival = out
        .iter()
        .find(|l| l.starts_with("  [hub listen] +") && l.contains("event #1 doorbell \"ding\""))
        .unwrap_or_else(|| panic!("no live arrival: {out:#?}"));
    let ms: f64 = arrival
        .split('+')
        .nth(1)
        .unwrap()
        .split(" ms")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms > 0.0 && ms < 10_000.0, "{arrival}");
    // Nothing interleaved: every background line is in the group, after the emit's own lines.
    assert!(
        out[..group].iter().all(|l| !l.starts_with("  [")),
        "{out:#?}"
    );
}

fn key(s: &Scratch, args: &[&str]) -> Vec<Value> {
    let mut a = vec!["lesson", "check"];
    a.extend_from_slice(args);
    a.push("--key");
    let out = s.run(&a, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A wrong answer to each question: another number, or another word.
fn wrong(answer: &str) -> String {
    match answer.parse::<u64>() {
        Ok(n) => (n + 1).to_string(),
        Err(_) => format!("not-{answer}"),
    }
}

#[test]
fn lesson_check_accepts_right_answers_and_rejects_wrong_ones_for_every_lesson() {
    let s = Scratch::new();
    for id in [
        "layers",
        "tcp",
        "udp",
        "tcp-vs-udp",
        "packets",
        "websocket",
        "socketio",
        "events",
        "message-queue",
        "work-queue",
    ] {
        let k = key(&s, &[id]);
        assert!(k.len() >= 2, "{id} has {} questions", k.len());
        let right: String = k
            .iter()
            .map(|q| format!("{}\n", q["answer"].as_str().unwrap()))
            .collect();
        let out = s.run(&["lesson", "check", id], Some(&right));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{id}: {text}");
        assert!(
            text.contains(&format!("{0} of {0} right", k.len())),
            "{text}"
        );

        // Wrong answers, from a file this time: each rejected, with the answer and its field.
        let wrong_answers: String = k
            .iter()
            .map(|q| format!("{}\n", wrong(q["answer"].as_str().unwrap())))
            .collect();
        let file = s.dir.path().join("answers.txt");
        std::fs::write(&file, wrong_answers).unwrap();
        let out = s.run(
            &["lesson", "check", id, "--answers", file.to_str().unwrap()],
            None,
        );
        std::fs::remove_file(&file).unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{id}: {text}");
        assert!(text.contains(&format!("0 of {} right", k.len())), "{text}");
        for q in &k {
            let a = q["answer"].as_str().unwrap();
            let f = q["field"].as_str().unwrap();
            assert!(text.contains(&format!("the answer is {a}")), "{id}: {text}");
            assert!(text.contains(&format!("field: {f}")), "{id}: {text}");
        }
    }
}

/// The udp lesson's answers follow the seed the student picked, and they are what a real
/// `udp send --seed` run through a real receiver reports.
#[test]
fn lesson_check_answers_follow_the_seed() {
    let s = Scratch::new();
    let seven = key(&s, &["udp", "--seed", "7"]);
    let nine = key(&s, &["udp", "--seed", "9"]);
    assert_ne!(seven[0]["answer"], nine[0]["answer"]);

    let guard = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
    let recv = Command::new(&s.exe)
        .args([
            "udp",
            "recv",
            "--listen",
            "127.0.0.1:0",
            "--timeout",
            "3",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(guard);
    let mut recv = recv;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(recv.stdout.take().unwrap()));
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let addr = first["addr"].as_str().unwrap().to_string();
    let send = s.run(
        &[
            "udp",
            "send",
            &addr,
            "--count",
            "1000",
            "--loss",
            "0.2",
            "--reorder",
            "0.05",
            "--duplicate",
            "0.02",
            "--seed",
            "9",
            "--json",
        ],
        None,
    );
    assert!(send.status.success());
    let report: Vec<Value> = lines
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    recv.wait().unwrap();
    let lost = report
        .iter()
        .find_map(|v| v.get("lost").and_then(Value::as_u64))
        .unwrap_or_else(|| panic!("no lost count in {report:#?}"));
    assert_eq!(nine[0]["answer"].as_str().unwrap(), lost.to_string());
}

/// The tcp lesson's answers follow the capture: given another capture, the SYN-ACK's ack is
/// that capture's, as tshark reads it.
#[test]
fn lesson_check_answers_follow_the_capture() {
    let s = Scratch::new();
    let http = key(&s, &["tcp"]);
    let ws_pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/websocket.pcap");
    let ws = key(&s, &["tcp", "--capture", ws_pcap.to_str().unwrap()]);
    assert_ne!(http[1]["answer"], ws[1]["answer"]);
    for (k, file) in [
        (&http, "fixtures/http.pcap"),
        (&ws, "fixtures/websocket.pcap"),
    ] {
        let guard = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
        let out = Command::new("tshark")
            .args(["-r", file, "-Y", "tcp.flags.syn==1 && tcp.flags.ack==1"])
            .args(["-T", "fields", "-e", "tcp.ack_raw"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("tshark is installed by scripts/test");
        drop(guard);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let ack = text.lines().next().unwrap_or("").trim().to_string();
        assert_eq!(k[1]["answer"].as_str().unwrap(), ack, "{file}");
    }
}

#[test]
fn lesson_show_hides_the_front_matter() {
    let s = Scratch::new();
    let out = s.run(&["lesson", "show", "tcp"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("TCP: connection"), "{text}");
    assert!(!text.contains("id: tcp"), "{text}");
    // Piped: plain text, no colour, no markup.
    assert!(!text.contains('\x1b') && !text.contains("```"), "{text}");
    let raw = s.run(&["lesson", "show", "tcp", "--raw"], None);
    let raw = String::from_utf8_lossy(&raw.stdout);
    assert!(raw.starts_with("# TCP"), "{raw}");
    assert!(!raw.contains("id: tcp"), "{raw}");
}

/// The lines a step of a `tour --json` object printed (its own, then the background group).
fn output_of<'a>(steps: &'a [Value], shown: &str) -> Vec<&'a str> {
    let st = steps
        .iter()
        .find(|st| st["background"] == false && st["shown"].as_str().unwrap().contains(shown))
        .unwrap_or_else(|| panic!("no step {shown}"));
    st["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect()
}

/// The socket.io lesson shows, live: polling then the probe and the upgrade, the server's
/// pings, two namespaces on one session, an event pushed to a connected listener, a room that
/// leaves carol out, an offline client missing an event without recovery and getting it back
/// with it.
#[test]
fn socketio_lesson_shows_upgrade_heartbeat_namespaces_rooms_and_recovery() {
    let s = Scratch::new();
    let v = lesson_json(&s, "socketio");
    let steps = v["steps"].as_array().unwrap();
    let has = |out: &[&str], pat: &str| out.iter().any(|l| l.contains(pat));

    let first = output_of(steps, "--show-packets --timeout 0.5");
    let at = |pat: &str| {
        first
            .iter()
            .position(|l| l.contains(pat))
            .unwrap_or_else(|| panic!("no {pat}: {first:#?}"))
    };
    assert!(at("GET /socket.io/?EIO=4&transport=polling") < at("transport=websocket&sid="));
    assert!(at("ping \"probe\"") < at("pong \"probe\""));
    assert!(at("pong \"probe\"") < at("engine.io -> upgrade"));

    let beat = output_of(steps, "--transport websocket --show-packets");
    let pings = beat
        .iter()
        .filter(|l| l.contains("engine.io <- ping \"\""))
        .count();
    let pongs = beat
        .iter()
        .filter(|l| l.contains("engine.io -> pong \"\""))
        .count();
    assert!(pings >= 1 && pongs == pings, "{beat:#?}");
    assert!(!has(&beat, "transport=polling"), "{beat:#?}");

    let two = output_of(steps, "--namespace / --namespace /admin");
    assert_eq!(
        two.iter()
            .filter(|l| l.starts_with("open: session"))
            .count(),
        1
    );
    assert!(
        has(&two, "connected to / as") && has(&two, "connected to /admin as"),
        "{two:#?}"
    );

    let emit = output_of(steps, "hello from alice");
    assert!(has(&emit, "ack / id 0 [{\"recipients\":2}]"), "{emit:#?}");
    assert!(
        emit.iter().any(|l| l.starts_with("  [sio connect] +")
            && l.contains("event / \"chat message\" [\"hello from alice\"]")),
        "bob's live arrival: {emit:#?}"
    );

    let bcast = output_of(steps, "hello, everyone else");
    assert!(has(&bcast, "[{\"recipients\":1}]"), "{bcast:#?}");
    assert!(
        !bcast.iter().any(|l| l.starts_with("event /")),
        "{bcast:#?}"
    );

    let rooms = output_of(steps, "dinner is ready");
    assert!(has(&rooms, "\"members\":2"), "{rooms:#?}");
    assert!(has(&rooms, "[{\"recipients\":1}]"), "{rooms:#?}");

    let late = output_of(steps, "--timeout 1");
    assert!(has(&late, "done: 0 events"), "{late:#?}");

    let back = output_of(steps, "--state alice.json --count 1");
    assert!(
        has(&back, "recovered (missed events replayed)"),
        "{back:#?}"
    );
    assert!(has(
        &back,
        "event / \"chat message\" [\"message 2, while alice is away\"]"
    ));
    assert!(has(&back, "recovered true"), "{back:#?}");
    assert!(
        has(&back, "(recovered: 1 missed event(s) replayed)"),
        "{back:#?}"
    );

    let other = output_of(steps, "hello from the other hub");
    assert!(has(&other, "[{\"recipients\":1}]"), "{other:#?}");
}

/// The socket.io check's capture answers follow the capture: without its first packet every
/// packet number is one less, and pingInterval is the number the open packet's bytes hold.
#[test]
fn socketio_check_answers_follow_the_capture() {
    let s = Scratch::new();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/socketio.pcap");
    let bytes = std::fs::read(&path).unwrap();
    let bundled = key(&s, &["socketio"]);
    // pcap: a 24-byte file header, then records of a 16-byte header (incl_len at 8..12).
    let len = u32::from_le_bytes(bytes[24 + 8..24 + 12].try_into().unwrap()) as usize;
    let mut cut = bytes[..24].to_vec();
    cut.extend_from_slice(&bytes[24 + 16 + len..]);
    let file = s.dir.path().join("cut.pcap");
    std::fs::write(&file, &cut).unwrap();
    let changed = key(&s, &["socketio", "--capture", file.to_str().unwrap()]);
    std::fs::remove_file(&file).unwrap();
    let probe = |k: &[Value]| -> u64 { k[1]["answer"].as_str().unwrap().parse().unwrap() };
    assert_eq!(probe(&changed), probe(&bundled) - 1);
    let text = String::from_utf8_lossy(&bytes);
    let interval: String = text
        .split("\"pingInterval\":")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(bundled[0]["answer"].as_str().unwrap(), interval);
    assert_eq!(changed[0]["answer"], bundled[0]["answer"]);
}

/// The message-queue lesson's socket.io step: recovery replays the event sent while driver-3
/// was away (P-201), not the one it had received before it vanished (P-200), however its app
/// fared: replay-on-reconnect, not redelivery until acknowledged.
#[test]
fn message_queue_lesson_compares_the_queue_with_recovery() {
    let s = Scratch::new();
    let v = lesson_json(&s, "message-queue");
    let steps = v["steps"].as_array().unwrap();
    let back = output_of(steps, "--state driver-3.json --count 1");
    let events: Vec<&&str> = back.iter().filter(|l| l.starts_with("event /")).collect();
    assert_eq!(events.len(), 1, "{back:#?}");
    assert!(events[0].contains("P-201"), "{back:#?}");
    assert!(
        back.iter().any(|l| l.contains("recovered true")),
        "{back:#?}"
    );
}

/// Spawns `wirelab ARGS` in the scratch directory (taking turns with copies), output piped.
fn spawn_piped(s: &Scratch, args: &[&str]) -> std::process::Child {
    let _one_at_a_time = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
    Command::new(&s.exe)
        .args(args)
        .current_dir(s.dir.path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads lines until one contains `needle` (EOF first is a failure: the process ended).
fn line_with(r: &mut impl std::io::BufRead, needle: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "ended before saying {needle:?}: {seen}"
        );
        if line.contains(needle) {
            return line;
        }
        seen.push_str(&line);
    }
}

/// The student's own traffic, as the tcp lesson makes it: a server, `capture --until-closed`
/// started before the client, one `tcp send`. The capture stops by itself when the connection
/// has closed, and `lesson check tcp --capture` asks about that capture: the SYN-ACK's ack is
/// the one tshark reads there, right answers pass and wrong ones fail.
#[test]
fn lesson_check_asks_about_the_students_own_capture() {
    use std::io::BufReader;
    use std::time::{Duration, Instant};
    let s = Scratch::new();
    let mut server = spawn_piped(
        &s,
        &[
            "tcp",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--max-conns",
            "1",
        ],
    );
    let mut out = BufReader::new(server.stdout.take().unwrap());
    let line = line_with(&mut out, "listening on ");
    let addr = line.split("listening on ").nth(1).unwrap();
    let addr = addr.split_whitespace().next().unwrap().to_string();
    let port = addr.rsplit_once(':').unwrap().1.to_string();
    let filter = format!("tcp port {port}");
    let mut cap = spawn_piped(
        &s,
        &[
            "capture",
            "--filter",
            &filter,
            "--until-closed",
            "--write",
            "own.pcap",
            "--quiet",
        ],
    );
    let mut err = BufReader::new(cap.stderr.take().unwrap());
    line_with(&mut err, "capturing on ");
    let sent = s.run(&["tcp", "send", &addr, "my", "own"], None);
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    // Bounded: a capture that does not stop by itself within a minute fails the test.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = cap.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = cap.kill();
            let _ = cap.wait();
            let _ = server.kill();
            let _ = server.wait();
            panic!("capture --until-closed did not stop after the connection closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    assert!(rest.contains("packets shown"), "{rest}");
    assert!(server.wait().unwrap().success());

    let pcap = s.dir.path().join("own.pcap");
    let k = key(&s, &["tcp", "--capture", pcap.to_str().unwrap()]);
    let tshark = {
        let _guard = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
        Command::new("tshark")
            .args(["-r", pcap.to_str().unwrap()])
            .args(["-Y", "tcp.flags.syn==1 && tcp.flags.ack==1"])
            .args(["-T", "fields", "-e", "tcp.ack_raw"])
            .output()
            .expect("tshark is installed by scripts/test")
    };
    let ack = String::from_utf8_lossy(&tshark.stdout).trim().to_string();
    assert!(
        !ack.is_empty(),
        "tshark found no SYN-ACK in the student's capture"
    );
    assert_eq!(k[1]["answer"].as_str().unwrap(), ack);

    let right: String = k
        .iter()
        .map(|q| format!("{}\n", q["answer"].as_str().unwrap()))
        .collect();
    let cap_arg = pcap.to_str().unwrap();
    let out = s.run(
        &["lesson", "check", "tcp", "--capture", cap_arg],
        Some(&right),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("{0} of {0} right", k.len())),
        "{text}"
    );
    let wrong_answers: String = k
        .iter()
        .map(|q| format!("{}\n", wrong(q["answer"].as_str().unwrap())))
        .collect();
    let out = s.run(
        &["lesson", "check", "tcp", "--capture", cap_arg],
        Some(&wrong_answers),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("the answer is {ack}")), "{text}");
}

/// The tcp, packets and websocket lessons draw a ladder of traffic the student just made: a
/// capture step that stopped by itself (not interrupted), then `dissect FILE --flow` showing
/// that capture's handshake.
#[test]
fn lessons_draw_the_students_own_traffic() {
    let s = Scratch::new();
    for (id, file) in [
        ("tcp", "handshake.pcap"),
        ("packets", "mine.pcap"),
        ("websocket", "ws.pcap"),
    ] {
        let v = lesson_json(&s, id);
        let steps = v["steps"].as_array().unwrap();
        let cap = steps
            .iter()
            .find(|st| st["ran"][0] == "capture")
            .unwrap_or_else(|| panic!("{id} has no capture step"));
        assert_eq!(cap["result"], "ok", "{id}: {cap:#?}");
        assert!(cap["ran"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "--until-closed"));
        let flow = steps
            .iter()
            .find(|st| st["shown"] == format!("wirelab dissect {file} --flow"))
            .unwrap_or_else(|| panic!("{id} does not draw {file}"));
        assert_eq!(flow["result"], "ok", "{id}: {flow:#?}");
        let text = flow["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(text.contains("SYN seq=0"), "{id}: {text}");
        assert!(text.contains("SYN, ACK seq=0 ack=1"), "{id}: {text}");
        assert!(text.contains("FIN"), "{id}: {text}");
    }
}

/// A lesson in which two servers are written with the same port is refused before any step
/// runs: exit 2, naming the lesson and both steps.
#[test]
fn a_lesson_with_two_servers_on_one_port_is_refused() {
    let s = Scratch::new();
    let dir = s.dir.path().join("authored");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("01-dup.md"),
        "---\nid: dup\ntitle: Dup\nlayers: 4\n---\n```sh\nwirelab tcp serve --listen 127.0.0.1:7007 --max-conns 1 &\n```\nText.\n```sh\nwirelab ws serve --listen 127.0.0.1:7007 --max-conns 1 &\nwirelab tcp send 127.0.0.1:7007 hi\n```\n",
    )
    .unwrap();
    let out = s.run_with_lessons(&["lesson", "run", "dup"], &dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("lesson dup"), "{err}");
    assert!(
        err.contains("step 2 (`wirelab ws serve --listen 127.0.0.1:7007"),
        "{err}"
    );
    assert!(err.contains("step 1 already uses"), "{err}");
    // Refused before running: no step was started.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("── step 1"), "{stdout}");
}

/// Without the right to capture (here: as `nobody`, with every capability dropped), the
/// capture steps are skipped with what to do about it, and the rest of the lesson passes.
#[test]
fn without_capture_rights_the_capture_steps_are_skipped_and_say_how_to_allow_them() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: cannot drop to nobody, and the skip is what happens anyway");
        return;
    }
    let s = Scratch::new();
    std::fs::set_permissions(s.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = {
        let _guard = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
        Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .args(["--inh-caps=-all", "--bounding-set=-all"])
            .arg(&s.exe)
            .args(["tour", "--only", "tcp"])
            .current_dir("/")
            .env("NO_COLOR", "1")
            .env("HOME", "/tmp")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("setpriv (util-linux) is installed")
    }
    .wait_with_output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("needs root or CAP_NET_RAW"), "{text}");
    assert!(text.contains("setcap cap_net_raw+ep"), "{text}");
    assert!(text.contains("skipped $ wirelab capture"), "{text}");
    assert!(
        text.contains("skipped $ wirelab dissect handshake.pcap --flow"),
        "{text}"
    );
}

/// Reads `r` on a thread, sending what arrives, so a test can wait with a deadline.
fn chunks(mut r: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0
                || tx
                    .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                    .is_err()
            {
                break;
            }
        }
    });
    rx
}

/// At a terminal (a pseudo-terminal made by `script`), the runner pauses at "press Enter". A
/// student who reads there for longer than a hub's `--exit-after-idle` must still find the hub
/// alive: the runner leaves the flag out (the command shown says so too) and stops the hub
/// itself when the lesson ends.
#[test]
fn an_interactive_student_reading_at_a_prompt_never_finds_a_dead_hub() {
    let s = Scratch::new();
    let dir = s.dir.path().join("authored");
    std::fs::create_dir(&dir).unwrap();
    const IDLE_S: u64 = 1;
    std::fs::write(
        dir.join("01-idle.md"),
        format!(
            "---\nid: idle\ntitle: Idle\nlayers: 7\n---\nStart a hub.\n```sh\nwirelab hub serve \
             --listen 127.0.0.1:7010 --memory --exit-after-idle {IDLE_S} &\n```\nRead, then \
             emit.\n```sh\nwirelab hub emit ws://127.0.0.1:7010/ news '\"still here\"'\n```\n"
        ),
    )
    .unwrap();
    let cmd = format!("'{}' lesson run idle", s.exe.display());
    let mut child = {
        let _guard = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
        Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .current_dir(s.dir.path())
            .env("WIRELAB_LESSONS", &dir)
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run script (util-linux)")
    };
    let mut stdin = child.stdin.take().unwrap();
    let rx = chunks(child.stdout.take().unwrap());
    let mut text = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let wait_for = |text: &mut String, n: usize| {
        while text.matches("press Enter]").count() < n {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(c) => text.push_str(&c),
                Err(_) => panic!("no prompt {n} within 60 s:\n{text}"),
            }
        }
    };
    use std::io::Write;
    wait_for(&mut text, 1);
    stdin.write_all(b"\n").unwrap();
    wait_for(&mut text, 2);
    assert!(
        text.contains("listening on 127.0.0.1:"),
        "the hub is not up at the second prompt:\n{text}"
    );
    // Read at the prompt for three times the idle limit, then press Enter.
    std::thread::sleep(std::time::Duration::from_secs(3 * IDLE_S));
    stdin.write_all(b"\n").unwrap();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(c) => text.push_str(&c),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(_) => panic!("the lesson did not end within 60 s:\n{text}"),
        }
    }
    drop(stdin);
    let status = child.wait().unwrap();
    let text = text.replace("\r\n", "\n");
    assert!(status.success(), "the lesson failed:\n{text}");
    assert!(
        text.contains("emitted news: 1 recipient(s)"),
        "the emit after the long read did not reach the hub:\n{text}"
    );
    assert!(!text.contains("idle (--exit-after-idle)"), "{text}");
    // Shown == run: the command shown has no --exit-after-idle, and says why.
    let shown = text
        .lines()
        .find(|l| l.starts_with("$ wirelab hub serve"))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(shown, "$ wirelab hub serve --listen 127.0.0.1:0 --memory &");
    assert!(
        text.contains("without the lesson's --exit-after-idle"),
        "{text}"
    );
    // The prompt names the next command as it will run, with the hub's real address.
    let addr = text
        .split("listening on ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .unwrap()
        .to_string();
    assert!(
        text.contains(&format!("next: wirelab hub emit ws://{addr}/ news")),
        "{text}"
    );
    // The runner stopped the hub at the end of the lesson.
    assert!(text.contains("stopped (interrupted)"), "{text}");
}

/// `lesson check work-queue` reads its answers from the clients' `--json` lines of the session
/// it runs: a copy of the lesson with more jobs and more attempts gets answers that follow.
#[test]
fn work_queue_check_answers_follow_the_session() {
    let s = Scratch::new();
    let dir = s.dir.path().join("authored");
    std::fs::create_dir(&dir).unwrap();
    let lesson = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons/10-work-queue.md"),
    )
    .unwrap();
    let b = "wirelab hub listen ws://127.0.0.1:7011/photos --queue resize --client worker-b --count 1 --no-ack\n";
    assert!(
        lesson.contains("--max-attempts 2") && lesson.contains("--repeat 4") && lesson.contains(b)
    );
    let changed = lesson
        .replace("--max-attempts 2", "--max-attempts 3")
        .replace("--repeat 4", "--repeat 6")
        .replace(b, &format!("{b}{}", b.replace("worker-b", "worker-b2")));
    std::fs::write(dir.join("10-work-queue.md"), changed).unwrap();
    let out = s.run_with_lessons(&["lesson", "check", "work-queue", "--key"], &dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let k: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(k.len(), 2, "{text}");
    assert_eq!(k[0]["answer"], "6", "{text}");
    assert!(k[0]["field"].as_str().unwrap().contains("--json"), "{text}");
    assert_eq!(k[1]["answer"], "3", "{text}");
    assert!(
        k[1]["field"].as_str().unwrap().contains("dead_letters"),
        "{text}"
    );
}

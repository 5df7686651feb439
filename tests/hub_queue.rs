//! Work queues (competing consumers) against both stores: the embedded SQLite file and Redis
//! Streams on a throwaway redis-server. Then several hub processes on one Redis.

mod hub_common;
mod redis_common;
mod ws_common;

use std::collections::HashSet;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use hub_common::{background, ok, wirelab};
use serde_json::Value;
use ws_common::{spawn_server, Server};

#[derive(Clone, Copy, Debug)]
enum Kind {
    Embedded,
    Redis,
}

/// One store: a data directory, or a redis-server of our own.
struct Backend {
    dir: tempfile::TempDir,
    redis: Option<redis_common::Redis>,
}

impl Backend {
    fn new(kind: Kind) -> Backend {
        Backend {
            dir: tempfile::tempdir().unwrap(),
            redis: match kind {
                Kind::Embedded => None,
                Kind::Redis => Some(redis_common::start()),
            },
        }
    }

    fn store_args(&self) -> Vec<String> {
        match &self.redis {
            Some(r) => vec!["--store".into(), r.url.clone()],
            None => vec!["--data".into(), self.data().display().to_string()],
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("hub")
    }

    /// `wirelab hub serve` on a free port with this store.
    fn serve(&self, args: &[&str]) -> Server {
        let mut cmd: Command = wirelab();
        cmd.args(["hub", "serve", "--listen", "127.0.0.1:0"])
            .args(self.store_args())
            .args(args);
        spawn_server(cmd)
    }

    /// The work queues according to `hub queue --json`.
    fn queues(&self) -> Vec<Value> {
        let mut args = vec!["hub".to_string(), "queue".into(), "--json".into()];
        args.extend(self.store_args());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let v: Value = serde_json::from_str(ok(&args).trim()).expect("queue json");
        v["work_queues"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until `hub queue` shows `f` true for queue `jobs`.
    fn wait_queue(&self, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let qs = self.queues();
            if let Some(q) = qs.iter().find(|q| q["queue"] == "jobs" && f(q)) {
                return q.clone();
            }
            assert!(Instant::now() < deadline, "{what}: work queues {qs:#?}");
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The `job` lines a `--json` worker printed: (id, deliveries, duplicate).
fn jobs(lines: &[String]) -> Vec<(String, u64, bool)> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "job")
        .map(|v| {
            (
                v["id"].as_str().unwrap_or_default().to_string(),
                v["deliveries"].as_u64().unwrap_or(0),
                v["duplicate"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

fn url(s: &Server) -> String {
    format!("ws://{}/", s.addr)
}

fn sigkill(child: &mut std::process::Child) {
    // Child::kill is SIGKILL on Unix: the process gets no chance to close anything.
    child.kill().expect("kill");
    let _ = child.wait();
}

macro_rules! on_both_stores {
    ($($name:ident),*) => {$(
        mod $name {
            #[test]
            fn embedded() {
                super::$name(super::Kind::Embedded)
            }
            #[test]
            fn redis() {
                super::$name(super::Kind::Redis)
            }
        }
    )*};
}

on_both_stores!(
    client_queue_survives_offline_and_unacked,
    thousand_jobs_three_consumers_each_once,
    killed_worker_job_goes_to_another,
    dead_letter_after_max_attempts,
    stopped_worker_takes_no_further_job
);

fn thousand_jobs_three_consumers_each_once(kind: Kind) {
    let b = Backend::new(kind);
    let server = b.serve(&["--quiet"]);
    let u = url(&server);
    let workers: Vec<_> = (1..=3)
        .map(|i| {
            let id = format!("w{i}");
            background(&[
                "hub",
                "listen",
                &u,
                "--queue",
                "jobs",
                "--client",
                &id,
                "--json",
                "--timeout",
                "5",
            ])
        })
        .collect();
    let out = ok(&[
        "hub",
        "emit",
        &u,
        "resize",
        r#"{"photo":{n}}"#,
        "--queue",
        "jobs",
        "--repeat",
        "1000",
    ]);
    assert!(out.contains("1000 job(s) stored"), "{out}");
    let mut all = HashSet::new();
    let mut total = 0;
    for w in workers {
        let (status, lines) = w.finish();
        assert!(status.success(), "{lines:#?}");
        let got = jobs(&lines);
        assert!(
            got.len() > 100,
            "round robin over 3 workers: one got only {}",
            got.len()
        );
        for (id, deliveries, dup) in got {
            assert_eq!((deliveries, dup), (1, false), "job {id} delivered again");
            assert!(all.insert(id.clone()), "job {id} went to two workers");
            total += 1;
        }
    }
    assert_eq!(total, 1000, "every job exactly once");
    let q = b.wait_queue("all acked", |q| q["pending"] == 0 && q["ready"] == 0);
    assert_eq!(q["dead"], 0);
}

fn killed_worker_job_goes_to_another(kind: Kind) {
    let b = Backend::new(kind);
    // A long ack timeout: the job must move because the worker's connection died, not late.
    let server = b.serve(&["--ack-timeout", "60"]);
    let u = url(&server);
    let mut slow = background(&[
        "hub",
        "listen",
        &u,
        "--queue",
        "jobs",
        "--client",
        "slow",
        "--work-ms",
        "60000",
        "--json",
    ]);
    ok(&["hub", "emit", &u, "resize", "7", "--queue", "jobs"]);
    let line = slow.wait_line(r#""type":"job""#);
    let first: Value = serde_json::from_str(&line).unwrap();
    sigkill(&mut slow.child);
    let other = background(&[
        "hub", "listen", &u, "--queue", "jobs", "--client", "other", "--count", "1", "--json",
    ]);
    let (status, lines) = other.finish();
    assert!(status.success(), "{lines:#?}");
    let got = jobs(&lines);
    assert_eq!(got.len(), 1, "{lines:#?}");
    assert_eq!(got[0].0, first["id"].as_str().unwrap(), "the same job");
    assert_eq!(got[0].1, 2, "second delivery");
    b.wait_queue("acked by the other worker", |q| {
        q["pending"] == 0 && q["ready"] == 0
    });
}

fn dead_letter_after_max_attempts(kind: Kind) {
    let b = Backend::new(kind);
    let server = b.serve(&["--ack-timeout", "0.3", "--max-attempts", "2"]);
    let u = url(&server);
    let w = background(&[
        "hub",
        "listen",
        &u,
        "--queue",
        "jobs",
        "--no-ack",
        "--json",
        "--timeout",
        "3",
    ]);
    ok(&[
        "hub",
        "emit",
        &u,
        "poison",
        r#"{"bad":true}"#,
        "--queue",
        "jobs",
    ]);
    let q = b.wait_queue("dead-lettered", |q| q["dead"] == 1);
    assert_eq!(q["dead_letters"][0]["deliveries"], 2);
    assert_eq!(q["dead_letters"][0]["event"], "poison");
    assert_eq!(
        (q["ready"].as_u64(), q["pending"].as_u64()),
        (Some(0), Some(0))
    );
    let (status, lines) = w.finish();
    assert!(status.success());
    let seen: Vec<u64> = jobs(&lines).iter().map(|j| j.1).collect();
    assert_eq!(
        seen,
        vec![1, 2],
        "two attempts, then the dead letters: {lines:#?}"
    );
    let mut args = vec!["hub".to_string(), "queue".into()];
    args.extend(b.store_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let text = ok(&args);
    assert!(
        text.contains("dead letter") && text.contains("poison"),
        "{text}"
    );
}

#[test]
fn two_hubs_on_one_redis_share_a_work_queue_and_survive_a_killed_hub() {
    let b = Backend::new(Kind::Redis);
    let mut hub_a = b.serve(&["--ack-timeout", "1"]);
    let hub_b = b.serve(&["--ack-timeout", "1"]);
    let (ua, ub) = (url(&hub_a), url(&hub_b));
    // A job put on hub A reaches a worker on hub B.
    let w = background(&[
        "hub", "listen", &ub, "--queue", "jobs", "--count", "1", "--json",
    ]);
    ok(&["hub", "emit", &ua, "resize", "1", "--queue", "jobs"]);
    let (status, lines) = w.finish();
    assert!(status.success(), "{lines:#?}");
    assert_eq!(jobs(&lines).len(), 1);
    // A worker on hub A is busy with a job when hub A is SIGKILLed; the worker comes back on
    // hub B (same client id) and the job, accepted by A, is not lost.
    let slow = background(&[
        "hub",
        "listen",
        &ua,
        "--queue",
        "jobs",
        "--client",
        "w1",
        "--work-ms",
        "60000",
        "--json",
    ]);
    ok(&["hub", "emit", &ua, "resize", "2", "--queue", "jobs"]);
    let mut slow = slow;
    let first: Value = serde_json::from_str(&slow.wait_line(r#""type":"job""#)).unwrap();
    sigkill(&mut hub_a.child);
    let (status, _) = slow.finish();
    assert!(!status.success(), "the worker saw its hub go");
    let again = background(&[
        "hub", "listen", &ub, "--queue", "jobs", "--client", "w1", "--count", "1", "--json",
    ]);
    let (status, lines) = again.finish();
    assert!(status.success(), "{lines:#?}");
    let got = jobs(&lines);
    assert_eq!(got[0].0, first["id"].as_str().unwrap(), "{lines:#?}");
    assert!(got[0].1 >= 2, "a redelivery: {got:?}");
    b.wait_queue("done", |q| q["pending"] == 0 && q["ready"] == 0);
}

#[test]
fn two_hubs_on_one_redis_broadcast_to_rooms_and_the_namespace() {
    let b = Backend::new(Kind::Redis);
    let hub_a = b.serve(&[]);
    let hub_b = b.serve(&[]);
    let (ua, ub) = (url(&hub_a), url(&hub_b));
    let in_room = background(&[
        "hub", "listen", &ub, "--room", "vendor-7", "--count", "1", "--json",
    ]);
    let identified = background(&[
        "hub", "listen", &ub, "--client", "d1", "--room", "vendor-7", "--count", "1", "--json",
    ]);
    let other_room = background(&[
        "hub",
        "listen",
        &ub,
        "--room",
        "vendor-8",
        "--json",
        "--timeout",
        "2",
    ]);
    ok(&["hub", "emit", &ua, "pickup", "P-100", "--room", "vendor-7"]);
    for l in [in_room, identified] {
        let (status, lines) = l.finish();
        assert!(status.success(), "{lines:#?}");
        let ev = hub_common::events(&lines);
        assert_eq!(ev.len(), 1, "{lines:#?}");
        assert_eq!(
            (ev[0].1.as_str(), &ev[0].2),
            ("pickup", &Value::from("P-100"))
        );
    }
    let (status, lines) = other_room.finish();
    assert!(status.success());
    assert!(hub_common::events(&lines).is_empty(), "{lines:#?}");
    // The whole namespace, from a client on hub B to one on hub A.
    let all = background(&["hub", "listen", &ua, "--count", "1", "--json"]);
    ok(&["hub", "emit", &ub, "news", "1"]);
    let (status, lines) = all.finish();
    assert!(status.success(), "{lines:#?}");
    assert_eq!(hub_common::events(&lines)[0].1, "news");
}

#[test]
fn work_queue_lesson_runs() {
    let out = wirelab()
        .args(["tour", "--only", "work-queue"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    for needle in [
        "emitted uploaded: 2 recipient(s)",
        "4 job(s) stored by the hub",
        "worker-1: job #",
        "worker-2: job #",
        r#"worker-a: job #5 resize {"photo":5}"#,
        r#"worker-b: job #5 resize {"photo":5} from conn-"#,
        "(delivery 2)",
        r#"dead letter /photos:resize job #6 resize {"photo":"corrupt.jpg"} after 2 deliveries"#,
        "stopped (idle (--exit-after-idle))",
    ] {
        assert!(
            text.contains(needle),
            "lesson output lacks {needle:?}:\n{text}"
        );
    }
    // Four jobs, four deliveries in the two-worker step: none twice.
    let shared = text
        .lines()
        .filter(|l| l.starts_with("worker-1: job #") || l.starts_with("worker-2: job #"))
        .count();
    assert_eq!(shared, 4, "{text}");
}

#[test]
fn identified_client_fails_over_to_another_hub_with_its_queue_and_rooms() {
    let b = Backend::new(Kind::Redis);
    let mut hub_a = b.serve(&["--ack-timeout", "30"]);
    let hub_b = b.serve(&[]);
    let (ua, ub) = (url(&hub_a), url(&hub_b));
    // driver-1 joins a room on hub A, goes offline; an event for it is queued there.
    ok(&[
        "hub",
        "listen",
        &ua,
        "--client",
        "driver-1",
        "--room",
        "vendor-7",
        "--timeout",
        "0.3",
    ]);
    let out = ok(&["hub", "emit", &ua, "pickup", "P-1", "--room", "vendor-7"]);
    assert!(out.contains("1 written to the queue"), "{out}");
    // It comes back to hub A and gets it, plus a live one, but acknowledges neither.
    let d = background(&[
        "hub", "listen", &ua, "--client", "driver-1", "--count", "2", "--no-ack", "--json",
    ]);
    ok(&["hub", "emit", &ua, "pickup", "P-2", "--room", "vendor-7"]);
    let (status, lines) = d.finish();
    assert!(status.success(), "{lines:#?}");
    let on_a: Vec<u64> = hub_common::events(&lines).iter().map(|e| e.0).collect();
    assert_eq!(on_a.len(), 2, "{lines:#?}");
    sigkill(&mut hub_a.child);
    // On hub B: the same two events (same ids), and its room.
    let d = background(&[
        "hub", "listen", &ub, "--client", "driver-1", "--count", "2", "--json",
    ]);
    let (status, lines) = d.finish();
    assert!(status.success(), "{lines:#?}");
    let on_b: Vec<u64> = hub_common::events(&lines).iter().map(|e| e.0).collect();
    assert_eq!(on_b, on_a, "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains(r#""rooms":["vendor-7"]"#)),
        "{lines:#?}"
    );
    // Acknowledged on B: gone for good.
    let again = ok(&[
        "hub",
        "listen",
        &ub,
        "--client",
        "driver-1",
        "--timeout",
        "0.5",
        "--json",
    ]);
    assert!(
        hub_common::events(&again.lines().map(String::from).collect::<Vec<_>>()).is_empty(),
        "{again}"
    );
    // And a room emit on hub B reaches it through its stored membership.
    let d = background(&[
        "hub", "listen", &ub, "--client", "driver-1", "--count", "1", "--json",
    ]);
    ok(&["hub", "emit", &ub, "pickup", "P-3", "--room", "vendor-7"]);
    let (status, lines) = d.finish();
    assert!(status.success(), "{lines:#?}");
}

/// The per-client durable queue (lesson 08) behaves the same on both stores: queued while
/// offline, redelivered with the same ids until acknowledged, then gone.
fn client_queue_survives_offline_and_unacked(kind: Kind) {
    let b = Backend::new(kind);
    let server = b.serve(&[]);
    let u = url(&server);
    ok(&[
        "hub",
        "listen",
        &u,
        "--client",
        "d1",
        "--room",
        "r",
        "--timeout",
        "0.3",
    ]);
    for p in ["P-1", "P-2"] {
        let out = ok(&["hub", "emit", &u, "pickup", p, "--room", "r"]);
        assert!(out.contains("1 written to the queue"), "{out}");
    }
    let first = ok(&[
        "hub", "listen", &u, "--client", "d1", "--count", "2", "--no-ack", "--json",
    ]);
    let lines: Vec<String> = first.lines().map(String::from).collect();
    let ev = hub_common::events(&lines);
    assert_eq!(ev.len(), 2, "{first}");
    assert_eq!(ev[0].2, Value::from("P-1"), "oldest first");
    let second = ok(&[
        "hub", "listen", &u, "--client", "d1", "--count", "2", "--json",
    ]);
    let lines2: Vec<String> = second.lines().map(String::from).collect();
    let ids = |l: &[String]| -> Vec<u64> { hub_common::events(l).iter().map(|e| e.0).collect() };
    assert_eq!(ids(&lines2), ids(&lines), "same ids again");
    assert!(second.contains(r#""redelivery":true"#), "{second}");
    let third = ok(&[
        "hub",
        "listen",
        &u,
        "--client",
        "d1",
        "--timeout",
        "0.5",
        "--json",
    ]);
    let lines3: Vec<String> = third.lines().map(String::from).collect();
    assert!(hub_common::events(&lines3).is_empty(), "{third}");
}

#[test]
fn bad_queue_names_and_store_urls_are_bad_input() {
    for args in [
        &["hub", "emit", "ws://127.0.0.1:9/", "x", "--queue", ""][..],
        &["hub", "listen", "ws://127.0.0.1:9/", "--queue", "bad\nname"][..],
        &[
            "hub",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--store",
            "http://x",
        ][..],
        &["hub", "queue", "--store", "nonsense"][..],
    ] {
        let o = hub_common::run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("queue") || err.contains("--store"), "{err}");
    }
}

/// Job ids a worker that ran `--count N --json` to the end printed (it must succeed).
fn worker_jobs(u: &str, client: &str, count: usize) -> Vec<(String, u64, bool)> {
    let n = count.to_string();
    let w = background(&[
        "hub",
        "listen",
        u,
        "--queue",
        "jobs",
        "--client",
        client,
        "--count",
        &n,
        "--json",
        "--timeout",
        "10",
    ]);
    let (status, lines) = w.finish();
    assert!(status.success(), "{client}: {lines:#?}");
    let got = jobs(&lines);
    assert_eq!(got.len(), count, "{client}: {lines:#?}");
    got
}

/// A worker told to stop takes no further job, acks none it did not print, and what it was
/// sent ahead (prefetch) goes to the next worker: stopped by `--count`, by SIGINT in the middle
/// of a job, and by its stdout closing. The hub's ack timeout is long, so anything that moves
/// moved because the worker left.
fn stopped_worker_takes_no_further_job(kind: Kind) {
    let b = Backend::new(kind);
    let server = b.serve(&["--ack-timeout", "60"]);
    let u = url(&server);
    let emit = |n: &str| {
        let out = ok(&[
            "hub", "emit", &u, "resize", "{n}", "--queue", "jobs", "--repeat", n,
        ]);
        assert!(out.contains(&format!("{n} job(s) stored")), "{out}");
    };

    // 1. --count 2 with 4 sent ahead: it prints and acks 2; the other 4 go to the next worker.
    emit("6");
    let w = background(&[
        "hub",
        "listen",
        &u,
        "--queue",
        "jobs",
        "--client",
        "a",
        "--count",
        "2",
        "--prefetch",
        "4",
        "--work-ms",
        "200",
        "--json",
    ]);
    let (status, lines) = w.finish();
    assert!(status.success(), "{lines:#?}");
    let a: Vec<String> = jobs(&lines).into_iter().map(|j| j.0).collect();
    assert_eq!(a.len(), 2, "{lines:#?}");
    let next = worker_jobs(&u, "b", 4);
    let mut all: HashSet<String> = a.iter().cloned().collect();
    for (id, _, dup) in &next {
        assert!(!dup, "{next:?}");
        assert!(
            all.insert(id.clone()),
            "job {id} again after it was acked: {next:?}"
        );
    }
    assert_eq!(all.len(), 6);
    b.wait_queue("all six acked", |q| q["pending"] == 0 && q["ready"] == 0);

    // 2. SIGINT while a job is being worked on (prefetch 3: the other two are with it): it
    //    ends at once with status 0, and that job and the two others go to the next worker.
    emit("3");
    let mut c = background(&[
        "hub",
        "listen",
        &u,
        "--queue",
        "jobs",
        "--client",
        "c",
        "--prefetch",
        "3",
        "--work-ms",
        "60000",
        "--json",
    ]);
    let line = c.wait_line(r#""type":"job""#);
    let first: Value = serde_json::from_str(&line).unwrap();
    let t = Instant::now();
    // SAFETY: kill(2) on the pid of our own child.
    unsafe {
        libc::kill(c.child.id() as libc::pid_t, libc::SIGINT);
    }
    let (status, lines) = c.finish();
    assert!(status.success(), "{status:?} {lines:#?}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(jobs(&lines).len(), 1, "one job, then stopped: {lines:#?}");
    let d = worker_jobs(&u, "d", 3);
    let ids: HashSet<&str> = d.iter().map(|j| j.0.as_str()).collect();
    assert_eq!(ids.len(), 3, "{d:?}");
    assert!(ids.contains(first["id"].as_str().unwrap()), "{d:?}");
    b.wait_queue("all three acked", |q| q["pending"] == 0 && q["ready"] == 0);

    // 3. Stdout closed after its first line (ready): the first job cannot be written, so it
    //    exits with status 0 and acks nothing; the next worker gets all three.
    let mut e = wirelab()
        .args([
            "hub",
            "listen",
            &u,
            "--queue",
            "jobs",
            "--client",
            "e",
            "--prefetch",
            "3",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = e.stdout.take().unwrap();
    let mut first = Vec::new();
    let mut byte = [0u8; 1];
    while out.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        first.push(byte[0]);
    }
    assert!(
        String::from_utf8_lossy(&first).contains("ready"),
        "{first:?}"
    );
    drop(out);
    emit("3");
    let t = Instant::now();
    let status = loop {
        if let Some(s) = e.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "still running");
        thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let f = worker_jobs(&u, "f", 3);
    assert!(f.iter().all(|j| !j.2), "{f:?}");
    b.wait_queue("all three acked", |q| q["pending"] == 0 && q["ready"] == 0);
}

//! The Autobahn|Testsuite cases (via `kosoku`, its Python 3 port) against
//! `wirelab ws serve --echo`: every case must be OK, NON-STRICT or INFORMATIONAL.
//!
//! Sections 12 and 13 (permessage-deflate, 216 cases of 1000 messages each) run against
//! `ws serve --echo --compress` and the client with compression on. They take minutes, so by
//! default a subset runs ([`compression_cases`]: three sizes from every subsection, plain and
//! fragmented); `WIRELAB_AUTOBAHN_FULL=1` runs all 216. tests/ws_deflate.rs covers the same
//! offers with Python `websockets`.

mod ws_common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Command;

use ws_common::{installed, wirelab_server};

#[test]
fn autobahn_fuzzingclient_finds_no_failure() {
    let kosoku = installed(".venv/bin/kosoku");
    let server = wirelab_server(&["--echo", "--quiet"]);
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(&kosoku)
        .args([
            "-m",
            "fuzzingclient",
            &server.addr,
            "-x",
            "12.*",
            "-x",
            "13.*",
            "-o",
        ])
        .arg(out.path())
        .current_dir(out.path())
        .status()
        .expect("cannot run kosoku");
    let (cases, failed) = read_report(out.path(), "kosoku against wirelab ws serve --echo");
    let st = server.interrupt();
    assert!(st.success(), "ws serve exited with {st} on SIGINT");
    assert!(failed.is_empty(), "failed cases:\n{}", failed.join("\n"));
    assert_eq!(cases, 301, "expected the 301 cases outside sections 12-13");
    assert!(status.success(), "kosoku exited with {status}");
}

/// The client side: kosoku as the Autobahn fuzzing server, wirelab's client library as the
/// agent that connects for each case and echoes what it receives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autobahn_fuzzingserver_finds_no_failure_in_the_client() {
    let select = ["-x", "12.*", "-x", "13.*"].map(String::from);
    let run = run_client_cases(
        &select,
        false,
        "kosoku fuzzingserver against wirelab's client",
    )
    .await;
    assert!(
        run.failed.is_empty(),
        "failed cases:\n{}",
        run.failed.join("\n")
    );
    assert_eq!((run.count, run.cases), (301, 301));
    assert!(run.status.success(), "kosoku exited with {}", run.status);
}

/// What [`run_client_cases`] found.
struct ClientRun {
    /// Cases the fuzzing server announced, and cases in its report.
    count: usize,
    cases: usize,
    failed: Vec<String>,
    /// Connections on which permessage-deflate was agreed.
    negotiated: usize,
    status: std::process::ExitStatus,
}

/// Runs kosoku's fuzzingserver with the `select` arguments, connects wirelab's client for
/// every case (offering compression when `compress`), echoes until the case ends, and reads
/// the report.
async fn run_client_cases(select: &[String], compress: bool, title: &str) -> ClientRun {
    use std::time::Duration;
    use wirelab::ws::client::{connect, connect_with, WsUrl};
    use wirelab::ws::conn::{Config, Message};

    let kosoku = installed(".venv/bin/kosoku");
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "o=\"$1\"; shift; exec \"$0\" -m fuzzingserver 127.0.0.1:0 \"$@\" -o \"$o\" 2>&1",
    ])
    .arg(&kosoku)
    .arg(out.path())
    .args(select)
    .current_dir(out.path());
    let mut server = ws_common::spawn_server(cmd);
    let base = server.addr.trim_start_matches("ws://").to_string();
    let url = |path: &str| WsUrl::parse(&format!("ws://{base}{path}")).unwrap();
    let t = Duration::from_secs(10);
    let mut c = connect(&url("/getCaseCount"), Config::default(), t)
        .await
        .unwrap();
    let count: usize = match c.ws.recv().await.unwrap() {
        Ok(Message::Text(n)) => n.trim().parse().unwrap(),
        other => panic!("getCaseCount answered {other:?}"),
    };
    drop(c);
    let mut negotiated = 0;
    for case in 1..=count {
        let path = format!("/runCase?case={case}&agent=wirelab");
        let Ok(mut c) = connect_with(&url(&path), Config::default(), t, compress).await else {
            continue;
        };
        negotiated += usize::from(c.deflate.is_some());
        // Echo until the case ends; recv() answers pings and close frames itself.
        while let Ok(Ok(m)) = c.ws.recv().await {
            if c.ws.send(&m).await.is_err() {
                break;
            }
        }
    }
    let mut c = connect(&url("/updateReports?agent=wirelab"), Config::default(), t)
        .await
        .unwrap();
    while let Ok(Ok(_)) = c.ws.recv().await {}
    drop(c);
    let status = tokio::task::spawn_blocking(move || server.child.wait().unwrap())
        .await
        .unwrap();
    let (cases, failed) = read_report(out.path(), title);
    ClientRun {
        count,
        cases,
        failed,
        negotiated,
        status,
    }
}

/// The compression cases kosoku can run: `-i`/`-x` arguments and how many cases they select.
fn compression_cases() -> (Vec<String>, usize) {
    let subsections = [
        "12.1", "12.2", "12.3", "12.4", "12.5", "13.1", "13.2", "13.3", "13.4", "13.5", "13.6",
        "13.7",
    ];
    if std::env::var_os("WIRELAB_AUTOBAHN_FULL").is_some() {
        let args = subsections
            .iter()
            .flat_map(|s| ["-i".to_string(), format!("{s}.*")])
            .collect();
        return (args, subsections.len() * 18);
    }
    // 16 bytes, 4096 bytes, and 8192 bytes auto-fragmented into 256-byte frames.
    let args = subsections
        .iter()
        .flat_map(|s| [1, 5, 11].map(|c| ["-i".to_string(), format!("{s}.{c}")]))
        .flatten()
        .collect();
    (args, subsections.len() * 3)
}

#[test]
fn autobahn_compression_cases_pass_against_the_server() {
    let kosoku = installed(".venv/bin/kosoku");
    let server = wirelab_server(&["--echo", "--quiet", "--compress"]);
    let out = tempfile::tempdir().unwrap();
    let (select, expected) = compression_cases();
    let status = Command::new(&kosoku)
        .args(["-m", "fuzzingclient", &server.addr])
        .args(&select)
        .arg("-o")
        .arg(out.path())
        .current_dir(out.path())
        .status()
        .expect("cannot run kosoku");
    let (cases, failed) = read_report(out.path(), "kosoku 12.x/13.x against ws serve --compress");
    let st = server.interrupt();
    assert!(st.success(), "ws serve exited with {st} on SIGINT");
    assert!(failed.is_empty(), "failed cases:\n{}", failed.join("\n"));
    assert_eq!(cases, expected);
    assert!(status.success(), "kosoku exited with {status}");
}

/// The client with compression: kosoku's fuzzingserver answers each case's offer with the
/// parameters the case tests (window bits 9 and 15, client_no_context_takeover).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autobahn_compression_cases_pass_against_the_client() {
    let (select, expected) = compression_cases();
    let run = run_client_cases(&select, true, "kosoku 12.x/13.x against the client").await;
    assert!(
        run.failed.is_empty(),
        "failed cases:\n{}",
        run.failed.join("\n")
    );
    assert_eq!((run.count, run.cases), (expected, expected));
    assert_eq!(
        run.negotiated, expected,
        "every case negotiated permessage-deflate"
    );
    assert!(run.status.success(), "kosoku exited with {}", run.status);
}

/// Reads kosoku's `index.json` in `dir`, prints the summary per behaviour to stderr (past the
/// test harness's capture: it belongs in CI logs), and returns the number of cases and the
/// ones that failed.
fn read_report(dir: &std::path::Path, title: &str) -> (usize, Vec<String>) {
    let index = std::fs::read_to_string(dir.join("index.json")).expect("no index.json");
    let index: serde_json::Value = serde_json::from_str(&index).unwrap();
    let cases = index
        .as_object()
        .and_then(|agents| agents.values().next())
        .and_then(|v| v.as_object())
        .expect("index.json has no agent");
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut failed = Vec::new();
    for (id, case) in cases {
        let b = case["behavior"].as_str().unwrap_or("?").to_string();
        let c = case["behaviorClose"].as_str().unwrap_or("?").to_string();
        if !matches!(b.as_str(), "OK" | "NON-STRICT" | "INFORMATIONAL")
            || !matches!(c.as_str(), "OK" | "NON-STRICT" | "INFORMATIONAL")
        {
            failed.push(format!("{id}: behavior {b}, close {c}"));
        }
        *counts.entry(b).or_default() += 1;
    }
    let mut summary = format!("Autobahn|Testsuite ({title}): {} cases\n", cases.len());
    for (b, n) in &counts {
        summary.push_str(&format!("  {b:<14} {n}\n"));
    }
    let _ = std::io::stderr().write_all(summary.as_bytes());
    (cases.len(), failed)
}

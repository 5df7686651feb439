//! The Autobahn|Testsuite cases (via `kosoku`, its Python 3 port) against
//! `wirelab ws serve --echo`: every case must be OK, NON-STRICT or INFORMATIONAL.
//! Sections 12 and 13 (permessage-deflate) are excluded: wirelab negotiates no extension.

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
    let index = std::fs::read_to_string(out.path().join("index.json")).expect("no index.json");
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
    // Straight to stderr, past the test harness's capture: the summary belongs in CI logs.
    let mut summary = format!(
        "Autobahn|Testsuite (kosoku) against wirelab ws serve --echo: {} cases\n",
        cases.len()
    );
    for (b, n) in &counts {
        summary.push_str(&format!("  {b:<14} {n}\n"));
    }
    let _ = std::io::stderr().write_all(summary.as_bytes());
    let st = server.interrupt();
    assert!(st.success(), "ws serve exited with {st} on SIGINT");
    assert!(failed.is_empty(), "failed cases:\n{}", failed.join("\n"));
    assert_eq!(
        cases.len(),
        301,
        "expected the 301 cases outside sections 12-13"
    );
    assert!(status.success(), "kosoku exited with {status}");
}

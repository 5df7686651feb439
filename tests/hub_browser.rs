//! The hub page in headless Chromium (the approach of tests/ws_browser.rs): served at / by
//! `hub serve`, it joins a room with the browser's own WebSocket, shows an event emitted from
//! the terminal (and acks it), and emits an event that `wirelab hub listen` receives.

mod hub_common;
mod ws_common;

use std::process::Command;

use hub_common::{background, events, hub};
use ws_common::{installed, root};

#[test]
fn hub_page_joins_emits_and_acks_in_headless_chromium() {
    installed("node_modules/playwright-core");
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: run scripts/test, which installs it"
    );
    let dir = tempfile::tempdir().unwrap();
    let server = hub(dir.path(), &[]);
    let url = format!("ws://{}/", server.addr);
    let listener = background(&[
        "hub",
        "listen",
        &url,
        "--room",
        "lobby",
        "--count",
        "2",
        "--json",
        "--timeout",
        "30",
    ]);
    let out = Command::new("node")
        .arg(root().join("tests/peers/hub_browser.mjs"))
        .arg(format!("http://{}/", server.addr))
        .arg(env!("CARGO_BIN_EXE_wirelab"))
        .output()
        .expect("cannot run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    assert!(
        out.status.success(),
        "browser script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("browser: ok"), "{stdout}");
    let (status, lines) = listener.finish();
    assert!(status.success(), "{lines:#?}");
    let ev = events(&lines);
    assert_eq!(ev[0].1, "news");
    assert_eq!(ev[1].1, "hello");
    assert_eq!(ev[1].2, serde_json::json!({"from": "chromium"}));
    server.wait_line("plain HTTP GET / -> 200");
    assert!(
        server.interrupt().success(),
        "hub serve did not exit 0 on SIGINT"
    );
}

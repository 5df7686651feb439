//! The demo page in headless Chromium: it loads over plain HTTP, opens a WebSocket back to
//! `wirelab ws serve`, sends what is typed and shows the echo.

mod ws_common;

use std::process::Command;

use ws_common::{installed, root, wirelab_server};

#[test]
fn demo_page_echoes_in_headless_chromium() {
    installed("node_modules/playwright-core");
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: run scripts/test, which installs it"
    );
    let server = wirelab_server(&["--echo", "--show-frames"]);
    let out = Command::new("node")
        .arg(root().join("tests/peers/ws_browser.mjs"))
        .arg(format!("http://{}/", server.addr))
        .output()
        .expect("cannot run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    assert!(
        out.status.success(),
        "browser script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("browser: echo ok"), "{stdout}");
    server.wait_line("plain HTTP GET / -> 200");
    server.wait_line("> Sec-WebSocket-Key:");
    let frame = server.wait_line("frame <- in");
    assert!(frame.contains("opcode=0x1 text"), "{frame}");
    assert!(
        !frame.contains("mask=none"),
        "browser frames are masked: {frame}"
    );
    server.wait_line("<- in  text message, 30 bytes: \"hello from chromium κόσμε\"");
    assert!(
        server.interrupt().success(),
        "ws serve did not exit 0 on SIGINT"
    );
}

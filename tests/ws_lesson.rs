//! The `websocket` lesson runs end to end: its servers start on free ports, its clients talk
//! to them, and the servers stop by themselves.

use std::process::Command;

#[test]
fn websocket_lesson_runs() {
    let out = Command::new(env!("CARGO_BIN_EXE_wirelab"))
        .args(["tour", "--only", "websocket"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        "< HTTP/1.1 101 Switching Protocols",
        "frame <- in  FIN=1 opcode=0x1 text",
        "opcode=0xa pong",
        "relayed to nobody",
        "stopped (served --max-conns connections)",
        "< Sec-WebSocket-Extensions: permessage-deflate",
        "RSV1=1 opcode=0x1 text",
        "compressed, 46 bytes inflated",
    ] {
        assert!(
            text.contains(needle),
            "lesson output lacks {needle:?}:\n{text}"
        );
    }
    let summary = text
        .lines()
        .find(|l| l.starts_with("| websocket "))
        .unwrap_or_default();
    let cells: Vec<&str> = summary.split_whitespace().collect();
    assert_eq!(cells.get(2..4), Some(&["17", "ok"][..]), "{text}");
}

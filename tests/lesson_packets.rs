//! The `packets` lesson runs end to end on the bundled fixtures.

use assert_cmd::Command;

#[test]
fn packets_lesson_runs() {
    let out = Command::cargo_bin("wirelab")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["lesson", "run", "packets", "--no-pause"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "[handshake 1/3]",
        "[teardown last ACK]",
        "Internet Protocol version 4  [OSI 3 network · TCP/IP internet]  bytes 14..34",
        "[http 66..145 · OSI 7 application · header]",
        "+ A? example.test.",
        "ARP, Request who-has 10.99.0.2 tell 10.99.0.1",
        "Protocol hierarchy (20 frames",
        "\"name\":\"websocket\"",
    ] {
        assert!(text.contains(expected), "lesson output lacks {expected:?}");
    }
}

//! The hub protocol spoken by an independent client: Python `websockets` (tests/peers/
//! hub_check.py) against `wirelab hub serve`. Broadcast excludes the sender, rooms with and
//! without the sender, namespace isolation, acks, error frames, redelivery after an ack timeout.

mod hub_common;
mod ws_common;

use std::process::Command;

use hub_common::hub;
use ws_common::{installed, root};

fn check(scenario: &str, hub_args: &[&str]) {
    let python = installed(".venv/bin/python");
    let dir = tempfile::tempdir().unwrap();
    let server = hub(dir.path(), hub_args);
    let out = Command::new(python)
        .arg(root().join("tests/peers/hub_check.py"))
        .arg(scenario)
        .arg(format!("ws://{}/", server.addr))
        .output()
        .expect("cannot run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{scenario}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("ok {scenario}")), "{stdout}");
    assert!(
        server.interrupt().success(),
        "hub serve did not exit 0 on SIGINT"
    );
}

#[test]
fn broadcast_excludes_the_sender_and_rooms_select() {
    check("broadcast", &[]);
}

#[test]
fn namespaces_are_isolated() {
    check("namespaces", &[]);
}

#[test]
fn ack_round_trip() {
    check("ack", &[]);
}

#[test]
fn bad_frames_get_error_frames_and_the_connection_stays_up() {
    check("errors", &[]);
}

#[test]
fn unacknowledged_event_is_redelivered_after_the_ack_timeout() {
    check("redeliver", &["--ack-timeout", "0.3"]);
}

#[test]
fn a_frame_over_max_message_closes_with_1009() {
    check("too_big", &["--max-message", "1024"]);
}

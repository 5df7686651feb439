//! The `events` and `message-queue` lessons run end to end: the hub starts on a free port, the
//! clients talk to it one after the other, and the hub stops by itself.

use std::process::Command;

fn tour(id: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wirelab"))
        .args(["tour", "--only", id])
        .env("NO_COLOR", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("stopped (idle (--exit-after-idle))"),
        "{text}"
    );
    text
}

#[test]
fn events_lesson_runs() {
    let text = tour("events");
    for needle in [
        "emit dinner to rooms kitchen: 1 recipient(s)",
        "emit weather to broadcast: 2 recipient(s)",
        "emit everyone to namespace: 3 recipient(s)",
        "emit score to broadcast: 0 recipient(s)",
        "event #1 dinner \"ready at 7\" from conn-4 in room kitchen",
        "ack from conn-",
        "2 recipient(s), 0 online now, 0 written to the queue, 2 dropped",
    ] {
        assert!(
            text.contains(needle),
            "lesson output lacks {needle:?}:\n{text}"
        );
    }
    // Bob is not in the kitchen.
    let bob = text
        .split("--client bob --count 2")
        .nth(1)
        .unwrap_or_default();
    let bob = bob.split("## Acknowledgements").next().unwrap_or_default();
    assert!(!bob.contains("dinner"), "{bob}");
}

#[test]
fn message_queue_lesson_runs() {
    let text = tour("message-queue");
    for needle in [
        "| /parcels    driver-1   2        #1 pickup",
        "2 event(s) waiting for 1 client(s)",
        "1 recipient(s), 0 online now, 0 written to the queue, 1 dropped",
        "(redelivery)",
        "ack #2 from driver-1: deleted from the queue (0 left)",
        "0 event(s) waiting for 0 client(s)",
        "done: 20 event(s), 0 duplicate(s) dropped",
    ] {
        assert!(
            text.contains(needle),
            "lesson output lacks {needle:?}:\n{text}"
        );
    }
    // The slow reader: 1 to 20 in order, none redelivered.
    let slow = text
        .split("--pause 1 --timeout 5")
        .nth(1)
        .unwrap_or_default();
    let slow = slow.split("done: 20").next().unwrap_or_default();
    let order: Vec<u64> = slow
        .lines()
        .filter(|l| l.starts_with("event #") && l.contains("position"))
        .filter_map(|l| l.split("{\"n\":").nth(1)?.split('}').next()?.parse().ok())
        .collect();
    assert_eq!(order, (1..=20).collect::<Vec<_>>(), "{slow}");
    assert!(!slow.contains("redelivery"), "{slow}");
}

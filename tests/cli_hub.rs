//! `hub emit` DATA that starts like JSON must be JSON; `hub listen --workers N --count C`
//! counts C for the whole command.

mod common;

use std::time::{Duration, Instant};

use common::{wirelab, Server};

fn hub() -> (Server, String) {
    let srv = Server::start(&["hub", "serve", "--memory", "--quiet"]);
    let url = format!("ws://{}/", srv.addr);
    (srv, url)
}

#[test]
fn emit_data_that_starts_like_json_must_parse() {
    let (_srv, url) = hub();
    let out = wirelab()
        .args([
            "hub",
            "emit",
            &url,
            "pickup",
            r#"{"parcel":"#,
            "--to-client",
            "d-1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("starts like JSON but is not: EOF while parsing a value at column 10"),
        "{err}"
    );
    // Nothing reached d-1's durable queue.
    let out = wirelab()
        .args([
            "hub",
            "listen",
            &url,
            "--client",
            "d-1",
            "--count",
            "1",
            "--timeout",
            "0.5",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A bare word stays a string.
    let out = wirelab()
        .args(["hub", "emit", &url, "pickup", "P-100", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // --repeat's template is checked the same way.
    let out = wirelab()
        .args([
            "hub",
            "emit",
            &url,
            "resize",
            r#"{"photo":{n}"#,
            "--queue",
            "q",
            "--repeat",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn listen_workers_count_is_for_the_whole_command() {
    let (_srv, url) = hub();
    let emit = wirelab()
        .args(["hub", "emit", &url, "resize", r#"{"photo":{n}}"#])
        .args(["--queue", "resize", "--repeat", "4"])
        .output()
        .unwrap();
    assert!(
        emit.status.success(),
        "{}",
        String::from_utf8_lossy(&emit.stderr)
    );
    let t = Instant::now();
    let out = wirelab()
        .args([
            "hub",
            "listen",
            &url,
            "--queue",
            "resize",
            "--workers",
            "2",
            "--count",
            "4",
        ])
        .args(["--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "waited {:?}",
        t.elapsed()
    );
    let jobs = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(r#""type":"job""#))
        .count();
    assert_eq!(jobs, 4);

    // Past the edge: 2 more jobs but --count 3 -> exit 1 saying how many came.
    let emit = wirelab()
        .args([
            "hub", "emit", &url, "resize", "x", "--queue", "resize", "--repeat", "2",
        ])
        .output()
        .unwrap();
    assert!(emit.status.success());
    let out = wirelab()
        .args([
            "hub",
            "listen",
            &url,
            "--queue",
            "resize",
            "--workers",
            "2",
            "--count",
            "3",
        ])
        .args(["--timeout", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("got 2 of 3"), "{err}");
}

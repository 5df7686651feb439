//! `hub emit` DATA that starts like JSON must be JSON; `hub listen --workers N --count C`
//! counts C for the whole command.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::{wirelab, Server};

fn hub() -> (Server, String) {
    let srv = Server::start(&["hub", "serve", "--memory", "--quiet"]);
    let url = format!("ws://{}/", srv.addr);
    (srv, url)
}

fn run(args: &[&str]) -> Output {
    wirelab().args(args).output().expect("run wirelab")
}

/// Runs and expects exit 0; returns standard output.
fn ok(args: &[&str]) -> String {
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn emit_data_that_starts_like_json_must_parse() {
    let (_srv, url) = hub();
    let out = run(&[
        "hub",
        "emit",
        &url,
        "pickup",
        r#"{"parcel":"#,
        "--to-client",
        "d-1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let says = "starts like JSON but is not: EOF while parsing a value at column 10";
    assert!(err.contains(says), "{err}");
    // Nothing reached d-1's durable queue.
    let listen = [
        "hub",
        "listen",
        &url,
        "--client",
        "d-1",
        "--count",
        "1",
        "--timeout",
        "0.5",
    ];
    assert_eq!(run(&listen).status.code(), Some(1));
    // A bare word stays a string.
    ok(&["hub", "emit", &url, "pickup", "P-100", "--json"]);
    // --repeat's template is checked the same way.
    let bad = r#"{"photo":{n}"#;
    let out = run(&[
        "hub", "emit", &url, "resize", bad, "--queue", "q", "--repeat", "2",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn listen_workers_count_is_for_the_whole_command() {
    let (_srv, url) = hub();
    let photo = r#"{"photo":{n}}"#;
    ok(&[
        "hub", "emit", &url, "resize", photo, "--queue", "resize", "--repeat", "4",
    ]);
    let workers = ["hub", "listen", &url, "--queue", "resize", "--workers", "2"];
    let t = Instant::now();
    let out = ok(&[&workers[..], &["--count", "4", "--json"]].concat());
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "waited {:?}",
        t.elapsed()
    );
    let jobs = out
        .lines()
        .filter(|l| l.contains(r#""type":"job""#))
        .count();
    assert_eq!(jobs, 4);

    // Past the edge: 2 more jobs but --count 3 -> exit 1 saying how many came.
    ok(&[
        "hub", "emit", &url, "resize", "x", "--queue", "resize", "--repeat", "2",
    ]);
    let out = run(&[&workers[..], &["--count", "3", "--timeout", "1"]].concat());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("got 2 of 3"), "{err}");
}

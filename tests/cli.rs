//! The command line as a user meets it: help, layers, bad input and exit codes, the tour.

mod common;

use std::net::TcpListener;

use common::wirelab;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = wirelab().args(args).output().expect("run wirelab");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn layers_json_has_seven_layers_with_commands() {
    let (code, out, _) = run(&["layers", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    let layers = v["layers"].as_array().expect("layers array");
    assert_eq!(layers.len(), 7);
    let mut numbers: Vec<u64> = layers
        .iter()
        .map(|l| l["number"].as_u64().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers, vec![1, 2, 3, 4, 5, 6, 7]);
    for l in layers {
        for k in ["name", "tcpip", "pdu", "commands"] {
            assert!(l.get(k).is_some(), "layer {} has no {k}", l["number"]);
        }
    }
    let transport = layers.iter().find(|l| l["number"] == 4).unwrap();
    assert_eq!(transport["tcpip"], "transport");
    let cmds = transport["commands"].to_string();
    assert!(
        cmds.contains("wirelab tcp serve") && cmds.contains("wirelab compare"),
        "{cmds}"
    );
}

#[test]
fn help_names_the_layer() {
    let (code, out, _) = run(&["tcp", "serve", "--help"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Layer: OSI 4 transport"), "{out}");
    let (_, out, _) = run(&["compare", "--help"]);
    assert!(out.contains("Layer: OSI 4"), "{out}");
}

#[test]
fn bad_input_exits_2_and_names_it() {
    let cases: &[(&[&str], &str)] = &[
        (&["udp", "send", "127.0.0.1:9", "--loss", "1.5"], "1.5"),
        (&["udp", "send", "127.0.0.1:9", "--count", "0"], "0"),
        (&["udp", "send", "not-an-address"], "not-an-address"),
        (&["tcp", "send", "nowhere", "hi"], "nowhere"),
        (&["compare", "--loss", "-0.1"], "-0.1"),
        (&["udp", "send", "9", "--size", "10"], "10"),
        (&["lesson", "run", "no-such-lesson"], "no-such-lesson"),
        (&["tcp", "serve", "--idle-timeout", "0"], "0"),
    ];
    for (args, needle) in cases {
        let (code, _, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn port_in_use_exits_2_and_names_the_address() {
    let held = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = held.local_addr().unwrap().to_string();
    let (code, _, err) = run(&["tcp", "serve", "--listen", &addr]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&addr) && err.contains("already in use"),
        "{err}"
    );
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = udp.local_addr().unwrap().to_string();
    let (code, _, err) = run(&["udp", "recv", "--listen", &addr]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&addr), "{err}");
}

#[test]
fn a_peer_that_is_not_there_is_a_runtime_failure() {
    let port = common::free_port().to_string();
    let (code, _, err) = run(&["tcp", "send", &port, "hello", "--timeout", "2"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nothing listens"), "{err}");
}

#[test]
fn a_peer_that_never_echoes_times_out() {
    // Accepts and reads nothing back: the client must give up, not hang.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().unwrap().to_string();
    let holder = std::thread::spawn(move || l.accept().map(|(s, _)| s));
    let (code, _, err) = run(&["tcp", "send", &addr, "hello", "--timeout", "0.5"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("timed out"), "{err}");
    drop(holder.join());
}

#[test]
fn lesson_list_and_show() {
    let (code, out, _) = run(&["lesson", "list", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = v["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    for id in ["layers", "tcp", "udp", "tcp-vs-udp"] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    let (code, out, _) = run(&["lesson", "show", "tcp"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Questions this lesson answers\n-----"),
        "{out}"
    );
    assert!(
        !out.contains("**"),
        "markdown left in the rendered lesson: {out}"
    );
}

#[test]
fn completions_are_generated() {
    let (code, out, _) = run(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(out.contains("wirelab") && out.contains("compare"));
}

/// The main job: every lesson's every step runs and succeeds.
#[test]
fn tour_runs_every_lesson() {
    let (code, out, err) = run(&["tour"]);
    assert_eq!(code, 0, "tour failed:\n{out}\n{err}");
    assert!(out.contains("tour summary"));
    assert!(!out.contains("FAILED"), "{out}");
    let (_, list, _) = run(&["lesson", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    for l in v["lessons"].as_array().unwrap() {
        let id = l["id"].as_str().unwrap();
        assert!(out.contains(&format!("({id})")), "tour skipped {id}");
    }
}

/// A lesson block that needs redis-server runs against a private one where it is installed,
/// and is skipped, saying so, where it is not.
#[test]
fn lesson_blocks_needing_redis_run_or_say_they_skipped() {
    common::require("redis-server");
    let (code, out, err) = run(&["tour", "--only", "work-queue"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("a private redis-server for this lesson listens on"),
        "{out}"
    );
    assert!(out.contains("worker-b: job #"), "{out}");

    let empty = tempfile::tempdir().expect("tempdir");
    let out = wirelab()
        .args(["tour", "--only", "work-queue"])
        .env("PATH", empty.path())
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("skipped: these steps need redis-server"),
        "{text}"
    );
    assert!(!text.contains("private redis-server"), "{text}");
}

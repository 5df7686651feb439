//! One JSON convention (docs/json.md): every JSON line any command prints is an object with a
//! string "type" key, and measurements are rounded (ms to 3 decimals).

mod common;

use common::{wirelab, Server};
use serde_json::Value;

/// Every line of `text` as JSON, checked against the convention.
fn check(what: &str, text: &str) -> Vec<Value> {
    let mut all = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {line}"));
        assert!(v["type"].is_string(), "{what}: no \"type\" key: {line}");
        rounded(what, &v);
        all.push(v);
    }
    assert!(!all.is_empty(), "{what} printed no JSON");
    all
}

fn rounded(what: &str, v: &Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if let (true, Some(f)) = (k.ends_with("_ms") || k.ends_with("_mbps"), x.as_f64()) {
                    let scaled = f * 1000.0;
                    assert!(
                        (scaled - scaled.round()).abs() < 1e-6,
                        "{what}: {k} = {f} is not rounded to 3 decimals"
                    );
                }
                rounded(what, x);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| rounded(what, x)),
        _ => {}
    }
}

fn ok_json(args: &[&str]) -> Vec<Value> {
    let out = wirelab().args(args).output().expect("run wirelab");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    check(&args.join(" "), &String::from_utf8_lossy(&out.stdout))
}

fn lines_of(v: Vec<Value>) -> String {
    v.iter().map(|x| format!("{x}\n")).collect()
}

#[test]
fn one_shot_reports_have_a_type() {
    assert_eq!(ok_json(&["layers", "--json"])[0]["type"], "layers");
    assert_eq!(
        ok_json(&["ws", "accept-key", "dGhlIHNhbXBsZSBub25jZQ==", "--json"])[0]["type"],
        "accept_key"
    );
    assert_eq!(ok_json(&["lesson", "list", "--json"])[0]["type"], "lessons");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/http.pcap");
    let packets = ok_json(&["dissect", fixture, "--json"]);
    assert!(packets.iter().all(|p| p["type"] == "packet"));
    assert_eq!(
        ok_json(&["dissect", fixture, "--json", "--stats"])[0]["type"],
        "stats"
    );
    let c = ok_json(&["compare", "--count", "50", "--loss", "0.1", "--json"]);
    assert_eq!(c[0]["type"], "comparison");
}

#[test]
fn transport_streams_have_a_type_and_the_same_words_as_the_text() {
    let srv = Server::start(&[
        "udp",
        "recv",
        "--timeout",
        "5",
        "--verbose",
        "--interval",
        "0.05",
    ]);
    let s = ok_json(&[
        "udp",
        "send",
        &srv.addr.to_string(),
        "--count",
        "300",
        "--rate",
        "2000",
        "--json",
    ]);
    assert_eq!(s[0]["type"], "send_report");
    let r = check("udp recv", &lines_of(srv.finish(15)));
    let report = r.last().unwrap();
    assert_eq!(report["type"], "recv_report");
    // The text says "distinct"; so does the JSON (not "unique").
    assert!(
        report.get("distinct").is_some() && report.get("unique").is_none(),
        "{report}"
    );
    assert!(r.iter().any(|x| x["type"] == "interval"));
    assert!(r.iter().any(|x| x["type"] == "datagram"));

    let srv = Server::start(&["tcp", "serve", "--max-conns", "1"]);
    let t = ok_json(&["tcp", "send", &srv.addr.to_string(), "--json", "hello"]);
    let info = t.iter().find(|e| e["type"] == "info").expect("TCP_INFO");
    // rto_ms is always a number of one type (a float, like every other *_ms).
    assert!(info["rto_ms"].is_f64(), "{info}");
    check("tcp serve", &lines_of(srv.finish(10)));
}

#[test]
fn websocket_and_hub_streams_have_a_type() {
    let srv = Server::start(&["ws", "serve", "--max-conns", "1"]);
    let url = format!("ws://{}/", srv.addr);
    ok_json(&["ws", "connect", &url, "hi", "--ping", "--json"]);
    check("ws serve", &lines_of(srv.finish(10)));

    let data = tempfile::tempdir().unwrap();
    let d = data.path().to_str().unwrap();
    let hub = Server::start(&["hub", "serve", "--data", d, "--exit-after-idle", "3"]);
    let url = format!("ws://{}/", hub.addr);
    ok_json(&[
        "hub",
        "emit",
        &url,
        "pickup",
        r#"{"p":1}"#,
        "--to-client",
        "d-1",
        "--json",
    ]);
    let l = ok_json(&[
        "hub", "listen", &url, "--client", "d-1", "--count", "1", "--json",
    ]);
    assert!(
        l.iter()
            .any(|e| e["type"] == "event" && e["event"] == "pickup"),
        "{l:?}"
    );
    ok_json(&["hub", "emit", &url, "resize", "1", "--queue", "q", "--json"]);
    let w = ok_json(&[
        "hub", "listen", &url, "--queue", "q", "--count", "1", "--json",
    ]);
    assert!(w.iter().any(|e| e["type"] == "job"), "{w:?}");
    check("hub serve", &lines_of(hub.finish(15)));
    assert_eq!(
        ok_json(&["hub", "queue", "--data", d, "--json"])[0]["type"],
        "queue"
    );
}

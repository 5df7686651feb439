//! The dissector reads socket.io: fixtures/socketio.pcap (made by `fixtures/make-fixtures
//! socketio` from the npm socket.io server and socket.io-client) decodes as engine.io and
//! socket.io layers, in polling bodies and in WebSocket frames after the upgrade.

mod common;

use common::wirelab;

fn dissect(args: &[&str]) -> String {
    let out = wirelab()
        .arg("dissect")
        .arg("fixtures/socketio.pcap")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn summary_shows_the_session_in_order() {
    let text = dissect(&["--filter", "engineio"]);
    let find = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in\n{text}"))
    };
    let open = find("engine.io open");
    let connect = find("socket.io CONNECT /");
    let probe = find("engine.io ping probe");
    let pong_probe = find("engine.io pong probe");
    let upgrade = find("engine.io upgrade");
    let chat = find(r#"socket.io EVENT / "chat message" ["hi"]"#);
    assert!(
        open < connect
            && connect < probe
            && probe < pong_probe
            && pong_probe < upgrade
            && upgrade < chat
    );
    find(r#"socket.io EVENT / id=0 "with-ack" [7]"#);
    find(r#"socket.io ACK / id=0 [{"got":7}]"#);
    find(r#"socket.io BINARY_EVENT / "bin" [{"_placeholder":true,"num":0}] +1 attachments"#);
    find("engine.io binary message, 3 bytes (an attachment)");
    find("socket.io DISCONNECT /");
    // Heartbeat after the upgrade: a bare ping, answered.
    assert!(
        text.lines().any(|l| l.ends_with(": engine.io ping")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.ends_with(": engine.io pong")),
        "{text}"
    );
    let sio = dissect(&["--filter", "socketio"]);
    assert!(
        !sio.contains("engine.io ping"),
        "socketio keeps only frames with socket.io packets"
    );
    assert!(sio.lines().count() >= 8);
}

#[test]
fn json_has_engineio_and_socketio_layers() {
    let text = dissect(&["--filter", "socketio", "--format", "json"]);
    let mut events = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let layers = v["layers"].as_array().unwrap();
        let names: Vec<&str> = layers.iter().map(|l| l["name"].as_str().unwrap()).collect();
        let at = names
            .iter()
            .position(|n| *n == "socketio")
            .expect("socketio layer");
        assert_eq!(names[at - 1], "engineio");
        assert!(
            names.contains(&"http") || names.contains(&"websocket"),
            "{names:?}"
        );
        for l in layers.iter().filter(|l| l["name"] == "socketio") {
            assert_eq!(l["osi"], 7);
            if l["fields"]["packet_type"] == "EVENT" && l["fields"]["event"] == "chat message" {
                assert_eq!(l["fields"]["args"], r#"["hi"]"#);
                assert_eq!(l["fields"]["namespace"], "/");
                events += 1;
            }
        }
    }
    assert_eq!(events, 2, "the emit and the server's broadcast of it");
    let all = dissect(&["--filter", "engineio", "--format", "json"]);
    let opens: Vec<serde_json::Value> = all
        .lines()
        .flat_map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["layers"]
                .as_array()
                .unwrap()
                .clone()
        })
        .filter(|l| l["name"] == "engineio" && l["fields"]["packet_type"] == "open")
        .collect();
    assert_eq!(opens.len(), 1, "one session, opened once");
    assert_eq!(opens[0]["fields"]["ping_interval"], 300);
    assert_eq!(opens[0]["fields"]["sid"].as_str().unwrap().len(), 20);
}

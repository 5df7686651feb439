//! `wirelab dissect` inflates permessage-deflate (RFC 7692) WebSocket messages in a capture
//! that python `websockets` made with compression on (fixtures/websocket-deflate.pcap, from
//! fixtures/tools/ws_deflate_session.py), and agrees with tshark's decompressed text.

use std::path::PathBuf;

use assert_cmd::Command;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/websocket-deflate.pcap")
}

/// What ws_deflate_session.py sends; the echo server sends each back.
const TEXTS: [&str; 2] = [
    "hello, everyone in the room",
    r#"{"user":"ada","text":"compression keeps the window across messages"}"#,
];

fn packets() -> Vec<serde_json::Value> {
    let out = Command::cargo_bin("wirelab")
        .unwrap()
        .arg("dissect")
        .arg(fixture())
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn layer<'a>(p: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    p["layers"].as_array()?.iter().find(|l| l["name"] == name)
}

#[test]
fn compressed_messages_are_inflated_with_context_takeover() {
    let packets = packets();
    // (frame, compressed bytes, inflated text or hex) of every inflated frame.
    let inflated: Vec<(u64, u64, String)> = packets
        .iter()
        .filter(|p| stream(p) == 0)
        .filter_map(|p| {
            let ws = layer(p, "websocket")?;
            let d = layer(p, "pmce")?;
            assert_eq!(
                ws["fields"]["pmc"], true,
                "RSV1 is set on compressed frames"
            );
            assert_eq!(d["osi"], 6);
            assert!(d["fields"].get("decompression_failed").is_none(), "{d}");
            let text = d["fields"]["payload.text"]
                .as_str()
                .or(d["fields"]["payload"].as_str())?;
            Some((
                p["frame"].as_u64()?,
                d["fields"]["compressed_length"].as_u64()?,
                text.to_string(),
            ))
        })
        .collect();
    // Each message twice (client, then the echo), each message sent twice, then the binary.
    let want: Vec<String> = TEXTS
        .iter()
        .flat_map(|t| std::iter::repeat_n(t.to_string(), 4))
        .chain(std::iter::repeat_n(
            hex::encode((0..64u8).cycle().take(256).collect::<Vec<u8>>()),
            2,
        ))
        .collect();
    let got: Vec<&String> = inflated.iter().map(|(_, _, t)| t).collect();
    assert_eq!(got, want.iter().collect::<Vec<_>>());
    // The repeat of a message is a back-reference into the window the first one left: a few
    // bytes on the wire, and only readable with the context kept across messages.
    let (first, repeat) = (&inflated[0], &inflated[2]);
    assert!(repeat.1 < first.1 / 3, "{first:?} then {repeat:?}");
    assert_eq!(repeat.2, TEXTS[0]);
    // The negotiated parameters come from the server's 101 response.
    let p = packets.iter().find(|p| p["frame"] == repeat.0).unwrap();
    let d = &layer(p, "pmce").unwrap()["fields"];
    assert_eq!(d["max_window_bits"], 12, "server_max_window_bits=12");
    assert_eq!(d["no_context_takeover"], false);
    assert_eq!(d["message.decompressed_length"], TEXTS[0].len());
}

fn stream(p: &serde_json::Value) -> u64 {
    layer(p, "tcp").unwrap()["fields"]["stream"]
        .as_u64()
        .unwrap()
}

#[test]
fn no_context_takeover_resets_the_window_every_message() {
    // The second connection: the server answered server_no_context_takeover and
    // client_no_context_takeover, so a repeat costs as much as the first copy.
    let packets = packets();
    let inflated: Vec<&serde_json::Value> = packets
        .iter()
        .filter(|p| stream(p) == 1)
        .filter_map(|p| layer(p, "pmce").map(|l| &l["fields"]))
        .collect();
    assert_eq!(inflated.len(), 4, "two messages, each echoed");
    for d in &inflated {
        assert_eq!(d["payload.text"], TEXTS[0], "{d}");
        assert_eq!(d["no_context_takeover"], true);
        assert_eq!(d["max_window_bits"], 15, "no *_max_window_bits: 15");
        assert_eq!(d["compressed_length"], inflated[0]["compressed_length"]);
    }
}

#[test]
fn summary_line_gives_both_sizes() {
    let out = Command::cargo_bin("wirelab")
        .unwrap()
        .arg("dissect")
        .arg(fixture())
        .output()
        .unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    let line = s
        .lines()
        .find(|l| l.trim_start().starts_with("10 "))
        .unwrap();
    assert!(
        line.contains("payload 5, compressed 5 -> 27 bytes"),
        "{line}"
    );
}

#[test]
fn inflated_text_agrees_with_tshark() {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(fixture())
        .args([
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "websocket.payload.text",
        ])
        .output()
        .expect("tshark runs (scripts/test installs it)");
    let tshark: Vec<(u64, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (n, t) = l.split_once('\t')?;
            (!t.is_empty()).then(|| (n.parse().unwrap(), t.to_string()))
        })
        .collect();
    assert!(tshark.len() >= 8, "tshark inflated {tshark:?}");
    let packets = packets();
    for (n, t) in &tshark {
        let p = packets.iter().find(|p| p["frame"] == *n).unwrap();
        let d = layer(p, "pmce").expect("an inflated layer where tshark inflates");
        assert_eq!(d["fields"]["payload.text"], t.as_str(), "frame {n}");
    }
}

#[test]
fn filter_pmce_keeps_the_compressed_frames() {
    let out = Command::cargo_bin("wirelab")
        .unwrap()
        .arg("dissect")
        .arg(fixture())
        .args(["--filter", "pmce"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    // Ten data frames on the first connection, four on the second; close frames are never
    // compressed.
    assert_eq!(s.lines().count(), 14, "{s}");
    assert!(s.lines().all(|l| l.contains(" -> ")), "{s}");
}

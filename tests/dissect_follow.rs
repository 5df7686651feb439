//! `dissect --follow N` prints what `tshark -z follow,tcp,ascii|hex,N` prints, byte for byte,
//! for every TCP stream of every fixture.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tshark(args: &[&str]) -> Vec<u8> {
    let o = Command::new("tshark")
        .args(args)
        .output()
        .expect("tshark runs (scripts/test installs it)");
    assert!(o.status.success(), "tshark {args:?}");
    o.stdout
}

#[test]
fn follow_equals_tshark_on_every_tcp_stream() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures"))
        .expect("fixtures/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    files.sort();
    let mut compared = 0;
    let mut bytes = 0;
    for file in &files {
        let f = file.to_str().unwrap();
        let streams =
            String::from_utf8(tshark(&["-r", f, "-T", "fields", "-e", "tcp.stream"])).unwrap();
        let mut ids: Vec<u32> = streams.lines().filter_map(|l| l.parse().ok()).collect();
        ids.sort_unstable();
        ids.dedup();
        // One stream past the last: tshark prints an empty follow, so does wirelab.
        if let Some(&last) = ids.last() {
            ids.push(last + 1);
        }
        for n in ids {
            for (mode, format) in [("ascii", "summary"), ("hex", "hex")] {
                let theirs = tshark(&["-q", "-r", f, "-z", &format!("follow,tcp,{mode},{n}")]);
                let ours = Command::new(env!("CARGO_BIN_EXE_wirelab"))
                    .args(["dissect", f, "--follow", &n.to_string(), "--format", format])
                    .output()
                    .expect("wirelab runs");
                assert!(ours.status.success());
                assert!(
                    ours.stdout == theirs,
                    "{f} stream {n} {mode}:\n--- tshark\n{}\n--- wirelab\n{}",
                    String::from_utf8_lossy(&theirs),
                    String::from_utf8_lossy(&ours.stdout)
                );
                compared += 1;
                bytes += theirs.len();
            }
        }
    }
    // http, http-snap80, websocket, streams (4 connections, a 70,000-byte message) and more.
    assert!(compared >= 40, "{compared}");
    assert!(bytes > 200_000, "{bytes}");
}

#[test]
fn follow_json_one_object_a_chunk() {
    let f = root().join("fixtures/streams.pcap");
    let o = Command::new(env!("CARGO_BIN_EXE_wirelab"))
        .args(["dissect", f.to_str().unwrap(), "--follow", "2", "--json"])
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["type"], "follow");
    assert_eq!(lines[0]["node1"], "127.0.0.1:53");
    // DNS over TCP: query (32 bytes), then the answer's 2-byte length prefix alone.
    assert_eq!(lines[1]["type"], "chunk");
    assert_eq!(
        (lines[1]["node"].as_u64(), lines[1]["len"].as_u64()),
        (Some(0), Some(32))
    );
    assert_eq!(
        (lines[2]["node"].as_u64(), lines[2]["len"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(lines[2]["hex"], "002e");
    assert_eq!(lines.len(), 1 + 6);
}

//! `wirelab dissect` end to end on the bundled fixtures: views, options and bad input.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Packets in a capture, as tshark counts them (the fixtures' exact contents depend on the
/// run of fixtures/make-fixtures that made them).
fn tshark_count(path: &std::path::Path) -> usize {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-T", "fields", "-e", "frame.number"])
        .output()
        .expect("tshark runs (scripts/test installs it)");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// Record offsets (start of each 16-byte record header) in a little-endian pcap file.
fn pcap_records(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    let mut i = 24;
    while i + 16 <= bytes.len() {
        let caplen =
            u32::from_le_bytes([bytes[i + 8], bytes[i + 9], bytes[i + 10], bytes[i + 11]]) as usize;
        v.push((i, caplen));
        i += 16 + caplen;
    }
    v
}

fn wirelab() -> Command {
    Command::cargo_bin("wirelab").expect("binary built")
}

fn stdout_of(args: &[&str]) -> String {
    let out = wirelab().args(args).output().expect("runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn summary_labels_handshake_and_teardown() {
    let http = fixture("http.pcap");
    let s = stdout_of(&["dissect", http.to_str().unwrap()]);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), tshark_count(&http));
    assert!(
        lines[0].contains("Flags [S],") && lines[0].ends_with("[handshake 1/3]"),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains("Flags [S.]") && lines[1].ends_with("[handshake 2/3]"));
    assert!(lines[2].ends_with("[handshake 3/3]"));
    assert!(lines[3].contains("HTTP GET / HTTP/1.1"), "{}", lines[3]);
    assert!(s.contains("HTTP/1.0 404 File not found"));
    assert_eq!(s.matches("[teardown FIN 1/2]").count(), 2);
    assert_eq!(s.matches("[teardown last ACK]").count(), 2);
}

#[test]
fn detail_heads_each_layer_with_osi_and_tcpip() {
    let f = fixture("dns.pcapng");
    let s = stdout_of(&[
        "dissect",
        f.to_str().unwrap(),
        "--format",
        "detail",
        "--count",
        "2",
    ]);
    assert!(
        s.contains("Ethernet II  [OSI 2 data link · TCP/IP link]  bytes 0..14"),
        "{s}"
    );
    assert!(
        s.contains("Internet Protocol version 4  [OSI 3 network · TCP/IP internet]  bytes 14..34")
    );
    assert!(
        s.contains("User Datagram Protocol  [OSI 4 transport · TCP/IP transport]  bytes 34..42")
    );
    assert!(s.contains("Domain Name System  [OSI 7 application · TCP/IP application]"));
    assert!(s.contains("ttl: 64  — TTL 64: hops left before a router discards the packet"));
    assert!(s.contains("qry.name: example.test"));
    assert!(s.contains("resp.data: 192.0.2.7"));
    assert_eq!(s.matches("Frame ").count(), 2);
}

#[test]
fn hex_marks_header_and_payload() {
    let f = fixture("http.pcap");
    let s = stdout_of(&[
        "dissect",
        f.to_str().unwrap(),
        "--format",
        "hex",
        "--skip",
        "3",
        "--count",
        "1",
    ]);
    assert!(s.contains("[eth 0..14 · OSI 2 data link · header]"), "{s}");
    assert!(s.contains("[tcp 34..66 · OSI 4 transport · header]"));
    assert!(s.contains("[http 66..145 · OSI 7 application · header]"));
    assert!(
        s.contains("  0042  47 45 54 20"),
        "offsets are frame offsets"
    );
    assert!(!s.contains("\x1b["), "no colour off a terminal");
}

#[test]
fn json_lines_have_the_documented_keys() {
    let f = fixture("websocket.pcap");
    let s = stdout_of(&["dissect", f.to_str().unwrap(), "--json"]);
    let packets: Vec<serde_json::Value> = s
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(packets.len(), 20);
    let p = &packets[7];
    for k in ["frame", "ts", "caplen", "len", "link", "layers"] {
        assert!(p.get(k).is_some(), "missing {k}");
    }
    let ws = p["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "websocket")
        .expect("websocket layer");
    assert_eq!(ws["osi"], 7);
    assert_eq!(ws["tcpip"], "application");
    assert_eq!(ws["fields"]["payload"], "hello");
    assert_eq!(ws["fields"]["mask"], true);
    let tcp = &p["layers"][2];
    assert_eq!(tcp["name"], "tcp");
    assert_eq!(tcp["range"], serde_json::json!([34, 66]));
}

#[test]
fn filter_count_skip_and_stdin() {
    let f = fixture("arp-vlan.pcapng");
    // As in tcpdump, `arp` is untagged ARP; `vlan and arp` the tagged one.
    let s = stdout_of(&["dissect", f.to_str().unwrap(), "--filter", "arp"]);
    assert_eq!(s.lines().count(), 2, "{s}");
    let s = stdout_of(&["dissect", f.to_str().unwrap(), "--filter", "vlan and arp"]);
    assert_eq!(s.lines().count(), 1, "{s}");
    let s = stdout_of(&[
        "dissect",
        f.to_str().unwrap(),
        "--filter",
        "icmpv6 and not host fd00:99::2",
    ]);
    assert!(s.lines().all(|l| l.contains("IP6")), "{s}");
    let s = stdout_of(&[
        "dissect",
        f.to_str().unwrap(),
        "--filter",
        "vlan",
        "--skip",
        "1",
    ]);
    assert_eq!(s.lines().count(), 1);
    assert!(
        s.contains("vlan 100, vlan 200, IP 10.99.200.1 > 10.99.200.2"),
        "{s}"
    );
    let bytes = std::fs::read(fixture("dns.pcap")).unwrap();
    let out = wirelab()
        .args(["dissect", "-", "--count", "2"])
        .write_stdin(bytes)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
}

#[test]
fn stats_tables() {
    let f = fixture("http.pcap");
    let s = stdout_of(&["dissect", f.to_str().unwrap(), "--stats"]);
    let n = tshark_count(&f);
    assert!(
        s.contains(&format!("Protocol hierarchy ({n} frames")),
        "{s}"
    );
    assert!(s.contains("    tcp "), "{s}");
    assert!(
        s.contains("127.0.0.1:57038") || s.contains("127.0.0.1:"),
        "{s}"
    );
    let j = stdout_of(&["dissect", f.to_str().unwrap(), "--stats", "--json"]);
    let v: serde_json::Value = serde_json::from_str(j.trim()).unwrap();
    assert_eq!(v["frames"], n);
    assert_eq!(v["conversations"].as_array().unwrap().len(), 2);
    let http = v["hierarchy"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "eth:ipv4:tcp:http")
        .unwrap();
    assert_eq!(http["frames"], 4);
}

#[test]
fn snap_length_cut_is_shown() {
    let f = fixture("http-snap80.pcap");
    let s = stdout_of(&["dissect", f.to_str().unwrap()]);
    assert!(s.contains("[captured 80 of "), "{s}");
    let j = stdout_of(&[
        "dissect",
        f.to_str().unwrap(),
        "--json",
        "--skip",
        "5",
        "--count",
        "1",
    ]);
    let v: serde_json::Value = serde_json::from_str(j.trim()).unwrap();
    assert_eq!(v["caplen"], 80);
}

#[test]
fn hex_input_with_link_types() {
    // The SYN of a real connection (fixtures/http.pcap frame 1), IPv4 header onwards.
    let syn =
        "45 00 00 3c 31 79 40 00 40 06 0b 41 7f 00 00 01 7f 00 00 01 db 62 46 a0 4f 77 ca a5 \
               00 00 00 00 a0 02 ff d7 fe 30 00 00 02 04 ff d7 04 02 08 0a 2f 24 78 d1 00 00 00 00 \
               01 03 03 0a";
    let s = stdout_of(&["dissect", "--hex", syn, "--link", "ipv4"]);
    assert!(
        s.contains("IP 127.0.0.1.56162 > 127.0.0.1.18080: Flags [S], seq 1333250725"),
        "{s}"
    );
    let s = stdout_of(&[
        "dissect", "--hex", syn, "--link", "raw", "--format", "detail",
    ]);
    assert!(s.contains("options.mss_val: 65495"), "{s}");
    wirelab()
        .args(["dissect", "--hex", "45 0z"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "'z' at character 5 is not a hex digit",
        ));
}

#[test]
fn not_a_capture_names_the_magic_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("not.pcap");
    std::fs::write(&p, b"GIF89a....").unwrap();
    wirelab()
        .args(["dissect", p.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("not a pcap or pcapng file")
                .and(predicate::str::contains("47 49 46 38")),
        );
}

#[test]
fn truncated_file_prints_whole_packets_then_the_offset() {
    let bytes = std::fs::read(fixture("http.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.pcap");
    std::fs::write(&p, &bytes[..bytes.len() - 20]).unwrap();
    let out = wirelab()
        .args(["dissect", p.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let records = pcap_records(&bytes);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        records.len() - 1
    );
    let err = String::from_utf8_lossy(&out.stderr);
    // The error names where the cut record starts.
    let offset = records.last().unwrap().0;
    assert!(err.contains(&format!("byte offset {offset}")), "{err}");
    // pcapng cut mid-block too.
    let ng = std::fs::read(fixture("http.pcapng")).unwrap();
    std::fs::write(&p, &ng[..ng.len() - 7]).unwrap();
    let out = wirelab()
        .args(["dissect", p.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("capture truncated"));
}

#[test]
fn bad_filter_is_exit_2() {
    let f = fixture("dns.pcap");
    wirelab()
        .args([
            "dissect",
            f.to_str().unwrap(),
            "--filter",
            "tcp and bananas",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "column 9: 'bananas' is not a primitive",
        ));
}

#[test]
fn two_interfaces_with_different_link_types() {
    let f = fixture("two-interfaces.pcapng");
    let s = stdout_of(&["dissect", f.to_str().unwrap(), "--json"]);
    let links: Vec<String> = s
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["link"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(links.len(), 12);
    assert!(links.iter().any(|l| l == "Linux cooked capture v2"));
    assert!(links.iter().any(|l| l == "Ethernet"));
}

#[test]
fn hex_file_one_packet_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("packets.hex");
    // An ICMP echo request and reply from fixtures/icmp-ns.pcap (IPv4 header onwards), cut to
    // their headers, plus a comment and a blank line.
    std::fs::write(
        &p,
        "# ping 127.0.0.1\n\
         45 00 00 54 fe 13 40 00 40 01 3e 93 7f 00 00 01 7f 00 00 01 08 00 2d d5 22 1a 00 01\n\
         \n\
         45 00 00 54 fe 14 00 00 40 01 7e 92 7f 00 00 01 7f 00 00 01 00 00 35 d5 22 1a 00 01\n",
    )
    .unwrap();
    let s = stdout_of(&[
        "dissect",
        "--hex-file",
        p.to_str().unwrap(),
        "--link",
        "ipv4",
    ]);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 2, "{s}");
    assert!(
        lines[0].contains("ICMP echo request, id 8730, seq 1"),
        "{s}"
    );
    assert!(lines[1].contains("ICMP echo reply"), "{s}");
    std::fs::write(&p, "45 00\nzz\n").unwrap();
    wirelab()
        .args(["dissect", "--hex-file", p.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("line 2: 'z' at character 1"));
}

#[test]
fn icmp_errors_show_the_packet_they_quote() {
    let f = fixture("icmp-errors.pcap");
    let s = stdout_of(&["dissect", f.to_str().unwrap()]);
    assert!(
        s.contains("ICMP destination unreachable, port unreachable (about UDP 127.0.0.1."),
        "{s}"
    );
    assert!(
        s.contains("ICMP6, destination unreachable (about UDP ::1."),
        "{s}"
    );
    let j = stdout_of(&[
        "dissect",
        f.to_str().unwrap(),
        "--json",
        "--skip",
        "1",
        "--count",
        "1",
    ]);
    let v: serde_json::Value = serde_json::from_str(j.trim()).unwrap();
    let layers = v["layers"].as_array().unwrap();
    let names: Vec<&str> = layers.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["eth", "ipv4", "icmp", "ipv4", "udp", "data"]);
    assert!(layers[3]["quoted"] == true && layers[1].get("quoted").is_none());
    // Filters and conversations use the packet's own headers, not the quoted ones.
    let s = stdout_of(&["dissect", f.to_str().unwrap(), "--filter", "port 9"]);
    assert_eq!(s.lines().count(), 2, "{s}");
}

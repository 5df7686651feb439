//! `--filter` speaks tcpdump's language: for every expression below and every fixture, the
//! frames wirelab selects are exactly those `tcpdump -r FILE EXPR` selects.
//!
//! tcpdump writes the frames it selects to a pcap file; they are found again, in order, in the
//! original capture, which gives their frame numbers.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use wirelab::capture::Reader;
use wirelab::dissect::filter::Filter;
use wirelab::dissect::{Dissector, FrameInfo, Packet};

const EXPRESSIONS: &[&str] = &[
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "ip",
    "ip6",
    "arp",
    "vlan",
    "vlan 100",
    "vlan and ip",
    "vlan and vlan and ip",
    "vlan 100 and vlan 200 and icmp",
    "tcp port 80",
    "port 53",
    "udp port 53 or tcp port 53",
    "tcp dst port 8080",
    "src port 53",
    "dst portrange 1-1024",
    "portrange 1024-65535",
    "port http",
    "port domain",
    "tcp and port 80 or udp",
    "not tcp",
    "!ip6 && !arp",
    "host 127.0.0.1",
    "src 127.0.0.1",
    "dst host 10.99.200.2",
    "ip host 10.99.0.1",
    "arp host 10.99.0.1",
    "net 10.0.0.0/8",
    "net 10.99.0.0 mask 255.255.0.0",
    "net 127",
    "src net 192.168.0.0/16 or dst net 127.0.0.0/8",
    "host ::1",
    "net fd00::/8",
    "ip6 src net fe80::/10",
    "tcp[tcpflags] & tcp-syn != 0",
    "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
    "tcp[tcpflags] == tcp-ack",
    "tcp[13] & 8 != 0 and not tcp[13] & 1 != 0",
    "(tcp[12] & 0xf0) >> 2 > 20",
    "ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2) > 0",
    "icmp[icmptype] = icmp-echo or icmp[icmptype] = icmp-echoreply",
    "icmp[icmptype] != icmp-echo and icmp",
    "icmp6 and ip6[40] = 135",
    "ip[8] = 64",
    "ip[6:2] & 0x3fff != 0",
    "udp[4:2] > 100",
    "ether[12:2] = 0x0806",
    "ether proto \\arp",
    "ether broadcast",
    "ether multicast",
    "ip multicast or ip6 multicast",
    "ip proto 17",
    "ip6 proto 58",
    "len > 100",
    "len <= 66",
    "greater 200",
    "less 80",
    "len - 14 > 60 and tcp",
    "(udp or icmp) and not port 53",
    "host 127.0.0.1 and (port 80 or 8080)",
    "tcp port 80 or 443 or 8080",
    "src or dst port 53",
    "src and dst net 127.0.0.0/8",
];

/// Every fixture tcpdump can read. (two-interfaces.pcapng mixes link types, which libpcap
/// refuses after the first frame.)
fn fixtures() -> Vec<PathBuf> {
    common::capture_fixtures()
        .into_iter()
        .filter(|p| !p.ends_with("two-interfaces.pcapng"))
        .collect()
}

/// Each frame of a capture.
fn frames(path: &Path) -> Vec<(FrameInfo, Vec<u8>)> {
    let mut r = Reader::new(std::fs::File::open(path).expect("open")).expect("capture");
    let mut v = Vec::new();
    r.for_each(
        |info, data| -> Result<bool, wirelab::capture::CaptureError> {
            v.push((*info, data.to_vec()));
            Ok(true)
        },
    )
    .expect("read");
    v
}

/// All fixtures of one link type, concatenated into one pcap so that tcpdump runs once per
/// expression per link type: each frame remembers its file and number.
/// A frame: its file, metadata and bytes.
type Frame = (String, FrameInfo, Vec<u8>);

struct Group {
    pcap: PathBuf,
    frames: Vec<Frame>,
}

fn groups(files: &[PathBuf]) -> Vec<Group> {
    let mut by_link: Vec<(u32, Vec<Frame>)> = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for (info, data) in frames(file) {
            let link = info.link.to_linktype();
            let at = match by_link.iter().position(|(l, _)| *l == link) {
                Some(i) => i,
                None => {
                    by_link.push((link, Vec::new()));
                    by_link.len() - 1
                }
            };
            by_link[at].1.push((name.clone(), info, data));
        }
    }
    by_link
        .into_iter()
        .map(|(link, frames)| {
            let pcap = std::env::temp_dir().join(format!(
                "wirelab-filter-{}-link{link}.pcap",
                std::process::id()
            ));
            let mut b = Vec::new();
            for v in [0xa1b2_c3d4u32.to_le_bytes(), [2, 0, 4, 0]] {
                b.extend_from_slice(&v);
            }
            for v in [0u32, 0, 262_144, link] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            for (_, info, data) in &frames {
                for v in [
                    info.ts_sec as u32,
                    info.ts_nsec / 1000,
                    data.len() as u32,
                    info.len,
                ] {
                    b.extend_from_slice(&v.to_le_bytes());
                }
                b.extend_from_slice(data);
            }
            std::fs::write(&pcap, b).expect("write group pcap");
            Group { pcap, frames }
        })
        .collect()
}

/// "file#number" of each frame tcpdump selects, or its error when it refuses the expression
/// for this link type.
fn tcpdump(g: &Group, expr: &str) -> Result<Vec<String>, String> {
    let out = g.pcap.with_extension("out.pcap");
    let o = Command::new("tcpdump")
        .arg("-r")
        .arg(&g.pcap)
        .arg("-w")
        .arg(&out)
        .arg(expr)
        .output()
        .expect("tcpdump runs (scripts/test installs it)");
    let stderr = String::from_utf8_lossy(&o.stderr);
    if stderr.contains("expression rejects all packets") {
        return Ok(Vec::new());
    }
    if !o.status.success() {
        return Err(stderr.into_owned());
    }
    let picked = frames(&out);
    let _ = std::fs::remove_file(&out);
    let mut names = Vec::new();
    let mut at = 0;
    for (info, data) in picked {
        while at < g.frames.len() && !same(&g.frames[at], &info, &data) {
            at += 1;
        }
        assert!(
            at < g.frames.len(),
            "tcpdump wrote a frame not in the input"
        );
        let (file, info, _) = &g.frames[at];
        names.push(format!("{file}#{}", info.number));
        at += 1;
    }
    Ok(names)
}

/// What identifies a frame across files: time (to the microsecond) and bytes.
fn same(a: &Frame, info: &FrameInfo, data: &[u8]) -> bool {
    a.1.ts_sec == info.ts_sec && a.1.ts_nsec / 1000 == info.ts_nsec / 1000 && a.2 == data
}

/// "file#number" of each frame wirelab selects (each file dissected on its own).
fn ours(g: &Group, f: &Filter) -> Vec<String> {
    let mut d = Dissector::new();
    let mut layers = Vec::new();
    let mut v = Vec::new();
    let mut file = "";
    for (name, info, data) in &g.frames {
        if name != file {
            d = Dissector::new();
            file = name;
        }
        d.dissect(info, data, &mut layers);
        let p = Packet {
            info,
            data,
            layers: &layers,
            reassembled: d.reassembled(),
        };
        if f.matches(&p) {
            v.push(format!("{name}#{}", info.number));
        }
    }
    v
}

#[test]
fn filters_select_what_tcpdump_selects() {
    let files = fixtures();
    assert!(files.len() >= 15);
    let groups = groups(&files);
    let mut compared = 0;
    let mut selected_somewhere = 0;
    let mut failures = Vec::new();
    for expr in EXPRESSIONS {
        let f = Filter::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        let mut any = false;
        for g in &groups {
            let theirs = match tcpdump(g, expr) {
                Ok(t) => t,
                // libpcap refuses some primitives on some links (vlan, ether on Linux cooked).
                Err(e) if !e.contains("syntax error") && !e.contains("unknown") => continue,
                Err(e) => panic!("tcpdump refused '{expr}': {e}"),
            };
            compared += 1;
            any |= !theirs.is_empty();
            let mine = ours(g, &f);
            if mine != theirs {
                failures.push(format!("'{expr}': tcpdump {theirs:?}, wirelab {mine:?}"));
            }
        }
        selected_somewhere += usize::from(any);
    }
    for g in &groups {
        let _ = std::fs::remove_file(&g.pcap);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(EXPRESSIONS.len() >= 40);
    // Each expression is compared on most link types, and 50 of them select something.
    assert!(compared >= EXPRESSIONS.len() * 3, "{compared}");
    assert!(selected_somewhere >= 50, "{selected_somewhere}");
}

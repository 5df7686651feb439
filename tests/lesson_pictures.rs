//! Pictures: `dissect --flow` ladder diagrams and the `compare` latency chart, against golden
//! files (`UPDATE_GOLDEN=1 cargo test --test lesson_pictures` rewrites them after a deliberate
//! change; review the diff).

use std::path::Path;
use std::process::Command;

use wirelab::render::chart::{self, Series};
use wirelab::transport::lossy::{Fate, LinkConfig, LossyLink};

fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(actual, expected, "{name} differs from its golden file");
}

fn flow(fixture: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wirelab"))
        .args(["dissect", &format!("fixtures/{fixture}"), "--flow"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
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
fn flow_of_the_tcp_capture() {
    let f = flow("http.pcap");
    // One arrow a packet, the handshake drawn as every textbook draws it.
    let arrows = f
        .lines()
        .filter(|l| l.contains("->|") || l.contains("|<-"))
        .count();
    assert_eq!(arrows, 25, "{f}");
    assert!(
        f.contains("|<---------------- SYN, ACK seq=0 ack=1 len=0 ------------------|"),
        "{f}"
    );
    golden("flow-tcp.txt", &f);
}

#[test]
fn flow_of_the_dns_capture() {
    golden("flow-dns.txt", &flow("dns.pcap"));
}

#[test]
fn flow_of_the_websocket_capture() {
    let f = flow("websocket.pcap");
    assert!(f.contains("WS ping, masked"), "{f}");
    golden("flow-websocket.txt", &f);
}

/// The chart of a fixed run: seed 1's lossy link decides which messages udp loses; the
/// reliable transport's messages behind each loss wait for its retransmission (a ramp).
type Points = Vec<(u64, f64)>;

fn fixed_series(seed: u64, n: u64, loss: f64) -> (Points, Points) {
    let mut link = LossyLink::new(LinkConfig {
        loss,
        reorder: 0.0,
        duplicate: 0.0,
        seed,
    });
    let (mut udp, mut arq) = (Vec::new(), Vec::new());
    let mut wait_until = 0.0f64;
    for seq in 0..n {
        let t = seq as f64 * 0.5;
        let lost = link.send(&[], |_| Ok::<(), ()>(())) == Ok(Fate::Dropped);
        if lost {
            wait_until = wait_until.max(t + 5.0);
        } else {
            udp.push((seq, 0.2));
        }
        arq.push((seq, 0.2 + (wait_until - t).max(0.0)));
    }
    (udp, arq)
}

#[test]
fn compare_chart_svg_for_a_fixed_seed() {
    let (udp, arq) = fixed_series(1, 300, 0.05);
    let s = chart::svg(
        &[
            Series {
                name: "udp",
                points: &udp,
            },
            Series {
                name: "reliable-udp",
                points: &arq,
            },
        ],
        "fixed run, seed 1",
    );
    assert_eq!(s.matches("<polyline").count(), 2);
    golden("compare-seed1.svg", &s);
    let mut text = Vec::new();
    chart::terminal(
        &mut text,
        &[
            Series {
                name: "udp",
                points: &udp,
            },
            Series {
                name: "reliable-udp",
                points: &arq,
            },
        ],
        60,
        10,
    )
    .unwrap();
    golden("compare-seed1.txt", &String::from_utf8(text).unwrap());
}

/// `compare --svg` from a real run: one polyline per transport, and the udp one has exactly
/// the points the seed's lossy link let through.
#[test]
fn compare_writes_an_svg_whose_udp_line_follows_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_wirelab"))
        .args([
            "compare", "--count", "200", "--loss", "0.2", "--seed", "3", "--json",
        ])
        .arg("--svg")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&file).unwrap();
    assert_eq!(svg.matches("<polyline").count(), 3, "{svg}");
    let udp_line = svg.lines().find(|l| l.starts_with("<polyline")).unwrap();
    let points = udp_line.matches(',').count() as u64;
    let (udp, _) = fixed_series(3, 200, 0.2);
    assert_eq!(
        points,
        udp.len() as u64,
        "udp points vs the seed's deliveries"
    );
}

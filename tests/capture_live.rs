//! `wirelab capture` on loopback while the test makes TCP traffic; the written pcap opens in
//! tshark. Needs root (or CAP_NET_RAW): without it the test says so and skips.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn capture_on_lo_sees_a_handshake_and_writes_a_pcap_tshark_reads() {
    if !is_root() {
        eprintln!("SKIPPED capture_on_lo: not root (live capture needs root or CAP_NET_RAW)");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("live.pcap");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wirelab"))
        .args([
            "capture",
            "-i",
            "lo",
            "--json",
            "--count",
            "6",
            "--duration",
            "30",
        ])
        .args(["--filter", &format!("tcp and port {port}")])
        .arg("--write")
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the capture socket is open.
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("capturing on lo"), "{line}");

    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
    });
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(b"hello").unwrap();
    let mut echo = [0u8; 5];
    c.read_exact(&mut echo).unwrap();
    drop(c);
    server.join().unwrap();

    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    let packets: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(packets.len(), 6, "{out}");
    let tcp = |i: usize| -> serde_json::Value {
        packets[i]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == "tcp")
            .unwrap()["fields"]
            .clone()
    };
    assert_eq!(tcp(0)["flags"], "0x002");
    assert_eq!(tcp(0)["dstport"], port);
    assert_eq!(tcp(0)["phase"], "handshake 1/3");
    assert_eq!(tcp(1)["phase"], "handshake 2/3");
    assert_eq!(tcp(2)["phase"], "handshake 3/3");
    // Loopback copies are not doubled: frame 4 is the client's data, not a second ACK.
    assert_eq!(tcp(3)["len"], 5);

    let ts = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .args(["-T", "fields", "-e", "tcp.dstport", "-e", "tcp.len"])
        .output()
        .expect("tshark runs (scripts/test installs it)");
    assert!(
        ts.status.success(),
        "{}",
        String::from_utf8_lossy(&ts.stderr)
    );
    let rows = String::from_utf8_lossy(&ts.stdout)
        .lines()
        .map(String::from)
        .collect::<Vec<_>>();
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert_eq!(rows[0], format!("{port}\t0"));
    assert_eq!(rows[3], format!("{port}\t5"));
}

#[test]
fn unknown_interface_is_bad_input() {
    if !is_root() {
        eprintln!("SKIPPED unknown_interface: not root (opening any capture needs root)");
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_wirelab"))
        .args(["capture", "-i", "no-such-if0", "--count", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no interface named 'no-such-if0'") && err.contains("lo"),
        "{err}"
    );
}

#[test]
fn without_privilege_the_error_says_what_is_needed() {
    if !is_root() {
        eprintln!("SKIPPED without_privilege: dropping privilege to test this needs root");
        return;
    }
    // Run as nobody, with no capabilities.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_wirelab"))
        .args(["capture", "-i", "lo", "--count", "1"])
        .output();
    let Ok(out) = out else {
        eprintln!("SKIPPED without_privilege: setpriv (util-linux) is not installed");
        return;
    };
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs root or the CAP_NET_RAW capability")
    );
}

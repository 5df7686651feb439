//! The transport commands against real peers: ncat and socat as clients and servers.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Stdio};

use common::{interrupt, require, start_peer, wirelab, Server};
use serde_json::Value;

fn json_out(args: &[&str]) -> Value {
    let out = wirelab().args(args).output().expect("run wirelab");
    assert!(
        out.status.success(),
        "wirelab {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().expect("some output");
    serde_json::from_str(last).expect("JSON")
}

fn events(v: &[Value], name: &str) -> Vec<Value> {
    v.iter().filter(|e| e["type"] == name).cloned().collect()
}

#[test]
fn tcp_serve_echoes_to_ncat() {
    require("ncat");
    let srv = Server::start(&["tcp", "serve", "--max-conns", "1"]);
    let mut nc = Command::new("ncat")
        .args(["127.0.0.1", &srv.addr.port().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ncat");
    nc.stdin
        .take()
        .expect("stdin")
        .write_all(b"hello from ncat\n")
        .expect("write");
    // Dropping stdin: ncat half-closes (FIN), reads the echo to EOF and exits.
    let out = nc.wait_with_output().expect("ncat output");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from ncat\n");
    let ev = srv.finish(10);
    assert_eq!(events(&ev, "accepted").len(), 1);
    let reads = events(&ev, "read");
    let data: String = reads.iter().map(|r| r["data"].as_str().unwrap()).collect();
    assert_eq!(data, hex::encode("hello from ncat\n"));
    assert_eq!(events(&ev, "peer_closed")[0]["how"], "fin");
    let closed = &events(&ev, "closed")[0];
    assert_eq!(closed["bytes_in"], 16);
    assert_eq!(closed["bytes_out"], 16);
    assert_eq!(events(&ev, "shutdown")[0]["connections"], 1);
}

#[test]
fn tcp_send_against_ncat_exec_cat() {
    require("ncat");
    let port = common::free_port().to_string();
    let (mut peer, _err) = start_peer(
        Command::new("ncat").args(["-v", "-l", "-k", "127.0.0.1", &port, "--exec", "/bin/cat"]),
        "Listening on",
    );
    let v = json_out(&[
        "tcp",
        "send",
        &format!("127.0.0.1:{port}"),
        "--json",
        "abc",
        "defg",
    ]);
    let _ = peer.kill();
    let _ = peer.wait();
    assert_eq!(v["type"], "closed");
    assert_eq!(v["bytes_sent"], 7);
    assert_eq!(v["bytes_received"], 7);
}

#[test]
fn tcp_send_against_socat_shows_echo_and_tcp_info() {
    require("socat");
    let (port, mut peer) = socat_server("EXEC:cat");
    let out = wirelab()
        .args([
            "tcp",
            "send",
            &port.to_string(),
            "--json",
            "--no-delay",
            "ping",
            "pong",
        ])
        .output()
        .expect("run");
    let _ = peer.kill();
    let _ = peer.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let echoes = events(&lines, "echo");
    assert_eq!(echoes.len(), 2);
    assert_eq!(echoes[0]["data"], hex::encode("ping"));
    assert_eq!(echoes[1]["data"], hex::encode("pong"));
    let connected = &events(&lines, "connected")[0];
    assert!(connected["connect_ms"].as_f64().unwrap() >= 0.0);
    let info = &events(&lines, "info")[0];
    assert!(info["snd_mss"].as_u64().unwrap() > 0, "{info}");
    assert!(info["snd_cwnd"].as_u64().unwrap() > 0, "{info}");
}

#[test]
fn coalesced_writes_come_back_as_one_stream() {
    let srv = Server::start(&["tcp", "serve", "--max-conns", "1"]);
    let v = json_out(&[
        "tcp",
        "send",
        &srv.addr.to_string(),
        "--coalesce",
        "--json",
        "one",
        "two",
        "three",
    ]);
    assert_eq!(v["type"], "closed");
    let ev = srv.finish(10);
    let total: u64 = events(&ev, "read")
        .iter()
        .map(|r| r["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 11);
}

#[test]
fn tcp_serve_reports_reset_and_idle_timeout() {
    let srv = Server::start(&["tcp", "serve", "--max-conns", "2", "--idle-timeout", "0.5"]);
    // An abortive close: SO_LINGER 0 makes close() send RST.
    let s = TcpStream::connect(srv.addr).expect("connect");
    let sock = socket2::SockRef::from(&s);
    sock.set_linger(Some(std::time::Duration::ZERO))
        .expect("linger");
    (&s).write_all(b"x").expect("write");
    drop(s);
    // An idle client: connects, says nothing, and is closed by the server.
    let idle = TcpStream::connect(srv.addr).expect("connect");
    let ev = srv.finish(10);
    drop(idle);
    let hows: Vec<String> = events(&ev, "peer_closed")
        .iter()
        .map(|e| e["how"].as_str().unwrap().to_string())
        .collect();
    assert!(hows.contains(&"reset".to_string()), "{hows:?}");
    assert!(hows.contains(&"idle_timeout".to_string()), "{hows:?}");
}

#[test]
fn tcp_serve_stops_cleanly_on_sigint() {
    let srv = Server::start(&["tcp", "serve"]);
    interrupt(&srv.child);
    let ev = srv.finish(10);
    let s = &events(&ev, "shutdown")[0];
    assert_eq!(s["reason"], "interrupted");
}

#[test]
fn same_seed_drops_the_same_datagrams() {
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = rx.local_addr().unwrap().to_string();
    let run = |seed: &str| {
        json_out(&[
            "udp", "send", &addr, "--count", "500", "--loss", "0.2", "--seed", seed, "--rate", "0",
            "--json",
        ])["dropped_seqs"]
            .clone()
    };
    let a = run("11");
    assert_eq!(a, run("11"));
    assert_ne!(a, run("12"));
}

#[test]
fn loss_03_over_2000_drops_about_600_and_receiver_agrees() {
    for seed in ["1", "2", "3"] {
        let srv = Server::start(&["udp", "recv", "--timeout", "10"]);
        let s = json_out(&[
            "udp",
            "send",
            &srv.addr.to_string(),
            "--count",
            "2000",
            "--loss",
            "0.3",
            "--seed",
            seed,
            "--rate",
            "50000",
            "--json",
        ]);
        let dropped = s["dropped"].as_u64().unwrap();
        assert!(
            (540..=660).contains(&dropped),
            "seed {seed}: dropped {dropped}"
        );
        let r = srv.finish(15).pop().expect("report");
        assert_eq!(r["ended"], "end-marker");
        assert_eq!(r["expected"], 2000);
        assert_eq!(r["lost"].as_u64().unwrap(), dropped, "seed {seed}");
        assert_eq!(r["received"].as_u64().unwrap(), 2000 - dropped);
        assert_eq!(r["lost_seqs"], s["dropped_seqs"]);
        assert_eq!(r["duplicated"], 0);
        assert_eq!(r["out_of_order"], 0);
    }
}

#[test]
fn receiver_sees_duplicates_and_reordering() {
    let srv = Server::start(&["udp", "recv", "--timeout", "10"]);
    let s = json_out(&[
        "udp",
        "send",
        &srv.addr.to_string(),
        "--count",
        "1000",
        "--reorder",
        "0.1",
        "--duplicate",
        "0.1",
        "--seed",
        "4",
        "--json",
    ]);
    let r = srv.finish(15).pop().expect("report");
    assert_eq!(r["lost"], 0);
    assert_eq!(r["duplicated"], s["duplicated"]);
    assert!(s["duplicated"].as_u64().unwrap() > 50);
    let ooo = r["out_of_order"].as_u64().unwrap();
    assert!(ooo > 0 && ooo <= s["reordered"].as_u64().unwrap(), "{r}");
}

#[test]
fn udp_recv_stops_after_count_and_after_silence() {
    let srv = Server::start(&["udp", "recv", "--count", "10", "--timeout", "10"]);
    json_out(&[
        "udp",
        "send",
        &srv.addr.to_string(),
        "--count",
        "50",
        "--json",
    ]);
    let r = srv.finish(15).pop().expect("report");
    assert_eq!(r["ended"], "count");
    assert_eq!(r["distinct"], 10);

    // Nothing received is a failure that says so (exit 1), not a report of zeros.
    let out = wirelab()
        .args(["udp", "recv", "--listen", "127.0.0.1:0", "--timeout", "0.3"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("stopped (silence for --timeout)"), "{text}");
    assert!(!text.contains("lost sequence numbers"), "{text}");
    assert!(!text.contains("p50"), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("received nothing: no datagram arrived on 127.0.0.1:"),
        "{err}"
    );

    // Everything lost: the end marker says how many were sent.
    let srv = Server::start(&["udp", "recv", "--timeout", "10"]);
    json_out(&[
        "udp",
        "send",
        &srv.addr.to_string(),
        "--count",
        "5",
        "--loss",
        "1",
        "--json",
    ]);
    let (v, status) = srv.finish_status(15);
    assert_eq!(status.code(), Some(1));
    let r = v.last().expect("report");
    assert_eq!(r["type"], "recv_report");
    assert_eq!(r["received"], 0);
    assert_eq!(r["lost"], 5);
    assert_eq!(r["loss_pct"], 100.0);
}

/// The jitter in the report is RFC 3550's, computed by hand here from the same timestamps
/// (each datagram's send and arrival ns in the --verbose lines), for a seeded lossy run.
#[test]
fn udp_recv_jitter_matches_a_hand_computation() {
    let srv = Server::start(&["udp", "recv", "--timeout", "10", "--verbose"]);
    let s = json_out(&[
        "udp",
        "send",
        &srv.addr.to_string(),
        "--count",
        "400",
        "--rate",
        "4000",
        "--loss",
        "0.1",
        "--reorder",
        "0.05",
        "--duplicate",
        "0.05",
        "--seed",
        "11",
        "--json",
    ]);
    let v = srv.finish(15);
    let arrivals: Vec<&Value> = v.iter().filter(|e| e["type"] == "datagram").collect();
    assert_eq!(arrivals.len() as u64, s["on_wire"].as_u64().unwrap());
    let (mut j, mut prev): (f64, Option<f64>) = (0.0, None);
    for a in &arrivals {
        let transit = a["recv_ns"].as_u64().unwrap() as f64 - a["sent_ns"].as_u64().unwrap() as f64;
        if let Some(p) = prev {
            j += ((transit - p).abs() - j) / 16.0;
        }
        prev = Some(transit);
    }
    let r = v.last().unwrap();
    assert_eq!(r["type"], "recv_report");
    let got = r["jitter_ms"].as_f64().unwrap();
    assert!(
        (got - j / 1e6).abs() <= 0.0005 + 1e-9,
        "report {got} ms, by hand {} ms",
        j / 1e6
    );
    // Loss is the link's drops only: reordering and duplicates are counted apart.
    assert_eq!(r["lost"], s["dropped"]);
    assert_eq!(r["duplicated"], s["duplicated"]);
    let pct = s["dropped"].as_f64().unwrap() * 100.0 / 400.0;
    assert!((r["loss_pct"].as_f64().unwrap() - pct).abs() < 0.001, "{r}");
    assert!(r["bitrate_mbps"].as_f64().unwrap() > 0.0);
}

/// iperf3-style: --duration and --bitrate on the sender, --interval lines on the receiver
/// whose counts add up to the report.
#[test]
fn udp_duration_bitrate_and_intervals() {
    let srv = Server::start(&["udp", "recv", "--timeout", "10", "--interval", "0.25"]);
    let s = json_out(&[
        "udp",
        "send",
        &srv.addr.to_string(),
        "--duration",
        "1",
        "--bitrate",
        "256K",
        "--size",
        "64",
        "--loss",
        "0.1",
        "--json",
    ]);
    // 256 kbit/s of 64-byte datagrams is 500 datagrams/s, for one second.
    let sent = s["sent"].as_u64().unwrap();
    assert!((450..=510).contains(&sent), "{s}");
    let v = srv.finish(15);
    let iv: Vec<&Value> = v.iter().filter(|e| e["type"] == "interval").collect();
    assert!((3..=6).contains(&iv.len()), "{iv:?}");
    let r = v.last().unwrap();
    let sum = |k: &str| iv.iter().map(|i| i[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("received"), r["received"].as_u64().unwrap());
    assert_eq!(sum("lost"), r["lost"].as_u64().unwrap());
    assert!(iv[0]["bitrate_mbps"].as_f64().unwrap() > 0.1, "{:?}", iv[0]);
}

#[test]
fn compare_reliable_udp_delivers_everything_udp_does_not() {
    let v = json_out(&[
        "compare", "--count", "500", "--size", "256", "--loss", "0.2", "--seed", "3", "--json",
    ]);
    let rows = v["rows"].as_array().expect("rows");
    let row = |t: &str| rows.iter().find(|r| r["transport"] == t).expect(t).clone();
    let udp = row("udp");
    assert!(udp["delivered"].as_u64().unwrap() < 500, "{udp}");
    assert_eq!(
        udp["lost"].as_u64().unwrap() + udp["delivered"].as_u64().unwrap(),
        500
    );
    let rel = row("reliable-udp");
    assert_eq!(rel["delivered"], 500, "{rel}");
    assert_eq!(rel["lost"], 0);
    assert_eq!(rel["out_of_order"], 0);
    assert!(rel["retransmissions"].as_u64().unwrap() > 0);
    let tcp = row("tcp");
    assert_eq!(tcp["delivered"], 500);
    assert_eq!(tcp["out_of_order"], 0);
    for r in rows {
        for k in [
            "sent",
            "delivered",
            "lost",
            "duplicated",
            "out_of_order",
            "retransmissions",
            "p50_ms",
            "p99_ms",
            "elapsed_ms",
        ] {
            assert!(r.get(k).is_some(), "row {} has no {k}", r["transport"]);
        }
    }
}

/// 100% loss: the reliable-udp row gives up after a bounded number of retransmissions of one
/// datagram, the table is still printed with that row failed and why, and the exit code is 1.
#[test]
fn compare_total_loss_ends_with_a_failed_row() {
    let t = std::time::Instant::now();
    let out = wirelab()
        .args(["compare", "--count", "100", "--loss", "1", "--json"])
        .output()
        .expect("run");
    assert!(
        t.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["type"], "comparison");
    let rows = v["rows"].as_array().unwrap();
    let rel = rows
        .iter()
        .find(|r| r["transport"] == "reliable-udp")
        .unwrap();
    assert_eq!(rel["status"], "failed");
    assert_eq!(rel["delivered"], 0);
    let why = rel["failure"].as_str().unwrap();
    assert!(
        why.contains("16 times") && why.contains("15 retransmissions"),
        "{why}"
    );
    assert_eq!(
        rows.iter().find(|r| r["transport"] == "tcp").unwrap()["status"],
        "ok"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("compare: a row failed: reliable-udp: gave up"),
        "{err}"
    );

    let out = wirelab()
        .args(["compare", "--count", "20", "--loss", "1"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("0 FAILED") && text.contains("FAILED: gave up"),
        "{text}"
    );
    assert!(text.contains("| tcp"), "the table is finished: {text}");
}

/// socat listening on a free port, serving each connection with `address` (EXEC:cat, ...).
fn socat_server(address: &str) -> (u16, std::process::Child) {
    let port = common::free_port();
    let (peer, _err) = start_peer(
        Command::new("socat").args([
            "-d",
            "-d",
            &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"),
            address,
        ]),
        "listening on",
    );
    (port, peer)
}

/// Runs `wirelab tcp send ADDR [extra]` with `input` on a piped standard input.
fn tcp_send_stdin(addr: &str, extra: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = wirelab()
        .args(["tcp", "send", addr])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wirelab");
    let mut stdin = child.stdin.take().expect("stdin");
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().unwrap();
    out
}

/// nc mode against `ncat -l --no-shutdown`, which is nc on the other end: our stdin arrives
/// at ncat's stdout and ncat's stdin at our stdout, every byte value unchanged. ncat
/// half-closes (FIN) when its stdin ends and keeps reading, so our side must go on sending
/// after the server's FIN. The commentary and TCP_INFO are on stderr. (ncat --exec cat is no
/// echo for this: it drops what cat has not written yet when the client's FIN comes, for
/// ncat's own client too.)
#[test]
fn tcp_send_stdin_talks_to_ncat_both_ways_byte_for_byte() {
    require("ncat");
    let port = common::free_port().to_string();
    let mut peer = Command::new("ncat")
        .args(["-v", "-l", "--no-shutdown", "127.0.0.1", &port])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ncat");
    let err_rx = common::lines(peer.stderr.take().unwrap());
    common::wait_for(&err_rx, "Listening on", 15);
    let from_ncat: Vec<u8> = (0..2560u32).map(|i| (255 - i % 256) as u8).collect();
    let mut peer_in = peer.stdin.take().unwrap();
    let sent = from_ncat.clone();
    let feeder = std::thread::spawn(move || {
        let _ = peer_in.write_all(&sent);
        // Dropping stdin: ncat half-closes (FIN) once it has sent it all.
    });
    let input: Vec<u8> = (0..2560u32).map(|i| (i * 7 % 256) as u8).collect();
    let out = tcp_send_stdin(&format!("127.0.0.1:{port}"), &[], &input);
    feeder.join().unwrap();
    let peer_out = peer.wait_with_output().expect("ncat output");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        out.stdout == from_ncat,
        "got {} bytes from ncat",
        out.stdout.len()
    );
    assert!(
        peer_out.stdout == input,
        "ncat got {} bytes",
        peer_out.stdout.len()
    );
    assert!(
        err.contains("end of input after 2560 bytes: sent FIN"),
        "{err}"
    );
    assert!(
        err.contains("TCP_INFO (kernel)") && err.contains("total_retrans"),
        "{err}"
    );
    assert!(err.contains("0000  ff fe fd fc"), "{err}");
    assert!(err.contains("2560 bytes sent, 2560 received"), "{err}");
}

/// 300 kB through socat's echo: more than the socket buffers hold, so sending and
/// receiving must overlap (a client that wrote everything first would deadlock).
#[test]
fn tcp_send_stdin_relays_a_large_stream_through_socat() {
    require("socat");
    let (port, mut peer) = socat_server("EXEC:cat");
    let input: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let out = tcp_send_stdin(&port.to_string(), &[], &input);
    let _ = peer.kill();
    let _ = peer.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        out.stdout == input,
        "got {} of {} bytes",
        out.stdout.len(),
        input.len()
    );
    assert!(err.contains("300000 bytes sent, 300000 received"), "{err}");
}

/// nc mode against a server that is not an echo: socat says hello and ignores what we send.
/// --json reports each read with its data, and the kernel's TCP_INFO.
#[test]
fn tcp_send_stdin_talks_to_a_server_that_is_not_an_echo() {
    require("socat");
    let (port, mut peer) = socat_server("SYSTEM:echo hello-from-socat; cat >/dev/null");
    let addr = format!("127.0.0.1:{port}");
    let out = tcp_send_stdin(&addr, &["--no-echo"], b"ping\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello-from-socat\n");

    let out = tcp_send_stdin(&addr, &["--json"], b"ping\n");
    let _ = peer.kill();
    let _ = peer.wait();
    assert!(out.status.success());
    let v: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let got: String = events(&v, "received")
        .iter()
        .map(|e| e["data"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, hex::encode("hello-from-socat\n"));
    assert_eq!(events(&v, "sent")[0]["bytes"], 5);
    assert_eq!(events(&v, "input_ended").len(), 1);
    assert!(events(&v, "info")[0]["rtt_ms"].is_number());
    let closed = &events(&v, "closed")[0];
    assert_eq!(closed["server_closed"], true);
    assert_eq!(closed["bytes_received"], 17);
}

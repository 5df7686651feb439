//! `compare`: one workload, three transports, one table.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::arq::{self, ArqConfig};
use super::lossy::LinkConfig;
use super::netns::NetemPair;
use super::stats::{self, Percentiles};
use super::tcp_client::tcp_info;
use super::udp::{self, now_ns, RecvConfig, SendConfig};
use crate::wire::probe::Probe;

#[derive(Debug, Clone, Copy)]
pub struct CompareConfig {
    pub count: u64,
    pub size: usize,
    pub loss: f64,
    pub seed: u64,
    pub window: u32,
    /// Datagrams per second for the udp row (so the kernel's own buffers drop nothing).
    pub rate: u64,
    pub netem: bool,
}

/// One row of the table: what the receiving application got.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub transport: &'static str,
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub retransmissions: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub elapsed_ms: f64,
    /// Application bytes delivered per second, in Mbit/s.
    pub goodput_mbps: f64,
    /// Where the loss came from, and anything the reader should know about the row.
    pub note: String,
    /// "ok", or "failed" when the transport gave up before delivering everything.
    pub status: &'static str,
    /// Why it failed (null when it did not).
    pub failure: Option<String>,
    /// (sequence number, delivery latency in ms) of every message delivered, for the chart.
    #[serde(skip)]
    pub series: Vec<(u64, f64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub count: u64,
    pub size: usize,
    pub loss: f64,
    pub seed: u64,
    pub rows: Vec<Row>,
    /// What was skipped and why (e.g. --netem without root).
    pub skipped: Vec<String>,
}

fn goodput(delivered: u64, size: usize, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64().max(1e-9);
    (delivered as f64 * size as f64 * 8.0) / secs / 1e6
}

fn row(
    transport: &'static str,
    sent: u64,
    delivered: u64,
    size: usize,
    lat: Percentiles,
    elapsed: Duration,
) -> Row {
    Row {
        transport,
        sent,
        delivered,
        lost: sent.saturating_sub(delivered),
        duplicated: 0,
        out_of_order: 0,
        retransmissions: 0,
        p50_ms: lat.p50_ms,
        p99_ms: lat.p99_ms,
        elapsed_ms: elapsed.as_secs_f64() * 1e3,
        goodput_mbps: goodput(delivered, size, elapsed),
        note: String::new(),
        status: "ok",
        failure: None,
        series: Vec::new(),
    }
}

/// What `compare` is doing, for a progress line.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub transport: &'a str,
    /// Messages delivered so far, when the row counts them as it goes.
    pub delivered: Option<u64>,
    pub count: u64,
}

impl Comparison {
    /// The rows that gave up.
    pub fn failed(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.failure.is_some())
    }
}

/// Runs all three; `progress` hears each transport as it starts, and the reliable-udp row's
/// deliveries about ten times a second.
pub fn run(cfg: CompareConfig, progress: impl Fn(Progress)) -> io::Result<Comparison> {
    let at = |transport: &str, delivered: Option<u64>| {
        progress(Progress {
            transport,
            delivered,
            count: cfg.count,
        })
    };
    let link = LinkConfig {
        loss: cfg.loss,
        reorder: 0.0,
        duplicate: 0.0,
        seed: cfg.seed,
    };
    let mut rows = Vec::new();
    let mut skipped = Vec::new();

    at("udp", None);
    rows.push(udp_row(cfg, link)?);

    at("reliable-udp", Some(0));
    let delivered = Arc::new(AtomicU64::new(0));
    let arq_cfg = ArqConfig {
        count: cfg.count,
        size: cfg.size,
        window: cfg.window,
        link,
        deadline: Duration::from_secs(60),
        max_retries: arq::MAX_RETRIES,
    };
    let r = std::thread::scope(|s| {
        let counter = delivered.clone();
        let job = s.spawn(move || arq::run_counting(arq_cfg, counter));
        while !job.is_finished() {
            std::thread::sleep(Duration::from_millis(100));
            at("reliable-udp", Some(delivered.load(Ordering::Relaxed)));
        }
        job.join()
            .map_err(|_| io::Error::other("reliable-udp thread panicked"))
    })??;
    // Delivered in order: the i-th latency is message i's.
    let series = in_order_series(&r.latencies_ns);
    let mut lat = r.latencies_ns.clone();
    let mut rr = row(
        "reliable-udp",
        r.sent,
        r.delivered,
        cfg.size,
        stats::percentiles(&mut lat),
        r.elapsed,
    );
    rr.series = series;
    rr.retransmissions = r.retransmissions;
    rr.out_of_order = r.out_of_order;
    if let Some(why) = &r.gave_up {
        rr.status = "failed";
        rr.failure = Some(why.clone());
    }
    rr.note = match &r.gave_up {
        Some(_) => "lossy link both ways: the sender gave up (see the failure)".into(),
        None => format!(
            "lossy link both ways; {} early arrivals buffered, {} duplicates discarded",
            r.buffered, r.duplicates_discarded
        ),
    };
    rows.push(rr);

    at("tcp", None);
    if cfg.netem {
        match NetemPair::create(cfg.loss) {
            Ok(pair) => {
                let mut t =
                    pair.run(move |server, client| tcp_row(cfg, Some((server, client))))??;
                t.note = format!(
                    "kernel TCP across two network namespaces, tc netem loss {}% each way",
                    cfg.loss * 100.0
                );
                rows.push(t);
            }
            Err(e) => {
                skipped.push(format!("--netem: {e}; the tcp row ran on plain loopback"));
                rows.push(tcp_row(cfg, None)?);
            }
        }
    } else {
        rows.push(tcp_row(cfg, None)?);
    }
    Ok(Comparison {
        count: cfg.count,
        size: cfg.size,
        loss: cfg.loss,
        seed: cfg.seed,
        rows,
        skipped,
    })
}

/// Latencies of messages delivered in order (message i at index i), as (seq, ms).
fn in_order_series(ns: &[u64]) -> Vec<(u64, f64)> {
    ns.iter()
        .enumerate()
        .map(|(i, &n)| (i as u64, n as f64 / 1e6))
        .collect()
}

fn udp_row(cfg: CompareConfig, link: LinkConfig) -> io::Result<Row> {
    let rx = udp::bind("127.0.0.1:0".parse().map_err(io::Error::other)?)?;
    let addr = rx.local_addr()?;
    let receiver = std::thread::spawn(move || {
        let mut series = Vec::new();
        let r = udp::recv(
            &rx,
            &RecvConfig {
                count: None,
                timeout: Duration::from_secs(5),
                interval: None,
            },
            |a| {
                if !a.duplicate {
                    series.push((a.seq, a.latency_ms));
                }
            },
        );
        r.map(|r| (r, series))
    });
    let started = Instant::now();
    let s = udp::send(
        &SendConfig {
            addr,
            count: cfg.count,
            size: cfg.size,
            rate: cfg.rate,
            link,
            duration: None,
        },
        |_| {},
    )?;
    let (r, series) = receiver
        .join()
        .map_err(|_| io::Error::other("receiver thread panicked"))??;
    let elapsed = started.elapsed();
    let mut row = row("udp", s.sent, r.distinct, cfg.size, r.latency, elapsed);
    row.series = series;
    row.lost = r.lost;
    row.duplicated = r.duplicated;
    row.out_of_order = r.out_of_order;
    row.note = format!("lossy link dropped {}; nobody noticed", s.dropped);
    Ok(row)
}

/// N fixed-size messages over one kernel TCP connection; the receiver frames them by size.
/// With `netem`, the sockets come from the two namespaces: (server listener, client address).
fn tcp_row(cfg: CompareConfig, netem: Option<(TcpListener, SocketAddr)>) -> io::Result<Row> {
    let (listener, connect_to) = match netem {
        Some((l, a)) => (l, a),
        None => {
            let l = TcpListener::bind("127.0.0.1:0")?;
            let a = l.local_addr()?;
            (l, a)
        }
    };
    let size = cfg.size;
    let count = cfg.count;
    let receiver = std::thread::spawn(move || -> io::Result<(u64, Vec<u64>, u64)> {
        let (mut s, _) = listener.accept()?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut buf = vec![0u8; size];
        let (mut delivered, mut out_of_order, mut next) = (0u64, 0u64, 0u64);
        let mut lat = Vec::with_capacity(count as usize);
        while delivered < count {
            match s.read_exact(&mut buf) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e),
            }
            let p = Probe::parse(&buf).map_err(io::Error::other)?;
            if p.seq != next {
                out_of_order += 1;
            }
            next = p.seq + 1;
            lat.push(now_ns().saturating_sub(p.sent_ns));
            delivered += 1;
        }
        Ok((delivered, lat, out_of_order))
    });
    let started = Instant::now();
    let mut c = TcpStream::connect_timeout(&connect_to, Duration::from_secs(5))?;
    c.set_nodelay(true)?;
    c.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut buf = vec![0u8; size];
    let gap = Duration::from_secs_f64(1.0 / cfg.rate.max(1) as f64);
    for seq in 0..count {
        let due = started + gap.mul_f64(seq as f64);
        let now = Instant::now();
        if due > now + Duration::from_micros(50) {
            std::thread::sleep(due - now);
        }
        Probe::data(seq, now_ns()).emit(&mut buf);
        c.write_all(&buf)?;
    }
    let retrans = tcp_info(&c).map(|i| i.total_retrans).unwrap_or(0);
    c.shutdown(std::net::Shutdown::Write)?;
    let (delivered, mut lat, ooo) = receiver
        .join()
        .map_err(|_| io::Error::other("receiver thread panicked"))??;
    // Retransmissions may go on after the last write returned: read the count again at the end.
    let retrans = tcp_info(&c)
        .map(|i| i.total_retrans)
        .unwrap_or(retrans)
        .max(retrans);
    let elapsed = started.elapsed();
    let series = in_order_series(&lat);
    let mut r = row(
        "tcp",
        count,
        delivered,
        size,
        stats::percentiles(&mut lat),
        elapsed,
    );
    r.series = series;
    r.out_of_order = ooo;
    r.retransmissions = u64::from(retrans);
    r.note = "kernel TCP on loopback: no loss to recover from (--netem adds it, as root)".into();
    let _ = c.flush();
    Ok(r)
}

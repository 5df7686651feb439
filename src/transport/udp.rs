//! `udp send` and `udp recv`: numbered datagrams through the lossy link, and the receiver's
//! account of what arrived.

use std::collections::HashSet;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use socket2::{Domain, Socket, Type};

use super::interrupt;
use super::lossy::{Fate, LinkConfig, LossyLink};
use super::stats::{self, Percentiles};
use crate::wire::probe::{Kind, Probe};

/// Nanoseconds since the Unix epoch: the probe's send time, comparable across processes on
/// one machine.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Asks the kernel for large socket buffers, so a fast burst on loopback is not lost in the
/// receive queue (losses should be the lossy link's, not the kernel's). Best effort.
pub fn widen_buffers(sock: &UdpSocket) {
    let s = socket2::SockRef::from(sock);
    let _ = s.set_recv_buffer_size(8 << 20);
    let _ = s.set_send_buffer_size(8 << 20);
}

/// A UDP socket bound to `addr` with wide buffers.
pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, None)?;
    let _ = s.set_recv_buffer_size(8 << 20);
    let _ = s.set_send_buffer_size(8 << 20);
    s.bind(&addr.into())?;
    Ok(s.into())
}

#[derive(Debug, Clone)]
pub struct SendConfig {
    pub addr: SocketAddr,
    pub count: u64,
    pub size: usize,
    /// Datagrams per second; 0 for as fast as possible.
    pub rate: u64,
    pub link: LinkConfig,
    /// Stop numbering after this long (iperf3's `--time`), even before `count`.
    pub duration: Option<Duration>,
}

/// The sender's report.
#[derive(Debug, Clone, Serialize)]
pub struct SendReport {
    pub to: String,
    /// Datagrams numbered (handed to the lossy link).
    pub sent: u64,
    /// Dropped by the lossy link.
    pub dropped: u64,
    pub duplicated: u64,
    pub reordered: u64,
    /// Datagrams that actually left the socket (duplicates twice, drops not at all).
    pub on_wire: u64,
    pub seed: u64,
    pub loss: f64,
    pub size: usize,
    /// Sequence numbers the link dropped, as inclusive ranges.
    pub dropped_seqs: Vec<[u64; 2]>,
    /// Sends the kernel refused with "connection refused": an ICMP port unreachable came back,
    /// so nobody is listening. UDP itself never tells the sender.
    pub refused: u64,
    pub elapsed_ms: f64,
    pub rate_pps: f64,
    /// UDP payload numbered per second, in Mbit/s.
    pub bitrate_mbps: f64,
}

/// Sends `cfg.count` numbered datagrams, then the end marker (three times, past the link).
/// `progress` is called with the number sent so far, about every 1% of the count.
pub fn send(cfg: &SendConfig, mut progress: impl FnMut(u64)) -> io::Result<SendReport> {
    let local: SocketAddr = if cfg.addr.is_ipv4() {
        "0.0.0.0:0".parse().map_err(io::Error::other)?
    } else {
        "[::]:0".parse().map_err(io::Error::other)?
    };
    let sock = bind(local)?;
    sock.connect(cfg.addr)?;
    let mut link = LossyLink::new(cfg.link);
    let mut buf = vec![0u8; cfg.size];
    let mut dropped = Vec::new();
    let start = Instant::now();
    let gap = (cfg.rate > 0).then(|| Duration::from_secs_f64(1.0 / cfg.rate as f64));
    let step = (cfg.count / 100).max(1);
    // Unpaced, datagrams go out 32 per sendmmsg(2) call; paced, one send(2) each.
    let mut out = Outbox::new(&sock, cfg.size, if gap.is_some() { 1 } else { 32 });
    let mut put = |d: &[u8]| out.push(d);
    for seq in 0..cfg.count {
        if let Some(gap) = gap {
            let due = start + gap.mul_f64(seq as f64);
            let now = Instant::now();
            if due > now + Duration::from_micros(50) {
                std::thread::sleep(due - now);
            }
        }
        Probe::data(seq, now_ns()).emit(&mut buf);
        if link.send(&buf, &mut put)? == Fate::Dropped {
            dropped.push(seq);
        }
        if seq % step == 0 {
            progress(seq);
        }
        if interrupt::requested() || cfg.duration.is_some_and(|d| start.elapsed() >= d) {
            break;
        }
    }
    link.flush(&mut put)?;
    out.flush()?;
    let refused = out.refused;
    let numbered = link.stats.offered;
    let end = Probe {
        kind: Kind::End,
        retransmit: false,
        seq: numbered,
        sent_ns: now_ns(),
    }
    .to_vec(crate::wire::probe::HEADER_LEN);
    // The receiver may stop at the first copy, so later ones may be refused: not counted.
    for _ in 0..3 {
        let _ = sock.send(&end);
    }
    let elapsed = start.elapsed();
    Ok(SendReport {
        to: cfg.addr.to_string(),
        sent: numbered,
        dropped: link.stats.dropped,
        duplicated: link.stats.duplicated,
        reordered: link.stats.reordered,
        on_wire: link.stats.transmitted,
        seed: cfg.link.seed,
        loss: cfg.link.loss,
        size: cfg.size,
        dropped_seqs: stats::ranges(&dropped),
        refused,
        elapsed_ms: elapsed.as_secs_f64() * 1e3,
        rate_pps: numbered as f64 / elapsed.as_secs_f64().max(1e-9),
        bitrate_mbps: mbps(numbered * cfg.size as u64, elapsed),
    })
}

/// Datagrams waiting to leave a connected socket, sent in batches with sendmmsg(2).
struct Outbox<'a> {
    sock: &'a UdpSocket,
    data: Vec<u8>,
    lens: Vec<usize>,
    slot: usize,
    cap: usize,
    /// Sends refused because an ICMP port unreachable came back (nobody listens).
    refused: u64,
}

impl<'a> Outbox<'a> {
    fn new(sock: &'a UdpSocket, max_len: usize, cap: usize) -> Self {
        Outbox {
            sock,
            data: vec![0u8; max_len * cap],
            lens: Vec::with_capacity(cap),
            slot: max_len,
            cap,
            refused: 0,
        }
    }

    fn push(&mut self, d: &[u8]) -> io::Result<()> {
        if self.cap == 1 || d.len() > self.slot {
            self.flush()?;
            return self.send_one(d);
        }
        let at = self.lens.len() * self.slot;
        self.data[at..at + d.len()].copy_from_slice(d);
        self.lens.push(d.len());
        if self.lens.len() == self.cap {
            self.flush()?;
        }
        Ok(())
    }

    fn send_one(&mut self, d: &[u8]) -> io::Result<()> {
        loop {
            match self.sock.send(d) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    self.refused += 1;
                    return Ok(());
                }
                // A full send queue on a burst: wait for room rather than lose silently.
                Err(e) if super::no_data_yet(&e) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut done = 0;
        while done < self.lens.len() {
            let mut iov: Vec<libc::iovec> = self.lens[done..]
                .iter()
                .enumerate()
                .map(|(i, &len)| libc::iovec {
                    iov_base: self.data[(done + i) * self.slot..].as_mut_ptr().cast(),
                    iov_len: len,
                })
                .collect();
            let mut msgs: Vec<libc::mmsghdr> = iov
                .iter_mut()
                .map(|v| {
                    // SAFETY: an all-zero msghdr is valid (no name, no control data).
                    let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                    m.msg_hdr.msg_iov = v;
                    m.msg_hdr.msg_iovlen = 1;
                    m
                })
                .collect();
            // SAFETY: msgs points at live iovecs over live buffers, for this call only.
            let n = unsafe {
                libc::sendmmsg(
                    std::os::fd::AsRawFd::as_raw_fd(self.sock),
                    msgs.as_mut_ptr(),
                    msgs.len() as libc::c_uint,
                    0,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::ConnectionRefused => {
                        self.refused += 1;
                        done += 1;
                    }
                    _ if super::no_data_yet(&e) => {}
                    _ => return Err(e),
                }
            } else {
                done += n as usize;
            }
        }
        self.lens.clear();
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct RecvConfig {
    /// Stop after this many distinct datagrams.
    pub count: Option<u64>,
    /// Stop after this much silence.
    pub timeout: Duration,
    /// Report every this often (iperf3's `--interval`), counted from the first datagram.
    pub interval: Option<Duration>,
}

/// One datagram as the receiver saw it.
#[derive(Debug, Clone, Serialize)]
pub struct Arrival {
    pub seq: u64,
    pub bytes: usize,
    pub from: String,
    pub latency_ms: f64,
    /// The sender's timestamp and our clock at arrival, ns since the Unix epoch: the two
    /// numbers the jitter is computed from.
    pub sent_ns: u64,
    pub recv_ns: u64,
    pub duplicate: bool,
    pub out_of_order: bool,
}

/// One `--interval` line: what arrived between `start_s` and `end_s` (seconds since the
/// first datagram).
#[derive(Debug, Clone, Serialize)]
pub struct Interval {
    pub start_s: f64,
    pub end_s: f64,
    /// Datagrams that arrived, duplicates included.
    pub received: u64,
    pub bytes: u64,
    pub bitrate_mbps: f64,
    /// Sequence numbers skipped over in this interval that had not arrived by its end.
    pub lost: u64,
    pub out_of_order: u64,
    pub duplicated: u64,
    /// The running jitter estimate at the end of the interval.
    pub jitter_ms: f64,
}

/// Why the receiver stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ended {
    Count,
    EndMarker,
    Timeout,
    Interrupted,
}

/// The receiver's report.
#[derive(Debug, Clone, Serialize)]
pub struct RecvReport {
    pub listen: String,
    /// Datagrams that arrived, duplicates included.
    pub received: u64,
    /// Distinct sequence numbers that arrived.
    pub distinct: u64,
    /// How many were numbered: from the sender's end marker, else the highest seen + 1.
    pub expected: u64,
    /// True when `expected` came from the sender's end marker.
    pub expected_from_sender: bool,
    pub lost: u64,
    /// `lost` as a percentage of `expected` (out-of-order and duplicates are not loss).
    pub loss_pct: f64,
    pub duplicated: u64,
    /// Arrived after a higher sequence number had already arrived.
    pub out_of_order: u64,
    /// RFC 3550 interarrival jitter over every arrival, as iperf3 computes it.
    pub jitter_ms: f64,
    /// Bytes of UDP payload received, per second from first to last arrival, in Mbit/s.
    pub bitrate_mbps: f64,
    /// Datagrams that were not wirelab probes.
    pub invalid: u64,
    pub lost_seqs: Vec<[u64; 2]>,
    #[serde(flatten)]
    pub latency: Percentiles,
    pub bytes: u64,
    pub elapsed_ms: f64,
    pub ended: Ended,
}

/// Receives until the count, the end marker, the silence timeout or Ctrl-C.
pub fn recv(
    sock: &UdpSocket,
    cfg: &RecvConfig,
    on_arrival: impl FnMut(&Arrival),
) -> io::Result<RecvReport> {
    recv_with(sock, cfg, on_arrival, |_| {})
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    if d.is_zero() {
        return 0.0;
    }
    bytes as f64 * 8.0 / d.as_secs_f64() / 1e6
}

/// Counts for one `--interval`.
#[derive(Default)]
struct Tally {
    received: u64,
    bytes: u64,
    out_of_order: u64,
    duplicated: u64,
    /// Distinct new sequence numbers.
    distinct: u64,
}

/// [`recv`], also calling `on_interval` every `cfg.interval`.
pub fn recv_with(
    sock: &UdpSocket,
    cfg: &RecvConfig,
    mut on_arrival: impl FnMut(&Arrival),
    mut on_interval: impl FnMut(&Interval),
) -> io::Result<RecvReport> {
    let listen = sock.local_addr()?.to_string();
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut buf = vec![0u8; 65_536];
    let mut seen: HashSet<u64> = HashSet::new();
    let (mut received, mut duplicated, mut out_of_order, mut invalid, mut bytes) = (0, 0, 0, 0, 0);
    let mut highest: Option<u64> = None;
    let mut end_marker: Option<u64> = None;
    let mut latencies = Vec::new();
    let mut jitter = stats::Jitter::default();
    let mut first: Option<Instant> = None;
    let mut last_arrival: Option<Instant> = None;
    let mut last_heard = Instant::now();
    let mut tally = Tally::default();
    // Sequence numbers spanned (highest + 1) when the last interval closed.
    let mut span_before = 0u64;
    let mut interval_no = 0u32;
    let mut close_interval = |tally: &mut Tally,
                              span_now: u64,
                              start: f64,
                              end: f64,
                              jitter_ms: f64,
                              span_before: &mut u64| {
        let new_span = span_now.saturating_sub(*span_before);
        let i = Interval {
            start_s: start,
            end_s: end,
            received: tally.received,
            bytes: tally.bytes,
            bitrate_mbps: mbps(tally.bytes, Duration::from_secs_f64((end - start).max(0.0))),
            lost: new_span.saturating_sub(tally.distinct),
            out_of_order: tally.out_of_order,
            duplicated: tally.duplicated,
            jitter_ms,
        };
        *span_before = span_now;
        *tally = Tally::default();
        on_interval(&i);
    };
    let ended = loop {
        if interrupt::requested() {
            break Ended::Interrupted;
        }
        if let (Some(every), Some(f)) = (cfg.interval, first) {
            let due = every.mul_f64(f64::from(interval_no + 1));
            if f.elapsed() >= due {
                let span = highest.map_or(0, |h| h.saturating_add(1));
                let start = every.as_secs_f64() * f64::from(interval_no);
                close_interval(
                    &mut tally,
                    span,
                    start,
                    due.as_secs_f64(),
                    jitter.ms(),
                    &mut span_before,
                );
                interval_no += 1;
            }
        }
        let (n, from) = match sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e) if super::no_data_yet(&e) => {
                if last_heard.elapsed() >= cfg.timeout {
                    break Ended::Timeout;
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        let recv_ns = now_ns();
        last_heard = Instant::now();
        let probe = match Probe::parse(&buf[..n]) {
            Ok(p) => p,
            Err(_) => {
                invalid += 1;
                continue;
            }
        };
        match probe.kind {
            Kind::End => {
                end_marker = Some(probe.seq);
                break Ended::EndMarker;
            }
            Kind::Data => {}
            Kind::Ack | Kind::Unknown(_) => {
                invalid += 1;
                continue;
            }
        }
        first.get_or_insert(last_heard);
        last_arrival = Some(last_heard);
        received += 1;
        bytes += n as u64;
        tally.received += 1;
        tally.bytes += n as u64;
        jitter.add(probe.sent_ns, recv_ns);
        let duplicate = !seen.insert(probe.seq);
        let ooo = !duplicate && highest.is_some_and(|h| probe.seq < h);
        let latency = recv_ns.saturating_sub(probe.sent_ns);
        if duplicate {
            duplicated += 1;
            tally.duplicated += 1;
        } else {
            tally.distinct += 1;
            if ooo {
                out_of_order += 1;
                tally.out_of_order += 1;
            }
            latencies.push(latency);
        }
        highest = Some(highest.map_or(probe.seq, |h| h.max(probe.seq)));
        on_arrival(&Arrival {
            seq: probe.seq,
            bytes: n,
            from: from.to_string(),
            latency_ms: latency as f64 / 1e6,
            sent_ns: probe.sent_ns,
            recv_ns,
            duplicate,
            out_of_order: ooo,
        });
        if cfg.count.is_some_and(|c| seen.len() as u64 >= c) {
            break Ended::Count;
        }
    };
    let elapsed = match (first, last_arrival) {
        (Some(f), Some(l)) => l.duration_since(f),
        _ => Duration::ZERO,
    };
    let mut sorted: Vec<u64> = seen.into_iter().collect();
    sorted.sort_unstable();
    let distinct = sorted.len() as u64;
    let expected = end_marker
        .or(cfg.count)
        .unwrap_or_else(|| highest.map_or(0, |h| h.saturating_add(1)));
    // The last, partial interval; it also owns the losses after the highest number seen.
    if let (Some(every), Some(_)) = (cfg.interval, first) {
        let span = highest.map_or(0, |h| h.saturating_add(1)).max(expected);
        if tally.received > 0 || span > span_before {
            let start = every.as_secs_f64() * f64::from(interval_no);
            close_interval(
                &mut tally,
                span,
                start,
                elapsed.as_secs_f64().max(start),
                jitter.ms(),
                &mut span_before,
            );
        }
    }
    let lost_seqs = stats::missing_ranges(&sorted, expected);
    let lost = stats::ranges_len(&lost_seqs);
    Ok(RecvReport {
        listen,
        received,
        distinct,
        expected,
        expected_from_sender: end_marker.is_some(),
        lost,
        loss_pct: if expected == 0 {
            0.0
        } else {
            lost as f64 * 100.0 / expected as f64
        },
        duplicated,
        out_of_order,
        jitter_ms: jitter.ms(),
        bitrate_mbps: mbps(bytes, elapsed),
        invalid,
        lost_seqs,
        latency: stats::percentiles(&mut latencies),
        bytes,
        elapsed_ms: elapsed.as_secs_f64() * 1e3,
        ended,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(link: LinkConfig, count: u64) -> (SendReport, RecvReport) {
        let rx = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = rx.local_addr().unwrap();
        let recv_thread = std::thread::spawn(move || {
            recv(
                &rx,
                &RecvConfig {
                    count: None,
                    timeout: Duration::from_secs(5),
                    interval: None,
                },
                |_| {},
            )
            .unwrap()
        });
        let s = send(
            &SendConfig {
                addr,
                count,
                size: 64,
                rate: 20_000,
                link,
                duration: None,
            },
            |_| {},
        )
        .unwrap();
        (s, recv_thread.join().unwrap())
    }

    #[test]
    fn receiver_agrees_with_sender() {
        let (s, r) = pair(
            LinkConfig {
                loss: 0.2,
                reorder: 0.05,
                duplicate: 0.05,
                seed: 7,
            },
            500,
        );
        assert_eq!(r.ended, Ended::EndMarker);
        assert_eq!(r.expected, 500);
        assert_eq!(r.lost, s.dropped);
        assert_eq!(r.lost_seqs, s.dropped_seqs);
        assert_eq!(r.duplicated, s.duplicated);
        assert_eq!(r.received, s.on_wire);
        assert!(r.out_of_order > 0 && r.out_of_order <= s.reordered);
    }
}

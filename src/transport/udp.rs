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
        if interrupt::requested() {
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
}

/// One datagram as the receiver saw it.
#[derive(Debug, Clone, Serialize)]
pub struct Arrival {
    pub seq: u64,
    pub bytes: usize,
    pub from: String,
    pub latency_ms: f64,
    pub duplicate: bool,
    pub out_of_order: bool,
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
    pub unique: u64,
    /// How many were numbered: from the sender's end marker, else the highest seen + 1.
    pub expected: u64,
    /// True when `expected` came from the sender's end marker.
    pub expected_from_sender: bool,
    pub lost: u64,
    pub duplicated: u64,
    /// Arrived after a higher sequence number had already arrived.
    pub out_of_order: u64,
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
    mut on_arrival: impl FnMut(&Arrival),
) -> io::Result<RecvReport> {
    let listen = sock.local_addr()?.to_string();
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut buf = vec![0u8; 65_536];
    let mut seen: HashSet<u64> = HashSet::new();
    let (mut received, mut duplicated, mut out_of_order, mut invalid, mut bytes) = (0, 0, 0, 0, 0);
    let mut highest: Option<u64> = None;
    let mut end_marker: Option<u64> = None;
    let mut latencies = Vec::new();
    let mut first: Option<Instant> = None;
    let mut last_heard = Instant::now();
    let ended = loop {
        if interrupt::requested() {
            break Ended::Interrupted;
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
        first.get_or_insert_with(Instant::now);
        received += 1;
        bytes += n as u64;
        let duplicate = !seen.insert(probe.seq);
        let ooo = !duplicate && highest.is_some_and(|h| probe.seq < h);
        if duplicate {
            duplicated += 1;
        } else {
            if ooo {
                out_of_order += 1;
            }
            let lat = now_ns().saturating_sub(probe.sent_ns);
            latencies.push(lat);
        }
        highest = Some(highest.map_or(probe.seq, |h| h.max(probe.seq)));
        on_arrival(&Arrival {
            seq: probe.seq,
            bytes: n,
            from: from.to_string(),
            latency_ms: now_ns().saturating_sub(probe.sent_ns) as f64 / 1e6,
            duplicate,
            out_of_order: ooo,
        });
        if cfg.count.is_some_and(|c| seen.len() as u64 >= c) {
            break Ended::Count;
        }
    };
    let elapsed = first.map(|f| f.elapsed()).unwrap_or_default();
    let mut sorted: Vec<u64> = seen.into_iter().collect();
    sorted.sort_unstable();
    let unique = sorted.len() as u64;
    let expected = end_marker
        .or(cfg.count)
        .unwrap_or_else(|| highest.map_or(0, |h| h.saturating_add(1)));
    let lost_seqs = stats::missing_ranges(&sorted, expected);
    Ok(RecvReport {
        listen,
        received,
        unique,
        expected,
        expected_from_sender: end_marker.is_some(),
        lost: stats::ranges_len(&lost_seqs),
        duplicated,
        out_of_order,
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

//! Reliable UDP: a small selective-repeat ARQ over the lossy link, made to be read.
//!
//! What TCP does inside the kernel, done here in the open:
//! - every data datagram carries a sequence number;
//! - the receiver acknowledges each one it gets (again if it comes twice: the first ack may
//!   have been lost), keeps early arrivals in a buffer and hands them to the application in
//!   order;
//! - the sender keeps at most `window` datagrams unacknowledged, and sends one again when its
//!   acknowledgement has not come back within the retransmission timeout (RTO), which it
//!   derives from measured round trips (RFC 6298, with Karn's rule: no samples from
//!   retransmitted datagrams).
//!
//! Both directions cross a lossy link, so acknowledgements get lost too.

use std::collections::BTreeSet;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::lossy::{LinkConfig, LossyLink};
use super::udp::{bind, now_ns};
use crate::wire::probe::{self, Kind, Probe, HEADER_LEN};

#[derive(Debug, Clone, Copy)]
pub struct ArqConfig {
    pub count: u64,
    pub size: usize,
    pub window: u32,
    /// Data direction; acknowledgements use the same probabilities with another seed.
    pub link: LinkConfig,
    /// Give up when not done by then.
    pub deadline: Duration,
    /// Give up when one datagram has been sent again this many times without an
    /// acknowledgement, as TCP gives up after `tcp_retries2` (15) retransmissions.
    pub max_retries: u32,
}

/// Retransmissions of one datagram before giving up (Linux's default `tcp_retries2`).
pub const MAX_RETRIES: u32 = 15;
/// The backed-off RTO of one datagram stops doubling here (RFC 6298 §5.5 doubles without
/// bound up to a maximum; on loopback a quarter second is already an eternity).
const MAX_BACKOFF: Duration = Duration::from_millis(250);

/// What a reliable-UDP run did.
#[derive(Debug, Clone, Default)]
pub struct ArqResult {
    /// Messages handed to the sender.
    pub sent: u64,
    /// Delivered to the receiving application, in order.
    pub delivered: u64,
    /// Datagrams sent again after a timeout.
    pub retransmissions: u64,
    /// Datagrams the receiver got twice (dropped by it, not delivered twice).
    pub duplicates_discarded: u64,
    /// Arrived early and were buffered until the gap before them was filled.
    pub buffered: u64,
    /// Delivery order was exactly 0, 1, 2, ...
    pub in_order: bool,
    /// Messages delivered at a position other than their sequence number (0 when in order).
    pub out_of_order: u64,
    /// First send to in-order delivery, per message, in ns.
    pub latencies_ns: Vec<u64>,
    pub elapsed: Duration,
    /// Why it stopped early, if it did.
    pub gave_up: Option<String>,
}

/// Runs sender and receiver on two loopback sockets, each in its own thread.
pub fn run(cfg: ArqConfig) -> io::Result<ArqResult> {
    run_counting(cfg, Arc::new(AtomicU64::new(0)))
}

/// [`run`], counting messages delivered so far in `delivered` (for a progress line).
pub fn run_counting(cfg: ArqConfig, delivered: Arc<AtomicU64>) -> io::Result<ArqResult> {
    let ip = "127.0.0.1:0".parse().map_err(io::Error::other)?;
    run_on(cfg, bind(ip)?, bind(ip)?, delivered)
}

/// Runs over two given sockets (e.g. made inside network namespaces).
pub fn run_on(
    cfg: ArqConfig,
    tx_sock: UdpSocket,
    rx_sock: UdpSocket,
    delivered: Arc<AtomicU64>,
) -> io::Result<ArqResult> {
    let rx_addr = rx_sock.local_addr()?;
    let ack_link = LinkConfig {
        seed: cfg.link.seed ^ 0xA5A5_5A5A_DEAD_BEEF,
        ..cfg.link
    };
    let receiver =
        std::thread::spawn(move || receive(rx_sock, ack_link, cfg.size, cfg.deadline, &delivered));
    let started = Instant::now();
    let sender = send(&tx_sock, rx_addr, cfg);
    let end = Probe {
        kind: Kind::End,
        retransmit: false,
        seq: cfg.count,
        sent_ns: now_ns(),
    }
    .to_vec(HEADER_LEN);
    // The end marker tells the receiver to stop; it bypasses the lossy link.
    for _ in 0..3 {
        let _ = tx_sock.send_to(&end, rx_addr);
    }
    let rx = receiver
        .join()
        .map_err(|_| io::Error::other("receiver thread panicked"))??;
    let (retransmissions, gave_up) = sender?;
    let out_of_order = rx
        .order
        .iter()
        .enumerate()
        .filter(|&(i, &s)| i as u64 != s)
        .count() as u64;
    Ok(ArqResult {
        sent: cfg.count,
        delivered: rx.order.len() as u64,
        retransmissions,
        duplicates_discarded: rx.duplicates,
        buffered: rx.buffered,
        in_order: out_of_order == 0,
        out_of_order,
        latencies_ns: rx.latencies,
        elapsed: started.elapsed(),
        gave_up,
    })
}

struct Slot {
    first_sent: Instant,
    first_sent_ns: u64,
    last_sent: Instant,
    retransmitted: bool,
    /// Times sent again.
    retries: u32,
}

/// Smoothed RTT and RTO per RFC 6298 §2, in seconds; RTO clamped to [2 ms, 1 s] for loopback.
struct RtoEstimator {
    srtt: Option<f64>,
    rttvar: f64,
}

impl RtoEstimator {
    fn sample(&mut self, r: f64) {
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2.0;
            }
            Some(s) => {
                self.rttvar = 0.75 * self.rttvar + 0.25 * (s - r).abs();
                self.srtt = Some(0.875 * s + 0.125 * r);
            }
        }
    }

    fn rto(&self) -> Duration {
        let secs = match self.srtt {
            None => 0.02,
            Some(s) => s + (4.0 * self.rttvar).max(0.001),
        };
        Duration::from_secs_f64(secs.clamp(0.002, 1.0))
    }
}

fn send(sock: &UdpSocket, to: SocketAddr, cfg: ArqConfig) -> io::Result<(u64, Option<String>)> {
    sock.connect(to)?;
    sock.set_read_timeout(Some(Duration::from_micros(500)))?;
    let mut link = LossyLink::new(cfg.link);
    let mut put = |d: &[u8]| -> io::Result<()> {
        match sock.send(d) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(()),
            Err(e) => Err(e),
        }
    };
    let window = u64::from(cfg.window);
    let mut slots: std::collections::BTreeMap<u64, Slot> = Default::default();
    let (mut next, mut base) = (0u64, 0u64);
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    let mut rto = RtoEstimator {
        srtt: None,
        rttvar: 0.0,
    };
    let mut retransmissions = 0u64;
    let mut buf = vec![0u8; cfg.size.max(HEADER_LEN)];
    let mut ack_buf = [0u8; 64];
    let started = Instant::now();
    while base < cfg.count {
        if started.elapsed() > cfg.deadline {
            link.flush(&mut put)?;
            return Ok((
                retransmissions,
                Some(format!(
                    "gave up after {:.1}s with {} of {} acknowledged",
                    cfg.deadline.as_secs_f64(),
                    base,
                    cfg.count
                )),
            ));
        }
        // New data while the window has room.
        while next < cfg.count && next < base + window {
            let now = Instant::now();
            let ns = now_ns();
            Probe::data(next, ns).emit(&mut buf);
            link.send(&buf, &mut put)?;
            slots.insert(
                next,
                Slot {
                    first_sent: now,
                    first_sent_ns: ns,
                    last_sent: now,
                    retransmitted: false,
                    retries: 0,
                },
            );
            next += 1;
        }
        // A held (reordered) datagram must not wait for a send that may never come.
        link.flush(&mut put)?;
        // Acknowledgements.
        loop {
            match sock.recv(&mut ack_buf) {
                Ok(n) => {
                    if let Ok(p) = Probe::parse(&ack_buf[..n]) {
                        if p.kind == Kind::Ack && p.seq < next && acked.insert(p.seq) {
                            if let Some(s) = slots.remove(&p.seq) {
                                if !s.retransmitted {
                                    rto.sample(s.first_sent.elapsed().as_secs_f64());
                                }
                            }
                        }
                        // Everything below the cumulative ack arrived, even if its own ack
                        // was lost.
                        let (cum, sack) = probe::cumulative_ack(&ack_buf[..n]).unwrap_or((0, 0));
                        while base < cum.min(next) {
                            slots.remove(&base);
                            acked.remove(&base);
                            base += 1;
                        }
                        // Selective acks: arrivals above the gap, as TCP's SACK reports them.
                        for i in 0..64u64 {
                            if sack & (1 << i) != 0 {
                                let s = cum.saturating_add(1 + i);
                                if s >= base && s < next && slots.remove(&s).is_some() {
                                    acked.insert(s);
                                }
                            }
                        }
                    }
                    sock.set_nonblocking(true)?;
                }
                Err(e) if super::no_data_yet(&e) => break,
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => break,
                Err(e) => return Err(e),
            }
        }
        sock.set_nonblocking(false)?;
        while acked.remove(&base) {
            base += 1;
        }
        // Timeouts: send again, with the original send time so latency counts the wait.
        let timeout = rto.rto();
        let now = Instant::now();
        for (&seq, slot) in slots.iter_mut() {
            // Each retransmission of a datagram doubles its wait (RFC 6298 §5.5).
            let backed_off = timeout
                .saturating_mul(1 << slot.retries.min(16))
                .min(MAX_BACKOFF.max(timeout));
            if now.duration_since(slot.last_sent) >= backed_off {
                if slot.retries >= cfg.max_retries {
                    link.flush(&mut put)?;
                    return Ok((
                        retransmissions,
                        Some(format!(
                            "gave up: datagram {seq} was sent {} times with no acknowledgement \
                             ({} retransmissions, the limit; TCP gives up likewise after \
                             tcp_retries2 = 15), with {base} of {} acknowledged",
                            slot.retries + 1,
                            slot.retries,
                            cfg.count
                        )),
                    ));
                }
                let p = Probe {
                    kind: Kind::Data,
                    retransmit: true,
                    seq,
                    sent_ns: slot.first_sent_ns,
                };
                p.emit(&mut buf);
                link.send(&buf, &mut put)?;
                slot.last_sent = now;
                slot.retransmitted = true;
                slot.retries += 1;
                retransmissions += 1;
            }
        }
        link.flush(&mut put)?;
    }
    Ok((retransmissions, None))
}

struct Received {
    order: Vec<u64>,
    duplicates: u64,
    buffered: u64,
    latencies: Vec<u64>,
}

fn receive(
    sock: UdpSocket,
    ack_link: LinkConfig,
    size: usize,
    deadline: Duration,
    delivered: &AtomicU64,
) -> io::Result<Received> {
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut link = LossyLink::new(ack_link);
    let mut buf = vec![0u8; size.max(HEADER_LEN) + 64];
    let mut early: std::collections::BTreeMap<u64, u64> = Default::default();
    let mut next_expected = 0u64;
    let mut out = Received {
        order: Vec::new(),
        duplicates: 0,
        buffered: 0,
        latencies: Vec::new(),
    };
    let started = Instant::now();
    // Slack past the sender's deadline so the sender always gives up first.
    while started.elapsed() < deadline + Duration::from_secs(2) {
        let (n, from) = match sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e) if super::no_data_yet(&e) => continue,
            Err(e) => return Err(e),
        };
        let Ok(p) = Probe::parse(&buf[..n]) else {
            continue;
        };
        match p.kind {
            Kind::End => break,
            Kind::Data => {}
            _ => continue,
        }
        if p.seq < next_expected || early.contains_key(&p.seq) {
            out.duplicates += 1;
        } else if p.seq > next_expected {
            out.buffered += 1;
            early.insert(p.seq, p.sent_ns);
        } else {
            // In order: deliver it, then whatever was waiting behind it.
            let now = now_ns();
            out.order.push(p.seq);
            out.latencies.push(now.saturating_sub(p.sent_ns));
            next_expected += 1;
            while let Some(sent) = early.remove(&next_expected) {
                out.order.push(next_expected);
                out.latencies.push(now.saturating_sub(sent));
                next_expected += 1;
            }
            delivered.store(next_expected, Ordering::Relaxed);
        }
        // Acknowledge every copy: the ack of the first one may have been lost.
        let sack = early
            .range(next_expected + 1..next_expected + 65)
            .fold(0u64, |m, (&s, _)| m | 1 << (s - next_expected - 1));
        let ack = probe::ack(p.seq, p.sent_ns, next_expected, sack);
        link.send(&ack, |d| sock.send_to(d, from).map(|_| ()))?;
        link.flush(|d| sock.send_to(d, from).map(|_| ()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(loss: f64, seed: u64) -> ArqConfig {
        ArqConfig {
            count: 300,
            size: 64,
            window: 16,
            link: LinkConfig {
                loss,
                reorder: 0.05,
                duplicate: 0.02,
                seed,
            },
            deadline: Duration::from_secs(20),
            max_retries: MAX_RETRIES,
        }
    }

    #[test]
    fn delivers_everything_in_order_over_a_lossy_link() {
        let r = run(cfg(0.2, 3)).unwrap();
        assert_eq!(r.gave_up, None);
        assert_eq!(r.delivered, 300);
        assert!(r.in_order);
        assert!(r.retransmissions > 0);
        assert_eq!(r.latencies_ns.len(), 300);
    }

    #[test]
    fn perfect_link_needs_few_retransmissions() {
        let mut c = cfg(0.0, 1);
        c.link = LinkConfig::perfect();
        let r = run(c).unwrap();
        assert_eq!(r.delivered, 300);
        assert!(r.in_order);
    }

    #[test]
    fn total_loss_gives_up_and_says_so() {
        let mut c = cfg(1.0, 1);
        c.count = 5;
        c.deadline = Duration::from_millis(300);
        let r = run(c).unwrap();
        assert_eq!(r.delivered, 0);
        assert!(r.gave_up.unwrap().contains("0 of 5"));
    }

    /// At the retry limit and past it: 3 retransmissions of one datagram, then it gives up
    /// long before the deadline.
    #[test]
    fn total_loss_gives_up_after_the_retry_limit() {
        let mut c = cfg(1.0, 1);
        c.count = 5;
        c.max_retries = 3;
        c.deadline = Duration::from_secs(30);
        let t = Instant::now();
        let r = run(c).unwrap();
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        let why = r.gave_up.unwrap();
        assert!(
            why.contains("was sent 4 times") && why.contains("3 retransmissions"),
            "{why}"
        );
        assert_eq!(r.delivered, 0);
    }

    #[test]
    fn rto_follows_rfc6298() {
        let mut e = RtoEstimator {
            srtt: None,
            rttvar: 0.0,
        };
        assert_eq!(e.rto(), Duration::from_millis(20));
        e.sample(0.1);
        // srtt 0.1, rttvar 0.05 -> 0.1 + 0.2
        assert!((e.rto().as_secs_f64() - 0.3).abs() < 1e-9);
    }
}

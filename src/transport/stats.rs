//! Latency percentiles and sequence-number ranges for the reports.

use serde::Serialize;

/// Percentiles of a set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Nearest-rank percentiles of `samples_ns` (sorted in place). All zero when empty.
pub fn percentiles(samples_ns: &mut [u64]) -> Percentiles {
    if samples_ns.is_empty() {
        return Percentiles::default();
    }
    samples_ns.sort_unstable();
    let at = |p: f64| {
        let rank = ((p / 100.0) * samples_ns.len() as f64).ceil() as usize;
        samples_ns[rank.clamp(1, samples_ns.len()) - 1] as f64 / 1e6
    };
    Percentiles {
        p50_ms: at(50.0),
        p90_ms: at(90.0),
        p99_ms: at(99.0),
        max_ms: at(100.0),
    }
}

/// Interarrival jitter as RFC 3550 §6.4.1 defines it and iperf3 computes it for UDP: for each
/// datagram in arrival order, D is the change in transit time (arrival minus the sender's
/// timestamp) from the datagram before, and J += (|D| − J) / 16. A constant clock offset
/// between sender and receiver cancels out in D.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Jitter {
    prev_transit_ns: Option<i128>,
    j_ns: f64,
}

impl Jitter {
    /// Adds one arrival: the sender's timestamp and the receiver's clock, in ns.
    pub fn add(&mut self, sent_ns: u64, recv_ns: u64) {
        let transit = i128::from(recv_ns) - i128::from(sent_ns);
        if let Some(prev) = self.prev_transit_ns {
            let d = (transit - prev).abs() as f64;
            self.j_ns += (d - self.j_ns) / 16.0;
        }
        self.prev_transit_ns = Some(transit);
    }

    /// The current estimate, in ms.
    pub fn ms(&self) -> f64 {
        self.j_ns / 1e6
    }
}

/// Sorted, distinct numbers as inclusive ranges: `[1,2,3,7]` -> `[[1,3],[7,7]]`.
pub fn ranges(sorted: &[u64]) -> Vec<[u64; 2]> {
    let mut out: Vec<[u64; 2]> = Vec::new();
    for &n in sorted {
        match out.last_mut() {
            Some(r) if r[1].checked_add(1) == Some(n) => r[1] = n,
            Some(r) if r[1] == n => {}
            _ => out.push([n, n]),
        }
    }
    out
}

/// The numbers in `0..expected` that are not in `seen` (sorted, distinct), as ranges.
/// Work is proportional to `seen.len()`, not to `expected`.
pub fn missing_ranges(seen: &[u64], expected: u64) -> Vec<[u64; 2]> {
    let mut out = Vec::new();
    let mut next = 0u64;
    for &s in seen.iter().take_while(|&&s| s < expected) {
        if s > next {
            out.push([next, s - 1]);
        }
        next = s + 1;
    }
    if next < expected {
        out.push([next, expected - 1]);
    }
    out
}

/// How many numbers the ranges cover.
pub fn ranges_len(r: &[[u64; 2]]) -> u64 {
    r.iter().map(|[a, b]| b - a + 1).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut v: Vec<u64> = (1..=100).map(|i| i * 1_000_000).collect();
        let p = percentiles(&mut v);
        assert_eq!(
            (p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms),
            (50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(percentiles(&mut []), Percentiles::default());
        assert_eq!(percentiles(&mut [3_000_000]).p50_ms, 3.0);
    }

    /// By hand: transits 1.0, 1.5, 1.0, 2.0 ms. D = 0.5, 0.5, 1.0 ms, so
    /// J = 0.5/16 = 0.03125; J += (0.5 − 0.03125)/16 → 0.060546875;
    /// J += (1.0 − 0.060546875)/16 → 0.119262695... ms.
    #[test]
    fn jitter_by_hand() {
        let mut j = Jitter::default();
        for (i, transit_us) in [1000u64, 1500, 1000, 2000].into_iter().enumerate() {
            let sent = 1_000_000_000 + i as u64 * 10_000_000;
            j.add(sent, sent + transit_us * 1000);
        }
        let want = 0.060546875 + (1.0 - 0.060546875) / 16.0;
        assert!((j.ms() - want).abs() < 1e-12, "{} vs {want}", j.ms());
        assert_eq!(Jitter::default().ms(), 0.0);
        // A clock offset (receiver behind the sender) changes nothing.
        let mut k = Jitter::default();
        k.add(5_000_000, 1_000_000);
        k.add(6_000_000, 2_500_000);
        assert!((k.ms() - 0.5 / 16.0).abs() < 1e-12);
    }

    #[test]
    fn ranges_and_gaps() {
        assert_eq!(ranges(&[1, 2, 3, 7, 9, 10]), vec![[1, 3], [7, 7], [9, 10]]);
        assert_eq!(ranges(&[]), Vec::<[u64; 2]>::new());
        assert_eq!(
            missing_ranges(&[0, 1, 4, 5, 9], 12),
            vec![[2, 3], [6, 8], [10, 11]]
        );
        assert_eq!(missing_ranges(&[], 3), vec![[0, 2]]);
        assert_eq!(missing_ranges(&[0, 1, 2], 3), Vec::<[u64; 2]>::new());
        assert_eq!(ranges_len(&[[2, 3], [6, 8]]), 5);
        // A huge expected count costs nothing.
        assert_eq!(missing_ranges(&[0], u64::MAX), vec![[1, u64::MAX - 1]]);
    }
}

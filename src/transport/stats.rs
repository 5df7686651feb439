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

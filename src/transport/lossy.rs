//! The lossy link: a seeded fault injector in front of a UDP socket.
//!
//! For every datagram handed to it, the link draws three numbers from its own random generator
//! (always three, whatever the probabilities), so datagram number *i* meets the same fate on
//! every run with the same seed: a class sees the same losses. It then
//!
//! - drops the datagram with probability `loss`,
//! - otherwise sends it twice with probability `duplicate`,
//! - otherwise, with probability `reorder`, holds it back and sends it after the next one.

/// xorshift64* seeded through splitmix64: small, fast and reproducible. Not for cryptography.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // splitmix64 spreads any seed (even 0) over the state; xorshift needs a non-zero state.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The link's probabilities and seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    pub loss: f64,
    pub reorder: f64,
    pub duplicate: f64,
    pub seed: u64,
}

impl LinkConfig {
    /// A perfect link: nothing lost, reordered or duplicated.
    pub fn perfect() -> Self {
        LinkConfig {
            loss: 0.0,
            reorder: 0.0,
            duplicate: 0.0,
            seed: 0,
        }
    }
}

/// What the link did to one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Delivered,
    Dropped,
    Duplicated,
    /// Held back, to be sent after the next datagram.
    Held,
}

/// Counts of what the link did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Datagrams handed to the link.
    pub offered: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub reordered: u64,
    /// Datagrams that went out to the socket (duplicates counted twice).
    pub transmitted: u64,
}

#[derive(Debug)]
pub struct LossyLink {
    cfg: LinkConfig,
    rng: Rng,
    held: Option<Vec<u8>>,
    pub stats: LinkStats,
}

impl LossyLink {
    pub fn new(cfg: LinkConfig) -> Self {
        LossyLink {
            cfg,
            rng: Rng::new(cfg.seed),
            held: None,
            stats: LinkStats::default(),
        }
    }

    /// Decides the fate of the next datagram (three draws, always).
    pub fn decide(&mut self) -> Fate {
        let (a, b, c) = (
            self.rng.next_f64(),
            self.rng.next_f64(),
            self.rng.next_f64(),
        );
        if a < self.cfg.loss {
            Fate::Dropped
        } else if b < self.cfg.duplicate {
            Fate::Duplicated
        } else if c < self.cfg.reorder {
            Fate::Held
        } else {
            Fate::Delivered
        }
    }

    /// Passes `datagram` through the link; `out` puts bytes on the wire.
    pub fn send<E>(
        &mut self,
        datagram: &[u8],
        mut out: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<Fate, E> {
        self.stats.offered += 1;
        let mut fate = self.decide();
        // Only one datagram is held at a time; a second one goes out normally.
        if fate == Fate::Held && self.held.is_some() {
            fate = Fate::Delivered;
        }
        match fate {
            Fate::Dropped => {
                self.stats.dropped += 1;
                return Ok(fate);
            }
            Fate::Held => {
                self.stats.reordered += 1;
                self.held = Some(datagram.to_vec());
                return Ok(fate);
            }
            Fate::Duplicated => {
                self.stats.duplicated += 1;
                self.put(datagram, &mut out)?;
                self.put(datagram, &mut out)?;
            }
            Fate::Delivered => self.put(datagram, &mut out)?,
        }
        if let Some(h) = self.held.take() {
            self.put(&h, &mut out)?;
        }
        Ok(fate)
    }

    /// Sends a held datagram, if any (at the end of a stream).
    pub fn flush<E>(&mut self, mut out: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        if let Some(h) = self.held.take() {
            self.put(&h, &mut out)?;
        }
        Ok(())
    }

    fn put<E>(&mut self, d: &[u8], out: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        self.stats.transmitted += 1;
        out(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cfg: LinkConfig, n: u8) -> (Vec<u8>, LinkStats) {
        let mut link = LossyLink::new(cfg);
        let mut wire = Vec::new();
        for i in 0..n {
            link.send(&[i], |d| {
                wire.push(d[0]);
                Ok::<(), ()>(())
            })
            .unwrap();
        }
        link.flush(|d| {
            wire.push(d[0]);
            Ok::<(), ()>(())
        })
        .unwrap();
        (wire, link.stats)
    }

    #[test]
    fn same_seed_same_fate() {
        let cfg = LinkConfig {
            loss: 0.3,
            reorder: 0.1,
            duplicate: 0.1,
            seed: 42,
        };
        assert_eq!(run(cfg, 200), run(cfg, 200));
        let other = LinkConfig { seed: 43, ..cfg };
        assert_ne!(run(cfg, 200).0, run(other, 200).0);
    }

    #[test]
    fn perfect_link_is_identity() {
        let (wire, stats) = run(LinkConfig::perfect(), 50);
        assert_eq!(wire, (0..50).collect::<Vec<u8>>());
        assert_eq!(stats.transmitted, 50);
    }

    #[test]
    fn loss_rate_is_close_to_p() {
        let mut link = LossyLink::new(LinkConfig {
            loss: 0.3,
            ..LinkConfig::perfect()
        });
        let dropped = (0..10_000)
            .filter(|_| link.decide() == Fate::Dropped)
            .count();
        assert!((2_800..3_200).contains(&dropped), "{dropped}");
    }

    #[test]
    fn reorder_swaps_neighbours_and_duplicate_doubles() {
        let (wire, s) = run(
            LinkConfig {
                reorder: 1.0,
                ..LinkConfig::perfect()
            },
            4,
        );
        // 0 held, 1 sent then 0; 2 held, 3 sent then 2.
        assert_eq!(wire, vec![1, 0, 3, 2]);
        assert_eq!(s.reordered, 2);
        let (wire, s) = run(
            LinkConfig {
                duplicate: 1.0,
                ..LinkConfig::perfect()
            },
            2,
        );
        assert_eq!(wire, vec![0, 0, 1, 1]);
        assert_eq!(s.duplicated, 2);
    }

    #[test]
    fn drop_set_does_not_depend_on_other_probabilities() {
        let drops = |cfg: LinkConfig| {
            let mut l = LossyLink::new(cfg);
            (0..500)
                .filter(|_| l.decide() == Fate::Dropped)
                .collect::<Vec<_>>()
        };
        let a = LinkConfig {
            loss: 0.2,
            seed: 9,
            ..LinkConfig::perfect()
        };
        let b = LinkConfig {
            reorder: 0.5,
            duplicate: 0.5,
            ..a
        };
        assert_eq!(drops(a), drops(b));
    }
}

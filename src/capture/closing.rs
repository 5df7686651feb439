//! When has every TCP connection in a live capture closed? Lets `capture --until-closed` stop
//! by itself once the traffic it was started for is over, with no timer.

use std::collections::BTreeMap;

/// One side's FIN: the sequence number the peer must acknowledge, and whether it has.
#[derive(Debug, Default, Clone, Copy)]
struct Fin {
    /// seq + payload length + 1: the ack that says the FIN arrived.
    wanted: Option<u32>,
    acked: bool,
}

#[derive(Debug, Default)]
struct Conn {
    /// Indexed by direction: 0 from the lower port, 1 from the higher.
    fin: [Fin; 2],
    reset: bool,
}

impl Conn {
    fn closed(&self) -> bool {
        self.reset || self.fin.iter().all(|f| f.acked)
    }
}

/// TCP connections seen so far, by their port pair.
#[derive(Debug, Default)]
pub struct Closing {
    conns: BTreeMap<(u16, u16), Conn>,
}

impl Closing {
    pub fn new() -> Closing {
        Closing::default()
    }

    /// Notes one TCP segment: ports, seq, ack, FIN/ACK/RST flags and payload length.
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: Option<u32>,
        fin: bool,
        rst: bool,
        len: u32,
    ) {
        let key = (src_port.min(dst_port), src_port.max(dst_port));
        let dir = usize::from(src_port != key.0);
        let c = self.conns.entry(key).or_default();
        if rst {
            c.reset = true;
        }
        if fin {
            c.fin[dir].wanted = Some(seq.wrapping_add(len).wrapping_add(1));
        }
        if let Some(a) = ack {
            let other = &mut c.fin[1 - dir];
            if other.wanted == Some(a) {
                other.acked = true;
            }
        }
    }

    /// At least one connection seen, and every one has closed (both FINs acknowledged, or RST).
    pub fn all_closed(&self) -> bool {
        !self.conns.is_empty() && self.conns.values().all(Conn::closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_only_when_both_fins_are_acknowledged() {
        let mut c = Closing::new();
        assert!(!c.all_closed(), "nothing seen is not closed");
        c.segment(50000, 7007, 100, None, false, false, 0); // SYN
        c.segment(7007, 50000, 900, Some(101), false, false, 0); // SYN-ACK
        c.segment(50000, 7007, 101, Some(901), true, false, 5); // data + FIN
        assert!(!c.all_closed());
        c.segment(7007, 50000, 901, Some(107), true, false, 5); // echo + FIN, acks client FIN
        assert!(!c.all_closed(), "the server's FIN is not yet acknowledged");
        c.segment(50000, 7007, 107, Some(906), false, false, 0); // wrong ack
        assert!(!c.all_closed());
        c.segment(50000, 7007, 107, Some(907), false, false, 0); // the last ACK
        assert!(c.all_closed());
        c.segment(50001, 7007, 1, None, false, false, 0); // a second connection opens
        assert!(!c.all_closed());
        c.segment(7007, 50001, 0, Some(2), false, true, 0); // refused
        assert!(c.all_closed(), "a reset closes it");
    }

    #[test]
    fn fin_at_the_top_of_sequence_space_wraps() {
        let mut c = Closing::new();
        c.segment(1, 2, u32::MAX, None, true, false, 0);
        c.segment(2, 1, 5, Some(0), true, false, 0);
        c.segment(1, 2, 0, Some(6), false, false, 0);
        assert!(c.all_closed());
    }
}

//! One direction of a TCP connection put back in sequence order: the part `--follow` and the
//! dissector's stream decoding share.
//!
//! Each segment is placed against the next byte expected:
//! - at or before it: its new bytes are released at once (retransmitted bytes and overlaps are
//!   dropped, the first copy wins, as tshark's follow does);
//! - ahead of it (a gap): the segment is held until the gap fills;
//! - past [`MAX_PENDING_BYTES`] held in this direction, or past what the caller's budget for
//!   all streams allows, the gap is given up on: it is reported, and the stream goes on from the
//!   earliest held segment;
//! - at once when the other side has acknowledged the missing bytes ([`Direction::acked`]):
//!   the receiver had them, so the capture lost them and no retransmission will bring them
//!   (tshark's "ACKed unseen segment" and "previous segment not captured"); and at a FIN.
//!
//! Only captured bytes exist: a segment cut by the snap length releases its captured part and
//! then reports the cut, so a caller that needs whole messages knows they are broken there.

/// Bytes of out-of-order segments held per direction while waiting for a gap to fill.
pub const MAX_PENDING_BYTES: usize = 4 << 20;

/// A segment as the reassembler needs it.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Frame number, for the pieces released from it.
    pub frame: u64,
    /// Sequence number of its first data byte (after the SYN, if the SYN flag is set).
    pub seq: u32,
    /// Data length on the wire (from the IP lengths).
    pub wire_len: u32,
    /// Captured data bytes: `wire_len` of them, or fewer when the snap length cut the frame.
    pub captured: &'a [u8],
    /// The FIN flag: no bytes come after this segment's, so a gap before it never fills.
    pub fin: bool,
}

/// What placing a segment released, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece {
    /// New bytes of the segment just placed: `captured[offset..offset + len]`.
    This { offset: usize, len: usize },
    /// Bytes of an earlier segment that was held for a gap this one filled.
    Held { frame: u64, bytes: Vec<u8> },
    /// Bytes never seen: the stream goes on `missing` bytes later.
    Gap { missing: u64 },
    /// The segment's last `missing` bytes were not captured (snap length).
    Cut { missing: u64 },
}

/// Where the segment fell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// It carried new bytes in order (some of its bytes may have been old).
    InOrder,
    /// Every byte had been seen before.
    Retransmission,
    /// Ahead of a gap: held.
    Held,
    /// No data.
    Empty,
}

#[derive(Debug)]
struct HeldSegment {
    seq: u32,
    frame: u64,
    wire_len: u32,
    bytes: Vec<u8>,
}

/// One direction's reassembly state.
#[derive(Debug, Default)]
pub struct Direction {
    /// Sequence number of the next byte expected.
    next: Option<u32>,
    /// The highest acknowledgement the other side sent past `next`: bytes before it will not
    /// be retransmitted.
    acked_past: Option<u32>,
    held: Vec<HeldSegment>,
    held_bytes: usize,
}

impl Direction {
    /// Bytes held now, waiting for gaps.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// The other side acknowledged up to `ack` (the sequence number it expects next).
    pub fn acked(&mut self, ack: u32) {
        if let Some(next) = self.next {
            if ack.wrapping_sub(next) as i32 > 0
                && self
                    .acked_past
                    .is_none_or(|a| ack.wrapping_sub(a) as i32 > 0)
            {
                self.acked_past = Some(ack);
            }
        }
    }

    /// Places `seg`; appends what it releases to `out`. `budget` is what the caller lets all
    /// its streams hold together: held bytes are taken from it and given back when released.
    pub fn push(&mut self, seg: Segment, budget: &mut usize, out: &mut Vec<Piece>) -> Placed {
        if seg.wire_len == 0 {
            if seg.fin && self.next.is_some() {
                // The end of the stream: bytes still missing before it will not come.
                while let Some(next) = self.next.filter(|n| seg.seq.wrapping_sub(*n) as i32 > 0) {
                    self.give_up_gap(next, seg.seq, budget, out);
                }
            }
            return Placed::Empty;
        }
        let next = *self.next.get_or_insert(seg.seq);
        let ahead = seg.seq.wrapping_sub(next) as i32;
        let acked_gap = self
            .acked_past
            .is_some_and(|a| a.wrapping_sub(seg.seq) as i32 >= 0);
        if ahead > 0 && acked_gap {
            // The bytes before this segment were received but not captured: no wait.
            self.give_up_gap(next, seg.seq, budget, out);
            return self.push(seg, budget, out);
        }
        if ahead > 0 {
            let n = seg.captured.len();
            if self.held_bytes + n <= MAX_PENDING_BYTES && n <= *budget {
                *budget -= n;
                self.held_bytes += n;
                self.held.push(HeldSegment {
                    seq: seg.seq,
                    frame: seg.frame,
                    wire_len: seg.wire_len,
                    bytes: seg.captured.to_vec(),
                });
                return Placed::Held;
            }
            self.give_up_gap(next, seg.seq, budget, out);
            return self.push(seg, budget, out);
        }
        let placed = self.release_this(&seg, out);
        self.flush(budget, out);
        placed
    }

    /// Gives up waiting for the bytes at `next`: the stream goes on from the earliest held
    /// segment, or from `upto` if that is earlier still, and the gap is reported.
    fn give_up_gap(&mut self, next: u32, upto: u32, budget: &mut usize, out: &mut Vec<Piece>) {
        let ahead = upto.wrapping_sub(next);
        let first = self
            .held
            .iter()
            .map(|h| h.seq)
            .min_by_key(|s| s.wrapping_sub(next))
            .filter(|s| s.wrapping_sub(next) < ahead)
            .unwrap_or(upto);
        out.push(Piece::Gap {
            missing: u64::from(first.wrapping_sub(next)),
        });
        self.next = Some(first);
        self.flush(budget, out);
    }

    /// The segment just placed, which starts at or before the next expected byte.
    fn release_this(&mut self, seg: &Segment, out: &mut Vec<Piece>) -> Placed {
        let next = self.next.unwrap_or(seg.seq);
        let old = next.wrapping_sub(seg.seq);
        if old >= seg.wire_len {
            return Placed::Retransmission;
        }
        let offset = old as usize;
        if offset < seg.captured.len() {
            out.push(Piece::This {
                offset,
                len: seg.captured.len() - offset,
            });
        }
        let cut = seg.wire_len as usize - seg.captured.len().max(offset);
        if cut > 0 {
            out.push(Piece::Cut {
                missing: cut as u64,
            });
        }
        self.next = Some(seg.seq.wrapping_add(seg.wire_len));
        Placed::InOrder
    }

    /// Releases held segments that the stream has now reached.
    fn flush(&mut self, budget: &mut usize, out: &mut Vec<Piece>) {
        loop {
            let next = self.next.unwrap_or(0);
            let Some(i) = self
                .held
                .iter()
                .position(|h| next.wrapping_sub(h.seq) as i32 >= 0)
            else {
                return;
            };
            let h = self.held.swap_remove(i);
            self.held_bytes -= h.bytes.len();
            *budget += h.bytes.len();
            let old = next.wrapping_sub(h.seq);
            if old >= h.wire_len {
                continue;
            }
            let mut bytes = h.bytes;
            let cut = (h.wire_len as usize).saturating_sub(bytes.len().max(old as usize));
            if (old as usize) < bytes.len() {
                bytes.drain(..old as usize);
                out.push(Piece::Held {
                    frame: h.frame,
                    bytes,
                });
            }
            if cut > 0 {
                out.push(Piece::Cut {
                    missing: cut as u64,
                });
            }
            self.next = Some(h.seq.wrapping_add(h.wire_len));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(frame: u64, seq: u32, bytes: &[u8]) -> Segment<'_> {
        Segment {
            frame,
            seq,
            wire_len: bytes.len() as u32,
            captured: bytes,
            fin: false,
        }
    }

    /// The stream's bytes as text, gaps as `[gap N]`, cuts as `[cut N]`.
    fn run(segs: &[Segment], budget: usize) -> (String, Vec<Placed>) {
        let mut d = Direction::default();
        let mut budget = budget;
        let mut text = String::new();
        let mut placed = Vec::new();
        for s in segs {
            let mut out = Vec::new();
            placed.push(d.push(*s, &mut budget, &mut out));
            for p in out {
                match p {
                    Piece::This { offset, len } => text
                        .push_str(std::str::from_utf8(&s.captured[offset..offset + len]).unwrap()),
                    Piece::Held { bytes, .. } => {
                        text.push_str(std::str::from_utf8(&bytes).unwrap())
                    }
                    Piece::Gap { missing } => text.push_str(&format!("[gap {missing}]")),
                    Piece::Cut { missing } => text.push_str(&format!("[cut {missing}]")),
                }
            }
        }
        (text, placed)
    }

    #[test]
    fn in_order_out_of_order_retransmitted_and_overlapping() {
        let (text, placed) = run(
            &[
                seg(1, 100, b"hello "),
                seg(2, 112, b"again"), // ahead of "world "
                seg(3, 106, b"world "),
                seg(4, 100, b"hello "),       // retransmission
                seg(5, 115, b"in, and more"), // overlaps "in"
            ],
            usize::MAX,
        );
        assert_eq!(text, "hello world again, and more");
        use Placed::*;
        assert_eq!(placed, [InOrder, Held, InOrder, Retransmission, InOrder]);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let (text, _) = run(
            &[seg(1, u32::MAX - 2, b"abc"), seg(2, 0, b"def")],
            usize::MAX,
        );
        assert_eq!(text, "abcdef");
    }

    #[test]
    fn a_cut_segment_reports_its_missing_bytes() {
        let cut = Segment {
            frame: 1,
            seq: 1,
            wire_len: 10,
            captured: b"abc",
            fin: false,
        };
        let (text, _) = run(&[cut, seg(2, 11, b"next")], usize::MAX);
        assert_eq!(text, "abc[cut 7]next");
    }

    /// A FIN past missing bytes: they will not come, so the gap is reported then, and what
    /// was held after it is released.
    #[test]
    fn a_fin_after_a_gap_ends_the_wait() {
        let fin = Segment {
            frame: 4,
            seq: 12,
            wire_len: 0,
            captured: b"",
            fin: true,
        };
        let (text, placed) = run(
            &[seg(1, 0, b"ab"), seg(2, 5, b"fg"), seg(3, 10, b"kl"), fin],
            usize::MAX,
        );
        assert_eq!(text, "ab[gap 3]fg[gap 3]kl");
        assert_eq!(placed[3], Placed::Empty);
        let fin_in_order = Segment { seq: 2, ..fin };
        let (text, _) = run(&[seg(1, 0, b"ab"), fin_in_order], usize::MAX);
        assert_eq!(text, "ab", "no gap before a FIN in order");
    }

    /// Bytes the other side acknowledged but the capture does not hold are not waited for: the
    /// next segment reports the gap and is in order.
    #[test]
    fn acknowledged_missing_bytes_are_a_gap_at_once() {
        let mut d = Direction::default();
        let mut budget = usize::MAX;
        let mut out = Vec::new();
        d.push(seg(1, 0, b"ab"), &mut budget, &mut out);
        d.acked(7);
        out.clear();
        assert_eq!(
            d.push(seg(3, 5, b"fg"), &mut budget, &mut out),
            Placed::InOrder
        );
        assert_eq!(
            out,
            [Piece::Gap { missing: 3 }, Piece::This { offset: 0, len: 2 }]
        );
        // An acknowledgement that is not past the stream changes nothing: the next segment
        // ahead is held.
        d.acked(3);
        out.clear();
        assert_eq!(
            d.push(seg(4, 9, b"jk"), &mut budget, &mut out),
            Placed::Held
        );
    }

    /// Past the budget for all streams, a gap is given up at once and reported.
    #[test]
    fn a_gap_past_the_budget_is_given_up_and_reported() {
        let (text, placed) = run(&[seg(1, 0, b"ab"), seg(2, 5, b"fgh")], 2);
        assert_eq!(text, "ab[gap 3]fgh");
        assert_eq!(placed[1], Placed::InOrder);
        let (text, placed) = run(&[seg(1, 0, b"ab"), seg(2, 5, b"fg"), seg(3, 9, b"jkl")], 2);
        assert_eq!(text, "ab[gap 3]fg[gap 2]jkl");
        assert_eq!(placed[1], Placed::Held);
    }

    /// Past MAX_PENDING_BYTES in one direction, the gap is given up even with budget to spare,
    /// and the stream goes on from the earliest held segment.
    #[test]
    fn a_gap_past_the_per_direction_cap_is_given_up() {
        let big = vec![b'x'; MAX_PENDING_BYTES];
        let mut d = Direction::default();
        let mut budget = usize::MAX;
        let mut out = Vec::new();
        d.push(seg(1, 0, b"a"), &mut budget, &mut out);
        assert_eq!(
            d.push(seg(2, 10, &big), &mut budget, &mut out),
            Placed::Held
        );
        assert_eq!(d.held_bytes(), MAX_PENDING_BYTES);
        out.clear();
        let later = 10 + MAX_PENDING_BYTES as u32 + 5;
        assert_eq!(
            d.push(seg(3, later, b"z"), &mut budget, &mut out),
            Placed::Held
        );
        assert!(
            matches!(out[0], Piece::Gap { missing: 9 }),
            "{:?}",
            &out[..1]
        );
        assert!(
            matches!(&out[1], Piece::Held { frame: 2, bytes } if bytes.len() == MAX_PENDING_BYTES)
        );
        assert_eq!(
            d.held_bytes(),
            1,
            "only the last segment waits, for its own gap"
        );
        assert_eq!(budget, usize::MAX - 1);
    }
}

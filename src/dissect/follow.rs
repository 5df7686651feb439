//! One TCP connection's bytes, each direction in sequence order, as `tshark -z follow,tcp`
//! shows them: each segment's new bytes are one chunk; retransmitted bytes and overlaps are
//! dropped; a segment that arrives ahead of a gap waits until the gap fills (or, past
//! [`MAX_PENDING_BYTES`], the gap is given up on and reported).
//!
//! Only captured bytes are shown: a segment cut by the snap length gives its captured part.

use std::net::IpAddr;

use super::{Packet, Proto};

/// Bytes of out-of-order segments held per direction while waiting for a gap to fill.
pub const MAX_PENDING_BYTES: usize = 4 << 20;

/// What following a stream produces, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// New bytes from `node` (0: the side that sent the first data), from frame `frame`, at
    /// `offset` in that direction's byte stream.
    Data {
        node: usize,
        frame: u64,
        offset: u64,
        bytes: Vec<u8>,
    },
    /// Bytes never captured: the stream continues `missing` bytes later.
    Gap {
        node: usize,
        frame: u64,
        missing: u64,
    },
}

#[derive(Debug, Default)]
struct Side {
    /// Sequence number of the next byte expected.
    next: Option<u32>,
    /// Captured bytes delivered so far (the offset of the next chunk, counted as tshark does).
    offset: u64,
    /// Segments ahead of `next`: (seq, frame, wire length, captured bytes).
    pending: Vec<(u32, u64, u32, Vec<u8>)>,
    pending_bytes: usize,
}

/// Follows TCP stream `stream` through a capture, one packet at a time.
#[derive(Debug)]
pub struct Follow {
    pub stream: u32,
    /// The two endpoints: node 0 sent the first data.
    pub nodes: Option<[(IpAddr, u16); 2]>,
    sides: [Side; 2],
}

impl Follow {
    pub fn new(stream: u32) -> Follow {
        Follow {
            stream,
            nodes: None,
            sides: [Side::default(), Side::default()],
        }
    }

    /// Takes one dissected packet; appends what it adds to the stream to `out`.
    pub fn packet(&mut self, p: &Packet, out: &mut Vec<Event>) {
        let Some((h, meta, tcp_end)) = p.layers.iter().find_map(|l| match &l.proto {
            Proto::Tcp(h, m) if !l.quoted => Some((h, m, l.end)),
            _ => None,
        }) else {
            return;
        };
        if meta.stream != self.stream {
            return;
        }
        let Some((src, dst)) = p.tcp_ip_addrs() else {
            return;
        };
        let from = (src, h.src_port);
        let wire_len = meta.len;
        // The segment's captured payload: what follows the TCP header, up to the IP length.
        let ip_end = p
            .layers
            .iter()
            .rev()
            .find(|l| !l.quoted && l.start >= tcp_end)
            .map_or(tcp_end, |l| l.end);
        let payload = p.data.get(tcp_end..ip_end.max(tcp_end)).unwrap_or(&[]);
        let payload = &payload[..payload.len().min(wire_len as usize)];
        let mut seq = h.seq;
        if h.flags.syn() {
            seq = seq.wrapping_add(1);
        }
        if self.nodes.is_none() {
            if payload.is_empty() {
                return;
            }
            self.nodes = Some([from, (dst, h.dst_port)]);
        }
        let Some(node) = self.nodes.and_then(|n| n.iter().position(|e| *e == from)) else {
            return;
        };
        if wire_len == 0 {
            return;
        }
        let side = &mut self.sides[node];
        let next = *side.next.get_or_insert(seq);
        let ahead = seq.wrapping_sub(next) as i32;
        if ahead > 0 {
            if side.pending_bytes + payload.len() > MAX_PENDING_BYTES {
                // Give up waiting: report the gap and go on from the earliest held segment.
                side.pending.sort_by_key(|(s, ..)| s.wrapping_sub(next));
                let first = side.pending.first().map_or(seq, |(s, ..)| *s);
                let skip = first.wrapping_sub(next);
                let skip_to = if skip < ahead as u32 { first } else { seq };
                out.push(Event::Gap {
                    node,
                    frame: p.info.number,
                    missing: u64::from(skip_to.wrapping_sub(next)),
                });
                side.next = Some(skip_to);
                Self::flush(side, node, out);
                return self.packet(p, out);
            }
            side.pending_bytes += payload.len();
            side.pending
                .push((seq, p.info.number, wire_len, payload.to_vec()));
            return;
        }
        Self::deliver(side, node, p.info.number, seq, wire_len, payload, out);
        Self::flush(side, node, out);
    }

    /// Delivers a segment that starts at or before the next expected byte.
    fn deliver(
        side: &mut Side,
        node: usize,
        frame: u64,
        seq: u32,
        wire_len: u32,
        payload: &[u8],
        out: &mut Vec<Event>,
    ) {
        let next = side.next.unwrap_or(seq);
        let old = next.wrapping_sub(seq);
        if old >= wire_len {
            return; // all retransmitted
        }
        let new = payload.get(old as usize..).unwrap_or(&[]);
        if !new.is_empty() {
            out.push(Event::Data {
                node,
                frame,
                offset: side.offset,
                bytes: new.to_vec(),
            });
        }
        side.offset += new.len() as u64;
        side.next = Some(seq.wrapping_add(wire_len));
    }

    /// Delivers held segments that the stream has now reached.
    fn flush(side: &mut Side, node: usize, out: &mut Vec<Event>) {
        loop {
            let next = side.next.unwrap_or(0);
            let Some(i) = side
                .pending
                .iter()
                .position(|(s, ..)| next.wrapping_sub(*s) as i32 >= 0)
            else {
                return;
            };
            let (seq, frame, wire_len, bytes) = side.pending.swap_remove(i);
            side.pending_bytes -= bytes.len();
            Self::deliver(side, node, frame, seq, wire_len, &bytes, out);
        }
    }
}

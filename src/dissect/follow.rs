//! One TCP connection's bytes, each direction in sequence order, as `tshark -z follow,tcp`
//! shows them: each segment's new bytes are one chunk. The ordering (retransmissions and
//! overlaps dropped, segments ahead of a gap held until it fills or is given up) is
//! [`super::reassembly`]'s, shared with the dissector's stream decoding.
//!
//! Only captured bytes are shown: a segment cut by the snap length gives its captured part.

use std::net::IpAddr;

use super::reassembly::{self, Direction, Piece};
use super::{Packet, Proto};

pub use reassembly::MAX_PENDING_BYTES;

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
    /// Bytes never captured: the stream continues `missing` bytes later. tshark's follow
    /// shows it as a chunk of text ([`gap_text`]) at `offset`, counted in the offsets after it.
    Gap {
        node: usize,
        frame: u64,
        offset: u64,
        missing: u64,
    },
}

/// The chunk tshark's follow prints for a gap: `[N bytes missing in capture file]` and a NUL.
pub fn gap_text(missing: u64) -> Vec<u8> {
    let mut t = format!("[{missing} bytes missing in capture file]").into_bytes();
    t.push(0);
    t
}

#[derive(Debug, Default)]
struct Side {
    order: Direction,
    /// Captured bytes delivered so far (the offset of the next chunk, counted as tshark does).
    offset: u64,
}

/// Follows TCP stream `stream` through a capture, one packet at a time.
#[derive(Debug)]
pub struct Follow {
    pub stream: u32,
    /// The two endpoints: node 0 sent the first data.
    pub nodes: Option<[(IpAddr, u16); 2]>,
    sides: [Side; 2],
    pieces: Vec<Piece>,
}

impl Follow {
    pub fn new(stream: u32) -> Follow {
        Follow {
            stream,
            nodes: None,
            sides: [Side::default(), Side::default()],
            pieces: Vec::new(),
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
        // The segment's captured payload: what follows the TCP header, up to the length the
        // IP header gives (link padding after it is not TCP's).
        let payload = p.data.get(tcp_end..).unwrap_or(&[]);
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
        if h.flags.ack() {
            self.sides[1 - node].order.acked(h.ack);
        }
        let side = &mut self.sides[node];
        let seg = reassembly::Segment {
            frame: p.info.number,
            seq,
            wire_len,
            captured: payload,
            fin: h.flags.fin(),
        };
        self.pieces.clear();
        // One stream is followed: no budget beyond the per-direction cap.
        let mut budget = usize::MAX;
        side.order.push(seg, &mut budget, &mut self.pieces);
        for piece in self.pieces.drain(..) {
            let (frame, bytes) = match piece {
                Piece::This { offset, len } => {
                    (p.info.number, payload[offset..offset + len].to_vec())
                }
                Piece::Held { frame, bytes } => (frame, bytes),
                Piece::Gap { missing } => {
                    out.push(Event::Gap {
                        node,
                        frame: p.info.number,
                        offset: side.offset,
                        missing,
                    });
                    side.offset += gap_text(missing).len() as u64;
                    continue;
                }
                // tshark's follow counts captured bytes only: a snap-length cut is no gap.
                Piece::Cut { .. } => continue,
            };
            let n = bytes.len() as u64;
            out.push(Event::Data {
                node,
                frame,
                offset: side.offset,
                bytes,
            });
            side.offset += n;
        }
    }
}

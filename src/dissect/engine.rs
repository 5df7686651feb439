//! The dissector: walks a frame one header at a time, outermost first, and keeps the state
//! that needs earlier frames: TCP connections (relative sequence numbers, handshake and
//! teardown phases, which connections upgraded to WebSocket) and, unless it was made with
//! [`Dissector::per_packet`], each direction's byte stream.
//!
//! Streams: each direction's segments are put in sequence order ([`super::reassembly`]), and
//! HTTP/1.x, WebSocket and DNS over TCP are decoded on that byte stream, message by message.
//! A message that one segment holds whole is decoded in that frame, with frame ranges. One that
//! spans segments is held until the segment that completes it, and decoded there (as tshark
//! does) from the reassembled bytes: its layers are marked `reassembled` and follow a
//! `reassembled` layer that lists the frames it came from; the earlier frames show their
//! payload as a `segment` layer. Held bytes are bounded per message ([`MAX_MESSAGE_BYTES`]) and
//! for all streams together ([`MAX_HELD_BYTES`]); past a bound the message is given up, said
//! so, and decoded per packet.

use std::collections::HashMap;
use std::net::IpAddr;

use super::reassembly::{self, Piece, Placed};
use super::{FrameInfo, Layer, LinkType, Phase, Proto, Reassembly, SegmentRole, TcpMeta};
use crate::wire::header_error::HeaderError;
use crate::wire::{
    arp, cooked, dns, ethernet, http_message, icmp, icmpv6, ipv4, ipv4::protocol, ipv6, tcp, udp,
    vlan, vxlan, websocket_frame,
};

/// At most this many TCP connections are remembered; past it the table starts afresh, so
/// memory stays flat on any capture.
const MAX_CONNECTIONS: usize = 1 << 16;
/// At most this many stacked VLAN tags or IPv6 extension headers are followed.
const MAX_CHAIN: usize = 8;
/// At most this many WebSocket frames are decoded from one segment.
const MAX_WS_FRAMES: usize = 32;
/// The longest message one direction reassembles; a longer one is decoded per packet.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;
/// What all streams together may hold: out-of-order segments and unfinished messages.
pub const MAX_HELD_BYTES: usize = 256 << 20;
/// At most this many frames are listed for one unfinished message; past it the last entry
/// takes the further segments (the count stays exact), so the list is bounded however small
/// the segments.
const MAX_LISTED_SEGMENTS: usize = 4096;
/// Longest header this module pads to when a header is cut short (IPv4/TCP maximum).
const PAD: usize = 60;

/// Ports whose UDP payload is decoded as DNS.
fn is_dns_port(p: u16) -> bool {
    matches!(p, 53 | 5353 | 5355)
}

/// The bytes a DNS message over TCP takes with its two-byte length (RFC 1035 §4.2.2), when
/// that length is there and could be a message (12 bytes of header at least).
fn dns_tcp_len(b: &[u8]) -> Option<usize> {
    let n = usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?]));
    (n >= 12).then_some(2 + n)
}

type Endpoint = (IpAddr, u16);

#[derive(Debug, Default)]
struct Conn {
    stream: u32,
    /// Relative-number base per direction (0: the lower endpoint sends).
    base: [Option<u32>; 2],
    /// Who sent the SYN, and the SYN-ACK's sequence number.
    syn_dir: Option<usize>,
    synack_seq: Option<u32>,
    established: bool,
    /// FINs seen: the direction and sequence number of the first, whether the second came.
    fin1: Option<(usize, u32)>,
    fin2: Option<(usize, u32)>,
    closed: bool,
    ws_requested: bool,
    websocket: bool,
    /// A request for `/socket.io/` was seen: bodies and WebSocket messages are socket.io.
    socketio: bool,
    /// Per direction: the window scale shift sent in its SYN (RFC 7323 §2.2).
    wscale: [Option<u8>; 2],
    /// Per direction: payload bytes of the last WebSocket frame still to come in later
    /// segments (so they are not mistaken for frame headers).
    ws_pending: [u64; 2],
    /// permessage-deflate, when the server's 101 response agreed to it: the DEFLATE stream of
    /// each direction, kept across messages.
    deflate: Option<Box<super::pmce::ConnDeflate>>,
    /// Per direction: its byte stream, once it carried data (stream decoding only).
    flows: [Option<Box<Flow>>; 2],
}

impl Conn {
    /// Bytes this connection's streams hold.
    fn held(&self) -> usize {
        self.flows.iter().flatten().map(|f| f.held()).sum()
    }
}

/// One direction's byte stream, for decoding messages that span segments.
#[derive(Debug, Default)]
struct Flow {
    order: reassembly::Direction,
    /// The bytes of a message begun but not complete, from its first byte.
    buf: Vec<u8>,
    /// The frames whose bytes are in `buf`: frame, bytes it gave, and segments the entry
    /// stands for (more than 1 only in the last entry, once the list is full).
    frames: Vec<(u64, u32, u32)>,
    /// Bytes of the stream were lost (a gap, a snap-length cut, a message given up): what
    /// follows is not read as messages until one starts recognisably (an HTTP start line).
    lost: bool,
    /// The unfinished message's length, once known (0: not known): until `buf` holds that
    /// much it is not parsed again, so a long message costs one parse, not one a segment.
    need: usize,
    /// How far the unfinished message's HTTP extent has been read (see
    /// [`http_message::extent_from`]), so that its header block or chunks are not read again
    /// on each segment.
    resume: http_message::Resume,
}

impl Flow {
    fn held(&self) -> usize {
        self.order.held_bytes() + self.buf.len()
    }

    /// Drops the unfinished message, giving its bytes back to the budget.
    fn drop_message(&mut self, budget: &mut usize) {
        *budget += self.buf.len();
        self.buf = Vec::new();
        self.frames.clear();
        self.need = 0;
        self.resume = http_message::Resume::default();
    }

    /// Adds bytes from `frame` to the unfinished message.
    fn append(&mut self, frame: u64, bytes: &[u8], budget: &mut usize) {
        *budget -= bytes.len();
        self.buf.extend_from_slice(bytes);
        let n = bytes.len() as u32;
        let full = self.frames.len() >= MAX_LISTED_SEGMENTS;
        match self.frames.last_mut() {
            Some((f, got, _)) if *f == frame => *got += n,
            Some((f, got, segs)) if full => {
                (*f, *got, *segs) = (frame, *got + n, *segs + 1);
            }
            _ => self.frames.push((frame, n, 1)),
        }
    }

    /// Moves the first `n` bytes (a message now whole) to the end of `into`; returns where
    /// they came from and how many segments carried them. A message that is all the buffer
    /// holds, going to an empty `into`, changes hands without a copy.
    fn take_message(
        &mut self,
        n: usize,
        into: &mut Vec<u8>,
        budget: &mut usize,
    ) -> (Vec<(u64, u32)>, usize) {
        *budget += n;
        if into.is_empty() && n == self.buf.len() {
            // (What `into` held is dropped: a stream between messages holds no memory.)
            *into = std::mem::take(&mut self.buf);
        } else {
            into.extend_from_slice(&self.buf[..n]);
            self.buf.drain(..n);
        }
        self.need = 0;
        self.resume = http_message::Resume::default();
        let mut left = n;
        let mut from = Vec::new();
        let mut count = 0;
        let mut used = 0;
        for (frame, got, segs) in &mut self.frames {
            if left == 0 {
                break;
            }
            let take = (*got as usize).min(left);
            from.push((*frame, take as u32));
            left -= take;
            *got -= take as u32;
            if *got == 0 {
                used += 1;
                count += *segs as usize;
            } else {
                // A segment split between this message and the next counts for both.
                count += 1;
            }
        }
        self.frames.drain(..used);
        (from, count)
    }
}

/// What the stream holds at its front.
enum Pdu {
    /// A whole message of this many bytes.
    Whole(usize),
    /// A message begun; its length, when known.
    Partial(Option<u64>),
    /// Not a message wirelab reads: data.
    Opaque,
}

/// Turns frames into layers. Keep one per capture: it remembers TCP connections.
#[derive(Debug)]
pub struct Dissector {
    conns: HashMap<(Endpoint, Endpoint), Conn>,
    next_stream: u32,
    /// Decode messages on each direction's byte stream (the default); when false, each
    /// segment is decoded alone (tshark's `tcp.desegment_tcp_streams:FALSE`).
    reassemble: bool,
    /// The messages the last frame completed, put together from several segments.
    reassembled: Vec<u8>,
    pieces: Vec<Piece>,
    /// Bytes all streams may still hold.
    budget: usize,
    max_held: usize,
    max_message: usize,
}

impl Default for Dissector {
    fn default() -> Dissector {
        Dissector::with_limits(MAX_MESSAGE_BYTES, MAX_HELD_BYTES)
    }
}

/// Where we are inside the frame while walking it.
struct Walk<'a> {
    data: &'a [u8],
    out: &'a mut Vec<Layer>,
    /// Inside the packet an ICMP error quotes: no TCP state, no application decoding.
    quoted: bool,
    /// Tunnels (VXLAN) entered so far.
    inner: u8,
    /// The frame's number.
    frame: u64,
    /// `data` is reassembled bytes, not the frame.
    reassembled: bool,
}

impl Walk<'_> {
    fn push(&mut self, proto: Proto, start: usize, end: usize, problem: Option<HeaderError>) {
        let end = end.min(self.data.len()).max(start);
        self.out.push(Layer {
            proto,
            start,
            end,
            captured: end - start,
            problem,
            quoted: self.quoted,
            inner: self.inner,
            reassembled: self.reassembled,
        });
    }

    fn rest(&self, at: usize) -> &[u8] {
        self.data.get(at..).unwrap_or(&[])
    }

    /// The remaining bytes as payload, if any.
    fn data_to(&mut self, at: usize, end: usize) {
        let end = end.min(self.data.len());
        if at < end {
            self.push(Proto::Data, at, end, None);
        }
    }

    /// A header that failed: if it was only cut short, parse the bytes padded with zeros so
    /// the fields that were captured can still be shown (the rest are marked truncated);
    /// otherwise record it as unreadable.
    fn failed<T>(
        &mut self,
        at: usize,
        err: HeaderError,
        name: &'static str,
        osi: u8,
        parse: impl Fn(&[u8]) -> Result<T, HeaderError>,
        wrap: impl Fn(T) -> Proto,
    ) {
        let got = self.rest(at);
        if err.is_truncated() && got.len() < PAD {
            let mut padded = [0u8; PAD];
            // Where the bytes that make a header valid (version, length fields) were not
            // captured, fill in the smallest valid value; those fields show as truncated.
            let fill: &[(usize, u8)] = match name {
                "ipv4" => &[(0, 0x45), (3, 20)],
                "ipv6" => &[(0, 0x60)],
                "tcp" => &[(12, 0x50)],
                "udp" => &[(5, 8)],
                "arp" => &[(4, 6), (5, 4)],
                _ => &[],
            };
            for &(i, v) in fill {
                if i >= got.len() {
                    padded[i] = v;
                }
            }
            padded[..got.len()].copy_from_slice(got);
            if let Ok(h) = parse(&padded) {
                self.out.push(Layer {
                    proto: wrap(h),
                    start: at,
                    end: self.data.len(),
                    captured: got.len(),
                    problem: Some(err),
                    quoted: self.quoted,
                    inner: self.inner,
                    reassembled: self.reassembled,
                });
                return;
            }
        }
        self.push(Proto::Broken(name, osi), at, self.data.len(), Some(err));
    }
}

impl Dissector {
    /// A dissector that decodes messages on TCP's reassembled byte streams.
    pub fn new() -> Dissector {
        Dissector::default()
    }

    /// A dissector that decodes each segment alone, as tshark with
    /// `-o tcp.desegment_tcp_streams:FALSE` (`dissect --no-reassemble`).
    pub fn per_packet() -> Dissector {
        Dissector {
            reassemble: false,
            ..Dissector::default()
        }
    }

    /// Stream decoding with other bounds: the longest message, and what all streams may hold.
    pub fn with_limits(max_message: usize, max_held: usize) -> Dissector {
        Dissector {
            conns: HashMap::new(),
            next_stream: 0,
            reassemble: true,
            reassembled: Vec::new(),
            pieces: Vec::new(),
            budget: max_held,
            max_held,
            max_message,
        }
    }

    /// The messages the last frame completed, put together from several segments: what the
    /// ranges of its layers marked `reassembled` index.
    pub fn reassembled(&self) -> &[u8] {
        &self.reassembled
    }

    /// Bytes all streams hold now (out-of-order segments and unfinished messages).
    pub fn held_bytes(&self) -> usize {
        self.max_held - self.budget
    }

    /// Dissects one frame into `out` (cleared first).
    pub fn dissect(&mut self, info: &FrameInfo, data: &[u8], out: &mut Vec<Layer>) {
        out.clear();
        self.reassembled.clear();
        let mut w = Walk {
            data,
            out,
            quoted: false,
            inner: 0,
            frame: info.number,
            reassembled: false,
        };
        match info.link {
            LinkType::Ethernet => self.ethernet(&mut w, 0),
            LinkType::LinuxSll | LinkType::LinuxSll2 => {
                let v2 = info.link == LinkType::LinuxSll2;
                let parsed = if v2 {
                    cooked::Sll::parse_v2(data)
                } else {
                    cooked::Sll::parse_v1(data)
                };
                match parsed {
                    Ok(s) => {
                        w.push(Proto::Sll(s), 0, s.len(), None);
                        self.ethertype(&mut w, s.protocol, s.len());
                    }
                    Err(e) => w.push(
                        Proto::Broken(if v2 { "sll2" } else { "sll" }, 2),
                        0,
                        data.len(),
                        Some(e),
                    ),
                }
            }
            LinkType::Null => match cooked::Null::parse(data) {
                Ok(n) => {
                    w.push(Proto::Null(n), 0, cooked::NULL_LEN, None);
                    if n.is_ipv4() {
                        self.ipv4(&mut w, cooked::NULL_LEN);
                    } else if n.is_ipv6() {
                        self.ipv6(&mut w, cooked::NULL_LEN);
                    } else {
                        w.data_to(cooked::NULL_LEN, data.len());
                    }
                }
                Err(e) => w.push(Proto::Broken("null", 2), 0, data.len(), Some(e)),
            },
            LinkType::RawIp => self.raw_ip(&mut w, 0),
            LinkType::Ipv4 => self.ipv4(&mut w, 0),
            LinkType::Ipv6 => self.ipv6(&mut w, 0),
            LinkType::Other(_) => w.data_to(0, data.len()),
        }
    }

    fn raw_ip(&mut self, w: &mut Walk, at: usize) {
        match w.rest(at).first().map(|b| b >> 4) {
            Some(6) => self.ipv6(w, at),
            _ => self.ipv4(w, at),
        }
    }

    fn ethernet(&mut self, w: &mut Walk, at: usize) {
        match ethernet::Header::parse(w.rest(at)) {
            Ok(h) => {
                w.push(Proto::Ethernet(h), at, at + ethernet::HEADER_LEN, None);
                if h.is_length() {
                    w.data_to(at + ethernet::HEADER_LEN, w.data.len());
                } else {
                    self.ethertype(w, h.ethertype, at + ethernet::HEADER_LEN);
                }
            }
            Err(e) => w.failed(at, e, "eth", 2, ethernet::Header::parse, Proto::Ethernet),
        }
    }

    fn ethertype(&mut self, w: &mut Walk, mut t: u16, mut at: usize) {
        let mut tags = 0;
        while ethernet::ethertype::is_vlan(t) {
            if tags == MAX_CHAIN {
                w.data_to(at, w.data.len());
                return;
            }
            tags += 1;
            match vlan::Tag::parse(w.rest(at)) {
                Ok(tag) => {
                    w.push(Proto::Vlan(tag), at, at + vlan::TAG_LEN, None);
                    t = tag.ethertype;
                    at += vlan::TAG_LEN;
                }
                Err(e) => {
                    w.push(Proto::Broken("vlan", 2), at, w.data.len(), Some(e));
                    return;
                }
            }
        }
        match t {
            ethernet::ethertype::IPV4 => self.ipv4(w, at),
            ethernet::ethertype::IPV6 => self.ipv6(w, at),
            ethernet::ethertype::ARP => match arp::Packet::parse(w.rest(at)) {
                Ok(p) => w.push(Proto::Arp(p), at, at + arp::PACKET_LEN, None),
                Err(e) => w.failed(at, e, "arp", 2, arp::Packet::parse, Proto::Arp),
            },
            _ => w.data_to(at, w.data.len()),
        }
    }

    fn ipv4(&mut self, w: &mut Walk, at: usize) {
        let h = match ipv4::Header::parse(w.rest(at)) {
            Ok(h) => h,
            Err(e) => return w.failed(at, e, "ipv4", 3, ipv4::Header::parse, Proto::Ipv4),
        };
        let hl = h.header_len();
        // Bytes past the total length are link padding, not IP.
        let end = (at + usize::from(h.total_len)).min(w.data.len());
        w.push(Proto::Ipv4(h), at, at + hl, None);
        let payload_len = usize::from(h.total_len) - hl;
        if h.frag_offset != 0 {
            // A later fragment: the transport header is in the first one.
            return w.data_to(at + hl, end);
        }
        let addrs = (IpAddr::V4(h.src), IpAddr::V4(h.dst));
        self.transport(w, h.protocol, addrs, at + hl, end, payload_len);
    }

    fn ipv6(&mut self, w: &mut Walk, at: usize) {
        let h = match ipv6::Header::parse(w.rest(at)) {
            Ok(h) => h,
            Err(e) => return w.failed(at, e, "ipv6", 3, ipv6::Header::parse, Proto::Ipv6),
        };
        let end = (at + ipv6::HEADER_LEN + usize::from(h.payload_len)).min(w.data.len());
        w.push(Proto::Ipv6(h), at, at + ipv6::HEADER_LEN, None);
        let mut payload_len = usize::from(h.payload_len);
        let mut next = h.next_header;
        let mut at = at + ipv6::HEADER_LEN;
        let mut chain = 0;
        while ipv6::is_extension(next) {
            if chain == MAX_CHAIN {
                return w.data_to(at, end);
            }
            chain += 1;
            match ipv6::ExtHeader::parse(next, w.rest(at)) {
                Ok(e) => {
                    w.push(Proto::Ipv6Ext(e), at, at + e.len, None);
                    at += e.len;
                    payload_len = payload_len.saturating_sub(e.len);
                    next = e.next_header;
                    if let Some((offset, _, _)) = e.fragment {
                        if offset != 0 {
                            return w.data_to(at, end);
                        }
                    }
                }
                Err(e) => {
                    return w.push(
                        Proto::Broken(ipv6::ext_name(next), 3),
                        at,
                        w.data.len(),
                        Some(e),
                    )
                }
            }
        }
        let addrs = (IpAddr::V6(h.src), IpAddr::V6(h.dst));
        self.transport(w, next, addrs, at, end, payload_len);
    }

    /// The protocol inside IP, from `at` to `end` (captured bytes), `len` bytes on the wire.
    fn transport(
        &mut self,
        w: &mut Walk,
        proto: u8,
        addrs: (IpAddr, IpAddr),
        at: usize,
        end: usize,
        len: usize,
    ) {
        let bytes = w.data.get(at..end).unwrap_or(&[]);
        match proto {
            protocol::TCP => self.tcp(w, addrs, at, end, len),
            protocol::UDP => match udp::Header::parse(bytes) {
                Ok(h) => {
                    w.push(Proto::Udp(h), at, at + udp::HEADER_LEN, None);
                    let uend = (at + usize::from(h.length)).min(end);
                    let body_at = at + udp::HEADER_LEN;
                    // A datagram whose UDP length says it carries nothing is not a DNS message.
                    let carries_payload = usize::from(h.length) > udp::HEADER_LEN;
                    if !w.quoted
                        && carries_payload
                        && (is_dns_port(h.src_port) || is_dns_port(h.dst_port))
                    {
                        let body = w.data.get(body_at..uend).unwrap_or(&[]);
                        match dns::Message::parse(body) {
                            Ok(m) => {
                                let problem = m.problem.clone();
                                w.push(Proto::Dns(Box::new(m)), body_at, uend, problem);
                                return;
                            }
                            Err(e) => {
                                w.push(Proto::Broken("dns", 7), body_at, uend, Some(e));
                                return;
                            }
                        }
                    }
                    if !w.quoted && h.dst_port == vxlan::PORT && usize::from(w.inner) < MAX_CHAIN {
                        return self.vxlan(w, body_at, uend);
                    }
                    w.data_to(body_at, uend);
                }
                Err(e) => w.failed(at, e, "udp", 4, udp::Header::parse, Proto::Udp),
            },
            protocol::ICMP => match icmp::Header::parse(bytes) {
                Ok(h) => {
                    w.push(Proto::Icmp(h), at, at + icmp::HEADER_LEN, None);
                    if h.is_error() && !w.quoted && end > at + icmp::HEADER_LEN {
                        // An error quotes the IP header (and 8+ bytes) of the packet that
                        // caused it.
                        w.quoted = true;
                        self.ipv4(w, at + icmp::HEADER_LEN);
                        w.quoted = false;
                    } else {
                        w.data_to(at + icmp::HEADER_LEN, end);
                    }
                }
                Err(e) => w.failed(at, e, "icmp", 3, icmp::Header::parse, Proto::Icmp),
            },
            protocol::ICMPV6 => match icmpv6::Message::parse(bytes) {
                Ok(m) => {
                    w.push(Proto::Icmpv6(m), at, at + m.header_len, None);
                    if (1..=4).contains(&m.icmp_type) && !w.quoted && end > at + m.header_len {
                        w.quoted = true;
                        self.ipv6(w, at + m.header_len);
                        w.quoted = false;
                    } else {
                        w.data_to(at + m.header_len, end);
                    }
                }
                Err(e) => w.push(Proto::Broken("icmpv6", 3), at, end, Some(e)),
            },
            _ => w.data_to(at, end),
        }
    }

    /// A VXLAN header at `at` and the Ethernet frame it carries, up to `end`.
    fn vxlan(&mut self, w: &mut Walk, at: usize, end: usize) {
        match vxlan::Header::parse(w.data.get(at..end).unwrap_or(&[])) {
            Ok(h) => {
                w.push(Proto::Vxlan(h), at, at + vxlan::HEADER_LEN, None);
                w.inner += 1;
                self.ethernet(w, at + vxlan::HEADER_LEN);
                w.inner -= 1;
            }
            Err(e) => w.push(Proto::Broken("vxlan", 7), at, end, Some(e)),
        }
    }

    fn tcp(&mut self, w: &mut Walk, addrs: (IpAddr, IpAddr), at: usize, end: usize, len: usize) {
        let bytes = w.data.get(at..end).unwrap_or(&[]);
        let h = match tcp::Header::parse(bytes) {
            Ok(h) => h,
            Err(e) => {
                w.failed(at, e, "tcp", 4, tcp::Header::parse, |h| {
                    let meta = TcpMeta {
                        stream: u32::MAX,
                        ..TcpMeta::default()
                    };
                    Proto::Tcp(h, meta)
                });
                // Cut by the snap length after the flags (options missing): the segment's
                // length still comes from the IP lengths, and it still belongs to its
                // connection (as tshark counts it).
                if let Some(Layer {
                    proto: Proto::Tcp(h, meta),
                    captured,
                    ..
                }) = w.out.last_mut()
                {
                    if *captured >= 14 && !w.quoted {
                        let seg_len = len.saturating_sub(h.header_len()) as u32;
                        let h = *h;
                        *meta = self.track(addrs, &h, seg_len).0;
                    }
                }
                return;
            }
        };
        let hl = h.header_len();
        let seg_len = len.saturating_sub(hl);
        if w.quoted {
            let meta = TcpMeta {
                len: seg_len as u32,
                rel_seq: h.seq,
                rel_ack: h.ack,
                quoted: true,
                ..TcpMeta::default()
            };
            w.push(Proto::Tcp(h, meta), at, at + hl, None);
            return w.data_to(at + hl, end);
        }
        let (meta, websocket) = self.track(addrs, &h, seg_len as u32);
        w.push(Proto::Tcp(h, meta), at, at + hl, None);
        let body_at = at + hl;
        if self.reassemble && (seg_len > 0 || h.flags.fin()) {
            return self.stream(w, addrs, &h, body_at, end.max(body_at), seg_len);
        }
        if w.data.get(body_at..end).is_none_or(|b| b.is_empty()) {
            return;
        }
        self.per_packet_payload(w, addrs, &h, websocket, body_at, end, body_at + seg_len);
    }

    /// A segment's payload decoded alone: messages are read only where they start in it.
    #[allow(clippy::too_many_arguments)]
    fn per_packet_payload(
        &mut self,
        w: &mut Walk,
        addrs: (IpAddr, IpAddr),
        h: &tcp::Header,
        websocket: bool,
        body_at: usize,
        end: usize,
        wire_end: usize,
    ) {
        if websocket {
            return self.websocket(w, addrs, h, body_at, end, wire_end);
        }
        let body = w.data.get(body_at..end).unwrap_or(&[]);
        // DNS over TCP (RFC 1035 §4.2.2): a two-byte length, then the message; decoded when
        // this segment holds all of it.
        if is_dns_port(h.src_port) || is_dns_port(h.dst_port) {
            if let Some(n) = dns_tcp_len(body).filter(|&n| body.len() >= n) {
                if self.dns_tcp(w, body_at, body_at + n) {
                    return w.data_to(body_at + n, end);
                }
            }
        }
        if !self.http(w, addrs, h, body_at, end, end) {
            w.data_to(body_at, end);
        }
    }

    /// DNS over TCP: the message after its two-byte length, from `at` to `end`.
    fn dns_tcp(&mut self, w: &mut Walk, at: usize, end: usize) -> bool {
        let msg = w.data.get(at + 2..end).unwrap_or(&[]);
        match dns::Message::parse(msg) {
            Ok(mut m) => {
                m.tcp_length = w
                    .data
                    .get(at..at + 2)
                    .map(|b| u16::from_be_bytes([b[0], b[1]]));
                let problem = m.problem.clone();
                w.push(Proto::Dns(Box::new(m)), at, end, problem);
                true
            }
            Err(_) => false,
        }
    }

    /// An HTTP message at `at`: its header block, then (to `body_end`) its body, as Engine.IO
    /// on a socket.io connection or as data; `end` is where the bytes end. False if the bytes
    /// are not HTTP.
    #[allow(clippy::too_many_arguments)]
    fn http(
        &mut self,
        w: &mut Walk,
        addrs: (IpAddr, IpAddr),
        h: &tcp::Header,
        at: usize,
        body_end: usize,
        end: usize,
    ) -> bool {
        let Some(m) = http_message::Message::parse(w.data.get(at..body_end).unwrap_or(&[])) else {
            return false;
        };
        let upgrade_req = m.is_websocket_upgrade_request();
        let switching = m.is_switching_protocols();
        if switching {
            self.note_deflate(addrs, h, &m.headers);
        }
        let hend = at + m.header_len;
        let sio_request = matches!(&m.start, http_message::StartLine::Request { target, .. } if target.contains("/socket.io/"));
        w.push(Proto::Http(Box::new(m)), at, hend, None);
        self.note_upgrade(addrs, h, upgrade_req, switching);
        if self.socketio_body(addrs, h, sio_request) && hend < body_end {
            self.socketio(w, hend, body_end, false);
            return true;
        }
        w.data_to(hend, end.max(body_end));
        true
    }

    /// A segment's payload on its direction's byte stream.
    fn stream(
        &mut self,
        w: &mut Walk,
        addrs: (IpAddr, IpAddr),
        h: &tcp::Header,
        body_at: usize,
        end: usize,
        seg_len: usize,
    ) {
        let (key, dir) = Self::key(addrs, h);
        let Some(mut flow) = self
            .conns
            .get_mut(&key)
            .map(|c| c.flows[dir].take().unwrap_or_default())
        else {
            return w.data_to(body_at, end);
        };
        let captured = end.saturating_sub(body_at).min(seg_len);
        let seq = h.seq.wrapping_add(u32::from(h.flags.syn()));
        let seg = reassembly::Segment {
            frame: w.frame,
            seq,
            wire_len: seg_len as u32,
            captured: w.data.get(body_at..body_at + captured).unwrap_or(&[]),
            fin: h.flags.fin(),
        };
        let mut pieces = std::mem::take(&mut self.pieces);
        pieces.clear();
        let placed = flow.order.push(seg, &mut self.budget, &mut pieces);
        if let Some(missing) = pieces.iter().find_map(|p| match p {
            Piece::Gap { missing } => Some(*missing),
            _ => None,
        }) {
            w.push(
                Proto::Segment(SegmentRole::AfterGap { missing }),
                body_at,
                body_at,
                None,
            );
        }
        match placed {
            Placed::Retransmission if end > body_at => w.push(
                Proto::Segment(SegmentRole::Retransmission),
                body_at,
                end,
                None,
            ),
            Placed::Held if end > body_at => {
                w.push(Proto::Segment(SegmentRole::OutOfOrder), body_at, end, None)
            }
            _ => {}
        }
        let cut = pieces.iter().any(|p| matches!(p, Piece::Cut { .. }));
        for piece in pieces.drain(..) {
            match piece {
                Piece::This { offset, len } => {
                    let (s, e) = (body_at + offset, body_at + offset + len);
                    if offset > 0 {
                        w.push(
                            Proto::Segment(SegmentRole::Retransmission),
                            body_at,
                            s,
                            None,
                        );
                    }
                    if cut {
                        // Cut by the snap length: this segment alone, as far as it was captured.
                        flow.drop_message(&mut self.budget);
                        flow.lost = true;
                        let ws = self.conns.get(&key).is_some_and(|c| c.websocket);
                        self.per_packet_payload(w, addrs, h, ws, s, end, body_at + seg_len);
                    } else if flow.buf.is_empty() {
                        self.in_frame(w, &mut flow, addrs, h, s, e);
                    } else if len > self.budget || flow.buf.len() + len > self.max_message {
                        self.give_up_midway(w, &mut flow, s, e);
                    } else {
                        flow.append(w.frame, &w.data[s..e], &mut self.budget);
                        self.grown_message(w, &mut flow, addrs, h, Some((s, e)));
                    }
                }
                Piece::Held { frame, bytes } => {
                    if flow.lost && http_message::Message::looks_like(&bytes) {
                        flow.lost = false;
                    }
                    if flow.lost {
                        continue;
                    }
                    if bytes.len() > self.budget || flow.buf.len() + bytes.len() > self.max_message
                    {
                        self.give_up_midway(w, &mut flow, 0, 0);
                    } else {
                        flow.append(frame, &bytes, &mut self.budget);
                        self.grown_message(w, &mut flow, addrs, h, None);
                    }
                }
                Piece::Gap { .. } | Piece::Cut { .. } => {
                    flow.drop_message(&mut self.budget);
                    flow.lost = true;
                }
            }
        }
        self.pieces = pieces;
        match self.conns.get_mut(&key) {
            Some(c) => c.flows[dir] = Some(flow),
            None => self.budget += flow.held(),
        }
    }

    /// What message starts at the front of `b`, on this direction of the connection.
    /// `lost`: bytes before were lost; `resume`: how far this message was read before.
    fn pdu(
        &self,
        addrs: (IpAddr, IpAddr),
        h: &tcp::Header,
        lost: bool,
        resume: &mut http_message::Resume,
        b: &[u8],
    ) -> Pdu {
        let (key, _) = Self::key(addrs, h);
        let websocket = self.conns.get(&key).is_some_and(|c| c.websocket);
        if websocket && !lost {
            return match websocket_frame::FrameHeader::parse(b) {
                Ok(f) => {
                    let total = (f.header_len as u64).saturating_add(f.payload_len);
                    if b.len() as u64 >= total {
                        Pdu::Whole(total as usize)
                    } else {
                        Pdu::Partial(Some(total))
                    }
                }
                Err(e) if e.is_truncated() => Pdu::Partial(None),
                Err(_) => Pdu::Opaque,
            };
        }
        if is_dns_port(h.src_port) || is_dns_port(h.dst_port) {
            if lost {
                return Pdu::Opaque;
            }
            return match dns_tcp_len(b) {
                None if b.len() < 2 => Pdu::Partial(None),
                None => Pdu::Opaque,
                Some(n) if b.len() >= n => Pdu::Whole(n),
                Some(n) => Pdu::Partial(Some(n as u64)),
            };
        }
        match http_message::extent_from(b, resume) {
            http_message::Extent::Whole(n) => Pdu::Whole(n),
            http_message::Extent::NeedMore(n) => Pdu::Partial(n.map(|n| n as u64)),
            http_message::Extent::NotHttp => Pdu::Opaque,
        }
    }

    /// Decodes one whole message at `at..end` of the walk's bytes.
    fn message(
        &mut self,
        w: &mut Walk,
        addrs: (IpAddr, IpAddr),
        h: &tcp::Header,
        at: usize,
        end: usize,
    ) {
        let (key, _) = Self::key(addrs, h);
        if self.conns.get(&key).is_some_and(|c| c.websocket) {
            return self.websocket(w, addrs, h, at, end, end);
        }
        if is_dns_port(h.src_port) || is_dns_port(h.dst_port) {
            if !self.dns_tcp(w, at, end) {
                w.push(
                    Proto::Broken("dns", 7),
                    at,
                    end,
                    dns::Message::parse(w.data.get(at + 2..end).unwrap_or(&[])).err(),
                );
            }
            return;
        }
        if !self.http(w, addrs, h, at, end, end) {
            w.data_to(at, end);
        }
    }

    /// New in-order bytes of this frame, `at..end`, with no unfinished message before them:
    /// whole messages are decoded here; an unfinished one at the end is kept for later.
    fn in_frame(
        &mut self,
        w: &mut Walk,
        flow: &mut Flow,
        addrs: (IpAddr, IpAddr),
        h: &tcp::Header,
        mut at: usize,
        end: usize,
    ) {
        let (key, dir) = Self::key(addrs, h);
        while at < end {
            let pending = self.conns.get(&key).map_or(0, |c| c.ws_pending[dir]);
            if pending > 0 {
                // The rest of a WebSocket frame given up on: per packet, as far as it goes.
                return self.websocket(w, addrs, h, at, end, end);
            }
            let b = &w.data[at..end];
            if flow.lost && http_message::Message::looks_like(b) {
                flow.lost = false;
            }
            let mut resume = http_message::Resume::default();
            match self.pdu(addrs, h, flow.lost, &mut resume, b) {
                Pdu::Whole(n) => {
                    self.message(w, addrs, h, at, at + n);
                    at += n;
                }
                Pdu::Partial(total) => {
                    let n = end - at;
                    if total.is_some_and(|t| t > self.max_message as u64)
                        || n > self.max_message
                        || n > self.budget
                    {
                        return self.give_up_at_start(w, flow, addrs, h, at, end, total);
                    }
                    flow.append(w.frame, b, &mut self.budget);
                    flow.need = total.map_or(0, |t| t as usize);
                    flow.resume = resume;
                    w.push(Proto::Segment(SegmentRole::Part), at, end, None);
                    return;
                }
                Pdu::Opaque => return w.data_to(at, end),
            }
        }
    }

    /// The unfinished message grew (by this frame's bytes `this`, or by held ones): decodes it
    /// if it is now whole, and what follows it.
    fn grown_message(
        &mut self,
        w: &mut Walk,
        flow: &mut Flow,
        addrs: (IpAddr, IpAddr),
        h: &tcp::Header,
        this: Option<(usize, usize)>,
    ) {
        // How many of the frame's own bytes are still in the buffer (at its end).
        let mut own = this.map_or(0, |(s, e)| e - s);
        loop {
            if flow.buf.is_empty() {
                return;
            }
            let pdu = if flow.need > flow.buf.len() {
                Pdu::Partial(Some(flow.need as u64))
            } else {
                self.pdu(addrs, h, flow.lost, &mut flow.resume, &flow.buf)
            };
            match pdu {
                Pdu::Whole(n) => {
                    let before = flow.buf.len() - own;
                    let from_this = n.saturating_sub(before).min(own);
                    if let (Some((_, e)), true) = (this, from_this > 0) {
                        let s = e - own;
                        w.push(Proto::Segment(SegmentRole::Part), s, s + from_this, None);
                    }
                    own -= from_this;
                    let base = self.reassembled.len();
                    let (segments, count) =
                        flow.take_message(n, &mut self.reassembled, &mut self.budget);
                    w.push(
                        Proto::Reassembled(Box::new(Reassembly {
                            segments,
                            count,
                            length: n,
                        })),
                        base,
                        base,
                        None,
                    );
                    if let Some(l) = w.out.last_mut() {
                        (l.end, l.captured, l.reassembled) = (base + n, n, true);
                    }
                    let bytes = std::mem::take(&mut self.reassembled);
                    let mut rw = Walk {
                        data: &bytes,
                        out: &mut *w.out,
                        quoted: false,
                        inner: w.inner,
                        frame: w.frame,
                        reassembled: true,
                    };
                    self.message(&mut rw, addrs, h, base, base + n);
                    self.reassembled = bytes;
                    if let (Some((_, e)), true) = (this, own > 0 && own == flow.buf.len()) {
                        // What is left is this frame's own: decode it in the frame.
                        flow.drop_message(&mut self.budget);
                        return self.in_frame(w, flow, addrs, h, e - own, e);
                    }
                }
                Pdu::Partial(total) => {
                    if total.is_some_and(|t| t > self.max_message as u64) {
                        let (s, e) = this.map_or((0, 0), |(_, e)| (e - own, e));
                        let why = self.limit(total);
                        self.give_up_midway(w, flow, s, e);
                        if let Some(Layer { problem, .. }) = w.out.last_mut().filter(|_| s < e) {
                            *problem = Some(why);
                        }
                        return;
                    }
                    flow.need = total.map_or(0, |t| t as usize);
                    if let Some((_, e)) = this.filter(|_| own > 0) {
                        w.push(Proto::Segment(SegmentRole::Part), e - own, e, None);
                    }
                    return;
                }
                Pdu::Opaque => {
                    flow.drop_message(&mut self.budget);
                    if let Some((_, e)) = this.filter(|_| own > 0) {
                        w.data_to(e - own, e);
                    }
                    return;
                }
            }
        }
    }

    /// Why a message is given up on, for the layer that says so.
    fn limit(&self, total: Option<u64>) -> HeaderError {
        HeaderError::Limit {
            what: "reassembly",
            detail: match total {
                Some(t) if t > self.max_message as u64 => format!(
                    "a message of {t} bytes is longer than the {} bytes one stream reassembles, so it is shown per packet",
                    self.max_message
                ),
                _ => format!(
                    "the streams hold {} bytes, all that they may ({} in all, {} a message), so this message is shown per packet",
                    self.max_held - self.budget,
                    self.max_held,
                    self.max_message
                ),
            },
        }
    }

    /// A message that starts at `at` and cannot be held: this frame's bytes `at..end` are
    /// decoded per packet (a WebSocket frame's later segments are then counted off as its
    /// payload), with the reason on the first layer.
    #[allow(clippy::too_many_arguments)]
    fn give_up_at_start(
        &mut self,
        w: &mut Walk,
        flow: &mut Flow,
        addrs: (IpAddr, IpAddr),
        h: &tcp::Header,
        at: usize,
        end: usize,
        total: Option<u64>,
    ) {
        let why = self.limit(total);
        flow.drop_message(&mut self.budget);
        let (key, _) = Self::key(addrs, h);
        let ws = self.conns.get(&key).is_some_and(|c| c.websocket);
        // Past a WebSocket frame the stream is still in step (its length is known); past an
        // unfinished DNS or HTTP message it is not, until an HTTP message starts again.
        flow.lost = !ws;
        let first = w.out.len();
        self.per_packet_payload(w, addrs, h, ws, at, end, end);
        if let Some(l) = w.out.get_mut(first) {
            l.problem = Some(why);
        }
    }

    /// A message already begun cannot grow: what was held of it is dropped, this frame's bytes
    /// `at..end` are shown as data with the reason, and the stream is out of step.
    fn give_up_midway(&mut self, w: &mut Walk, flow: &mut Flow, at: usize, end: usize) {
        let why = self.limit(None);
        flow.drop_message(&mut self.budget);
        flow.lost = true;
        if at < end {
            w.push(Proto::Data, at, end, Some(why));
        }
    }

    fn websocket(
        &mut self,
        w: &mut Walk,
        addrs: (IpAddr, IpAddr),
        h: &tcp::Header,
        mut at: usize,
        end: usize,
        wire_end: usize,
    ) {
        let (key, dir) = Self::key(addrs, h);
        let pending = self.conns.get(&key).map_or(0, |c| c.ws_pending[dir]);
        if pending > 0 {
            // The rest of a frame begun in an earlier segment: payload, not a header.
            let take = usize::try_from(pending)
                .unwrap_or(usize::MAX)
                .min(wire_end.saturating_sub(at));
            w.data_to(at, (at + take).min(end));
            at += take;
            self.set_ws_pending(&key, dir, pending - take as u64);
        }
        for _ in 0..MAX_WS_FRAMES {
            if at >= end {
                return;
            }
            let bytes = w.data.get(at..end).unwrap_or(&[]);
            match websocket_frame::FrameHeader::parse(bytes) {
                Ok(f) => {
                    let hend = at + f.header_len;
                    let pend = (hend as u64).saturating_add(f.payload_len);
                    let captured_end = usize::try_from(pend).unwrap_or(usize::MAX).min(end);
                    let problem = (pend > end as u64).then_some(HeaderError::Truncated {
                        layer: "websocket",
                        what: "frame payload (the rest is in later segments or was not captured)",
                        needed: usize::try_from(f.payload_len).unwrap_or(usize::MAX),
                        got: captured_end - hend,
                    });
                    // The websocket layer covers header and payload: the payload is the frame's.
                    if pend > wire_end as u64 {
                        self.set_ws_pending(&key, dir, pend - wire_end as u64);
                    }
                    let whole = problem.is_none() && f.fin && matches!(f.opcode, 1 | 2);
                    let seen = problem.is_none();
                    w.push(Proto::WebSocket(f), at, captured_end, problem);
                    let conn = self.conns.get_mut(&key);
                    let sio = whole && conn.as_ref().is_some_and(|c| c.socketio);
                    let deflate = conn.and_then(|c| c.deflate.as_mut());
                    if deflate.is_none() && !sio {
                        at = captured_end;
                        continue;
                    }
                    let mut payload = w.data.get(hend..captured_end).unwrap_or(&[]).to_vec();
                    if let Some(k) = f.mask_key {
                        crate::wire::websocket::frame::apply_mask(&mut payload, k, 0);
                    }
                    if let Some(d) = deflate {
                        let rsv1 = f.rsv & 4 != 0;
                        let p = seen.then_some(payload.as_slice());
                        if let Some(i) = d.frame(dir, f.opcode, rsv1, f.fin, f.payload_len, p) {
                            w.push(Proto::Pmce(Box::new(i)), hend, captured_end, None);
                        }
                    }
                    if sio {
                        for (p, s, e) in super::socketio::layers(&payload, hend, f.opcode == 2) {
                            w.push(p, s, e, None);
                        }
                    }
                    at = captured_end;
                }
                Err(e) => {
                    w.push(Proto::Broken("websocket", 7), at, end, Some(e));
                    return;
                }
            }
        }
        w.data_to(at, end);
    }

    /// Marks the connection as socket.io when `request` is for `/socket.io/`; true if HTTP
    /// bodies on it are Engine.IO polling payloads.
    fn socketio_body(&mut self, addrs: (IpAddr, IpAddr), h: &tcp::Header, request: bool) -> bool {
        let (key, _) = Self::key(addrs, h);
        match self.conns.get_mut(&key) {
            Some(c) => {
                c.socketio |= request;
                c.socketio
            }
            None => false,
        }
    }

    /// The engine.io and socket.io layers of a polling body or a WebSocket message.
    fn socketio(&mut self, w: &mut Walk, at: usize, end: usize, binary: bool) {
        let bytes = w.data.get(at..end).unwrap_or(&[]);
        let layers = super::socketio::layers(bytes, at, binary);
        if layers.is_empty() {
            return w.data_to(at, end);
        }
        for (p, s, e) in layers {
            w.push(p, s, e, None);
        }
    }

    fn key(addrs: (IpAddr, IpAddr), h: &tcp::Header) -> ((Endpoint, Endpoint), usize) {
        let a = (addrs.0, h.src_port);
        let b = (addrs.1, h.dst_port);
        if a <= b {
            ((a, b), 0)
        } else {
            ((b, a), 1)
        }
    }

    fn set_ws_pending(&mut self, key: &(Endpoint, Endpoint), dir: usize, n: u64) {
        if let Some(c) = self.conns.get_mut(key) {
            if let Some(p) = c.ws_pending.get_mut(dir) {
                *p = n;
            }
        }
    }

    /// A 101 response: the permessage-deflate agreement it carries, if any, for this
    /// connection (the response's sender is the server).
    fn note_deflate(
        &mut self,
        addrs: (IpAddr, IpAddr),
        h: &tcp::Header,
        headers: &[(String, String)],
    ) {
        let (key, dir) = Self::key(addrs, h);
        if let Some(c) = self.conns.get_mut(&key) {
            if c.ws_requested {
                c.deflate = super::pmce::ConnDeflate::from_response(headers, dir).map(Box::new);
            }
        }
    }

    fn note_upgrade(&mut self, addrs: (IpAddr, IpAddr), h: &tcp::Header, req: bool, ok: bool) {
        let (key, _) = Self::key(addrs, h);
        if let Some(c) = self.conns.get_mut(&key) {
            if req {
                c.ws_requested = true;
            }
            if ok && c.ws_requested {
                c.websocket = true;
            }
        }
    }

    /// Updates the connection this segment belongs to; returns its metadata and whether the
    /// connection speaks WebSocket by now.
    fn track(&mut self, addrs: (IpAddr, IpAddr), h: &tcp::Header, seg_len: u32) -> (TcpMeta, bool) {
        let (key, dir) = Self::key(addrs, h);
        if self.conns.len() >= MAX_CONNECTIONS && !self.conns.contains_key(&key) {
            self.conns.clear();
            self.budget = self.max_held;
        }
        let f = h.flags;
        // A new SYN on a closed connection (port reuse) starts a new stream.
        let reopen = f.syn() && !f.ack() && self.conns.get(&key).is_some_and(|c| c.closed);
        if reopen {
            if let Some(c) = self.conns.remove(&key) {
                self.budget += c.held();
            }
        }
        let next_stream = &mut self.next_stream;
        let c = self.conns.entry(key).or_insert_with(|| {
            let c = Conn {
                stream: *next_stream,
                ..Conn::default()
            };
            *next_stream += 1;
            c
        });
        let other = 1 - dir;
        // The other direction's stream: what this side acknowledged, it had (a hole the
        // capture shows there is a loss of the capture, not of the network).
        if let (true, Some(fl)) = (f.ack(), c.flows[other].as_mut()) {
            fl.order.acked(h.ack);
        }
        if f.syn() {
            c.base[dir] = Some(h.seq);
            c.wscale[dir] = h.options.wscale;
        } else if c.base[dir].is_none() {
            c.base[dir] = Some(h.seq.wrapping_sub(1));
        }
        if f.ack() && c.base[other].is_none() {
            c.base[other] = Some(h.ack.wrapping_sub(1));
        }
        let rel_seq = h.seq.wrapping_sub(c.base[dir].unwrap_or(h.seq));
        let rel_ack = if f.ack() {
            h.ack.wrapping_sub(c.base[other].unwrap_or(h.ack))
        } else {
            0
        };
        let phase = if f.rst() {
            c.closed = true;
            Some(Phase::Reset)
        } else if f.syn() && !f.ack() {
            c.syn_dir = Some(dir);
            c.established = false;
            Some(Phase::Handshake1)
        } else if f.syn() {
            c.synack_seq = Some(h.seq);
            Some(Phase::Handshake2)
        } else if !c.established
            && c.syn_dir == Some(dir)
            && f.ack()
            && c.synack_seq.map(|s| s.wrapping_add(1)) == Some(h.ack)
        {
            c.established = true;
            Some(Phase::Handshake3)
        } else if f.fin() {
            match (c.fin1, c.fin2) {
                (None, _) => {
                    c.fin1 = Some((dir, h.seq.wrapping_add(seg_len)));
                    Some(Phase::Fin1)
                }
                (Some((d, _)), None) if d != dir => {
                    c.fin2 = Some((dir, h.seq.wrapping_add(seg_len)));
                    Some(Phase::Fin2)
                }
                _ => None,
            }
        } else if let (Some((d1, _)), Some((d2, s2))) = (c.fin1, c.fin2) {
            if !c.closed && dir == d1 && dir != d2 && f.ack() && h.ack == s2.wrapping_add(1) {
                c.closed = true;
                Some(Phase::LastAck)
            } else {
                None
            }
        } else {
            None
        };
        // Scaling applies only when both SYNs carried the option, and never to a SYN itself.
        let window_shift = match (f.syn(), c.wscale[dir], c.wscale[other]) {
            (false, Some(mine), Some(_)) => Some(mine.min(14)),
            _ => None,
        };
        (
            TcpMeta {
                stream: c.stream,
                window_shift,
                len: seg_len,
                rel_seq,
                rel_ack,
                phase,
                quoted: false,
            },
            c.websocket,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::engine_test_frames::SYN_FRAME;
    use crate::dissect::{Span, Value};

    fn info(link: LinkType, len: usize) -> FrameInfo {
        FrameInfo {
            number: 1,
            ts_sec: 0,
            ts_nsec: 0,
            ts_digits: 6,
            caplen: len as u32,
            len: len as u32,
            link,
            interface: 0,
        }
    }

    #[test]
    fn syn_frame_layers() {
        let mut d = Dissector::new();
        let mut out = Vec::new();
        d.dissect(&info(LinkType::Ethernet, 74), &SYN_FRAME, &mut out);
        let names: Vec<&str> = out.iter().map(|l| l.name()).collect();
        assert_eq!(names, ["eth", "ipv4", "tcp"]);
        assert_eq!((out[1].start, out[1].end), (14, 34));
        assert_eq!((out[2].start, out[2].end), (34, 74));
        assert_eq!(out.iter().map(|l| l.osi()).collect::<Vec<_>>(), [2, 3, 4]);
        match &out[2].proto {
            Proto::Tcp(h, m) => {
                assert_eq!(h.seq, 1_333_250_725);
                assert_eq!(m.phase, Some(Phase::Handshake1));
                assert_eq!((m.rel_seq, m.len), (0, 0));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_cut_of_a_real_frame_is_handled() {
        let mut d = Dissector::new();
        let mut out = Vec::new();
        for n in 0..SYN_FRAME.len() {
            d.dissect(&info(LinkType::Ethernet, n), &SYN_FRAME[..n], &mut out);
            let last = out.last();
            if n < 74 && n > 0 {
                assert!(
                    last.is_some_and(|l| l.problem.is_some()),
                    "cut at {n}: {out:?}"
                );
            }
            for l in &out {
                assert!(l.start <= l.end && l.end <= n, "range out of frame at {n}");
                // A field's range is within its layer and what was captured; a field whose
                // bytes were cut has none.
                for f in l.fields(&SYN_FRAME[..n]) {
                    if let Span::One(s, e) = f.span {
                        assert!(s < e && l.start + e <= n, "{} at {n}: {s}..{e}", f.name);
                        assert!(l.start + e <= l.end, "{} past its layer at {n}", f.name);
                    } else if f.value == Value::Truncated {
                        assert_eq!(f.span, Span::None, "{} cut at {n}", f.name);
                    }
                }
            }
        }
        // A cut inside the IPv4 header still shows the fields that were captured.
        d.dissect(&info(LinkType::Ethernet, 30), &SYN_FRAME[..30], &mut out);
        assert!(matches!(out[1].proto, Proto::Ipv4(h) if h.ttl == 64));
        assert_eq!(out[1].captured, 16);
    }

    /// An IPv4 + TCP segment (no options) between client 127.0.0.1 and server 127.0.0.2
    /// (port 80 is the server's).
    fn segment(sp: u16, dp: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let total = 40 + payload.len();
        let mut b = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ];
        if sp == 80 {
            b.extend_from_slice(&[127, 0, 0, 2, 127, 0, 0, 1]);
        } else {
            b.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 2]);
        }
        b.extend_from_slice(&sp.to_be_bytes());
        b.extend_from_slice(&dp.to_be_bytes());
        b.extend_from_slice(&seq.to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn websocket_frame_spanning_segments_per_packet() {
        let mut d = Dissector::per_packet();
        let mut out = Vec::new();
        let mut run = |bytes: Vec<u8>, out: &mut Vec<Layer>| {
            d.dissect(&info(LinkType::Ipv4, bytes.len()), &bytes, out);
            out.iter().map(|l| l.name()).collect::<Vec<_>>().join(" ")
        };
        let req = b"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        assert_eq!(run(segment(5000, 80, 1, req), &mut out), "ipv4 tcp http");
        let resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        assert_eq!(run(segment(80, 5000, 1, resp), &mut out), "ipv4 tcp http");
        // A 256-byte binary frame: header and 100 bytes here, 156 bytes in the next segment,
        // followed there by a 2-byte text frame.
        let mut first = vec![0x82, 0x7e, 0x01, 0x00];
        first.extend(std::iter::repeat_n(0xab, 100));
        assert_eq!(
            run(segment(80, 5000, 100, &first), &mut out),
            "ipv4 tcp websocket"
        );
        assert!(out[2].problem.is_some(), "the frame continues later");
        let mut second = vec![0xab; 156];
        second.extend_from_slice(&[0x81, 0x02, b'h', b'i']);
        assert_eq!(
            run(segment(80, 5000, 204, &second), &mut out),
            "ipv4 tcp data websocket"
        );
        assert_eq!((out[2].start, out[2].end), (40, 196));
        assert!(matches!(out[3].proto, Proto::WebSocket(f) if f.opcode == 1 && f.payload_len == 2));
    }

    /// permessage-deflate agreed in the 101 response: RFC 7692's "Hello" twice from the server,
    /// the second only readable with the window the first left (context takeover).
    #[test]
    fn websocket_deflate_inflates_with_context_takeover() {
        let mut d = Dissector::per_packet();
        let mut out = Vec::new();
        let mut run = |bytes: Vec<u8>, out: &mut Vec<Layer>| {
            d.dissect(&info(LinkType::Ipv4, bytes.len()), &bytes, out);
            out.iter().map(|l| l.name()).collect::<Vec<_>>().join(" ")
        };
        let req = b"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
            Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
        run(segment(5000, 80, 1, req), &mut out);
        let resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
            Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n\r\n";
        run(segment(80, 5000, 1, resp), &mut out);
        let first = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(
            run(segment(80, 5000, 100, &first), &mut out),
            "ipv4 tcp websocket pmce"
        );
        let second = [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00];
        run(segment(80, 5000, 109, &second), &mut out);
        let Proto::Pmce(i) = &out[3].proto else {
            panic!("{out:?}")
        };
        assert_eq!(i.data, b"Hello");
        assert_eq!((i.compressed_len, i.window_bits), (5, 10));
        assert_eq!(
            (out[3].start, out[3].end),
            (42, 47),
            "the compressed payload"
        );
        // Without the agreement, RSV1 frames stay compressed bytes.
        let mut d = Dissector::per_packet();
        let plain: [&[u8]; 3] = [
            b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
            &first,
        ];
        for (i, p) in plain.into_iter().enumerate() {
            let (sp, dp) = if i == 0 { (5000, 80) } else { (80, 5000) };
            let bytes = segment(sp, dp, 1 + 100 * i as u32, p);
            d.dissect(&info(LinkType::Ipv4, bytes.len()), &bytes, &mut out);
        }
        assert_eq!(out[2].name(), "websocket");
        assert!(!out.iter().any(|l| matches!(l.proto, Proto::Pmce(_))));
    }

    /// Layer names of each frame, fed to `d` in order: (client → server?, seq, payload).
    fn stream_names(d: &mut Dissector, segs: &[(bool, u32, &[u8])]) -> Vec<String> {
        let mut out = Vec::new();
        segs.iter()
            .map(|&(to_server, seq, p)| {
                let (sp, dp) = if to_server { (5000, 80) } else { (80, 5000) };
                let bytes = segment(sp, dp, seq, p);
                d.dissect(&info(LinkType::Ipv4, bytes.len()), &bytes, &mut out);
                out.iter().map(|l| l.name()).collect::<Vec<_>>().join(" ")
            })
            .collect()
    }

    const UPGRADE: &[u8] =
        b"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    /// The 101 response with a 2-byte text frame right after it in the same segment.
    const SWITCH: &[u8] =
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi";

    /// A 256-byte binary frame: its header and 100 bytes in one segment, the other 156 and a
    /// text frame in the next.
    fn split_frame() -> (Vec<u8>, Vec<u8>) {
        let mut first = vec![0x82, 0x7e, 0x01, 0x00];
        first.extend(std::iter::repeat_n(0xab, 100));
        let mut second = vec![0xab; 156];
        second.extend_from_slice(&[0x81, 0x02, b'o', b'k']);
        (first, second)
    }

    #[test]
    fn stream_websocket_frame_spanning_segments_is_decoded_where_it_completes() {
        let mut d = Dissector::new();
        let (first, second) = split_frame();
        let s = SWITCH.len() as u32;
        let names = stream_names(
            &mut d,
            &[
                (true, 1, UPGRADE),
                (false, 1, SWITCH),
                (false, 1 + s, &first),
                (false, 1 + s + 104, &second),
            ],
        );
        assert_eq!(
            names[1], "ipv4 tcp http websocket",
            "the frame after the 101, in step"
        );
        assert_eq!(names[2], "ipv4 tcp segment");
        assert_eq!(names[3], "ipv4 tcp segment reassembled websocket websocket");
        let mut out = Vec::new();
        let (first, second) = split_frame();
        let mut d = Dissector::new();
        for (i, (to_server, seq, p)) in [
            (true, 1, UPGRADE),
            (false, 1, SWITCH),
            (false, 1 + s, &first[..]),
            (false, 1 + s + 104, &second[..]),
        ]
        .into_iter()
        .enumerate()
        {
            let (sp, dp) = if to_server { (5000, 80) } else { (80, 5000) };
            let bytes = segment(sp, dp, seq, p);
            let mut fi = info(LinkType::Ipv4, bytes.len());
            fi.number = i as u64 + 1;
            d.dissect(&fi, &bytes, &mut out);
        }
        // The segment layer is the 156 bytes of this frame that finish the frame; the
        // reassembled layer and the binary frame index the reassembled bytes; the text frame
        // after it is this frame's own.
        assert_eq!(
            (out[2].start, out[2].end, out[2].reassembled),
            (40, 196, false)
        );
        let Proto::Reassembled(r) = &out[3].proto else {
            panic!("{out:?}")
        };
        assert_eq!(
            (r.length, &r.segments[..]),
            (260, &[(3, 104), (4, 156)][..])
        );
        assert!(out[3].reassembled && out[4].reassembled);
        assert!(
            matches!(out[4].proto, Proto::WebSocket(f) if f.payload_len == 256 && f.opcode == 2)
        );
        assert_eq!((out[4].start, out[4].end), (0, 260));
        assert_eq!(d.reassembled().len(), 260);
        assert!(d.reassembled()[4..].iter().all(|&b| b == 0xab));
        assert!(matches!(out[5].proto, Proto::WebSocket(f) if f.payload_len == 2));
        assert_eq!(
            (out[5].start, out[5].end, out[5].reassembled),
            (196, 200, false)
        );
        assert_eq!(d.held_bytes(), 0);
    }

    #[test]
    fn stream_out_of_order_and_retransmitted_segments() {
        let mut d = Dissector::new();
        let (first, second) = split_frame();
        let s = SWITCH.len() as u32;
        let names = stream_names(
            &mut d,
            &[
                (true, 1, UPGRADE),
                (false, 1, SWITCH),
                (false, 1 + s + 104, &second), // ahead of `first`: held
                (false, 1 + s, &first),        // fills the gap: both frames are decoded here
                (false, 1 + s, &first),        // again
            ],
        );
        assert_eq!(names[2], "ipv4 tcp segment");
        assert_eq!(
            names[3],
            "ipv4 tcp segment reassembled websocket reassembled websocket"
        );
        assert_eq!(names[4], "ipv4 tcp segment");
        let mut out = Vec::new();
        let again = segment(80, 5000, 1 + s, &first);
        d.dissect(&info(LinkType::Ipv4, again.len()), &again, &mut out);
        assert_eq!(out[2].proto, Proto::Segment(SegmentRole::Retransmission));
        assert_eq!(d.held_bytes(), 0);
    }

    /// A frame longer than the longest message held is decoded per packet, said so, and the
    /// stream stays in step: the frame after it is decoded.
    #[test]
    fn stream_message_past_the_limit_is_shown_per_packet() {
        let mut d = Dissector::with_limits(200, 1 << 20);
        let (first, second) = split_frame();
        let s = SWITCH.len() as u32;
        let mut out = Vec::new();
        stream_names(&mut d, &[(true, 1, UPGRADE), (false, 1, SWITCH)]);
        let bytes = segment(80, 5000, 1 + s, &first);
        d.dissect(&info(LinkType::Ipv4, bytes.len()), &bytes, &mut out);
        assert!(matches!(out[2].proto, Proto::WebSocket(f) if f.payload_len == 256));
        let why = out[2]
            .problem
            .as_ref()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            why.contains("a message of 260 bytes is longer than the 200"),
            "{why}"
        );
        let bytes = segment(80, 5000, 1 + s + 104, &second);
        d.dissect(&info(LinkType::Ipv4, bytes.len()), &bytes, &mut out);
        let names: Vec<&str> = out.iter().map(|l| l.name()).collect();
        assert_eq!(names, ["ipv4", "tcp", "data", "websocket"]);
        assert_eq!(d.held_bytes(), 0);
    }

    /// Past what all streams may hold, a message is given up on, said so, and what is held
    /// never passes the bound; a later message on the stream is decoded again.
    #[test]
    fn stream_budget_for_all_streams_is_kept() {
        let mut d = Dissector::with_limits(1 << 20, 100);
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n";
        let body = [b'x'; 90];
        let mut out = Vec::new();
        let mut seq = 1;
        let mut names = Vec::new();
        for p in [&head[..], &body, &body, &body, &body[..30]] {
            let bytes = segment(80, 5000, seq, p);
            seq += p.len() as u32;
            d.dissect(&info(LinkType::Ipv4, bytes.len()), &bytes, &mut out);
            assert!(d.held_bytes() <= 100, "held {}", d.held_bytes());
            names.push(out.iter().map(|l| l.name()).collect::<Vec<_>>().join(" "));
            if let Some(e) = out.iter().find_map(|l| l.problem.as_ref()) {
                assert!(
                    e.to_string().contains("all that they may (100 in all"),
                    "{e}"
                );
            }
        }
        assert_eq!(names[0], "ipv4 tcp segment");
        assert_eq!(names[1], "ipv4 tcp data", "given up: {names:?}");
        assert!(out.iter().all(|l| !matches!(l.proto, Proto::Http(_))));
        let next = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        let bytes = segment(80, 5000, seq, next);
        d.dissect(&info(LinkType::Ipv4, bytes.len()), &bytes, &mut out);
        assert!(matches!(&out[2].proto, Proto::Http(m) if m.header("content-length") == Some("0")));
        assert_eq!(d.held_bytes(), 0);
    }

    /// A message in more segments than are listed (one byte a segment): the list stays at its
    /// bound, the count and the bytes stay exact.
    #[test]
    fn stream_message_in_more_segments_than_are_listed() {
        let mut d = Dissector::new();
        let s = SWITCH.len() as u32;
        stream_names(&mut d, &[(true, 1, UPGRADE), (false, 1, SWITCH)]);
        let n = MAX_LISTED_SEGMENTS + 1000;
        let mut frame = vec![0x82, 0x7e, (n >> 8) as u8, n as u8];
        frame.extend(std::iter::repeat_n(0x5a, n));
        let mut out = Vec::new();
        for (i, b) in frame.iter().enumerate() {
            let bytes = segment(80, 5000, 1 + s + i as u32, std::slice::from_ref(b));
            let mut fi = info(LinkType::Ipv4, bytes.len());
            fi.number = 10 + i as u64;
            d.dissect(&fi, &bytes, &mut out);
        }
        let Some(Proto::Reassembled(r)) = out
            .iter()
            .map(|l| &l.proto)
            .find(|p| matches!(p, Proto::Reassembled(_)))
        else {
            panic!("{out:?}")
        };
        assert_eq!((r.length, r.count), (n + 4, n + 4));
        assert_eq!(r.segments.len(), MAX_LISTED_SEGMENTS);
        assert_eq!(
            r.segments.iter().map(|(_, b)| *b as usize).sum::<usize>(),
            n + 4
        );
        assert_eq!(r.segments.last().map(|s| s.0), Some(10 + n as u64 + 3));
        assert!(out
            .iter()
            .any(|l| matches!(l.proto, Proto::WebSocket(f) if f.payload_len == n as u64)));
        assert_eq!(d.held_bytes(), 0);
    }

    /// DNS over TCP with its length in a segment of its own (as fixtures/streams.pcap has it).
    #[test]
    fn stream_dns_over_tcp_with_the_length_apart() {
        let mut d = Dissector::new();
        let query: &[u8] = &[
            0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1,
        ];
        let mut out = Vec::new();
        for (seq, p) in [(1u32, &[0u8, 19][..]), (3, query)] {
            let bytes = segment(5000, 53, seq, p);
            d.dissect(&info(LinkType::Ipv4, bytes.len()), &bytes, &mut out);
        }
        let names: Vec<&str> = out.iter().map(|l| l.name()).collect();
        assert_eq!(names, ["ipv4", "tcp", "segment", "reassembled", "dns"]);
        assert!(matches!(&out[4].proto, Proto::Dns(m) if m.id == 0x1234));
        // Field ranges count the two length bytes, as tshark's dns.length comes first: the
        // question's name (1 "a" 0) is at 12 of the message, so at 14 of the layer.
        let fields = out[4].fields(d.reassembled());
        let span = |name: &str| {
            fields
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.span.clone())
        };
        assert_eq!(span("length"), Some(Span::One(0, 2)));
        assert_eq!(span("id"), Some(Span::One(2, 4)));
        assert_eq!(span("count.add_rr"), Some(Span::One(12, 14)));
        assert_eq!(span("qry.name"), Some(Span::Each(vec![(14, 17)])));
        assert_eq!(span("qry.type"), Some(Span::Each(vec![(17, 19)])));
    }

    /// A masked client frame with a 16-bit length: the length's bytes run from the second
    /// byte to the key (tshark's websocket.payload_length is the 7-bit byte alone, then
    /// payload_length_ext_16), the key is the 4 bytes before the payload.
    #[test]
    fn websocket_length_range() {
        let mut d = Dissector::new();
        let mut out = Vec::new();
        let req = b"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
        let resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        let mut frame = vec![0x82, 0xfe, 0x00, 0xc8, 1, 2, 3, 4];
        frame.extend(std::iter::repeat_n(0x55, 200));
        for (sp, dp, seq, p) in [
            (5000, 80, 1, &req[..]),
            (80, 5000, 1, &resp[..]),
            (5000, 80, 1 + req.len() as u32, &frame[..]),
        ] {
            let bytes = segment(sp, dp, seq, p);
            d.dissect(&info(LinkType::Ipv4, bytes.len()), &bytes, &mut out);
        }
        let ws = out
            .iter()
            .find(|l| l.name() == "websocket")
            .expect("a frame");
        let bytes = segment(5000, 80, 1 + req.len() as u32, &frame);
        let fields = ws.fields(&bytes);
        let span = |name: &str| {
            fields
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.span.clone())
        };
        assert_eq!(span("opcode"), Some(Span::One(0, 1)));
        assert_eq!(span("mask"), Some(Span::One(1, 2)));
        assert_eq!(span("payload_length"), Some(Span::One(1, 4)));
        assert_eq!(span("masking_key"), Some(Span::One(4, 8)));
        assert_eq!(span("payload"), Some(Span::One(8, 208)));
        assert_eq!(ws.end - ws.start, 208);
    }

    /// An empty datagram to port 53 (RFC 768 length 8) is plain UDP, not a cut DNS header.
    #[test]
    fn empty_udp_to_dns_port_is_not_dns() {
        let mut d = Dissector::new();
        let mut out = Vec::new();
        let bytes: [u8; 28] = [
            0x45, 0, 0, 0x1c, 0, 1, 0, 0, 0x40, 0x11, 0x7c, 0xce, 127, 0, 0, 1, 127, 0, 0, 1, 0x30,
            0x39, 0, 0x35, 0, 8, 0, 0,
        ];
        d.dissect(&info(LinkType::Ipv4, 28), &bytes, &mut out);
        let names: Vec<&str> = out.iter().map(|l| l.name()).collect();
        assert_eq!(names, ["ipv4", "udp"]);
    }

    #[test]
    fn bsd_null_link_and_unknown_link() {
        let mut d = Dissector::new();
        let mut out = Vec::new();
        let mut null = vec![2, 0, 0, 0];
        null.extend_from_slice(&SYN_FRAME[14..]);
        d.dissect(&info(LinkType::Null, null.len()), &null, &mut out);
        let names: Vec<&str> = out.iter().map(|l| l.name()).collect();
        assert_eq!(names, ["null", "ipv4", "tcp"]);
        d.dissect(&info(LinkType::Other(147), 74), &SYN_FRAME, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].name(), out[0].end), ("data", 74));
    }

    #[test]
    fn raw_ip_and_sll2_links() {
        let mut d = Dissector::new();
        let mut out = Vec::new();
        d.dissect(&info(LinkType::RawIp, 60), &SYN_FRAME[14..], &mut out);
        assert_eq!(out[0].name(), "ipv4");
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 1, 3, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        sll2.extend_from_slice(&SYN_FRAME[14..]);
        d.dissect(&info(LinkType::LinuxSll2, sll2.len()), &sll2, &mut out);
        assert_eq!(
            out.iter().map(|l| l.name()).collect::<Vec<_>>(),
            ["sll2", "ipv4", "tcp"]
        );
        assert_eq!(out[1].start, 20);
    }
}

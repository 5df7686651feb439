//! The dissector: walks a frame one header at a time, outermost first, and keeps the little
//! state that needs earlier frames (TCP connections: relative sequence numbers, handshake and
//! teardown phases, and which connections upgraded to WebSocket).

use std::collections::HashMap;
use std::net::IpAddr;

use super::{FrameInfo, Layer, LinkType, Phase, Proto, TcpMeta};
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
/// Longest header this module pads to when a header is cut short (IPv4/TCP maximum).
const PAD: usize = 60;

/// Ports whose UDP payload is decoded as DNS.
fn is_dns_port(p: u16) -> bool {
    matches!(p, 53 | 5353 | 5355)
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
}

/// Turns frames into layers. Keep one per capture: it remembers TCP connections.
#[derive(Debug, Default)]
pub struct Dissector {
    conns: HashMap<(Endpoint, Endpoint), Conn>,
    next_stream: u32,
}

/// Where we are inside the frame while walking it.
struct Walk<'a> {
    data: &'a [u8],
    out: &'a mut Vec<Layer>,
    /// Inside the packet an ICMP error quotes: no TCP state, no application decoding.
    quoted: bool,
    /// Tunnels (VXLAN) entered so far.
    inner: u8,
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
                });
                return;
            }
        }
        self.push(Proto::Broken(name, osi), at, self.data.len(), Some(err));
    }
}

impl Dissector {
    pub fn new() -> Dissector {
        Dissector::default()
    }

    /// Dissects one frame into `out` (cleared first).
    pub fn dissect(&mut self, info: &FrameInfo, data: &[u8], out: &mut Vec<Layer>) {
        out.clear();
        let mut w = Walk {
            data,
            out,
            quoted: false,
            inner: 0,
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
        let body = w.data.get(body_at..end).unwrap_or(&[]);
        if body.is_empty() {
            return;
        }
        if websocket {
            return self.websocket(w, addrs, &h, body_at, end, body_at + seg_len);
        }
        // DNS over TCP (RFC 1035 §4.2.2): a two-byte length, then the message; decoded when
        // this segment holds all of it.
        if (is_dns_port(h.src_port) || is_dns_port(h.dst_port)) && body.len() >= 2 + 12 {
            let n = usize::from(u16::from_be_bytes([body[0], body[1]]));
            if n >= 12 && body.len() >= 2 + n {
                if let Ok(m) = dns::Message::parse(&body[2..2 + n]) {
                    let problem = m.problem.clone();
                    w.push(Proto::Dns(Box::new(m)), body_at, body_at + 2 + n, problem);
                    return w.data_to(body_at + 2 + n, end);
                }
            }
        }
        if let Some(m) = http_message::Message::parse(body) {
            let upgrade_req = m.is_websocket_upgrade_request();
            let switching = m.is_switching_protocols();
            if switching {
                self.note_deflate(addrs, &h, &m.headers);
            }
            let hend = body_at + m.header_len;
            let sio_request = matches!(&m.start, http_message::StartLine::Request { target, .. } if target.contains("/socket.io/"));
            w.push(Proto::Http(Box::new(m)), body_at, hend, None);
            self.note_upgrade(addrs, &h, upgrade_req, switching);
            if self.socketio_body(addrs, &h, sio_request) && hend < end {
                return self.socketio(w, hend, end, false);
            }
            return w.data_to(hend, end);
        }
        w.data_to(body_at, end);
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
        }
        let f = h.flags;
        // A new SYN on a closed connection (port reuse) starts a new stream.
        let reopen = f.syn() && !f.ack() && self.conns.get(&key).is_some_and(|c| c.closed);
        if reopen {
            self.conns.remove(&key);
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
                let _ = l.fields(&SYN_FRAME[..n]);
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
    fn websocket_frame_spanning_segments() {
        let mut d = Dissector::new();
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
        let mut d = Dissector::new();
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
        let mut d = Dissector::new();
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

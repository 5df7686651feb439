//! Each layer's fields: a name (Wireshark's where it has one), a value, and a one-line
//! meaning for students. Built only when a view shows them (detail, JSON), never for summary.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::{Layer, Proto};
use crate::render::hexdump::printable;
use crate::wire::websocket::frame::{apply_mask, OpCode};
use crate::wire::{
    arp, cooked, dns, ethernet, http_message::StartLine, icmp, icmpv6, ipv4, tcp, websocket_frame,
};

/// A field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    U(u64),
    Bool(bool),
    Str(String),
    Static(&'static str),
    /// A number shown in hex with this many digits, e.g. `0x0012`.
    Hex(u64, u8),
    List(Vec<String>),
    /// The bytes holding this field were not captured.
    Truncated,
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::U(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{}", if *b { "set" } else { "not set" }),
            Value::Str(s) => f.write_str(s),
            Value::Static(s) => f.write_str(s),
            Value::Hex(n, w) => write!(f, "0x{:0w$x}", n, w = usize::from(*w)),
            Value::List(v) => f.write_str(&v.join(", ")),
            Value::Truncated => f.write_str("<truncated: not captured>"),
        }
    }
}

/// Where a field's bytes are, as `[start, end)` offsets from its layer's start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Span {
    /// Computed by wirelab from more than one place (`tcp.len`, `checksum.status`), or a
    /// summary of a structure rather than bytes of its own: no range.
    #[default]
    None,
    One(usize, usize),
    /// A list whose items each have their bytes (DNS names, HTTP header lines).
    Each(Vec<(usize, usize)>),
}

/// One field of a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub value: Value,
    pub meaning: Cow<'static, str>,
    /// Where its bytes are in the layer (Wireshark's position and size of a field: for bits,
    /// the whole integer that holds them; for a value computed from one field, that field's
    /// bytes, as tcp.seq, relative, has the raw sequence number's).
    pub span: Span,
}

struct Fields {
    v: Vec<Field>,
    captured: usize,
    /// Added to every offset: the bytes before the header in its layer (DNS over TCP's
    /// length).
    base: usize,
}

impl Fields {
    /// Adds a field held in the header bytes `at`: past what was captured, it is marked
    /// truncated.
    fn at(
        &mut self,
        at: std::ops::Range<usize>,
        name: &'static str,
        value: Value,
        meaning: impl Into<Cow<'static, str>>,
    ) {
        let span = Span::One(self.base + at.start, self.base + at.end);
        self.checked(self.base + at.end, span, name, value, meaning);
    }

    /// Adds a field held in the header bytes up to `end` when where it starts is not known
    /// (an option the capture cut).
    fn checked(
        &mut self,
        end: usize,
        span: Span,
        name: &'static str,
        value: Value,
        meaning: impl Into<Cow<'static, str>>,
    ) {
        let mut meaning = meaning.into();
        let mut span = span;
        let value = if end > self.captured {
            // A meaning built from the value would describe bytes that were not captured,
            // and a range, bytes the capture does not hold.
            if let Cow::Owned(_) = meaning {
                meaning = Cow::Borrowed("not captured, so not known");
            }
            span = Span::None;
            Value::Truncated
        } else {
            value
        };
        self.v.push(Field {
            name,
            value,
            meaning,
            span,
        });
    }

    /// Adds a list whose items were read from the bytes at `each` (so they were captured).
    fn each(
        &mut self,
        each: impl Iterator<Item = (usize, usize)>,
        name: &'static str,
        value: Value,
        meaning: impl Into<Cow<'static, str>>,
    ) {
        let b = self.base;
        let span = Span::Each(each.map(|(s, e)| (b + s, b + e)).collect());
        self.checked(0, span, name, value, meaning);
    }

    /// Adds a field with no bytes of its own (see [`Span::None`]).
    fn add(&mut self, name: &'static str, value: Value, meaning: impl Into<Cow<'static, str>>) {
        self.checked(0, Span::None, name, value, meaning);
    }
}

fn s(x: impl std::fmt::Display) -> Value {
    Value::Str(x.to_string())
}

/// The fields of `layer`; `frame` is the whole captured frame.
pub fn of(layer: &Layer, frame: &[u8]) -> Vec<Field> {
    let mut f = Fields {
        v: Vec::with_capacity(24),
        captured: layer.captured,
        base: 0,
    };
    let bytes = frame.get(layer.start..layer.end).unwrap_or(&[]);
    match &layer.proto {
        Proto::Ethernet(h) => ethernet(&mut f, h),
        Proto::Sll(h) => sll(&mut f, h),
        Proto::Null(n) => f.at(
            0..4,
            "family",
            Value::U(n.family.into()),
            match (n.is_ipv4(), n.is_ipv6()) {
                (true, _) => "address family: IPv4 follows",
                (_, true) => "address family: IPv6 follows",
                _ => "address family not known to wirelab",
            },
        ),
        Proto::Vlan(t) => {
            f.at(
                0..2,
                "priority",
                Value::U(t.pcp.into()),
                "priority code point (802.1p): 0 best effort … 7 network control",
            );
            f.at(
                0..2,
                "dei",
                Value::Bool(t.dei),
                "drop eligible: may be dropped first when the link is congested",
            );
            f.at(
                0..2,
                "id",
                Value::U(t.vid.into()),
                "VLAN ID: which virtual LAN this frame belongs to; switches keep VLANs apart",
            );
            f.at(
                2..4,
                "etype",
                Value::Hex(t.ethertype.into(), 4),
                ethertype_meaning(t.ethertype),
            );
        }
        Proto::Vxlan(h) => {
            f.at(
                0..2,
                "flags",
                Value::Hex(h.flags16().into(), 4),
                "flags: 0x0800 is the I flag alone (the VNI is valid), as RFC 7348 requires",
            );
            f.at(
                4..7,
                "vni",
                Value::U(h.vni.into()),
                "VXLAN network identifier: which overlay network the inner Ethernet frame is on",
            );
        }
        Proto::Arp(p) => arp_fields(&mut f, p),
        Proto::Ipv4(h) => ipv4_fields(&mut f, h, bytes, layer),
        Proto::Ipv6(h) => {
            f.at(0..1, "version", Value::U(6), "IP version 6");
            f.at(
                0..4,
                "tclass",
                Value::Hex(h.traffic_class.into(), 2),
                "traffic class: DSCP and ECN, like IPv4's type of service",
            );
            f.at(
                1..4,
                "flow",
                Value::Hex(h.flow_label.into(), 5),
                "flow label: marks the packets of one flow for routers",
            );
            f.at(
                4..6,
                "plen",
                Value::U(h.payload_len.into()),
                "payload length: bytes after this 40-byte header",
            );
            f.at(
                6..7,
                "nxt",
                Value::U(h.next_header.into()),
                format!("next header: {}", ipv4::protocol::name(h.next_header)),
            );
            f.at(
                7..8,
                "hlim",
                Value::U(h.hop_limit.into()),
                format!(
                    "hop limit {}: hops left before a router discards the packet",
                    h.hop_limit
                ),
            );
            f.at(
                8..24,
                "src",
                s(h.src),
                "source address: the interface that sent the packet",
            );
            f.at(
                24..40,
                "dst",
                s(h.dst),
                "destination address: where the packet is going",
            );
        }
        Proto::Ipv6Ext(e) => {
            f.at(
                0..1,
                "nxt",
                Value::U(e.next_header.into()),
                format!("next header: {}", ipv4::protocol::name(e.next_header)),
            );
            if e.fragment.is_none() {
                f.at(
                    1..2,
                    "len",
                    Value::U((e.len / 8).saturating_sub(1) as u64),
                    "length field: 8-byte units after the first 8 bytes",
                );
                f.at(
                    1..2,
                    "len_oct",
                    Value::U(e.len as u64),
                    "length of this extension header in bytes",
                );
            }
            if let Some((t, left)) = e.routing {
                f.at(
                    2..3,
                    "type",
                    Value::U(t.into()),
                    "routing type (4: segment routing)",
                );
                f.at(
                    3..4,
                    "segleft",
                    Value::U(left.into()),
                    "segments left: intermediate nodes still to visit",
                );
            }
            if let Some((off, more, id)) = e.fragment {
                f.at(
                    2..4,
                    "offset",
                    Value::U(off.into()),
                    format!(
                        "fragment offset in 8-byte units: the data starts at byte {} of the packet",
                        u64::from(off) * 8
                    ),
                );
                f.at(2..4, "more", Value::Bool(more), "more fragments follow");
                f.at(
                    4..8,
                    "ident",
                    Value::Hex(id.into(), 8),
                    "identification shared by all fragments of one packet",
                );
            }
        }
        Proto::Icmp(h) => {
            f.at(
                0..1,
                "type",
                Value::U(h.icmp_type.into()),
                icmp::type_name(h.icmp_type),
            );
            f.at(
                1..2,
                "code",
                Value::U(h.code.into()),
                icmp::code_name(h.icmp_type, h.code),
            );
            f.at(
                2..4,
                "checksum",
                Value::Hex(h.checksum.into(), 4),
                "checksum over the ICMP message",
            );
            if h.is_echo() {
                f.at(
                    4..6,
                    "ident",
                    Value::U(h.ident.into()),
                    "identifier: matches replies to this ping process",
                );
                f.at(
                    6..8,
                    "seq",
                    Value::U(h.seq.into()),
                    "sequence number: counts the pings (ping's icmp_seq)",
                );
            }
        }
        Proto::Icmpv6(m) => icmpv6_fields(&mut f, m),
        Proto::Tcp(h, m) => tcp_fields(&mut f, h, m, bytes),
        Proto::Udp(h) => {
            f.at(
                0..2,
                "srcport",
                Value::U(h.src_port.into()),
                "source port: the sending process's socket",
            );
            f.at(
                2..4,
                "dstport",
                Value::U(h.dst_port.into()),
                "destination port: the receiving process's socket",
            );
            f.at(
                4..6,
                "length",
                Value::U(h.length.into()),
                "bytes of UDP header plus data",
            );
            f.add(
                "payload_len",
                Value::U(u64::from(h.length).saturating_sub(8)),
                "bytes of data: length minus the 8-byte header",
            );
            f.at(
                6..8,
                "checksum",
                Value::Hex(h.checksum.into(), 4),
                "checksum over pseudo-header, header and data (0: none)",
            );
        }
        Proto::Dns(m) => dns_fields(&mut f, m),
        Proto::Http(m) => {
            let [a, b, c] = m.start_at.map(|(s, e)| s..e);
            match &m.start {
                StartLine::Request {
                    method,
                    target,
                    version,
                } => {
                    f.at(
                        a.clone(),
                        "request.method",
                        s(method),
                        "what the client asks the server to do",
                    );
                    f.at(
                        b.clone(),
                        "request.uri",
                        s(target),
                        "the resource asked for",
                    );
                    f.at(
                        c.clone(),
                        "request.version",
                        s(version),
                        "HTTP version the client speaks",
                    );
                }
                StartLine::Response {
                    version,
                    status,
                    reason,
                } => {
                    f.at(
                        a,
                        "response.version",
                        s(version),
                        "HTTP version the server speaks",
                    );
                    f.at(
                        b,
                        "response.code",
                        Value::U((*status).into()),
                        status_meaning(*status),
                    );
                    f.at(
                        c,
                        "response.phrase",
                        s(reason),
                        "reason phrase: the status in words",
                    );
                }
            }
            f.each(
                m.header_at.iter().copied(),
                "headers",
                Value::List(m.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect()),
                "header fields: metadata about the message",
            );
            let upgrade = m
                .headers
                .iter()
                .zip(&m.header_at)
                .find(|((n, _), _)| n.eq_ignore_ascii_case("upgrade"));
            if let Some(((_, u), &(from, to))) = upgrade {
                f.at(
                    from..to,
                    "upgrade",
                    s(u),
                    "the protocol the client asks to switch this connection to",
                );
            }
            if !m.complete {
                f.add(
                    "complete",
                    Value::Bool(false),
                    "the header block continues in a later segment",
                );
            }
        }
        Proto::WebSocket(h) => ws_fields(&mut f, h, bytes),
        Proto::Pmce(i) => pmce_fields(&mut f, i),
        Proto::EngineIo(e) => {
            let (value, meaning) = (
                match (e.kind, e.binary) {
                    (_, true) => Value::Static("message (binary)"),
                    (Some(k), _) => Value::Static(k.name()),
                    (None, _) => Value::Static("malformed"),
                },
                e.kind.map_or("not an Engine.IO packet", |k| k.meaning()),
            );
            // A text packet starts with its type digit; a binary message has none.
            if e.binary || e.kind.is_none() {
                f.add("packet_type", value, meaning);
            } else {
                f.at(0..1, "packet_type", value, meaning);
            }
            f.add(
                "data_length",
                Value::U(e.data_len as u64),
                "bytes of data after the type digit",
            );
            if let Some((sid, interval, timeout)) = &e.handshake {
                f.add("sid", s(sid), "the session id later requests carry as sid=");
                f.add(
                    "ping_interval",
                    Value::U(*interval),
                    "ms between the server's pings",
                );
                f.add(
                    "ping_timeout",
                    Value::U(*timeout),
                    "ms the server waits for a pong",
                );
            }
            if e.probe {
                f.add(
                    "probe",
                    Value::Bool(true),
                    "the upgrade's probe: is the new WebSocket working?",
                );
            }
            if let Some(err) = &e.error {
                f.add("error", s(err), "why it could not be decoded");
            }
        }
        Proto::SocketIo(p) => {
            match p.kind {
                Some(k) => f.at(0..1, "packet_type", Value::Static(k.name()), k.meaning()),
                None => f.add(
                    "packet_type",
                    Value::Static("malformed"),
                    "the reference parser refuses this packet",
                ),
            }
            if let Some(err) = &p.error {
                f.add(
                    "error",
                    s(err),
                    "why the reference parser refuses it (the connection is closed)",
                );
            } else {
                f.add(
                    "namespace",
                    s(&p.namespace),
                    "the namespace: several share one connection",
                );
                if let Some(e) = &p.event {
                    f.add("event", s(e), "the event name");
                }
                f.add("args", s(&p.args), "the arguments, as JSON");
                if let Some(id) = p.ack_id {
                    f.add(
                        "ack_id",
                        Value::U(id),
                        "the sender wants an ACK with this id",
                    );
                }
                if p.attachments > 0 {
                    f.add(
                        "attachments",
                        Value::U(p.attachments as u64),
                        "binary messages that follow with the bytes",
                    );
                }
            }
        }
        Proto::Segment(role) => {
            f.add(
                "role",
                Value::Static(match role {
                    super::SegmentRole::Part => "part of a message",
                    super::SegmentRole::Retransmission => "retransmission",
                    super::SegmentRole::OutOfOrder => "out of order",
                    super::SegmentRole::AfterGap { .. } => "after a gap",
                }),
                role.label(),
            );
            if let super::SegmentRole::AfterGap { missing } = role {
                f.add(
                    "missing",
                    Value::U(*missing),
                    "bytes of the stream before this segment that the capture does not hold",
                );
            }
            f.add(
                "len",
                Value::U(bytes.len() as u64),
                "bytes of this segment's payload",
            );
        }
        Proto::Reassembled(r) => {
            f.add(
                "length",
                Value::U(r.length as u64),
                "bytes of the message, put together from the segments below (tshark's tcp.reassembled.length)",
            );
            f.add(
                "segment.count",
                Value::U(r.count as u64),
                "segments that carried it",
            );
            f.add(
                "segments",
                Value::List(
                    r.segments
                        .iter()
                        .map(|(frame, n)| format!("#{frame}({n})"))
                        .collect(),
                ),
                "each frame and the bytes it gave, in stream order; the message is decoded in the last",
            );
        }
        Proto::Data => {
            f.add(
                "len",
                Value::U(bytes.len() as u64),
                "bytes of payload captured",
            );
            let shown = &bytes[..bytes.len().min(64)];
            f.at(
                0..shown.len(),
                "data",
                Value::Str(hex::encode(shown)),
                "the first 64 bytes, in hex",
            );
            f.at(
                0..shown.len(),
                "text",
                Value::Str(shown.iter().map(|&b| printable(b)).collect()),
                "the same bytes as ASCII (dots for the rest)",
            );
        }
        Proto::Broken(..) => {
            f.add(
                "len",
                Value::U(bytes.len() as u64),
                "bytes that could not be read as this header",
            );
        }
    }
    if let Some(p) = &layer.problem {
        let (name, what) = if p.is_truncated() {
            ("_truncated", "the capture ends before this header does")
        } else {
            ("_malformed", "a field holds an impossible value")
        };
        f.add(name, s(p), what);
    }
    f.v
}

fn ethertype_meaning(t: u16) -> String {
    match ethernet::ethertype::name(t) {
        Some(n) => format!("type of the payload: {n}"),
        None if t <= 1500 => format!("IEEE 802.3 length {t}: an LLC header follows"),
        None => "type of the payload: not known to wirelab".into(),
    }
}

fn ethernet(f: &mut Fields, h: &ethernet::Header) {
    let group = if h.dst.is_group() {
        "destination MAC: a group (broadcast/multicast) address, every listener on the link takes it"
    } else {
        "destination MAC: the neighbour on this link the frame is for"
    };
    f.at(0..6, "dst", s(h.dst), group);
    f.at(
        6..12,
        "src",
        s(h.src),
        "source MAC: the interface that sent the frame",
    );
    f.at(
        12..14,
        "type",
        Value::Hex(h.ethertype.into(), 4),
        ethertype_meaning(h.ethertype),
    );
}

fn sll(f: &mut Fields, h: &cooked::Sll) {
    // v1: type, ARPHRD, address length, 8 address bytes, protocol; v2 (RFC-less, libpcap's
    // LINKTYPE_LINUX_SLL2): protocol, reserved, ifindex, ARPHRD, type, length, address.
    let v2 = h.version == 2;
    let (pkttype, hatype, halen, addr, etype) = if v2 {
        (10..11, 8..10, 11..12, 12, 0..2)
    } else {
        (0..2, 2..4, 4..6, 6, 14..16)
    };
    let at = addr..addr + usize::from(h.halen);
    f.at(
        pkttype,
        "pkttype",
        Value::U(h.packet_type.into()),
        format!("packet type: {}", h.packet_type_name()),
    );
    f.at(
        hatype,
        "hatype",
        Value::U(h.hatype.into()),
        "ARPHRD type of the interface (1 Ethernet, 772 loopback)",
    );
    f.at(
        halen,
        "halen",
        Value::U(h.halen.into()),
        "bytes of link-layer address",
    );
    let addr: Vec<String> = h.addr_bytes().iter().map(|b| format!("{b:02x}")).collect();
    f.at(
        at,
        "src",
        Value::Str(addr.join(":")),
        "link-layer source address",
    );
    f.at(
        etype,
        "etype",
        Value::Hex(h.protocol.into(), 4),
        ethertype_meaning(h.protocol),
    );
    if v2 {
        f.at(
            4..8,
            "ifindex",
            Value::U(h.ifindex.into()),
            "index of the interface the packet was seen on",
        );
    }
}

fn arp_fields(f: &mut Fields, p: &arp::Packet) {
    f.at(
        0..2,
        "hw.type",
        Value::U(p.htype.into()),
        "hardware type (1: Ethernet)",
    );
    f.at(
        2..4,
        "proto.type",
        Value::Hex(p.ptype.into(), 4),
        "protocol type (0x0800: IPv4)",
    );
    f.at(
        4..5,
        "hw.size",
        Value::U(p.hlen.into()),
        "bytes in a hardware address",
    );
    f.at(
        5..6,
        "proto.size",
        Value::U(p.plen.into()),
        "bytes in a protocol address",
    );
    let op = match p.oper {
        1 => format!("request: who has {}? tell {}", p.target_ip, p.sender_ip),
        2 => format!("reply: {} is at {}", p.sender_ip, p.sender_mac),
        _ => p.oper_name().to_string(),
    };
    f.at(6..8, "opcode", Value::U(p.oper.into()), op);
    f.at(8..14, "src.hw_mac", s(p.sender_mac), "sender MAC address");
    f.at(
        14..18,
        "src.proto_ipv4",
        s(p.sender_ip),
        "sender IP address",
    );
    f.at(
        18..24,
        "dst.hw_mac",
        s(p.target_mac),
        "target MAC address (zeros in a request: that is the question)",
    );
    f.at(
        24..28,
        "dst.proto_ipv4",
        s(p.target_ip),
        "target IP address",
    );
}

fn ipv4_fields(f: &mut Fields, h: &ipv4::Header, bytes: &[u8], layer: &Layer) {
    f.at(0..1, "version", Value::U(4), "IP version 4");
    f.at(
        0..1,
        "hdr_len",
        Value::U(h.header_len() as u64),
        format!(
            "header length: {} bytes (IHL {} × 4)",
            h.header_len(),
            h.ihl
        ),
    );
    f.at(
        1..2,
        "dsfield",
        Value::U((u64::from(h.dscp) << 2) | u64::from(h.ecn)),
        "differentiated services field: the whole byte (DSCP << 2 | ECN)",
    );
    f.at(
        1..2,
        "dsfield.dscp",
        Value::U(h.dscp.into()),
        "differentiated services code point: the traffic class",
    );
    f.at(
        1..2,
        "dsfield.ecn",
        Value::U(h.ecn.into()),
        "explicit congestion notification bits",
    );
    f.at(
        2..4,
        "len",
        Value::U(h.total_len.into()),
        "total length: header plus payload, in bytes",
    );
    f.at(
        4..6,
        "id",
        Value::Hex(h.id.into(), 4),
        "identification: shared by the fragments of one datagram",
    );
    f.at(
        6..7,
        "flags",
        Value::Hex(h.flags().into(), 2),
        "flags: reserved, don't fragment, more fragments",
    );
    f.at(
        6..7,
        "flags.df",
        Value::Bool(h.df),
        "don't fragment: routers must drop rather than split it (path MTU discovery)",
    );
    f.at(
        6..7,
        "flags.mf",
        Value::Bool(h.mf),
        "more fragments: more pieces of this datagram follow",
    );
    f.at(
        6..8,
        "frag_offset",
        Value::U(h.frag_offset.into()),
        format!(
            "fragment offset in 8-byte units: this piece's data starts at byte {} of the datagram",
            u64::from(h.frag_offset) * 8
        ),
    );
    f.at(
        8..9,
        "ttl",
        Value::U(h.ttl.into()),
        format!(
            "TTL {}: hops left before a router discards the packet",
            h.ttl
        ),
    );
    f.at(
        9..10,
        "proto",
        Value::U(h.protocol.into()),
        format!(
            "protocol of the payload: {}",
            ipv4::protocol::name(h.protocol)
        ),
    );
    f.at(
        10..12,
        "checksum",
        Value::Hex(h.checksum.into(), 4),
        "header checksum (RFC 1071), recomputed by every router as TTL changes",
    );
    if layer.captured >= h.header_len() {
        let ok = ipv4::internet_checksum(bytes.get(..h.header_len()).unwrap_or(&[])) == 0;
        f.add(
            "checksum.status",
            Value::Static(if ok { "good" } else { "bad" }),
            "whether the checksum matches the header",
        );
    }
    f.at(
        12..16,
        "src",
        s(h.src),
        "source address: the interface that sent the packet",
    );
    f.at(
        16..20,
        "dst",
        s(h.dst),
        "destination address: where the packet is going",
    );
    if h.header_len() > 20 && layer.captured >= h.header_len() {
        let names = ipv4::option_names(bytes.get(20..h.header_len()).unwrap_or(&[]));
        f.add(
            "options",
            Value::List(names.into_iter().map(String::from).collect()),
            "IP options (rare today; routers may drop them)",
        );
    }
}

fn icmpv6_fields(f: &mut Fields, m: &icmpv6::Message) {
    f.at(
        0..1,
        "type",
        Value::U(m.icmp_type.into()),
        icmpv6::type_name(m.icmp_type),
    );
    f.at(
        1..2,
        "code",
        Value::U(m.code.into()),
        "subtype of the message (0 for echo and neighbour discovery)",
    );
    f.at(
        2..4,
        "checksum",
        Value::Hex(m.checksum.into(), 4),
        "checksum over pseudo-header and message (mandatory in IPv6)",
    );
    if let Some((id, seq)) = m.echo {
        f.at(
            4..6,
            "echo.identifier",
            Value::U(id.into()),
            "identifier: matches replies to this ping process",
        );
        f.at(
            6..8,
            "echo.sequence_number",
            Value::U(seq.into()),
            "sequence number: counts the pings",
        );
    }
    if let Some(t) = m.target {
        let name = if m.icmp_type == 135 {
            "nd.ns.target_address"
        } else {
            "nd.na.target_address"
        };
        f.at(
            8..24,
            name,
            s(t),
            "the address whose link-layer address is asked for or announced",
        );
    }
    if let Some((r, sol, o)) = m.na_flags {
        f.at(
            4..8,
            "nd.na.flag.r",
            Value::Bool(r),
            "router: the sender is a router",
        );
        f.at(
            4..8,
            "nd.na.flag.s",
            Value::Bool(sol),
            "solicited: an answer to a neighbour solicitation",
        );
        f.at(
            4..8,
            "nd.na.flag.o",
            Value::Bool(o),
            "override: replace any cached link-layer address",
        );
    }
    if let Some(mac) = m.source_lladdr {
        f.at(
            m.lladdr_at[0]..m.lladdr_at[0] + 6,
            "opt.src_linkaddr",
            s(mac),
            "source link-layer address option: the sender's MAC",
        );
    }
    if let Some(mac) = m.target_lladdr {
        f.at(
            m.lladdr_at[1]..m.lladdr_at[1] + 6,
            "opt.target_linkaddr",
            s(mac),
            "target link-layer address option: the answer, a MAC",
        );
    }
}

/// Where the first option of `kind` is among the captured header bytes (kind byte to its
/// end), when the walk to it stays within them.
fn option_at(bytes: &[u8], header_len: usize, kind: u8) -> Option<(usize, usize)> {
    let mut i = 20;
    while i < header_len {
        let k = *bytes.get(i)?;
        match k {
            0 => return None,
            1 => i += 1,
            _ => {
                let l = usize::from(*bytes.get(i + 1)?).max(2);
                if k == kind {
                    return Some((i, i + l));
                }
                i += l;
            }
        }
    }
    None
}

fn tcp_fields(f: &mut Fields, h: &tcp::Header, m: &super::TcpMeta, bytes: &[u8]) {
    f.at(
        0..2,
        "srcport",
        Value::U(h.src_port.into()),
        "source port: the sending process's socket",
    );
    f.at(
        2..4,
        "dstport",
        Value::U(h.dst_port.into()),
        "destination port: the receiving process's socket",
    );
    if !m.quoted && m.stream != u32::MAX {
        f.add(
            "stream",
            Value::U(m.stream.into()),
            "index of this connection in the capture",
        );
    }
    f.add(
        "len",
        Value::U(m.len.into()),
        "bytes of data in this segment",
    );
    f.at(
        4..8,
        "seq",
        Value::U(m.rel_seq.into()),
        "sequence number relative to this side's first (its ISN is 0)",
    );
    f.at(
        4..8,
        "seq_raw",
        Value::U(h.seq.into()),
        "sequence number as sent: position of the first data byte in the sender's stream",
    );
    if m.len > 0 || h.flags.syn() || h.flags.fin() {
        let next = m
            .rel_seq
            .wrapping_add(m.len)
            .wrapping_add(u32::from(h.flags.syn() || h.flags.fin()));
        f.add(
            "nxtseq",
            Value::U(next.into()),
            "next sequence number this side will use (SYN and FIN count as one byte)",
        );
    }
    f.at(
        8..12,
        "ack",
        Value::U(m.rel_ack.into()),
        "acknowledgement number relative to the other side's first",
    );
    f.at(
        8..12,
        "ack_raw",
        Value::U(h.ack.into()),
        "acknowledgement number as sent: the next byte the sender expects (with ACK)",
    );
    f.at(
        12..13,
        "hdr_len",
        Value::U(h.header_len() as u64),
        format!(
            "header length: {} bytes (data offset {} × 4)",
            h.header_len(),
            h.data_offset
        ),
    );
    f.at(
        12..14,
        "flags",
        Value::Hex(h.flags.0.into(), 3),
        format!("control bits: {}", h.flags.names()),
    );
    f.at(
        12..14,
        "flags.str",
        Value::Str(format!("[{}]", h.flags.tcpdump().as_str())),
        "the flags as tcpdump prints them (S SYN, F FIN, R RST, P PUSH, . ACK)",
    );
    if let Some(p) = m.phase {
        f.add("phase", Value::Static(p.label()), phase_meaning(p));
    }
    f.at(
        14..16,
        "window",
        Value::U(h.window.into()),
        "receive window: bytes the sender can still take (before window scaling)",
    );
    let scaled = match m.window_shift {
        Some(shift) => (
            u64::from(h.window) << shift,
            Cow::Owned(format!(
                "calculated window: {} × 2^{shift} (window scale from the handshake) bytes",
                h.window
            )),
        ),
        None => (
            u64::from(h.window),
            Cow::Borrowed(
                "calculated window: not scaled (a SYN, or no handshake with window scale seen)",
            ),
        ),
    };
    f.at(14..16, "window_size", Value::U(scaled.0), scaled.1);
    f.at(
        16..18,
        "checksum",
        Value::Hex(h.checksum.into(), 4),
        "checksum over pseudo-header, header and data",
    );
    f.at(
        18..20,
        "urgent_pointer",
        Value::U(h.urgent.into()),
        "urgent pointer (with URG; almost never used)",
    );
    let o = &h.options;
    let end = h.header_len();
    if o.kind_count > 0 {
        f.at(
            20..end,
            "options",
            Value::List(
                o.kinds()
                    .iter()
                    .map(|&k| tcp::option_name(k).to_string())
                    .collect(),
            ),
            "TCP options, in order",
        );
    }
    // Where each option's value is in the captured bytes, `[from, to)` past its kind byte: a
    // snap length may cut the options after the first few, and those still show (as tshark
    // shows them), with no range.
    let mut opt = |kind: u8,
                   from: usize,
                   to: Option<usize>,
                   name: &'static str,
                   value: Value,
                   meaning: Cow<'static, str>| {
        match option_at(bytes, end, kind) {
            Some((i, e)) => f.at(i + from..to.map_or(e, |t| i + t), name, value, meaning),
            None => f.checked(end, Span::None, name, value, meaning),
        }
    };
    if let Some(mss) = o.mss {
        opt(
            2,
            2,
            Some(4),
            "options.mss_val",
            Value::U(mss.into()),
            "maximum segment size: the largest segment this side wants to receive".into(),
        );
    }
    if let Some(ws) = o.wscale {
        opt(
            3,
            2,
            Some(3),
            "options.wscale.shift",
            Value::U(ws.into()),
            format!(
                "window scale: later windows from this side are multiplied by {}",
                1u64 << ws.min(14)
            )
            .into(),
        );
    }
    if o.sack_permitted {
        // The option itself is the flag: its kind and length bytes, as Wireshark.
        opt(
            4,
            0,
            None,
            "options.sack_perm",
            Value::Bool(true),
            "SACK permitted: this side understands selective acknowledgements".into(),
        );
    }
    if o.sack_count > 0 {
        let blocks = o
            .sack_blocks()
            .iter()
            .map(|(l, r)| format!("{l}-{r}"))
            .collect();
        opt(
            5,
            2,
            None,
            "options.sack",
            Value::List(blocks),
            "SACK blocks: ranges received beyond the cumulative ack".into(),
        );
    }
    if let Some((val, ecr)) = o.timestamps {
        opt(
            8,
            2,
            Some(6),
            "options.timestamp.tsval",
            Value::U(val.into()),
            "timestamp value: the sender's clock, for RTT measurement".into(),
        );
        opt(
            8,
            6,
            Some(10),
            "options.timestamp.tsecr",
            Value::U(ecr.into()),
            "timestamp echo reply: the last TSval received from the other side".into(),
        );
    }
    if o.malformed {
        f.add(
            "options.malformed",
            Value::Bool(true),
            "an option's length does not fit the header",
        );
    }
}

fn phase_meaning(p: super::Phase) -> &'static str {
    use super::Phase::*;
    match p {
        Handshake1 => {
            "SYN: the client asks to open a connection and sends its initial sequence number"
        }
        Handshake2 => "SYN-ACK: the server agrees, acknowledges the client's SYN and sends its own",
        Handshake3 => "ACK: the client acknowledges the server's SYN; the connection is open",
        Fin1 => "FIN: this side has finished sending",
        Fin2 => "FIN: the other side has finished sending too",
        LastAck => "the last ACK: both FINs acknowledged, the connection is closed",
        Reset => "RST: the connection is aborted at once",
    }
}

fn status_meaning(code: u16) -> String {
    let class = match code / 100 {
        1 => "informational",
        2 => "success",
        3 => "redirection",
        4 => "client error",
        5 => "server error",
        _ => "unknown class",
    };
    if code == 101 {
        "status 101: switching protocols (e.g. to WebSocket) on this connection".into()
    } else {
        format!("status {code}: {class}")
    }
}

fn dns_fields(f: &mut Fields, m: &dns::Message) {
    if let Some(n) = m.tcp_length {
        f.at(
            0..2,
            "length",
            Value::U(n.into()),
            "over TCP: bytes of the DNS message that follows (RFC 1035 §4.2.2)",
        );
        f.base = 2;
    }
    f.at(
        0..2,
        "id",
        Value::Hex(m.id.into(), 4),
        "transaction ID: matches a response to its query",
    );
    f.at(
        2..4,
        "flags",
        Value::Hex(m.flags.into(), 4),
        "flags: response, opcode, authoritative, truncated, recursion, rcode",
    );
    f.at(
        2..4,
        "flags.response",
        Value::Bool(m.is_response()),
        if m.is_response() {
            "a response"
        } else {
            "a query"
        },
    );
    f.at(
        2..4,
        "flags.opcode",
        Value::U(m.opcode().into()),
        "opcode: 0 standard query",
    );
    f.at(
        2..4,
        "flags.recdesired",
        Value::Bool(m.rd()),
        "recursion desired: please resolve the name fully",
    );
    if m.is_response() {
        f.at(
            2..4,
            "flags.rcode",
            Value::U(m.rcode().into()),
            dns::rcode_name(m.rcode()),
        );
    }
    f.at(
        4..6,
        "count.queries",
        Value::U(m.qdcount.into()),
        "questions in the message",
    );
    f.at(
        6..8,
        "count.answers",
        Value::U(m.ancount.into()),
        "answer records",
    );
    f.at(
        8..10,
        "count.auth_rr",
        Value::U(m.nscount.into()),
        "authority records",
    );
    f.at(
        10..12,
        "count.add_rr",
        Value::U(m.arcount.into()),
        "additional records",
    );
    if !m.questions.is_empty() {
        f.each(
            m.questions.iter().map(|q| q.name_at),
            "qry.name",
            Value::List(m.questions.iter().map(|q| q.name.clone()).collect()),
            "the names asked about",
        );
        f.each(
            m.questions.iter().map(|q| (q.name_at.1, q.name_at.1 + 2)),
            "qry.type",
            Value::List(
                m.questions
                    .iter()
                    .map(|q| dns::type_name(q.qtype).to_string())
                    .collect(),
            ),
            "record types asked for",
        );
    }
    if !m.answers.is_empty() {
        f.each(
            m.answers.iter().map(|a| a.name_at),
            "resp.name",
            Value::List(m.answers.iter().map(|a| a.name.clone()).collect()),
            "the names answered",
        );
        f.each(
            m.answers.iter().map(|a| (a.name_at.1, a.name_at.1 + 2)),
            "resp.type",
            Value::List(
                m.answers
                    .iter()
                    .map(|a| dns::type_name(a.rtype).to_string())
                    .collect(),
            ),
            "answer record types",
        );
        f.each(
            m.answers.iter().map(|a| (a.name_at.1 + 4, a.name_at.1 + 8)),
            "resp.ttl",
            Value::List(m.answers.iter().map(|a| a.ttl.to_string()).collect()),
            "seconds each answer may be cached",
        );
        let data = m
            .answers
            .iter()
            .map(|a| match &a.data {
                dns::RData::A(ip) => ip.to_string(),
                dns::RData::Aaaa(ip) => ip.to_string(),
                dns::RData::Name(n) => n.clone(),
                dns::RData::Mx(p, n) => format!("{p} {n}"),
                dns::RData::Txt(t) => t.clone(),
                dns::RData::Other(n) => format!("{n} bytes"),
            })
            .collect();
        f.each(
            m.answers.iter().map(|a| (a.name_at.1 + 10, a.data_end)),
            "resp.data",
            Value::List(data),
            "what each answer says (an address, a name, text)",
        );
    }
}

fn ws_fields(f: &mut Fields, h: &websocket_frame::FrameHeader, bytes: &[u8]) {
    // The second byte holds the mask bit and the 7-bit length; 126 and 127 say a 16 or 64-bit
    // length follows, then the masking key.
    let key_at = h.header_len - if h.masked { 4 } else { 0 };
    f.at(
        0..1,
        "fin",
        Value::Bool(h.fin),
        "final fragment of a message",
    );
    f.at(
        0..1,
        "rsv",
        Value::U(h.rsv.into()),
        "reserved bits for extensions (RSV1: compressed)",
    );
    if h.rsv & 4 != 0 {
        f.at(
            0..1,
            "pmc",
            Value::Bool(true),
            "Per-Message Compressed: RSV1 on a message's first frame (permessage-deflate)",
        );
    }
    f.at(
        0..1,
        "opcode",
        Value::U(h.opcode.into()),
        format!("opcode: {}", OpCode::from(h.opcode).name()),
    );
    f.at(
        1..2,
        "mask",
        Value::Bool(h.masked),
        "masked: set on every client-to-server frame (RFC 6455 §5.3)",
    );
    f.at(
        1..key_at,
        "payload_length",
        Value::U(h.payload_len),
        "bytes of payload in this frame",
    );
    if let Some(k) = h.mask_key {
        f.at(
            key_at..h.header_len,
            "masking_key",
            Value::Str(hex::encode(k)),
            "the 4-byte key the client XORs the payload with",
        );
    }
    let payload = bytes.get(h.header_len..).unwrap_or(&[]);
    let mut clear = payload[..payload.len().min(256)].to_vec();
    if let Some(k) = h.mask_key {
        apply_mask(&mut clear, k, 0);
    }
    let mut text = String::new();
    match (h.opcode, std::str::from_utf8(&clear)) {
        (1, Ok(t)) => text.push_str(t),
        (8, _) if clear.len() >= 2 => {
            let code = u16::from_be_bytes([clear[0], clear[1]]);
            let _ = write!(
                text,
                "close code {code} {}",
                String::from_utf8_lossy(&clear[2..])
            );
        }
        _ => text.push_str(&hex::encode(&clear)),
    }
    f.at(
        h.header_len..h.header_len + clear.len(),
        "payload",
        Value::Str(text),
        "the payload, unmasked (text as text, anything else in hex; first 256 bytes)",
    );
}

fn pmce_fields(f: &mut Fields, i: &crate::dissect::pmce::Inflated) {
    f.add(
        "compressed_length",
        Value::U(i.compressed_len),
        "bytes of compressed payload in this frame",
    );
    f.add(
        "decompressed_length",
        Value::U(i.data.len() as u64),
        "bytes this frame's payload inflated to",
    );
    if i.fin {
        f.add(
            "message.compressed_length",
            Value::U(i.message_compressed),
            "bytes of the whole message on the wire (its payloads)",
        );
        f.add(
            "message.decompressed_length",
            Value::U(i.message_len),
            "bytes of the whole message once inflated",
        );
    }
    f.add(
        "max_window_bits",
        Value::U(i.window_bits.into()),
        "the sender's LZ77 window, at most 2^bits bytes (*_max_window_bits)",
    );
    f.add(
        "no_context_takeover",
        Value::Bool(i.no_context_takeover),
        "the sender resets its window after every message (*_no_context_takeover)",
    );
    if i.cut {
        f.add(
            "cut",
            Value::Bool(true),
            format!(
                "inflating stopped at the limit of {} bytes per message",
                crate::dissect::pmce::MAX_INFLATED
            ),
        );
    }
    if let Some(e) = &i.error {
        f.add(
            "decompression_failed",
            Value::Str(e.clone()),
            "why this frame could not be inflated",
        );
        return;
    }
    let shown = &i.data[..i.data.len().min(256)];
    match (i.opcode, std::str::from_utf8(shown)) {
        (1, Ok(t)) => f.add(
            "payload.text",
            Value::Str(t.to_string()),
            "the decompressed text (first 256 bytes)",
        ),
        _ => f.add(
            "payload",
            Value::Str(hex::encode(shown)),
            "the decompressed payload in hex (first 256 bytes)",
        ),
    }
}

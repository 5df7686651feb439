//! Bytes → layers. A captured frame is split into the headers it carries, outermost first;
//! each [`Layer`] knows its protocol, where it sits on the OSI and TCP/IP models, its byte range
//! in the frame, and (on demand, see [`Layer::fields`]) its fields with their meaning.
//!
//! ```text
//!  frame bytes: | ethernet 0..14 | ipv4 14..34 | tcp 34..66 | http 66..145 |
//!  OSI:              2               3             4             7
//!  TCP/IP:          link          internet     transport    application
//! ```
//!
//! Nothing here prints: `render::packet` turns layers into summary, detail, hex and JSON.
//! Parsing never panics; a header that is cut short or impossible becomes a layer with a
//! [`Layer::problem`], holding whatever fields could be read.

mod engine;
#[cfg(test)]
pub(crate) mod engine_test_frames;
pub mod fields;
pub mod filter;
pub mod follow;
pub mod hex_input;
pub mod pmce;
pub mod reassembly;
pub mod socketio;
pub mod stats;

use std::net::IpAddr;

pub use engine::Dissector;
pub use fields::{Field, Span, Value};

use crate::layers::TcpIpLayer;
use crate::wire::{
    arp, cooked, dns, ethernet, header_error::HeaderError, http_message, icmp, icmpv6, ipv4, ipv6,
    tcp, udp, vlan, vxlan, websocket_frame,
};

/// Where a capture's frames start: the link-layer header type (pcap LINKTYPE_ values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_LINUX_SLL (113): `tcpdump -i any`, v1.
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276): `tcpdump -i any`, v2.
    LinuxSll2,
    /// LINKTYPE_RAW (101, also DLT_RAW 12/14): an IPv4 or IPv6 packet, told apart by version.
    RawIp,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_NULL (0) and LINKTYPE_LOOP (108): BSD loopback.
    Null,
    /// Anything else: the whole frame is shown as payload.
    Other(u32),
}

impl LinkType {
    /// The link type for a pcap/pcapng LINKTYPE_ number.
    pub fn from_linktype(n: u32) -> LinkType {
        match n {
            1 => LinkType::Ethernet,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            12 | 14 | 101 => LinkType::RawIp,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            0 | 108 => LinkType::Null,
            n => LinkType::Other(n),
        }
    }

    /// The LINKTYPE_ number written into pcap files.
    pub fn to_linktype(self) -> u32 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
            LinkType::RawIp => 101,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
            LinkType::Null => 0,
            LinkType::Other(n) => n,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LinkType::Ethernet => "Ethernet",
            LinkType::LinuxSll => "Linux cooked capture v1",
            LinkType::LinuxSll2 => "Linux cooked capture v2",
            LinkType::RawIp => "raw IP",
            LinkType::Ipv4 => "raw IPv4",
            LinkType::Ipv6 => "raw IPv6",
            LinkType::Null => "BSD loopback",
            LinkType::Other(_) => "unsupported link type",
        }
    }
}

/// One captured frame's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// 1-based position in the capture.
    pub number: u64,
    /// Capture time: seconds since the Unix epoch.
    pub ts_sec: i64,
    /// Nanoseconds within the second.
    pub ts_nsec: u32,
    /// Digits of sub-second precision the capture records (6: µs, 9: ns).
    pub ts_digits: u8,
    /// Bytes captured (what is in the file).
    pub caplen: u32,
    /// Bytes on the wire (may be more, when the snap length cut the frame).
    pub len: u32,
    pub link: LinkType,
    /// pcapng interface the frame came from (0 for pcap).
    pub interface: u32,
}

/// A TCP segment's place in its connection, worked out from earlier segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpMeta {
    /// Index of the connection in the capture (Wireshark's `tcp.stream`).
    pub stream: u32,
    /// Segment data length from the IP lengths (not the captured bytes).
    pub len: u32,
    /// Sequence and acknowledgement numbers relative to each side's first sequence number.
    pub rel_seq: u32,
    pub rel_ack: u32,
    pub phase: Option<Phase>,
    /// Window scale shift of the sender, when the handshake was seen with the option on both
    /// sides.
    pub window_shift: Option<u8>,
    /// Quoted in an ICMP error: no connection state (relative numbers equal the raw ones).
    pub quoted: bool,
}

/// Where a segment sits in the connection's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// SYN: the client asks to open and sends its initial sequence number.
    Handshake1,
    /// SYN-ACK: the server agrees and sends its own.
    Handshake2,
    /// ACK of the SYN-ACK: the connection is open.
    Handshake3,
    /// The first FIN: one side has no more data to send.
    Fin1,
    /// The other side's FIN.
    Fin2,
    /// The ACK of the second FIN: the connection is closed.
    LastAck,
    /// RST: the connection is aborted.
    Reset,
}

impl Phase {
    /// The label in summary lines, e.g. "handshake 1/3".
    pub fn label(self) -> &'static str {
        match self {
            Phase::Handshake1 => "handshake 1/3",
            Phase::Handshake2 => "handshake 2/3",
            Phase::Handshake3 => "handshake 3/3",
            Phase::Fin1 => "teardown FIN 1/2",
            Phase::Fin2 => "teardown FIN 2/2",
            Phase::LastAck => "teardown last ACK",
            Phase::Reset => "reset",
        }
    }
}

/// What a layer is, with its parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proto {
    Ethernet(ethernet::Header),
    Sll(cooked::Sll),
    Null(cooked::Null),
    Vlan(vlan::Tag),
    /// A VXLAN header (RFC 7348): the layers after it are the inner frame it carries.
    Vxlan(vxlan::Header),
    Arp(arp::Packet),
    Ipv4(ipv4::Header),
    Ipv6(ipv6::Header),
    Ipv6Ext(ipv6::ExtHeader),
    Icmp(icmp::Header),
    Icmpv6(icmpv6::Message),
    Tcp(tcp::Header, TcpMeta),
    Udp(udp::Header),
    Dns(Box<dns::Message>),
    Http(Box<http_message::Message>),
    WebSocket(websocket_frame::FrameHeader),
    /// A compressed WebSocket frame inflated (permessage-deflate, RFC 7692).
    Pmce(Box<pmce::Inflated>),
    /// An Engine.IO packet (socket.io's session layer), in a polling body or WebSocket message.
    EngineIo(Box<socketio::EngineIoLayer>),
    /// A Socket.IO packet inside an Engine.IO message.
    SocketIo(Box<socketio::SocketIoLayer>),
    /// TCP payload the stream decoding did not decode in this frame: see [`SegmentRole`].
    Segment(SegmentRole),
    /// A message put together from several segments: its layers follow, with ranges in the
    /// packet's reassembled bytes ([`Packet::reassembled`]).
    Reassembled(Box<Reassembly>),
    /// Bytes no protocol above claims: application data, or what follows an unknown header.
    Data,
    /// A header that could not be read at all: its name and its OSI layer.
    Broken(&'static str, u8),
}

/// Why a segment's payload is not decoded in its own frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentRole {
    /// Part of a message that a later segment completes (tshark's "TCP segment of a
    /// reassembled PDU").
    Part,
    /// Bytes already seen in an earlier segment.
    Retransmission,
    /// Ahead of bytes not seen yet: held until they come.
    OutOfOrder,
    /// Bytes before this segment were never captured, and are no longer waited for (tshark's
    /// "previous segment not captured"): the message they belonged to is lost. The layer is
    /// empty (its range has no bytes).
    AfterGap { missing: u64 },
}

impl SegmentRole {
    pub fn label(self) -> &'static str {
        match self {
            SegmentRole::Part => "TCP segment of a reassembled message",
            SegmentRole::Retransmission => "TCP retransmission: bytes seen before",
            SegmentRole::OutOfOrder => "TCP out of order: held until the bytes before it come",
            SegmentRole::AfterGap { .. } => "TCP previous segment not captured",
        }
    }
}

/// Where a reassembled message's bytes came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembly {
    /// Each frame that carried part of it, and how many bytes it gave, in stream order; past
    /// 4096 entries the last one stands for the rest (its frame is the last).
    pub segments: Vec<(u64, u32)>,
    /// Segments that carried it.
    pub count: usize,
    pub length: usize,
}

/// One layer of a dissected frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub proto: Proto,
    /// Byte range of this layer's header (for `Data`, of the payload) within the frame.
    pub start: usize,
    pub end: usize,
    /// Header bytes actually captured (less than the header's length when truncated).
    pub captured: usize,
    /// Why the layer is incomplete or impossible, if it is.
    pub problem: Option<HeaderError>,
    /// Part of the packet an ICMP error message quotes (the header of the packet that caused
    /// the error), not of this packet itself.
    pub quoted: bool,
    /// How many tunnels (VXLAN) this layer is inside: 0 for the frame's own headers, 1 for
    /// the frame a VXLAN header carries, and so on.
    pub inner: u8,
    /// The range is in the packet's reassembled bytes, not in the frame: this layer was
    /// decoded from a message that several segments carried.
    pub reassembled: bool,
}

impl Layer {
    /// The short name used in JSON and filters, following Wireshark where it has one.
    pub fn name(&self) -> &'static str {
        match &self.proto {
            Proto::Ethernet(_) => "eth",
            Proto::Sll(s) if s.version == 2 => "sll2",
            Proto::Sll(_) => "sll",
            Proto::Null(_) => "null",
            Proto::Vlan(_) => "vlan",
            Proto::Vxlan(_) => "vxlan",
            Proto::Arp(_) => "arp",
            Proto::Ipv4(_) => "ipv4",
            Proto::Ipv6(_) => "ipv6",
            Proto::Ipv6Ext(e) => ipv6::ext_name(e.kind),
            Proto::Icmp(_) => "icmp",
            Proto::Icmpv6(_) => "icmpv6",
            Proto::Tcp(..) => "tcp",
            Proto::Udp(_) => "udp",
            Proto::Dns(_) => "dns",
            Proto::Http(_) => "http",
            Proto::WebSocket(_) => "websocket",
            Proto::Pmce(_) => "pmce",
            Proto::EngineIo(_) => "engineio",
            Proto::SocketIo(_) => "socketio",
            Proto::Segment(_) => "segment",
            Proto::Reassembled(_) => "reassembled",
            Proto::Data => "data",
            Proto::Broken(n, _) => n,
        }
    }

    /// The protocol's full name, as the detail view heads it.
    pub fn title(&self) -> &'static str {
        match &self.proto {
            Proto::Ethernet(_) => "Ethernet II",
            Proto::Sll(s) if s.version == 2 => "Linux cooked capture v2",
            Proto::Sll(_) => "Linux cooked capture v1",
            Proto::Null(_) => "BSD loopback",
            Proto::Vlan(_) => "802.1Q Virtual LAN",
            Proto::Vxlan(_) => "Virtual eXtensible Local Area Network",
            Proto::Arp(_) => "Address Resolution Protocol",
            Proto::Ipv4(_) => "Internet Protocol version 4",
            Proto::Ipv6(_) => "Internet Protocol version 6",
            Proto::Ipv6Ext(e) => match e.kind {
                0 => "IPv6 hop-by-hop options",
                43 => "IPv6 routing header",
                44 => "IPv6 fragment header",
                _ => "IPv6 destination options",
            },
            Proto::Icmp(_) => "Internet Control Message Protocol",
            Proto::Icmpv6(_) => "Internet Control Message Protocol v6",
            Proto::Tcp(..) => "Transmission Control Protocol",
            Proto::Udp(_) => "User Datagram Protocol",
            Proto::Dns(_) => "Domain Name System",
            Proto::Http(_) => "Hypertext Transfer Protocol",
            Proto::WebSocket(_) => "WebSocket",
            Proto::Pmce(_) => "WebSocket per-message deflate (decompressed)",
            Proto::EngineIo(_) => "Engine.IO v4",
            Proto::SocketIo(_) => "Socket.IO v5",
            Proto::Segment(r) => r.label(),
            Proto::Reassembled(_) => "Reassembled TCP stream bytes",
            Proto::Data => "Data (payload)",
            Proto::Broken(..) => "Unreadable header",
        }
    }

    /// OSI layer number (1–7).
    pub fn osi(&self) -> u8 {
        match &self.proto {
            Proto::Ethernet(_)
            | Proto::Sll(_)
            | Proto::Null(_)
            | Proto::Vlan(_)
            | Proto::Arp(_) => 2,
            Proto::Ipv4(_)
            | Proto::Ipv6(_)
            | Proto::Ipv6Ext(_)
            | Proto::Icmp(_)
            | Proto::Icmpv6(_) => 3,
            // Bytes of TCP's stream: held or put together by the transport layer.
            Proto::Tcp(..) | Proto::Udp(_) | Proto::Segment(_) | Proto::Reassembled(_) => 4,
            // A tunnel header on top of UDP: wirelab counts it with the application layer
            // (it is UDP's payload), as it does DNS.
            Proto::Vxlan(_) => 7,
            // Compression is an encoding of the application's bytes: presentation.
            Proto::Pmce(_) => 6,
            Proto::Dns(_)
            | Proto::Http(_)
            | Proto::WebSocket(_)
            | Proto::EngineIo(_)
            | Proto::SocketIo(_)
            | Proto::Data => 7,
            Proto::Broken(_, n) => *n,
        }
    }

    /// OSI layer name.
    pub fn osi_name(&self) -> &'static str {
        crate::layers::osi(self.osi()).map_or("unknown", |l| l.name)
    }

    /// TCP/IP (RFC 1122) layer.
    pub fn tcpip(&self) -> TcpIpLayer {
        crate::layers::osi(self.osi()).map_or(TcpIpLayer::Application, |l| l.tcpip)
    }

    /// The layer's fields, each with its meaning. Allocates: call it only to show them.
    pub fn fields(&self, frame: &[u8]) -> Vec<Field> {
        fields::of(self, frame)
    }
}

/// One dissected frame: its metadata, bytes and layers.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub info: &'a FrameInfo,
    pub data: &'a [u8],
    pub layers: &'a [Layer],
    /// Messages this frame completed, put together from several segments: the bytes that the
    /// ranges of layers marked `reassembled` index (empty when there are none).
    pub reassembled: &'a [u8],
}

impl<'a> Packet<'a> {
    /// The bytes `l`'s range indexes: the frame, or the reassembled messages.
    pub fn bytes_of(&self, l: &Layer) -> &'a [u8] {
        if l.reassembled {
            self.reassembled
        } else {
            self.data
        }
    }

    /// The layer's fields (see [`Layer::fields`]), read from the bytes its range indexes.
    pub fn fields_of(&self, l: &Layer) -> Vec<Field> {
        l.fields(self.bytes_of(l))
    }

    /// The first layer with this name.
    pub fn layer(&self, name: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.name() == name)
    }

    /// The protocol stack as tshark's `frame.protocols` names it, one name at a time, outermost
    /// first: `eth`, `ethertype`, `ip`, `tcp`, `http` (joined with `:` it is tshark's string).
    /// An EtherType is its own entry after each header that carries one (Ethernet, Linux
    /// cooked, VLAN tags); layers tshark has no dissector for (pmce, engineio, socketio) are
    /// left out. Allocates nothing.
    pub fn protocols(&self, mut each: impl FnMut(&'static str)) {
        if matches!(
            self.info.link,
            LinkType::RawIp | LinkType::Ipv4 | LinkType::Ipv6
        ) {
            each("raw");
        }
        // The EtherType that announced the next tag (0x88a8: 802.1ad, tshark's ieee8021ad).
        let mut announced = 0u16;
        let (mut websocket, mut icmpv6_body, mut prev_icmpv6) = (false, false, false);
        for l in self.layers {
            match &l.proto {
                Proto::Ethernet(h) => {
                    each("eth");
                    if !h.is_length() {
                        each("ethertype");
                    }
                    announced = h.ethertype;
                }
                Proto::Sll(s) => {
                    each("sll");
                    each("ethertype");
                    announced = s.protocol;
                }
                Proto::Vlan(t) => {
                    each(if announced == ethernet::ethertype::QINQ {
                        "ieee8021ad"
                    } else {
                        "vlan"
                    });
                    each("ethertype");
                    announced = t.ethertype;
                }
                Proto::Ipv4(_) => each("ip"),
                // tshark's WebSocket dissector runs under HTTP's (the upgraded connection).
                Proto::WebSocket(_) if !websocket => {
                    websocket = true;
                    each("http");
                    each("websocket");
                }
                Proto::WebSocket(_) => {}
                Proto::Icmpv6(m) => {
                    each("icmpv6");
                    // tshark's ICMPv6 dissector reads the whole message; only an echo's body
                    // is data.
                    icmpv6_body = m.echo.is_some();
                }
                Proto::Data if !icmpv6_body && prev_icmpv6 => {}
                Proto::Pmce(_)
                | Proto::EngineIo(_)
                | Proto::SocketIo(_)
                | Proto::Segment(_)
                | Proto::Reassembled(_) => {}
                _ => each(l.name()),
            }
            prev_icmpv6 = matches!(l.proto, Proto::Icmpv6(_));
        }
    }

    /// Network-layer source and destination, from the outermost IP header.
    pub fn ip_addrs(&self) -> Option<(IpAddr, IpAddr)> {
        self.layers.iter().find_map(|l| match &l.proto {
            Proto::Ipv4(h) => Some((IpAddr::V4(h.src), IpAddr::V4(h.dst))),
            Proto::Ipv6(h) => Some((IpAddr::V6(h.src), IpAddr::V6(h.dst))),
            _ => None,
        })
    }

    /// Addresses of the IP header that carries this packet's TCP segment: the inner one in a
    /// tunnel (VXLAN), as tshark's `follow` shows them.
    pub fn tcp_ip_addrs(&self) -> Option<(IpAddr, IpAddr)> {
        let tcp = self
            .layers
            .iter()
            .position(|l| !l.quoted && matches!(l.proto, Proto::Tcp(..)))?;
        self.layers[..tcp]
            .iter()
            .rev()
            .find_map(|l| match &l.proto {
                Proto::Ipv4(h) => Some((IpAddr::V4(h.src), IpAddr::V4(h.dst))),
                Proto::Ipv6(h) => Some((IpAddr::V6(h.src), IpAddr::V6(h.dst))),
                _ => None,
            })
    }

    /// Transport ports (TCP or UDP) of this packet (not of one an ICMP error quotes).
    pub fn ports(&self) -> Option<(u16, u16)> {
        self.layers
            .iter()
            .filter(|l| !l.quoted)
            .find_map(|l| match &l.proto {
                Proto::Tcp(h, _) => Some((h.src_port, h.dst_port)),
                Proto::Udp(h) => Some((h.src_port, h.dst_port)),
                _ => None,
            })
    }
}

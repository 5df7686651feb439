//! Filters in tcpdump's language (pcap-filter(7)), written by hand so that wirelab builds
//! without libpcap: the expression is parsed into a tree once and evaluated on each frame's
//! bytes the way libpcap's compiled BPF program would, offsets and all.
//!
//! ```text
//! expr     := term (("and" | "&&" | "or" | "||") term)*     and/or: equal precedence, left first
//! term     := ("not" | "!") term | "(" expr ")" | relation | primitive | ID (last qualifiers)
//! primitive:= [proto] [dir] [type] ID          tcp dst port 80, src 10.0.0.1, net 10.0.0.0/8
//!           | proto                             ip ip6 arp rarp tcp udp icmp icmp6 sctp igmp
//!           | vlan [ID] | len/greater/less N | ip proto N | ether proto N | ... broadcast/multicast
//!           | wirelab's layer names             dns http websocket (decoded layers, not bytes)
//! relation := arith (">" | "<" | ">=" | "<=" | "=" | "==" | "!=") arith
//! arith    := NUM | len | PROTO "[" arith [":" 1|2|4] "]" | arith OP arith | "-" arith | "(" arith ")"
//! ```
//!
//! As in libpcap, `vlan` moves the offsets of everything parsed after it by 4 bytes, a byte
//! test implies its protocol (`tcp[13]` is false on UDP), and a load past the captured bytes
//! rejects the packet.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{LinkType, Packet, Proto};

/// Decoded-layer names wirelab accepts beside tcpdump's primitives: true when the frame has a
/// layer of that name. Other decoders (e.g. socket.io) add their layer names here.
pub const LAYER_PRIMITIVES: &[&str] = &[
    "eth",
    "sll",
    "sll2",
    "null",
    "dns",
    "http",
    "websocket",
    "ws",
    "engineio",
    "socketio",
    "pmce",
    "data",
];

/// Why a filter expression could not be read: the token and its column (1-based).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad filter '{expr}': column {column}: {reason}")]
pub struct FilterError {
    pub expr: String,
    pub column: usize,
    pub reason: String,
}

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    root: Node,
}

impl Filter {
    pub fn parse(expr: &str) -> Result<Filter, FilterError> {
        let tokens = lex(expr)?;
        let mut p = Parser {
            t: &tokens,
            i: 0,
            expr,
            shift: 0,
            last: None,
        };
        if tokens.is_empty() {
            return Err(p.err_at(1, "the expression is empty".into()));
        }
        let root = p.expr()?;
        if let Some(t) = p.peek() {
            return Err(p.err_tok(t, "unexpected after a complete expression"));
        }
        Ok(Filter { root })
    }

    /// Does the packet match?
    pub fn matches(&self, p: &Packet) -> bool {
        let c = Ctx {
            data: p.data,
            len: p.info.len,
            link: p.info.link,
            p,
        };
        // A load past the captured bytes rejects the packet, as in BPF.
        self.root.eval(&c).unwrap_or(false)
    }
}

// ---------------------------------------------------------------------------------------------
// The tree and its evaluation

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// src or dst (the default)
    Any,
    /// src and dst
    Both,
    Src,
    Dst,
}

/// What the link layer says the network layer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    Ip,
    Ip6,
    Arp,
    Rarp,
}

const TCP: u8 = 6;
const UDP: u8 = 17;
const SCTP: u8 = 132;
const ICMP: u8 = 1;
const ICMP6: u8 = 58;
const IGMP: u8 = 2;
const FRAGMENT6: u8 = 44;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    /// Link layer carries this network protocol; `shift`: bytes of VLAN tags before it.
    Link(Net, usize),
    EtherType(u16, usize),
    Vlan(Option<u16>, usize),
    /// IP protocol number, in IPv4 and/or IPv6 (after at most one fragment header).
    IpProto {
        proto: u8,
        v4: bool,
        v6: bool,
        shift: usize,
    },
    Host4 {
        dir: Dir,
        net: u32,
        mask: u32,
        ip: bool,
        arp: bool,
        rarp: bool,
        shift: usize,
    },
    Host6 {
        dir: Dir,
        net: [u8; 16],
        mask: [u8; 16],
        shift: usize,
    },
    Ether(Dir, [u8; 6]),
    EtherBroadcast,
    EtherMulticast,
    IpMulticast(usize),
    Ip6Multicast(usize),
    Port {
        dir: Dir,
        lo: u16,
        hi: u16,
        protos: Vec<u8>,
        v4: bool,
        v6: bool,
        shift: usize,
    },
    Rel(RelOp, Arith, Arith),
    Layer(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RelOp {
    Gt,
    Lt,
    Ge,
    Le,
    Eq,
    Ne,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

/// Where a byte test's offset counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    Link,
    Net(Net),
    /// The transport header inside IPv4 (libpcap's `tcp[]`, `udp[]`, `icmp[]`...).
    Transport4(u8),
    /// The header after the fixed IPv6 header (`icmp6[]`).
    Transport6(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Arith {
    Num(u32),
    Len,
    Load {
        base: Base,
        off: Box<Arith>,
        size: u8,
        shift: usize,
    },
    Bin(BinOp, Box<Arith>, Box<Arith>),
    Neg(Box<Arith>),
}

/// A load past the captured bytes (or a division by zero): the packet is rejected.
struct Reject;

struct Ctx<'a> {
    data: &'a [u8],
    len: u32,
    link: LinkType,
    p: &'a Packet<'a>,
}

impl Ctx<'_> {
    fn u8(&self, at: usize) -> Result<u8, Reject> {
        self.data.get(at).copied().ok_or(Reject)
    }
    fn u16(&self, at: usize) -> Result<u16, Reject> {
        match self.data.get(at..at + 2) {
            Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
            None => Err(Reject),
        }
    }
    fn u32(&self, at: usize) -> Result<u32, Reject> {
        match self.data.get(at..at + 4) {
            Some(b) => Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            None => Err(Reject),
        }
    }
    fn bytes(&self, at: usize, n: usize) -> Result<&[u8], Reject> {
        self.data.get(at..at + n).ok_or(Reject)
    }

    /// Offset of the network-layer header.
    fn nl(&self, shift: usize) -> usize {
        match self.link {
            LinkType::Ethernet => 14 + shift,
            LinkType::LinuxSll => 16,
            LinkType::LinuxSll2 => 20,
            LinkType::Null => 4,
            LinkType::RawIp | LinkType::Ipv4 | LinkType::Ipv6 | LinkType::Other(_) => 0,
        }
    }

    /// The link layer's protocol type field (an EtherType), where there is one.
    fn ethertype(&self, shift: usize) -> Result<Option<u16>, Reject> {
        Ok(match self.link {
            LinkType::Ethernet => Some(self.u16(12 + shift)?),
            LinkType::LinuxSll => Some(self.u16(14)?),
            LinkType::LinuxSll2 => Some(self.u16(0)?),
            _ => None,
        })
    }

    fn is(&self, net: Net, shift: usize) -> Result<bool, Reject> {
        let want = match net {
            Net::Ip => 0x0800,
            Net::Ip6 => 0x86dd,
            Net::Arp => 0x0806,
            Net::Rarp => 0x8035,
        };
        if let Some(t) = self.ethertype(shift)? {
            return Ok(t == want);
        }
        Ok(match (self.link, net) {
            (LinkType::RawIp, Net::Ip) => self.u8(0)? & 0xf0 == 0x40,
            (LinkType::RawIp, Net::Ip6) => self.u8(0)? & 0xf0 == 0x60,
            (LinkType::Ipv4, Net::Ip) | (LinkType::Ipv6, Net::Ip6) => true,
            (LinkType::Null, Net::Ip) => self.null_family()? == 2,
            (LinkType::Null, Net::Ip6) => matches!(self.null_family()?, 10 | 24 | 28 | 30),
            _ => false,
        })
    }

    /// BSD loopback's address family, in the byte order of the machine that wrote it.
    fn null_family(&self) -> Result<u32, Reject> {
        let b = self.bytes(0, 4)?;
        let le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        Ok(if le > 0xffff { le.swap_bytes() } else { le })
    }

    /// IPv4, protocol `p`, first fragment: the transport header's offset.
    fn transport4(&self, p: u8, shift: usize) -> Result<Option<usize>, Reject> {
        let nl = self.nl(shift);
        if !self.is(Net::Ip, shift)? || self.u8(nl + 9)? != p {
            return Ok(None);
        }
        if self.u16(nl + 6)? & 0x1fff != 0 {
            return Ok(None);
        }
        Ok(Some(nl + 4 * usize::from(self.u8(nl)? & 0x0f)))
    }
}

fn dir_match(dir: Dir, src: bool, dst: bool) -> bool {
    match dir {
        Dir::Any => src || dst,
        Dir::Both => src && dst,
        Dir::Src => src,
        Dir::Dst => dst,
    }
}

impl Node {
    fn eval(&self, c: &Ctx) -> Result<bool, Reject> {
        Ok(match self {
            Node::And(a, b) => a.eval(c)? && b.eval(c)?,
            Node::Or(a, b) => a.eval(c)? || b.eval(c)?,
            Node::Not(a) => !a.eval(c)?,
            Node::Link(net, shift) => c.is(*net, *shift)?,
            Node::EtherType(t, shift) => c.ethertype(*shift)? == Some(*t),
            Node::Vlan(id, shift) => {
                if c.link != LinkType::Ethernet {
                    return Ok(false);
                }
                let t = c.u16(12 + shift)?;
                if !matches!(t, 0x8100 | 0x88a8 | 0x9100) {
                    return Ok(false);
                }
                match id {
                    Some(id) => c.u16(14 + shift)? & 0x0fff == *id,
                    None => true,
                }
            }
            Node::IpProto {
                proto,
                v4,
                v6,
                shift,
            } => {
                let nl = c.nl(*shift);
                (*v4 && c.is(Net::Ip, *shift)? && c.u8(nl + 9)? == *proto)
                    || (*v6 && c.is(Net::Ip6, *shift)? && {
                        let nh = c.u8(nl + 6)?;
                        nh == *proto || (nh == FRAGMENT6 && c.u8(nl + 40)? == *proto)
                    })
            }
            Node::Host4 {
                dir,
                net,
                mask,
                ip,
                arp,
                rarp,
                shift,
            } => {
                let nl = c.nl(*shift);
                let m = |at: usize| -> Result<bool, Reject> { Ok(c.u32(at)? & mask == *net) };
                let test = |src: usize, dst: usize| -> Result<bool, Reject> {
                    Ok(match dir {
                        Dir::Any => m(src)? || m(dst)?,
                        Dir::Both => m(src)? && m(dst)?,
                        Dir::Src => m(src)?,
                        Dir::Dst => m(dst)?,
                    })
                };
                (*ip && c.is(Net::Ip, *shift)? && test(nl + 12, nl + 16)?)
                    || (*arp && c.is(Net::Arp, *shift)? && test(nl + 14, nl + 24)?)
                    || (*rarp && c.is(Net::Rarp, *shift)? && test(nl + 14, nl + 24)?)
            }
            Node::Host6 {
                dir,
                net,
                mask,
                shift,
            } => {
                if !c.is(Net::Ip6, *shift)? {
                    return Ok(false);
                }
                let nl = c.nl(*shift);
                let m = |at: usize| -> Result<bool, Reject> {
                    let b = c.bytes(at, 16)?;
                    Ok(b.iter().zip(mask).zip(net).all(|((b, m), n)| b & m == *n))
                };
                match dir {
                    Dir::Any => m(nl + 8)? || m(nl + 24)?,
                    Dir::Both => m(nl + 8)? && m(nl + 24)?,
                    Dir::Src => m(nl + 8)?,
                    Dir::Dst => m(nl + 24)?,
                }
            }
            Node::Ether(dir, mac) => {
                if c.link != LinkType::Ethernet {
                    return Ok(false);
                }
                let src = c.bytes(6, 6)? == mac;
                let dst = c.bytes(0, 6)? == mac;
                dir_match(*dir, src, dst)
            }
            Node::EtherBroadcast => c.link == LinkType::Ethernet && c.bytes(0, 6)? == [0xff; 6],
            Node::EtherMulticast => c.link == LinkType::Ethernet && c.u8(0)? & 1 == 1,
            Node::IpMulticast(shift) => c.is(Net::Ip, *shift)? && c.u8(c.nl(*shift) + 16)? >= 224,
            Node::Ip6Multicast(shift) => {
                c.is(Net::Ip6, *shift)? && c.u8(c.nl(*shift) + 24)? == 0xff
            }
            Node::Port {
                dir,
                lo,
                hi,
                protos,
                v4,
                v6,
                shift,
            } => {
                let in_range = |at: usize| -> Result<bool, Reject> {
                    let p = c.u16(at)?;
                    Ok(p >= *lo && p <= *hi)
                };
                let test = |at: usize| -> Result<bool, Reject> {
                    Ok(match dir {
                        Dir::Any => in_range(at)? || in_range(at + 2)?,
                        Dir::Both => in_range(at)? && in_range(at + 2)?,
                        Dir::Src => in_range(at)?,
                        Dir::Dst => in_range(at + 2)?,
                    })
                };
                let nl = c.nl(*shift);
                for &p in protos {
                    if *v4 {
                        if let Some(at) = c.transport4(p, *shift)? {
                            if test(at)? {
                                return Ok(true);
                            }
                        }
                    }
                    if *v6 && c.is(Net::Ip6, *shift)? && c.u8(nl + 6)? == p && test(nl + 40)? {
                        return Ok(true);
                    }
                }
                false
            }
            Node::Rel(op, a, b) => {
                if !(a.checks(c)? && b.checks(c)?) {
                    return Ok(false);
                }
                let (x, y) = (a.value(c)?, b.value(c)?);
                match op {
                    RelOp::Gt => x > y,
                    RelOp::Lt => x < y,
                    RelOp::Ge => x >= y,
                    RelOp::Le => x <= y,
                    RelOp::Eq => x == y,
                    RelOp::Ne => x != y,
                }
            }
            Node::Layer(name) => {
                c.p.layers
                    .iter()
                    .any(|l| layer_is(name, &l.proto, l.name()))
            }
        })
    }
}

fn layer_is(name: &str, proto: &Proto, layer_name: &str) -> bool {
    match name {
        "ws" | "websocket" => matches!(proto, Proto::WebSocket(_)),
        "sll" => layer_name == "sll" || layer_name == "sll2",
        other => layer_name == other,
    }
}

/// libpcap's byte tests carry their protocol check (`tcp[13]` implies IPv4 TCP, first
/// fragment) into the comparison, but an arithmetic operator keeps only its left operand's
/// checks (`gen_arth` returns the left side): `ip[2:2] - tcp[12]` is tested on UDP too, and the
/// right side then reads where the TCP header would be. wirelab does the same, so that the
/// frames selected are the ones tcpdump selects.
impl Arith {
    /// The checks that survive into the comparison; evaluated before any value is loaded.
    fn checks(&self, c: &Ctx) -> Result<bool, Reject> {
        Ok(match self {
            Arith::Num(_) | Arith::Len => true,
            Arith::Load {
                base, off, shift, ..
            } => {
                off.checks(c)?
                    && match base {
                        Base::Link => true,
                        Base::Net(net) => c.is(*net, *shift)?,
                        Base::Transport4(p) => c.transport4(*p, *shift)?.is_some(),
                        Base::Transport6(p) => {
                            c.is(Net::Ip6, *shift)? && c.u8(c.nl(*shift) + 6)? == *p
                        }
                    }
            }
            Arith::Bin(_, a, _) => a.checks(c)?,
            Arith::Neg(a) => a.checks(c)?,
        })
    }

    /// The value, loading where each header would be (checks are [`Arith::checks`]'s).
    fn value(&self, c: &Ctx) -> Result<u32, Reject> {
        Ok(match self {
            Arith::Num(n) => *n,
            Arith::Len => c.len,
            Arith::Load {
                base,
                off,
                size,
                shift,
            } => {
                let nl = c.nl(*shift);
                let start = match base {
                    Base::Link => 0,
                    Base::Net(_) => nl,
                    Base::Transport4(_) => nl + 4 * usize::from(c.u8(nl)? & 0x0f),
                    Base::Transport6(_) => nl + 40,
                };
                let at = start + off.value(c)? as usize;
                match size {
                    1 => u32::from(c.u8(at)?),
                    2 => u32::from(c.u16(at)?),
                    _ => c.u32(at)?,
                }
            }
            Arith::Bin(op, a, b) => {
                let (x, y) = (a.value(c)?, b.value(c)?);
                match op {
                    BinOp::Add => x.wrapping_add(y),
                    BinOp::Sub => x.wrapping_sub(y),
                    BinOp::Mul => x.wrapping_mul(y),
                    BinOp::Div => x.checked_div(y).ok_or(Reject)?,
                    BinOp::Mod => x.checked_rem(y).ok_or(Reject)?,
                    BinOp::And => x & y,
                    BinOp::Or => x | y,
                    BinOp::Xor => x ^ y,
                    BinOp::Shl => x.checked_shl(y).unwrap_or(0),
                    BinOp::Shr => x.checked_shr(y).unwrap_or(0),
                }
            }
            Arith::Neg(a) => a.value(c)?.wrapping_neg(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, PartialEq, Eq)]
struct Tok {
    text: String,
    /// 1-based column of the first character.
    col: usize,
}

fn lex(expr: &str) -> Result<Vec<Tok>, FilterError> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut depth = 0usize;
    let word_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '\\');
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let op = match two.as_str() {
            "&&" | "||" | "<<" | ">>" | ">=" | "<=" | "==" | "!=" => Some(two.clone()),
            _ => None,
        };
        if let Some(op) = op {
            out.push(Tok { text: op, col });
            i += 2;
            continue;
        }
        if word_char(c) || (c == ':' && depth == 0) {
            let start = i;
            while i < chars.len() {
                let ch = chars[i];
                let next_word = chars.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric());
                let so_far: String = chars[start..i].iter().collect();
                let addrish = so_far.contains('.') || so_far.contains(':');
                if word_char(ch)
                    || (ch == ':' && depth == 0)
                    || (ch == '-' && i > start && next_word)
                    || (ch == '/' && addrish)
                {
                    i += 1;
                } else {
                    break;
                }
            }
            out.push(Tok {
                text: chars[start..i].iter().collect(),
                col,
            });
            continue;
        }
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '(' | ')' | ':' | '+' | '-' | '*' | '/' | '%' | '&' | '|' | '^' | '<' | '>' | '='
            | '!' => {}
            _ => {
                return Err(FilterError {
                    expr: expr.to_string(),
                    column: col,
                    reason: format!("'{c}' is not part of the filter language"),
                })
            }
        }
        out.push(Tok {
            text: c.to_string(),
            col,
        });
        i += 1;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Qualifiers of a primitive: `tcp dst port`, remembered so that `port 80 or 443` repeats them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quals {
    proto: Option<&'static str>,
    dir: Dir,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Host,
    Net,
    Port,
    PortRange,
}

/// Protocol qualifiers (and bare protocol primitives) tcpdump knows.
const PROTOS: &[&str] = &[
    "ether", "ip", "ip6", "arp", "rarp", "tcp", "udp", "icmp", "icmp6", "sctp", "igmp", "link",
];

/// Names for ports (a few of /etc/services), as `port http` uses them.
const SERVICES: &[(&str, u16)] = &[
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("bootps", 67),
    ("bootpc", 68),
    ("tftp", 69),
    ("http", 80),
    ("www", 80),
    ("pop3", 110),
    ("ntp", 123),
    ("imap", 143),
    ("imap2", 143),
    ("snmp", 161),
    ("bgp", 179),
    ("ldap", 389),
    ("https", 443),
    ("submission", 587),
    ("imaps", 993),
    ("pop3s", 995),
    ("mysql", 3306),
    ("postgresql", 5432),
    ("mdns", 5353),
    ("redis", 6379),
    ("http-alt", 8080),
];

/// Named constants for byte tests.
const CONSTANTS: &[(&str, u32)] = &[
    ("tcpflags", 13),
    ("tcp-fin", 0x01),
    ("tcp-syn", 0x02),
    ("tcp-rst", 0x04),
    ("tcp-push", 0x08),
    ("tcp-ack", 0x10),
    ("tcp-urg", 0x20),
    ("tcp-ece", 0x40),
    ("tcp-cwr", 0x80),
    ("icmptype", 0),
    ("icmpcode", 1),
    ("icmp-echoreply", 0),
    ("icmp-unreach", 3),
    ("icmp-sourcequench", 4),
    ("icmp-redirect", 5),
    ("icmp-echo", 8),
    ("icmp-routeradvert", 9),
    ("icmp-routersolicit", 10),
    ("icmp-timxceed", 11),
    ("icmp-paramprob", 12),
    ("icmp-tstamp", 13),
    ("icmp-tstampreply", 14),
    ("icmp-ireq", 15),
    ("icmp-ireqreply", 16),
    ("icmp-maskreq", 17),
    ("icmp-maskreply", 18),
    ("icmp6type", 0),
    ("icmp6code", 1),
    ("icmp6-destinationunreach", 1),
    ("icmp6-packettoobig", 2),
    ("icmp6-timeexceeded", 3),
    ("icmp6-parameterproblem", 4),
    ("icmp6-echo", 128),
    ("icmp6-echoreply", 129),
    ("icmp6-multicastlistenerquery", 130),
    ("icmp6-multicastlistenerreportv1", 131),
    ("icmp6-multicastlistenerdone", 132),
    ("icmp6-routersolicit", 133),
    ("icmp6-routeradvert", 134),
    ("icmp6-neighborsolicit", 135),
    ("icmp6-neighboradvert", 136),
    ("icmp6-redirect", 137),
];

/// wirelab's older names for tcpdump's protocols.
fn alias(word: &str) -> &str {
    match word {
        "ipv4" => "ip",
        "ipv6" => "ip6",
        "icmpv6" => "icmp6",
        w => w,
    }
}

struct Parser<'a> {
    t: &'a [Tok],
    i: usize,
    expr: &'a str,
    /// Bytes of VLAN tags the primitives parsed so far stepped over (libpcap's offset change).
    shift: usize,
    /// The qualifiers of the last primitive with an ID, for `host a or b`.
    last: Option<Quals>,
}

type PResult<T> = Result<T, FilterError>;

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Tok> {
        self.t.get(self.i)
    }
    fn peek_is(&self, s: &str) -> bool {
        self.peek().is_some_and(|t| t.text.eq_ignore_ascii_case(s))
    }
    fn peek_at(&self, n: usize) -> Option<&'a str> {
        self.t.get(self.i + n).map(|t| t.text.as_str())
    }
    fn next(&mut self) -> Option<&'a Tok> {
        let t = self.t.get(self.i);
        self.i += 1;
        t
    }
    fn end_col(&self) -> usize {
        self.expr.chars().count() + 1
    }
    fn err_at(&self, column: usize, reason: String) -> FilterError {
        FilterError {
            expr: self.expr.to_string(),
            column,
            reason,
        }
    }
    fn err_tok(&self, t: &Tok, what: &str) -> FilterError {
        self.err_at(t.col, format!("'{}' {what}", t.text))
    }
    /// An error at the next token (or the end of the expression).
    fn err_next(&self, what: &str) -> FilterError {
        match self.peek() {
            Some(t) => self.err_tok(t, what),
            None => self.err_at(
                self.end_col(),
                format!("the expression ends where {what} was expected"),
            ),
        }
    }

    fn expr(&mut self) -> PResult<Node> {
        let mut n = self.term()?;
        loop {
            let and = match self.peek().map(|t| t.text.to_ascii_lowercase()) {
                Some(ref t) if t == "and" || t == "&&" => true,
                Some(ref t) if t == "or" || t == "||" => false,
                _ => return Ok(n),
            };
            self.i += 1;
            let rhs = self.term()?;
            n = if and {
                Node::And(Box::new(n), Box::new(rhs))
            } else {
                Node::Or(Box::new(n), Box::new(rhs))
            };
        }
    }

    fn term(&mut self) -> PResult<Node> {
        let Some(t) = self.peek() else {
            return Err(self.err_next("a primitive"));
        };
        let word = t.text.to_ascii_lowercase();
        if word == "not" || word == "!" {
            self.i += 1;
            return Ok(Node::Not(Box::new(self.term()?)));
        }
        if self.starts_relation() {
            let save = (self.i, self.shift);
            match self.relation() {
                Ok(n) => return Ok(n),
                Err(e) if word != "(" => return Err(e),
                Err(rel_err) => {
                    (self.i, self.shift) = save;
                    self.i += 1;
                    let n = match self.expr() {
                        Ok(n) => n,
                        Err(e) => {
                            return Err(if e.column >= rel_err.column {
                                e
                            } else {
                                rel_err
                            })
                        }
                    };
                    return match self.next() {
                        Some(t) if t.text == ")" => Ok(n),
                        Some(t) => Err(self.err_tok(t, "found where ')' was expected")),
                        None => Err(self.err_at(self.end_col(), "missing ')'".into())),
                    };
                }
            }
        }
        self.primitive()
    }

    /// Whether the term here begins like arithmetic: a number, `len`, `-`, `(`, a constant,
    /// or `proto[`.
    fn starts_relation(&self) -> bool {
        let Some(t) = self.peek() else { return false };
        let w = t.text.to_ascii_lowercase();
        w == "("
            || w == "-"
            || w == "len"
            || parse_num(&w).is_some() && self.peek_at(1).is_some_and(is_arith_or_rel)
            || CONSTANTS.iter().any(|(n, _)| *n == w)
            || self.peek_at(1) == Some("[")
    }

    fn relation(&mut self) -> PResult<Node> {
        let a = self.arith()?;
        let op = match self.peek().map(|t| t.text.as_str()) {
            Some(">") => RelOp::Gt,
            Some("<") => RelOp::Lt,
            Some(">=") => RelOp::Ge,
            Some("<=") => RelOp::Le,
            Some("=") | Some("==") => RelOp::Eq,
            Some("!=") => RelOp::Ne,
            _ => return Err(self.err_next("is not a comparison (> < >= <= = != expected)")),
        };
        self.i += 1;
        let b = self.arith()?;
        Ok(Node::Rel(op, a, b))
    }

    // arith with C-like precedence: | ^ & << >> + - * / %
    fn arith(&mut self) -> PResult<Arith> {
        self.arith_level(0)
    }

    fn arith_level(&mut self, level: usize) -> PResult<Arith> {
        const LEVELS: &[&[(&str, BinOp)]] = &[
            &[("|", BinOp::Or)],
            &[("^", BinOp::Xor)],
            &[("&", BinOp::And)],
            &[("<<", BinOp::Shl), (">>", BinOp::Shr)],
            &[("+", BinOp::Add), ("-", BinOp::Sub)],
            &[("*", BinOp::Mul), ("/", BinOp::Div), ("%", BinOp::Mod)],
        ];
        let Some(ops) = LEVELS.get(level) else {
            return self.arith_unary();
        };
        let mut a = self.arith_level(level + 1)?;
        while let Some(&(_, op)) = ops
            .iter()
            .find(|(s, _)| self.peek().is_some_and(|t| t.text == *s))
        {
            let t = self.next().cloned();
            let b = self.arith_level(level + 1)?;
            if op == BinOp::Div || op == BinOp::Mod {
                if let (Arith::Num(0), Some(t)) = (&b, t) {
                    return Err(self.err_tok(&t, "divides by zero"));
                }
            }
            a = Arith::Bin(op, Box::new(a), Box::new(b));
        }
        Ok(a)
    }

    fn arith_unary(&mut self) -> PResult<Arith> {
        let Some(t) = self.next() else {
            return Err(self.err_next("a number, 'len' or a byte test"));
        };
        let w = t.text.to_ascii_lowercase();
        match w.as_str() {
            "-" => Ok(Arith::Neg(Box::new(self.arith_unary()?))),
            "(" => {
                let a = self.arith()?;
                match self.next() {
                    Some(c) if c.text == ")" => Ok(a),
                    Some(c) => Err(self.err_tok(c, "found where ')' was expected")),
                    None => Err(self.err_at(self.end_col(), "missing ')'".into())),
                }
            }
            "len" => Ok(Arith::Len),
            _ => {
                if let Some(n) = parse_num(&w) {
                    return Ok(Arith::Num(n));
                }
                if let Some((_, n)) = CONSTANTS.iter().find(|(n, _)| *n == w) {
                    return Ok(Arith::Num(*n));
                }
                if self.peek_is("[") {
                    return self.load(t);
                }
                Err(self.err_tok(t, "is not a number, 'len', a constant or a byte test"))
            }
        }
    }

    /// `proto[expr]` or `proto[expr:size]`; `t` is the protocol token.
    fn load(&mut self, t: &Tok) -> PResult<Arith> {
        let base =
            match alias(&t.text.to_ascii_lowercase()) {
                "ether" | "link" | "ppp" => Base::Link,
                "ip" => Base::Net(Net::Ip),
                "ip6" => Base::Net(Net::Ip6),
                "arp" => Base::Net(Net::Arp),
                "rarp" => Base::Net(Net::Rarp),
                "tcp" => Base::Transport4(TCP),
                "udp" => Base::Transport4(UDP),
                "icmp" => Base::Transport4(ICMP),
                "sctp" => Base::Transport4(SCTP),
                "igmp" => Base::Transport4(IGMP),
                "icmp6" => Base::Transport6(ICMP6),
                _ => return Err(self.err_tok(
                    t,
                    "cannot be indexed (ether ip ip6 arp rarp tcp udp icmp icmp6 sctp igmp can)",
                )),
            };
        self.i += 1; // [
        let off = self.arith()?;
        let mut size = 1;
        if self.peek_is(":") {
            self.i += 1;
            match self.next() {
                Some(s) if matches!(s.text.as_str(), "1" | "2" | "4") => {
                    size = s.text.parse().unwrap_or(1);
                }
                Some(s) => return Err(self.err_tok(s, "is not a size (1, 2 or 4)")),
                None => return Err(self.err_next("a size (1, 2 or 4)")),
            }
        }
        match self.next() {
            Some(c) if c.text == "]" => {}
            Some(c) => return Err(self.err_tok(c, "found where ']' was expected")),
            None => return Err(self.err_at(self.end_col(), "missing ']'".into())),
        }
        Ok(Arith::Load {
            base,
            off: Box::new(off),
            size,
            shift: self.shift,
        })
    }

    fn primitive(&mut self) -> PResult<Node> {
        let Some(t) = self.peek() else {
            return Err(self.err_next("a primitive"));
        };
        let w = t.text.to_ascii_lowercase();
        let shift = self.shift;
        match w.as_str() {
            "vlan" => {
                self.i += 1;
                let id = match self.peek().and_then(|t| parse_num(&t.text)) {
                    Some(n) if n <= 4095 => {
                        self.i += 1;
                        Some(n as u16)
                    }
                    Some(_) => return Err(self.err_next("is not a VLAN ID (0-4095)")),
                    None => None,
                };
                self.shift += 4;
                return Ok(Node::Vlan(id, shift));
            }
            "less" | "greater" => {
                self.i += 1;
                let n = self.number("a length")?;
                let op = if w == "less" { RelOp::Le } else { RelOp::Ge };
                return Ok(Node::Rel(op, Arith::Len, Arith::Num(n)));
            }
            _ => {}
        }
        if let Some(name) = LAYER_PRIMITIVES.iter().find(|n| **n == w) {
            self.i += 1;
            return Ok(Node::Layer(name));
        }
        let mut q = Quals {
            proto: None,
            dir: Dir::Any,
            kind: Kind::Host,
        };
        let mut explicit = false;
        let w = alias(&w);
        if let Some(p) = PROTOS.iter().find(|p| **p == w) {
            self.i += 1;
            q.proto = Some(p);
            explicit = true;
            match self.peek().map(|t| t.text.to_ascii_lowercase()).as_deref() {
                Some("proto") => {
                    self.i += 1;
                    return self.proto_number(p, shift);
                }
                Some("broadcast") if *p == "ether" => {
                    self.i += 1;
                    return Ok(Node::EtherBroadcast);
                }
                Some("multicast") => {
                    self.i += 1;
                    return match *p {
                        "ether" => Ok(Node::EtherMulticast),
                        "ip" => Ok(Node::IpMulticast(shift)),
                        "ip6" => Ok(Node::Ip6Multicast(shift)),
                        _ => Err(self.err_tok(t, "has no multicast test (ether ip ip6 do)")),
                    };
                }
                Some("src" | "dst" | "host" | "net" | "port" | "portrange") => {}
                _ => return self.bare_proto(t, p, shift),
            }
        }
        match self.peek().map(|t| t.text.to_ascii_lowercase()).as_deref() {
            Some("src") | Some("dst") => {
                let first = self.next().map(|t| t.text.to_ascii_lowercase());
                explicit = true;
                q.dir = if first.as_deref() == Some("src") {
                    Dir::Src
                } else {
                    Dir::Dst
                };
                // `src or dst`, `src and dst`
                if matches!(self.peek_at(0), Some("or" | "and"))
                    && matches!(self.peek_at(1), Some("src" | "dst"))
                {
                    q.dir = if self.peek_at(0) == Some("or") {
                        Dir::Any
                    } else {
                        Dir::Both
                    };
                    self.i += 2;
                }
            }
            _ => {}
        }
        match self.peek().map(|t| t.text.to_ascii_lowercase()).as_deref() {
            Some("host") => q.kind = Kind::Host,
            Some("net") => q.kind = Kind::Net,
            Some("port") => q.kind = Kind::Port,
            Some("portrange") => q.kind = Kind::PortRange,
            _ if explicit => {
                // `src 10.0.0.1`: the type defaults to host.
                return self.id(q, shift);
            }
            _ => {
                // A bare ID: the qualifiers of the primitive before it, or host.
                if let Some(last) = self.last {
                    return self.id(last, shift);
                }
                if self.peek().is_some_and(|t| parse_addr(&t.text).is_some()) {
                    return self.id(q, shift);
                }
                return Err(self.err_tok(
                    t,
                    "is not a primitive (host net port portrange vlan len less greater, \
                     a protocol: ip ip6 arp rarp tcp udp icmp icmp6 sctp igmp, \
                     or a decoded layer: dns http websocket)",
                ));
            }
        }
        self.i += 1;
        self.id(q, shift)
    }

    /// A protocol on its own: `tcp`, `ip6`, `arp`.
    fn bare_proto(&mut self, t: &Tok, p: &str, shift: usize) -> PResult<Node> {
        let ip = |proto, v4, v6| Node::IpProto {
            proto,
            v4,
            v6,
            shift,
        };
        Ok(match p {
            "ip" => Node::Link(Net::Ip, shift),
            "ip6" => Node::Link(Net::Ip6, shift),
            "arp" => Node::Link(Net::Arp, shift),
            "rarp" => Node::Link(Net::Rarp, shift),
            "tcp" => ip(TCP, true, true),
            "udp" => ip(UDP, true, true),
            "sctp" => ip(SCTP, true, true),
            "icmp" => ip(ICMP, true, false),
            "igmp" => ip(IGMP, true, false),
            "icmp6" => ip(ICMP6, false, true),
            _ => return Err(self.err_tok(t, "needs a qualifier after it (host, src, proto...)")),
        })
    }

    /// `ip proto N`, `ip6 proto N`, `ether proto N`.
    fn proto_number(&mut self, p: &str, shift: usize) -> PResult<Node> {
        let Some(t) = self.next() else {
            return Err(self.err_next("a protocol number"));
        };
        let w = t.text.trim_start_matches('\\').to_ascii_lowercase();
        if p == "ether" {
            let n = match w.as_str() {
                "ip" => 0x0800,
                "ip6" => 0x86dd,
                "arp" => 0x0806,
                "rarp" => 0x8035,
                _ => match parse_num(&w) {
                    Some(n) if n <= 0xffff => n,
                    _ => return Err(self.err_tok(t, "is not an EtherType (0-65535, \\ip, \\arp)")),
                },
            };
            return Ok(Node::EtherType(n as u16, shift));
        }
        let n = match w.as_str() {
            "tcp" => TCP,
            "udp" => UDP,
            "icmp" => ICMP,
            "icmp6" => ICMP6,
            "sctp" => SCTP,
            "igmp" => IGMP,
            _ => match parse_num(&w) {
                Some(n) if n <= 255 => n as u8,
                _ => return Err(self.err_tok(t, "is not a protocol number (0-255, \\tcp)")),
            },
        };
        let (v4, v6) = match p {
            "ip" => (true, false),
            "ip6" => (false, true),
            _ => return Err(self.err_tok(t, "'proto' follows ip, ip6 or ether only")),
        };
        Ok(Node::IpProto {
            proto: n,
            v4,
            v6,
            shift,
        })
    }

    fn number(&mut self, what: &str) -> PResult<u32> {
        match self.peek() {
            Some(t) => match parse_num(&t.text) {
                Some(n) => {
                    self.i += 1;
                    Ok(n)
                }
                None => Err(self.err_tok(t, &format!("is not {what}"))),
            },
            None => Err(self.err_next(what)),
        }
    }

    /// The ID after the qualifiers: an address, network, port or port range.
    fn id(&mut self, q: Quals, shift: usize) -> PResult<Node> {
        let Some(t) = self.next() else {
            return Err(self.err_next(match q.kind {
                Kind::Host => "an address",
                Kind::Net => "a network",
                Kind::Port => "a port",
                Kind::PortRange => "a port range",
            }));
        };
        self.last = Some(q);
        let text = t.text.as_str();
        match q.kind {
            Kind::Port | Kind::PortRange => {
                let (lo, hi) = if q.kind == Kind::Port {
                    let p = port_number(text).ok_or_else(|| {
                        self.err_tok(t, "is not a port (0-65535 or a name like http)")
                    })?;
                    (p, p)
                } else {
                    port_range(text)
                        .ok_or_else(|| self.err_tok(t, "is not a port range (like 1-1024)"))?
                };
                let protos = match q.proto {
                    None => vec![TCP, UDP, SCTP],
                    Some("tcp") => vec![TCP],
                    Some("udp") => vec![UDP],
                    Some("sctp") => vec![SCTP],
                    Some("ip") | Some("ip6") => vec![TCP, UDP, SCTP],
                    Some(_) => {
                        return Err(self.err_tok(t, "a port needs tcp, udp, sctp, ip or ip6"))
                    }
                };
                let (v4, v6) = match q.proto {
                    Some("ip") => (true, false),
                    Some("ip6") => (false, true),
                    _ => (true, true),
                };
                Ok(Node::Port {
                    dir: q.dir,
                    lo,
                    hi,
                    protos,
                    v4,
                    v6,
                    shift,
                })
            }
            Kind::Host | Kind::Net => {
                if q.proto == Some("ether") {
                    let mac = parse_mac(text).ok_or_else(|| {
                        self.err_tok(t, "is not a MAC address (like 02:00:5e:10:00:01)")
                    })?;
                    return Ok(Node::Ether(q.dir, mac));
                }
                let (addr, bits) = if q.kind == Kind::Net {
                    self.network(t)?
                } else {
                    let a = parse_addr(text).ok_or_else(|| {
                        self.err_tok(t, "is not an IP address (names are not looked up)")
                    })?;
                    (a, if a.is_ipv4() { 32 } else { 128 })
                };
                self.host_node(t, q, addr, bits, shift)
            }
        }
    }

    /// `10.0.0.0/8`, `10.0.0.0 mask 255.0.0.0`, `10` (classful), `fd00::/8`.
    fn network(&mut self, t: &Tok) -> PResult<(IpAddr, u32)> {
        let text = t.text.as_str();
        let bad = |p: &Self| p.err_tok(t, "is not a network (like 10.0.0.0/8)");
        let (addr, bits) = if let Some((a, b)) = text.split_once('/') {
            let addr = parse_partial(a).ok_or_else(|| bad(self))?.0;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let bits: u32 = b
                .parse()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| bad(self))?;
            (addr, bits)
        } else if self.peek_is("mask") {
            self.i += 1;
            let addr = parse_partial(text).ok_or_else(|| bad(self))?.0;
            let m = self.next();
            let mask = m
                .and_then(|m| m.text.parse::<Ipv4Addr>().ok())
                .ok_or_else(|| self.err_next("a mask like 255.0.0.0"))?;
            let m32 = u32::from(mask);
            if m32.leading_ones() + m32.trailing_zeros() != 32 || !addr.is_ipv4() {
                return Err(self.err_tok(m.unwrap_or(t), "is not a contiguous IPv4 mask"));
            }
            (addr, m32.leading_ones())
        } else {
            parse_partial(text).ok_or_else(|| bad(self))?
        };
        let (net, mask) = masks(addr, bits);
        let host_bits = match addr {
            IpAddr::V4(a) => u32::from(a) & !mask.0 != 0,
            IpAddr::V6(a) => a.octets().iter().zip(mask.1).any(|(b, m)| b & !m != 0),
        };
        if host_bits {
            return Err(self.err_tok(t, "has bits set outside its network mask"));
        }
        let _ = net;
        Ok((addr, bits))
    }

    fn host_node(&self, t: &Tok, q: Quals, addr: IpAddr, bits: u32, shift: usize) -> PResult<Node> {
        let ((net4, net6), (mask4, mask6)) = {
            let (n, m) = masks(addr, bits);
            (n, m)
        };
        match addr {
            IpAddr::V4(_) => {
                let (ip, arp, rarp) = match q.proto {
                    None => (true, true, true),
                    Some("ip") => (true, false, false),
                    Some("arp") => (false, true, false),
                    Some("rarp") => (false, false, true),
                    Some(p) => {
                        return Err(self.err_tok(t, &format!("cannot be a host of '{p}'")));
                    }
                };
                Ok(Node::Host4 {
                    dir: q.dir,
                    net: net4,
                    mask: mask4,
                    ip,
                    arp,
                    rarp,
                    shift,
                })
            }
            IpAddr::V6(_) => match q.proto {
                None | Some("ip6") => Ok(Node::Host6 {
                    dir: q.dir,
                    net: net6,
                    mask: mask6,
                    shift,
                }),
                Some(p) => Err(self.err_tok(t, &format!("cannot be a host of '{p}'"))),
            },
        }
    }
}

fn is_arith_or_rel(s: &str) -> bool {
    matches!(
        s,
        "+" | "-"
            | "*"
            | "/"
            | "%"
            | "&"
            | "|"
            | "^"
            | "<<"
            | ">>"
            | ">"
            | "<"
            | ">="
            | "<="
            | "="
            | "=="
            | "!="
    )
}

/// The network and mask for `addr/bits`, as (IPv4, IPv6) pairs (the other left zero).
fn masks(addr: IpAddr, bits: u32) -> ((u32, [u8; 16]), (u32, [u8; 16])) {
    match addr {
        IpAddr::V4(a) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            ((u32::from(a) & mask, [0; 16]), (mask, [0; 16]))
        }
        IpAddr::V6(a) => {
            let m = if bits == 0 {
                0u128
            } else {
                u128::MAX << (128 - bits)
            };
            let mask = m.to_be_bytes();
            let net = (u128::from(a) & m).to_be_bytes();
            ((0, net), (0, mask))
        }
    }
}

/// Decimal, 0x hex or 0-prefixed octal, as libpcap reads numbers.
fn parse_num(s: &str) -> Option<u32> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u32::from_str_radix(h, 16).ok();
    }
    if s.len() > 1 && s.starts_with('0') {
        return u32::from_str_radix(&s[1..], 8).ok();
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    None
}

fn parse_addr(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok()
}

/// A full address, or 1–3 IPv4 octets (classful: `10` is 10.0.0.0/8).
fn parse_partial(s: &str) -> Option<(IpAddr, u32)> {
    if let Ok(a) = s.parse::<Ipv6Addr>() {
        return Some((IpAddr::V6(a), 128));
    }
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut oct = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        oct[i] = p.parse().ok()?;
    }
    Some((IpAddr::V4(Ipv4Addr::from(oct)), 8 * parts.len() as u32))
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let hex: String = s
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect();
    if hex.len() != 12 {
        return None;
    }
    let mut m = [0u8; 6];
    for (i, b) in m.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(m)
}

fn port_number(s: &str) -> Option<u16> {
    if let Some(n) = parse_num(s) {
        return u16::try_from(n).ok();
    }
    SERVICES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|(_, p)| *p)
}

fn port_range(s: &str) -> Option<(u16, u16)> {
    // Service names may hold '-' themselves (ftp-data): try each split.
    s.match_indices('-').find_map(|(i, _)| {
        let (a, b) = (port_number(&s[..i])?, port_number(&s[i + 1..])?);
        Some((a.min(b), a.max(b)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{Dissector, FrameInfo};

    fn syn_matches(e: &str) -> bool {
        let data = &crate::dissect::engine_test_frames::SYN_FRAME;
        let info = FrameInfo {
            number: 1,
            ts_sec: 0,
            ts_nsec: 0,
            ts_digits: 6,
            caplen: 74,
            len: 74,
            link: LinkType::Ethernet,
            interface: 0,
        };
        let mut layers = Vec::new();
        Dissector::new().dissect(&info, data, &mut layers);
        let p = Packet {
            info: &info,
            data,
            layers: &layers,
            reassembled: &[],
        };
        Filter::parse(e)
            .unwrap_or_else(|err| panic!("{e}: {err}"))
            .matches(&p)
    }

    #[test]
    fn parse_and_match_a_real_syn() {
        for e in [
            "tcp",
            "tcp and port 18080",
            "dst port 18080 and not udp",
            "udp or (ip and host 127.0.0.1)",
            "!dns && tcp",
            "tcp dst port 18080",
            "src 127.0.0.1",
            "net 127.0.0.0/8",
            "net 127",
            "net 127.0.0.0 mask 255.0.0.0",
            "portrange 18000-18100",
            "tcp[tcpflags] & tcp-syn != 0",
            "tcp[tcpflags] == tcp-syn",
            "(tcp[13] & 2) != 0",
            "ip[0] & 0xf = 5",
            "len = 74 and greater 74 and less 74",
            "ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2) = 0",
            "port 80 or 18080",
            "ether proto \\ip",
            "ip proto \\tcp",
            "ip proto 6",
            "(tcp)",
            "((port 18080) and (ip))",
            "ipv4 and not ipv6",
            "src or dst port 18080",
        ] {
            assert!(syn_matches(e), "{e} should match the SYN");
        }
        for e in [
            "src port 18080",
            "ipv6 || arp",
            "port http",
            "udp",
            "vlan",
            "vlan and tcp",
            "net 10.0.0.0/8",
            "tcp[tcpflags] & tcp-ack != 0",
            "tcp or udp and icmp",
            "src and dst port 18080",
            "ip multicast",
            "ether broadcast",
            "http",
            "icmp[0] = 0",
            "tcp[100] = 0 or tcp",
        ] {
            assert!(!syn_matches(e), "{e} should not match the SYN");
        }
        // A load past the captured bytes rejects the packet, even under `not`.
        assert!(!syn_matches("not tcp[100] = 0"));
    }

    #[test]
    fn errors_name_the_token_and_its_column() {
        let e = Filter::parse("tcp and bogus").unwrap_err();
        assert_eq!(e.column, 9);
        assert!(e.reason.contains("'bogus' is not a primitive"), "{e}");
        assert!(e.to_string().contains("column 9"), "{e}");
        let e = Filter::parse("port 70000").unwrap_err();
        assert!(e.reason.contains("'70000'") && e.column == 6, "{e}");
        let e = Filter::parse("(tcp").unwrap_err();
        assert!(e.reason.contains("missing ')'") && e.column == 5, "{e}");
        assert!(Filter::parse("tcp udp").unwrap_err().column == 5);
        assert!(Filter::parse("").is_err());
        let e = Filter::parse("host").unwrap_err();
        assert!(e.reason.contains("ends"), "{e}");
        let e = Filter::parse("net 10.1.0.0/8").unwrap_err();
        assert!(e.reason.contains("outside its network mask"), "{e}");
        let e = Filter::parse("tcp[13:3] = 1").unwrap_err();
        assert!(
            e.reason.contains("'3' is not a size") && e.column == 8,
            "{e}"
        );
        let e = Filter::parse("tcp[13] / 0 = 1").unwrap_err();
        assert!(e.reason.contains("divides by zero"), "{e}");
        let e = Filter::parse("tcp # x").unwrap_err();
        assert_eq!(e.column, 5);
        let e = Filter::parse("vlan 5000").unwrap_err();
        assert!(e.reason.contains("VLAN ID"), "{e}");
    }

    #[test]
    fn lexer_keeps_addresses_ranges_and_names_whole() {
        let t: Vec<String> = lex("net fd00::/8 and portrange 1-1024 or tcp[13:1]&tcp-syn!=0")
            .unwrap()
            .into_iter()
            .map(|t| t.text)
            .collect();
        assert_eq!(
            t,
            [
                "net",
                "fd00::/8",
                "and",
                "portrange",
                "1-1024",
                "or",
                "tcp",
                "[",
                "13",
                ":",
                "1",
                "]",
                "&",
                "tcp-syn",
                "!=",
                "0"
            ]
        );
        assert_eq!(port_range("ftp-data-http"), Some((20, 80)));
        assert_eq!(parse_num("017"), Some(15));
        assert_eq!(
            parse_mac("02:00:5e:10:00:01"),
            Some([2, 0, 0x5e, 0x10, 0, 1])
        );
    }
}

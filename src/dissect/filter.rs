//! Display filters: protocol names, `host ADDR`, `port N`, `src host ADDR`, `dst port N`,
//! combined with `and`, `or`, `not` and parentheses (also `&&`, `||`, `!`).
//!
//! ```text
//! expr   := or
//! or     := and ("or" and)*
//! and    := unary ("and" unary)*
//! unary  := "not" unary | "(" expr ")" | term
//! term   := PROTO | [src|dst] host ADDR | [src|dst] port N
//! ```

use std::net::IpAddr;

use super::{Packet, Proto};

/// Protocol names a filter may use.
pub const PROTOCOLS: &[&str] = &[
    "eth",
    "sll",
    "sll2",
    "null",
    "vlan",
    "arp",
    "ip",
    "ipv4",
    "ip6",
    "ipv6",
    "icmp",
    "icmpv6",
    "tcp",
    "udp",
    "dns",
    "http",
    "websocket",
    "ws",
    "engineio",
    "socketio",
    "data",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Any,
    Src,
    Dst,
}

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Proto(&'static str),
    Host(Dir, IpAddr),
    Port(Dir, u16),
    Not(Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

/// Why a filter expression could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad filter '{expr}': {reason}")]
pub struct FilterError {
    pub expr: String,
    pub reason: String,
}

impl Filter {
    pub fn parse(expr: &str) -> Result<Filter, FilterError> {
        let spaced = expr
            .replace('(', " ( ")
            .replace(')', " ) ")
            .replace("&&", " and ")
            .replace("||", " or ")
            .replace('!', " not ");
        let tokens: Vec<&str> = spaced.split_whitespace().collect();
        let mut p = Parser {
            t: &tokens,
            i: 0,
            expr,
        };
        let f = p.or()?;
        if let Some(t) = p.peek() {
            return Err(p.err(format!("unexpected '{t}' after a complete expression")));
        }
        Ok(f)
    }

    /// Does the packet match?
    pub fn matches(&self, p: &Packet) -> bool {
        match self {
            Filter::Proto(name) => p.layers.iter().any(|l| proto_is(name, &l.proto, l.name())),
            Filter::Host(d, a) => host_matches(p, *d, *a),
            Filter::Port(d, n) => p.ports().is_some_and(|(s, t)| match d {
                Dir::Any => s == *n || t == *n,
                Dir::Src => s == *n,
                Dir::Dst => t == *n,
            }),
            Filter::Not(f) => !f.matches(p),
            Filter::And(a, b) => a.matches(p) && b.matches(p),
            Filter::Or(a, b) => a.matches(p) || b.matches(p),
        }
    }
}

fn proto_is(name: &str, proto: &Proto, layer_name: &str) -> bool {
    match name {
        "ip" | "ipv4" => matches!(proto, Proto::Ipv4(_)),
        "ip6" | "ipv6" => matches!(proto, Proto::Ipv6(_)),
        "ws" | "websocket" => matches!(proto, Proto::WebSocket(_)),
        "sll" => layer_name == "sll" || layer_name == "sll2",
        other => layer_name == other,
    }
}

fn host_matches(p: &Packet, d: Dir, a: IpAddr) -> bool {
    let check = |s: IpAddr, t: IpAddr| match d {
        Dir::Any => s == a || t == a,
        Dir::Src => s == a,
        Dir::Dst => t == a,
    };
    p.layers.iter().any(|l| match &l.proto {
        Proto::Ipv4(h) => check(h.src.into(), h.dst.into()),
        Proto::Ipv6(h) => check(h.src.into(), h.dst.into()),
        Proto::Arp(r) => check(r.sender_ip.into(), r.target_ip.into()),
        _ => false,
    })
}

struct Parser<'a> {
    t: &'a [&'a str],
    i: usize,
    expr: &'a str,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.t.get(self.i).copied()
    }
    fn next(&mut self) -> Option<&'a str> {
        let t = self.t.get(self.i).copied();
        self.i += 1;
        t
    }
    fn err(&self, reason: String) -> FilterError {
        FilterError {
            expr: self.expr.to_string(),
            reason,
        }
    }
    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut f = self.and()?;
        while self.peek() == Some("or") {
            self.i += 1;
            f = Filter::Or(Box::new(f), Box::new(self.and()?));
        }
        Ok(f)
    }
    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut f = self.unary()?;
        while self.peek() == Some("and") {
            self.i += 1;
            f = Filter::And(Box::new(f), Box::new(self.unary()?));
        }
        Ok(f)
    }
    fn unary(&mut self) -> Result<Filter, FilterError> {
        match self.next() {
            Some("not") => Ok(Filter::Not(Box::new(self.unary()?))),
            Some("(") => {
                let f = self.or()?;
                match self.next() {
                    Some(")") => Ok(f),
                    _ => Err(self.err("missing ')'".into())),
                }
            }
            Some(t @ ("src" | "dst")) => {
                let d = if t == "src" { Dir::Src } else { Dir::Dst };
                match self.next() {
                    Some("host") => self.host(d),
                    Some("port") => self.port(d),
                    other => Err(self.err(format!(
                        "expected 'host' or 'port' after '{t}', found {}",
                        show(other)
                    ))),
                }
            }
            Some("host") => self.host(Dir::Any),
            Some("port") => self.port(Dir::Any),
            Some(t) => match PROTOCOLS.iter().find(|p| p.eq_ignore_ascii_case(t)) {
                Some(p) => Ok(Filter::Proto(p)),
                None => Err(self.err(format!(
                    "'{t}' is not a protocol, 'host ADDR' or 'port N' (protocols: {})",
                    PROTOCOLS.join(" ")
                ))),
            },
            None => Err(self.err("the expression ends too early".into())),
        }
    }
    fn host(&mut self, d: Dir) -> Result<Filter, FilterError> {
        let t = self.next();
        match t.and_then(|t| t.parse::<IpAddr>().ok()) {
            Some(a) => Ok(Filter::Host(d, a)),
            None => Err(self.err(format!(
                "expected an IP address after 'host', found {}",
                show(t)
            ))),
        }
    }
    fn port(&mut self, d: Dir) -> Result<Filter, FilterError> {
        let t = self.next();
        match t.and_then(|t| t.parse::<u16>().ok()) {
            Some(n) => Ok(Filter::Port(d, n)),
            None => Err(self.err(format!(
                "expected a port number 0-65535 after 'port', found {}",
                show(t)
            ))),
        }
    }
}

fn show(t: Option<&str>) -> String {
    t.map_or_else(|| "nothing".to_string(), |t| format!("'{t}'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::{Dissector, FrameInfo, LinkType};

    #[test]
    fn parse_and_match_a_real_syn() {
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
        };
        let yes = |e: &str| Filter::parse(e).unwrap().matches(&p);
        assert!(yes("tcp"));
        assert!(yes("tcp and port 18080"));
        assert!(yes("dst port 18080 and not udp"));
        assert!(!yes("src port 18080"));
        assert!(yes("udp or (ip and host 127.0.0.1)"));
        assert!(!yes("ipv6 || arp"));
        assert!(yes("!dns && tcp"));
    }

    #[test]
    fn errors_name_the_problem() {
        let e = Filter::parse("tcp and bogus").unwrap_err();
        assert!(e.to_string().contains("'bogus' is not a protocol"), "{e}");
        assert!(Filter::parse("port 70000")
            .unwrap_err()
            .reason
            .contains("'70000'"));
        assert!(Filter::parse("(tcp")
            .unwrap_err()
            .reason
            .contains("missing ')'"));
        assert!(Filter::parse("tcp udp").is_err());
        assert!(Filter::parse("").is_err());
        assert!(Filter::parse("host")
            .unwrap_err()
            .reason
            .contains("nothing"));
    }
}

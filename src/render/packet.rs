//! The dissector's views: `summary` (one line a packet, shaped like `tcpdump -nn`), `detail`
//! (a tree like `tshark -V`, each layer headed with its OSI and TCP/IP layer), `hex` (the
//! bytes, marked with the layer they belong to) and `json` (one object a packet).

use std::io::{self, Write};
use std::net::IpAddr;

use super::num;
use crate::dissect::stats::Stats;
use crate::dissect::{Field, Layer, Packet, Proto, Span, Value};
use crate::wire::{arp, dns, http_message::StartLine, icmp, icmpv6};

/// Writes `HH:MM:SS.ffffff` (UTC), with as many sub-second digits as the capture has.
fn time_of_day<W: Write>(out: &mut W, sec: i64, nsec: u32, digits: u8) -> io::Result<()> {
    let day = sec.rem_euclid(86_400) as u32;
    let mut buf = *b"00:00:00.000000000";
    num::two_digits(&mut buf[0..2], day / 3600);
    num::two_digits(&mut buf[3..5], day % 3600 / 60);
    num::two_digits(&mut buf[6..8], day % 60);
    match frac_into(&mut buf[8..], nsec, digits) {
        Some(len) => out.write_all(&buf[..8 + len]),
        None => {
            out.write_all(&buf[..8])?;
            write_frac(out, nsec, digits)
        }
    }
}

fn write_frac<W: Write>(out: &mut W, nsec: u32, digits: u8) -> io::Result<()> {
    let mut buf = *b".000000000";
    match frac_into(&mut buf, nsec, digits) {
        Some(len) => out.write_all(&buf[..len]),
        // A sub-second count of a second or more (a malformed capture): all its digits.
        None if digits >= 9 => write!(out, ".{nsec:09}"),
        None => write!(out, ".{:06}", nsec / 1000),
    }
}

/// `.ffffff` (or `.fffffffff` when the capture has nanoseconds) into `buf`, which starts with
/// `.` and has room for nine digits; returns the length, or `None` if `nsec` is a second or
/// more and needs more digits.
fn frac_into(buf: &mut [u8], nsec: u32, digits: u8) -> Option<usize> {
    let (mut n, len) = if digits >= 9 {
        (nsec, 9)
    } else {
        (nsec / 1000, 6)
    };
    if nsec >= 1_000_000_000 {
        return None;
    }
    for i in (1..=len).rev() {
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    Some(len + 1)
}

/// `YYYY-MM-DD` for days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// One line a packet, in the shape of `tcpdump -nn`, with TCP handshake and teardown labelled.
pub fn summary<W: Write>(out: &mut W, p: &Packet) -> io::Result<()> {
    num::u64_right(out, p.info.number, 5)?;
    out.write_all(b" ")?;
    time_of_day(out, p.info.ts_sec, p.info.ts_nsec, p.info.ts_digits)?;
    out.write_all(b" ")?;
    summary_body(out, p)
}

/// The summary after the time. A tunnelled frame (VXLAN) is shown as tcpdump does: the outer
/// addresses and the tunnel, then `inner:` and the carried frame's own summary.
fn summary_body<W: Write>(out: &mut W, p: &Packet) -> io::Result<()> {
    if let Some(k) = p
        .layers
        .iter()
        .position(|l| !l.quoted && matches!(l.proto, Proto::Vxlan(_)))
    {
        let outer = &p.layers[..k];
        let ip = outer.iter().rev().find_map(|l| match &l.proto {
            Proto::Ipv4(h) => Some((IpAddr::V4(h.src), IpAddr::V4(h.dst))),
            Proto::Ipv6(h) => Some((IpAddr::V6(h.src), IpAddr::V6(h.dst))),
            _ => None,
        });
        let udp = outer.iter().rev().find_map(|l| match &l.proto {
            Proto::Udp(u) => Some(u),
            _ => None,
        });
        if let (Some((src, dst)), Some(u), Proto::Vxlan(v)) = (ip, udp, &p.layers[k].proto) {
            let v6 = if src.is_ipv6() { "IP6" } else { "IP" };
            write!(
                out,
                "{v6} {src}.{} > {dst}.{}: VXLAN, vni {}, inner: ",
                u.src_port, u.dst_port, v.vni
            )?;
        }
        let inner = Packet {
            layers: &p.layers[k + 1..],
            ..*p
        };
        return summary_body(out, &inner);
    }
    // This packet's own layers; what follows is the packet an ICMP error quotes.
    let split = p
        .layers
        .iter()
        .position(|l| l.quoted)
        .unwrap_or(p.layers.len());
    let (own, quoted) = p.layers.split_at(split);
    let mut ip: Option<(&Layer, bool)> = None;
    for l in own {
        match &l.proto {
            Proto::Vlan(t) => {
                out.write_all(b"vlan ")?;
                num::u64(out, u64::from(t.vid))?;
                out.write_all(b", ")?;
            }
            Proto::Arp(a) => return arp_line(out, a),
            Proto::Ipv4(_) => ip = Some((l, false)),
            Proto::Ipv6(_) => ip = Some((l, true)),
            _ => {}
        }
    }
    let Some((ip_layer, v6)) = ip else {
        // No IP: name the outermost layer and the length.
        let name = p.layers.first().map_or("frame", |l| l.name());
        write!(out, "{name}, length {}", p.info.len)?;
        return problem_note(out, p);
    };
    out.write_all(if v6 { b"IP6 " } else { b"IP " })?;
    if ip_layer.captured < if v6 { 40 } else { 20 } {
        // The addresses were not captured: say so rather than show padding.
        write!(out, "header cut after {} bytes", ip_layer.captured)?;
        return problem_note(out, p);
    }
    // A transport header counts only if its ports and flags were captured.
    let whole = |l: &Layer| match l.proto {
        Proto::Tcp(..) => l.captured >= 20,
        Proto::Udp(_) | Proto::Icmp(_) => l.captured >= 8,
        _ => true,
    };
    let transport = own
        .iter()
        .find(|l| matches!(l.proto, Proto::Tcp(..) | Proto::Udp(_)) && whole(l));
    let ports = match transport.map(|t| &t.proto) {
        Some(Proto::Tcp(t, _)) => Some((t.src_port, t.dst_port)),
        Some(Proto::Udp(u)) => Some((u.src_port, u.dst_port)),
        _ => None,
    };
    let (src, dst) = match &ip_layer.proto {
        Proto::Ipv4(h) => (IpAddr::V4(h.src), IpAddr::V4(h.dst)),
        Proto::Ipv6(h) => (IpAddr::V6(h.src), IpAddr::V6(h.dst)),
        _ => unreachable!("ip_layer is IPv4 or IPv6"),
    };
    endpoint_to(out, src, ports.map(|p| p.0))?;
    out.write_all(b" > ")?;
    endpoint_to(out, dst, ports.map(|p| p.1))?;
    out.write_all(b": ")?;
    let ip_payload = match &ip_layer.proto {
        Proto::Ipv4(h) => usize::from(h.total_len).saturating_sub(h.header_len()),
        Proto::Ipv6(h) => usize::from(h.payload_len),
        _ => 0,
    };
    let app = own
        .iter()
        .find(|l| matches!(l.proto, Proto::EngineIo(_)))
        .or_else(|| {
            own.iter().find(|l| {
                matches!(
                    l.proto,
                    Proto::Dns(_) | Proto::Http(_) | Proto::WebSocket(_)
                )
            })
        });
    let mut wrote = false;
    for l in own {
        if !whole(l) {
            write!(out, "{} header cut after {} bytes", l.name(), l.captured)?;
            wrote = true;
            continue;
        }
        match &l.proto {
            Proto::Tcp(h, m) => {
                out.write_all(b"Flags [")?;
                out.write_all(h.flags.tcpdump().as_str().as_bytes())?;
                out.write_all(b"]")?;
                if m.len > 0 || h.flags.syn() || h.flags.fin() || h.flags.rst() {
                    out.write_all(b", seq ")?;
                    if h.flags.syn() {
                        num::u64(out, u64::from(h.seq))?;
                    } else if m.len > 0 {
                        num::u64(out, u64::from(m.rel_seq))?;
                        out.write_all(b":")?;
                        num::u64(out, u64::from(m.rel_seq.wrapping_add(m.len)))?;
                    } else {
                        num::u64(out, u64::from(m.rel_seq))?;
                    }
                }
                if h.flags.ack() {
                    out.write_all(b", ack ")?;
                    if h.flags.syn() {
                        num::u64(out, u64::from(h.ack))?;
                    } else {
                        num::u64(out, u64::from(m.rel_ack))?;
                    }
                }
                out.write_all(b", win ")?;
                num::u64(out, u64::from(h.window))?;
                out.write_all(b", length ")?;
                num::u64(out, u64::from(m.len))?;
                if let Some(ph) = m.phase {
                    out.write_all(b"  [")?;
                    out.write_all(ph.label().as_bytes())?;
                    out.write_all(b"]")?;
                }
                wrote = true;
            }
            Proto::Udp(u) if app.is_none() => {
                out.write_all(b"UDP, length ")?;
                num::u64(out, u64::from(u.length.saturating_sub(8)))?;
                wrote = true;
            }
            Proto::Icmp(h) => {
                write!(out, "ICMP {}", icmp::type_name(h.icmp_type))?;
                if h.is_echo() {
                    out.write_all(b", id ")?;
                    num::u64(out, u64::from(h.ident))?;
                    out.write_all(b", seq ")?;
                    num::u64(out, u64::from(h.seq))?;
                } else if h.code != 0 || h.is_error() {
                    write!(out, ", {}", icmp::code_name(h.icmp_type, h.code))?;
                }
                quote_note(out, quoted)?;
                out.write_all(b", length ")?;
                num::u64(out, ip_payload as u64)?;
                wrote = true;
            }
            Proto::Icmpv6(m) => {
                write!(out, "ICMP6, {}", icmpv6::type_name(m.icmp_type))?;
                if let Some((id, seq)) = m.echo {
                    out.write_all(b", id ")?;
                    num::u64(out, u64::from(id))?;
                    out.write_all(b", seq ")?;
                    num::u64(out, u64::from(seq))?;
                }
                quote_note(out, quoted)?;
                match (m.icmp_type, m.target) {
                    (135, Some(t)) => write!(out, ", who has {t}")?,
                    (_, Some(t)) => write!(out, ", tgt is {t}")?,
                    _ => {}
                }
                out.write_all(b", length ")?;
                num::u64(out, ip_payload as u64)?;
                wrote = true;
            }
            _ => {}
        }
    }
    if let Some(app) = app {
        out.write_all(if wrote { b": " } else { b"" })?;
        app_summary(out, p, app)?;
        wrote = true;
    } else if let Some(role) = own.iter().find_map(|l| match l.proto {
        Proto::Segment(r) => Some(r),
        _ => None,
    }) {
        out.write_all(b" [")?;
        out.write_all(role.label().as_bytes())?;
        out.write_all(b"]")?;
    }
    if !wrote {
        let proto = match &ip_layer.proto {
            Proto::Ipv4(h) => h.protocol,
            _ => p
                .layers
                .iter()
                .rev()
                .find_map(|l| match &l.proto {
                    Proto::Ipv6Ext(e) => Some(e.next_header),
                    Proto::Ipv6(h) => Some(h.next_header),
                    _ => None,
                })
                .unwrap_or(0),
        };
        write!(
            out,
            "{}, length {ip_payload}",
            crate::wire::ipv4::protocol::name(proto)
        )?;
    }
    problem_note(out, p)
}

/// `ADDR` or `ADDR.PORT`, as tcpdump -nn writes an endpoint.
fn endpoint_to<W: Write>(out: &mut W, ip: IpAddr, port: Option<u16>) -> io::Result<()> {
    match ip {
        IpAddr::V4(a) => num::ipv4(out, a)?,
        IpAddr::V6(a) => num::ipv6(out, a)?,
    }
    if let Some(port) = port {
        out.write_all(b".")?;
        num::u64(out, u64::from(port))?;
    }
    Ok(())
}

/// What an ICMP error quotes, e.g. " (about UDP 127.0.0.1.5555 > 127.0.0.1.9)".
fn quote_note<W: Write>(out: &mut W, quoted: &[Layer]) -> io::Result<()> {
    let ip = quoted.iter().find_map(|l| match &l.proto {
        Proto::Ipv4(h) => Some((IpAddr::V4(h.src), IpAddr::V4(h.dst))),
        Proto::Ipv6(h) => Some((IpAddr::V6(h.src), IpAddr::V6(h.dst))),
        _ => None,
    });
    let Some((src, dst)) = ip else {
        return Ok(());
    };
    let ports = quoted.iter().find_map(|l| match &l.proto {
        Proto::Tcp(t, _) => Some(("TCP ", t.src_port, t.dst_port)),
        Proto::Udp(u) => Some(("UDP ", u.src_port, u.dst_port)),
        _ => None,
    });
    out.write_all(b" (about ")?;
    out.write_all(ports.map_or("", |p| p.0).as_bytes())?;
    endpoint_to(out, src, ports.map(|p| p.1))?;
    out.write_all(b" > ")?;
    endpoint_to(out, dst, ports.map(|p| p.2))?;
    out.write_all(b")")
}

fn app_summary<W: Write>(out: &mut W, p: &Packet, app: &Layer) -> io::Result<()> {
    match &app.proto {
        Proto::Dns(m) => {
            out.write_all(b"DNS ")?;
            num::u64(out, u64::from(m.id))?;
            if m.is_response() {
                out.write_all(b" ")?;
                num::u64(out, u64::from(m.ancount))?;
                out.write_all(b"/")?;
                num::u64(out, u64::from(m.nscount))?;
                out.write_all(b"/")?;
                num::u64(out, u64::from(m.arcount))?;
                if m.rcode() != 0 {
                    write!(out, " {}", dns::rcode_name(m.rcode()))?;
                }
                for a in &m.answers {
                    match &a.data {
                        dns::RData::A(ip) => {
                            out.write_all(b" A ")?;
                            num::ipv4(out, *ip)?;
                        }
                        dns::RData::Aaaa(ip) => {
                            out.write_all(b" AAAA ")?;
                            num::ipv6(out, *ip)?;
                        }
                        dns::RData::Name(n) => write!(out, " {} {n}", dns::type_name(a.rtype))?,
                        _ => write!(out, " {}", dns::type_name(a.rtype))?,
                    }
                }
            } else {
                out.write_all(if m.rd() { b"+" } else { b"" })?;
                for q in &m.questions {
                    write!(out, " {}? {}.", dns::type_name(q.qtype), q.name)?;
                }
            }
        }
        Proto::Http(m) => match &m.start {
            StartLine::Request {
                method,
                target,
                version,
            } => write!(out, "HTTP {method} {target} {version}")?,
            StartLine::Response {
                version,
                status,
                reason,
            } => write!(out, "{version} {status} {reason}")?,
        },
        Proto::EngineIo(_) => {
            // One part per Engine.IO packet: `socket.io EVENT / "chat message" ["hi"]`.
            let mut parts = Vec::new();
            let mut it = p.layers.iter().peekable();
            while let Some(l) = it.next() {
                if let Proto::EngineIo(e) = &l.proto {
                    let sio = match it.peek().map(|n| &n.proto) {
                        Some(Proto::SocketIo(s)) => Some(s.as_ref()),
                        _ => None,
                    };
                    parts.push(crate::dissect::socketio::summary(e, sio));
                }
            }
            write!(out, "{}", parts.join("; "))?;
        }
        Proto::WebSocket(_) => {
            let mut first = true;
            for l in p.layers {
                if let Proto::Pmce(i) = &l.proto {
                    // After its frame's part: what the compression did.
                    match (&i.error, i.fin) {
                        (Some(_), _) => write!(out, ", compressed, not inflated")?,
                        (None, true) => write!(
                            out,
                            ", compressed {} -> {} bytes{}",
                            i.message_compressed,
                            i.message_len,
                            if i.cut { " (cut at the limit)" } else { "" }
                        )?,
                        (None, false) => write!(out, ", compressed (continued)")?,
                    }
                }
                if let Proto::WebSocket(f) = &l.proto {
                    if !first {
                        out.write_all(b"; ")?;
                    }
                    first = false;
                    write!(
                        out,
                        "WebSocket {}{}{}, payload {}",
                        crate::wire::websocket::frame::OpCode::from(f.opcode).name(),
                        if f.fin { " FIN" } else { "" },
                        if f.masked { " masked" } else { "" },
                        f.payload_len
                    )?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn arp_line<W: Write>(out: &mut W, a: &arp::Packet) -> io::Result<()> {
    match a.oper {
        1 => writeln!(
            out,
            "ARP, Request who-has {} tell {}, length 28",
            a.target_ip, a.sender_ip
        ),
        2 => writeln!(
            out,
            "ARP, Reply {} is-at {}, length 28",
            a.sender_ip, a.sender_mac
        ),
        n => writeln!(out, "ARP, operation {n}, length 28"),
    }
}

fn problem_note<W: Write>(out: &mut W, p: &Packet) -> io::Result<()> {
    if p.info.caplen < p.info.len {
        out.write_all(b" [captured ")?;
        num::u64(out, u64::from(p.info.caplen))?;
        out.write_all(b" of ")?;
        num::u64(out, u64::from(p.info.len))?;
        out.write_all(b" bytes]")?;
    }
    if let Some(l) = p.layers.iter().find(|l| l.problem.is_some()) {
        if let Some(e) = &l.problem {
            write!(out, " [{e}]")?;
        }
    }
    out.write_all(b"\n")
}

/// The frame line that heads the detail view.
fn frame_line<W: Write>(out: &mut W, p: &Packet) -> io::Result<()> {
    let (y, m, d) = civil(p.info.ts_sec.div_euclid(86_400));
    write!(
        out,
        "Frame {}: {} bytes on wire, {} bytes captured, {y:04}-{m:02}-{d:02} ",
        p.info.number, p.info.len, p.info.caplen
    )?;
    time_of_day(out, p.info.ts_sec, p.info.ts_nsec, p.info.ts_digits)?;
    write!(out, " UTC, link {}", p.info.link.name())?;
    if p.info.caplen < p.info.len {
        write!(
            out,
            " (cut by the snap length: {} bytes not captured)",
            p.info.len - p.info.caplen
        )?;
    }
    out.write_all(b"\n")
}

fn layer_heading<W: Write>(out: &mut W, l: &Layer) -> io::Result<()> {
    // "Title  [OSI n name · TCP/IP layer]  bytes a..b", written piece by piece (hot path).
    if l.quoted {
        out.write_all(b"(quoted by the ICMP error) ")?;
    }
    if l.inner > 0 {
        out.write_all(b"(inner: in the tunnel) ")?;
    }
    if l.reassembled && !matches!(l.proto, Proto::Reassembled(_)) {
        out.write_all(b"(reassembled) ")?;
    }
    out.write_all(l.title().as_bytes())?;
    out.write_all(b"  [OSI ")?;
    write_u64(out, l.osi().into())?;
    out.write_all(b" ")?;
    out.write_all(l.osi_name().as_bytes())?;
    out.write_all(" · TCP/IP ".as_bytes())?;
    out.write_all(l.tcpip().name().as_bytes())?;
    out.write_all(b"]  bytes ")?;
    write_u64(out, l.start as u64)?;
    out.write_all(b"..")?;
    write_u64(out, l.end as u64)?;
    if l.reassembled {
        out.write_all(b" of the reassembled bytes")?;
    }
    out.write_all(b"\n")
}

/// A tree like `tshark -V`: each layer headed with its OSI and TCP/IP layer and byte range,
/// each field with its value and meaning.
pub fn detail<W: Write>(out: &mut W, p: &Packet) -> io::Result<()> {
    frame_line(out, p)?;
    for l in p.layers {
        layer_heading(out, l)?;
        if matches!(l.proto, Proto::Data) {
            // The payload: its length, then the bytes themselves (at most 256).
            let bytes = p.bytes_of(l).get(l.start..l.end).unwrap_or(&[]);
            writeln!(out, "    len: {}  — bytes of payload captured", bytes.len())?;
            dump_at(out, &bytes[..bytes.len().min(256)], 0, b"    ")?;
            if bytes.len() > 256 {
                writeln!(out, "    … {} more bytes not shown", bytes.len() - 256)?;
            }
            continue;
        }
        for f in p.fields_of(l) {
            out.write_all(b"    ")?;
            out.write_all(f.name.as_bytes())?;
            out.write_all(b": ")?;
            write_value(out, &f.value)?;
            out.write_all("  — ".as_bytes())?;
            out.write_all(f.meaning.as_bytes())?;
            out.write_all(b"\n")?;
        }
    }
    out.write_all(b"\n")
}

/// Writes a number in decimal without going through `core::fmt`.
fn write_u64<W: Write>(out: &mut W, mut n: u64) -> io::Result<()> {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.write_all(&buf[i..])
}

/// A field value as the detail view shows it (the same text as its `Display`).
fn write_value<W: Write>(out: &mut W, v: &Value) -> io::Result<()> {
    match v {
        Value::U(n) => write_u64(out, *n),
        Value::Str(s) => out.write_all(s.as_bytes()),
        Value::Static(s) => out.write_all(s.as_bytes()),
        Value::Bool(true) => out.write_all(b"set"),
        Value::Bool(false) => out.write_all(b"not set"),
        other => write!(out, "{other}"),
    }
}

const COLOURS: [&str; 6] = [
    "\x1b[34m", "\x1b[32m", "\x1b[33m", "\x1b[35m", "\x1b[36m", "\x1b[31m",
];

/// The frame as hex+ASCII, each layer's bytes under a label naming the layer (and in its own
/// colour when `colour` is set): header and payload made visible.
pub fn hex<W: Write>(out: &mut W, p: &Packet, colour: bool) -> io::Result<()> {
    frame_line(out, p)?;
    let mut covered = 0;
    for (i, l) in p.layers.iter().enumerate() {
        if l.reassembled {
            continue;
        }
        let (on, off) = if colour {
            (COLOURS[i % COLOURS.len()], "\x1b[0m")
        } else {
            ("", "")
        };
        writeln!(
            out,
            "{on}[{} {}..{} · OSI {} {} · {}]{off}",
            l.name(),
            l.start,
            l.end,
            l.osi(),
            l.osi_name(),
            match (
                l.quoted,
                l.inner > 0,
                matches!(
                    l.proto,
                    Proto::Data | Proto::WebSocket(_) | Proto::Pmce(_) | Proto::Segment(_)
                )
            ) {
                (true, _, _) => "quoted by the ICMP error",
                (false, true, true) => "inner payload (in the tunnel)",
                (false, true, false) => "inner header (in the tunnel)",
                (false, false, true) => "payload",
                (false, false, false) => "header",
            }
        )?;
        let bytes = p.data.get(l.start..l.end).unwrap_or(&[]);
        out.write_all(on.as_bytes())?;
        dump_at(out, bytes, l.start, b"  ")?;
        out.write_all(off.as_bytes())?;
        covered = covered.max(l.end);
    }
    if covered < p.data.len() {
        writeln!(
            out,
            "[trailer {}..{} · link-layer padding after the IP packet]",
            covered,
            p.data.len()
        )?;
        dump_at(out, p.data.get(covered..).unwrap_or(&[]), covered, b"  ")?;
    }
    // Messages this frame completed, from the bytes of several segments: offsets are in the
    // reassembled bytes, as Wireshark's "Reassembled TCP" tab shows them.
    for (i, l) in p.layers.iter().enumerate().filter(|(_, l)| l.reassembled) {
        let (on, off) = if colour {
            (COLOURS[i % COLOURS.len()], "\x1b[0m")
        } else {
            ("", "")
        };
        if let Proto::Reassembled(r) = &l.proto {
            writeln!(
                out,
                "{on}[reassembled {}..{} · {} bytes from {} segments: {}]{off}",
                l.start,
                l.end,
                r.length,
                r.segments.len(),
                r.segments
                    .iter()
                    .map(|(f, n)| format!("#{f}({n})"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )?;
            continue;
        }
        writeln!(
            out,
            "{on}[{} {}..{} of the reassembled bytes · OSI {} {}]{off}",
            l.name(),
            l.start,
            l.end,
            l.osi(),
            l.osi_name(),
        )?;
        let bytes = p.reassembled.get(l.start..l.end).unwrap_or(&[]);
        out.write_all(on.as_bytes())?;
        dump_at(out, bytes, l.start, b"  ")?;
        out.write_all(off.as_bytes())?;
    }
    out.write_all(b"\n")
}

/// Hex+ASCII lines whose offsets are frame offsets, in the layout of `render::hexdump`
/// (`OFFS  xx xx … xx  xx … xx  text`), built in a stack buffer: no allocation per byte.
fn dump_at<W: Write>(out: &mut W, bytes: &[u8], base: usize, indent: &[u8]) -> io::Result<()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut line = [b' '; 128];
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let ind = indent.len().min(16);
        line[..ind].copy_from_slice(&indent[..ind]);
        let off = base + i * 16;
        let mut n = ind;
        if off > 0xffff {
            out.write_all(&line[..ind])?;
            write!(out, "{off:04x}")?;
            n = 0;
        } else {
            for shift in [12, 8, 4, 0] {
                line[n] = HEX[(off >> shift) & 0xf];
                n += 1;
            }
        }
        line[n] = b' ';
        line[n + 1] = b' ';
        n += 2;
        let hex_start = n;
        for (j, &b) in chunk.iter().enumerate() {
            if j == 8 {
                line[n] = b' ';
                n += 1;
            }
            line[n] = HEX[usize::from(b >> 4)];
            line[n + 1] = HEX[usize::from(b & 0xf)];
            line[n + 2] = b' ';
            n += 3;
        }
        while n < hex_start + 50 {
            line[n] = b' ';
            n += 1;
        }
        for &b in chunk {
            line[n] = if b.is_ascii_graphic() || b == b' ' {
                b
            } else {
                b'.'
            };
            n += 1;
        }
        line[n] = b'\n';
        out.write_all(&line[..=n])?;
    }
    Ok(())
}

fn json_str<W: Write>(out: &mut W, s: &str) -> io::Result<()> {
    serde_json::to_writer(&mut *out, s).map_err(io::Error::other)
}

/// One JSON object a packet: `frame`, `ts`, `caplen`, `len`, `layers` (see docs/dissect-json.md).
pub fn json<W: Write>(out: &mut W, p: &Packet) -> io::Result<()> {
    write!(
        out,
        "{{\"type\":\"packet\",\"frame\":{},\"ts\":{}",
        p.info.number, p.info.ts_sec
    )?;
    write_frac(out, p.info.ts_nsec, p.info.ts_digits)?;
    write!(
        out,
        ",\"caplen\":{},\"len\":{},\"link\":\"{}\",\"frame.interface_id\":{},\"frame.protocols\":\"",
        p.info.caplen,
        p.info.len,
        p.info.link.name(),
        p.info.interface
    )?;
    let mut first = true;
    let mut err = Ok(());
    p.protocols(|name| {
        if err.is_ok() {
            if !first {
                err = out.write_all(b":");
            }
            first = false;
            if err.is_ok() {
                err = out.write_all(name.as_bytes());
            }
        }
    });
    err?;
    out.write_all(b"\",\"layers\":[")?;
    for (i, l) in p.layers.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write!(
            out,
            "{{\"name\":\"{}\",\"osi\":{},\"osi_name\":\"{}\",\"tcpip\":\"{}\",\"range\":[{},{}],\"fields\":{{",
            l.name(),
            l.osi(),
            l.osi_name(),
            l.tcpip().name(),
            l.start,
            l.end
        )?;
        let fields = p.fields_of(l);
        for (j, f) in fields.iter().enumerate() {
            if j > 0 {
                out.write_all(b",")?;
            }
            json_str(out, f.name)?;
            out.write_all(b":")?;
            match &f.value {
                Value::U(n) => write!(out, "{n}")?,
                Value::Bool(b) => write!(out, "{b}")?,
                Value::Str(s) => json_str(out, s)?,
                Value::Static(s) => json_str(out, s)?,
                Value::Hex(..) => json_str(out, &f.value.to_string())?,
                Value::List(v) => serde_json::to_writer(&mut *out, v).map_err(io::Error::other)?,
                Value::Truncated => out.write_all(b"null")?,
            }
        }
        out.write_all(b"}")?;
        field_ranges(out, l.start, &fields)?;
        if l.quoted {
            out.write_all(b",\"quoted\":true")?;
        }
        if l.inner > 0 {
            write!(out, ",\"inner\":{}", l.inner)?;
        }
        if l.reassembled {
            out.write_all(b",\"reassembled\":true")?;
        }
        if let Some(e) = &l.problem {
            out.write_all(b",\"problem\":")?;
            json_str(out, &e.to_string())?;
        }
        out.write_all(b"}")?;
    }
    out.write_all(b"]}\n")
}

/// `,"field_ranges":{"src":[26,30],"qry.name":[[54,68]],…}`: where each field's bytes are, in
/// the coordinates of the layer's `range` (a list's items each have theirs); fields computed
/// by wirelab have none.
fn field_ranges<W: Write>(out: &mut W, base: usize, fields: &[Field]) -> io::Result<()> {
    let pair = |out: &mut W, (s, e): (usize, usize)| -> io::Result<()> {
        out.write_all(b"[")?;
        write_u64(out, (base + s) as u64)?;
        out.write_all(b",")?;
        write_u64(out, (base + e) as u64)?;
        out.write_all(b"]")
    };
    out.write_all(b",\"field_ranges\":{")?;
    let mut first = true;
    for f in fields {
        if matches!(f.span, Span::None) {
            continue;
        }
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        json_str(out, f.name)?;
        out.write_all(b":")?;
        match &f.span {
            Span::None => {}
            Span::One(s, e) => pair(out, (*s, *e))?,
            Span::Each(v) => {
                out.write_all(b"[")?;
                for (i, &r) in v.iter().enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    pair(out, r)?;
                }
                out.write_all(b"]")?;
            }
        }
    }
    out.write_all(b"}")
}

/// The protocol hierarchy and conversation tables.
pub fn stats<W: Write>(out: &mut W, s: &Stats) -> io::Result<()> {
    writeln!(
        out,
        "Protocol hierarchy ({} frames, {} bytes)",
        s.frames, s.bytes
    )?;
    let mut t = super::table(&["protocol", "frames", "% frames", "bytes"]);
    for row in s.hierarchy() {
        let depth = row.path.matches(':').count();
        let name = row.path.rsplit(':').next().unwrap_or("");
        let pct = if s.frames > 0 {
            row.frames as f64 * 100.0 / s.frames as f64
        } else {
            0.0
        };
        t.add_row(vec![
            format!("{}{name}", "  ".repeat(depth)),
            row.frames.to_string(),
            format!("{pct:.1}"),
            row.bytes.to_string(),
        ]);
    }
    writeln!(out, "{t}")?;
    writeln!(
        out,
        "Conversations (TCP and UDP; A is the side that sent first; stream is the index --follow takes)"
    )?;
    let mut t = super::table(&[
        "proto",
        "stream",
        "A",
        "B",
        "A→B frames",
        "A→B bytes",
        "B→A frames",
        "B→A bytes",
        "frames",
        "bytes",
        "duration s",
    ]);
    for c in &s.conversations {
        t.add_row(vec![
            c.proto.to_string(),
            c.stream.map_or_else(|| "-".to_string(), |s| s.to_string()),
            endpoint(c.a),
            endpoint(c.b),
            c.frames_ab.to_string(),
            c.bytes_ab.to_string(),
            c.frames_ba.to_string(),
            c.bytes_ba.to_string(),
            (c.frames_ab + c.frames_ba).to_string(),
            (c.bytes_ab + c.bytes_ba).to_string(),
            format!("{:.6}", c.last_ts - c.first_ts),
        ]);
    }
    writeln!(out, "{t}")?;
    if s.dropped_conversations > 0 {
        writeln!(
            out,
            "({} frames of further conversations not tabulated)",
            s.dropped_conversations
        )?;
    }
    Ok(())
}

fn endpoint((ip, port): (std::net::IpAddr, u16)) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        v4 => format!("{v4}:{port}"),
    }
}

/// The stats as one JSON object.
pub fn stats_json<W: Write>(out: &mut W, s: &Stats) -> io::Result<()> {
    let phs: Vec<serde_json::Value> = s
        .hierarchy()
        .iter()
        .map(|r| serde_json::json!({"path": r.path, "frames": r.frames, "bytes": r.bytes}))
        .collect();
    let conv: Vec<serde_json::Value> = s
        .conversations
        .iter()
        .map(|c| {
            serde_json::json!({"proto": c.proto, "stream": c.stream, "a": endpoint(c.a), "b": endpoint(c.b),
                "frames_ab": c.frames_ab, "bytes_ab": c.bytes_ab, "frames_ba": c.frames_ba,
                "bytes_ba": c.bytes_ba, "duration": c.last_ts - c.first_ts})
        })
        .collect();
    super::json_typed(
        out,
        "stats",
        &serde_json::json!({"frames": s.frames, "bytes": s.bytes, "hierarchy": phs, "conversations": conv}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_417), (2025, 11, 25));
        assert_eq!(civil(-1), (1969, 12, 31));
    }

    #[test]
    fn fast_dump_matches_the_house_hexdump() {
        let bytes: Vec<u8> = (0u8..=40).chain(b"Hello, wire".iter().copied()).collect();
        let mut fast = Vec::new();
        dump_at(&mut fast, &bytes, 0, b"    ").unwrap();
        let mut house = Vec::new();
        crate::render::hexdump::write(&mut house, &bytes, "    ", 4096).unwrap();
        assert_eq!(
            String::from_utf8(fast).unwrap(),
            String::from_utf8(house).unwrap()
        );
    }

    #[test]
    fn values_written_like_display() {
        for v in [
            Value::U(0),
            Value::U(u64::MAX),
            Value::U(1234),
            Value::Bool(true),
            Value::Hex(18, 4),
        ] {
            let mut fast = Vec::new();
            write_value(&mut fast, &v).unwrap();
            assert_eq!(String::from_utf8(fast).unwrap(), v.to_string());
        }
    }

    #[test]
    fn times() {
        let mut v = Vec::new();
        time_of_day(&mut v, 1_764_081_778, 145_313_000, 6).unwrap();
        assert_eq!(String::from_utf8(v).unwrap(), "14:42:58.145313");
        let mut v = Vec::new();
        write_frac(&mut v, 5, 9).unwrap();
        assert_eq!(v, b".000000005");
        // As `format!` writes them, for every digit count and edge of the range.
        for sec in [
            0i64,
            59,
            60,
            3599,
            3600,
            86_399,
            86_400,
            -1,
            i64::MAX,
            i64::MIN,
        ] {
            for nsec in [
                0u32,
                1,
                999,
                1000,
                999_999,
                1_000_000,
                999_999_999,
                1_000_000_000,
                u32::MAX,
            ] {
                for digits in [6u8, 9] {
                    let day = sec.rem_euclid(86_400);
                    let frac = if digits >= 9 {
                        format!(".{nsec:09}")
                    } else {
                        format!(".{:06}", nsec / 1000)
                    };
                    let want = format!(
                        "{:02}:{:02}:{:02}{frac}",
                        day / 3600,
                        day % 3600 / 60,
                        day % 60
                    );
                    let mut v = Vec::new();
                    time_of_day(&mut v, sec, nsec, digits).unwrap();
                    assert_eq!(String::from_utf8(v).unwrap(), want, "{sec} {nsec} {digits}");
                }
            }
        }
    }
}

//! `dissect --flow`: the conversations of a capture as a ladder diagram (Wireshark's Flow
//! Graph): one column per host and port, one arrow per packet labelled with its flags,
//! relative sequence and acknowledgement numbers and length, and the time on the left.

use std::io::{self, Write};

use crate::dissect::{Packet, Proto};

/// Gap between two columns never narrower than this.
const MIN_GAP: usize = 24;
/// Nor wider than this (longer labels are cut).
const MAX_GAP: usize = 64;
/// Width of the time column.
const TIME_W: usize = 10;

#[derive(Debug, Default)]
pub struct Flow {
    /// Endpoints in order of first appearance.
    hosts: Vec<String>,
    rows: Vec<Row>,
    first_ts: Option<f64>,
    /// Any TCP segment drawn (the footer explains seq and ack then).
    tcp: bool,
}

#[derive(Debug)]
struct Row {
    t: f64,
    from: usize,
    to: usize,
    label: String,
}

impl Flow {
    /// Adds one packet; packets with no IP addresses (ARP, say) are left out.
    pub fn add(&mut self, p: &Packet) {
        let Some((src, dst)) = p.ip_addrs() else {
            return;
        };
        let (from, to) = match p.ports() {
            Some((sp, dp)) => (endpoint(src, Some(sp)), endpoint(dst, Some(dp))),
            None => (endpoint(src, None), endpoint(dst, None)),
        };
        let t = p.info.ts_sec as f64 + f64::from(p.info.ts_nsec) / 1e9;
        let t0 = *self.first_ts.get_or_insert(t);
        self.tcp |= p.layers.iter().any(|l| matches!(l.proto, Proto::Tcp(..)));
        let from = self.column(from);
        let to = self.column(to);
        self.rows.push(Row {
            t: t - t0,
            from,
            to,
            label: label(p),
        });
    }

    fn column(&mut self, host: String) -> usize {
        match self.hosts.iter().position(|h| *h == host) {
            Some(i) => i,
            None => {
                self.hosts.push(host);
                self.hosts.len() - 1
            }
        }
    }

    /// Draws the diagram.
    pub fn draw<W: Write>(&self, out: &mut W) -> io::Result<()> {
        if self.rows.is_empty() {
            return writeln!(out, "(no IP packets to draw)");
        }
        let widest_label = self.rows.iter().map(|r| r.label.len()).max().unwrap_or(0);
        let widest_host = self.hosts.iter().map(String::len).max().unwrap_or(0);
        let gap = (widest_label + 8)
            .max(widest_host + 2)
            .clamp(MIN_GAP, MAX_GAP);
        let n = self.hosts.len();
        let left = TIME_W.max(widest_host / 2 + 2);
        let width = left + (n - 1) * gap + 1;
        let x = |i: usize| left + i * gap;

        // Host names centred on their columns.
        let mut head = vec![b' '; width + widest_host];
        for (i, h) in self.hosts.iter().enumerate() {
            let start = x(i).saturating_sub(h.len() / 2);
            head[start..start + h.len()].copy_from_slice(h.as_bytes());
        }
        writeln!(out, "{}", String::from_utf8_lossy(&head).trim_end())?;
        let mut rail = vec![b' '; width];
        for i in 0..n {
            rail[x(i)] = b'|';
        }
        let mut top = rail.clone();
        top[..7].copy_from_slice(b"time, s");
        writeln!(out, "{}", String::from_utf8_lossy(&top).trim_end())?;

        for r in &self.rows {
            let mut line: Vec<char> = rail.iter().map(|&b| b as char).collect();
            let t = format!("{:.6}", r.t);
            for (i, c) in t.chars().enumerate().take(left - 1) {
                line[i] = c;
            }
            if r.from == r.to {
                let at = x(r.from);
                let text = format!(" ⟲ {}", r.label);
                write_over(&mut line, at + 1, &text);
            } else {
                let (a, b) = (x(r.from.min(r.to)), x(r.from.max(r.to)));
                for c in line.iter_mut().take(b).skip(a + 1) {
                    *c = '-';
                }
                if r.to > r.from {
                    line[b - 1] = '>';
                } else {
                    line[a + 1] = '<';
                }
                let room = b - a - 5;
                let mut text: String = r.label.chars().take(room).collect();
                if text.len() < r.label.len() && room > 1 {
                    text.pop();
                    text.push('…');
                }
                let text = format!(" {text} ");
                let mid = a + (b - a) / 2;
                let len = text.chars().count();
                let start = mid
                    .saturating_sub(len / 2)
                    .min((b - 1).saturating_sub(len))
                    .max(a + 2);
                write_over(&mut line, start, &text);
            }
            let s: String = line.into_iter().collect();
            writeln!(out, "{}", s.trim_end())?;
        }
        write!(
            out,
            "\n{} packet(s) between {n} endpoint(s), time from the first packet",
            self.rows.len()
        )?;
        if self.tcp {
            write!(
                out,
                "; seq and ack are relative to each side's first sequence number, len is the \
                 payload"
            )?;
        }
        writeln!(out)
    }
}

fn write_over(line: &mut Vec<char>, start: usize, text: &str) {
    for (i, c) in text.chars().enumerate() {
        let at = start + i;
        if at < line.len() {
            line[at] = c;
        } else {
            line.push(c);
        }
    }
}

fn endpoint(ip: std::net::IpAddr, port: Option<u16>) -> String {
    match (ip, port) {
        (std::net::IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
        (a, Some(p)) => format!("{a}:{p}"),
        (a, None) => a.to_string(),
    }
}

/// What one arrow says: TCP flags, relative seq/ack and length, then the application message.
fn label(p: &Packet) -> String {
    let mut parts = Vec::new();
    for l in p.layers.iter().filter(|l| !l.quoted) {
        match &l.proto {
            Proto::Tcp(h, m) => {
                let mut s = format!("{} seq={}", flag_names(h.flags), m.rel_seq);
                if h.flags.ack() {
                    s.push_str(&format!(" ack={}", m.rel_ack));
                }
                s.push_str(&format!(" len={}", m.len));
                parts.push(s);
            }
            Proto::Udp(h) => parts.push(format!("len={}", usize::from(h.length).saturating_sub(8))),
            Proto::Icmp(_) => parts.push("ICMP".into()),
            Proto::Icmpv6(_) => parts.push("ICMPv6".into()),
            Proto::Dns(m) => {
                let q = m.questions.first().map(|q| q.name.as_str()).unwrap_or("");
                if m.is_response() {
                    parts.push(format!("DNS reply {q}: {} answer(s)", m.answers.len()));
                } else {
                    parts.push(format!("DNS query {q}"));
                }
            }
            Proto::Http(m) => parts.push(match &m.start {
                crate::wire::http_message::StartLine::Request { method, target, .. } => {
                    format!("HTTP {method} {target}")
                }
                crate::wire::http_message::StartLine::Response { status, reason, .. } => {
                    format!("HTTP {status} {reason}")
                }
            }),
            Proto::WebSocket(f) => parts.push(format!(
                "WS {}{}",
                ws_opcode(f.opcode),
                if f.masked { ", masked" } else { "" }
            )),
            _ => {}
        }
    }
    if parts.is_empty() {
        "IP".into()
    } else {
        parts.join(" · ")
    }
}

/// Flag names in the order Wireshark's Flow Graph writes them: "SYN, ACK", "FIN, ACK".
fn flag_names(f: crate::wire::tcp::Flags) -> String {
    use crate::wire::tcp::Flags as F;
    let v: Vec<&str> = [
        (F::SYN, "SYN"),
        (F::FIN, "FIN"),
        (F::RST, "RST"),
        (F::PSH, "PSH"),
        (F::URG, "URG"),
        (F::ACK, "ACK"),
        (F::ECE, "ECE"),
        (F::CWR, "CWR"),
    ]
    .iter()
    .filter(|(b, _)| f.has(*b))
    .map(|(_, n)| *n)
    .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

fn ws_opcode(op: u8) -> &'static str {
    match op {
        0 => "continuation",
        1 => "text",
        2 => "binary",
        8 => "close",
        9 => "ping",
        10 => "pong",
        _ => "reserved",
    }
}

//! `--stats`: a protocol hierarchy (like `tshark -z io,phs`) and conversations (like
//! `tshark -z conv,tcp` and `conv,udp`). Counts only; `render::packet` draws the tables.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{Packet, Proto};

/// At most this many conversations are tracked; later ones are counted in `dropped`.
const MAX_CONVERSATIONS: usize = 100_000;

/// One row of the protocol hierarchy: a path of layer names such as `eth:ipv4:tcp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhsRow {
    pub path: String,
    pub frames: u64,
    pub bytes: u64,
}

/// Traffic between two endpoints over TCP or UDP.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub proto: &'static str,
    /// TCP's stream index (what `--follow` takes); none for UDP.
    pub stream: Option<u32>,
    pub a: (IpAddr, u16),
    pub b: (IpAddr, u16),
    pub frames_ab: u64,
    pub bytes_ab: u64,
    pub frames_ba: u64,
    pub bytes_ba: u64,
    pub first_ts: f64,
    pub last_ts: f64,
}

/// A conversation's key: protocol, the two endpoints (lower first), and TCP's stream index (a
/// reused port pair is a new stream).
type ConvKey = (&'static str, (IpAddr, u16), (IpAddr, u16), Option<u32>);

/// Counters filled one packet at a time.
#[derive(Debug, Default)]
pub struct Stats {
    pub frames: u64,
    pub bytes: u64,
    phs_index: HashMap<String, usize>,
    pub phs: Vec<PhsRow>,
    conv_index: HashMap<ConvKey, usize>,
    pub conversations: Vec<Conversation>,
    pub dropped_conversations: u64,
}

impl Stats {
    pub fn add(&mut self, p: &Packet) {
        self.frames += 1;
        let len = u64::from(p.info.len);
        self.bytes += len;
        let mut path = String::new();
        for l in p.layers {
            // Where the stream decoding held or put bytes together is not a protocol.
            if matches!(l.proto, Proto::Segment(_) | Proto::Reassembled(_)) {
                continue;
            }
            if !path.is_empty() {
                path.push(':');
            }
            path.push_str(l.name());
            let i = match self.phs_index.get(&path) {
                Some(&i) => i,
                None => {
                    self.phs.push(PhsRow {
                        path: path.clone(),
                        frames: 0,
                        bytes: 0,
                    });
                    self.phs_index.insert(path.clone(), self.phs.len() - 1);
                    self.phs.len() - 1
                }
            };
            if let Some(row) = self.phs.get_mut(i) {
                row.frames += 1;
                row.bytes += len;
            }
        }
        let Some((proto, stream)) = p.layers.iter().find_map(|l| match l.proto {
            Proto::Tcp(_, m) if !l.quoted => Some(("tcp", Some(m.stream))),
            Proto::Udp(_) if !l.quoted => Some(("udp", None)),
            _ => None,
        }) else {
            return;
        };
        let (Some((src, dst)), Some((sp, dp))) = (p.ip_addrs(), p.ports()) else {
            return;
        };
        let ts = p.info.ts_sec as f64 + f64::from(p.info.ts_nsec) / 1e9;
        let (x, y) = ((src, sp), (dst, dp));
        let (a, b, forward) = if x <= y { (x, y, true) } else { (y, x, false) };
        let key = (proto, a, b, stream);
        let i = match self.conv_index.get(&key) {
            Some(&i) => i,
            None if self.conversations.len() >= MAX_CONVERSATIONS => {
                self.dropped_conversations += 1;
                return;
            }
            None => {
                // The side that sent first is A, as tshark shows it.
                let (a, b) = if forward { (a, b) } else { (b, a) };
                self.conversations.push(Conversation {
                    proto,
                    stream,
                    a,
                    b,
                    frames_ab: 0,
                    bytes_ab: 0,
                    frames_ba: 0,
                    bytes_ba: 0,
                    first_ts: ts,
                    last_ts: ts,
                });
                self.conv_index.insert(key, self.conversations.len() - 1);
                self.conversations.len() - 1
            }
        };
        if let Some(c) = self.conversations.get_mut(i) {
            if c.a == x {
                c.frames_ab += 1;
                c.bytes_ab += len;
            } else {
                c.frames_ba += 1;
                c.bytes_ba += len;
            }
            c.last_ts = ts;
        }
    }

    /// The hierarchy rows sorted so that each path is followed by its children.
    pub fn hierarchy(&self) -> Vec<&PhsRow> {
        let mut rows: Vec<&PhsRow> = self.phs.iter().collect();
        rows.sort_by(|a, b| a.path.split(':').cmp(b.path.split(':')));
        rows
    }
}

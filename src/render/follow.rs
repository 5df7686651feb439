//! `dissect --follow N`: a TCP stream's bytes as `tshark -z follow,tcp,ascii|hex,N` prints
//! them (node 1's chunks indented by a tab), or one JSON object a chunk. As tshark's: ASCII
//! keeps CR and LF and prints other unprintable bytes (tab too) as '.'.

use std::io::{self, Write};
use std::net::IpAddr;

use serde_json::json;

use crate::dissect::follow::Event;

const RULE: &[u8] = b"===================================================================\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowFormat {
    Ascii,
    Hex,
    Json,
}

/// The header: the stream and its two endpoints (":0" while no data was seen, as tshark).
pub fn header<W: Write>(
    out: &mut W,
    f: FollowFormat,
    stream: u32,
    nodes: Option<[(IpAddr, u16); 2]>,
) -> io::Result<()> {
    let node = |i: usize| match nodes {
        Some(n) => format!("{}:{}", n[i].0, n[i].1),
        None => ":0".to_string(),
    };
    if f == FollowFormat::Json {
        return super::json_line(
            out,
            &json!({"type": "follow", "stream": stream, "node0": node(0), "node1": node(1)}),
        );
    }
    out.write_all(b"\n")?;
    out.write_all(RULE)?;
    let mode = if f == FollowFormat::Hex {
        "hex"
    } else {
        "ascii"
    };
    writeln!(out, "Follow: tcp,{mode}")?;
    writeln!(out, "Filter: tcp.stream eq {stream}")?;
    writeln!(out, "Node 0: {}", node(0))?;
    writeln!(out, "Node 1: {}", node(1))
}

pub fn footer<W: Write>(out: &mut W, f: FollowFormat) -> io::Result<()> {
    if f == FollowFormat::Json {
        return Ok(());
    }
    out.write_all(RULE)
}

pub fn event<W: Write>(out: &mut W, f: FollowFormat, e: &Event) -> io::Result<()> {
    match (f, e) {
        (
            FollowFormat::Json,
            Event::Data {
                node,
                frame,
                offset,
                bytes,
            },
        ) => super::json_line(
            out,
            &json!({"type": "chunk", "node": node, "frame": frame, "offset": offset,
                    "len": bytes.len(), "data": String::from_utf8_lossy(bytes),
                    "hex": hex(bytes)}),
        ),
        (
            FollowFormat::Json,
            Event::Gap {
                node,
                frame,
                offset,
                missing,
            },
        ) => super::json_line(
            out,
            &json!({"type": "gap", "node": node, "frame": frame, "offset": offset, "missing": missing}),
        ),
        // As tshark's follow: the note is a chunk of its own, in the offsets.
        (
            ff,
            Event::Gap {
                node,
                frame,
                offset,
                missing,
            },
        ) => event(
            out,
            ff,
            &Event::Data {
                node: *node,
                frame: *frame,
                offset: *offset,
                bytes: crate::dissect::follow::gap_text(*missing),
            },
        ),
        (FollowFormat::Ascii, Event::Data { node, bytes, .. }) => {
            let tab: &[u8] = if *node == 1 { b"\t" } else { b"" };
            out.write_all(tab)?;
            writeln!(out, "{}", bytes.len())?;
            let shown: Vec<u8> = bytes
                .iter()
                .map(|&b| {
                    if b == b'\n' || b == b'\r' || (0x20..0x7f).contains(&b) {
                        b
                    } else {
                        b'.'
                    }
                })
                .collect();
            out.write_all(&shown)?;
            out.write_all(b"\n")
        }
        (
            FollowFormat::Hex,
            Event::Data {
                node,
                offset,
                bytes,
                ..
            },
        ) => {
            let tab = if *node == 1 { "\t" } else { "" };
            for (i, line) in bytes.chunks(16).enumerate() {
                let mut s = format!("{tab}{:08X}  ", offset + 16 * i as u64);
                for j in 0..16 {
                    match line.get(j) {
                        Some(b) => s.push_str(&format!("{b:02x} ")),
                        None => s.push_str("   "),
                    }
                    if j == 7 {
                        s.push(' ');
                    }
                }
                s.push(' ');
                for (j, &b) in line.iter().enumerate() {
                    if j == 8 {
                        s.push(' ');
                    }
                    s.push(if (0x20..0x7f).contains(&b) {
                        b as char
                    } else {
                        '.'
                    });
                }
                // tshark drops one space at the end of a line (from its own separator).
                writeln!(out, "{}", s.strip_suffix(' ').unwrap_or(&s))?;
            }
            Ok(())
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

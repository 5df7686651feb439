//! Output: text, tables and JSON. Everything writes to a `&mut impl Write`; nothing here
//! knows about sockets.

pub mod chart;
pub mod flow;
pub mod follow;
pub mod hexdump;
pub mod hub;
pub mod layers;
pub mod lesson;
pub mod markdown;
pub mod num;
pub mod packet;
pub mod sio;
pub mod sio_server;
pub mod transport;
pub mod workqueue;
pub mod ws;

use std::io::{self, Write};

use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;

/// A table in wirelab's house style: plain ASCII borders, so it reads the same in a terminal,
/// a log file and a lesson.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::ASCII_BORDERS_ONLY_CONDENSED)
        .set_header(header.iter().copied());
    t
}

/// Tables narrower than this lose or shorten columns (see [`width`]).
pub const NARROW: usize = 100;

/// How wide output may be: `COLUMNS` when set, else the terminal's width when standard
/// output is a terminal, else `None`: piped output keeps full tables, as `ls` and `ps` do.
pub fn width() -> Option<usize> {
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&c| c > 0);
    if from_env.is_some() {
        return from_env;
    }
    use std::io::IsTerminal;
    if !io::stdout().is_terminal() {
        return None;
    }
    // SAFETY: TIOCGWINSZ fills a winsize struct we own.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}

/// Makes `t` fit in `width` columns (wrapping cells), or leaves it whole for `None`.
pub fn fit(t: &mut Table, width: Option<usize>) {
    if let Some(w) = width {
        t.set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(u16::try_from(w).unwrap_or(u16::MAX));
    }
}

/// `text` as lines of at most `width` columns (words kept whole), each after `indent`;
/// one line when `width` is `None`.
pub fn wrap(text: &str, width: Option<usize>, indent: &str) -> String {
    let Some(w) = width else {
        return format!("{indent}{text}");
    };
    let room = w.saturating_sub(indent.chars().count()).max(20);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > room {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
        .iter()
        .map(|l| format!("{indent}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One JSON value on one line, its measurements rounded (see [`Rounding`]).
pub fn json_line<W: Write, T: Serialize>(out: &mut W, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, Rounding::default());
    value.serialize(&mut ser).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

/// One JSON object on one line with `"type": kind` first (docs/json.md: every object a
/// command prints says what it is). `value` must serialize as an object.
pub fn json_typed<W: Write, T: Serialize>(out: &mut W, kind: &str, value: &T) -> io::Result<()> {
    let mut body = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut body, Rounding::default());
    value.serialize(&mut ser).map_err(io::Error::other)?;
    let rest = body
        .strip_prefix(b"{")
        .ok_or_else(|| io::Error::other("json_typed: not an object"))?;
    out.write_all(b"{\"type\":")?;
    serde_json::to_writer(&mut *out, kind).map_err(io::Error::other)?;
    if rest != b"}" {
        out.write_all(b",")?;
    }
    out.write_all(rest)?;
    out.write_all(b"\n")
}

/// Decimals a measurement is worth, by the unit its key ends in: milliseconds to the
/// microsecond, seconds to the microsecond, rates and percentages to 3, packets/s to 1.
fn decimals_for(key: &str) -> Option<i32> {
    if key.ends_with("_ms") || key.ends_with("_mbps") || key.ends_with("_pct") {
        Some(3)
    } else if key.ends_with("_s") {
        Some(6)
    } else if key.ends_with("_pps") {
        Some(1)
    } else {
        None
    }
}

/// A JSON formatter that rounds every float under a key with a unit (`rtt_ms`,
/// `goodput_mbps`, `rate_pps`, ...) to what it measures: `0.145`, not `0.14540199999999998`.
/// Keys keep their order; nothing is parsed twice.
#[derive(Default)]
pub struct Rounding {
    key: String,
    in_key: bool,
}

impl serde_json::ser::Formatter for Rounding {
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.key.clear();
        self.in_key = true;
        if first {
            Ok(())
        } else {
            w.write_all(b",")
        }
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.in_key = false;
        Ok(())
    }

    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, s: &str) -> io::Result<()> {
        if self.in_key {
            self.key.push_str(s);
        }
        w.write_all(s.as_bytes())
    }

    fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, v: f64) -> io::Result<()> {
        let v = match decimals_for(&self.key) {
            Some(d) => {
                let p = 10f64.powi(d);
                (v * p).round() / p
            }
            None => v,
        };
        w.write_all(float_text(v).as_bytes())
    }
}

/// `v` as serde_json writes a float (shortest round-trip form, `1.0` for whole numbers).
fn float_text(v: f64) -> String {
    serde_json::Number::from_f64(v)
        .map(|n| n.to_string())
        .unwrap_or_else(|| "null".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping() {
        assert_eq!(wrap("a b c", None, "  "), "  a b c");
        let w = wrap(&"word ".repeat(30), Some(40), "  ");
        assert!(w.lines().all(|l| l.chars().count() <= 40), "{w}");
        assert_eq!(w.split_whitespace().count(), 30);
    }

    #[test]
    fn measurements_are_rounded_and_typed() {
        let mut out = Vec::new();
        #[derive(Serialize)]
        struct Row {
            goodput_mbps: f64,
        }
        #[derive(Serialize)]
        struct R {
            rtt_ms: f64,
            n: f64,
            rows: Vec<Row>,
            rate_pps: f64,
            waited_s: f64,
        }
        let v = R {
            rtt_ms: 0.14540199999999998,
            n: 0.123456789,
            rows: vec![Row {
                goodput_mbps: 1.23456,
            }],
            rate_pps: 9999.96,
            waited_s: 5.0,
        };
        json_typed(&mut out, "report", &v).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"type\":\"report\",\"rtt_ms\":0.145,\"n\":0.123456789,\"rows\":[{\"goodput_mbps\":1.235}],\"rate_pps\":10000.0,\"waited_s\":5.0}\n"
        );
        let mut out = Vec::new();
        json_typed(&mut out, "empty", &serde_json::json!({})).unwrap();
        assert_eq!(out, b"{\"type\":\"empty\"}\n");
    }
}

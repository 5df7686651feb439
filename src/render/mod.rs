//! Output: text, tables and JSON. Everything writes to a `&mut impl Write`; nothing here
//! knows about sockets.

pub mod chart;
pub mod flow;
pub mod hexdump;
pub mod hub;
pub mod layers;
pub mod lesson;
pub mod markdown;
pub mod packet;
pub mod transport;
pub mod workqueue;
pub mod ws;

use std::io::{self, Write};

use comfy_table::{presets, Table};
use serde::Serialize;

/// A table in wirelab's house style: plain ASCII borders, so it reads the same in a terminal,
/// a log file and a lesson.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::ASCII_BORDERS_ONLY_CONDENSED)
        .set_header(header.iter().copied());
    t
}

/// One JSON value on one line.
pub fn json_line<W: Write, T: Serialize>(out: &mut W, value: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

//! `compare --chart` / `--svg`: each transport's per-message delivery latency against its
//! sequence number. Head-of-line blocking shows as the ramps after each loss: the messages
//! behind a lost one wait for its retransmission.

use std::fmt::Write as _;
use std::io::{self, Write};

/// One line of the chart: a name and its (sequence number, latency ms) points.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: &'a [(u64, f64)],
}

const MARKS: [char; 4] = ['t', 'u', 'r', '*'];
const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

fn bounds(series: &[Series]) -> (u64, f64) {
    let max_seq = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .max()
        .unwrap_or(0);
    let max_ms = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    (max_seq.max(1), if max_ms > 0.0 { max_ms } else { 1.0 })
}

/// A terminal chart, `width` columns by `height` rows: a mark in every cell some message
/// falls in, one letter per transport (the first letter of its name).
pub fn terminal<W: Write>(
    out: &mut W,
    series: &[Series],
    width: usize,
    height: usize,
) -> io::Result<()> {
    let (max_seq, max_ms) = bounds(series);
    let mut grid = vec![vec![' '; width]; height];
    for (k, s) in series.iter().enumerate() {
        let mark = s.name.chars().next().unwrap_or(MARKS[k % MARKS.len()]);
        for &(seq, ms) in s.points {
            let col = ((seq as f64 / max_seq as f64) * (width - 1) as f64).round() as usize;
            let row = ((ms / max_ms) * (height - 1) as f64).round() as usize;
            let (r, c) = (height - 1 - row.min(height - 1), col.min(width - 1));
            let cell = &mut grid[r][c];
            *cell = if *cell == ' ' || *cell == mark {
                mark
            } else {
                '#'
            };
        }
    }
    writeln!(out, "delivery latency (ms) by sequence number:")?;
    for (i, row) in grid.iter().enumerate() {
        let label = if i == 0 {
            format!("{max_ms:>9.2}")
        } else if i == height - 1 {
            format!("{:>9.2}", 0.0)
        } else {
            " ".repeat(9)
        };
        let line: String = row.iter().collect();
        writeln!(out, "{label} |{}", line.trim_end())?;
    }
    writeln!(out, "{} +{}", " ".repeat(9), "-".repeat(width))?;
    writeln!(
        out,
        "{}  0{}{max_seq}",
        " ".repeat(9),
        " ".repeat(width.saturating_sub(1 + max_seq.to_string().len()))
    )?;
    let legend: Vec<String> = series
        .iter()
        .map(|s| format!("{} = {}", s.name.chars().next().unwrap_or('*'), s.name))
        .collect();
    writeln!(
        out,
        "{} {}; # = both; a gap is a message never delivered",
        " ".repeat(9),
        legend.join(", ")
    )
}

/// The same chart as an SVG document: one polyline per transport, axes and a legend.
pub fn svg(series: &[Series], title: &str) -> String {
    let (w, h) = (800.0, 400.0);
    let (left, right, top, bottom) = (60.0, 20.0, 40.0, 50.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let (max_seq, max_ms) = bounds(series);
    let x = |seq: u64| left + seq as f64 / max_seq as f64 * pw;
    let y = |ms: f64| top + ph - ms / max_ms * ph;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        w / 2.0,
        escape(title)
    );
    let _ = writeln!(
        s,
        r#"<path d="M{left} {top} V{} H{}" fill="none" stroke="black"/>"#,
        top + ph,
        left + pw
    );
    for i in 0..=4 {
        let ms = max_ms * i as f64 / 4.0;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{ms:.2}</text>"#,
            left - 6.0,
            y(ms) + 4.0
        );
        let seq = max_seq * i / 4;
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{seq}</text>"#,
            x(seq),
            top + ph + 18.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">sequence number</text>"#,
        left + pw / 2.0,
        h - 8.0
    );
    let _ = writeln!(
        s,
        r#"<text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle">delivery latency (ms)</text>"#,
        top + ph / 2.0,
        top + ph / 2.0
    );
    for (k, se) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let mut pts = String::new();
        for &(seq, ms) in se.points {
            let _ = write!(pts, "{:.1},{:.1} ", x(seq), y(ms));
        }
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="1"/>"#,
            pts.trim_end()
        );
        let ly = top + 14.0 * k as f64;
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" fill="{colour}">{}</text>"#,
            left + pw - 110.0,
            ly + 10.0,
            escape(se.name)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

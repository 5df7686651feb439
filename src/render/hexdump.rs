//! The classic hex+ASCII dump: offset, 16 bytes in hex, the same bytes as text.
//!
//! ```text
//! 0000  48 65 6c 6c 6f 0a                                 Hello.
//! ```

use std::io::{self, Write};

/// Writes `bytes` as hex+ASCII lines, each starting with `indent`. Shows at most `limit`
/// bytes and says how many more there were.
pub fn write<W: Write>(out: &mut W, bytes: &[u8], indent: &str, limit: usize) -> io::Result<()> {
    let shown = &bytes[..bytes.len().min(limit)];
    for (i, chunk) in shown.chunks(16).enumerate() {
        let mut hex = String::with_capacity(48);
        for (j, b) in chunk.iter().enumerate() {
            if j == 8 {
                hex.push(' ');
            }
            hex.push_str(&format!("{b:02x} "));
        }
        let text: String = chunk.iter().map(|&b| printable(b)).collect();
        writeln!(out, "{indent}{:04x}  {hex:<49} {text}", i * 16)?;
    }
    if bytes.len() > shown.len() {
        writeln!(
            out,
            "{indent}… {} more bytes not shown",
            bytes.len() - shown.len()
        )?;
    }
    Ok(())
}

/// The dump as a string (for JSON fields and tests).
pub fn to_string(bytes: &[u8], limit: usize) -> String {
    let mut v = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write(&mut v, bytes, "", limit);
    String::from_utf8_lossy(&v).into_owned()
}

/// The byte as ASCII if printable, else a dot.
pub fn printable(b: u8) -> char {
    if b.is_ascii_graphic() || b == b' ' {
        b as char
    } else {
        '.'
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line() {
        let s = to_string(b"Hello\n", 256);
        assert_eq!(
            s.trim_end(),
            format!("0000  {:<49} Hello.", "48 65 6c 6c 6f 0a ").trim_end()
        );
    }

    #[test]
    fn two_lines_with_midpoint_gap_and_limit() {
        let bytes: Vec<u8> = (0u8..40).collect();
        let s = to_string(&bytes, 20);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("0000  00 01 02 03 04 05 06 07  08 09"));
        assert!(lines[1].starts_with("0010  10 11 12 13 "));
        assert_eq!(lines[2], "… 20 more bytes not shown");
    }

    #[test]
    fn empty_is_empty() {
        assert_eq!(to_string(&[], 10), "");
    }
}

//! Raw bytes typed as hex: "45 00 00 3c", "45:00:00:3c", "0x45, 0x00", "4500003c", or
//! tcpdump -xx / xxd lines with an offset column ("0x0000:  4500 003c").

use thiserror::Error;

/// Why text is not hex bytes.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum HexError {
    #[error("'{ch}' at character {at} is not a hex digit")]
    BadDigit { ch: char, at: usize },
    #[error("odd number of hex digits ({0}): each byte is two digits")]
    Odd(usize),
    #[error("no bytes given")]
    Empty,
}

/// Parses hex text into bytes. Separators (space, tab, newline, `:`, `,`, `-`, `.`) and `0x`
/// prefixes are skipped; a token ending in `:` (an offset column) is dropped.
pub fn parse(text: &str) -> Result<Vec<u8>, HexError> {
    let mut digits: Vec<(u8, usize)> = Vec::new();
    let mut at = 0;
    for token in text.split_inclusive(|c: char| c.is_whitespace() || c == ',') {
        let start = at;
        at += token.chars().count();
        let t = token.trim_end_matches(|c: char| c.is_whitespace() || c == ',');
        if t.ends_with(':') && t.len() > 3 {
            continue; // "0x0010:" offset column
        }
        let mut chars = t.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '0' && matches!(chars.peek(), Some((_, 'x' | 'X'))) {
                chars.next();
                continue;
            }
            if matches!(c, ':' | '-' | '.') {
                continue;
            }
            match c.to_digit(16) {
                Some(d) => digits.push((d as u8, start + i)),
                None => {
                    return Err(HexError::BadDigit {
                        ch: c,
                        at: start + i + 1,
                    })
                }
            }
        }
    }
    if digits.is_empty() {
        return Err(HexError::Empty);
    }
    if digits.len() % 2 == 1 {
        return Err(HexError::Odd(digits.len()));
    }
    Ok(digits
        .chunks_exact(2)
        .map(|p| (p[0].0 << 4) | p[1].0)
        .collect())
}

/// Where raw bytes given with no `--link` most likely start, and why, from the first byte:
/// an IP header starts with its version in the high nibble (4 with an IHL of at least 5, or
/// 6), so `45 00 ...` is IPv4; anything else is taken as an Ethernet frame (whose first byte
/// is the destination MAC and can be anything).
pub fn guess_link(bytes: &[u8]) -> (super::LinkType, String) {
    use super::LinkType;
    match bytes.first() {
        Some(&b) if b >> 4 == 4 && b & 0x0f >= 5 => (
            LinkType::Ipv4,
            format!(
                "the first byte 0x{b:02x} reads as IP version 4 with a {}-byte header",
                (b & 0x0f) * 4
            ),
        ),
        Some(&b) if b >> 4 == 6 => (
            LinkType::Ipv6,
            format!("the first byte 0x{b:02x} reads as IP version 6"),
        ),
        Some(&b) => (
            LinkType::Ethernet,
            format!(
                "the first nibble {:x} is not an IP version (4 or 6)",
                b >> 4
            ),
        ),
        None => (LinkType::Ethernet, "there are no bytes".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles() {
        assert_eq!(parse("45 00 00 3c").unwrap(), [0x45, 0, 0, 0x3c]);
        assert_eq!(parse("45:00:00:3C").unwrap(), [0x45, 0, 0, 0x3c]);
        assert_eq!(parse("0x45, 0x00,0x01").unwrap(), [0x45, 0, 1]);
        assert_eq!(parse("4500003c").unwrap(), [0x45, 0, 0, 0x3c]);
        assert_eq!(
            parse("0x0000:  4500 003c\n0x0010:  0102").unwrap(),
            [0x45, 0, 0, 0x3c, 1, 2]
        );
    }

    #[test]
    fn errors_say_where() {
        assert_eq!(parse("45 0g"), Err(HexError::BadDigit { ch: 'g', at: 5 }));
        assert_eq!(parse("450"), Err(HexError::Odd(3)));
        assert_eq!(parse("  "), Err(HexError::Empty));
    }

    #[test]
    fn link_guess_by_first_nibble() {
        use crate::dissect::LinkType;
        assert_eq!(guess_link(&[0x45, 0]).0, LinkType::Ipv4);
        assert_eq!(guess_link(&[0x60, 0]).0, LinkType::Ipv6);
        assert_eq!(guess_link(&[0x00, 0x1b]).0, LinkType::Ethernet);
        // Version 4 with an impossible IHL of 2 is not an IPv4 header.
        assert_eq!(guess_link(&[0x42]).0, LinkType::Ethernet);
        assert!(guess_link(&[0x45]).1.contains("0x45"));
    }
}

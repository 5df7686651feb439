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
}

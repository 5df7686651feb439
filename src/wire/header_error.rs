//! The one error every header parser in `wire` returns: which layer, which field, how many bytes
//! were needed and how many there were.

use thiserror::Error;

/// Why bytes could not be read as a header.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// The capture ends (snap length, or a cut file) before the header does.
    #[error("{layer} truncated: {what} needs {needed} bytes, only {got} captured")]
    Truncated {
        layer: &'static str,
        what: &'static str,
        needed: usize,
        got: usize,
    },
    /// A field holds a value the protocol does not allow (e.g. an IPv4 IHL below 5).
    #[error("{layer} malformed: {field} is {value}, {reason}")]
    Malformed {
        layer: &'static str,
        field: &'static str,
        value: u64,
        reason: &'static str,
    },
    /// A bound the dissector keeps was reached (TCP reassembly): what it did instead.
    #[error("{what} gave up: {detail}")]
    Limit { what: &'static str, detail: String },
}

impl HeaderError {
    /// True when the header was cut short rather than wrong.
    pub fn is_truncated(&self) -> bool {
        matches!(self, HeaderError::Truncated { .. })
    }
}

/// Checks that `b` holds at least `needed` bytes.
pub(crate) fn need(
    b: &[u8],
    needed: usize,
    layer: &'static str,
    what: &'static str,
) -> Result<(), HeaderError> {
    if b.len() < needed {
        Err(HeaderError::Truncated {
            layer,
            what,
            needed,
            got: b.len(),
        })
    } else {
        Ok(())
    }
}

/// Big-endian u16 at `at`; 0 if out of range (callers check lengths first).
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..).and_then(|s| s.get(..2)) {
        Some(s) => u16::from_be_bytes([s[0], s[1]]),
        None => 0,
    }
}

/// Big-endian u32 at `at`; 0 if out of range (callers check lengths first).
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..).and_then(|s| s.get(..4)) {
        Some(s) => u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

/// The byte at `at`; 0 if out of range (callers check lengths first).
pub(crate) fn byte(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

/// `N` bytes from `at` as an array; zeros if out of range (callers check lengths first).
pub(crate) fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut a = [0u8; N];
    if let Some(s) = b.get(at..).and_then(|s| s.get(..N)) {
        a.copy_from_slice(s);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_never_panic_out_of_range() {
        let b = [1u8, 2, 3];
        assert_eq!(be16(&b, 0), 0x0102);
        assert_eq!(be16(&b, 2), 0);
        assert_eq!(be32(&b, 0), 0);
        assert_eq!(byte(&b, 9), 0);
        assert_eq!(array::<2>(&b, 1), [2, 3]);
        assert_eq!(array::<4>(&b, usize::MAX - 1), [0; 4]);
    }

    #[test]
    fn need_reports_numbers() {
        let e = need(&[0; 3], 14, "ethernet", "header").unwrap_err();
        assert_eq!(
            e.to_string(),
            "ethernet truncated: header needs 14 bytes, only 3 captured"
        );
        assert!(e.is_truncated());
    }
}

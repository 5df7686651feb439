//! Numbers and addresses written straight to bytes, without `core::fmt`: the summary view
//! writes a million lines a second and `write!` was most of its time. Each writer prints
//! exactly what the matching `Display` (or `{:>N}`) prints; the tests check it.

use std::io::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Decimal, as `{}` prints it.
#[inline]
pub fn u64<W: Write>(out: &mut W, n: u64) -> io::Result<()> {
    out.write_all(itoa::Buffer::new().format(n).as_bytes())
}

/// Decimal right-aligned in `width` columns, as `{:>width$}` prints it.
#[inline]
pub fn u64_right<W: Write>(out: &mut W, n: u64, width: usize) -> io::Result<()> {
    let mut b = itoa::Buffer::new();
    let s = b.format(n).as_bytes();
    const SPACES: &[u8; 24] = b"                        ";
    if s.len() < width {
        let pad = width - s.len();
        if pad <= SPACES.len() {
            out.write_all(&SPACES[..pad])?;
        } else {
            for _ in 0..pad {
                out.write_all(b" ")?;
            }
        }
    }
    out.write_all(s)
}

/// Two decimal digits of `n % 100` into `buf[..2]`, as `{:02}` prints a number below 100.
#[inline]
pub fn two_digits(buf: &mut [u8], n: u32) {
    buf[0] = b'0' + (n / 10 % 10) as u8;
    buf[1] = b'0' + (n % 10) as u8;
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex of `n` without leading zeros, at the end of `buf` (an IPv6 group).
fn hex_into(buf: &mut [u8; 16], mut n: u64) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = HEX[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Dotted quad, as `Ipv4Addr`'s `Display` prints it.
#[inline]
pub fn ipv4<W: Write>(out: &mut W, a: Ipv4Addr) -> io::Result<()> {
    let mut buf = [0u8; 15];
    let n = ipv4_into(&mut buf, a);
    out.write_all(&buf[..n])
}

fn ipv4_into(buf: &mut [u8], a: Ipv4Addr) -> usize {
    let mut n = 0;
    for (i, o) in a.octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if o >= 100 {
            buf[n] = b'0' + o / 100;
            buf[n + 1] = b'0' + o / 10 % 10;
            buf[n + 2] = b'0' + o % 10;
            n += 3;
        } else if o >= 10 {
            buf[n] = b'0' + o / 10;
            buf[n + 1] = b'0' + o % 10;
            n += 2;
        } else {
            buf[n] = b'0' + o;
            n += 1;
        }
    }
    n
}

/// RFC 5952 text as `Ipv6Addr`'s `Display` prints it: IPv4-mapped addresses as
/// `::ffff:a.b.c.d`, otherwise the longest run of two or more zero groups (the first, on a
/// tie) as `::`, groups in lower-case hex without leading zeros.
pub fn ipv6<W: Write>(out: &mut W, a: Ipv6Addr) -> io::Result<()> {
    let mut buf = [0u8; 48];
    let mut n = 0;
    let seg = a.segments();
    if let Some(v4) = a.to_ipv4_mapped() {
        buf[..7].copy_from_slice(b"::ffff:");
        n = 7 + ipv4_into(&mut buf[7..], v4);
        return out.write_all(&buf[..n]);
    }
    // The longest run of zero groups; the first one wins a tie.
    let (mut best_start, mut best_len, mut cur_start, mut cur_len) = (0, 0, 0, 0);
    for (i, &s) in seg.iter().enumerate() {
        if s == 0 {
            if cur_len == 0 {
                cur_start = i;
            }
            cur_len += 1;
            if cur_len > best_len {
                best_start = cur_start;
                best_len = cur_len;
            }
        } else {
            cur_len = 0;
        }
    }
    let groups = |buf: &mut [u8; 48], n: &mut usize, range: &[u16]| {
        for (i, &s) in range.iter().enumerate() {
            if i > 0 {
                buf[*n] = b':';
                *n += 1;
            }
            let mut h = [0u8; 16];
            let digits = hex_into(&mut h, u64::from(s));
            buf[*n..*n + digits.len()].copy_from_slice(digits);
            *n += digits.len();
        }
    };
    if best_len > 1 {
        groups(&mut buf, &mut n, &seg[..best_start]);
        buf[n..n + 2].copy_from_slice(b"::");
        n += 2;
        groups(&mut buf, &mut n, &seg[best_start + best_len..]);
    } else {
        groups(&mut buf, &mut n, &seg);
    }
    out.write_all(&buf[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Edge cases plus a spread of values across every width of u64.
    fn values() -> Vec<u64> {
        let mut v = vec![0, 1, 9, 10, 99, 100, 999, 1000, u64::MAX, u64::MAX - 1];
        for p in 0..20 {
            let t = 10u64.pow(p);
            v.extend([t - 1, t, t + 1]);
        }
        for s in 0..64 {
            v.extend([1u64 << s, (1u64 << s) - 1, u64::MAX >> s]);
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.push(x);
            v.push(x >> (x % 64));
        }
        v
    }

    fn text(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn integers_as_display() {
        for n in values() {
            assert_eq!(text(|o| u64(o, n)), format!("{n}"), "{n}");
            for w in [0, 1, 2, 5, 6, 9, 20, 30] {
                assert_eq!(text(|o| u64_right(o, n, w)), format!("{n:>w$}"), "{n} {w}");
            }
        }
    }

    #[test]
    fn two_digits_as_zero_padded() {
        for n in 0..100u32 {
            let mut b = [0u8; 2];
            two_digits(&mut b, n);
            assert_eq!(std::str::from_utf8(&b).unwrap(), format!("{n:02}"));
        }
    }

    #[test]
    fn ipv4_as_display() {
        let mut v = vec![
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::BROADCAST,
            Ipv4Addr::LOCALHOST,
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(100, 99, 9, 0),
        ];
        for x in values() {
            v.push(Ipv4Addr::from(x as u32));
        }
        for o in 0..=255u8 {
            v.push(Ipv4Addr::new(o, 255 - o, o / 2, o.wrapping_mul(7)));
        }
        for a in v {
            assert_eq!(text(|o| ipv4(o, a)), a.to_string());
        }
    }

    #[test]
    fn ipv6_as_display() {
        let mut v: Vec<Ipv6Addr> = [
            "::",
            "::1",
            "1::",
            "fe80::1",
            "2001:db8::1:0:0:1",    // two runs of two: the first is compressed
            "2001:db8:0:0:1::1",    // the longer run wins
            "2001:db8:0:1:1:1:1:1", // a lone zero group is not compressed
            "::ffff:192.0.2.128",   // IPv4-mapped
            "::192.0.2.128",        // IPv4-compatible: plain hex
            "::ffff:0:0",           // mapped 0.0.0.0
            "64:ff9b::192.0.2.33",  // NAT64
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "1:0:0:2:0:0:0:3",
            "0:0:1:0:0:0:0:0",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        // Every pattern of zero and non-zero groups, with small and large group values.
        for mask in 0u32..256 {
            for g in [1u16, 0xab, 0xffff, 0x1000] {
                let mut s = [0u16; 8];
                for (i, x) in s.iter_mut().enumerate() {
                    if mask & (1 << i) != 0 {
                        *x = g.wrapping_add(i as u16);
                    }
                }
                v.push(Ipv6Addr::from(s));
            }
        }
        let xs = values();
        for w in xs.chunks(2) {
            let hi = u128::from(w[0]) << 64;
            v.push(Ipv6Addr::from(hi | u128::from(*w.get(1).unwrap_or(&0))));
            v.push(Ipv6Addr::from(u128::from(w[0])));
            v.push(Ipv6Addr::from(
                0xffff_0000_0000u128 | u128::from(w[0] as u32),
            ));
        }
        for a in v {
            assert_eq!(text(|o| ipv6(o, a)), a.to_string());
        }
    }
}

//! permessage-deflate (RFC 7692 §7.2): what a compressed message is on the wire.
//!
//! ```text
//!  "Hello" ──DEFLATE, sync flush──▶ f2 48 cd c9 c9 07 00 00 00 ff ff
//!                                                  └─ tail removed ─┘
//!  frame: RSV1=1 opcode=text payload f2 48 cd c9 c9 07 00   (7 bytes for 5)
//! ```
//!
//! The sender compresses the whole message, ends it with a sync flush (an empty stored block,
//! `00 00 ff ff`) and drops those four bytes; the receiver appends them again and inflates.
//! With context takeover the LZ77 window carries over to the next message in that direction
//! (a repeated chat message costs a few bytes); with `*_no_context_takeover` it is reset.
//!
//! DEFLATE itself is the `flate2` crate on its `zlib-rs` backend (pure Rust, the zlib API):
//! unlike the default miniz_oxide backend it takes window bits below 15 for raw deflate, and
//! unlike a C zlib it needs no system library. Inflating goes through a 16 KiB scratch buffer
//! and checks the message limit before each piece is kept, so a decompression bomb costs at
//! most the limit plus 16 KiB.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use thiserror::Error;

/// The bytes a sync flush ends with, removed by the sender and appended by the receiver.
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];
/// How many inflated bytes are produced (and checked) at a time.
pub const INFLATE_CHUNK: usize = 16 * 1024;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum InflateError {
    #[error("compressed message inflates to at least {len} bytes, over the limit of {max} bytes")]
    TooBig { len: u64, max: u64 },
    #[error("compressed payload is not valid DEFLATE data: {0}")]
    Corrupt(String),
}

/// One direction's compressor.
pub struct Deflater {
    c: Compress,
    no_context_takeover: bool,
}

impl Deflater {
    /// A compressor whose LZ77 window is at most `2^window_bits` bytes. `None` for 8: zlib's
    /// deflate cannot make a 256-byte window (it silently uses 512, which the peer may not
    /// accept), so with 8 we send every message uncompressed, which RFC 7692 allows.
    pub fn new(window_bits: u8, no_context_takeover: bool) -> Option<Deflater> {
        (9..=15).contains(&window_bits).then(|| Deflater {
            c: Compress::new_with_window_bits(Compression::default(), false, window_bits),
            no_context_takeover,
        })
    }

    /// Appends the compressed form of `data` (tail removed) to `out`.
    pub fn compress(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), InflateError> {
        if data.is_empty() {
            // zlib writes nothing for a flush with nothing new, but the receiver appends the
            // tail: one 0x00 (a stored block's header) makes that an empty stored block.
            // The window is unchanged, so the compressor need not know.
            out.push(0x00);
            return Ok(());
        }
        let start = out.len();
        let mut input = data;
        out.reserve(data.len() / 2 + 64);
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(1024));
            }
            let before = self.c.total_in();
            self.c
                .compress_vec(input, out, FlushCompress::Sync)
                .map_err(|e| InflateError::Corrupt(e.to_string()))?;
            let used = (self.c.total_in() - before) as usize;
            input = input.get(used..).unwrap_or_default();
            // With room left over, the sync flush is complete (zlib's contract).
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        if out[start..].ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if self.no_context_takeover {
            self.c.reset();
        }
        Ok(())
    }
}

/// One direction's decompressor.
pub struct Inflater {
    d: Decompress,
    no_context_takeover: bool,
    scratch: Vec<u8>,
    /// Set after a stream ended with a BFINAL block: the next bytes start a new stream.
    ended: bool,
}

impl Inflater {
    /// A decompressor. It always uses a 32 KiB window: that reads any stream made with a
    /// smaller one, so the negotiated bits only bound the peer's compressor.
    pub fn new(no_context_takeover: bool) -> Inflater {
        Inflater {
            d: Decompress::new_with_window_bits(false, 15),
            no_context_takeover,
            scratch: Vec::new(),
            ended: false,
        }
    }

    /// Inflates a piece of a compressed message's payload onto `out`, failing as soon as
    /// `out` would pass `max` bytes.
    pub fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        max: u64,
    ) -> Result<(), InflateError> {
        if self.scratch.is_empty() {
            self.scratch = vec![0; INFLATE_CHUNK];
        }
        while !input.is_empty() || !self.ended {
            if self.ended {
                self.d.reset(false);
                self.ended = false;
            }
            let (bi, bo) = (self.d.total_in(), self.d.total_out());
            let status = self
                .d
                .decompress(input, &mut self.scratch, FlushDecompress::Sync)
                .map_err(|e| InflateError::Corrupt(e.to_string()))?;
            let used = (self.d.total_in() - bi) as usize;
            let made = (self.d.total_out() - bo) as usize;
            input = input.get(used..).unwrap_or_default();
            let len = out.len() as u64 + made as u64;
            if len > max {
                return Err(InflateError::TooBig { len, max });
            }
            out.extend_from_slice(&self.scratch[..made]);
            if status == Status::StreamEnd {
                self.ended = true;
                if input.is_empty() {
                    break;
                }
                continue;
            }
            if made < self.scratch.len() && (input.is_empty() || used == 0) {
                if !input.is_empty() {
                    return Err(InflateError::Corrupt("inflate made no progress".into()));
                }
                break;
            }
        }
        Ok(())
    }

    /// The message's last frame has been inflated: append the tail, and reset the window
    /// without context takeover.
    pub fn finish(&mut self, out: &mut Vec<u8>, max: u64) -> Result<(), InflateError> {
        if !self.ended {
            self.inflate(&TAIL, out, max)?;
        }
        if self.no_context_takeover {
            self.d.reset(false);
            self.ended = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(d: &mut Deflater, i: &mut Inflater, msg: &[u8]) -> usize {
        let mut wire = Vec::new();
        d.compress(msg, &mut wire).unwrap();
        let mut out = Vec::new();
        i.inflate(&wire, &mut out, u64::MAX).unwrap();
        i.finish(&mut out, u64::MAX).unwrap();
        assert_eq!(out, msg);
        wire.len()
    }

    #[test]
    fn rfc7692_hello_bytes() {
        // RFC 7692 §7.2.3.1: "Hello" is f2 48 cd c9 c9 07 00.
        let mut out = Vec::new();
        let mut i = Inflater::new(false);
        i.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], &mut out, 100)
            .unwrap();
        i.finish(&mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
        // §7.2.3.2: the second "Hello" with context takeover is f2 00 11 00 00.
        i.inflate(&[0xf2, 0x00, 0x11, 0x00, 0x00], &mut out, 100)
            .unwrap();
        i.finish(&mut out, 100).unwrap();
        assert_eq!(out, b"HelloHello");
        // §7.2.3.3: a stored (uncompressed) block, and §7.2.3.4 a BFINAL block with no tail.
        let mut i = Inflater::new(false);
        let mut out = Vec::new();
        i.inflate(
            &[
                0x00, 0x05, 0x00, 0xfa, 0xff, b'H', b'e', b'l', b'l', b'o', 0x00,
            ],
            &mut out,
            100,
        )
        .unwrap();
        i.finish(&mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
        let mut out = Vec::new();
        i.inflate(&[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], &mut out, 100)
            .unwrap();
        i.finish(&mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
    }

    #[test]
    fn context_takeover_makes_a_repeat_cheap_and_reset_does_not() {
        let msg = b"{\"user\":\"ada\",\"text\":\"hello, everyone in the room\"}";
        let (mut d, mut i) = (Deflater::new(15, false).unwrap(), Inflater::new(false));
        let first = roundtrip(&mut d, &mut i, msg);
        let second = roundtrip(&mut d, &mut i, msg);
        assert!(second < first / 3, "{second} vs {first}");
        let (mut d, mut i) = (Deflater::new(15, true).unwrap(), Inflater::new(true));
        let a = roundtrip(&mut d, &mut i, msg);
        let b = roundtrip(&mut d, &mut i, msg);
        assert_eq!(a, b, "no context takeover: every message starts afresh");
    }

    #[test]
    fn every_window_size_and_empty_messages() {
        assert!(
            Deflater::new(8, false).is_none(),
            "zlib has no 256-byte window"
        );
        let data: Vec<u8> = (0..200_000u32)
            .map(|i| (i * 7 % 13 + i / 1000) as u8)
            .collect();
        for bits in 9..=15 {
            let (mut d, mut i) = (Deflater::new(bits, false).unwrap(), Inflater::new(false));
            for _ in 0..2 {
                roundtrip(&mut d, &mut i, &data);
                assert_eq!(roundtrip(&mut d, &mut i, b""), 1, "empty: one byte, 0x00");
            }
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let zeros = vec![0u8; 1 << 20];
        let mut wire = Vec::new();
        Deflater::new(15, false)
            .unwrap()
            .compress(&zeros, &mut wire)
            .unwrap();
        assert!(wire.len() < 4096, "1 MiB of zeros in {} bytes", wire.len());
        let mut out = Vec::new();
        let e = Inflater::new(false)
            .inflate(&wire, &mut out, 65536)
            .unwrap_err();
        assert!(matches!(e, InflateError::TooBig { max: 65536, .. }), "{e}");
        assert!(out.len() <= 65536 && out.capacity() <= 2 * 65536);
        // At the edge: exactly the limit passes.
        let mut out = Vec::new();
        let mut wire = Vec::new();
        Deflater::new(15, false)
            .unwrap()
            .compress(&zeros[..65536], &mut wire)
            .unwrap();
        let mut i = Inflater::new(false);
        i.inflate(&wire, &mut out, 65536).unwrap();
        i.finish(&mut out, 65536).unwrap();
        assert_eq!(out.len(), 65536);
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        let mut out = Vec::new();
        let e = Inflater::new(false).inflate(&[0xff; 32], &mut out, 1 << 20);
        assert!(matches!(e, Err(InflateError::Corrupt(_))), "{e:?}");
    }
}

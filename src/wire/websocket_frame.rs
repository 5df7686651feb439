//! A read-only view of WebSocket frame headers (RFC 6455 §5.2) for the dissector: it reads
//! what a capture shows, reserved bits and opcodes included, and never builds frames. The
//! strict codec that the WebSocket server and client use is [`super::websocket::frame`]; opcode
//! names and unmasking come from there.
//!
//! ```text
//! |F|R|R|R| opcode|M| payload len |   extended payload length (16 or 64)   |
//! |I|S|S|S|  (4)  |A|     (7)     |   (if len is 126 or 127)               |
//! |N|V|V|V|       |S|             |                                         |
//! | masking key (32, if MASK) | payload data …                             |
//! ```

use super::header_error::{array, be16, byte, need, HeaderError};

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Final fragment of a message.
    pub fin: bool,
    /// RSV1–3 bits (extensions such as permessage-deflate use RSV1).
    pub rsv: u8,
    pub opcode: u8,
    /// Client-to-server frames are masked (§5.3).
    pub masked: bool,
    /// Payload length in bytes.
    pub payload_len: u64,
    pub mask_key: Option<[u8; 4]>,
    /// Bytes of header (2 to 14).
    pub header_len: usize,
}

impl FrameHeader {
    pub fn parse(b: &[u8]) -> Result<FrameHeader, HeaderError> {
        need(b, 2, "websocket", "frame header")?;
        let (b0, b1) = (byte(b, 0), byte(b, 1));
        let masked = b1 & 0x80 != 0;
        let (payload_len, mut at) = match b1 & 0x7f {
            126 => {
                need(b, 4, "websocket", "16-bit extended length")?;
                (u64::from(be16(b, 2)), 4)
            }
            127 => {
                need(b, 10, "websocket", "64-bit extended length")?;
                (u64::from_be_bytes(array(b, 2)), 10)
            }
            n => (u64::from(n), 2),
        };
        let mask_key = if masked {
            need(b, at + 4, "websocket", "masking key")?;
            let k = array(b, at);
            at += 4;
            Some(k)
        } else {
            None
        };
        Ok(FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 7,
            opcode: b0 & 0x0f,
            masked,
            payload_len,
            mask_key,
            header_len: at,
        })
    }

    /// True for close, ping and pong.
    pub fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §5.7: a single-frame masked text message "Hello".
    static MASKED_HELLO: [u8; 11] = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];

    #[test]
    fn masked_text() {
        let h = FrameHeader::parse(&MASKED_HELLO).unwrap();
        assert!(h.fin && h.masked && !h.is_control());
        assert_eq!((h.opcode, h.payload_len, h.header_len), (1, 5, 6));
        let mut out = MASKED_HELLO[6..].to_vec();
        crate::wire::websocket::frame::apply_mask(&mut out, h.mask_key.unwrap(), 0);
        assert_eq!(out, b"Hello");
    }

    #[test]
    fn extended_lengths_and_truncation() {
        let h = FrameHeader::parse(&[0x82, 0x7e, 0x01, 0x00]).unwrap();
        assert_eq!((h.payload_len, h.header_len), (256, 4));
        let h = FrameHeader::parse(&[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]).unwrap();
        assert_eq!(h.payload_len, 65536);
        assert!(FrameHeader::parse(&[0x82, 0x7f, 0])
            .unwrap_err()
            .is_truncated());
        assert!(FrameHeader::parse(&MASKED_HELLO[..4])
            .unwrap_err()
            .is_truncated());
    }
}

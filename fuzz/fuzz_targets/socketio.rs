//! The Socket.IO codec on arbitrary input: never panics; every packet that decodes encodes to
//! text that decodes to the same packet; the decoder, fed the input split into text and binary
//! messages, never panics and is ready again after an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirelab::wire::socketio::{deconstruct, Decoder, Packet};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = Packet::decode(text) {
            assert_eq!(Packet::decode(&p.encode()), Ok(p.clone()), "{text:?}");
        }
    }
    // Records split at 0x1e; a record starting with 0xff is a binary attachment.
    let mut d = Decoder::new();
    for rec in data.split(|&b| b == 0x1e) {
        let got = match rec.split_first() {
            Some((0xff, rest)) => d.feed_binary(rest),
            _ => match std::str::from_utf8(rec) {
                Ok(t) => d.feed_text(t),
                Err(_) => continue,
            },
        };
        if let Ok(Some(done)) = got {
            // What was reconstructed deconstructs to the same attachments.
            let mut buffers = Vec::new();
            if let Some(v) = done.packet.data {
                let _ = deconstruct(v, &mut buffers);
            }
            assert!(buffers.len() <= done.attachments.len());
        }
    }
});

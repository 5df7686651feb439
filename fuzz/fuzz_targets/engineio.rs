//! The Engine.IO codec on arbitrary input: never panics; every packet and payload that decodes
//! encodes back to the same text (binary as `b` + base64 may differ only in padding, so it is
//! checked by decoding again); the maxPayload check holds at the edge.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirelab::wire::engineio::{batch_len, decode_payload, encode_payload, Data, Error, Packet};

fuzz_target!(|data: &[u8]| {
    let p = Packet::decode_binary(data);
    assert_eq!(p.data, Data::Binary(data.to_vec()));
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = Packet::decode_text(text) {
        assert_eq!(Packet::decode_text(&p.encode_text()), Ok(p.clone()));
        let _ = p.handshake();
    }
    match decode_payload(text, 4096) {
        Ok(packets) => {
            assert!(!packets.is_empty());
            assert_eq!(decode_payload(&encode_payload(&packets), usize::MAX), Ok(packets.clone()));
            let n = batch_len(&packets, 64);
            assert!(n >= 1 && n <= packets.len());
        }
        Err(Error::PayloadTooLarge { len, max }) => assert!(len > max),
        Err(_) => {}
    }
});

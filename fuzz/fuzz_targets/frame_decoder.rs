//! Frame decoding on arbitrary bytes, both ways it is done:
//! - `wire::websocket::message::decode_all` (the pure model) and
//! - `ws::WsReader::read_event` (the socket reader, fed the same bytes as a stream)
//!
//! must never panic and must agree on every event and on the error; headers that parse must
//! emit back to the same bytes when their length encoding is minimal.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wirelab::wire::websocket::frame::{FrameHeader, LengthEncoding};
use wirelab::wire::websocket::message::{decode_all, Event, Utf8Validator};
use wirelab::wire::websocket::{Limits, ProtocolError, Role};
use wirelab::ws::conn::{Config, Incoming, Message, WsError, WsReader};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    })
}

fn event(i: Incoming) -> Event {
    match i {
        Incoming::Message(Message::Text(s)) => Event::Text(s),
        Incoming::Message(Message::Binary(b)) => Event::Binary(b),
        Incoming::Ping(p) => Event::Ping(p),
        Incoming::Pong(p) => Event::Pong(p),
        Incoming::Close(c) => Event::Close(c),
    }
}

fuzz_target!(|data: &[u8]| {
    // Header round trip.
    if let Ok(Some((h, n))) = FrameHeader::parse(data) {
        if h.length_encoding == LengthEncoding::for_len(h.payload_len) {
            let mut out = Vec::new();
            h.emit_to_vec(&mut out);
            assert_eq!(&out[..], &data[..n]);
        }
    }

    // Incremental UTF-8 agrees with std, wherever the input is cut.
    if let Some((&cut, rest)) = data.split_first() {
        let cut = usize::from(cut).min(rest.len());
        let mut v = Utf8Validator::default();
        let ok = v.feed(&rest[..cut]).is_ok() && v.feed(&rest[cut..]).is_ok() && v.finish().is_ok();
        assert_eq!(ok, std::str::from_utf8(rest).is_ok());
    }

    let limits = Limits {
        max_frame: 4096,
        max_message: 8192,
    };
    for role in [Role::Server, Role::Client] {
        let (events, used, err) = decode_all(data, role, limits);
        assert!(used <= data.len());
        let mut reader = WsReader::new(data, role, Config { limits }, &[]);
        let mut got = Vec::new();
        let reader_err: Option<ProtocolError> = loop {
            match runtime().block_on(reader.read_event()) {
                Ok(Incoming::Close(c)) => {
                    got.push(Event::Close(c));
                    break None;
                }
                Ok(i) => got.push(event(i)),
                Err(WsError::Protocol(e)) => break Some(e),
                Err(_) => break None,
            }
        };
        assert_eq!(got, events);
        match (&reader_err, &err) {
            (a, b) if a == b => {}
            // The reader checks UTF-8 as bytes arrive, so it can fail inside a frame that
            // the model never saw complete.
            (Some(ProtocolError::InvalidUtf8 { .. }), None) => {}
            (a, b) => panic!("reader says {a:?}, model says {b:?}"),
        }
    }
});

//! The handshake parsers on arbitrary bytes: never panic; a request that passes `intent()`
//! gets a 101 that our own client check accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirelab::wire::websocket::handshake::{error_response, response_101, Intent};
use wirelab::wire::websocket::{Request, Response};

fuzz_target!(|data: &[u8]| {
    match Request::parse(data) {
        Ok(Some((r, n))) => {
            assert!(n <= data.len());
            match r.intent() {
                Ok(Intent::Upgrade { key }) => {
                    let resp = response_101(&key);
                    let (parsed, _) = Response::parse(resp.as_bytes())
                        .expect("our 101 parses")
                        .expect("our 101 is complete");
                    parsed.check(&key).expect("our 101 passes our check");
                }
                Ok(Intent::PlainHttp) => {}
                Err(e) => {
                    let _ = error_response(&e);
                }
            }
        }
        Ok(None) => {}
        Err(e) => {
            let _ = error_response(&e);
        }
    }
    if let Ok(Some((resp, _))) = Response::parse(data) {
        let _ = resp.check("dGhlIHNhbXBsZSBub25jZQ==");
    }
});

//! The hub protocol parsers on arbitrary input: never panic; the fast and the checked client
//! parser agree; every accepted client message survives its own encoding; request targets
//! either parse into a valid namespace and client id or are refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirelab::hub::protocol::{check_name, parse_target, ClientMsg, ServerMsg};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = ClientMsg::parse(text);
    assert_eq!(parsed, ClientMsg::parse_checked(text), "fast and checked parsers differ");
    if let Ok(m) = parsed {
        let again = ClientMsg::parse(&m.to_text());
        assert!(again.is_ok(), "our own encoding of {m:?} does not parse: {again:?}");
    }
    if let Ok(m) = ServerMsg::parse(text) {
        assert!(ServerMsg::parse(&m.to_text()).is_ok());
    }
    if let Ok(a) = parse_target(text) {
        assert!(a.namespace.starts_with('/'));
        assert!(check_name("namespace", &a.namespace).is_ok());
        if let Some(c) = &a.client {
            assert!(check_name("client id", c).is_ok());
        }
    }
});

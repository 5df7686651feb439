//! The dissector and every view on arbitrary bytes: the first byte picks the link type, the
//! rest is one frame followed by a second one (so TCP/WebSocket state is exercised too).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirelab::dissect::{Dissector, FrameInfo, LinkType, Packet};
use wirelab::render::packet;

const LINKS: [LinkType; 7] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::RawIp,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::Null,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(pick) % LINKS.len()];
    let half = rest.len() / 2;
    let mut d = Dissector::new();
    let mut layers = Vec::new();
    let mut sink = Vec::new();
    for (n, frame) in [&rest[..half], rest, &rest[half..]].into_iter().enumerate() {
        let info = FrameInfo {
            number: n as u64 + 1,
            ts_sec: 0,
            ts_nsec: 0,
            ts_digits: 9,
            caplen: frame.len() as u32,
            len: frame.len() as u32 + u32::from(pick & 1),
            link,
            interface: 0,
        };
        d.dissect(&info, frame, &mut layers);
        for l in &layers {
            assert!(l.start <= l.end && l.end <= frame.len());
        }
        let p = Packet { info: &info, data: frame, layers: &layers };
        sink.clear();
        packet::summary(&mut sink, &p).unwrap();
        packet::detail(&mut sink, &p).unwrap();
        packet::hex(&mut sink, &p, true).unwrap();
        packet::json(&mut sink, &p).unwrap();
    }
});

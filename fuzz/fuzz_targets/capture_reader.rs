//! The pcap/pcapng reader on arbitrary files: it must return packets or an error, never panic
//! or loop; every packet it returns is dissected.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wirelab::capture::{CaptureError, Reader};
use wirelab::dissect::Dissector;

fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = Reader::new(data) else {
        return;
    };
    let mut d = Dissector::new();
    let mut layers = Vec::new();
    let _ = r.for_each(|info, bytes| {
        assert_eq!(bytes.len(), info.caplen as usize);
        d.dissect(info, bytes, &mut layers);
        Ok::<bool, CaptureError>(true)
    });
});

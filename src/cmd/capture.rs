//! `wirelab capture`: live frames from an interface → the same views as `dissect`, and
//! optionally a pcap file.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, Result};

use super::dissect::Sink;
use crate::capture::closing::Closing;
use crate::capture::live::{stop_on_sigint, Live};
use crate::capture::PcapWriter;
use crate::cli::CaptureArgs;
use crate::dissect::{Dissector, FrameInfo, Proto};
use crate::exit::BadInput;

pub fn run(a: CaptureArgs) -> Result<()> {
    let mut sink = Sink::new(&a.view, None)?;
    let mut live = Live::open(&a.interface).map_err(|e| -> anyhow::Error {
        if e.is_bad_input() {
            BadInput(e.to_string()).into()
        } else {
            e.into()
        }
    })?;
    let mut writer = match &a.write {
        Some(path) => {
            let f = File::create(path)
                .map_err(|e| BadInput(format!("cannot create {}: {e}", path.display())))?;
            Some(PcapWriter::new(BufWriter::new(f), live.link, a.snaplen)?)
        }
        None => None,
    };
    let link = live.link;
    let stop = stop_on_sigint();
    eprintln!(
        "capturing on {} ({}); Ctrl-C to stop",
        live.iface,
        live.link.name()
    );
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let started = Instant::now();
    let mut seen = 0u64;
    let mut sink_out: Vec<u8> = Vec::new();
    let mut closing = a.until_closed.then(|| (Closing::new(), Dissector::new()));
    while !stop.load(Ordering::SeqCst) && !sink.done() {
        if a.duration
            .is_some_and(|d| started.elapsed().as_secs_f64() >= d)
        {
            break;
        }
        let Some((ts, frame)) = live
            .next_frame()
            .context("reading from the capture socket")?
        else {
            continue;
        };
        seen += 1;
        let caplen = frame.len().min(a.snaplen as usize);
        let info = FrameInfo {
            number: seen,
            ts_sec: ts.as_secs() as i64,
            ts_nsec: ts.subsec_micros() * 1000,
            ts_digits: 6,
            caplen: caplen as u32,
            len: frame.len() as u32,
            link,
            interface: 0,
        };
        let data = &frame[..caplen];
        sink_out.clear();
        let matched = sink.packet(&mut sink_out, &info, data)?;
        if matched {
            if let Some(w) = &mut writer {
                w.write(
                    ts.as_secs() as u32,
                    ts.subsec_micros(),
                    data,
                    frame.len() as u32,
                )?;
            }
            if !a.quiet {
                out.write_all(&sink_out)?;
                // Live output: show each packet as it comes.
                out.flush()?;
            }
            if let Some((c, d)) = &mut closing {
                let mut layers = Vec::new();
                d.dissect(&info, data, &mut layers);
                for l in layers.iter().filter(|l| !l.quoted) {
                    if let Proto::Tcp(h, m) = &l.proto {
                        let f = h.flags;
                        let ack = f.ack().then_some(h.ack);
                        c.segment(h.src_port, h.dst_port, h.seq, ack, f.fin(), f.rst(), m.len);
                    }
                }
                if c.all_closed() {
                    break;
                }
            }
        }
    }
    if let Some(w) = &mut writer {
        w.flush()?;
    }
    sink.finish(&mut out)?;
    eprintln!(
        "{} packets shown, {} seen on {}",
        sink.shown, seen, a.interface
    );
    Ok(())
}

//! Writing classic pcap files (microsecond timestamps, little-endian), which tshark, tcpdump
//! and Wireshark open.
//!
//! ```text
//! global header: magic d4 c3 b2 a1 | version 2.4 | thiszone 0 | sigfigs 0 | snaplen | linktype
//! each record:   ts_sec | ts_usec | caplen | len | caplen bytes of frame
//! ```

use std::io::{self, Write};

use crate::dissect::LinkType;

/// A pcap writer over any `Write`.
pub struct PcapWriter<W: Write> {
    out: W,
    snaplen: u32,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header.
    pub fn new(mut out: W, link: LinkType, snaplen: u32) -> io::Result<PcapWriter<W>> {
        let mut h = Vec::with_capacity(24);
        h.extend(0xa1b2_c3d4u32.to_le_bytes());
        h.extend(2u16.to_le_bytes());
        h.extend(4u16.to_le_bytes());
        h.extend(0i32.to_le_bytes());
        h.extend(0u32.to_le_bytes());
        h.extend(snaplen.to_le_bytes());
        h.extend(link.to_linktype().to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out, snaplen })
    }

    /// Writes one frame (cut to the snap length), `len` being its length on the wire.
    pub fn write(&mut self, ts_sec: u32, ts_usec: u32, data: &[u8], len: u32) -> io::Result<()> {
        let caplen = data.len().min(self.snaplen as usize);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&ts_sec.to_le_bytes());
        h[4..8].copy_from_slice(&ts_usec.to_le_bytes());
        h[8..12].copy_from_slice(&(caplen as u32).to_le_bytes());
        h[12..16].copy_from_slice(&len.max(caplen as u32).to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(&data[..caplen])
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Reader;

    #[test]
    fn round_trip_through_the_reader() {
        let frame = &crate::dissect::engine_test_frames::SYN_FRAME;
        let mut w = PcapWriter::new(Vec::new(), LinkType::Ethernet, 65535).unwrap();
        w.write(1_700_000_000, 42, frame, 74).unwrap();
        w.write(1_700_000_001, 43, &frame[..60], 74).unwrap();
        let bytes = w.out;
        assert_eq!(bytes.len(), 24 + 16 + 74 + 16 + 60);
        let mut r = Reader::new(bytes.as_slice()).unwrap();
        let mut seen = Vec::new();
        r.for_each(|i, d| {
            seen.push((i.ts_sec, i.ts_nsec, i.caplen, i.len, d.to_vec()));
            Ok::<_, crate::capture::CaptureError>(true)
        })
        .unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0], (1_700_000_000, 42_000, 74, 74, frame.to_vec()));
        assert_eq!((seen[1].2, seen[1].3), (60, 74));
    }
}

//! Streaming pcap / pcapng reader around the `pcap-parser` crate.
//!
//! ```text
//! pcap:   global header (24 bytes: magic a1b2c3d4 µs or a1b23c4d ns, either byte order)
//!         then records: ts_sec, ts_frac, caplen, len (16 bytes) + caplen bytes
//! pcapng: blocks (type, length, body, length): section header 0a0d0d0a, interface
//!         descriptions (link type, timestamp resolution), enhanced/simple packet blocks, …
//! ```
//!
//! Only a fixed-size buffer is held, so memory stays flat on any file. A file cut in the middle
//! of a record yields every whole packet first, then [`CaptureError::Truncated`] with the byte
//! offset of the cut record.

use std::io::{self, Read};

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};
use thiserror::Error;

use crate::dissect::{FrameInfo, LinkType};

/// Bytes of read buffer: the largest record the reader accepts (pcap snap lengths are at most
/// 256 KiB).
const BUFFER: usize = 1 << 20;

/// Why a capture could not be read.
#[derive(Debug, Error)]
pub enum CaptureError {
    #[error("not a pcap or pcapng file: it starts with the bytes {magic} (a pcap file starts with a1b2c3d4 or d4c3b2a1 (µs) or a1b23c4d / 4d3cb2a1 (ns); a pcapng file with 0a0d0d0a)")]
    NotACapture { magic: String },
    #[error("the capture is empty (0 bytes)")]
    Empty,
    #[error("capture truncated: the record starting at byte offset {offset} is cut short (the file ends mid-packet; {packets} whole packets were read)")]
    Truncated { offset: u64, packets: u64 },
    #[error("the {what} is cut at {got} of {need} bytes (the file ends inside it)")]
    HeaderCut {
        what: &'static str,
        got: usize,
        need: usize,
    },
    #[error("malformed capture at byte offset {offset}: {reason}")]
    Malformed { offset: u64, reason: String },
    #[error("reading the capture: {0}")]
    Io(#[from] io::Error),
}

impl CaptureError {
    /// True when the file itself is bad (exit code 2), rather than reading it failing.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, CaptureError::Io(_))
    }
}

/// One pcapng interface.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    /// Timestamp units per second.
    resolution: u64,
    offset: i64,
    snaplen: u32,
}

/// A streaming reader of packets from a pcap or pcapng source.
pub struct Reader<'r> {
    inner: Box<dyn PcapReaderIterator + Send + 'r>,
    /// Set for pcap; per section for pcapng.
    legacy: Option<(LinkType, bool)>,
    interfaces: Vec<Interface>,
    packets: u64,
    /// Whether the file is pcapng.
    pub pcapng: bool,
}

/// Reads up to 4 bytes to tell pcap from pcapng from anything else.
fn magic_of<R: Read>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut magic = Vec::with_capacity(4);
    r.by_ref().take(4).read_to_end(&mut magic)?;
    Ok(magic)
}

/// The file header already read (pcap global header, or the whole pcapng section header
/// block), then the rest of the source. The first read returns exactly the header, so the
/// pcap-parser probe sees a whole header without waiting for packets (a live pipe from
/// `tcpdump -w -` shows packets as they come).
struct Prefixed<R> {
    prefix: Vec<u8>,
    at: usize,
    inner: R,
}

impl<R: Read> Read for Prefixed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let pending = self.prefix.get(self.at..).unwrap_or(&[]);
        if !pending.is_empty() {
            let n = pending.len().min(buf.len());
            buf[..n].copy_from_slice(&pending[..n]);
            self.at += n;
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// Reads from `r` until `buf` holds `len` bytes or the source ends.
fn read_to<R: Read>(r: &mut R, buf: &mut Vec<u8>, len: usize) -> io::Result<()> {
    let need = len.saturating_sub(buf.len());
    r.by_ref().take(need as u64).read_to_end(buf)?;
    Ok(())
}

/// Largest pcapng section header block accepted (its options are normally a few hundred bytes).
const MAX_SHB: usize = 1 << 16;

const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
];
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

impl<'r> Reader<'r> {
    /// Opens a capture from any byte source (a file, standard input).
    pub fn new<R: Read + Send + 'r>(mut source: R) -> Result<Reader<'r>, CaptureError> {
        let magic = magic_of(&mut source)?;
        if magic.is_empty() {
            return Err(CaptureError::Empty);
        }
        let pcapng = magic.as_slice() == PCAPNG_MAGIC;
        if !pcapng && !PCAP_MAGICS.iter().any(|m| m.as_slice() == magic.as_slice()) {
            let magic = magic
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ");
            return Err(CaptureError::NotACapture { magic });
        }
        let mut header = magic;
        if pcapng {
            // Block type (4), block length (4), byte-order magic (4), then the rest of the block.
            read_to(&mut source, &mut header, 12)?;
            let (Some(len), Some(bom)) = (header.get(4..8), header.get(8..12)) else {
                return Err(CaptureError::HeaderCut {
                    what: "pcapng section header block",
                    got: header.len(),
                    need: 28,
                });
            };
            let len = if bom == [0x4d, 0x3c, 0x2b, 0x1a] {
                u32::from_le_bytes([len[0], len[1], len[2], len[3]])
            } else {
                u32::from_be_bytes([len[0], len[1], len[2], len[3]])
            } as usize;
            if !(28..=MAX_SHB).contains(&len) {
                return Err(CaptureError::Malformed {
                    offset: 0,
                    reason: format!(
                        "the section header block claims {len} bytes (28 to {MAX_SHB} expected)"
                    ),
                });
            }
            read_to(&mut source, &mut header, len)?;
            if header.len() < len {
                return Err(CaptureError::HeaderCut {
                    what: "pcapng section header block",
                    got: header.len(),
                    need: len,
                });
            }
        } else {
            read_to(&mut source, &mut header, 24)?;
            if header.len() < 24 {
                return Err(CaptureError::HeaderCut {
                    what: "pcap file header",
                    got: header.len(),
                    need: 24,
                });
            }
        }
        let chained = Prefixed {
            prefix: header,
            at: 0,
            inner: source,
        };
        let inner = create_reader(BUFFER, chained).map_err(|e| match e {
            PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::Eof => {
                CaptureError::Truncated {
                    offset: 0,
                    packets: 0,
                }
            }
            PcapError::ReadError => CaptureError::Io(io::Error::other("read failed")),
            other => CaptureError::Malformed {
                offset: 0,
                reason: format!("bad file header ({other:?})"),
            },
        })?;
        Ok(Reader {
            inner,
            legacy: None,
            interfaces: Vec::new(),
            packets: 0,
            pcapng,
        })
    }

    /// Packets read so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Calls `each` with every packet in order until the file ends or `each` returns
    /// `Ok(false)`. Blocks other than packets are skipped.
    pub fn for_each<E: From<CaptureError>>(
        &mut self,
        mut each: impl FnMut(&FrameInfo, &[u8]) -> Result<bool, E>,
    ) -> Result<(), E> {
        self.for_each_event(|event| match event {
            Some((info, data)) => each(info, data),
            None => Ok(true),
        })
    }

    /// Like [`Reader::for_each`], but `each` is also called with `None` just before the reader
    /// waits for more input (so output can be flushed while a live pipe is quiet).
    pub fn for_each_event<E: From<CaptureError>>(
        &mut self,
        mut each: impl FnMut(Option<(&FrameInfo, &[u8])>) -> Result<bool, E>,
    ) -> Result<(), E> {
        let Reader {
            inner,
            legacy,
            interfaces,
            packets,
            ..
        } = self;
        loop {
            let offset = inner.consumed() as u64;
            match inner.next() {
                Ok((used, block)) => {
                    let frame = match block {
                        PcapBlockOwned::LegacyHeader(h) => {
                            *legacy = Some((
                                LinkType::from_linktype(h.network.0 as u32),
                                h.is_nanosecond_precision(),
                            ));
                            None
                        }
                        PcapBlockOwned::Legacy(b) => {
                            let (link, nanos) = legacy.unwrap_or((LinkType::Ethernet, false));
                            let caplen = (b.caplen as usize).min(b.data.len());
                            let (ts_nsec, digits) = if nanos {
                                (b.ts_usec.min(999_999_999), 9)
                            } else {
                                (b.ts_usec.min(999_999).saturating_mul(1000), 6)
                            };
                            Some((
                                FrameInfo {
                                    number: *packets + 1,
                                    ts_sec: i64::from(b.ts_sec),
                                    ts_nsec,
                                    ts_digits: digits,
                                    caplen: caplen as u32,
                                    len: b.origlen.max(caplen as u32),
                                    link,
                                    interface: 0,
                                },
                                b.data.get(..caplen).unwrap_or(&[]),
                            ))
                        }
                        PcapBlockOwned::NG(block) => ng_block(interfaces, *packets, block, offset)?,
                    };
                    let go_on = match frame {
                        Some((info, data)) => {
                            *packets += 1;
                            each(Some((&info, data)))?
                        }
                        None => true,
                    };
                    inner.consume(used);
                    if !go_on {
                        return Ok(());
                    }
                }
                Err(PcapError::Eof) => return Ok(()),
                Err(PcapError::Incomplete(_)) => {
                    each(None)?;
                    inner.refill().map_err(|_| {
                        CaptureError::Io(io::Error::other("read failed while refilling"))
                    })?;
                }
                Err(PcapError::UnexpectedEof) => {
                    return Err(CaptureError::Truncated {
                        offset,
                        packets: *packets,
                    }
                    .into())
                }
                Err(PcapError::BufferTooSmall) => {
                    return Err(CaptureError::Malformed {
                        offset,
                        reason: format!(
                        "a record claims more than {BUFFER} bytes (an impossible captured length)"
                    ),
                    }
                    .into())
                }
                Err(PcapError::ReadError) => {
                    return Err(CaptureError::Io(io::Error::other("read failed")).into())
                }
                Err(e) => {
                    return Err(CaptureError::Malformed {
                        offset,
                        reason: format!("{e:?}").chars().take(120).collect(),
                    }
                    .into())
                }
            }
        }
    }
}

/// Handles one pcapng block: interfaces are remembered, packets returned.
fn ng_block<'b>(
    interfaces: &mut Vec<Interface>,
    packets: u64,
    block: Block<'b>,
    offset: u64,
) -> Result<Option<(FrameInfo, &'b [u8])>, CaptureError> {
    match block {
        Block::SectionHeader(_) => {
            interfaces.clear();
            Ok(None)
        }
        Block::InterfaceDescription(idb) => {
            interfaces.push(Interface {
                link: LinkType::from_linktype(idb.linktype.0 as u32),
                resolution: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                offset: idb.ts_offset(),
                snaplen: idb.snaplen,
            });
            Ok(None)
        }
        Block::EnhancedPacket(epb) => {
            let iface = interfaces.get(epb.if_id as usize).copied().ok_or_else(|| {
                CaptureError::Malformed {
                    offset,
                    reason: format!(
                        "a packet names interface {} but the section describes {}",
                        epb.if_id,
                        interfaces.len()
                    ),
                }
            })?;
            let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
            let res = iface.resolution;
            let sec = (ts / res) as i64 + iface.offset;
            let frac = ts % res;
            let ts_nsec = (u128::from(frac) * 1_000_000_000 / u128::from(res)) as u32;
            let digits = if res > 1_000_000 { 9 } else { 6 };
            let caplen = (epb.caplen as usize).min(epb.data.len());
            Ok(Some((
                FrameInfo {
                    number: packets + 1,
                    ts_sec: sec,
                    ts_nsec,
                    ts_digits: digits,
                    caplen: caplen as u32,
                    len: epb.origlen.max(caplen as u32),
                    link: iface.link,
                    interface: epb.if_id,
                },
                epb.data.get(..caplen).unwrap_or(&[]),
            )))
        }
        Block::SimplePacket(spb) => {
            let iface = interfaces
                .first()
                .copied()
                .ok_or_else(|| CaptureError::Malformed {
                    offset,
                    reason: "a simple packet block comes before any interface description".into(),
                })?;
            let snap = if iface.snaplen == 0 {
                u32::MAX
            } else {
                iface.snaplen
            };
            let caplen = (spb.origlen.min(snap) as usize).min(spb.data.len());
            Ok(Some((
                FrameInfo {
                    number: packets + 1,
                    ts_sec: 0,
                    ts_nsec: 0,
                    ts_digits: 6,
                    caplen: caplen as u32,
                    len: spb.origlen.max(caplen as u32),
                    link: iface.link,
                    interface: 0,
                },
                spb.data.get(..caplen).unwrap_or(&[]),
            )))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_bytes(nanos: bool, big_endian: bool) -> Vec<u8> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let w32 = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let w16 = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut f = Vec::new();
        f.extend(w32(magic));
        f.extend(w16(2));
        f.extend(w16(4));
        f.extend(w32(0));
        f.extend(w32(0));
        f.extend(w32(65535));
        f.extend(w32(1));
        let frame = &crate::dissect::engine_test_frames::SYN_FRAME;
        for i in 0..2u32 {
            f.extend(w32(1_700_000_000 + i));
            f.extend(w32(123_456));
            f.extend(w32(frame.len() as u32));
            f.extend(w32(frame.len() as u32));
            f.extend_from_slice(frame);
        }
        f
    }

    fn collect(bytes: &[u8]) -> Result<Vec<FrameInfo>, CaptureError> {
        let mut r = Reader::new(bytes)?;
        let mut v = Vec::new();
        r.for_each(|i, d| {
            assert_eq!(d.len(), i.caplen as usize);
            v.push(*i);
            Ok::<_, CaptureError>(true)
        })?;
        Ok(v)
    }

    #[test]
    fn pcap_all_four_magics() {
        for nanos in [false, true] {
            for be in [false, true] {
                let v = collect(&pcap_bytes(nanos, be)).unwrap();
                assert_eq!(v.len(), 2, "nanos {nanos} be {be}");
                assert_eq!(v[1].ts_sec, 1_700_000_001);
                assert_eq!(v[0].ts_nsec, if nanos { 123_456 } else { 123_456_000 });
                assert_eq!(v[0].link, LinkType::Ethernet);
                assert_eq!(v[1].number, 2);
            }
        }
    }

    #[test]
    fn not_a_capture_names_magic() {
        let e = collect(b"\x7fELF\x02\x01").unwrap_err();
        assert!(e.to_string().contains("7f 45 4c 46"), "{e}");
        assert!(e.is_bad_input());
        assert!(matches!(collect(b""), Err(CaptureError::Empty)));
    }

    #[test]
    fn truncated_mid_packet_keeps_whole_packets() {
        let full = pcap_bytes(false, false);
        let cut = &full[..full.len() - 10];
        let mut r = Reader::new(cut).unwrap();
        let mut n = 0;
        let e = r
            .for_each(|_, _| {
                n += 1;
                Ok::<_, CaptureError>(true)
            })
            .unwrap_err();
        assert_eq!(n, 1);
        match e {
            CaptureError::Truncated { offset, packets } => {
                assert_eq!(offset, 24 + 16 + 74);
                assert_eq!(packets, 1);
            }
            other => panic!("{other}"),
        }
    }
}

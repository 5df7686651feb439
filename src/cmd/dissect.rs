//! `wirelab dissect`: a capture file, stdin or hex bytes → layers → the chosen view.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};

use anyhow::Result;

use crate::capture::{CaptureError, Reader};
use crate::cli::{DissectArgs, LinkArg, PacketFormat, ViewArgs};
use crate::dissect::filter::Filter;
use crate::dissect::follow::{self, Follow};
use crate::dissect::stats::Stats;
use crate::dissect::{hex_input, Dissector, FrameInfo, Layer, LinkType, Packet};
use crate::exit::BadInput;
use crate::render::follow::FollowFormat;
use crate::render::{flow, follow as follow_view, packet};

/// Packets in, views out: filter, skip, count, stats. Shared with `capture`.
pub(super) struct Sink {
    dissector: Dissector,
    layers: Vec<Layer>,
    filter: Option<Filter>,
    format: PacketFormat,
    json: bool,
    colour: bool,
    skip: u64,
    count: Option<u64>,
    matched: u64,
    pub shown: u64,
    stats: Option<Stats>,
    link_override: Option<LinkType>,
    /// --follow N: the stream, whether its header was printed, and the chunks of a packet.
    follow: Option<(Follow, bool, Vec<follow::Event>)>,
    /// `--flow`: packets go into a ladder diagram drawn at the end.
    flow: Option<flow::Flow>,
}

impl Sink {
    pub fn new(view: &ViewArgs, link_override: Option<LinkType>) -> Result<Sink> {
        let filter = match &view.filter {
            Some(e) => Some(Filter::parse(e).map_err(|e| BadInput(e.to_string()))?),
            None => None,
        };
        let format = if view.json {
            PacketFormat::Json
        } else {
            view.format
        };
        Ok(Sink {
            dissector: if view.no_reassemble {
                Dissector::per_packet()
            } else {
                Dissector::new()
            },
            layers: Vec::with_capacity(16),
            filter,
            format,
            json: view.json || view.format == PacketFormat::Json,
            colour: io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            skip: view.skip,
            count: view.count,
            matched: 0,
            shown: 0,
            stats: view.stats.then(Stats::default),
            link_override,
            follow: None,
            flow: None,
        })
    }

    /// Shows TCP stream `n`'s bytes instead of packets.
    pub fn follow(&mut self, n: u32) {
        self.follow = Some((Follow::new(n), false, Vec::new()));
    }

    fn follow_format(&self) -> FollowFormat {
        match self.format {
            PacketFormat::Hex => FollowFormat::Hex,
            PacketFormat::Json => FollowFormat::Json,
            _ => FollowFormat::Ascii,
        }
    }

    /// True once --count packets have been shown.
    pub fn done(&self) -> bool {
        self.count.is_some_and(|c| self.shown >= c)
    }

    /// Dissects one frame; returns whether it matched the filter (and was shown or counted).
    pub fn packet<W: Write>(
        &mut self,
        out: &mut W,
        info: &FrameInfo,
        data: &[u8],
    ) -> io::Result<bool> {
        let mut info = *info;
        if let Some(l) = self.link_override {
            info.link = l;
        }
        self.dissector.dissect(&info, data, &mut self.layers);
        let p = Packet {
            info: &info,
            data,
            layers: &self.layers,
            reassembled: self.dissector.reassembled(),
        };
        if let Some(f) = &self.filter {
            if !f.matches(&p) {
                return Ok(false);
            }
        }
        self.matched += 1;
        if self.matched <= self.skip || self.done() {
            return Ok(false);
        }
        self.shown += 1;
        let ff = self.follow_format();
        if let Some((f, header_done, events)) = &mut self.follow {
            events.clear();
            f.packet(&p, events);
            if !events.is_empty() && !*header_done {
                follow_view::header(out, ff, f.stream, f.nodes)?;
                *header_done = true;
            }
            for e in events.iter() {
                follow_view::event(out, ff, e)?;
            }
            return Ok(true);
        }
        if let Some(f) = &mut self.flow {
            f.add(&p);
            return Ok(true);
        }
        match (&mut self.stats, self.format) {
            (Some(s), _) => s.add(&p),
            (None, PacketFormat::Summary) => packet::summary(out, &p)?,
            (None, PacketFormat::Detail) => packet::detail(out, &p)?,
            (None, PacketFormat::Hex) => packet::hex(out, &p, self.colour)?,
            (None, PacketFormat::Json) => packet::json(out, &p)?,
        }
        Ok(true)
    }

    /// Prints the stats tables, if asked for.
    pub fn finish<W: Write>(&self, out: &mut W) -> io::Result<()> {
        if let Some((f, header_done, _)) = &self.follow {
            let ff = self.follow_format();
            if !header_done {
                follow_view::header(out, ff, f.stream, f.nodes)?;
            }
            follow_view::footer(out, ff)?;
            return out.flush();
        }
        if let Some(f) = &self.flow {
            f.draw(out)?;
        }
        if let Some(s) = &self.stats {
            if self.json {
                packet::stats_json(out, s)?;
            } else {
                packet::stats(out, s)?;
            }
        }
        out.flush()
    }
}

fn link_of(l: LinkArg) -> LinkType {
    match l {
        LinkArg::Ethernet => LinkType::Ethernet,
        LinkArg::Ipv4 => LinkType::Ipv4,
        LinkArg::Ipv6 => LinkType::Ipv6,
        LinkArg::Raw => LinkType::RawIp,
        LinkArg::Sll => LinkType::LinuxSll,
        LinkArg::Sll2 => LinkType::LinuxSll2,
        LinkArg::Null => LinkType::Null,
    }
}

pub fn run(a: DissectArgs) -> Result<()> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let link = a.link.map(link_of);
    let mut sink = Sink::new(&a.view, link)?;
    if let Some(n) = a.follow {
        sink.follow(n);
    }
    if a.flow {
        sink.flow = Some(flow::Flow::default());
    }

    let hex_packets: Option<Vec<(usize, String)>> = match (&a.hex, &a.hex_file) {
        (Some(h), _) => Some(vec![(1, h.clone())]),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| BadInput(format!("cannot read hex file {}: {e}", path.display())))?;
            Some(
                text.lines()
                    .enumerate()
                    .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                    .map(|(i, l)| (i + 1, l.to_string()))
                    .collect(),
            )
        }
        (None, None) => None,
    };
    if let Some(lines) = hex_packets {
        let mut said: Vec<LinkType> = Vec::new();
        for (n, (line_no, text)) in lines.iter().enumerate() {
            let bytes = hex_input::parse(text).map_err(|e| {
                let place = if a.hex.is_some() {
                    "--hex".to_string()
                } else {
                    format!("line {line_no}")
                };
                BadInput(format!("{place}: {e}"))
            })?;
            // No --link: guess from the first nibble, and say so (on stderr, once a link).
            let link = match link {
                Some(l) => l,
                None => {
                    let (l, why) = hex_input::guess_link(&bytes);
                    if !said.contains(&l) {
                        said.push(l);
                        let flag = match l {
                            LinkType::Ipv4 => "ipv4",
                            LinkType::Ipv6 => "ipv6",
                            _ => "ethernet",
                        };
                        let other = if l == LinkType::Ethernet {
                            "--link ipv4, ipv6, sll, ..."
                        } else {
                            "--link ethernet"
                        };
                        eprintln!(
                            "dissect: no --link given; guessed --link {flag}: {why} (give {other} if the bytes start otherwise)"
                        );
                    }
                    l
                }
            };
            let info = FrameInfo {
                number: n as u64 + 1,
                ts_sec: 0,
                ts_nsec: 0,
                ts_digits: 6,
                caplen: bytes.len() as u32,
                len: bytes.len() as u32,
                link,
                interface: 0,
            };
            sink.packet(&mut out, &info, &bytes)?;
            if sink.done() {
                break;
            }
        }
        return Ok(sink.finish(&mut out)?);
    }

    let Some(path) = a.file else {
        return Err(
            BadInput("give a FILE, - for standard input, --hex or --hex-file".into()).into(),
        );
    };
    let name = path.display().to_string();
    if path.is_dir() {
        return Err(BadInput(format!(
            "{name} is a directory: give a pcap or pcapng file (or - for standard input)"
        ))
        .into());
    }
    let mut reader = if name == "-" {
        Reader::new(io::stdin())
    } else {
        let f = File::open(&path).map_err(|e| BadInput(format!("cannot open {name}: {e}")))?;
        Reader::new(f)
    }
    .map_err(|e| capture_error(e, &name))?;

    let result = reader.for_each_event(|event| -> Result<bool> {
        match event {
            Some((info, data)) => {
                sink.packet(&mut out, info, data)?;
                Ok(!sink.done())
            }
            // About to wait for input (a live pipe): show what we have.
            None => {
                out.flush()?;
                Ok(true)
            }
        }
    });
    // Everything read so far is printed before any error.
    sink.finish(&mut out)?;
    match result {
        Ok(()) => Ok(()),
        Err(e) => match e.downcast::<CaptureError>() {
            Ok(ce) => Err(capture_error(ce, &name)),
            Err(other) => Err(other),
        },
    }
}

/// A capture error as bad input (exit 2) naming the file, or a run-time failure.
pub(super) fn capture_error(e: CaptureError, name: &str) -> anyhow::Error {
    if e.is_bad_input() {
        BadInput(format!("{name}: {e}")).into()
    } else {
        anyhow::Error::new(e).context(format!("reading {name}"))
    }
}

//! `wirelab dissect --format json` against `tshark -T fields` on every fixture: the fields both
//! show must agree on every packet, both per packet (`--no-reassemble` against tshark's
//! `tcp.desegment_tcp_streams:FALSE`) and on the reassembled streams (both defaults), where a
//! message split over segments is decoded in the frame that completes it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// (tshark field, wirelab layer, wirelab field).
const FIELDS: &[(&str, &str, &str)] = &[
    ("eth.src", "eth", "src"),
    ("eth.dst", "eth", "dst"),
    ("sll.pkttype", "sll", "pkttype"),
    ("sll.etype", "sll", "etype"),
    // Stacked tags: tshark names an 802.1ad outer tag `ieee8021ad`, so these two columns
    // together are wirelab's vlan layers in order (checked in `vlan_ids`).
    ("ieee8021ad.id", "", ""),
    ("vlan.id", "", ""),
    ("arp.opcode", "arp", "opcode"),
    ("arp.src.proto_ipv4", "arp", "src.proto_ipv4"),
    ("arp.dst.proto_ipv4", "arp", "dst.proto_ipv4"),
    ("arp.src.hw_mac", "arp", "src.hw_mac"),
    ("ip.src", "ipv4", "src"),
    ("ip.dst", "ipv4", "dst"),
    ("ip.ttl", "ipv4", "ttl"),
    ("ip.proto", "ipv4", "proto"),
    ("ip.len", "ipv4", "len"),
    ("ip.id", "ipv4", "id"),
    ("ip.hdr_len", "ipv4", "hdr_len"),
    ("ip.flags", "ipv4", "flags"),
    ("ip.frag_offset", "ipv4", "frag_offset"),
    ("ip.dsfield", "ipv4", "dsfield"),
    ("ipv6.src", "ipv6", "src"),
    ("ipv6.dst", "ipv6", "dst"),
    ("ipv6.hlim", "ipv6", "hlim"),
    ("ipv6.nxt", "ipv6", "nxt"),
    ("ipv6.plen", "ipv6", "plen"),
    ("ipv6.flow", "ipv6", "flow"),
    ("ipv6.hopopts.nxt", "ipv6.hopopts", "nxt"),
    ("ipv6.hopopts.len_oct", "ipv6.hopopts", "len_oct"),
    ("ipv6.dstopts.nxt", "ipv6.dstopts", "nxt"),
    ("ipv6.dstopts.len", "ipv6.dstopts", "len"),
    ("ipv6.fraghdr.nxt", "ipv6.fraghdr", "nxt"),
    ("ipv6.fraghdr.offset", "ipv6.fraghdr", "offset"),
    ("ipv6.fraghdr.ident", "ipv6.fraghdr", "ident"),
    ("icmp.type", "icmp", "type"),
    ("icmp.code", "icmp", "code"),
    ("icmp.seq", "icmp", "seq"),
    ("icmpv6.type", "icmpv6", "type"),
    ("icmpv6.code", "icmpv6", "code"),
    (
        "icmpv6.nd.ns.target_address",
        "icmpv6",
        "nd.ns.target_address",
    ),
    ("tcp.srcport", "tcp", "srcport"),
    ("tcp.dstport", "tcp", "dstport"),
    ("tcp.seq_raw", "tcp", "seq_raw"),
    ("tcp.ack_raw", "tcp", "ack_raw"),
    ("tcp.seq", "tcp", "seq"),
    ("tcp.ack", "tcp", "ack"),
    ("tcp.flags", "tcp", "flags"),
    ("tcp.window_size_value", "tcp", "window"),
    ("tcp.window_size", "tcp", "window_size"),
    ("tcp.len", "tcp", "len"),
    ("tcp.hdr_len", "tcp", "hdr_len"),
    ("tcp.stream", "tcp", "stream"),
    ("tcp.options.mss_val", "tcp", "options.mss_val"),
    ("tcp.options.wscale.shift", "tcp", "options.wscale.shift"),
    (
        "tcp.options.timestamp.tsval",
        "tcp",
        "options.timestamp.tsval",
    ),
    ("udp.srcport", "udp", "srcport"),
    ("udp.dstport", "udp", "dstport"),
    ("udp.length", "udp", "length"),
    ("dns.id", "dns", "id"),
    ("dns.flags", "dns", "flags"),
    ("dns.qry.name", "dns", "qry.name"),
    ("dns.count.answers", "dns", "count.answers"),
    ("dns.flags.rcode", "dns", "flags.rcode"),
    ("http.request.method", "http", "request.method"),
    ("http.request.uri", "http", "request.uri"),
    ("http.response.code", "http", "response.code"),
    ("websocket.opcode", "websocket", "opcode"),
    ("websocket.payload_length", "websocket", "payload_length"),
    // tshark's payload_length is the 7-bit field (126, 127: see the extended length);
    // wirelab's is the length itself (checked in `compare`).
    ("websocket.payload_length_ext_16", "", ""),
    ("websocket.payload_length_ext_64", "", ""),
    // The length of a message put together from several segments (reassembled streams only).
    ("tcp.reassembled.length", "reassembled", "length"),
    ("vxlan.flags", "vxlan", "flags"),
    ("vxlan.vni", "vxlan", "vni"),
    // The whole stack as one string, and the pcapng interface (checked in `compare`).
    ("frame.protocols", "", ""),
    ("frame.interface_id", "", ""),
];

/// Where tshark's `frame.protocols` and wirelab's differ for a reason, not a bug: tshark's
/// heuristic decodes an IPv6-extension test datagram as GPRS-NS, names a text HTTP body
/// `data-text-lines`, and (until per-packet decoding follows the reassembled stream) TCP
/// payload wirelab shows as data on an HTTP or DNS connection. On reassembled streams tshark
/// also names a whole WebSocket frame's payload `data` (wirelab's websocket layer holds it),
/// and names an HTTP body by its media type (`urlencoded-form`) where wirelab says `data`.
fn protocols_differ_by_design(theirs: &str, mine: &str) -> bool {
    let body_by_media_type = mine
        .strip_suffix(":http:data")
        .is_some_and(|m| theirs.starts_with(&format!("{m}:http:")));
    theirs.contains("gprs-ns")
        || theirs.contains("data-text-lines")
        || mine.ends_with(":tcp:data")
        || (mine.ends_with(":websocket") && theirs == format!("{mine}:data"))
        || body_by_media_type
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures"))
        .expect("fixtures/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    v.sort();
    v
}

/// A value as tshark prints it: numbers in decimal (hex converted), the rest as text.
fn norm(s: &str) -> String {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x") {
        if let Ok(n) = u64::from_str_radix(h, 16) {
            return n.to_string();
        }
    }
    s.to_string()
}

fn ours(packet: &Value, layer: &str, field: &str) -> Vec<String> {
    let mut v = Vec::new();
    for l in packet["layers"].as_array().into_iter().flatten() {
        let name = l["name"].as_str().unwrap_or("");
        let matches = name == layer || (layer == "sll" && name == "sll2");
        if !matches {
            continue;
        }
        match &l["fields"][field] {
            Value::Null => {}
            Value::Array(items) => v.extend(items.iter().map(|i| norm(i.as_str().unwrap_or("")))),
            Value::String(s) => v.push(norm(s)),
            other => v.push(other.to_string()),
        }
    }
    v
}

/// Per packet, or on the reassembled streams.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    PerPacket,
    Streams,
}

fn compare(path: &Path, mode: Mode) -> (usize, usize) {
    let bin = env!("CARGO_BIN_EXE_wirelab");
    let mut ours_cmd = Command::new(bin);
    ours_cmd.args(["dissect", "--format", "json"]);
    if mode == Mode::PerPacket {
        ours_cmd.arg("--no-reassemble");
    }
    let out = ours_cmd.arg(path).output().expect("run wirelab");
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let packets: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();

    let mut cmd = tshark(path, mode);
    cmd.args([
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-E",
        "aggregator=,",
        "-E",
        "occurrence=a",
    ]);
    for (f, _, _) in FIELDS {
        cmd.args(["-e", f]);
    }
    let ts = cmd
        .output()
        .expect("tshark runs (scripts/test installs it)");
    assert!(
        ts.status.success(),
        "tshark failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&ts.stderr)
    );
    let rows: Vec<String> = String::from_utf8_lossy(&ts.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(
        rows.len(),
        packets.len(),
        "{}: packet count",
        path.display()
    );
    let mut checked = 0;
    let mut values = 0;
    for (i, (row, p)) in rows.iter().zip(&packets).enumerate() {
        let cols: Vec<&str> = row.split('\t').collect();
        for (j, (tf, layer, field)) in FIELDS.iter().enumerate() {
            let mut theirs: Vec<String> = cols
                .get(j)
                .filter(|c| !c.is_empty())
                .map(|c| c.split(',').map(norm).collect())
                .unwrap_or_default();
            if *tf == "websocket.payload_length" {
                theirs = extended_lengths(FIELDS, &cols, theirs);
            }
            if layer.is_empty() || theirs.is_empty() {
                continue;
            }
            let mine = ours(p, layer, field);
            assert_eq!(
                mine,
                theirs,
                "{} frame {} ({mode:?}): {tf} (wirelab {layer}.{field})",
                path.display(),
                i + 1
            );
            values += theirs.len();
        }
        let col = |name: &str| -> Vec<String> {
            let j = FIELDS
                .iter()
                .position(|(f, _, _)| *f == name)
                .unwrap_or(usize::MAX);
            cols.get(j)
                .filter(|c| !c.is_empty())
                .map(|c| c.split(',').map(norm).collect())
                .unwrap_or_default()
        };
        let theirs = cols
            .get(
                FIELDS
                    .iter()
                    .position(|(f, _, _)| *f == "frame.protocols")
                    .unwrap_or(0),
            )
            .copied()
            .unwrap_or("");
        let mine = p["frame.protocols"].as_str().unwrap_or("");
        if !protocols_differ_by_design(theirs, mine) {
            assert_eq!(
                mine,
                theirs,
                "{} frame {} ({mode:?}): frame.protocols",
                path.display(),
                i + 1
            );
            values += 1;
        }
        let iface = col("frame.interface_id");
        assert_eq!(
            vec![p["frame.interface_id"].to_string()],
            if iface.is_empty() {
                vec!["0".to_string()]
            } else {
                iface
            },
            "{} frame {}: frame.interface_id",
            path.display(),
            i + 1
        );
        values += 1;
        let mut tags = col("ieee8021ad.id");
        tags.extend(col("vlan.id"));
        assert_eq!(
            ours(p, "vlan", "id"),
            tags,
            "{} frame {}: VLAN ids",
            path.display(),
            i + 1
        );
        values += tags.len();
        checked += 1;
    }
    (checked, values)
}

/// `tshark -r FILE` with the preferences every comparison uses: no IP reassembly, TCP
/// reassembly as `mode` says, HTTP on the fixtures' own ports.
fn tshark(path: &Path, mode: Mode) -> Command {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(path).args([
        "-o",
        "ip.defragment:FALSE",
        "-o",
        "ipv6.defragment:FALSE",
        "-o",
        if mode == Mode::PerPacket {
            "tcp.desegment_tcp_streams:FALSE"
        } else {
            "tcp.desegment_tcp_streams:TRUE"
        },
        "-d",
        "tcp.port==18080,http",
        "-d",
        "tcp.port==18765,http",
    ]);
    cmd
}

/// tshark's 7-bit WebSocket lengths with 126 and 127 replaced by the extended lengths that
/// follow them, in frame order.
fn extended_lengths(
    fields: &[(&str, &str, &str)],
    cols: &[&str],
    seven: Vec<String>,
) -> Vec<String> {
    let col = |name: &str| -> Vec<String> {
        fields
            .iter()
            .position(|(f, _, _)| *f == name)
            .and_then(|j| cols.get(j))
            .filter(|c| !c.is_empty())
            .map(|c| c.split(',').map(norm).collect())
            .unwrap_or_default()
    };
    let (mut e16, mut e64) = (
        col("websocket.payload_length_ext_16").into_iter(),
        col("websocket.payload_length_ext_64").into_iter(),
    );
    seven
        .into_iter()
        .map(|l| match l.as_str() {
            "126" => e16.next().unwrap_or(l),
            "127" => e64.next().unwrap_or(l),
            _ => l,
        })
        .collect()
}

fn every_fixture_agrees(mode: Mode) {
    let files = fixtures();
    assert!(
        files.len() >= 10,
        "expected the fixture set, found {files:?}"
    );
    let mut total = 0;
    for f in &files {
        let (packets, values) = compare(f, mode);
        assert!(packets > 0, "{} has no packets", f.display());
        assert!(values > packets, "{}: too few values compared", f.display());
        total += values;
        eprintln!(
            "{} ({mode:?}): {packets} packets, {values} values agree with tshark",
            f.display()
        );
    }
    assert!(total > 1000, "only {total} values compared");
}

/// The messages of fixtures/streams.pcap that span segments (made by tools/streams.py: an HTTP
/// request and response sent in pieces, a 70,000-byte WebSocket message, DNS over TCP with its
/// length in a segment of its own) are decoded in the frame that completes them, with the
/// values tshark gives there; per packet, those frames decode none of it.
#[test]
fn split_messages_are_decoded_where_they_complete() {
    let streams = wirelab_json("streams.pcap", &[]);
    let per_packet = wirelab_json("streams.pcap", &["--no-reassemble"]);
    let value =
        |ps: &[Value], frame: usize, layer: &str, field: &str| ours(&ps[frame - 1], layer, field);
    // (frame, layer, field, value, tshark's reassembled length there)
    let expect = [
        (6, "http", "request.method", "GET", "69"),
        (14, "http", "response.code", "200", "479"),
        (32, "websocket", "payload_length", "70000", "70010"),
        (48, "dns", "id", "4660", "48"),
        (52, "dns", "count.answers", "1", "52"),
    ];
    for (frame, layer, field, v, len) in expect {
        assert_eq!(
            value(&streams, frame, layer, field),
            [v],
            "frame {frame}: {layer}.{field}"
        );
        assert_eq!(
            value(&streams, frame, "reassembled", "length"),
            [len],
            "frame {frame}"
        );
        assert!(
            value(&per_packet, frame, layer, field).is_empty(),
            "frame {frame}: per packet, {layer}.{field} is not in this segment alone"
        );
        let app = streams[frame - 1]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == layer)
            .unwrap();
        assert_eq!(
            app["reassembled"], true,
            "frame {frame}: decoded from reassembled bytes"
        );
    }
    // The segments before a completing frame are parts of its message.
    for frame in [4, 8, 10, 12, 28, 30, 46, 51] {
        let names: Vec<&str> = streams[frame - 1]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.last(), Some(&"segment"), "frame {frame}: {names:?}");
    }
    // And the segments a message came from, in stream order.
    assert_eq!(
        streams[13]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == "reassembled")
            .unwrap()["fields"]["segments"],
        serde_json::json!(["#8(42)", "#10(23)", "#12(100)", "#14(314)"])
    );
}

/// `wirelab dissect --format json EXTRA fixtures/FILE`, one value a packet.
fn wirelab_json(file: &str, extra: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_wirelab"))
        .args(["dissect", "--format", "json"])
        .args(extra)
        .arg(root().join("fixtures").join(file))
        .output()
        .expect("run wirelab");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect()
}

fn layers_named(p: &Value, name: &str) -> usize {
    p["layers"]
        .as_array()
        .map_or(0, |ls| ls.iter().filter(|l| l["name"] == name).count())
}

/// fixtures/streams-real.pcap, from real programs (curl and python3 -m http.server, python
/// `websockets`, dig +tcp and dnsmasq): a 300 kB response and a 100 kB POST, WebSocket
/// messages of 70,000 and 200,000 bytes each way, reassembled where tshark reassembles them;
/// and fixtures/streams-gap.pcap, the same with one segment of the response deleted: the gap
/// is reported where tshark reports it ("previous segment not captured"), the response is not
/// decoded, and the connections after it are.
#[test]
fn real_programs_streams_and_a_gap() {
    let real = wirelab_json("streams-real.pcap", &[]);
    for (frame, length, layer, field, v) in [
        (23, "299190", "http", "response.code", "200"),
        (37, "100159", "http", "request.method", "POST"),
        (40, "555", "http", "response.code", "501"),
        (55, "70014", "websocket", "payload_length", "70000"),
        (59, "70010", "websocket", "payload_length", "70000"),
        (66, "200014", "websocket", "payload_length", "200000"),
        (74, "200010", "websocket", "payload_length", "200000"),
    ] {
        let p = &real[frame - 1];
        assert_eq!(ours(p, "reassembled", "length"), [length], "frame {frame}");
        assert_eq!(ours(p, layer, field), [v], "frame {frame}");
    }
    let dns_over_tcp: Vec<&Value> = real.iter().filter(|p| layers_named(p, "dns") > 0).collect();
    assert_eq!(
        dns_over_tcp.len(),
        4,
        "dig +tcp: two queries, two responses"
    );
    assert!(dns_over_tcp.iter().all(|p| layers_named(p, "tcp") == 1));

    let gap = wirelab_json("streams-gap.pcap", &[]);
    let after_gap: Vec<u64> = gap
        .iter()
        .filter(|p| {
            p["layers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["name"] == "segment" && l["fields"]["role"] == "after a gap")
        })
        .map(|p| p["frame"].as_u64().unwrap())
        .collect();
    assert_eq!(
        after_gap,
        [13],
        "reported on the segment after the hole, as tshark does"
    );
    assert_eq!(
        ours(&gap[12], "segment", "missing"),
        ["32768"],
        "the deleted segment's length"
    );
    assert!(
        !gap.iter()
            .any(|p| ours(p, "http", "response.code") == ["200"]),
        "the 300 kB response lost a segment: not decoded"
    );
    assert_eq!(ours(&gap[35], "http", "request.method"), ["POST"]);
    assert_eq!(ours(&gap[64], "websocket", "payload_length"), ["200000"]);
}

#[test]
fn every_fixture_agrees_with_tshark_per_packet() {
    every_fixture_agrees(Mode::PerPacket);
}

#[test]
fn every_fixture_agrees_with_tshark_on_reassembled_streams() {
    every_fixture_agrees(Mode::Streams);
}

/// (tshark field, wirelab layer, wirelab field) whose byte ranges (`field_ranges`) are
/// compared with the `pos` and `size` of tshark's PDML. Left out: fields wirelab computes from
/// more than one place (`tcp.len`, `tcp.stream`, the reassembled length), which have no range;
/// and `websocket.payload_length`, which in tshark is the 7-bit byte alone and in wirelab the
/// length with its extension (checked in `websocket_length_range`).
const RANGED: &[(&str, &str, &str)] = &[
    ("eth.dst", "eth", "dst"),
    ("eth.src", "eth", "src"),
    ("eth.type", "eth", "type"),
    ("sll.pkttype", "sll", "pkttype"),
    ("sll.hatype", "sll", "hatype"),
    ("sll.halen", "sll", "halen"),
    ("sll.etype", "sll", "etype"),
    ("vlan.id", "vlan", "id"),
    ("arp.opcode", "arp", "opcode"),
    ("arp.hw.type", "arp", "hw.type"),
    ("arp.src.hw_mac", "arp", "src.hw_mac"),
    ("arp.src.proto_ipv4", "arp", "src.proto_ipv4"),
    ("arp.dst.hw_mac", "arp", "dst.hw_mac"),
    ("arp.dst.proto_ipv4", "arp", "dst.proto_ipv4"),
    ("ip.version", "ipv4", "version"),
    ("ip.hdr_len", "ipv4", "hdr_len"),
    ("ip.dsfield", "ipv4", "dsfield"),
    ("ip.dsfield.dscp", "ipv4", "dsfield.dscp"),
    ("ip.len", "ipv4", "len"),
    ("ip.id", "ipv4", "id"),
    ("ip.flags", "ipv4", "flags"),
    ("ip.flags.df", "ipv4", "flags.df"),
    ("ip.frag_offset", "ipv4", "frag_offset"),
    ("ip.ttl", "ipv4", "ttl"),
    ("ip.proto", "ipv4", "proto"),
    ("ip.checksum", "ipv4", "checksum"),
    ("ip.src", "ipv4", "src"),
    ("ip.dst", "ipv4", "dst"),
    ("ipv6.version", "ipv6", "version"),
    ("ipv6.tclass", "ipv6", "tclass"),
    ("ipv6.flow", "ipv6", "flow"),
    ("ipv6.plen", "ipv6", "plen"),
    ("ipv6.nxt", "ipv6", "nxt"),
    ("ipv6.hlim", "ipv6", "hlim"),
    ("ipv6.src", "ipv6", "src"),
    ("ipv6.dst", "ipv6", "dst"),
    ("ipv6.hopopts.nxt", "ipv6.hopopts", "nxt"),
    ("ipv6.fraghdr.nxt", "ipv6.fraghdr", "nxt"),
    ("ipv6.fraghdr.offset", "ipv6.fraghdr", "offset"),
    ("ipv6.fraghdr.ident", "ipv6.fraghdr", "ident"),
    ("icmp.type", "icmp", "type"),
    ("icmp.code", "icmp", "code"),
    ("icmp.checksum", "icmp", "checksum"),
    ("icmp.seq", "icmp", "seq"),
    ("icmpv6.type", "icmpv6", "type"),
    ("icmpv6.code", "icmpv6", "code"),
    ("icmpv6.checksum", "icmpv6", "checksum"),
    (
        "icmpv6.nd.ns.target_address",
        "icmpv6",
        "nd.ns.target_address",
    ),
    ("tcp.srcport", "tcp", "srcport"),
    ("tcp.dstport", "tcp", "dstport"),
    ("tcp.seq", "tcp", "seq"),
    ("tcp.seq_raw", "tcp", "seq_raw"),
    ("tcp.ack", "tcp", "ack"),
    ("tcp.ack_raw", "tcp", "ack_raw"),
    ("tcp.hdr_len", "tcp", "hdr_len"),
    ("tcp.flags", "tcp", "flags"),
    ("tcp.window_size_value", "tcp", "window"),
    ("tcp.window_size", "tcp", "window_size"),
    ("tcp.checksum", "tcp", "checksum"),
    ("tcp.urgent_pointer", "tcp", "urgent_pointer"),
    ("tcp.options.mss_val", "tcp", "options.mss_val"),
    ("tcp.options.wscale.shift", "tcp", "options.wscale.shift"),
    ("tcp.options.sack_perm", "tcp", "options.sack_perm"),
    (
        "tcp.options.timestamp.tsval",
        "tcp",
        "options.timestamp.tsval",
    ),
    (
        "tcp.options.timestamp.tsecr",
        "tcp",
        "options.timestamp.tsecr",
    ),
    ("udp.srcport", "udp", "srcport"),
    ("udp.dstport", "udp", "dstport"),
    ("udp.length", "udp", "length"),
    ("udp.checksum", "udp", "checksum"),
    ("vxlan.flags", "vxlan", "flags"),
    ("vxlan.vni", "vxlan", "vni"),
    ("dns.length", "dns", "length"),
    ("dns.id", "dns", "id"),
    ("dns.flags", "dns", "flags"),
    ("dns.flags.response", "dns", "flags.response"),
    ("dns.flags.rcode", "dns", "flags.rcode"),
    ("dns.count.queries", "dns", "count.queries"),
    ("dns.count.answers", "dns", "count.answers"),
    ("dns.qry.name", "dns", "qry.name"),
    ("dns.qry.type", "dns", "qry.type"),
    ("dns.resp.name", "dns", "resp.name"),
    ("dns.resp.type", "dns", "resp.type"),
    ("dns.resp.ttl", "dns", "resp.ttl"),
    ("http.request.method", "http", "request.method"),
    ("http.request.uri", "http", "request.uri"),
    ("http.request.version", "http", "request.version"),
    ("http.response.version", "http", "response.version"),
    ("http.response.code", "http", "response.code"),
    ("http.response.phrase", "http", "response.phrase"),
    ("websocket.fin", "websocket", "fin"),
    ("websocket.opcode", "websocket", "opcode"),
    ("websocket.mask", "websocket", "mask"),
    ("websocket.masking_key", "websocket", "masking_key"),
];

/// One packet's fields from `tshark -T pdml`: name to each occurrence's `[pos, pos + size)`,
/// in tree order.
type Positions = std::collections::HashMap<String, Vec<[u64; 2]>>;

fn attr<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let from = line.find(&format!(" {key}=\""))? + key.len() + 3;
    let len = line[from..].find('"')?;
    Some(&line[from..from + len])
}

fn pdml(path: &Path, mode: Mode) -> Vec<Positions> {
    let out = tshark(path, mode)
        .args(["-T", "pdml"])
        .output()
        .expect("tshark runs");
    assert!(out.status.success(), "tshark -T pdml {}", path.display());
    let mut packets: Vec<Positions> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let line = line.trim_start();
        if line.starts_with("<packet>") {
            packets.push(Positions::new());
        } else if line.starts_with("<field ") && attr(line, "hide") != Some("yes") {
            let (Some(name), Some(pos), Some(size)) =
                (attr(line, "name"), attr(line, "pos"), attr(line, "size"))
            else {
                continue;
            };
            if let (Some(p), Ok(pos), Ok(size)) =
                (packets.last_mut(), pos.parse::<u64>(), size.parse::<u64>())
            {
                p.entry(name.to_string())
                    .or_default()
                    .push([pos, pos + size]);
            }
        }
    }
    packets
}

/// wirelab's ranges for `layer.field` on one packet, every occurrence in layer order.
fn our_ranges(packet: &Value, layer: &str, field: &str) -> Vec<[u64; 2]> {
    let pair = |v: &Value| {
        [
            v[0].as_u64().unwrap_or(u64::MAX),
            v[1].as_u64().unwrap_or(u64::MAX),
        ]
    };
    let mut v = Vec::new();
    for l in packet["layers"].as_array().into_iter().flatten() {
        let name = l["name"].as_str().unwrap_or("");
        if name != layer && !(layer == "sll" && name == "sll2") {
            continue;
        }
        match &l["field_ranges"][field] {
            Value::Array(a) if a.first().is_some_and(Value::is_array) => {
                v.extend(a.iter().map(pair))
            }
            a @ Value::Array(_) => v.push(pair(a)),
            _ => {}
        }
    }
    v
}

fn ranges_agree(mode: Mode) {
    let mut compared = 0;
    let mut names = std::collections::BTreeSet::new();
    for path in fixtures() {
        let theirs = pdml(&path, mode);
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let extra: &[&str] = if mode == Mode::PerPacket {
            &["--no-reassemble"]
        } else {
            &[]
        };
        let ours_all = wirelab_json(&name, extra);
        assert_eq!(ours_all.len(), theirs.len(), "{name}: packet count");
        for (i, (p, t)) in ours_all.iter().zip(&theirs).enumerate() {
            let t_all = |t: &Positions, f: &str| t.get(f).cloned().unwrap_or_default();
            for (tf, layer, field) in RANGED {
                // tshark names an 802.1ad outer tag `ieee8021ad`; wirelab calls every tag vlan.
                let mut t: Vec<[u64; 2]> = tf
                    .strip_prefix("vlan.")
                    .and_then(|f| t.get(&format!("ieee8021ad.{f}")))
                    .cloned()
                    .unwrap_or_default();
                t.extend(t_all(&theirs[i], tf));
                if tf.starts_with("dns.resp.") {
                    // tshark lists the authority and additional records too (dig's EDNS
                    // OPT record); wirelab decodes the answers.
                    let answers: usize = ours(p, "dns", "count.answers")
                        .iter()
                        .map(|n| n.parse::<usize>().unwrap_or(0))
                        .sum();
                    t.truncate(answers);
                }
                if t.is_empty() {
                    continue;
                }
                let mine = our_ranges(p, layer, field);
                assert_eq!(
                    mine,
                    t,
                    "{name} frame {} ({mode:?}): range of {tf} (wirelab {layer}.{field})",
                    i + 1
                );
                compared += t.len();
                names.insert(*tf);
            }
        }
    }
    eprintln!(
        "{compared} ranges of {} fields agree with tshark ({mode:?})",
        names.len()
    );
    assert!(compared > 5000, "only {compared} ranges compared");
    assert!(
        names.len() > 60,
        "only {} of the fields were seen: {names:?}",
        names.len()
    );
}

/// Every field's `[start, end)` in `--format json` is where tshark's PDML puts it
/// (`pos`, `pos + size`), per packet and on reassembled streams (where, as in tshark, a
/// message's fields are in the coordinates of its reassembled bytes).
#[test]
fn field_ranges_agree_with_tshark_per_packet() {
    ranges_agree(Mode::PerPacket);
}

#[test]
fn field_ranges_agree_with_tshark_on_reassembled_streams() {
    ranges_agree(Mode::Streams);
}

//! Text for the transport commands: TCP events, UDP reports, the comparison table.

use std::io::{self, Write};

use super::hexdump;
use crate::transport::compare::Comparison;
use crate::transport::tcp_client::{ClientEvent, TcpInfo};
use crate::transport::tcp_echo::{PeerEnd, TcpEvent};
use crate::transport::udp::{Arrival, Ended, Interval, RecvReport, SendReport};

fn plural(n: u64, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// Inclusive ranges as `3, 7-9, 15`, at most `max` of them.
pub fn ranges(r: &[[u64; 2]], max: usize) -> String {
    if r.is_empty() {
        return "none".to_string();
    }
    let mut parts: Vec<String> = r
        .iter()
        .take(max)
        .map(|[a, b]| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    if r.len() > max {
        parts.push(format!("… {} more ranges", r.len() - max));
    }
    parts.join(", ")
}

pub fn tcp_event<W: Write>(out: &mut W, e: &TcpEvent, idle_secs: f64) -> io::Result<()> {
    match e {
        TcpEvent::Listening { addr } => writeln!(
            out,
            "tcp serve: listening on {addr} (idle timeout {idle_secs}s; Ctrl-C stops)"
        ),
        TcpEvent::Accepted { conn, peer, local } => writeln!(
            out,
            "[#{conn}] accepted {peer} -> {local}: the kernel completed the three-way handshake (SYN, SYN-ACK, ACK)"
        ),
        TcpEvent::Read { conn, bytes, data } => {
            writeln!(out, "[#{conn}] read {} in one read()", plural(*bytes as u64, "byte"))?;
            hexdump::write(out, data, "      ", data.len())?;
            if *bytes > data.len() {
                writeln!(out, "      … {} more bytes not shown", bytes - data.len())?;
            }
            Ok(())
        }
        TcpEvent::Echoed { conn, bytes } => writeln!(out, "[#{conn}] echoed {bytes} bytes"),
        TcpEvent::PeerClosed { conn, how } => {
            let what = match how {
                PeerEnd::Fin => "peer sent FIN: an orderly half-close, it will send no more",
                PeerEnd::Reset => "peer reset the connection (RST): an abortive close",
                PeerEnd::IdleTimeout => "idle timeout: nothing arrived, closing",
                PeerEnd::Shutdown => "server shutting down, closing",
            };
            writeln!(out, "[#{conn}] {what}")
        }
        TcpEvent::Closed {
            conn,
            peer,
            bytes_in,
            bytes_out,
            reads,
            duration_ms,
        } => writeln!(
            out,
            "[#{conn}] closed {peer}: {bytes_in} bytes in, {bytes_out} bytes out, {}, {duration_ms:.1} ms; sent our FIN",
            plural(*reads, "read")
        ),
        TcpEvent::Error { conn, message } => writeln!(out, "[#{conn}] error: {message}"),
        TcpEvent::Shutdown {
            connections,
            bytes_in,
            bytes_out,
            reason,
        } => writeln!(
            out,
            "tcp serve: stopped ({reason}): {}, {bytes_in} bytes in, {bytes_out} bytes out",
            plural(*connections, "connection")
        ),
    }
}

fn text_preview(data: &[u8]) -> String {
    let s: String = data
        .iter()
        .take(80)
        .map(|&b| hexdump::printable(b))
        .collect();
    if data.len() > 80 {
        format!("{s}…")
    } else {
        s
    }
}

pub fn client_event<W: Write>(out: &mut W, e: &ClientEvent) -> io::Result<()> {
    match e {
        ClientEvent::Connected {
            local,
            peer,
            connect_ms,
            no_delay,
        } => {
            writeln!(
                out,
                "connected {local} -> {peer} in {connect_ms:.3} ms (SYN, SYN-ACK, ACK: one round trip)"
            )?;
            if *no_delay {
                writeln!(out, "TCP_NODELAY on: small writes leave at once (Nagle's algorithm off)")?;
            }
            Ok(())
        }
        ClientEvent::Sent { bytes } => writeln!(out, "sent {bytes} bytes"),
        ClientEvent::Echo {
            bytes,
            reads,
            rtt_ms,
            data,
        } => writeln!(
            out,
            "echo  {bytes} bytes in {}, round trip {rtt_ms:.3} ms: \"{}\"",
            plural(*reads as u64, "read"),
            text_preview(data)
        ),
        ClientEvent::Stream {
            writes,
            reads,
            data,
        } => {
            let w: Vec<String> = writes.iter().map(usize::to_string).collect();
            let r: Vec<String> = reads.iter().map(usize::to_string).collect();
            writeln!(
                out,
                "wrote {} back to back ({} bytes)",
                plural(writes.len() as u64, "message"),
                w.join(" + ")
            )?;
            writeln!(
                out,
                "read the echo in {} ({} bytes): \"{}\"",
                plural(reads.len() as u64, "read"),
                r.join(" + "),
                text_preview(data)
            )?;
            writeln!(
                out,
                "TCP is a byte stream: it kept the bytes and their order, not the boundaries \
                 between writes. An application that needs messages must frame them itself \
                 (a length prefix, a delimiter, or WebSocket frames)."
            )
        }
        ClientEvent::Info(i) => tcp_info(out, i),
        ClientEvent::Received { bytes, data } => {
            writeln!(out, "read {} from the server in one read()", plural(*bytes as u64, "byte"))?;
            hexdump::write(out, data, "      ", data.len().min(256))?;
            if data.len() > 256 {
                writeln!(out, "      … {} more bytes not shown", data.len() - 256)?;
            }
            Ok(())
        }
        ClientEvent::InputEnded { bytes_sent } => writeln!(
            out,
            "end of input after {bytes_sent} bytes: sent FIN (half-close; the server may still send)"
        ),
        ClientEvent::Closed {
            bytes_sent,
            bytes_received,
            total_ms,
            server_closed: true,
        } => writeln!(
            out,
            "closed: we sent FIN, the server answered with FIN; {bytes_sent} bytes sent, {bytes_received} received, {total_ms:.2} ms in all"
        ),
        ClientEvent::Closed {
            bytes_sent,
            bytes_received,
            total_ms,
            server_closed: false,
        } => writeln!(
            out,
            "closed by us: the server kept the connection open for --timeout after our FIN; {bytes_sent} bytes sent, {bytes_received} received, {total_ms:.2} ms in all"
        ),
    }
}

fn tcp_info<W: Write>(out: &mut W, i: &TcpInfo) -> io::Result<()> {
    let mut t = super::table(&["TCP_INFO (kernel)", "value", "meaning"]);
    let rows = [
        (
            "rtt",
            format!("{:.3} ms", i.rtt_ms),
            "smoothed round-trip time the kernel measured",
        ),
        (
            "rttvar",
            format!("{:.3} ms", i.rttvar_ms),
            "how much the round trip varies",
        ),
        (
            "rto",
            format!("{:.0} ms", i.rto_ms),
            "wait before retransmitting an unacknowledged segment",
        ),
        (
            "snd_cwnd",
            format!("{} segments", i.snd_cwnd),
            "congestion window: segments in flight allowed",
        ),
        (
            "snd_mss",
            format!("{} bytes", i.snd_mss),
            "largest segment this side sends",
        ),
        (
            "total_retrans",
            i.total_retrans.to_string(),
            "segments sent again because no ACK came",
        ),
        (
            "unacked",
            i.unacked.to_string(),
            "segments still waiting for an ACK",
        ),
    ];
    for (k, v, m) in rows {
        t.add_row(vec![k.to_string(), v, m.to_string()]);
    }
    writeln!(out, "{t}")
}

pub fn send_report<W: Write>(out: &mut W, r: &SendReport) -> io::Result<()> {
    writeln!(
        out,
        "udp send: {} of {} bytes to {} in {:.1} ms ({:.0} datagrams/s, {:.3} Mbit/s)",
        plural(r.sent, "datagram"),
        r.size,
        r.to,
        r.elapsed_ms,
        r.rate_pps,
        r.bitrate_mbps
    )?;
    writeln!(
        out,
        "  lossy link (seed {}, loss {}): dropped {}, duplicated {}, reordered {}; {} left the socket",
        r.seed, r.loss, r.dropped, r.duplicated, r.reordered, r.on_wire
    )?;
    writeln!(
        out,
        "  dropped sequence numbers: {}",
        ranges(&r.dropped_seqs, 20)
    )?;
    if r.refused > 0 {
        writeln!(
            out,
            "  {} sends failed with 'connection refused': an ICMP port-unreachable came back, so \
             nothing listens at {}. UDP itself never tells the sender; the kernel passed on ICMP.",
            r.refused, r.to
        )?;
    }
    writeln!(
        out,
        "  UDP sends and forgets: no acknowledgement, so the sender cannot know what arrived."
    )
}

pub fn arrival<W: Write>(out: &mut W, a: &Arrival) -> io::Result<()> {
    let mut tags = Vec::new();
    if a.duplicate {
        tags.push("DUPLICATE");
    }
    if a.out_of_order {
        tags.push("OUT OF ORDER");
    }
    writeln!(
        out,
        "seq {:>6}  {} bytes from {}  {:.3} ms  {}",
        a.seq,
        a.bytes,
        a.from,
        a.latency_ms,
        tags.join(" ")
    )
}

/// One `--interval` line, shaped like iperf3's server side.
pub fn interval<W: Write>(out: &mut W, i: &Interval) -> io::Result<()> {
    writeln!(
        out,
        "{:>13} s  {:>6} datagrams  {:>9} bytes  {:>9.3} Mbit/s  jitter {:.3} ms  lost {}  out of order {}  duplicated {}",
        format!("{:.2}-{:.2}", i.start_s, i.end_s),
        i.received,
        i.bytes,
        i.bitrate_mbps,
        i.jitter_ms,
        i.lost,
        i.out_of_order,
        i.duplicated
    )
}

pub fn recv_report<W: Write>(out: &mut W, r: &RecvReport) -> io::Result<()> {
    let why = match r.ended {
        Ended::Count => "got --count datagrams",
        Ended::EndMarker => "the sender's end marker arrived",
        Ended::Timeout => "silence for --timeout",
        Ended::Interrupted => "interrupted",
    };
    writeln!(out, "udp recv on {}: stopped ({why})", r.listen)?;
    if r.received == 0 {
        return Ok(());
    }
    let source = if r.expected_from_sender {
        "as the sender's end marker says"
    } else {
        "as far as the receiver can tell"
    };
    let mut t = super::table(&["", "datagrams", ""]);
    let rows = [
        ("expected", r.expected, source),
        ("received", r.received, "duplicates included"),
        ("distinct", r.distinct, ""),
        ("lost", r.lost, "never arrived; nobody resent them"),
        ("duplicated", r.duplicated, "arrived more than once"),
        (
            "out of order",
            r.out_of_order,
            "arrived after a higher number",
        ),
    ];
    for (k, v, m) in rows {
        t.add_row(vec![k.to_string(), v.to_string(), m.to_string()]);
    }
    writeln!(out, "{t}")?;
    writeln!(
        out,
        "loss {:.3}% ({} of {}), jitter {:.3} ms (RFC 3550, as iperf3), bitrate {:.3} Mbit/s",
        r.loss_pct, r.lost, r.expected, r.jitter_ms, r.bitrate_mbps
    )?;
    writeln!(
        out,
        "out-of-order and duplicate datagrams are counted apart from loss: a late datagram \
         is not lost (iperf3 counts it lost, then takes it back)"
    )?;
    writeln!(out, "lost sequence numbers: {}", ranges(&r.lost_seqs, 20))?;
    writeln!(
        out,
        "latency (send to receive): p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        r.latency.p50_ms, r.latency.p90_ms, r.latency.p99_ms, r.latency.max_ms
    )?;
    if r.invalid > 0 {
        writeln!(
            out,
            "{} datagrams were not wirelab probes and were ignored",
            r.invalid
        )?;
    }
    Ok(())
}

/// The comparison table, fitted to `width` (see [`super::width`]): below 100 columns the
/// duplicated and out-of-order columns go (they are in the notes and the JSON) and the
/// headers shorten.
pub fn comparison<W: Write>(out: &mut W, c: &Comparison, width: Option<usize>) -> io::Result<()> {
    writeln!(
        out,
        "{}",
        super::wrap(
            &format!(
                "compare: {} messages of {} bytes, loss {} (seed {}), on loopback",
                c.count, c.size, c.loss, c.seed
            ),
            width,
            ""
        )
    )?;
    let narrow = width.is_some_and(|w| w < super::NARROW);
    let header: &[&str] = if narrow {
        &[
            "transport",
            "sent",
            "delivered",
            "lost",
            "retrans",
            "p99 ms",
            "time ms",
            "Mbit/s",
        ]
    } else {
        &[
            "transport",
            "sent",
            "delivered",
            "lost",
            "duplicated",
            "out_of_order",
            "retransmissions",
            "p50 ms",
            "p99 ms",
            "elapsed ms",
            "goodput Mbit/s",
        ]
    };
    let mut t = super::table(header);
    super::fit(&mut t, width);
    if narrow {
        use comfy_table::{ColumnConstraint, Width};
        if let Some(col) = t.column_mut(0) {
            col.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(14)));
        }
    }
    for r in &c.rows {
        let delivered = match r.failure {
            Some(_) => format!("{} FAILED", r.delivered),
            None => r.delivered.to_string(),
        };
        let mut cells = vec![
            r.transport.to_string(),
            r.sent.to_string(),
            delivered,
            r.lost.to_string(),
        ];
        if !narrow {
            cells.push(r.duplicated.to_string());
            cells.push(r.out_of_order.to_string());
        }
        cells.extend([r.retransmissions.to_string()]);
        if !narrow {
            cells.push(format!("{:.3}", r.p50_ms));
        }
        // Narrow: a decimal less where a column would otherwise wrap.
        let (p99, took) = if narrow {
            (format!("{:.2}", r.p99_ms), format!("{:.0}", r.elapsed_ms))
        } else {
            (format!("{:.3}", r.p99_ms), format!("{:.1}", r.elapsed_ms))
        };
        cells.extend([p99, took, format!("{:.1}", r.goodput_mbps)]);
        t.add_row(cells);
    }
    writeln!(out, "{t}")?;
    let pad = " ".repeat(16);
    for r in &c.rows {
        let mut text = r.note.clone();
        if narrow {
            text = format!(
                "{text} ({} duplicated, {} out of order, p50 {:.3} ms)",
                r.duplicated, r.out_of_order, r.p50_ms
            );
        }
        let body = super::wrap(&text, width, &pad);
        writeln!(out, "  {:<13} {}", r.transport, body.trim_start())?;
        if let Some(f) = &r.failure {
            let body = super::wrap(&format!("FAILED: {f}"), width, &pad);
            writeln!(out, "{pad}{}", body.trim_start())?;
        }
    }
    for s in &c.skipped {
        writeln!(
            out,
            "{}",
            super::wrap(&format!("skipped: {s}"), width, "  ")
        )?;
    }
    writeln!(
        out,
        "{}",
        super::wrap(
            "Counts are what the receiving application got. reliable-udp pays for completeness \
             with retransmissions and waiting (p99); plain udp is fast and incomplete.",
            width,
            ""
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_text() {
        assert_eq!(ranges(&[], 5), "none");
        assert_eq!(ranges(&[[3, 3], [7, 9]], 5), "3, 7-9");
        assert_eq!(
            ranges(&[[1, 1], [3, 3], [5, 5]], 2),
            "1, 3, … 1 more ranges"
        );
    }
}

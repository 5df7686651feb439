//! `wirelab layers`: the OSI and TCP/IP models side by side.

use std::io::{self, Write};

use serde::Serialize;

use crate::layers::{self, TcpIpLayer, OSI};

#[derive(Serialize)]
struct Row {
    number: u8,
    name: &'static str,
    tcpip: TcpIpLayer,
    pdu: &'static str,
    protocols: &'static [&'static str],
    job: &'static str,
    commands: Vec<String>,
}

#[derive(Serialize)]
struct Model {
    layers: Vec<Row>,
    /// Commands that span every layer (lessons, the tour, the model itself).
    all_layers: Vec<String>,
}

fn model() -> Model {
    let layers = OSI
        .iter()
        .rev()
        .map(|l| Row {
            number: l.number,
            name: l.name,
            tcpip: l.tcpip,
            pdu: l.pdu,
            protocols: l.protocols,
            job: l.job,
            commands: layers::commands_at(l.number)
                .into_iter()
                .map(|c| format!("wirelab {c}"))
                .collect(),
        })
        .collect();
    let all_layers = layers::COMMANDS
        .iter()
        .filter(|p| p.osi.len() == OSI.len())
        .map(|p| format!("wirelab {}", p.command))
        .collect();
    Model { layers, all_layers }
}

pub fn json<W: Write>(out: &mut W) -> io::Result<()> {
    super::json_typed(out, "layers", &model())
}

/// The table, fitted to `width` columns (see [`super::width`]); below 100 the commands lose
/// their `wirelab ` prefix and the other cells wrap.
pub fn text<W: Write>(out: &mut W, width: Option<usize>) -> io::Result<()> {
    let m = model();
    let narrow = width.is_some_and(|w| w < super::NARROW);
    let mut t = super::table(&["OSI", "layer", "TCP/IP", "PDU", "protocols", "wirelab"]);
    super::fit(&mut t, width);
    let mut last_tcpip = None;
    for r in &m.layers {
        // The TCP/IP column names a layer once, on the first OSI row it covers.
        let tcpip = if last_tcpip == Some(r.tcpip) {
            "  ″".to_string()
        } else {
            r.tcpip.name().to_string()
        };
        last_tcpip = Some(r.tcpip);
        t.add_row(vec![
            r.number.to_string(),
            r.name.to_string(),
            tcpip,
            r.pdu.to_string(),
            r.protocols.join(", "),
            if narrow {
                r.commands
                    .iter()
                    .map(|c| c.trim_start_matches("wirelab "))
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                r.commands.join("\n")
            },
        ]);
    }
    writeln!(out, "{t}")?;
    writeln!(out)?;
    let para = "Each layer wraps the one above it: an application message travels inside a TCP \
                segment or UDP datagram, which travels inside an IP packet, which travels inside \
                an Ethernet frame.";
    writeln!(
        out,
        "{}",
        super::wrap(para, Some(width.unwrap_or(super::NARROW)), "")
    )?;
    let every = format!("On every layer: {}", m.all_layers.join(", "));
    writeln!(out, "{}", super::wrap(&every, width, ""))?;
    Ok(())
}

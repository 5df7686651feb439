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
    super::json_line(out, &model())
}

pub fn text<W: Write>(out: &mut W) -> io::Result<()> {
    let m = model();
    let mut t = super::table(&["OSI", "layer", "TCP/IP", "PDU", "protocols", "wirelab"]);
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
            r.commands.join("\n"),
        ]);
    }
    writeln!(out, "{t}")?;
    writeln!(out)?;
    writeln!(
        out,
        "Each layer wraps the one above it: an application message travels inside a TCP segment \
         or UDP datagram,\nwhich travels inside an IP packet, which travels inside an Ethernet frame."
    )?;
    writeln!(out, "On every layer: {}", m.all_layers.join(", "))?;
    Ok(())
}

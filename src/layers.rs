//! The two models side by side, and where every wirelab command sits in them.
//!
//! ```text
//!  OSI (ISO/IEC 7498-1)          TCP/IP (RFC 1122)     PDU
//!  7 application  ┐
//!  6 presentation ├───────────── application           message
//!  5 session      ┘
//!  4 transport   ─────────────── transport             segment / datagram
//!  3 network     ─────────────── internet              packet
//!  2 data link   ┐
//!  1 physical    ┘────────────── link                  frame / bits
//! ```
//!
//! Each command's layer is declared here, once: `wirelab layers` prints it and every command's
//! `--help` shows it (see [`help_heading`]).

use serde::Serialize;

/// The four layers of the Internet model (RFC 1122 §1.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TcpIpLayer {
    Link,
    Internet,
    Transport,
    Application,
}

impl TcpIpLayer {
    pub fn name(self) -> &'static str {
        match self {
            TcpIpLayer::Link => "link",
            TcpIpLayer::Internet => "internet",
            TcpIpLayer::Transport => "transport",
            TcpIpLayer::Application => "application",
        }
    }
}

/// One row of the OSI reference model.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct OsiLayer {
    pub number: u8,
    pub name: &'static str,
    pub tcpip: TcpIpLayer,
    /// The protocol data unit: what one unit of data is called at this layer.
    pub pdu: &'static str,
    pub protocols: &'static [&'static str],
    /// What the layer is responsible for, in one line.
    pub job: &'static str,
}

/// The seven OSI layers, from 1 (physical) to 7 (application).
pub const OSI: [OsiLayer; 7] = [
    OsiLayer {
        number: 1,
        name: "physical",
        tcpip: TcpIpLayer::Link,
        pdu: "bits",
        protocols: &["copper", "fibre", "radio", "1000BASE-T"],
        job: "turns bits into signals on a medium and back",
    },
    OsiLayer {
        number: 2,
        name: "data link",
        tcpip: TcpIpLayer::Link,
        pdu: "frame",
        protocols: &["Ethernet", "802.1Q VLAN", "ARP", "Wi-Fi"],
        job: "moves frames between neighbours on one link, addressed by MAC",
    },
    OsiLayer {
        number: 3,
        name: "network",
        tcpip: TcpIpLayer::Internet,
        pdu: "packet",
        protocols: &["IPv4", "IPv6", "ICMP", "ICMPv6"],
        job: "routes packets across networks, addressed by IP",
    },
    OsiLayer {
        number: 4,
        name: "transport",
        tcpip: TcpIpLayer::Transport,
        pdu: "segment (TCP) / datagram (UDP)",
        protocols: &["TCP", "UDP"],
        job: "carries data between processes, addressed by port; TCP adds order and reliability",
    },
    OsiLayer {
        number: 5,
        name: "session",
        tcpip: TcpIpLayer::Application,
        pdu: "message",
        protocols: &["TLS sessions", "WebSocket connection (loose fit)"],
        job: "opens, keeps and closes a conversation; no header of its own on the Internet",
    },
    OsiLayer {
        number: 6,
        name: "presentation",
        tcpip: TcpIpLayer::Application,
        pdu: "message",
        protocols: &["UTF-8", "JSON", "TLS encryption"],
        job: "agrees on how data is encoded or encrypted; no header of its own on the Internet",
    },
    OsiLayer {
        number: 7,
        name: "application",
        tcpip: TcpIpLayer::Application,
        pdu: "message",
        protocols: &["HTTP", "DNS", "WebSocket", "socket.io"],
        job: "the protocol the program itself speaks",
    },
];

/// Where one wirelab command works.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Placement {
    /// The command as typed after `wirelab`, e.g. `"tcp serve"`.
    pub command: &'static str,
    /// The OSI layers it works at (empty: not a networking command).
    pub osi: &'static [u8],
    pub summary: &'static str,
}

const ALL: &[u8] = &[1, 2, 3, 4, 5, 6, 7];

/// Every wirelab command and its layer. A test checks that this list and the CLI agree.
pub const COMMANDS: &[Placement] = &[
    Placement {
        command: "layers",
        osi: ALL,
        summary: "the OSI and TCP/IP models side by side",
    },
    Placement {
        command: "tcp serve",
        osi: &[4],
        summary: "TCP echo server that shows every accept, read and close",
    },
    Placement {
        command: "tcp send",
        osi: &[4],
        summary: "TCP client: connect, send, read the echo, show the kernel's TCP_INFO",
    },
    Placement {
        command: "udp recv",
        osi: &[4],
        summary: "counts numbered datagrams: received, lost, duplicated, out of order",
    },
    Placement {
        command: "udp send",
        osi: &[4],
        summary: "sends numbered datagrams through a seeded lossy link",
    },
    Placement {
        command: "compare",
        osi: &[4],
        summary: "the same workload over UDP, reliable UDP (ARQ) and TCP, side by side",
    },
    Placement {
        command: "ws serve",
        osi: &[7],
        summary: "WebSocket server: HTTP upgrade handshake, then frames, shown as they happen",
    },
    Placement {
        command: "ws connect",
        osi: &[7],
        summary: "WebSocket client: handshake, send, receive, close",
    },
    Placement {
        command: "ws accept-key",
        osi: &[7],
        summary: "the Sec-WebSocket-Accept computation step by step",
    },
    Placement {
        command: "sio connect",
        osi: &[7],
        summary: "Socket.IO client: polling handshake, upgrade to WebSocket, heartbeat, namespaces, events, acks, recovery",
    },
    Placement {
        command: "sio emit",
        osi: &[7],
        summary: "Socket.IO client: emit one event (with an ack) to any socket.io v4 server",
    },
    Placement {
        command: "hub serve",
        osi: &[7],
        summary: "event hub: namespaces, rooms, emits, acks, a durable SQLite queue per client",
    },
    Placement {
        command: "hub listen",
        osi: &[7],
        summary: "hub client: join rooms, print events, acknowledge them",
    },
    Placement {
        command: "hub emit",
        osi: &[7],
        summary: "hub client: emit one event to rooms, the namespace or a client; wait for acks",
    },
    Placement {
        command: "hub queue",
        osi: &[7],
        summary: "the durable queue on disk: depth and oldest event per client",
    },
    Placement {
        command: "lesson",
        osi: ALL,
        summary: "lists, shows and runs the lessons",
    },
    Placement {
        command: "tour",
        osi: ALL,
        summary: "runs every lesson end to end on loopback",
    },
    Placement {
        command: "dissect",
        osi: &[2, 3, 4, 5, 6, 7],
        summary: "pcap/pcapng/hex dissector: every header field on its OSI and TCP/IP layer",
    },
    Placement {
        command: "capture",
        osi: &[2],
        summary: "live capture with pnet (root or CAP_NET_RAW), same views, --write pcap",
    },
    Placement {
        command: "completions",
        osi: &[],
        summary: "shell completions",
    },
];

/// The placement of `command` (e.g. `"udp send"`), if it is a known command.
pub fn placement(command: &str) -> Option<&'static Placement> {
    COMMANDS.iter().find(|p| p.command == command)
}

/// The commands that work at OSI layer `n`.
pub fn commands_at(n: u8) -> Vec<&'static str> {
    COMMANDS
        .iter()
        .filter(|p| p.osi.contains(&n) && p.osi.len() < ALL.len())
        .map(|p| p.command)
        .collect()
}

/// The OSI row for layer `n` (1–7).
pub fn osi(n: u8) -> Option<&'static OsiLayer> {
    OSI.iter().find(|l| l.number == n)
}

/// The line shown at the top of a command's `--help`, e.g.
/// `Layer: OSI 4 transport · TCP/IP transport · PDU segment (TCP) / datagram (UDP)`.
pub fn help_heading(command: &str) -> Option<String> {
    let p = placement(command)?;
    match p.osi {
        [] => None,
        osi if osi.len() == ALL.len() => {
            Some("Layer: all seven OSI layers and all four TCP/IP layers".to_string())
        }
        [n] => {
            let l = self::osi(*n)?;
            Some(format!(
                "Layer: OSI {} {} · TCP/IP {} · PDU {}",
                l.number,
                l.name,
                l.tcpip.name(),
                l.pdu
            ))
        }
        [lo, .., hi] => {
            let (a, b) = (self::osi(*lo)?, self::osi(*hi)?);
            Some(format!(
                "Layer: OSI {}–{} ({} to {}) · TCP/IP {} to {}",
                lo,
                hi,
                a.name,
                b.name,
                a.tcpip.name(),
                b.tcpip.name()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osi_rows_are_numbered_one_to_seven() {
        let numbers: Vec<u8> = OSI.iter().map(|l| l.number).collect();
        assert_eq!(numbers, vec![1, 2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn tcpip_groups_follow_rfc1122() {
        let tcpip: Vec<&str> = OSI.iter().map(|l| l.tcpip.name()).collect();
        assert_eq!(
            tcpip,
            vec![
                "link",
                "link",
                "internet",
                "transport",
                "application",
                "application",
                "application"
            ]
        );
    }

    #[test]
    fn transport_commands_sit_at_layer_four() {
        let at4 = commands_at(4);
        for c in ["tcp serve", "tcp send", "udp recv", "udp send", "compare"] {
            assert!(at4.contains(&c), "{c} missing from layer 4: {at4:?}");
        }
        assert!(!commands_at(7).contains(&"tcp serve"));
    }

    #[test]
    fn help_heading_names_layer_and_pdu() {
        let h = help_heading("udp send").unwrap();
        assert!(h.contains("OSI 4 transport"), "{h}");
        assert!(h.contains("datagram"), "{h}");
        assert_eq!(help_heading("completions"), None);
        assert_eq!(help_heading("no such"), None);
    }
}

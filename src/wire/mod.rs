//! Pure protocol code: bytes in, typed values out, and back. No I/O, no printing, no panics on
//! any input.

pub mod arp;
pub mod cooked;
pub mod dns;
pub mod engineio;
pub mod ethernet;
pub mod header_error;
pub mod http_message;
pub mod icmp;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod probe;
pub mod socketio;
pub mod tcp;
pub mod udp;
pub mod vlan;
pub mod vxlan;
pub mod websocket;
pub mod websocket_frame;

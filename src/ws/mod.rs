//! WebSocket I/O around [`crate::wire::websocket`]: a connection type over any async stream
//! ([`conn`]), the server-side handshake ([`accept`]), the client ([`client`]), and the
//! `ws serve` loop ([`server`]) that reports typed [`events`].
//!
//! For a protocol on top (an event hub): `accept(tcp_stream, &opts)` gives a
//! [`accept::Accepted::WebSocket`]; `into_split()` it, read with
//! [`WsReader::read_event`] (cancel-safe, fine in `select!`), write with [`WsWriter`].
//! Clients use [`client::connect`].

pub mod accept;
pub mod client;
pub mod conn;
pub mod events;
pub mod server;

pub use conn::{
    Config, Direction, Ending, FrameInfo, FrameTap, Incoming, Message, WebSocket, WsError,
    WsReader, WsWriter,
};

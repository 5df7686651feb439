//! WebSocket (RFC 6455) on the wire: the HTTP/1.1 upgrade handshake, frames, and the rules
//! that turn frames into messages. Pure: bytes in, typed values out, no I/O.
//!
//! ```text
//!  client                                   server
//!    │ GET / HTTP/1.1, Upgrade: websocket     │   handshake.rs (HTTP/1.1, once)
//!    │──────────────────────────────────────▶│
//!    │ 101 Switching Protocols                │
//!    │◀──────────────────────────────────────│
//!    │ masked frames ─────────────────────▶  │   frame.rs (header, mask, close body)
//!    │ ◀───────────────────── unmasked frames │   message.rs (fragments, UTF-8, limits)
//! ```

pub mod deflate;
pub mod frame;
pub mod handshake;
pub mod message;

pub use frame::{ClosePayload, FrameError, FrameHeader, LengthEncoding, OpCode};
pub use handshake::{Deflate, HandshakeError, Request, Response};
pub use message::{Assembler, DataKind, FrameKind, Limits, ProtocolError, Role};

//! Pure protocol code: bytes in, typed values out, and back. No I/O, no printing, no panics on
//! any input.

pub mod probe;
pub mod websocket;

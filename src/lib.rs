//! wirelab: teaches networking by running it.
//!
//! Dependencies point one way: `cmd` (CLI glue) → `lesson`, `transport` (I/O) → `wire` (pure
//! parsing). `render` turns typed values into text, tables or JSON.

pub mod capture;
pub mod cli;
pub mod cmd;
pub mod dissect;
pub mod exit;
pub mod hub;
pub mod layers;
pub mod lesson;
pub mod render;
pub mod sio;
pub mod transport;
pub mod wire;
pub mod ws;

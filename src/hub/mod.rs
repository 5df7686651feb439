//! The event hub: socket.io-style events, rooms and namespaces over wirelab's own WebSocket,
//! with a durable per-client queue in SQLite so a client that was offline gets what it missed.
//!
//! - [`protocol`]: the JSON frames (pure, no I/O), documented in `docs/hub-protocol.md`;
//! - [`store`]: the SQLite queue (WAL), rooms of identified clients, drop counts;
//! - [`server`]: `hub serve` (accept loop, connection tasks, the hub task);
//! - [`client`]: `hub listen` and `hub emit`.

pub mod client;
pub mod cluster;
pub mod events;
pub mod protocol;
pub mod redis_clients;
pub mod redis_store;
pub mod server;
pub mod store;
pub mod workclient;
pub mod workqueue;

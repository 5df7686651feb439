//! The event hub: socket.io-style events, rooms and namespaces over wirelab's own WebSocket,
//! with a durable per-client queue so a client that was offline gets what it missed, work
//! queues with competing consumers, and several hub processes on one Redis.
//! `docs/architecture.md` draws the modules and the one direction of their imports:
//!
//! - [`protocol`]: the JSON frames (pure, no I/O), documented in `docs/hub-protocol.md`;
//! - [`server`]: `hub serve`: the accept loop and the hub task;
//! - [`connection`]: one connection's task, and the protocol-neutral [`connection::Recipient`];
//! - [`route`]: the hub's state and the one routing path (local emits and other hubs' alike),
//!   with the credit window for durable deliveries;
//! - [`inbox`]: the per-client durable queue, one trait on SQLite or Redis;
//! - [`work`]: work queues, one trait on SQLite or Redis Streams, and their dispatcher;
//! - [`cluster`]: broadcasts between hub processes (Redis pub/sub);
//! - [`events`]: what `hub serve` reports (printed by `render::hub`);
//! - [`client`], [`workclient`]: `hub listen` and `hub emit`, for events and for work queues.

pub mod client;
pub mod cluster;
pub mod connection;
pub mod events;
pub mod inbox;
pub mod protocol;
pub mod redis_reply;
pub mod route;
pub mod server;
pub mod work;
pub mod workclient;

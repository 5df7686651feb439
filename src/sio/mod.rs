//! Socket.IO and Engine.IO I/O around `wire::engineio` and `wire::socketio`: the polling
//! transport's HTTP requests, the WebSocket transport, the upgrade between them, and the client.

pub mod client;
pub mod http;

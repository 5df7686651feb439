//! Captures: reading pcap and pcapng files as a stream (constant memory, whatever the file's
//! size), writing pcap, and live capture from an interface.

pub mod closing;
pub mod live;
pub mod reader;
pub mod writer;

pub use reader::{CaptureError, Reader};
pub use writer::PcapWriter;

//! Transport-layer lessons (OSI 4): the TCP echo server and client, the lossy UDP link, the
//! reliable-UDP (ARQ) demo and the side-by-side comparison.

pub mod arq;
pub mod compare;
pub mod interrupt;
pub mod lossy;
pub mod netns;
pub mod stats;
pub mod tcp_client;
pub mod tcp_echo;
pub mod udp;

/// A read that timed out or was interrupted: nothing arrived yet, which is not an error.
pub(crate) fn no_data_yet(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock
            | std::io::ErrorKind::TimedOut
            | std::io::ErrorKind::Interrupted
    )
}

//! Live capture with pnet's datalink channel (an `AF_PACKET` socket on Linux): needs root or
//! CAP_NET_RAW. On loopback the kernel shows every packet twice (once leaving, once
//! arriving); like libpcap, the socket is told to ignore outgoing copies there.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pnet::datalink::{self, Channel, DataLinkReceiver, NetworkInterface};
use thiserror::Error;

use crate::dissect::LinkType;

/// Bytes read per packet at most (loopback frames can be 64 KiB with offloads).
pub const READ_BUFFER: usize = 1 << 18;

/// Why a live capture could not start.
#[derive(Debug, Error)]
pub enum LiveError {
    #[error("capturing needs root or the CAP_NET_RAW capability (run with sudo, or `sudo setcap cap_net_raw+ep $(which wirelab)`): {0}")]
    Permission(io::Error),
    #[error("no interface named '{name}'; interfaces here: {available}")]
    NoSuchInterface { name: String, available: String },
    #[error("cannot open a capture on {iface}: {source}")]
    Open { iface: String, source: io::Error },
}

impl LiveError {
    /// Bad input (exit 2) for a wrong name or missing privilege; else a run-time failure.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, LiveError::Open { .. })
    }
}

/// An open live capture.
pub struct Live {
    rx: Box<dyn DataLinkReceiver>,
    pub iface: String,
    pub link: LinkType,
}

/// The names of the interfaces on this machine.
pub fn interface_names() -> Vec<String> {
    datalink::interfaces().into_iter().map(|i| i.name).collect()
}

fn open_socket(loopback: bool) -> Result<i32, io::Error> {
    // SAFETY: plain socket(2)/setsockopt(2) calls with valid arguments; the fd is handed to
    // pnet, which owns and closes it.
    unsafe {
        let fd = libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW,
            i32::from((libc::ETH_P_ALL as u16).to_be()),
        );
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        if loopback {
            // PACKET_IGNORE_OUTGOING (Linux 4.20): skip the outgoing copy of each frame.
            let one: libc::c_int = 1;
            libc::setsockopt(
                fd,
                libc::SOL_PACKET,
                23,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        Ok(fd)
    }
}

impl Live {
    /// Opens interface `name` (e.g. `lo`).
    pub fn open(name: &str) -> Result<Live, LiveError> {
        let all = datalink::interfaces();
        let iface: NetworkInterface =
            all.iter()
                .find(|i| i.name == name)
                .cloned()
                .ok_or_else(|| LiveError::NoSuchInterface {
                    name: name.to_string(),
                    available: all
                        .iter()
                        .map(|i| i.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
        let classify = |e: io::Error| {
            if e.kind() == io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(libc::EPERM)
            {
                LiveError::Permission(e)
            } else {
                LiveError::Open {
                    iface: name.to_string(),
                    source: e,
                }
            }
        };
        let fd = open_socket(iface.is_loopback()).map_err(classify)?;
        let config = datalink::Config {
            read_buffer_size: READ_BUFFER,
            read_timeout: Some(Duration::from_millis(100)),
            promiscuous: false,
            socket_fd: Some(fd),
            ..datalink::Config::default()
        };
        match datalink::channel(&iface, config) {
            Ok(Channel::Ethernet(_tx, rx)) => Ok(Live {
                rx,
                iface: iface.name.clone(),
                // On Linux every AF_PACKET layer-2 socket sees an Ethernet-shaped header
                // (loopback included, with zero MACs).
                link: LinkType::Ethernet,
            }),
            Ok(_) => Err(LiveError::Open {
                iface: name.to_string(),
                source: io::Error::other("not a layer-2 channel"),
            }),
            Err(e) => Err(classify(e)),
        }
    }

    /// The next frame and its arrival time, or `None` after ~100 ms without one.
    pub fn next_frame(&mut self) -> io::Result<Option<(Duration, &[u8])>> {
        match self.rx.next() {
            Ok(frame) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                Ok(Some((now, frame)))
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
            Err(e) => Err(e),
        }
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Makes Ctrl-C (SIGINT) set a flag instead of killing the process, so a capture can flush
/// its file and print its totals; returns the flag.
pub fn stop_on_sigint() -> &'static AtomicBool {
    // SAFETY: installs an async-signal-safe handler that only stores to an atomic.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    &STOP
}

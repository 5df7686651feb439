//! `tcp send`: connect, send, read the echo, and ask the kernel how the connection went.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};

fn as_hex<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(b))
}

/// The kernel's own view of a TCP connection (Linux `TCP_INFO`, see tcp(7)).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct TcpInfo {
    /// Smoothed round-trip time the kernel measured, in ms.
    pub rtt_ms: f64,
    /// Its variation, in ms.
    pub rttvar_ms: f64,
    /// Retransmission timeout in force, in ms.
    pub rto_ms: f64,
    /// Congestion window, in segments: how many may be unacknowledged at once.
    pub snd_cwnd: u32,
    /// Largest segment we send, in bytes.
    pub snd_mss: u32,
    /// Segments retransmitted over the connection's life.
    pub total_retrans: u32,
    /// Segments sent but not yet acknowledged.
    pub unacked: u32,
    /// The receive window the peer may fill, as the kernel sized it, in bytes.
    pub rcv_space: u32,
}

/// Reads `TCP_INFO` for a connected socket.
pub fn tcp_info(stream: &TcpStream) -> io::Result<TcpInfo> {
    // SAFETY: tcp_info is plain old data; getsockopt writes at most `len` bytes into it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: a valid fd, a pointer to a live struct and its length.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(TcpInfo {
        rtt_ms: info.tcpi_rtt as f64 / 1e3,
        rttvar_ms: info.tcpi_rttvar as f64 / 1e3,
        rto_ms: info.tcpi_rto as f64 / 1e3,
        snd_cwnd: info.tcpi_snd_cwnd,
        snd_mss: info.tcpi_snd_mss,
        total_retrans: info.tcpi_total_retrans,
        unacked: info.tcpi_unacked,
        rcv_space: info.tcpi_rcv_space,
    })
}

#[derive(Debug, Clone)]
pub struct SendConfig {
    pub addr: SocketAddr,
    pub messages: Vec<Vec<u8>>,
    pub coalesce: bool,
    pub no_delay: bool,
    pub timeout: Duration,
}

/// What the client saw, in order.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientEvent {
    /// `connect()` returned: SYN sent, SYN-ACK received, ACK sent.
    Connected {
        local: SocketAddr,
        peer: SocketAddr,
        connect_ms: f64,
        no_delay: bool,
    },
    /// One `write()` of one message.
    Sent {
        bytes: usize,
    },
    /// The echo of one message, which may have taken several reads.
    Echo {
        bytes: usize,
        reads: usize,
        rtt_ms: f64,
        #[serde(serialize_with = "as_hex")]
        data: Vec<u8>,
    },
    /// `--coalesce`: all writes went out back to back; here is how the echo came back.
    Stream {
        writes: Vec<usize>,
        /// Sizes of the reads that brought the echo back.
        reads: Vec<usize>,
        #[serde(serialize_with = "as_hex")]
        data: Vec<u8>,
    },
    Info(TcpInfo),
    /// Relay mode: one read of what the server sent (any server, not only an echo).
    Received {
        bytes: usize,
        #[serde(serialize_with = "as_hex")]
        data: Vec<u8>,
    },
    /// Relay mode: standard input ended, so we sent FIN (a half-close): the server may
    /// still send.
    InputEnded {
        bytes_sent: u64,
    },
    /// We sent FIN; the server's FIN came back after `extra` more bytes.
    Closed {
        bytes_sent: u64,
        bytes_received: u64,
        total_ms: f64,
        /// False when the server kept the connection open for --timeout after our FIN and
        /// we closed it.
        server_closed: bool,
    },
}

/// Connects (reporting `Connected` with the handshake's time) and applies --no-delay.
fn connect(cfg: &SendConfig, on: &mut impl FnMut(ClientEvent)) -> io::Result<TcpStream> {
    let t0 = Instant::now();
    let s = TcpStream::connect_timeout(&cfg.addr, cfg.timeout)?;
    on(ClientEvent::Connected {
        local: s.local_addr()?,
        peer: s.peer_addr()?,
        connect_ms: t0.elapsed().as_secs_f64() * 1e3,
        no_delay: cfg.no_delay,
    });
    s.set_nodelay(cfg.no_delay)?;
    Ok(s)
}

/// Runs the exchange, reporting each step to `on`.
pub fn run(cfg: &SendConfig, on: impl FnMut(ClientEvent)) -> io::Result<()> {
    run_messages(cfg, cfg.messages.iter().cloned(), on)
}

/// [`run`] with the messages from an iterator (e.g. lines typed at a terminal, each sent as
/// it comes and its echo read before the next).
pub fn run_messages(
    cfg: &SendConfig,
    messages: impl Iterator<Item = Vec<u8>>,
    mut on: impl FnMut(ClientEvent),
) -> io::Result<()> {
    let t0 = Instant::now();
    let mut s = connect(cfg, &mut on)?;
    s.set_read_timeout(Some(cfg.timeout))?;
    s.set_write_timeout(Some(cfg.timeout))?;
    let (mut sent, mut received) = (0u64, 0u64);
    if cfg.coalesce {
        let mut writes = Vec::new();
        let all: Vec<Vec<u8>> = messages.collect();
        for m in &all {
            s.write_all(m)?;
            sent += m.len() as u64;
            writes.push(m.len());
        }
        let total: usize = writes.iter().sum();
        // Wait until the whole echo is queued in our receive buffer (MSG_PEEK|MSG_WAITALL does
        // not consume it), then read: the application gets one stream of bytes and cannot tell
        // where one message ended and the next began.
        wait_for_bytes(&s, total)?;
        let (data, reads) = read_exact_counting(&mut s, total)?;
        received += data.len() as u64;
        on(ClientEvent::Stream {
            writes,
            reads,
            data,
        });
    } else {
        for m in messages {
            let m = &m;
            let t = Instant::now();
            s.write_all(m)?;
            sent += m.len() as u64;
            on(ClientEvent::Sent { bytes: m.len() });
            let (data, reads) = read_exact_counting(&mut s, m.len())?;
            received += data.len() as u64;
            on(ClientEvent::Echo {
                bytes: data.len(),
                reads: reads.len(),
                rtt_ms: t.elapsed().as_secs_f64() * 1e3,
                data,
            });
        }
    }
    if let Ok(info) = tcp_info(&s) {
        on(ClientEvent::Info(info));
    }
    // Our FIN, then read to the server's FIN (EOF); anything more is counted too.
    s.shutdown(Shutdown::Write)?;
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)
        .map_err(|e| timeout_context(e, "the server's FIN"))?;
    received += rest.len() as u64;
    on(ClientEvent::Closed {
        bytes_sent: sent,
        bytes_received: received,
        total_ms: t0.elapsed().as_secs_f64() * 1e3,
        server_closed: true,
    });
    Ok(())
}

/// `nc HOST PORT`: copies `input` to the server and reports every read that comes back
/// (`Received`), until `input` ends (then FIN) and the server closes. Talks to any server.
/// Once our FIN is sent, the server has `cfg.timeout` of silence to close before we do.
pub fn relay(
    cfg: &SendConfig,
    input: impl Read + Send + 'static,
    mut on: impl FnMut(ClientEvent),
) -> io::Result<()> {
    use std::sync::mpsc;
    let t0 = Instant::now();
    let mut s = connect(cfg, &mut on)?;
    s.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut w = s.try_clone()?;
    // The input side: a thread, so a quiet stdin never stops us reading the server.
    let (tx, rx) = mpsc::channel::<io::Result<usize>>();
    std::thread::spawn(move || {
        let mut input = input;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let r = w.write_all(&buf[..n]).map(|_| n);
                    let failed = r.is_err();
                    if tx.send(r).is_err() || failed {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
        let _ = w.shutdown(Shutdown::Write);
    });
    let (mut sent, mut received) = (0u64, 0u64);
    let mut input_done: Option<Instant> = None;
    let mut last_heard = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    // One step of the input side: what the thread reported, or that it is done.
    let input_step = |r: Result<io::Result<usize>, ()>,
                      sent: &mut u64,
                      input_done: &mut Option<Instant>,
                      on: &mut dyn FnMut(ClientEvent)|
     -> io::Result<()> {
        match r {
            Ok(Ok(n)) => {
                *sent += n as u64;
                on(ClientEvent::Sent { bytes: n });
            }
            // The server closed its side for reading: nothing more of ours can go.
            Ok(Err(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                ) =>
            {
                input_done.get_or_insert_with(Instant::now);
            }
            Ok(Err(e)) => return Err(e),
            Err(()) => {
                if input_done.is_none() {
                    *input_done = Some(Instant::now());
                    on(ClientEvent::InputEnded { bytes_sent: *sent });
                }
            }
        }
        Ok(())
    };
    let mut server_fin = false;
    let server_closed = loop {
        loop {
            match rx.try_recv() {
                Ok(r) => input_step(Ok(r), &mut sent, &mut input_done, &mut on)?,
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    input_step(Err(()), &mut sent, &mut input_done, &mut on)?;
                    break;
                }
            }
        }
        if server_fin {
            // The server half-closed: it may still read, so the rest of our input goes
            // (waiting at most --timeout for each piece of it).
            if input_done.is_some() {
                break true;
            }
            match rx.recv_timeout(cfg.timeout) {
                Ok(r) => input_step(Ok(r), &mut sent, &mut input_done, &mut on)?,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    input_step(Err(()), &mut sent, &mut input_done, &mut on)?
                }
                Err(mpsc::RecvTimeoutError::Timeout) => break true,
            }
            continue;
        }
        match s.read(&mut buf) {
            Ok(0) => server_fin = true,
            Ok(n) => {
                received += n as u64;
                last_heard = Instant::now();
                on(ClientEvent::Received {
                    bytes: n,
                    data: buf[..n].to_vec(),
                });
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if let Some(done) = input_done {
                    if done.max(last_heard).elapsed() >= cfg.timeout {
                        break false;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    if let Ok(info) = tcp_info(&s) {
        on(ClientEvent::Info(info));
    }
    on(ClientEvent::Closed {
        bytes_sent: sent,
        bytes_received: received,
        total_ms: t0.elapsed().as_secs_f64() * 1e3,
        server_closed,
    });
    Ok(())
}

fn timeout_context(e: io::Error, what: &str) -> io::Error {
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("timed out waiting for {what}"),
        )
    } else {
        e
    }
}

/// Reads exactly `n` bytes, returning them and the size of each read it took.
fn read_exact_counting(s: &mut TcpStream, n: usize) -> io::Result<(Vec<u8>, Vec<usize>)> {
    let mut data = vec![0u8; n];
    let mut got = 0;
    let mut reads = Vec::new();
    while got < n {
        match s.read(&mut data[got..]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the server closed the connection after echoing {got} of {n} bytes"),
                ))
            }
            Ok(k) => {
                got += k;
                reads.push(k);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(timeout_context(
                    e,
                    &format!("the echo (got {got} of {n} bytes; is the server an echo server?)"),
                ))
            }
        }
    }
    Ok((data, reads))
}

/// Blocks until `n` bytes are waiting in the receive buffer (or the read timeout passes).
fn wait_for_bytes(s: &TcpStream, n: usize) -> io::Result<()> {
    let mut scratch = vec![0u8; n];
    // SAFETY: recv into a buffer we own, of its own length.
    let rc = unsafe {
        libc::recv(
            s.as_raw_fd(),
            scratch.as_mut_ptr().cast(),
            scratch.len(),
            libc::MSG_PEEK | libc::MSG_WAITALL,
        )
    };
    if rc < 0 {
        return Err(timeout_context(io::Error::last_os_error(), "the echo"));
    }
    Ok(())
}

//! `tcp serve`: a TCP echo server that reports what the transport layer does, as typed events.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;

/// How the peer ended its side of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerEnd {
    /// An orderly half-close: the peer sent FIN (its `shutdown(SHUT_WR)` or `close()`).
    Fin,
    /// The peer reset the connection (RST): it closed with unread data, or crashed.
    Reset,
    /// We closed it: nothing arrived for the idle timeout.
    IdleTimeout,
    /// We closed it: the server is shutting down.
    Shutdown,
}

fn as_hex<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(b))
}

/// What the echo server saw, in order, per connection.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TcpEvent {
    Listening {
        addr: SocketAddr,
    },
    /// The kernel completed the three-way handshake and `accept()` returned the connection.
    Accepted {
        conn: u64,
        peer: SocketAddr,
        local: SocketAddr,
    },
    /// One `read()`: however many bytes had arrived, regardless of how they were written.
    Read {
        conn: u64,
        bytes: usize,
        /// The first bytes of the read (up to the dump limit), hex-encoded in JSON.
        #[serde(serialize_with = "as_hex")]
        data: Vec<u8>,
    },
    Echoed {
        conn: u64,
        bytes: usize,
    },
    PeerClosed {
        conn: u64,
        how: PeerEnd,
    },
    Closed {
        conn: u64,
        peer: SocketAddr,
        bytes_in: u64,
        bytes_out: u64,
        reads: u64,
        duration_ms: f64,
    },
    Error {
        conn: u64,
        message: String,
    },
    /// The server stopped; totals over all connections.
    Shutdown {
        connections: u64,
        bytes_in: u64,
        bytes_out: u64,
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub struct EchoConfig {
    pub idle_timeout: Duration,
    pub max_conns: Option<u64>,
    /// Bytes of each read carried in `Read` events; 0 sends no `Read`/`Echoed` events at all
    /// (quiet mode, for benchmarks).
    pub dump_limit: usize,
}

#[derive(Default)]
struct Totals {
    connections: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

/// Serves echo on `listener` until `max_conns` connections have been served or `stop`
/// completes; then closes what is still open and reports totals.
pub async fn serve(
    listener: TcpListener,
    cfg: EchoConfig,
    events: UnboundedSender<TcpEvent>,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let _ = events.send(TcpEvent::Listening { addr });
    let totals = Arc::new(Totals::default());
    let mut tasks = JoinSet::new();
    let mut next_id = 0u64;
    tokio::pin!(stop);
    let reason = loop {
        if cfg.max_conns.is_some_and(|m| next_id >= m) {
            break format!("served {next_id} connections (--max-conns)");
        }
        tokio::select! {
            _ = &mut stop => break "interrupted".to_string(),
            // Reap finished connections so the set does not grow without bound.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // e.g. too many open files: report, back off, keep serving.
                        let _ = events.send(TcpEvent::Error { conn: next_id, message: format!("accept failed: {e}") });
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                next_id += 1;
                totals.connections.fetch_add(1, Ordering::Relaxed);
                tasks.spawn(connection(next_id, stream, peer, cfg.clone(), events.clone(), totals.clone()));
            }
        }
    };
    if reason == "interrupted" {
        tasks.abort_all();
    }
    while tasks.join_next().await.is_some() {}
    let _ = events.send(TcpEvent::Shutdown {
        connections: totals.connections.load(Ordering::Relaxed),
        bytes_in: totals.bytes_in.load(Ordering::Relaxed),
        bytes_out: totals.bytes_out.load(Ordering::Relaxed),
        reason,
    });
    Ok(())
}

async fn connection(
    conn: u64,
    mut stream: TcpStream,
    peer: SocketAddr,
    cfg: EchoConfig,
    events: UnboundedSender<TcpEvent>,
    totals: Arc<Totals>,
) {
    let started = Instant::now();
    let local = stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let _ = events.send(TcpEvent::Accepted { conn, peer, local });
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 64 * 1024];
    let (mut bytes_in, mut bytes_out, mut reads) = (0u64, 0u64, 0u64);
    let end = loop {
        let n = match tokio::time::timeout(cfg.idle_timeout, stream.read(&mut buf)).await {
            Err(_) => break PeerEnd::IdleTimeout,
            Ok(Ok(0)) => break PeerEnd::Fin,
            Ok(Ok(n)) => n,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => break PeerEnd::Reset,
            Ok(Err(e)) => {
                let _ = events.send(TcpEvent::Error {
                    conn,
                    message: format!("read failed: {e}"),
                });
                break PeerEnd::Reset;
            }
        };
        reads += 1;
        bytes_in += n as u64;
        totals.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
        if cfg.dump_limit > 0 {
            let _ = events.send(TcpEvent::Read {
                conn,
                bytes: n,
                data: buf[..n.min(cfg.dump_limit)].to_vec(),
            });
        }
        if let Err(e) = stream.write_all(&buf[..n]).await {
            let how = if e.kind() == std::io::ErrorKind::ConnectionReset
                || e.kind() == std::io::ErrorKind::BrokenPipe
            {
                PeerEnd::Reset
            } else {
                let _ = events.send(TcpEvent::Error {
                    conn,
                    message: format!("write failed: {e}"),
                });
                PeerEnd::Reset
            };
            break how;
        }
        bytes_out += n as u64;
        totals.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
        if cfg.dump_limit > 0 {
            let _ = events.send(TcpEvent::Echoed { conn, bytes: n });
        }
    };
    let _ = events.send(TcpEvent::PeerClosed { conn, how: end });
    // Our FIN: everything has been echoed, so close our side too.
    let _ = stream.shutdown().await;
    let _ = events.send(TcpEvent::Closed {
        conn,
        peer,
        bytes_in,
        bytes_out,
        reads,
        duration_ms: started.elapsed().as_secs_f64() * 1e3,
    });
}

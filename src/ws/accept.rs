//! The server side of the opening handshake over a TCP connection: read the HTTP head (size
//! and time capped), then answer 101 and hand back a [`WebSocket`], or serve plain HTTP, or
//! refuse with a status that names the problem.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::conn::{Config, WebSocket, WsError};
use crate::wire::websocket::handshake::{self, HandshakeError, Intent, Request};
use crate::wire::websocket::Role;

/// A WebSocket over a TCP connection.
pub type TcpWebSocket = WebSocket<OwnedReadHalf, OwnedWriteHalf>;

/// How to accept.
#[derive(Debug, Clone)]
pub struct AcceptOptions {
    pub config: Config,
    /// The whole HTTP head must arrive within this time.
    pub timeout: Duration,
    /// Served on `GET /` without Upgrade (HTML); other paths get 404.
    pub page: Option<&'static str>,
}

impl Default for AcceptOptions {
    fn default() -> Self {
        AcceptOptions {
            config: Config::default(),
            timeout: Duration::from_secs(10),
            page: None,
        }
    }
}

/// What came of an incoming connection.
pub enum Accepted {
    /// The upgrade succeeded.
    WebSocket {
        ws: Box<TcpWebSocket>,
        request: Request,
        request_text: String,
        response_text: String,
    },
    /// A plain HTTP request, answered and closed.
    Http { request: Request, status: u16 },
    /// A bad handshake, answered with an error status and closed.
    Rejected {
        request_text: Option<String>,
        error: HandshakeError,
    },
}

/// Reads the handshake from `stream` and answers it. TCP_NODELAY is set on the stream, so
/// small frames leave at once.
pub async fn accept(stream: TcpStream, opts: &AcceptOptions) -> Result<Accepted, WsError> {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let mut buf = Vec::with_capacity(1024);
    let read_head = async {
        loop {
            match Request::parse(&buf) {
                Ok(Some(x)) => return Ok(Ok(x)),
                Ok(None) => {}
                Err(e) => return Ok(Err(e)),
            }
            let mut chunk = [0u8; 4096];
            let n = rd.read(&mut chunk).await?;
            if n == 0 {
                return Err(WsError::HandshakeEof);
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    let parsed = match tokio::time::timeout(opts.timeout, read_head).await {
        Ok(r) => r?,
        Err(_) => return Err(WsError::Timeout(opts.timeout.as_secs())),
    };
    let (request, used) = match parsed {
        Ok(x) => x,
        Err(error) => {
            wr.write_all(handshake::error_response(&error).as_bytes())
                .await?;
            let _ = wr.shutdown().await;
            return Ok(Accepted::Rejected {
                request_text: None,
                error,
            });
        }
    };
    let request_text = String::from_utf8_lossy(buf.get(..used).unwrap_or_default()).into_owned();
    match request.intent() {
        Ok(Intent::Upgrade { key }) => {
            let response_text = handshake::response_101(&key);
            wr.write_all(response_text.as_bytes()).await?;
            let leftover = buf.get(used..).unwrap_or_default();
            let ws = WebSocket::new(rd, wr, Role::Server, opts.config, leftover);
            Ok(Accepted::WebSocket {
                ws: Box::new(ws),
                request,
                request_text,
                response_text,
            })
        }
        Ok(Intent::PlainHttp) => {
            let (status, response) = match (request.path(), opts.page) {
                ("/" | "/index.html", Some(page)) => (
                    200,
                    handshake::response_with_body(200, "text/html; charset=utf-8", "", page),
                ),
                _ => (
                    404,
                    handshake::response_with_body(
                        404,
                        "text/plain; charset=utf-8",
                        "",
                        "not found: this server speaks WebSocket; GET / shows the demo page\n",
                    ),
                ),
            };
            wr.write_all(response.as_bytes()).await?;
            let _ = wr.shutdown().await;
            // Let the client read the answer before the socket is dropped.
            let mut sink = [0u8; 1024];
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                while let Ok(n) = rd.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
            Ok(Accepted::Http { request, status })
        }
        Err(error) => {
            wr.write_all(handshake::error_response(&error).as_bytes())
                .await?;
            let _ = wr.shutdown().await;
            Ok(Accepted::Rejected {
                request_text: Some(request_text),
                error,
            })
        }
    }
}

//! The server side of the opening handshake over a TCP connection: read the HTTP head (size
//! and time capped), then answer 101 and hand back a [`WebSocket`], or serve plain HTTP, or
//! refuse with a status that names the problem.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::conn::{Config, WebSocket, WsError};
use crate::wire::websocket::handshake::{self, Deflate, HandshakeError, Intent, Request};
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
        /// permessage-deflate, when the client offered it and it was accepted.
        deflate: Option<Deflate>,
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
/// small frames leave at once. Declines every extension offer.
pub async fn accept(stream: TcpStream, opts: &AcceptOptions) -> Result<Accepted, WsError> {
    accept_with(stream, opts, false).await
}

/// [`accept`], and with `compress` accepts the client's first valid permessage-deflate offer
/// (RFC 7692), after which messages are compressed both ways.
pub async fn accept_with(
    stream: TcpStream,
    opts: &AcceptOptions,
    compress: bool,
) -> Result<Accepted, WsError> {
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
        Err(_) => return Err(WsError::Timeout(opts.timeout.as_secs_f64())),
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
            let chosen = compress
                .then(|| handshake::server_choose(&request.headers))
                .flatten();
            let response_text =
                handshake::response_101_with(&key, chosen.as_ref().map(|(h, _)| h.as_str()));
            wr.write_all(response_text.as_bytes()).await?;
            let leftover = buf.get(used..).unwrap_or_default();
            let mut ws = WebSocket::new(rd, wr, Role::Server, opts.config, leftover);
            let deflate = chosen.map(|(_, d)| d);
            if let Some(d) = &deflate {
                ws.enable_deflate(d, Role::Server);
            }
            Ok(Accepted::WebSocket {
                ws: Box::new(ws),
                request,
                request_text,
                response_text,
                deflate,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::conn::Message;
    use tokio::net::TcpListener;

    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (c, s)
    }

    #[tokio::test]
    async fn a_slow_head_times_out() {
        let (mut c, s) = pair().await;
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        let opts = AcceptOptions {
            timeout: Duration::from_millis(100),
            ..AcceptOptions::default()
        };
        assert!(matches!(accept(s, &opts).await, Err(WsError::Timeout(_))));
    }

    #[tokio::test]
    async fn a_head_cut_short_is_handshake_eof() {
        let (mut c, s) = pair().await;
        c.write_all(b"GET / HTTP/1.1\r\nHost").await.unwrap();
        drop(c);
        let r = accept(s, &AcceptOptions::default()).await;
        assert!(matches!(r, Err(WsError::HandshakeEof)));
    }

    #[tokio::test]
    async fn frames_sent_with_the_request_are_kept() {
        let (mut c, s) = pair().await;
        let mut bytes =
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                .to_vec();
        bytes.extend_from_slice(&[0x82, 0x81, 0, 0, 0, 0, 42]);
        c.write_all(&bytes).await.unwrap();
        let Accepted::WebSocket {
            mut ws, request, ..
        } = accept(s, &AcceptOptions::default()).await.unwrap()
        else {
            panic!("not accepted");
        };
        assert_eq!(request.path(), "/");
        assert_eq!(ws.recv().await.unwrap(), Ok(Message::Binary(vec![42])));
        // After our close frame nothing more may be sent.
        ws.writer.close(None).await.unwrap();
        assert!(matches!(
            ws.send(&Message::Text("late".into())).await,
            Err(WsError::Closing)
        ));
    }
}

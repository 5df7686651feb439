//! The client side: parse a `ws://` URL, connect, send the upgrade request with a fresh
//! random key, and check the server's 101 and its `Sec-WebSocket-Accept`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::accept::TcpWebSocket;
use super::conn::{Config, WebSocket, WsError};
use crate::wire::websocket::handshake::{self, Deflate, Response};
use crate::wire::websocket::Role;

/// A `ws://host:port/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("'{0}' is not a ws:// URL (expected ws://HOST:PORT/PATH)")]
    NotWs(String),
    #[error("'{0}' is wss:// (WebSocket over TLS); wirelab speaks plain ws:// only")]
    Tls(String),
    #[error("'{0}' has no host")]
    NoHost(String),
    #[error("'{0}' has a bad port")]
    BadPort(String),
}

impl WsUrl {
    pub fn parse(s: &str) -> Result<WsUrl, UrlError> {
        let rest = if let Some(r) = s.strip_prefix("ws://") {
            r
        } else if s.starts_with("wss://") {
            return Err(UrlError::Tls(s.to_string()));
        } else {
            return Err(UrlError::NotWs(s.to_string()));
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| UrlError::NoHost(s.to_string()))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| UrlError::BadPort(s.to_string()))?,
                None if after.is_empty() => 80,
                None => return Err(UrlError::BadPort(s.to_string())),
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse().map_err(|_| UrlError::BadPort(s.to_string()))?,
                ),
                None => (authority.to_string(), 80),
            }
        };
        if host.is_empty() {
            return Err(UrlError::NoHost(s.to_string()));
        }
        Ok(WsUrl { host, port, path })
    }

    /// The Host header value.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// A connected client.
pub struct Connected {
    pub ws: TcpWebSocket,
    pub addr: SocketAddr,
    pub connect_time: Duration,
    pub request_text: String,
    pub response_text: String,
    /// permessage-deflate, when offered and accepted by the server.
    pub deflate: Option<Deflate>,
}

/// Connects to `url` and performs the opening handshake within `timeout`; offers no
/// extension.
pub async fn connect(url: &WsUrl, config: Config, timeout: Duration) -> Result<Connected, WsError> {
    connect_with(url, config, timeout, false).await
}

/// [`connect`], and with `compress` offers permessage-deflate
/// ([`handshake::CLIENT_OFFER`]); a response that is not a valid answer to it fails the
/// connection.
pub async fn connect_with(
    url: &WsUrl,
    config: Config,
    timeout: Duration,
    compress: bool,
) -> Result<Connected, WsError> {
    let work = async {
        let start = Instant::now();
        let stream = TcpStream::connect((url.host.as_str(), url.port)).await?;
        let connect_time = start.elapsed();
        let _ = stream.set_nodelay(true);
        let addr = stream.peer_addr()?;
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
        let key = handshake::key_from_bytes(nonce);
        let offer = compress.then_some(handshake::CLIENT_OFFER);
        let request_text = handshake::client_request_with(&url.authority(), &url.path, &key, offer);
        let (mut rd, mut wr) = stream.into_split();
        wr.write_all(request_text.as_bytes()).await?;
        let mut buf = Vec::with_capacity(1024);
        let (response, used) = loop {
            // Our own request coming back: an echo server, not an HTTP one.
            let echoed = buf.len().min(request_text.len());
            if echoed >= 4 && buf[..echoed] == request_text.as_bytes()[..echoed] {
                return Err(WsError::Io(std::io::Error::other(
                    "that server answered with what we sent: not an HTTP server (an echo server?)",
                )));
            }
            if let Some(x) = Response::parse(&buf)? {
                break x;
            }
            let mut chunk = [0u8; 4096];
            let n = rd.read(&mut chunk).await?;
            if n == 0 {
                return Err(WsError::HandshakeEof);
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let response_text =
            String::from_utf8_lossy(buf.get(..used).unwrap_or_default()).into_owned();
        response.check(&key)?;
        let deflate = if compress {
            handshake::client_accept(&response.headers).map_err(handshake::HandshakeError::from)?
        } else if response.headers.get("Sec-WebSocket-Extensions").is_some() {
            // We offered nothing, so the server may accept nothing (RFC 6455 §4.1).
            let name = response
                .headers
                .get("Sec-WebSocket-Extensions")
                .unwrap_or_default()
                .to_string();
            return Err(
                handshake::HandshakeError::from(handshake::ExtensionError::NotOffered(name)).into(),
            );
        } else {
            None
        };
        let mut ws = WebSocket::new(
            rd,
            wr,
            Role::Client,
            config,
            buf.get(used..).unwrap_or_default(),
        );
        if let Some(d) = &deflate {
            ws.enable_deflate(d, Role::Client);
        }
        Ok(Connected {
            ws,
            addr,
            connect_time,
            request_text,
            response_text,
            deflate,
        })
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(WsError::Timeout(timeout.as_secs_f64())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = WsUrl::parse("ws://127.0.0.1:7009/chat?x=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 7009, "/chat?x=1")
        );
        assert_eq!(u.authority(), "127.0.0.1:7009");
        let u = WsUrl::parse("ws://localhost").unwrap();
        assert_eq!(
            (u.port, u.path.as_str(), u.authority().as_str()),
            (80, "/", "localhost")
        );
        let u = WsUrl::parse("ws://[::1]:9/").unwrap();
        assert_eq!(
            (u.host.as_str(), u.authority().as_str()),
            ("::1", "[::1]:9")
        );
        assert!(matches!(WsUrl::parse("wss://a/"), Err(UrlError::Tls(_))));
        assert!(matches!(WsUrl::parse("http://a/"), Err(UrlError::NotWs(_))));
        assert!(matches!(
            WsUrl::parse("ws://:80/"),
            Err(UrlError::NoHost(_))
        ));
        assert!(matches!(
            WsUrl::parse("ws://a:99999/"),
            Err(UrlError::BadPort(_))
        ));
    }
}

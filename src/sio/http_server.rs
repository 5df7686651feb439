//! HTTP/1.1 keep-alive for the polling transport: read one request (head, then a body of
//! `Content-Length` bytes, capped), write one response. Heads are parsed by
//! [`crate::wire::websocket::handshake::Request`], the same parser the WebSocket upgrade uses.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::wire::websocket::handshake::{HandshakeError, Request};

/// Why no request could be read.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("connection closed")]
    Eof,
    #[error("bad HTTP request: {0}")]
    Head(#[from] HandshakeError),
    #[error("Content-Length {0:?} is not a number")]
    BadLength(String),
    #[error("request body of {len} bytes is over the limit of {max}")]
    TooLarge { len: u64, max: u64 },
    #[error("no request within {0} s")]
    Timeout(u64),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// One request read from a connection: the head, its body, and whether the client wants the
/// connection kept open afterwards.
pub struct HttpRequest {
    pub head: Request,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The value of query parameter `name` (no percent-decoding: engine.io values are plain).
    pub fn query(&self, name: &str) -> Option<&str> {
        let q = self.head.target.split_once('?')?.1;
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == name).then_some(v)
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get(name)
    }

    /// HTTP/1.0 without keep-alive, or `Connection: close`.
    pub fn wants_close(&self) -> bool {
        let c = self.header("Connection").unwrap_or_default();
        c.eq_ignore_ascii_case("close")
            || (self.head.version == "HTTP/1.0" && !c.eq_ignore_ascii_case("keep-alive"))
    }
}

/// Reads requests off one connection, keeping bytes that arrived early for the next one.
pub struct RequestReader<R> {
    io: R,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> RequestReader<R> {
    pub fn new(io: R, leftover: &[u8]) -> Self {
        RequestReader {
            io,
            buf: leftover.to_vec(),
        }
    }

    /// Bytes read past the last request (the start of WebSocket frames after an upgrade).
    pub fn into_parts(self) -> (R, Vec<u8>) {
        (self.io, self.buf)
    }

    /// The next request; the head must arrive within `timeout` of the first byte wait.
    pub async fn next(
        &mut self,
        max_body: u64,
        timeout: Duration,
    ) -> Result<HttpRequest, HttpError> {
        let head = tokio::time::timeout(timeout, self.read_head())
            .await
            .map_err(|_| HttpError::Timeout(timeout.as_secs()))??;
        let (head, used) = head;
        self.buf.drain(..used);
        let len = match head.headers.get("Content-Length") {
            None => 0,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map_err(|_| HttpError::BadLength(v.to_string()))?,
        };
        if len > max_body {
            return Err(HttpError::TooLarge { len, max: max_body });
        }
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let body = tokio::time::timeout(timeout, async {
            while self.buf.len() < len {
                self.fill().await?;
            }
            Ok::<_, HttpError>(self.buf.drain(..len).collect::<Vec<u8>>())
        })
        .await
        .map_err(|_| HttpError::Timeout(timeout.as_secs()))??;
        Ok(HttpRequest { head, body })
    }

    /// After an answer that ends the connection early (413), reads and drops what the client is
    /// still sending, at most `max` bytes or for `limit`, so its kernel sees the answer rather
    /// than a reset for unread data (a "lingering close", as nginx and Node do).
    pub async fn linger(&mut self, max: u64, limit: Duration) {
        let mut seen = 0u64;
        let _ = tokio::time::timeout(limit, async {
            while seen <= max {
                match self.fill().await {
                    Ok(()) => {
                        seen += self.buf.len() as u64;
                        self.buf.clear();
                    }
                    Err(_) => return,
                }
            }
        })
        .await;
    }

    async fn read_head(&mut self) -> Result<(Request, usize), HttpError> {
        loop {
            if let Some(x) = Request::parse(&self.buf)? {
                return Ok(x);
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> Result<(), HttpError> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.io.read(&mut chunk).await?;
        if n == 0 {
            return Err(HttpError::Eof);
        }
        self.buf
            .extend_from_slice(chunk.get(..n).unwrap_or_default());
        Ok(())
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        _ => "Error",
    }
}

/// A response to write.
pub struct HttpResponse {
    pub code: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn new(code: u16, content_type: &str, body: impl Into<Vec<u8>>) -> HttpResponse {
        HttpResponse {
            code,
            headers: vec![("Content-Type", content_type.to_string())],
            body: body.into(),
        }
    }

    pub fn empty(code: u16) -> HttpResponse {
        HttpResponse {
            code,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> HttpResponse {
        self.headers.push((name, value.into()));
        self
    }

    /// Writes the response; `close` adds `Connection: close`.
    pub async fn write<W: AsyncWrite + Unpin>(
        &self,
        w: &mut W,
        close: bool,
    ) -> std::io::Result<()> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.code, reason(self.code));
        for (k, v) in &self.headers {
            head.push_str(k);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        if close {
            head.push_str("Connection: close\r\n");
        } else {
            head.push_str("Connection: keep-alive\r\n");
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        w.write_all(&out).await?;
        w.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn two_requests_on_one_connection_with_bodies() {
        let bytes = b"POST /socket.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\nHost: x\r\n\
            Content-Length: 5\r\n\r\n40{}aGET /x HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut r = RequestReader::new(&bytes[..], &[]);
        let a = r.next(100, Duration::from_secs(1)).await.unwrap();
        assert_eq!(a.body, b"40{}a");
        assert_eq!(a.query("sid"), Some("abc"));
        assert_eq!(a.query("EIO"), Some("4"));
        assert_eq!(a.query("nope"), None);
        let b = r.next(100, Duration::from_secs(1)).await.unwrap();
        assert_eq!(b.head.path(), "/x");
        assert!(matches!(
            r.next(100, Duration::from_secs(1)).await,
            Err(HttpError::Eof)
        ));
    }

    #[tokio::test]
    async fn a_body_over_the_cap_is_refused_before_it_is_read() {
        let bytes = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n";
        let mut r = RequestReader::new(&bytes[..], &[]);
        assert!(matches!(
            r.next(100, Duration::from_secs(1)).await,
            Err(HttpError::TooLarge { len: 101, max: 100 })
        ));
        let mut ok =
            RequestReader::new(&b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab"[..], &[]);
        assert_eq!(
            ok.next(2, Duration::from_secs(1)).await.unwrap().body,
            b"ab"
        );
    }
}

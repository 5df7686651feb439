//! One HTTP/1.1 request per TCP connection (`Connection: close`), for Engine.IO long-polling:
//! a GET that the server may hold until it has packets, and a POST of a payload.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::wire::http_message::{Message, StartLine};

/// Largest response body read (the server's maxPayload is usually 1 MB).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("the server's answer is not HTTP/1.x")]
    NotHttp,
    #[error("the server closed the connection before the end of its answer")]
    Truncated,
    #[error("the server's answer is over {MAX_BODY} bytes")]
    TooLarge,
    #[error("no answer within {0} s")]
    Timeout(f64),
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The request as sent, for `--show-packets`.
pub fn request_text(method: &str, authority: &str, target: &str, body: &[u8]) -> String {
    let mut s = format!(
        "{method} {target} HTTP/1.1\r\nHost: {authority}\r\nAccept: */*\r\nConnection: close\r\n"
    );
    if method == "POST" {
        s.push_str("Content-Type: text/plain;charset=UTF-8\r\n");
        s.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    s.push_str("\r\n");
    s
}

/// Sends one request and reads the whole answer within `timeout`.
pub async fn request(
    host: &str,
    port: u16,
    head: &str,
    body: &[u8],
    timeout: Duration,
) -> Result<Response, HttpError> {
    let work = async {
        let mut stream =
            TcpStream::connect((host, port))
                .await
                .map_err(|source| HttpError::Connect {
                    addr: format!("{host}:{port}"),
                    source,
                })?;
        let _ = stream.set_nodelay(true);
        let mut out = head.as_bytes().to_vec();
        out.extend_from_slice(body);
        stream.write_all(&out).await?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > MAX_BODY {
                return Err(HttpError::TooLarge);
            }
            if let Some(r) = complete(&buf)? {
                return Ok(r);
            }
        }
        complete(&buf)?
            .ok_or(HttpError::Truncated)
            .or_else(|_| until_close(&buf))
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(HttpError::Timeout(timeout.as_secs_f64())),
    }
}

/// A response that ends at the close of the connection (no length given).
fn until_close(buf: &[u8]) -> Result<Response, HttpError> {
    let m = Message::parse(buf).ok_or(HttpError::NotHttp)?;
    if !m.complete {
        return Err(HttpError::Truncated);
    }
    if m.header("content-length").is_some() || is_chunked(&m) {
        return Err(HttpError::Truncated);
    }
    response(&m, buf.get(m.header_len..).unwrap_or_default().to_vec())
}

fn is_chunked(m: &Message) -> bool {
    m.header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

fn response(m: &Message, body: Vec<u8>) -> Result<Response, HttpError> {
    match &m.start {
        StartLine::Response { status, reason, .. } => Ok(Response {
            status: *status,
            reason: reason.clone(),
            headers: m.headers.clone(),
            body,
        }),
        StartLine::Request { .. } => Err(HttpError::NotHttp),
    }
}

/// The response if `buf` holds all of it (by Content-Length or chunked encoding).
fn complete(buf: &[u8]) -> Result<Option<Response>, HttpError> {
    if buf.len() >= 5 && !Message::looks_like(buf) {
        return Err(HttpError::NotHttp);
    }
    let Some(m) = Message::parse(buf) else {
        return Ok(None);
    };
    if !m.complete {
        return Ok(None);
    }
    let rest = buf.get(m.header_len..).unwrap_or_default();
    if is_chunked(&m) {
        return dechunk(rest).map(|b| response(&m, b)).transpose();
    }
    match m
        .header("content-length")
        .map(|v| v.trim().parse::<usize>())
    {
        Some(Ok(n)) if rest.len() >= n => Ok(Some(response(&m, rest[..n].to_vec())?)),
        Some(Ok(n)) if n > MAX_BODY => Err(HttpError::TooLarge),
        Some(Ok(_)) => Ok(None),
        Some(Err(_)) => Err(HttpError::NotHttp),
        None => Ok(None),
    }
}

/// Decodes a chunked body (RFC 9112 §7.1); `None` until the last chunk is in.
fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&b[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if b.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_and_chunked_bodies() {
        let r = complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap()
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
        assert!(complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok")
            .unwrap()
            .is_none());
        let r = complete(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n1\r\n!\r\n0\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.body, b"ok!");
        assert!(matches!(
            complete(b"SSH-2.0-x\r\n"),
            Err(HttpError::NotHttp)
        ));
        let r = until_close(b"HTTP/1.1 400 Bad Request\r\n\r\n{}").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (400, &b"{}"[..]));
    }
}

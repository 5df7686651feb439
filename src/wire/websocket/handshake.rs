//! The opening handshake (RFC 6455 §4): an HTTP/1.1 GET that asks to upgrade, answered by
//! `101 Switching Protocols`.
//!
//! ```text
//! GET /chat HTTP/1.1                          HTTP/1.1 101 Switching Protocols
//! Host: server.example.com                    Upgrade: websocket
//! Upgrade: websocket                    ───▶  Connection: Upgrade
//! Connection: Upgrade                         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
//! Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
//! Sec-WebSocket-Version: 13
//! ```
//!
//! `Sec-WebSocket-Accept` = base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")): proof
//! that the server read this very request and speaks WebSocket (a plain HTTP server or cache
//! cannot produce it). Parsing is incremental: `Ok(None)` means "the head is not complete yet".

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha1::{Digest, Sha1};
use thiserror::Error;

/// The GUID every server appends to the key (RFC 6455 §1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The only protocol version (RFC 6455 §4.1).
pub const VERSION: &str = "13";
/// Largest request or response head we read (request line + headers).
pub const MAX_HEAD: usize = 16 * 1024;
/// Most header lines we accept.
pub const MAX_HEADERS: usize = 100;

/// Why a handshake failed. The server answers each with a status (see [`HandshakeError::status`]).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum HandshakeError {
    #[error("the request head is larger than {limit} bytes without ending in an empty line")]
    TooLarge { limit: usize },
    #[error("more than {limit} header lines")]
    TooManyHeaders { limit: usize },
    #[error("the head is not text: byte 0x{byte:02x} at offset {offset}")]
    NotText { byte: u8, offset: usize },
    #[error("malformed request line {0:?}: expected METHOD TARGET HTTP/1.1")]
    BadRequestLine(String),
    #[error("malformed status line {0:?}: expected HTTP/1.1 CODE REASON")]
    BadStatusLine(String),
    #[error("malformed header line {0:?}: expected 'Name: value'")]
    BadHeaderLine(String),
    #[error("method is {0}; a WebSocket handshake must be a GET")]
    NotGet(String),
    #[error("HTTP version is {0}; a WebSocket handshake needs HTTP/1.1 or later")]
    OldHttp(String),
    #[error("no Host header")]
    MissingHost,
    #[error("no Upgrade header (a plain HTTP request, not a WebSocket handshake)")]
    MissingUpgrade,
    #[error("Upgrade header is {0:?}; expected \"websocket\"")]
    UpgradeNotWebsocket(String),
    #[error("Connection header is {0:?}; it must contain the token \"Upgrade\"")]
    ConnectionLacksUpgrade(String),
    #[error("no Sec-WebSocket-Version header")]
    MissingVersion,
    #[error("Sec-WebSocket-Version is {0:?}; this server speaks version 13 only")]
    UnsupportedVersion(String),
    #[error("no Sec-WebSocket-Key header")]
    MissingKey,
    #[error("Sec-WebSocket-Key {key:?} is not base64 of 16 bytes ({problem})")]
    BadKey { key: String, problem: String },
    #[error("server answered {code} {reason:?} instead of 101 Switching Protocols")]
    NotSwitching { code: u16, reason: String },
    #[error("no Sec-WebSocket-Accept header in the server's 101 response")]
    MissingAccept,
    #[error(
        "Sec-WebSocket-Accept mismatch: expected {expected} (from our key), server sent {got}"
    )]
    AcceptMismatch { expected: String, got: String },
}

impl HandshakeError {
    /// The HTTP status a server answers with: 426 Upgrade Required for a wrong version, 431
    /// for a too-large head, 405 for a method other than GET, 400 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::MissingVersion | HandshakeError::UnsupportedVersion(_) => 426,
            HandshakeError::TooLarge { .. } | HandshakeError::TooManyHeaders { .. } => 431,
            HandshakeError::NotGet(_) => 405,
            _ => 400,
        }
    }
}

/// One `Name: value` header line, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// Headers in order, looked up case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<Header>);

impl Headers {
    /// The first value of header `name` (names are case-insensitive, RFC 9110 §5.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// Does a comma-separated header `name` (any of its lines) contain `token`?
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.0
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .flat_map(|h| h.value.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// An HTTP/1.1 request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target, e.g. `/chat`.
    pub target: String,
    /// e.g. `HTTP/1.1`.
    pub version: String,
    pub headers: Headers,
}

/// An HTTP/1.1 response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub version: String,
    pub code: u16,
    pub reason: String,
    pub headers: Headers,
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// A valid WebSocket upgrade with this `Sec-WebSocket-Key`.
    Upgrade { key: String },
    /// A request with no `Upgrade` header: plain HTTP (the demo page is served on `/`).
    PlainHttp,
}

/// Splits off the head (up to and including the empty line). `Ok(None)`: not complete yet.
fn split_head(buf: &[u8]) -> Result<Option<(&str, usize)>, HandshakeError> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let Some(end) = end else {
        if buf.len() > MAX_HEAD {
            return Err(HandshakeError::TooLarge { limit: MAX_HEAD });
        }
        return Ok(None);
    };
    let used = end + 4;
    if used > MAX_HEAD {
        return Err(HandshakeError::TooLarge { limit: MAX_HEAD });
    }
    let head = buf.get(..end).unwrap_or_default();
    if let Some(offset) = head
        .iter()
        .position(|&b| !(b == b'\r' || b == b'\n' || b == b'\t' || (0x20..0x7f).contains(&b)))
    {
        return Err(HandshakeError::NotText {
            byte: head.get(offset).copied().unwrap_or_default(),
            offset,
        });
    }
    // Only printable ASCII and whitespace remain, so this cannot fail.
    let text = std::str::from_utf8(head).map_err(|e| HandshakeError::NotText {
        byte: 0,
        offset: e.valid_up_to(),
    })?;
    Ok(Some((text, used)))
}

fn parse_headers<'a>(lines: impl Iterator<Item = &'a str>) -> Result<Headers, HandshakeError> {
    let mut headers = Vec::new();
    for line in lines {
        if headers.len() >= MAX_HEADERS {
            return Err(HandshakeError::TooManyHeaders { limit: MAX_HEADERS });
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(HandshakeError::BadHeaderLine(line.to_string()));
        };
        if name.is_empty() || name.contains(|c: char| c.is_ascii_whitespace()) {
            return Err(HandshakeError::BadHeaderLine(line.to_string()));
        }
        headers.push(Header {
            name: name.to_string(),
            value: value.trim().to_string(),
        });
    }
    Ok(Headers(headers))
}

impl Request {
    /// Parses a request head from the start of `buf`. `Ok(None)`: the empty line that ends the
    /// head has not arrived yet. `Ok(Some((request, n)))`: the head took `n` bytes.
    pub fn parse(buf: &[u8]) -> Result<Option<(Request, usize)>, HandshakeError> {
        let Some((text, used)) = split_head(buf)? else {
            return Ok(None);
        };
        let mut lines = text.split("\r\n");
        let first = lines.next().unwrap_or_default();
        let mut parts = first.split(' ');
        let (Some(method), Some(target), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(HandshakeError::BadRequestLine(first.to_string()));
        };
        if method.is_empty() || target.is_empty() || !version.starts_with("HTTP/") {
            return Err(HandshakeError::BadRequestLine(first.to_string()));
        }
        let headers = parse_headers(lines)?;
        Ok(Some((
            Request {
                method: method.to_string(),
                target: target.to_string(),
                version: version.to_string(),
                headers,
            },
            used,
        )))
    }

    /// Checks the request against RFC 6455 §4.2.1 and says what it asks for.
    pub fn intent(&self) -> Result<Intent, HandshakeError> {
        let h = &self.headers;
        if self.method != "GET" {
            return Err(HandshakeError::NotGet(self.method.clone()));
        }
        let minor_ok = match self.version.strip_prefix("HTTP/") {
            Some(v) => match v.split_once('.') {
                Some((maj, min)) => match (maj.parse::<u32>(), min.parse::<u32>()) {
                    (Ok(1), Ok(m)) => m >= 1,
                    (Ok(m), Ok(_)) => m > 1,
                    _ => false,
                },
                None => false,
            },
            None => false,
        };
        if !minor_ok {
            return Err(HandshakeError::OldHttp(self.version.clone()));
        }
        let Some(upgrade) = h.get("Upgrade") else {
            return Ok(Intent::PlainHttp);
        };
        if h.get("Host").is_none() {
            return Err(HandshakeError::MissingHost);
        }
        if !upgrade
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("websocket"))
        {
            return Err(HandshakeError::UpgradeNotWebsocket(upgrade.to_string()));
        }
        if !h.has_token("Connection", "Upgrade") {
            return Err(HandshakeError::ConnectionLacksUpgrade(
                h.get("Connection").unwrap_or_default().to_string(),
            ));
        }
        match h.get("Sec-WebSocket-Version") {
            None => return Err(HandshakeError::MissingVersion),
            Some(VERSION) => {}
            Some(v) => return Err(HandshakeError::UnsupportedVersion(v.to_string())),
        }
        let key = h
            .get("Sec-WebSocket-Key")
            .ok_or(HandshakeError::MissingKey)?;
        check_key(key)?;
        Ok(Intent::Upgrade {
            key: key.to_string(),
        })
    }

    /// The request path without a query string.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

/// Checks that `key` is base64 of exactly 16 bytes (RFC 6455 §4.1 item 7).
pub fn check_key(key: &str) -> Result<(), HandshakeError> {
    let bad = |problem: String| HandshakeError::BadKey {
        key: key.to_string(),
        problem,
    };
    let bytes = BASE64
        .decode(key)
        .map_err(|e| bad(format!("not base64: {e}")))?;
    if bytes.len() != 16 {
        return Err(bad(format!("decodes to {} bytes", bytes.len())));
    }
    Ok(())
}

/// The steps of the `Sec-WebSocket-Accept` computation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AcceptSteps {
    pub key: String,
    pub guid: &'static str,
    /// key + GUID, the string that is hashed.
    pub concatenated: String,
    /// SHA-1 of the concatenation, 20 bytes in hex.
    pub sha1_hex: String,
    /// base64 of those 20 bytes: the header value.
    pub accept: String,
}

/// Computes `Sec-WebSocket-Accept` for `key`, keeping every intermediate step.
pub fn accept_steps(key: &str) -> AcceptSteps {
    let concatenated = format!("{key}{GUID}");
    let digest = Sha1::digest(concatenated.as_bytes());
    AcceptSteps {
        key: key.to_string(),
        guid: GUID,
        sha1_hex: hex::encode(digest),
        accept: BASE64.encode(digest),
        concatenated,
    }
}

/// `Sec-WebSocket-Accept` for `key`.
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    BASE64.encode(h.finalize())
}

/// A fresh key: base64 of 16 random bytes.
pub fn key_from_bytes(nonce: [u8; 16]) -> String {
    BASE64.encode(nonce)
}

/// The server's `101 Switching Protocols` answer to a valid upgrade with `key`.
pub fn response_101(key: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    )
}

fn reason_phrase(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

/// A complete HTTP response with a body; the connection closes after it.
pub fn response_with_body(code: u16, content_type: &str, extra: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n{extra}\r\n{body}",
        reason_phrase(code),
        body.len()
    )
}

/// The error response for a failed handshake: the status from [`HandshakeError::status`], a
/// text body naming what was wrong, and `Sec-WebSocket-Version: 13` on a 426.
pub fn error_response(e: &HandshakeError) -> String {
    let code = e.status();
    let extra = if code == 426 {
        "Sec-WebSocket-Version: 13\r\n"
    } else {
        ""
    };
    response_with_body(
        code,
        "text/plain; charset=utf-8",
        extra,
        &format!("WebSocket handshake failed: {e}\n"),
    )
}

/// The client's upgrade request for `path` on `host` (with port, as in the URL).
pub fn client_request(host: &str, path: &str, key: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: wirelab\r\n\r\n"
    )
}

impl Response {
    /// Parses a response head from the start of `buf`; `Ok(None)`: not complete yet.
    pub fn parse(buf: &[u8]) -> Result<Option<(Response, usize)>, HandshakeError> {
        let Some((text, used)) = split_head(buf)? else {
            return Ok(None);
        };
        let mut lines = text.split("\r\n");
        let first = lines.next().unwrap_or_default();
        let bad = || HandshakeError::BadStatusLine(first.to_string());
        let mut parts = first.splitn(3, ' ');
        let version = parts
            .next()
            .filter(|v| v.starts_with("HTTP/"))
            .ok_or_else(bad)?;
        let code = parts
            .next()
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(bad)?;
        let reason = parts.next().unwrap_or_default();
        let headers = parse_headers(lines)?;
        Ok(Some((
            Response {
                version: version.to_string(),
                code,
                reason: reason.to_string(),
                headers,
            },
            used,
        )))
    }

    /// Checks a server's answer to our request with `key` (RFC 6455 §4.1, client side).
    pub fn check(&self, key: &str) -> Result<(), HandshakeError> {
        if self.code != 101 {
            return Err(HandshakeError::NotSwitching {
                code: self.code,
                reason: self.reason.clone(),
            });
        }
        let h = &self.headers;
        match h.get("Upgrade") {
            Some(u) if u.eq_ignore_ascii_case("websocket") => {}
            Some(u) => return Err(HandshakeError::UpgradeNotWebsocket(u.to_string())),
            None => return Err(HandshakeError::MissingUpgrade),
        }
        if !h.has_token("Connection", "Upgrade") {
            return Err(HandshakeError::ConnectionLacksUpgrade(
                h.get("Connection").unwrap_or_default().to_string(),
            ));
        }
        let got = h
            .get("Sec-WebSocket-Accept")
            .ok_or(HandshakeError::MissingAccept)?;
        let expected = accept_key(key);
        if got != expected {
            return Err(HandshakeError::AcceptMismatch {
                expected,
                got: got.to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §1.3 / §4.2.2: the sample request.
    static RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    /// What Chromium sends (header names in its case, Connection with one token).
    static BROWSER_REQUEST: &[u8] = b"GET / HTTP/1.1\r\n\
        Host: 127.0.0.1:7009\r\n\
        Connection: keep-alive, Upgrade\r\n\
        Pragma: no-cache\r\n\
        upgrade: WebSocket\r\n\
        sec-websocket-version: 13\r\n\
        Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

    fn req(s: &str) -> Request {
        Request::parse(s.as_bytes()).unwrap().unwrap().0
    }

    fn replace(from: &str, to: &str) -> Request {
        let text = std::str::from_utf8(RFC_REQUEST).unwrap().replace(from, to);
        req(&text)
    }

    #[test]
    fn rfc_accept_key() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let s = accept_steps("dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(
            s.concatenated,
            "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        );
        assert_eq!(s.sha1_hex, "b37a4f2cc0624f1690f64606cf385945b2bec4ea");
        assert_eq!(s.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn rfc_request_upgrades() {
        let (r, n) = Request::parse(RFC_REQUEST).unwrap().unwrap();
        assert_eq!(n, RFC_REQUEST.len());
        assert_eq!((r.method.as_str(), r.path()), ("GET", "/chat"));
        assert_eq!(r.headers.get("origin"), Some("http://example.com"));
        assert_eq!(
            r.intent(),
            Ok(Intent::Upgrade {
                key: "dGhlIHNhbXBsZSBub25jZQ==".into()
            })
        );
        let resp = response_101("dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(
            resp,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
    }

    #[test]
    fn browser_style_headers_are_case_insensitive() {
        let (r, _) = Request::parse(BROWSER_REQUEST).unwrap().unwrap();
        assert!(matches!(r.intent(), Ok(Intent::Upgrade { .. })));
    }

    #[test]
    fn incremental_parse_and_bytes_after_the_head() {
        for cut in 0..RFC_REQUEST.len() {
            assert_eq!(Request::parse(&RFC_REQUEST[..cut]), Ok(None), "cut {cut}");
        }
        let mut with_frame = RFC_REQUEST.to_vec();
        with_frame.extend_from_slice(&[0x81, 0x80, 1, 2, 3, 4]);
        let (_, n) = Request::parse(&with_frame).unwrap().unwrap();
        assert_eq!(
            n,
            RFC_REQUEST.len(),
            "frame bytes are left for the frame reader"
        );
    }

    #[test]
    fn plain_get_is_not_an_upgrade() {
        let r = req("GET /?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(r.intent(), Ok(Intent::PlainHttp));
        assert_eq!(r.path(), "/");
    }

    #[test]
    fn every_request_error() {
        use HandshakeError as E;
        let cases: Vec<(Request, E, u16)> = vec![
            (
                replace("GET /chat", "POST /chat"),
                E::NotGet("POST".into()),
                405,
            ),
            (
                replace("HTTP/1.1", "HTTP/1.0"),
                E::OldHttp("HTTP/1.0".into()),
                400,
            ),
            (
                replace("Host: server.example.com\r\n", ""),
                E::MissingHost,
                400,
            ),
            (
                replace("Upgrade: websocket", "Upgrade: h2c"),
                E::UpgradeNotWebsocket("h2c".into()),
                400,
            ),
            (
                replace("Connection: Upgrade", "Connection: keep-alive"),
                E::ConnectionLacksUpgrade("keep-alive".into()),
                400,
            ),
            (
                replace("Sec-WebSocket-Version: 13\r\n", ""),
                E::MissingVersion,
                426,
            ),
            (
                replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"),
                E::UnsupportedVersion("8".into()),
                426,
            ),
            (
                replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
                E::MissingKey,
                400,
            ),
        ];
        for (r, want, status) in cases {
            let got = r.intent().unwrap_err();
            assert_eq!(got, want);
            assert_eq!(got.status(), status, "{got}");
        }
        for bad_key in ["not base64!", "dGhlIHNhbXBsZQ=="] {
            let r = replace("dGhlIHNhbXBsZSBub25jZQ==", bad_key);
            let e = r.intent().unwrap_err();
            assert!(matches!(e, E::BadKey { .. }), "{e}");
            assert!(e.to_string().contains(bad_key), "{e}");
        }
        let e = replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ==")
            .intent()
            .unwrap_err();
        assert!(e.to_string().contains("decodes to 10 bytes"), "{e}");
    }

    #[test]
    fn malformed_heads() {
        use HandshakeError as E;
        assert_eq!(
            Request::parse(b"GET /\r\n\r\n"),
            Err(E::BadRequestLine("GET /".into()))
        );
        assert_eq!(
            Request::parse(b"GET / FTP/1\r\n\r\n"),
            Err(E::BadRequestLine("GET / FTP/1".into()))
        );
        assert_eq!(
            Request::parse(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n"),
            Err(E::BadHeaderLine("no colon here".into()))
        );
        assert_eq!(
            Request::parse(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"),
            Err(E::BadHeaderLine("Bad Name: x".into()))
        );
        assert_eq!(
            Request::parse(b"GET / HTTP/1.1\r\nX: \xff\r\n\r\n"),
            Err(E::NotText {
                byte: 0xff,
                offset: 19
            })
        );
        let big = vec![b'a'; MAX_HEAD + 1];
        assert_eq!(Request::parse(&big), Err(E::TooLarge { limit: MAX_HEAD }));
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(
            Request::parse(&many),
            Err(E::TooManyHeaders { limit: MAX_HEADERS })
        );
    }

    #[test]
    fn error_responses_name_the_problem() {
        let r = error_response(&HandshakeError::UnsupportedVersion("8".into()));
        assert!(r.starts_with("HTTP/1.1 426 Upgrade Required\r\n"), "{r}");
        assert!(r.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{r}");
        let r = error_response(&HandshakeError::MissingKey);
        assert!(r.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{r}");
        assert!(r.ends_with("no Sec-WebSocket-Key header\n"), "{r}");
        let (head, body) = r.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }

    #[test]
    fn client_side_round_trip() {
        let key = key_from_bytes(*b"the sample nonce");
        assert_eq!(key, "dGhlIHNhbXBsZSBub25jZQ==");
        let request = client_request("127.0.0.1:7009", "/chat", &key);
        let (r, _) = Request::parse(request.as_bytes()).unwrap().unwrap();
        let Ok(Intent::Upgrade { key: got }) = r.intent() else {
            panic!("client request is not a valid upgrade: {request}");
        };
        let resp = response_101(&got);
        let (resp, n) = Response::parse(resp.as_bytes()).unwrap().unwrap();
        assert_eq!(n, response_101(&got).len());
        assert_eq!(resp.check(&key), Ok(()));
    }

    #[test]
    fn client_detects_bad_answers() {
        use HandshakeError as E;
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let wrong = response_101("x3JJHMbDL1EzLkh9GBhXDw==");
        let (r, _) = Response::parse(wrong.as_bytes()).unwrap().unwrap();
        let e = r.check(key).unwrap_err();
        assert_eq!(
            e,
            E::AcceptMismatch {
                expected: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into(),
                got: accept_key("x3JJHMbDL1EzLkh9GBhXDw==")
            }
        );
        let (r, _) = Response::parse(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            r.check(key),
            Err(E::NotSwitching {
                code: 404,
                reason: "Not Found".into()
            })
        );
        let no_accept = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n";
        let (r, _) = Response::parse(no_accept).unwrap().unwrap();
        assert_eq!(r.check(key), Err(E::MissingAccept));
        let no_upgrade = b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\r\n";
        let (r, _) = Response::parse(no_upgrade).unwrap().unwrap();
        assert_eq!(r.check(key), Err(E::MissingUpgrade));
        assert_eq!(
            Response::parse(b"HTTP/1.1 abc\r\n\r\n"),
            Err(E::BadStatusLine("HTTP/1.1 abc".into()))
        );
        assert_eq!(Response::parse(b"HTTP/1.1 101 Switching"), Ok(None));
    }
}

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
    #[error("the server's Sec-WebSocket-Extensions fails the connection: {0}")]
    Extension(#[from] ExtensionError),
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
    response_101_with(key, None)
}

/// [`response_101`] with a `Sec-WebSocket-Extensions` line when `extensions` is set.
pub fn response_101_with(key: &str, extensions: Option<&str>) -> String {
    let ext = extensions
        .map(|e| format!("Sec-WebSocket-Extensions: {e}\r\n"))
        .unwrap_or_default();
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n{ext}\r\n",
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
    client_request_with(host, path, key, None)
}

/// [`client_request`] with a `Sec-WebSocket-Extensions` offer when `extensions` is set.
pub fn client_request_with(host: &str, path: &str, key: &str, extensions: Option<&str>) -> String {
    let ext = extensions
        .map(|e| format!("Sec-WebSocket-Extensions: {e}\r\n"))
        .unwrap_or_default();
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{ext}User-Agent: wirelab\r\n\r\n"
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

// ---------------------------------------------------------------------------------------------
// Sec-WebSocket-Extensions and permessage-deflate negotiation (RFC 6455 §9.1, RFC 7692 §5, §7)
//
//   client offers:  Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits,
//                                             permessage-deflate
//   server accepts: Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover
//
// A server picks the first offer it can accept and silently ignores the others (and any offer
// it cannot accept); a client fails the connection if the response is not one of its offers.
// ---------------------------------------------------------------------------------------------

/// The extension's registered name.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";
/// What wirelab's client offers, in order of preference: compression with context takeover
/// (and the server may bound our window), or else compression where we reset our window after
/// every message (Autobahn's 13.2/13.5/13.6 servers accept only such an offer). The server's
/// answer decides: `client_no_context_takeover` in it makes us reset, otherwise we keep the
/// window (servers echo the parameter when they take the second offer: Node's ws, Python's
/// websockets and wirelab do).
pub const CLIENT_OFFER: &str = "permessage-deflate; client_max_window_bits, \
    permessage-deflate; client_no_context_takeover; client_max_window_bits";

/// Why a `Sec-WebSocket-Extensions` header or a permessage-deflate parameter list is invalid.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum ExtensionError {
    #[error("Sec-WebSocket-Extensions is malformed at byte {offset}: {problem}")]
    Syntax {
        offset: usize,
        problem: &'static str,
    },
    #[error("permessage-deflate parameter {0:?} is not defined by RFC 7692")]
    UnknownParam(String),
    #[error("permessage-deflate parameter {0} appears twice")]
    DuplicateParam(String),
    #[error("permessage-deflate parameter {name} has invalid value {value:?} ({expected})")]
    BadValue {
        name: String,
        value: String,
        expected: &'static str,
    },
    #[error("the server accepted extension {0:?}, which we did not offer")]
    NotOffered(String),
    #[error("the server accepted permessage-deflate twice in one response")]
    TwoResponses,
    #[error("the server set client_max_window_bits, which we did not offer")]
    UnofferedClientBits,
}

/// One element of an extension list: a name and its parameters in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionElement {
    pub name: String,
    pub params: Vec<(String, Option<String>)>,
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Parses every `Sec-WebSocket-Extensions` line of `headers` (several lines are one list) into
/// its elements: `name *( ";" param [ "=" (token / quoted-string) ] )`, comma-separated.
pub fn parse_extensions(headers: &Headers) -> Result<Vec<ExtensionElement>, ExtensionError> {
    let mut out = Vec::new();
    for h in headers
        .0
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("Sec-WebSocket-Extensions"))
    {
        out.extend(parse_extension_list(&h.value)?);
    }
    Ok(out)
}

/// Parses one header value; see [`parse_extensions`].
pub fn parse_extension_list(value: &str) -> Result<Vec<ExtensionElement>, ExtensionError> {
    let b = value.as_bytes();
    let mut i = 0;
    let err = |offset, problem| ExtensionError::Syntax { offset, problem };
    let skip_ws = |i: &mut usize| {
        while b.get(*i).is_some_and(|c| *c == b' ' || *c == b'\t') {
            *i += 1;
        }
    };
    let token = |i: &mut usize| -> Option<String> {
        let start = *i;
        while b.get(*i).copied().is_some_and(is_tchar) {
            *i += 1;
        }
        (*i > start).then(|| value[start..*i].to_string())
    };
    let mut list = Vec::new();
    loop {
        skip_ws(&mut i);
        if i == b.len() {
            break;
        }
        if b[i] == b',' {
            // Empty list elements are allowed (RFC 9110 §5.6.1).
            i += 1;
            continue;
        }
        let name = token(&mut i).ok_or(err(i, "expected an extension name"))?;
        let mut params = Vec::new();
        loop {
            skip_ws(&mut i);
            match b.get(i) {
                None => break,
                Some(b',') => {
                    i += 1;
                    break;
                }
                Some(b';') => i += 1,
                Some(_) => return Err(err(i, "expected ';' or ','")),
            }
            skip_ws(&mut i);
            let pname = token(&mut i).ok_or(err(i, "expected a parameter name"))?;
            skip_ws(&mut i);
            let mut pvalue = None;
            if b.get(i) == Some(&b'=') {
                i += 1;
                skip_ws(&mut i);
                if b.get(i) == Some(&b'"') {
                    i += 1;
                    let mut v = String::new();
                    loop {
                        match b.get(i) {
                            None => return Err(err(i, "unterminated quoted string")),
                            Some(b'"') => {
                                i += 1;
                                break;
                            }
                            Some(b'\\') => {
                                let c = *b.get(i + 1).ok_or(err(i, "lone backslash"))?;
                                v.push(char::from(c));
                                i += 2;
                            }
                            Some(c) => {
                                v.push(char::from(*c));
                                i += 1;
                            }
                        }
                    }
                    // RFC 6455 §9.1: a quoted value must still be a token.
                    if v.is_empty() || !v.bytes().all(is_tchar) {
                        return Err(err(i, "quoted value is not a token"));
                    }
                    pvalue = Some(v);
                } else {
                    pvalue = Some(token(&mut i).ok_or(err(i, "expected a parameter value"))?);
                }
            }
            params.push((pname, pvalue));
        }
        list.push(ExtensionElement { name, params });
    }
    Ok(list)
}

/// The parameters of one permessage-deflate offer or response (RFC 7692 §7.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeflateParams {
    pub server_no_context_takeover: bool,
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits=N` (8..=15).
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits` alone is `Some(None)` (offers only), with a value `Some(Some(N))`.
    pub client_max_window_bits: Option<Option<u8>>,
}

fn window_bits(name: &str, value: Option<&str>) -> Result<u8, ExtensionError> {
    let bad = || ExtensionError::BadValue {
        name: name.to_string(),
        value: value.unwrap_or_default().to_string(),
        expected: "a decimal 8 to 15 without leading zeros",
    };
    let v = value.ok_or_else(bad)?;
    if v.starts_with('0') || !v.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    match v.parse::<u8>() {
        Ok(n @ 8..=15) => Ok(n),
        _ => Err(bad()),
    }
}

impl DeflateParams {
    /// Reads an element's parameters. `offer`: `client_max_window_bits` may come without a
    /// value (in a response it must have one).
    pub fn from_element(e: &ExtensionElement, offer: bool) -> Result<Self, ExtensionError> {
        let mut p = DeflateParams::default();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in &e.params {
            let name = name.as_str();
            if seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                return Err(ExtensionError::DuplicateParam(name.to_string()));
            }
            seen.push(name);
            let flag = |v: &Option<String>| match v {
                None => Ok(true),
                Some(v) => Err(ExtensionError::BadValue {
                    name: name.to_string(),
                    value: v.clone(),
                    expected: "no value",
                }),
            };
            match name.to_ascii_lowercase().as_str() {
                "server_no_context_takeover" => p.server_no_context_takeover = flag(value)?,
                "client_no_context_takeover" => p.client_no_context_takeover = flag(value)?,
                "server_max_window_bits" => {
                    p.server_max_window_bits = Some(window_bits(name, value.as_deref())?)
                }
                "client_max_window_bits" => {
                    p.client_max_window_bits = Some(match value {
                        None if offer => None,
                        v => Some(window_bits(name, v.as_deref())?),
                    })
                }
                _ => return Err(ExtensionError::UnknownParam(name.to_string())),
            }
        }
        Ok(p)
    }

    /// The header value for these parameters, e.g. `permessage-deflate; server_max_window_bits=10`.
    pub fn header_value(&self) -> String {
        let mut s = PERMESSAGE_DEFLATE.to_string();
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        if let Some(n) = self.server_max_window_bits {
            s.push_str(&format!("; server_max_window_bits={n}"));
        }
        match self.client_max_window_bits {
            Some(Some(n)) => s.push_str(&format!("; client_max_window_bits={n}")),
            Some(None) => s.push_str("; client_max_window_bits"),
            None => {}
        }
        s
    }
}

/// What both ends agreed on: the parameters of the accepted response, with defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Deflate {
    /// The server resets its compressor after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message.
    pub client_no_context_takeover: bool,
    /// The LZ77 window the server compresses with, at most (15 = 32 KiB).
    pub server_max_window_bits: u8,
    /// The LZ77 window the client compresses with, at most.
    pub client_max_window_bits: u8,
}

impl Deflate {
    fn from_response(p: &DeflateParams) -> Deflate {
        Deflate {
            server_no_context_takeover: p.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover,
            server_max_window_bits: p.server_max_window_bits.unwrap_or(15),
            client_max_window_bits: p.client_max_window_bits.flatten().unwrap_or(15),
        }
    }

    /// For the end that plays `server`: (no context takeover, window bits) of what it sends.
    pub fn sending(&self, server: bool) -> (bool, u8) {
        if server {
            (self.server_no_context_takeover, self.server_max_window_bits)
        } else {
            (self.client_no_context_takeover, self.client_max_window_bits)
        }
    }

    /// (no context takeover, window bits) of what the end that plays `server` receives.
    pub fn receiving(&self, server: bool) -> (bool, u8) {
        self.sending(!server)
    }
}

/// The server's choice: the first permessage-deflate offer that is valid, answered with the
/// parameters it asked for (as Node's `ws` does with its defaults). Offers of other extensions
/// and invalid offers are ignored (RFC 7692 §5: decline them); a header that does not parse
/// declines everything. Returns the response header value and the agreement.
pub fn server_choose(headers: &Headers) -> Option<(String, Deflate)> {
    let offers = parse_extensions(headers).ok()?;
    offers
        .iter()
        .filter(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .find_map(|e| DeflateParams::from_element(e, true).ok())
        .map(|offer| {
            let response = DeflateParams {
                // A value-less client_max_window_bits only says "you may bound me": we don't.
                client_max_window_bits: offer.client_max_window_bits.flatten().map(Some),
                ..offer
            };
            (response.header_value(), Deflate::from_response(&response))
        })
}

/// The client's check of the server's answer to [`CLIENT_OFFER`]: no header means no
/// compression; anything but one valid permessage-deflate response fails the connection
/// (RFC 6455 §4.1, RFC 7692 §5).
pub fn client_accept(headers: &Headers) -> Result<Option<Deflate>, ExtensionError> {
    let elements = parse_extensions(headers)?;
    let mut agreed = None;
    for e in &elements {
        if !e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
            return Err(ExtensionError::NotOffered(e.name.clone()));
        }
        if agreed.is_some() {
            return Err(ExtensionError::TwoResponses);
        }
        let p = DeflateParams::from_element(e, false)?;
        agreed = Some(Deflate::from_response(&p));
    }
    Ok(agreed)
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

    fn offer(lines: &[&str]) -> Option<(String, Deflate)> {
        let mut text = String::from_utf8(RFC_REQUEST.to_vec()).unwrap();
        text.truncate(text.len() - 2);
        for l in lines {
            text.push_str(&format!("Sec-WebSocket-Extensions: {l}\r\n"));
        }
        text.push_str("\r\n");
        server_choose(&req(&text).headers)
    }

    fn answer(value: &str) -> Result<Option<Deflate>, ExtensionError> {
        let text = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: {value}\r\n\r\n"
        );
        client_accept(&Response::parse(text.as_bytes()).unwrap().unwrap().0.headers)
    }

    const DEFAULTS: Deflate = Deflate {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };

    #[test]
    fn the_browser_offer_is_accepted_with_defaults() {
        let r = Request::parse(BROWSER_REQUEST).unwrap().unwrap().0;
        let (header, d) = server_choose(&r.headers).unwrap();
        assert_eq!(header, "permessage-deflate");
        assert_eq!(d, DEFAULTS);
        assert_eq!(offer(&[]), None, "no offer, no extension");
        assert_eq!(
            response_101_with("dGhlIHNhbXBsZSBub25jZQ==", Some(&header)),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
             Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
        );
    }

    #[test]
    fn every_parameter_is_honoured() {
        let (h, d) = offer(&["permessage-deflate; server_no_context_takeover; \
            client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"])
        .unwrap();
        assert_eq!(
            h,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=12"
        );
        assert_eq!(
            d,
            Deflate {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: 10,
                client_max_window_bits: 12,
            }
        );
        assert_eq!(d.sending(true), (true, 10));
        assert_eq!(d.receiving(true), (true, 12));
        // A quoted value is the same token (RFC 6455 §9.1); 8 is accepted (we then send
        // uncompressed: zlib cannot make a 256-byte window).
        let (h, d) = offer(&["permessage-deflate;server_max_window_bits=\"8\""]).unwrap();
        assert_eq!(
            (h.as_str(), d.server_max_window_bits),
            ("permessage-deflate; server_max_window_bits=8", 8)
        );
    }

    #[test]
    fn several_offers_first_valid_wins_and_bad_ones_are_ignored() {
        // kosoku 13.7's three offers, in one header and then spread over two lines.
        let three = "permessage-deflate; server_no_context_takeover; server_max_window_bits=9, \
            permessage-deflate; server_no_context_takeover, permessage-deflate";
        let (_, d) = offer(&[three]).unwrap();
        assert_eq!(
            (d.server_no_context_takeover, d.server_max_window_bits),
            (true, 9)
        );
        let (_, d2) = offer(&[
            "x-webkit-deflate-frame",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9, permessage-deflate",
        ])
        .unwrap();
        assert_eq!(d, d2);
        // RFC 7692 §5: decline an offer with an unknown or repeated parameter or a bad value;
        // the next offer is taken.
        for bad in [
            "permessage-deflate; foo",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; server_no_context_takeover=1",
        ] {
            let (h, d) = offer(&[&format!(
                "{bad}, permessage-deflate; client_no_context_takeover"
            )])
            .unwrap_or_else(|| panic!("{bad}: the second offer should be taken"));
            assert_eq!(h, "permessage-deflate; client_no_context_takeover", "{bad}");
            assert!(d.client_no_context_takeover);
            assert_eq!(offer(&[bad]), None, "{bad} alone is declined");
        }
        // Other extensions only, or a header that does not parse: no extension.
        assert_eq!(offer(&["x-webkit-deflate-frame, foo; bar=1"]), None);
        for broken in [
            "permessage-deflate; =3",
            "permessage-deflate; a=\"b",
            "; x",
            "pmd x",
        ] {
            assert_eq!(offer(&[broken]), None, "{broken}");
        }
    }

    #[test]
    fn extension_list_syntax() {
        let l = parse_extension_list(" a ; b = 1 ;c=\"x\" ,, d").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].name, "a");
        assert_eq!(
            l[0].params,
            vec![
                ("b".into(), Some("1".into())),
                ("c".into(), Some("x".into()))
            ]
        );
        assert_eq!(
            l[1],
            ExtensionElement {
                name: "d".into(),
                params: vec![]
            }
        );
        assert!(matches!(
            parse_extension_list("a; b=\"x y\""),
            Err(ExtensionError::Syntax { .. })
        ));
    }

    #[test]
    fn the_client_checks_the_answer() {
        assert_eq!(answer("permessage-deflate").unwrap(), Some(DEFAULTS));
        let d = answer("permessage-deflate; client_no_context_takeover; client_max_window_bits=9")
            .unwrap()
            .unwrap();
        assert_eq!(d.sending(false), (true, 9));
        assert_eq!(d.receiving(false), (false, 15));
        assert!(matches!(
            answer("permessage-deflate; client_max_window_bits"),
            Err(ExtensionError::BadValue { .. })
        ));
        assert!(matches!(
            answer("x-foo"),
            Err(ExtensionError::NotOffered(_))
        ));
        assert!(matches!(
            answer("permessage-deflate, permessage-deflate"),
            Err(ExtensionError::TwoResponses)
        ));
        assert!(matches!(
            answer("permessage-deflate; mystery"),
            Err(ExtensionError::UnknownParam(_))
        ));
        assert!(matches!(
            answer("permessage-deflate;;"),
            Err(ExtensionError::Syntax { .. })
        ));
        let plain = Response::parse(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        )
        .unwrap()
        .unwrap()
        .0;
        assert_eq!(
            client_accept(&plain.headers),
            Ok(None),
            "declined: no compression"
        );
        assert!(
            client_request_with("h", "/", "k", Some(CLIENT_OFFER)).contains(
                "\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, \
                 permessage-deflate; client_no_context_takeover; client_max_window_bits\r\n"
            )
        );
        // Our own offer, to our own server: the first one, context takeover both ways.
        assert_eq!(
            offer(&[CLIENT_OFFER]),
            Some(("permessage-deflate".into(), DEFAULTS))
        );
    }
}

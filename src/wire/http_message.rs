//! The start line and header fields of an HTTP/1.x message (RFC 9112 §2–5), as seen at the
//! front of one TCP segment. The body is not decoded.
//!
//! ```text
//! request:  METHOD SP target SP HTTP/1.1 CRLF      response: HTTP/1.1 SP 101 SP reason CRLF
//!           Name: value CRLF …                                Name: value CRLF …
//!           CRLF                                               CRLF
//! ```

const METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"HEAD ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
];
/// At most this many header fields are kept.
pub const MAX_HEADERS: usize = 64;

/// The first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    Request {
        method: String,
        target: String,
        version: String,
    },
    Response {
        version: String,
        status: u16,
        reason: String,
    },
}

/// A parsed start line and header block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub start: StartLine,
    pub headers: Vec<(String, String)>,
    /// Bytes from the start of the message to the end of the blank line (or of what was seen).
    pub header_len: usize,
    /// False when the segment ended before the blank line that closes the header block.
    pub complete: bool,
}

impl Message {
    /// True if `b` starts like an HTTP/1.x request or response.
    pub fn looks_like(b: &[u8]) -> bool {
        b.starts_with(b"HTTP/1.") || METHODS.iter().any(|m| b.starts_with(m))
    }

    /// Parses the start line and headers; `None` if `b` does not look like HTTP/1.x.
    pub fn parse(b: &[u8]) -> Option<Message> {
        if !Message::looks_like(b) {
            return None;
        }
        let mut lines = Lines::new(b);
        let first = lines.next()?;
        let text = String::from_utf8_lossy(first);
        let mut parts = text.splitn(3, ' ');
        let (a, b2, c) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        let start = if a.starts_with("HTTP/") {
            StartLine::Response {
                version: a.to_string(),
                status: b2.parse().unwrap_or(0),
                reason: c.to_string(),
            }
        } else {
            StartLine::Request {
                method: a.to_string(),
                target: b2.to_string(),
                version: c.to_string(),
            }
        };
        let mut headers = Vec::new();
        let mut complete = false;
        while let Some(line) = lines.next() {
            if line.is_empty() && lines.ended_with_newline {
                complete = true;
                break;
            }
            if headers.len() < MAX_HEADERS {
                let text = String::from_utf8_lossy(line);
                match text.split_once(':') {
                    Some((n, v)) => headers.push((n.trim().to_string(), v.trim().to_string())),
                    None => headers.push((text.trim().to_string(), String::new())),
                }
            }
        }
        Some(Message {
            start,
            headers,
            header_len: lines.at,
            complete,
        })
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for a request asking to switch to WebSocket (RFC 6455 §4.1).
    pub fn is_websocket_upgrade_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
            && self
                .header("upgrade")
                .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    }

    /// True for "101 Switching Protocols".
    pub fn is_switching_protocols(&self) -> bool {
        matches!(self.start, StartLine::Response { status: 101, .. })
    }
}

/// Splits on LF (dropping a CR before it); the last piece may end without a newline.
struct Lines<'a> {
    b: &'a [u8],
    at: usize,
    ended_with_newline: bool,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.b.get(self.at..)?;
        if rest.is_empty() {
            return None;
        }
        let (line, used, nl) = match rest.iter().position(|&c| c == b'\n') {
            Some(i) => (&rest[..i], i + 1, true),
            None => (rest, rest.len(), false),
        };
        self.at += used;
        self.ended_with_newline = nl;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

impl Lines<'_> {
    fn new(b: &[u8]) -> Lines<'_> {
        Lines {
            b,
            at: 0,
            ended_with_newline: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real request curl sent to python3 -m http.server on loopback.
    static REQUEST: &[u8] =
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:18080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

    #[test]
    fn request() {
        let m = Message::parse(REQUEST).unwrap();
        assert_eq!(
            m.start,
            StartLine::Request {
                method: "GET".into(),
                target: "/".into(),
                version: "HTTP/1.1".into()
            }
        );
        assert_eq!(m.header("host"), Some("127.0.0.1:18080"));
        assert_eq!(m.headers.len(), 3);
        assert!(m.complete);
        assert_eq!(m.header_len, REQUEST.len());
        assert!(!m.is_websocket_upgrade_request());
    }

    #[test]
    fn response_cut_mid_headers() {
        let b = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConn";
        let m = Message::parse(b).unwrap();
        assert!(m.is_switching_protocols());
        assert!(!m.complete);
        assert_eq!(m.header("Upgrade"), Some("websocket"));
    }

    #[test]
    fn not_http() {
        assert!(Message::parse(b"\x16\x03\x01").is_none());
        assert!(Message::parse(b"GETX").is_none());
        let m = Message::parse(b"GET \xff\xfe HTTP/1.1\r\n\r\n").unwrap();
        assert!(m.complete);
    }
}

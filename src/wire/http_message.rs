//! The start line and header fields of an HTTP/1.x message (RFC 9112 §2–5), as seen at the
//! front of one TCP segment or of a reassembled stream; and [`extent`], how many bytes the
//! whole message (header block and body, RFC 9112 §6.3) takes. The body is not decoded.
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
    /// Where the start line's three parts are (method, target, version; or version, status,
    /// reason), as `[start, end)` offsets in the message.
    pub start_at: [(usize, usize); 3],
    /// Where each kept header line is, without its line ending.
    pub header_at: Vec<(usize, usize)>,
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
        let start_at = three_parts(first);
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
        let mut header_at = Vec::new();
        let mut complete = false;
        loop {
            let line_at = lines.at;
            let Some(line) = lines.next() else { break };
            if line.is_empty() && lines.ended_with_newline {
                complete = true;
                break;
            }
            if headers.len() < MAX_HEADERS {
                header_at.push((line_at, line_at + line.len()));
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
            start_at,
            header_at,
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

/// How much of a byte stream one HTTP/1.x message takes, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// The bytes do not start like an HTTP/1.x message.
    NotHttp,
    /// The message has begun but is not all here; `Some(n)` when its length is known.
    NeedMore(Option<usize>),
    /// The whole message is the first `n` bytes.
    Whole(usize),
}

/// The length of the message at the front of `b` (RFC 9112 §6.3): the header block, then a
/// body of `Content-Length` bytes or `chunked` chunks up to the last one and its trailer. A
/// request with neither has no body; so have responses 1xx, 204 and 304. A response with
/// neither runs until the connection closes: only its header block is counted here, and the
/// body that follows is data. (A response to HEAD has a Content-Length and no body; telling
/// it needs the request, so it is not told apart.)
pub fn extent(b: &[u8]) -> Extent {
    extent_from(b, &mut Resume::default())
}

/// How far an unfinished message has been read: given back to [`extent_from`] with the same
/// bytes and more, the next call starts where this one stopped, so a message that arrives in
/// many segments is read once in all rather than once a segment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// Bytes searched for the blank line that ends the header block, without finding it.
    searched: usize,
    /// A chunked body: where its header block ends (0: not known yet) and where the first
    /// chunk not yet whole starts.
    head: usize,
    chunk_at: usize,
}

/// [`extent`], resuming from `r` (which starts as `Resume::default()` for each message).
pub fn extent_from(b: &[u8], r: &mut Resume) -> Extent {
    if r.head > 0 {
        return chunked_from(b, r);
    }
    if !Message::looks_like(b) {
        let prefix = |t: &[u8]| b.len() < t.len() && t.starts_with(b);
        return if !b.is_empty() && (prefix(b"HTTP/1.") || METHODS.iter().any(|m| prefix(m))) {
            Extent::NeedMore(None)
        } else {
            Extent::NotHttp
        };
    }
    // Only once a blank line is there can the header block be whole: until then, the bytes
    // searched before are not searched again.
    let from = r.searched.saturating_sub(2);
    if !has_blank_line(&b[from..]) {
        r.searched = b.len();
        return Extent::NeedMore(None);
    }
    let Some(m) = Message::parse(b) else {
        return Extent::NotHttp;
    };
    if !m.complete {
        return Extent::NeedMore(None);
    }
    let head = m.header_len;
    let no_body = match m.start {
        StartLine::Response { status, .. } => {
            (100..200).contains(&status) || status == 204 || status == 304
        }
        StartLine::Request { .. } => false,
    };
    if no_body {
        return Extent::Whole(head);
    }
    let chunked = m
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        (r.head, r.chunk_at) = (head, head);
        return chunked_from(b, r);
    }
    match m
        .header("content-length")
        .map(|v| v.trim().parse::<usize>())
    {
        Some(Ok(n)) => {
            let total = head.saturating_add(n);
            if b.len() >= total {
                Extent::Whole(total)
            } else {
                Extent::NeedMore(Some(total))
            }
        }
        // An unreadable length: the header block alone (RFC 9112 §6.3 makes it an error).
        Some(Err(_)) => Extent::Whole(head),
        None => Extent::Whole(head),
    }
}

/// True if `b` holds an empty line after a line end (`\n\n` or `\n\r\n`): what ends a header
/// block, as [`Lines`] reads it.
fn has_blank_line(b: &[u8]) -> bool {
    let mut at = 0;
    while let Some(i) = b.get(at..).and_then(|r| r.iter().position(|&c| c == b'\n')) {
        let nl = at + i;
        match b.get(nl + 1..nl + 3) {
            Some([b'\n', _]) | Some([b'\r', b'\n']) => return true,
            None if b.get(nl + 1) == Some(&b'\n') => return true,
            _ => {}
        }
        at = nl + 1;
    }
    false
}

/// The whole message's length once its chunked body (from `r.head`) is all there: each
/// chunk's size line, data and line end, up to the last chunk and its trailer. Chunks found
/// whole are not read again (`r.chunk_at`).
fn chunked_from(b: &[u8], r: &mut Resume) -> Extent {
    loop {
        match chunk(b, r.chunk_at) {
            Some(Chunk::More(next)) => r.chunk_at = next,
            Some(Chunk::Last(end)) => return Extent::Whole(end),
            None => return Extent::NeedMore(None),
        }
    }
}

enum Chunk {
    /// A chunk with data, whole: the next starts here.
    More(usize),
    /// The last chunk and its trailer: the body ends here.
    Last(usize),
}

/// The chunk at `at`; `None` until all of it is there.
fn chunk(b: &[u8], at: usize) -> Option<Chunk> {
    let line_end = at + b.get(at..)?.iter().position(|&c| c == b'\n')?;
    let line = &b[at..line_end];
    let hex_digits = line.iter().take_while(|c| c.is_ascii_hexdigit()).count();
    let size = usize::from_str_radix(std::str::from_utf8(&line[..hex_digits]).ok()?, 16)
        .ok()
        .or((hex_digits == 0).then_some(0))?;
    let mut at = line_end + 1;
    if size == 0 {
        // Trailer fields, then an empty line.
        loop {
            let end = at + b.get(at..)?.iter().position(|&c| c == b'\n')?;
            let empty = b[at..end].iter().all(|&c| c == b'\r');
            at = end + 1;
            if empty {
                return Some(Chunk::Last(at));
            }
        }
    }
    at = at.checked_add(size)?;
    // The CRLF after the chunk's data.
    let end = at + b.get(at..)?.iter().position(|&c| c == b'\n')?;
    Some(Chunk::More(end + 1))
}

/// The `[start, end)` of a start line's three space-separated parts; the third runs to the
/// end of the line (a reason phrase has spaces). A part that is missing is empty, at the end.
fn three_parts(line: &[u8]) -> [(usize, usize); 3] {
    let n = line.len();
    let s1 = line.iter().position(|&c| c == b' ').unwrap_or(n);
    let s2 = line
        .get(s1 + 1..)
        .and_then(|r| r.iter().position(|&c| c == b' '))
        .map_or(n, |i| s1 + 1 + i);
    let after = |i: usize| (i + 1).min(n);
    [(0, s1), (after(s1), s2), (after(s2), n)]
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
        // "GET", "/", "HTTP/1.1", then the header lines without their CRLF.
        assert_eq!(m.start_at, [(0, 3), (4, 5), (6, 14)]);
        let lines: Vec<&[u8]> = m.header_at.iter().map(|&(a, b)| &REQUEST[a..b]).collect();
        assert_eq!(
            lines,
            [
                &b"Host: 127.0.0.1:18080"[..],
                b"User-Agent: curl/7.88.1",
                b"Accept: */*"
            ]
        );
    }

    #[test]
    fn response_cut_mid_headers() {
        let b = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConn";
        let m = Message::parse(b).unwrap();
        assert!(m.is_switching_protocols());
        assert!(!m.complete);
        assert_eq!(m.header("Upgrade"), Some("websocket"));
        // The reason phrase keeps its space; the cut line is still a header line.
        assert_eq!(m.start_at, [(0, 8), (9, 12), (13, 32)]);
        assert_eq!(m.header_at, [(34, 52), (54, 58)]);
        // A start line with fewer than three parts: the missing ones are empty, at its end.
        let odd = Message::parse(b"HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(odd.start_at, [(0, 8), (8, 8), (8, 8)]);
    }

    #[test]
    fn extent_of_requests_and_responses() {
        assert_eq!(extent(REQUEST), Extent::Whole(REQUEST.len()));
        let mut two = REQUEST.to_vec();
        two.extend_from_slice(REQUEST);
        assert_eq!(
            extent(&two),
            Extent::Whole(REQUEST.len()),
            "only the first message"
        );
        let resp = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(extent(resp), Extent::Whole(resp.len()));
        assert_eq!(extent(&resp[..40]), Extent::NeedMore(Some(resp.len())));
        assert_eq!(
            extent(&resp[..20]),
            Extent::NeedMore(None),
            "header block not ended"
        );
        assert_eq!(extent(b"HTT"), Extent::NeedMore(None));
        assert_eq!(extent(b"GE"), Extent::NeedMore(None));
        assert_eq!(extent(b"\x82\x05hello"), Extent::NotHttp);
        let upgrade = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi";
        assert_eq!(extent(upgrade), Extent::Whole(upgrade.len() - 4));
        let no_length = b"HTTP/1.1 200 OK\r\n\r\nbody until close";
        assert_eq!(extent(no_length), Extent::Whole(19));
    }

    #[test]
    fn extent_of_a_chunked_body() {
        let m = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nc;ext=1\r\n world again\r\n0\r\nX-T: 1\r\n\r\n";
        assert_eq!(extent(m), Extent::Whole(m.len()));
        for cut in 47..m.len() {
            assert_eq!(extent(&m[..cut]), Extent::NeedMore(None), "cut at {cut}");
        }
    }

    /// A message read as it grows, one `Resume` for all of it, gives at every length what a
    /// fresh read of those bytes gives: for each way of growing (a byte at a time, or in
    /// steps of 2..7, so that a step lands inside `\r\n\r\n` and inside a chunk size line).
    #[test]
    fn resumed_reads_equal_fresh_reads() {
        let messages: [&[u8]; 5] = [
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nc;ext=1\r\n world again\r\n0\r\nX-T: 1\r\n\r\n",
            b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"GET /a HTTP/1.1\nHost: x\n\n",
            b"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\nX: \r\r\n\r\n",
        ];
        for m in messages {
            for step in 1..8 {
                let mut r = Resume::default();
                let mut len = 0;
                loop {
                    len = (len + step).min(m.len());
                    let fresh = extent(&m[..len]);
                    assert_eq!(extent_from(&m[..len], &mut r), fresh, "{len} of {m:?}");
                    if !matches!(fresh, Extent::NeedMore(_)) {
                        break;
                    }
                }
                assert_eq!(extent_from(m, &mut r), extent(m));
            }
        }
        // Whole from the last read: it is the whole message, not one byte short.
        let m = messages[0];
        assert_eq!(extent(m), Extent::Whole(m.len()));
    }

    #[test]
    fn not_http() {
        assert!(Message::parse(b"\x16\x03\x01").is_none());
        assert!(Message::parse(b"GETX").is_none());
        let m = Message::parse(b"GET \xff\xfe HTTP/1.1\r\n\r\n").unwrap();
        assert!(m.complete);
    }
}

//! A WebSocket connection over any async byte stream: a reader that turns bytes into messages
//! and control frames, and a writer that turns messages into frames.
//!
//! The pair can be used together ([`WebSocket::recv`] answers pings and closes by itself) or
//! split ([`WebSocket::into_split`]) so that one task reads while others send, as a chat or an
//! event hub needs. [`WsReader::read_event`] is cancel-safe: every byte it has read is kept in
//! the reader, so it can sit in a `tokio::select!`.

use std::io;
use std::sync::Arc;

use bytes::{Buf, BufMut, BytesMut};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::wire::websocket::frame::{apply_mask, ClosePayload, FrameHeader, OpCode};
use crate::wire::websocket::handshake::HandshakeError;
use crate::wire::websocket::message::{
    Assembler, DataKind, FrameKind, Limits, ProtocolError, Role,
};

/// How many bytes one read asks the kernel for.
const READ_CHUNK: usize = 64 * 1024;
/// Payloads at least this large are written straight from the caller's buffer (server side),
/// after the header, instead of being copied next to it.
const DIRECT_WRITE: usize = 64 * 1024;
/// How many payload bytes a frame event keeps for display.
pub const PREVIEW: usize = 32;

/// A complete data message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
}

impl Message {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(s) => s.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn kind(&self) -> DataKind {
        match self {
            Message::Text(_) => DataKind::Text,
            Message::Binary(_) => DataKind::Binary,
        }
    }

    fn opcode(&self) -> OpCode {
        match self {
            Message::Text(_) => OpCode::Text,
            Message::Binary(_) => OpCode::Binary,
        }
    }
}

/// One thing the reader got: a message, or a control frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    Message(Message),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// The peer's close frame: its status code and reason, if it sent one.
    Close(Option<ClosePayload>),
}

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Received from the peer.
    In,
    /// Sent to the peer.
    Out,
}

/// A frame as it crossed the wire, for `--show-frames`.
#[derive(Debug, Clone)]
pub struct FrameInfo {
    pub direction: Direction,
    pub header: FrameHeader,
    /// The first [`PREVIEW`] bytes of the payload, unmasked.
    pub preview: Vec<u8>,
}

/// Called with every frame read or written, when set.
pub type FrameTap = Arc<dyn Fn(&FrameInfo) + Send + Sync>;

/// Everything that can end a WebSocket connection.
#[derive(Debug, Error)]
pub enum WsError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("protocol error (close code {code}): {0}", code = .0.close_code())]
    Protocol(#[from] ProtocolError),
    // No #[source]: the message already carries it, so an error chain says it once.
    #[error("handshake failed: {0}")]
    Handshake(HandshakeError),
    #[error(
        "the peer closed the TCP connection without a close frame (code 1006, abnormal closure)"
    )]
    AbruptClose,
    #[error("the peer closed the TCP connection in the middle of the handshake")]
    HandshakeEof,
    #[error("timed out after {0} s")]
    Timeout(f64),
    #[error("the connection is closing: no more messages may be sent")]
    Closing,
}

impl From<HandshakeError> for WsError {
    fn from(e: HandshakeError) -> Self {
        WsError::Handshake(e)
    }
}

/// Connection settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Config {
    pub limits: Limits,
}

/// The frame being read.
#[derive(Debug, Clone, Copy)]
struct Current {
    header: FrameHeader,
    kind: FrameKind,
    /// Payload bytes still to read.
    remaining: u64,
    /// Payload bytes read so far (the masking offset).
    done: usize,
    /// Where this frame's payload starts in the message buffer.
    start: usize,
}

/// The reading half: bytes → frames → messages.
pub struct WsReader<R> {
    io: R,
    buf: BytesMut,
    asm: Assembler,
    current: Option<Current>,
    /// The message being assembled.
    message: Vec<u8>,
    tap: Option<FrameTap>,
}

impl<R: AsyncRead + Unpin> WsReader<R> {
    /// A reader for `role`; `leftover` are bytes already read past the handshake.
    pub fn new(io: R, role: Role, config: Config, leftover: &[u8]) -> Self {
        let mut buf = BytesMut::with_capacity(READ_CHUNK.max(leftover.len()));
        buf.extend_from_slice(leftover);
        WsReader {
            io,
            buf,
            asm: Assembler::new(role, config.limits),
            current: None,
            message: Vec::new(),
            tap: None,
        }
    }

    pub fn set_tap(&mut self, tap: Option<FrameTap>) {
        self.tap = tap;
    }

    /// Hands back a message that is no longer needed, so that its buffer holds the next one
    /// instead of a fresh allocation (an echo server sends a message, then recycles it).
    pub fn recycle(&mut self, message: Message) {
        if self.message.capacity() == 0 && self.current.is_none() {
            let mut v = match message {
                Message::Text(s) => s.into_bytes(),
                Message::Binary(b) => b,
            };
            v.clear();
            self.message = v;
        }
    }

    /// The underlying stream (for draining it at the end).
    pub fn io_mut(&mut self) -> &mut R {
        &mut self.io
    }

    async fn fill(&mut self) -> Result<(), WsError> {
        self.buf.reserve(READ_CHUNK);
        let n = self.io.read_buf(&mut self.buf).await?;
        if n == 0 {
            return Err(WsError::AbruptClose);
        }
        Ok(())
    }

    fn show(&self, header: &FrameHeader, payload: &[u8]) {
        if let Some(tap) = &self.tap {
            tap(&FrameInfo {
                direction: Direction::In,
                header: *header,
                preview: payload.get(..PREVIEW).unwrap_or(payload).to_vec(),
            });
        }
    }

    /// Reads until a whole message or a control frame has arrived. A protocol error means the
    /// connection must be closed with [`ProtocolError::close_code`].
    pub async fn read_event(&mut self) -> Result<Incoming, WsError> {
        loop {
            let Some(mut cur) = self.current else {
                match FrameHeader::parse(&self.buf).map_err(ProtocolError::from)? {
                    None => {
                        self.fill().await?;
                        continue;
                    }
                    Some((header, n)) => {
                        self.buf.advance(n);
                        let kind = self.asm.on_header(&header)?;
                        if let FrameKind::Data { first, .. } = kind {
                            if first {
                                self.message.clear();
                            }
                            // Reserve for what has been announced, but never trust a huge
                            // length before the bytes arrive.
                            let want = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
                            self.message.reserve(want.min(1 << 20));
                        }
                        self.current = Some(Current {
                            header,
                            kind,
                            remaining: header.payload_len,
                            done: 0,
                            start: self.message.len(),
                        });
                        continue;
                    }
                }
            };
            if let FrameKind::Control(op) = cur.kind {
                // At most 125 bytes: wait until all of it is here.
                let len = cur.remaining as usize;
                if self.buf.len() < len {
                    self.fill().await?;
                    continue;
                }
                let mut payload = self.buf.split_to(len).to_vec();
                if let Some(m) = cur.header.mask {
                    apply_mask(&mut payload, m, 0);
                }
                self.current = None;
                self.show(&cur.header, &payload);
                return match op {
                    OpCode::Ping => Ok(Incoming::Ping(payload)),
                    OpCode::Pong => Ok(Incoming::Pong(payload)),
                    _ => Ok(Incoming::Close(
                        ClosePayload::parse(&payload).map_err(ProtocolError::from)?,
                    )),
                };
            }
            if cur.remaining > 0 {
                let before = self.message.len();
                if !self.buf.is_empty() {
                    let n = self
                        .buf
                        .len()
                        .min(usize::try_from(cur.remaining).unwrap_or(usize::MAX));
                    self.message.extend_from_slice(&self.buf[..n]);
                    self.buf.advance(n);
                } else if cur.remaining >= 4096 {
                    // A big payload: read it straight into the message, no copy.
                    let limit = usize::try_from(cur.remaining).unwrap_or(usize::MAX);
                    if self.message.capacity() - self.message.len() < 4096 {
                        // Grow ahead of the data (amortised doubling), never by the whole
                        // announced length at once.
                        self.message.reserve(limit.min(1 << 20));
                    }
                    let mut room = (&mut self.message).limit(limit);
                    let n = self.io.read_buf(&mut room).await?;
                    if n == 0 {
                        return Err(WsError::AbruptClose);
                    }
                } else {
                    self.fill().await?;
                    continue;
                }
                let fresh = &mut self.message[before..];
                if let Some(m) = cur.header.mask {
                    apply_mask(fresh, m, cur.done);
                }
                self.asm.on_data(fresh)?;
                cur.done += fresh.len();
                cur.remaining -= fresh.len() as u64;
                self.current = Some(cur);
            }
            if cur.remaining == 0 {
                self.current = None;
                if self.tap.is_some() {
                    let payload = self.message.get(cur.start..).unwrap_or_default();
                    self.show(&cur.header, payload);
                }
                if let Some(kind) = self.asm.on_frame_end(cur.header.fin)? {
                    let data = std::mem::take(&mut self.message);
                    return Ok(Incoming::Message(match kind {
                        DataKind::Binary => Message::Binary(data),
                        DataKind::Text => Message::Text(
                            String::from_utf8(data).map_err(|_| ProtocolError::IncompleteUtf8)?,
                        ),
                    }));
                }
            }
        }
    }
}

/// A small xorshift generator for masking keys, seeded from the operating system.
#[derive(Debug, Clone)]
struct MaskKeys(u64);

impl MaskKeys {
    fn new() -> Self {
        MaskKeys(getrandom::u64().unwrap_or(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> [u8; 4] {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        ((x >> 16) as u32).to_ne_bytes()
    }
}

/// The writing half: messages → frames. Clients mask every frame; servers never do.
pub struct WsWriter<W> {
    io: W,
    masks: Option<MaskKeys>,
    buf: Vec<u8>,
    close_sent: bool,
    tap: Option<FrameTap>,
}

impl<W: AsyncWrite + Unpin> WsWriter<W> {
    pub fn new(io: W, role: Role) -> Self {
        WsWriter {
            io,
            masks: (role == Role::Client).then(MaskKeys::new),
            buf: Vec::with_capacity(4096),
            close_sent: false,
            tap: None,
        }
    }

    pub fn set_tap(&mut self, tap: Option<FrameTap>) {
        self.tap = tap;
    }

    /// Has a close frame been sent?
    pub fn close_sent(&self) -> bool {
        self.close_sent
    }

    /// Frames `payload` into the write buffer (header, then the payload, masked for a
    /// client). Returns the header.
    fn frame_into_buf(
        &mut self,
        fin: bool,
        opcode: OpCode,
        payload: &[u8],
        with_payload: bool,
    ) -> Result<FrameHeader, WsError> {
        if self.close_sent {
            return Err(WsError::Closing);
        }
        let mask = self.masks.as_mut().map(MaskKeys::next);
        let header = FrameHeader::new(fin, opcode, mask, payload.len() as u64);
        if let Some(tap) = &self.tap {
            tap(&FrameInfo {
                direction: Direction::Out,
                header,
                preview: payload.get(..PREVIEW).unwrap_or(payload).to_vec(),
            });
        }
        header.emit_to_vec(&mut self.buf);
        if with_payload {
            let start = self.buf.len();
            self.buf.extend_from_slice(payload);
            if let Some(m) = mask {
                apply_mask(&mut self.buf[start..], m, 0);
            }
        }
        if opcode == OpCode::Close {
            self.close_sent = true;
        }
        Ok(header)
    }

    /// Queues one frame without writing it: [`WsWriter::flush`] sends everything queued in
    /// one write (a server sending many messages at once saves system calls this way).
    pub fn queue_frame(
        &mut self,
        fin: bool,
        opcode: OpCode,
        payload: &[u8],
    ) -> Result<(), WsError> {
        self.frame_into_buf(fin, opcode, payload, true).map(|_| ())
    }

    /// Queues a message; see [`WsWriter::queue_frame`].
    pub fn queue(&mut self, message: &Message) -> Result<(), WsError> {
        self.queue_frame(true, message.opcode(), message.as_bytes())
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), WsError> {
        if !self.buf.is_empty() {
            let r = self.io.write_all(&self.buf).await;
            self.buf.clear();
            r?;
        }
        self.io.flush().await?;
        Ok(())
    }

    /// Sends one frame (after anything queued) and flushes it to the socket.
    pub async fn send_frame(
        &mut self,
        fin: bool,
        opcode: OpCode,
        payload: &[u8],
    ) -> Result<(), WsError> {
        let direct = self.masks.is_none() && payload.len() >= DIRECT_WRITE;
        self.frame_into_buf(fin, opcode, payload, !direct)?;
        if !direct {
            return self.flush().await;
        }
        // Queued bytes and header, then the payload, in vectored writes: no payload copy.
        let (mut head, mut body): (&[u8], &[u8]) = (&self.buf, payload);
        let result = async {
            while !head.is_empty() || !body.is_empty() {
                let n = if head.is_empty() {
                    self.io.write(body).await?
                } else {
                    let parts = [io::IoSlice::new(head), io::IoSlice::new(body)];
                    self.io.write_vectored(&parts).await?
                };
                if n == 0 {
                    return Err(io::Error::from(io::ErrorKind::WriteZero));
                }
                let from_head = n.min(head.len());
                head = &head[from_head..];
                body = body.get(n - from_head..).unwrap_or_default();
            }
            self.io.flush().await
        }
        .await;
        self.buf.clear();
        result?;
        Ok(())
    }

    pub async fn send(&mut self, message: &Message) -> Result<(), WsError> {
        self.send_frame(true, message.opcode(), message.as_bytes())
            .await
    }

    pub async fn send_text(&mut self, text: &str) -> Result<(), WsError> {
        self.send_frame(true, OpCode::Text, text.as_bytes()).await
    }

    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), WsError> {
        self.send_frame(true, OpCode::Binary, data).await
    }

    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), WsError> {
        let p = payload.get(..125).unwrap_or(payload);
        self.send_frame(true, OpCode::Ping, p).await
    }

    pub async fn pong(&mut self, payload: &[u8]) -> Result<(), WsError> {
        let p = payload.get(..125).unwrap_or(payload);
        self.send_frame(true, OpCode::Pong, p).await
    }

    /// Sends a close frame (`None`: an empty body, no status code). Sending nothing after it.
    pub async fn close(&mut self, payload: Option<&ClosePayload>) -> Result<(), WsError> {
        let body = payload.map(ClosePayload::to_bytes).unwrap_or_default();
        self.send_frame(true, OpCode::Close, &body).await
    }

    /// Half-closes the TCP connection (sends FIN).
    pub async fn shutdown(&mut self) -> Result<(), WsError> {
        self.io.shutdown().await?;
        Ok(())
    }
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The peer sent a close frame (its code and reason, if any).
    PeerClosed(Option<ClosePayload>),
    /// We sent a close frame first and the peer answered with this one.
    WeClosed(Option<ClosePayload>),
}

/// A whole connection: reading and writing together.
pub struct WebSocket<R, W> {
    pub reader: WsReader<R>,
    pub writer: WsWriter<W>,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> WebSocket<R, W> {
    /// A connection that has finished its handshake; `leftover` are bytes read past it.
    pub fn new(read: R, write: W, role: Role, config: Config, leftover: &[u8]) -> Self {
        WebSocket {
            reader: WsReader::new(read, role, config, leftover),
            writer: WsWriter::new(write, role),
        }
    }

    /// Shows every frame to `tap` (for `--show-frames`).
    pub fn set_tap(&mut self, tap: Option<FrameTap>) {
        self.reader.set_tap(tap.clone());
        self.writer.set_tap(tap);
    }

    pub fn into_split(self) -> (WsReader<R>, WsWriter<W>) {
        (self.reader, self.writer)
    }

    /// The next message. Answers pings with pongs, ignores pongs, and answers a close frame
    /// with a close frame: then returns `Ok(None)`. On a protocol error sends the close code
    /// it earns (1002, 1007, 1009) before returning the error.
    pub async fn recv(&mut self) -> Result<Result<Message, Ending>, WsError> {
        loop {
            match self.reader.read_event().await {
                Ok(Incoming::Message(m)) => return Ok(Ok(m)),
                Ok(Incoming::Ping(p)) => {
                    if !self.writer.close_sent() {
                        self.writer.pong(&p).await?;
                    }
                }
                Ok(Incoming::Pong(_)) => {}
                Ok(Incoming::Close(c)) => {
                    if self.writer.close_sent() {
                        return Ok(Err(Ending::WeClosed(c)));
                    }
                    // Echo the status code back (RFC 6455 §5.5.1).
                    let reply = c.as_ref().map(|p| ClosePayload {
                        code: p.code,
                        reason: String::new(),
                    });
                    self.writer.close(reply.as_ref()).await?;
                    return Ok(Err(Ending::PeerClosed(c)));
                }
                Err(WsError::Protocol(e)) => {
                    if !self.writer.close_sent() {
                        let reason = ClosePayload {
                            code: e.close_code(),
                            reason: e.to_string(),
                        };
                        let _ = self.writer.close(Some(&reason)).await;
                    }
                    return Err(WsError::Protocol(e));
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub async fn send(&mut self, message: &Message) -> Result<(), WsError> {
        self.writer.send(message).await
    }

    /// Starts the closing handshake and waits for the peer's close frame (messages that
    /// arrive meanwhile are dropped), then half-closes the TCP connection. Returns the peer's
    /// close payload.
    pub async fn close(
        &mut self,
        payload: Option<&ClosePayload>,
    ) -> Result<Option<ClosePayload>, WsError> {
        if !self.writer.close_sent() {
            self.writer.close(payload).await?;
        }
        loop {
            match self.recv().await? {
                Ok(_) => continue,
                Err(Ending::WeClosed(c)) | Err(Ending::PeerClosed(c)) => {
                    // Nothing more will be sent: FIN our side of the TCP connection.
                    let _ = self.writer.shutdown().await;
                    return Ok(c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pair = WebSocket<
        tokio::io::ReadHalf<tokio::io::DuplexStream>,
        tokio::io::WriteHalf<tokio::io::DuplexStream>,
    >;

    fn pair() -> (Pair, Pair) {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (ar, aw) = tokio::io::split(a);
        let (br, bw) = tokio::io::split(b);
        (
            WebSocket::new(ar, aw, Role::Client, Config::default(), &[]),
            WebSocket::new(br, bw, Role::Server, Config::default(), &[]),
        )
    }

    #[tokio::test]
    async fn messages_of_every_length_encoding_cross() {
        let (mut client, mut server) = pair();
        let task = tokio::spawn(async move {
            loop {
                match server.recv().await.unwrap() {
                    Ok(m) => server.send(&m).await.unwrap(),
                    Err(ending) => return ending,
                }
            }
        });
        for n in [
            0usize,
            1,
            125,
            126,
            4095,
            4096,
            65535,
            65536,
            1 << 20,
            (3 << 20) + 1,
        ] {
            let m = Message::Binary((0..n).map(|i| (i % 251) as u8).collect());
            client.send(&m).await.unwrap();
            assert_eq!(client.recv().await.unwrap(), Ok(m), "{n} bytes");
        }
        let text = Message::Text("héllo wörld".repeat(10_000));
        client.send(&text).await.unwrap();
        assert_eq!(client.recv().await.unwrap(), Ok(text));
        let c = ClosePayload {
            code: 4001,
            reason: "done".into(),
        };
        let reply = client.close(Some(&c)).await.unwrap();
        assert_eq!(reply.map(|p| p.code), Some(4001), "the code is echoed");
        let ending = task.await.unwrap();
        assert_eq!(ending, Ending::PeerClosed(Some(c)));
    }

    #[tokio::test]
    async fn ping_is_answered_and_protocol_errors_close_with_their_code() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (br, bw) = tokio::io::split(b);
        let mut server = WebSocket::new(br, bw, Role::Server, Config::default(), &[]);
        let (mut ar, mut aw) = tokio::io::split(a);
        let task = tokio::spawn(async move { server.recv().await });
        // Masked ping "hi", then an unmasked text frame (a protocol error from a client).
        aw.write_all(&[0x89, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2])
            .await
            .unwrap();
        aw.write_all(&[0x81, 0x01, b'x']).await.unwrap();
        let err = task.await.unwrap().unwrap_err();
        assert!(matches!(
            err,
            WsError::Protocol(ProtocolError::UnmaskedFromClient)
        ));
        let mut got = vec![0u8; 4];
        ar.read_exact(&mut got).await.unwrap();
        assert_eq!(
            got,
            [0x8a, 0x02, b'h', b'i'],
            "pong with the ping's payload"
        );
        let mut close = vec![0u8; 4];
        ar.read_exact(&mut close).await.unwrap();
        assert_eq!(close[0], 0x88);
        assert_eq!(u16::from_be_bytes([close[2], close[3]]), 1002);
    }

    #[tokio::test]
    async fn queued_frames_leave_in_one_flush() {
        let (mut client, mut server) = pair();
        for i in 0..3u8 {
            server.writer.queue(&Message::Binary(vec![i; 10])).unwrap();
        }
        server
            .writer
            .queue_frame(false, OpCode::Text, b"par")
            .unwrap();
        server
            .writer
            .queue_frame(true, OpCode::Continuation, b"ts")
            .unwrap();
        server.writer.flush().await.unwrap();
        for i in 0..3u8 {
            assert_eq!(
                client.recv().await.unwrap(),
                Ok(Message::Binary(vec![i; 10]))
            );
        }
        assert_eq!(
            client.recv().await.unwrap(),
            Ok(Message::Text("parts".into()))
        );
    }

    #[tokio::test]
    async fn leftover_handshake_bytes_are_read_first() {
        let (a, _b) = tokio::io::duplex(64);
        let (ar, aw) = tokio::io::split(a);
        let frame = [0x82, 0x80 | 3, 0, 0, 0, 0, 7, 8, 9];
        let mut s = WebSocket::new(ar, aw, Role::Server, Config::default(), &frame);
        assert_eq!(s.recv().await.unwrap(), Ok(Message::Binary(vec![7, 8, 9])));
    }

    #[tokio::test]
    async fn eof_without_close_is_abrupt() {
        let (a, b) = tokio::io::duplex(64);
        let (ar, aw) = tokio::io::split(a);
        drop(b);
        let mut s = WebSocket::new(ar, aw, Role::Server, Config::default(), &[]);
        assert!(matches!(s.recv().await, Err(WsError::AbruptClose)));
    }
}

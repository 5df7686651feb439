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

use crate::wire::websocket::deflate::{Deflater, Inflater};
use crate::wire::websocket::frame::{apply_mask, ClosePayload, FrameHeader, OpCode};
use crate::wire::websocket::handshake::{Deflate, HandshakeError};
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
    /// The first [`PREVIEW`] bytes of the payload, unmasked (and inflated, for a compressed
    /// message).
    pub preview: Vec<u8>,
    /// For a frame of a compressed message: the bytes its payload inflates to (on the last
    /// frame, with the tail) or, sent, the size of the message before compression.
    pub inflated_len: Option<u64>,
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
    /// The frame belongs to a compressed message.
    compressed: bool,
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
    /// permessage-deflate: the receiving direction's decompressor.
    inflater: Option<Inflater>,
    /// Compressed payload read but not yet inflated (at most one read's worth).
    wire: Vec<u8>,
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
            inflater: None,
            wire: Vec::new(),
        }
    }

    pub fn set_tap(&mut self, tap: Option<FrameTap>) {
        self.tap = tap;
    }

    /// Accepts compressed messages (RSV1) from now on, inflated with or without context
    /// takeover (`no_context_takeover`: the peer resets its window after every message).
    pub fn enable_inflate(&mut self, no_context_takeover: bool) {
        self.asm.allow_compression();
        self.inflater = Some(Inflater::new(no_context_takeover));
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

    fn show(&self, header: &FrameHeader, payload: &[u8], inflated_len: Option<u64>) {
        if let Some(tap) = &self.tap {
            tap(&FrameInfo {
                direction: Direction::In,
                header: *header,
                preview: payload.get(..PREVIEW).unwrap_or(payload).to_vec(),
                inflated_len,
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
                            compressed: self.asm.compressed() && !header.opcode.is_control(),
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
                self.show(&cur.header, &payload, None);
                return match op {
                    OpCode::Ping => Ok(Incoming::Ping(payload)),
                    OpCode::Pong => Ok(Incoming::Pong(payload)),
                    _ => Ok(Incoming::Close(
                        ClosePayload::parse(&payload).map_err(ProtocolError::from)?,
                    )),
                };
            }
            if cur.remaining > 0 {
                // Compressed payload goes to `wire` a read at a time and is inflated from
                // there; plain payload goes straight into the message.
                let max_read = if cur.compressed {
                    READ_CHUNK
                } else {
                    usize::MAX
                };
                let target = if cur.compressed {
                    &mut self.wire
                } else {
                    &mut self.message
                };
                let before = target.len();
                if !self.buf.is_empty() {
                    let n = self
                        .buf
                        .len()
                        .min(usize::try_from(cur.remaining).unwrap_or(usize::MAX))
                        .min(max_read);
                    target.extend_from_slice(&self.buf[..n]);
                    self.buf.advance(n);
                } else if cur.remaining >= 4096 {
                    // A big payload: read it straight into the message, no copy.
                    let limit = usize::try_from(cur.remaining)
                        .unwrap_or(usize::MAX)
                        .min(max_read);
                    if target.capacity() - target.len() < 4096 {
                        // Grow ahead of the data (amortised doubling), never by the whole
                        // announced length at once.
                        target.reserve(limit.min(1 << 20));
                    }
                    let mut room = target.limit(limit);
                    let n = self.io.read_buf(&mut room).await?;
                    if n == 0 {
                        return Err(WsError::AbruptClose);
                    }
                } else {
                    self.fill().await?;
                    continue;
                }
                let fresh = &mut target[before..];
                let n = fresh.len();
                if let Some(m) = cur.header.mask {
                    apply_mask(fresh, m, cur.done);
                }
                match self.inflater.as_mut() {
                    Some(inflater) if cur.compressed => {
                        let start = self.message.len();
                        let max = self.asm.limits().max_message;
                        inflater
                            .inflate(&self.wire, &mut self.message, max)
                            .map_err(ProtocolError::from)?;
                        self.wire.clear();
                        self.asm.on_data(&self.message[start..])?;
                    }
                    _ => self.asm.on_data(&self.message[before..])?,
                }
                cur.done += n;
                cur.remaining -= n as u64;
                self.current = Some(cur);
            }
            if cur.remaining == 0 {
                self.current = None;
                if cur.compressed && cur.header.fin {
                    if let Some(inflater) = self.inflater.as_mut() {
                        let start = self.message.len();
                        let max = self.asm.limits().max_message;
                        inflater
                            .finish(&mut self.message, max)
                            .map_err(ProtocolError::from)?;
                        self.asm.on_data(&self.message[start..])?;
                    }
                }
                if self.tap.is_some() {
                    let payload = self.message.get(cur.start..).unwrap_or_default();
                    let inflated = cur.compressed.then_some(payload.len() as u64);
                    self.show(&cur.header, payload, inflated);
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
    /// permessage-deflate: the sending direction's compressor (`None`: send uncompressed).
    deflater: Option<Deflater>,
    /// Scratch space for a compressed message.
    zbuf: Vec<u8>,
}

impl<W: AsyncWrite + Unpin> WsWriter<W> {
    pub fn new(io: W, role: Role) -> Self {
        WsWriter {
            io,
            masks: (role == Role::Client).then(MaskKeys::new),
            buf: Vec::with_capacity(4096),
            close_sent: false,
            tap: None,
            deflater: None,
            zbuf: Vec::new(),
        }
    }

    /// Compresses every message sent with [`WsWriter::send`] or [`WsWriter::queue`] from now
    /// on, with an LZ77 window of at most `2^window_bits` bytes. With 8 (which zlib cannot
    /// make) messages go out uncompressed. Frames sent one by one are never compressed.
    pub fn enable_deflate(&mut self, window_bits: u8, no_context_takeover: bool) {
        self.deflater = Deflater::new(window_bits, no_context_takeover);
    }

    /// Compresses `message` into `zbuf` when compression is on; returns its original size.
    fn compress(&mut self, message: &Message) -> Result<Option<u64>, WsError> {
        let Some(d) = self.deflater.as_mut() else {
            return Ok(None);
        };
        if self.close_sent {
            return Err(WsError::Closing);
        }
        self.zbuf.clear();
        d.compress(message.as_bytes(), &mut self.zbuf)
            .map_err(|e| WsError::Io(io::Error::other(e.to_string())))?;
        Ok(Some(message.len() as u64))
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
        inflated: Option<(u64, &[u8])>,
    ) -> Result<FrameHeader, WsError> {
        if self.close_sent {
            return Err(WsError::Closing);
        }
        let mask = self.masks.as_mut().map(MaskKeys::next);
        let mut header = FrameHeader::new(fin, opcode, mask, payload.len() as u64);
        header.rsv1 = inflated.is_some();
        if let Some(tap) = &self.tap {
            let shown = inflated.map_or(payload, |(_, original)| original);
            tap(&FrameInfo {
                direction: Direction::Out,
                header,
                preview: shown.get(..PREVIEW).unwrap_or(shown).to_vec(),
                inflated_len: inflated.map(|(n, _)| n),
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
        self.frame_into_buf(fin, opcode, payload, true, None)
            .map(|_| ())
    }

    /// Queues a message (compressed when negotiated); see [`WsWriter::queue_frame`].
    pub fn queue(&mut self, message: &Message) -> Result<(), WsError> {
        match self.compress(message)? {
            None => self.queue_frame(true, message.opcode(), message.as_bytes()),
            Some(n) => {
                let z = std::mem::take(&mut self.zbuf);
                let r = self.frame_into_buf(
                    true,
                    message.opcode(),
                    &z,
                    true,
                    Some((n, message.as_bytes())),
                );
                self.zbuf = z;
                r.map(|_| ())
            }
        }
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
        self.send_frame_inner(fin, opcode, payload, None).await
    }

    async fn send_frame_inner(
        &mut self,
        fin: bool,
        opcode: OpCode,
        payload: &[u8],
        inflated: Option<(u64, &[u8])>,
    ) -> Result<(), WsError> {
        let direct = self.masks.is_none() && payload.len() >= DIRECT_WRITE;
        self.frame_into_buf(fin, opcode, payload, !direct, inflated)?;
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

    /// Sends a message, compressed when permessage-deflate was negotiated.
    pub async fn send(&mut self, message: &Message) -> Result<(), WsError> {
        match self.compress(message)? {
            None => {
                self.send_frame(true, message.opcode(), message.as_bytes())
                    .await
            }
            Some(n) => {
                let z = std::mem::take(&mut self.zbuf);
                let r = self
                    .send_frame_inner(true, message.opcode(), &z, Some((n, message.as_bytes())))
                    .await;
                self.zbuf = z;
                r
            }
        }
    }

    pub async fn send_text(&mut self, text: &str) -> Result<(), WsError> {
        if self.deflater.is_some() {
            return self.send(&Message::Text(text.to_string())).await;
        }
        self.send_frame(true, OpCode::Text, text.as_bytes()).await
    }

    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), WsError> {
        if self.deflater.is_some() {
            return self.send(&Message::Binary(data.to_vec())).await;
        }
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

    /// Turns on permessage-deflate as agreed in the handshake, for the end that plays `role`:
    /// its writer compresses with the parameters of its direction, its reader inflates the
    /// other direction.
    pub fn enable_deflate(&mut self, d: &Deflate, role: Role) {
        let server = role == Role::Server;
        let (send_reset, send_bits) = d.sending(server);
        let (recv_reset, _) = d.receiving(server);
        self.writer.enable_deflate(send_bits, send_reset);
        self.reader.enable_inflate(recv_reset);
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

    fn deflate_pair(d: &Deflate) -> (Pair, Pair) {
        let (mut c, mut s) = pair();
        c.enable_deflate(d, Role::Client);
        s.enable_deflate(d, Role::Server);
        (c, s)
    }

    #[tokio::test]
    async fn compressed_messages_cross_with_and_without_context_takeover() {
        for (reset, bits) in [(false, 15), (true, 9), (false, 8)] {
            let d = Deflate {
                server_no_context_takeover: reset,
                client_no_context_takeover: reset,
                server_max_window_bits: bits,
                client_max_window_bits: 15,
            };
            let (mut client, mut server) = deflate_pair(&d);
            let task = tokio::spawn(async move {
                while let Ok(Ok(m)) = server.recv().await {
                    server.send(&m).await.unwrap();
                }
            });
            for n in [0usize, 1, 125, 65536, 1 << 20] {
                for m in [
                    Message::Binary((0..n).map(|i| (i % 251) as u8).collect()),
                    Message::Text("chat ".repeat(n / 5)),
                ] {
                    client.send(&m).await.unwrap();
                    assert_eq!(client.recv().await.unwrap(), Ok(m), "{n} bytes, {d:?}");
                }
            }
            client.close(None).await.unwrap();
            task.await.unwrap();
        }
    }

    /// A client's frame, masked with a zero key (so the payload reads as sent).
    fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![b0, 0x80 | payload.len() as u8, 0, 0, 0, 0];
        f.extend_from_slice(payload);
        f
    }

    #[tokio::test]
    async fn a_fragmented_compressed_message_with_a_ping_between() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (br, bw) = tokio::io::split(b);
        let mut server = WebSocket::new(br, bw, Role::Server, Config::default(), &[]);
        server.reader.enable_inflate(false);
        let (mut ar, mut aw) = tokio::io::split(a);
        // RFC 7692 §7.2.3.1 "Hello" split in two: RSV1 on the first frame only.
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let mut bytes = masked(0x40 | 0x01, &hello[..3]);
        bytes.extend(masked(0x89, b"p"));
        bytes.extend(masked(0x80, &hello[3..]));
        aw.write_all(&bytes).await.unwrap();
        assert_eq!(
            server.recv().await.unwrap(),
            Ok(Message::Text("Hello".into()))
        );
        let mut pong = [0u8; 3];
        ar.read_exact(&mut pong).await.unwrap();
        assert_eq!(pong, [0x8a, 0x01, b'p']);
        // An uncompressed message on the same connection is fine too (RSV1 = 0).
        aw.write_all(&masked(0x81, b"raw")).await.unwrap();
        assert_eq!(
            server.recv().await.unwrap(),
            Ok(Message::Text("raw".into()))
        );
        // RSV1 on a continuation frame is a protocol error: 1002.
        aw.write_all(&masked(0x01 | 0x40, &hello[..3]))
            .await
            .unwrap();
        aw.write_all(&masked(0x80 | 0x40, &hello[3..]))
            .await
            .unwrap();
        let e = server.recv().await.unwrap_err();
        assert!(
            matches!(
                e,
                WsError::Protocol(ProtocolError::Rsv1Misplaced(OpCode::Continuation))
            ),
            "{e}"
        );
    }

    #[tokio::test]
    async fn rsv1_without_negotiation_or_on_a_ping_is_1002_and_bad_deflate_1007() {
        for (inflate, frame, code) in [
            (
                false,
                masked(0xc1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]),
                1002,
            ),
            (true, masked(0xc9, b"p"), 1002),
            (true, masked(0xc2, &[0xff; 8]), 1007),
        ] {
            let (a, b) = tokio::io::duplex(1 << 16);
            let (br, bw) = tokio::io::split(b);
            let mut server = WebSocket::new(br, bw, Role::Server, Config::default(), &[]);
            if inflate {
                server.reader.enable_inflate(false);
            }
            let (mut ar, mut aw) = tokio::io::split(a);
            aw.write_all(&frame).await.unwrap();
            let e = server.recv().await.unwrap_err();
            let WsError::Protocol(p) = e else {
                panic!("{e}")
            };
            assert_eq!(p.close_code(), code, "{p}");
            let mut close = [0u8; 4];
            ar.read_exact(&mut close).await.unwrap();
            assert_eq!(u16::from_be_bytes([close[2], close[3]]), code);
        }
    }

    #[tokio::test]
    async fn a_decompression_bomb_closes_with_1009_at_the_inflated_limit() {
        let limits = Limits {
            max_frame: 1 << 20,
            max_message: 65536,
        };
        for (size, ok) in [(65536usize, true), (65537, false), (1 << 20, false)] {
            let (a, b) = tokio::io::duplex(1 << 16);
            let (br, bw) = tokio::io::split(b);
            let mut server = WebSocket::new(br, bw, Role::Server, Config { limits }, &[]);
            server.reader.enable_inflate(false);
            let (ar, aw) = tokio::io::split(a);
            let mut client = WebSocket::new(ar, aw, Role::Client, Config::default(), &[]);
            client.writer.enable_deflate(15, false);
            let m = Message::Binary(vec![0; size]);
            client.send(&m).await.unwrap();
            match server.recv().await {
                Ok(Ok(got)) => assert!(ok && got == m, "{size}"),
                Err(WsError::Protocol(p)) => assert!(!ok && p.close_code() == 1009, "{size}: {p}"),
                other => panic!("{size}: {other:?}"),
            }
        }
    }
}

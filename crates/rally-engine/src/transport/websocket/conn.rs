//! One WebSocket connection's bytes: frames read on readiness into a
//! buffer of the thread, frames written straight to the socket.
//!
//! A connection keeps memory only for what is in flight: the bytes of a
//! frame that arrived in part (in its [`Reader`]) and those the socket did
//! not take (`unsent`). Both are empty, and hold no allocation, while the
//! connection is idle. Reads go into one buffer per thread; a batch of
//! frames to write is laid out in another and written with one call.

use std::{
    cell::Cell,
    future::poll_fn,
    io,
    ops::ControlFlow,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use rally_proto::{
    engine::{Frame, v3},
    ws::{
        CloseCode, Incoming, Reader, Role, WsError,
        deflate::compress,
        frame::{MAX_HEADER_LEN, OpCode, write_header},
    },
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};

use super::Codec;
use crate::{config::PerMessageDeflate, queue::Outgoing};

/// How many bytes one read takes at most.
const READ_SIZE: usize = 64 * 1024;
/// A write buffer that grew past this is given back after use.
const KEEP_WRITE: usize = 256 * 1024;

thread_local! {
    /// The buffer of the thread that reads go into.
    static READ_BUF: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    /// The buffer of the thread that a batch of frames is laid out in.
    static WRITE_BUF: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    /// The last few messages compressed on this thread, with their
    /// compressed form: a broadcast is compressed once, not once per
    /// recipient (see [`compressed`]).
    static DEFLATED: Cell<Vec<Deflated>> = const { Cell::new(Vec::new()) };
}

/// How many compressed messages a thread remembers: enough for the
/// broadcasts of several write batches in flight at once (with 4, eight
/// broadcasts in flight already missed and compressed per recipient).
const DEFLATED_KEPT: usize = 32;
/// The most bytes (messages and their compressed forms) a thread keeps
/// remembered; past it the oldest are forgotten.
const DEFLATED_BYTES: usize = 4 << 20;

/// A message and its compressed form, remembered by a thread.
struct Deflated {
    /// The message's bytes, held so that the address cannot be reused by
    /// other bytes while remembered.
    source: Bytes,
    level: u32,
    window_bits: u8,
    /// `None` when compressing did not make it smaller.
    compressed: Option<Bytes>,
}

/// The compressed form of `payload`, computed once per thread for the
/// same bytes: the frames of one broadcast share their `Bytes`, so the
/// recipients served by this thread after the first find it here.
fn compressed(payload: &Bytes, deflate: &PerMessageDeflate, window_bits: u8) -> Option<Bytes> {
    let level = deflate.level;
    let mut kept = DEFLATED.take();
    let hit = kept.iter().find(|d| {
        d.source.as_ptr() == payload.as_ptr()
            && d.source.len() == payload.len()
            && d.level == level
            && d.window_bits == window_bits
    });
    let result = if let Some(hit) = hit {
        hit.compressed.clone()
    } else {
        let compressed = compress(payload, level, window_bits).map(Bytes::from);
        let size = |d: &Deflated| d.source.len() + d.compressed.as_ref().map_or(0, Bytes::len);
        let mut held = kept.iter().map(size).sum::<usize>() + payload.len();
        while !kept.is_empty() && (kept.len() == DEFLATED_KEPT || held > DEFLATED_BYTES) {
            held -= size(&kept.remove(0));
        }
        kept.push(Deflated {
            source: payload.clone(),
            level,
            window_bits,
            compressed: compressed.clone(),
        });
        compressed
    };
    DEFLATED.set(kept);
    result
}

/// What the connection agreed on for permessage-deflate.
#[derive(Debug, Clone, Copy)]
pub(super) struct Deflate {
    pub(super) options: PerMessageDeflate,
    pub(super) window_bits: u8,
}

/// Why reading stopped for good.
#[derive(Debug)]
pub(super) enum ReadError {
    /// The client broke the WebSocket protocol or a limit: close with the
    /// status.
    Ws(WsError),
    /// The socket failed.
    Io(io::Error),
    /// The client closed its side without a close frame.
    Eof,
}

/// The socket of a WebSocket connection: the TCP stream itself (from
/// Rally's own HTTP/1.1, with the bytes the client sent before the 101
/// reply, if any), or hyper's upgraded connection.
pub(super) enum Io {
    Tcp(TcpStream, Option<Box<[u8]>>),
    Hyper(TokioIo<Upgraded>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(io, early) => {
                if let Some(bytes) = early.take() {
                    let n = bytes.len().min(buf.remaining());
                    buf.put_slice(&bytes[..n]);
                    if n < bytes.len() {
                        *early = Some(bytes[n..].into());
                    }
                    return Poll::Ready(Ok(()));
                }
                Pin::new(io).poll_read(cx, buf)
            }
            Self::Hyper(io) => Pin::new(io).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(io, _) => Pin::new(io).poll_write(cx, buf),
            Self::Hyper(io) => Pin::new(io).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(io, _) => Pin::new(io).poll_flush(cx),
            Self::Hyper(io) => Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(io, _) => Pin::new(io).poll_shutdown(cx),
            Self::Hyper(io) => Pin::new(io).poll_shutdown(cx),
        }
    }
}

/// A WebSocket connection's socket and what is in flight on it.
pub(super) struct Conn {
    io: Io,
    reader: Reader,
    /// Bytes of frames the socket has not taken yet.
    unsent: Vec<u8>,
    /// A write went out that was not flushed yet.
    unflushed: bool,
    codec: Codec,
    deflate: Option<Deflate>,
}

impl Conn {
    pub(super) fn new(io: Io, max_message: usize, codec: Codec, deflate: Option<Deflate>) -> Self {
        Self {
            io,
            reader: Reader::new(Role::Server, max_message, deflate.is_some()),
            unsent: Vec::new(),
            unflushed: false,
            codec,
            deflate,
        }
    }

    /// How the session's packets travel in frames.
    pub(super) fn codec(&self) -> Codec {
        self.codec
    }

    /// Reads what the socket has and hands each whole message to `on`,
    /// which may stop the reading (the rest is kept for the next call).
    /// Ready once some bytes were read (or kept messages handed out).
    pub(super) fn poll_read<F>(
        &mut self,
        cx: &mut Context<'_>,
        on: F,
    ) -> Poll<Result<(), ReadError>>
    where
        F: FnMut(Incoming) -> ControlFlow<()>,
    {
        if self.reader.has_buffered_frames() {
            return Poll::Ready(self.reader.feed(&mut [], on).map_err(ReadError::Ws));
        }
        let mut buf = READ_BUF.take();
        if buf.len() < READ_SIZE {
            buf.resize(READ_SIZE, 0);
        }
        let mut read = ReadBuf::new(&mut buf);
        let polled = Pin::new(&mut self.io).poll_read(cx, &mut read);
        let n = read.filled().len();
        let result = match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(ReadError::Io(e))),
            Poll::Ready(Ok(())) if n == 0 => Poll::Ready(Err(ReadError::Eof)),
            Poll::Ready(Ok(())) => {
                Poll::Ready(self.reader.feed(&mut buf[..n], on).map_err(ReadError::Ws))
            }
        };
        READ_BUF.set(buf);
        result
    }

    /// The next whole message.
    pub(super) async fn next(&mut self) -> Result<Incoming, ReadError> {
        let mut got = None;
        loop {
            poll_fn(|cx| {
                self.poll_read(cx, |message| {
                    got = Some(message);
                    ControlFlow::Break(())
                })
            })
            .await?;
            if let Some(message) = got.take() {
                return Ok(message);
            }
        }
    }

    /// Lays out `frames` (each with whether it may be compressed) and
    /// writes them with one call, keeping what the socket does not take;
    /// [`Conn::poll_flush`] then writes the rest.
    pub(super) fn write(
        &mut self,
        cx: &mut Context<'_>,
        frames: impl IntoIterator<Item = Outgoing>,
    ) -> io::Result<()> {
        if !self.unsent.is_empty() {
            let mut unsent = std::mem::take(&mut self.unsent);
            for out in frames {
                self.lay_out(&mut unsent, out.frame, out.compress);
            }
            self.unsent = unsent;
            return Ok(());
        }
        let mut buf = WRITE_BUF.take();
        buf.clear();
        for out in frames {
            self.lay_out(&mut buf, out.frame, out.compress);
        }
        let result = self.write_now(cx, &buf);
        if buf.capacity() > KEEP_WRITE {
            buf = Vec::new();
        }
        WRITE_BUF.set(buf);
        result
    }

    /// Writes `bytes` as far as the socket takes them; the rest goes to
    /// `unsent`.
    fn write_now(&mut self, cx: &mut Context<'_>, bytes: &[u8]) -> io::Result<()> {
        let mut at = 0;
        while at < bytes.len() {
            match Pin::new(&mut self.io).poll_write(cx, &bytes[at..]) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => at += n,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => break,
            }
        }
        self.unflushed = true;
        if at < bytes.len() {
            self.unsent.extend_from_slice(&bytes[at..]);
        }
        Ok(())
    }

    /// Whether bytes wait for the socket to take them.
    pub(super) fn is_blocked(&self) -> bool {
        !self.unsent.is_empty()
    }

    /// Whether bytes wait, or a write was not flushed yet (a TLS stream
    /// may hold records until then; on TCP a flush costs nothing).
    pub(super) fn needs_flush(&self) -> bool {
        self.unflushed || !self.unsent.is_empty()
    }

    /// Writes what is left and flushes; ready when all is out.
    pub(super) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.unsent.is_empty() {
            match Pin::new(&mut self.io).poll_write(cx, &self.unsent) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.unsent.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        // Nothing is kept while the connection is quiet.
        if self.unsent.capacity() > 0 {
            self.unsent = Vec::new();
        }
        if self.unflushed {
            std::task::ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Writes `frames` and waits until they are out.
    pub(super) async fn send(&mut self, frames: impl IntoIterator<Item = Frame>) -> io::Result<()> {
        let mut frames = Some(frames.into_iter().map(|frame| Outgoing {
            frame,
            compress: true,
        }));
        poll_fn(|cx| {
            if let Some(frames) = frames.take() {
                self.write(cx, frames)?;
            }
            self.poll_flush(cx)
        })
        .await
    }

    /// Sends a close frame: no status (as the reference does on a close it
    /// starts), or `code` after an error.
    pub(super) async fn send_close(&mut self, code: Option<CloseCode>) -> io::Result<()> {
        let mut frame = Vec::with_capacity(4);
        match code {
            None => write_header(&mut frame, OpCode::Close, false, 0, None),
            Some(code) => {
                write_header(&mut frame, OpCode::Close, false, 2, None);
                frame.extend_from_slice(&code.0.to_be_bytes());
            }
        }
        self.unsent.extend_from_slice(&frame);
        self.unflushed = true;
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Sends a pong carrying `data`, after what is queued.
    pub(super) fn queue_pong(&mut self, data: &[u8]) {
        write_header(&mut self.unsent, OpCode::Pong, false, data.len(), None);
        self.unsent.extend_from_slice(data);
    }

    /// Ends the connection's writing side.
    pub(super) async fn shutdown(&mut self) {
        let _ = poll_fn(|cx| Pin::new(&mut self.io).poll_shutdown(cx)).await;
    }

    /// Appends `frame` to `out` as a WebSocket frame, compressed when
    /// `compress` and the connection agreed on it.
    fn lay_out(&self, out: &mut Vec<u8>, frame: Frame, compress: bool) {
        let (opcode, payload) = match (frame, self.codec) {
            (Frame::Text(text), _) => (OpCode::Text, Bytes::from(text)),
            (Frame::Binary(bytes), Codec::V4) => (OpCode::Binary, bytes),
            (Frame::Binary(bytes), Codec::V3 { binary: true }) => {
                (OpCode::Binary, v3::encode_binary_frame(&bytes))
            }
            (Frame::Binary(bytes), Codec::V3 { binary: false }) => {
                (OpCode::Text, Bytes::from(v3::encode_base64_packet(&bytes)))
            }
        };
        if let Some(deflate) = &self.deflate
            && compress
            && payload.len() >= deflate.options.threshold
            && let Some(compressed) = compressed(&payload, &deflate.options, deflate.window_bits)
        {
            out.reserve(MAX_HEADER_LEN + compressed.len());
            write_header(out, opcode, true, compressed.len(), None);
            out.extend_from_slice(&compressed);
            return;
        }
        out.reserve(MAX_HEADER_LEN + payload.len());
        write_header(out, opcode, false, payload.len(), None);
        out.extend_from_slice(&payload);
    }
}

//! The WebSocket transport: one text or binary frame per Engine.IO packet,
//! framed by `rally_proto::ws`, with permessage-deflate when the server
//! agrees to it.
//!
//! - Every frame the client sends is masked with a fresh random key.
//! - What is queued goes out in one write: every frame encoded into one
//!   buffer, then written; frames queued meanwhile wait for the next one.
//! - With permessage-deflate, messages of [`THRESHOLD`] bytes or more are
//!   compressed, each on its own (no context kept between messages either
//!   way), and sent plain when compressing would not shrink them; the
//!   server's compressed messages are inflated up to [`MAX_MESSAGE`].
//! - The server's pings are answered with pongs; its close frame is
//!   answered with one and ends the transport; a protocol error sends a
//!   close frame with its status before the transport fails.

use std::{
    collections::VecDeque,
    mem::MaybeUninit,
    ops::ControlFlow,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use http::{HeaderName, HeaderValue};
use rally_proto::{
    Str,
    engine::{Frame, Message, Packet},
    ws::{
        CloseCode, Incoming, Reader, Role,
        deflate::compress,
        frame::{OpCode, apply_mask, write_header},
    },
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::{
    TransportError,
    transport::{stream::Stream, ws_handshake},
    url::Endpoint,
};

/// The largest message taken from the server, counted once inflated (the
/// limit of the WebSocket library this client used before: 64 MiB).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;
/// Messages this long or longer are compressed when permessage-deflate was
/// agreed (the official client's threshold).
const THRESHOLD: usize = 1024;
/// The zlib level messages are compressed at (zlib's default, which the
/// official client's WebSocket library uses).
const LEVEL: u32 = 6;
/// How much one read takes from the socket.
const READ_CHUNK: usize = 16 * 1024;
/// A write buffer that grew past this is let go once written.
const KEPT_WRITE_BUFFER: usize = 64 * 1024;

/// A WebSocket to the server.
pub(crate) struct WebSocket {
    stream: Stream,
    reader: Reader,
    /// Bytes the handshake read past the server's reply: fed first.
    early: Vec<u8>,
    /// Encoded frames not all written yet, `written` bytes of them written.
    out: Vec<u8>,
    written: usize,
    /// The window outgoing messages are compressed with, when
    /// permessage-deflate was agreed with one the compressor has.
    compress_bits: Option<u8>,
    /// A close frame was queued: nothing else is sent after it.
    close_sent: bool,
    /// The server's close frame came, or reading failed: nothing more to
    /// read.
    read_done: bool,
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("deflate", &self.compress_bits.is_some())
            .finish_non_exhaustive()
    }
}

impl WebSocket {
    /// Opens the WebSocket transport, for session `sid` when upgrading,
    /// offering permessage-deflate when `deflate`.
    pub(crate) async fn connect(
        endpoint: &Endpoint,
        headers: &[(HeaderName, HeaderValue)],
        sid: Option<&str>,
        deflate: bool,
    ) -> Result<Self, TransportError> {
        let opened = ws_handshake::open(endpoint, headers, sid, deflate).await?;
        tracing::trace!(deflate = opened.deflate, "websocket open");
        Ok(Self {
            stream: opened.stream,
            reader: Reader::new(Role::Client, MAX_MESSAGE, opened.deflate),
            early: opened.early,
            out: Vec::new(),
            written: 0,
            // The compressor's smallest window is 9 bits: with a smaller
            // one agreed, messages go out plain (which the extension allows).
            compress_bits: (opened.deflate && opened.client_window_bits >= 9)
                .then_some(opened.client_window_bits),
            close_sent: false,
            read_done: false,
        })
    }

    /// The next packet; `None` once the server closed the WebSocket.
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Packet, TransportError>>> {
        loop {
            if self.read_done {
                return Poll::Ready(None);
            }
            let got = if self.reader.has_buffered_frames() || !self.early.is_empty() {
                let mut early = std::mem::take(&mut self.early);
                self.feed(&mut early)
            } else {
                let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
                let mut buf = ReadBuf::uninit(&mut chunk);
                match Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => {
                        self.read_done = true;
                        return Poll::Ready(Some(Err(e.into())));
                    }
                    // The end of the stream, without a close frame.
                    Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                        self.read_done = true;
                        return Poll::Ready(None);
                    }
                    Poll::Ready(Ok(())) => self.feed(buf.filled_mut()),
                }
            };
            // Pongs and close frames go out now, not with the next packet.
            if let Poll::Ready(Err(e)) = self.poll_send(cx) {
                return Poll::Ready(Some(Err(e)));
            }
            if let Some(got) = got {
                return Poll::Ready(got);
            }
        }
    }

    /// Reads the frames in `input`; what the first message or close among
    /// them makes of the read, if any.
    fn feed(&mut self, input: &mut [u8]) -> Option<Option<Result<Packet, TransportError>>> {
        let mut got = None;
        let mut replies = Vec::new();
        let fed = self.reader.feed(input, |incoming| {
            let packet = match incoming {
                Incoming::Binary(bytes) => Ok(Packet::Message(Message::Binary(bytes))),
                Incoming::Text(bytes) => match Str::from_utf8(bytes) {
                    Ok(text) => Packet::decode_text(text).map_err(TransportError::from),
                    Err(e) => {
                        replies.push((OpCode::Close, close_payload(CloseCode::INVALID_DATA)));
                        got = Some(Some(Err(e.into())));
                        return ControlFlow::Break(());
                    }
                },
                Incoming::Ping(data) => {
                    replies.push((OpCode::Pong, data.to_vec()));
                    return ControlFlow::Continue(());
                }
                Incoming::Pong(_) => return ControlFlow::Continue(()),
                Incoming::Close(code, _) => {
                    // The close is answered with the status it carried.
                    let payload = code.map(|c| c.to_be_bytes().to_vec()).unwrap_or_default();
                    replies.push((OpCode::Close, payload));
                    got = Some(None);
                    return ControlFlow::Break(());
                }
            };
            got = Some(Some(packet));
            ControlFlow::Break(())
        });
        if let Err(e) = fed {
            replies.push((OpCode::Close, close_payload(e.code())));
            got = Some(Some(Err(e.into())));
        }
        for (opcode, payload) in replies {
            self.encode(opcode, &payload);
        }
        if matches!(got, Some(None | Some(Err(_)))) {
            self.read_done = true;
        }
        got
    }

    /// Writes every frame of `out` in one write; ready once all is sent.
    /// Frames queued while a write is in progress wait for the next.
    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut VecDeque<Frame>,
    ) -> Poll<Result<(), TransportError>> {
        loop {
            ready!(self.poll_send(cx))?;
            if out.is_empty() {
                return Poll::Ready(Ok(()));
            }
            for frame in out.drain(..) {
                match frame {
                    Frame::Text(text) => self.encode(OpCode::Text, text.as_bytes()),
                    Frame::Binary(bytes) => self.encode(OpCode::Binary, &bytes),
                }
            }
        }
    }

    /// Appends a masked frame carrying `payload` (compressed when that is
    /// agreed and worth it) to what is to be written. Nothing follows a
    /// close frame.
    fn encode(&mut self, opcode: OpCode, payload: &[u8]) {
        if self.close_sent {
            return;
        }
        self.close_sent = opcode == OpCode::Close;
        let compressed = match self.compress_bits {
            Some(bits) if payload.len() >= THRESHOLD && !opcode.is_control() => {
                compress(payload, LEVEL, bits)
            }
            _ => None,
        };
        let data = compressed.as_deref().unwrap_or(payload);
        let key = fastrand::u32(..).to_ne_bytes();
        write_header(
            &mut self.out,
            opcode,
            compressed.is_some(),
            data.len(),
            Some(key),
        );
        let start = self.out.len();
        self.out.extend_from_slice(data);
        apply_mask(&mut self.out[start..], key);
    }

    /// Writes what is encoded.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        while self.written < self.out.len() {
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &self.out[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(
                    std::io::Error::from(std::io::ErrorKind::WriteZero).into()
                ));
            }
            self.written += n;
        }
        // TLS may hold the tail of what was written: push it out.
        ready!(Pin::new(&mut self.stream).poll_flush(cx))?;
        self.written = 0;
        if self.out.capacity() > KEPT_WRITE_BUFFER {
            self.out = Vec::new();
        } else {
            self.out.clear();
        }
        Poll::Ready(Ok(()))
    }

    /// Sends what `out` holds and a close frame, then waits for the
    /// server's close. Gives up after a second.
    pub(crate) async fn close(mut self, mut out: VecDeque<Frame>) {
        let polite = async {
            std::future::poll_fn(|cx| self.poll_write(cx, &mut out)).await?;
            self.encode(OpCode::Close, &close_payload(CloseCode::NORMAL));
            std::future::poll_fn(|cx| self.poll_send(cx)).await?;
            while let Some(read) = std::future::poll_fn(|cx| self.poll_read(cx)).await {
                read?;
            }
            Ok::<_, TransportError>(())
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), polite).await;
    }
}

/// The payload of a close frame with `code` and no reason.
fn close_payload(code: CloseCode) -> Vec<u8> {
    code.0.to_be_bytes().to_vec()
}

//! WebSocket: a direct session, or the upgrade of a polling one.

use std::{
    cell::RefCell,
    future::poll_fn,
    io::{self, IoSlice},
    pin::{Pin, pin},
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use bytes::Bytes;
use futures_util::{FutureExt, SinkExt, StreamExt};
use http::{HeaderValue, Request, Response, StatusCode, header, request::Parts};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use rally_proto::{
    Str,
    engine::{Frame, Message, Packet, v3},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::{Instant, Sleep},
};
use tokio_websockets::{Limits, Message as WsMessage, ServerBuilder, WebSocketStream};

use crate::{
    CloseReason, Handler, Protocol, Session, Transport,
    engine::Engine,
    error::ErrorCode,
    queue::Receiver,
    response::{self, EngineBody},
    session::Beat,
};

type Ws = WebSocketStream<Gathered<TokioIo<Upgraded>>>;

/// How many queued frames one write batch takes.
const MAX_BATCH: usize = 256;
/// How often a pending poll is told to return during an upgrade.
const NOOP_EVERY: Duration = Duration::from_millis(100);
/// How long the closing handshake may take.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

const PING: Frame = Frame::Text(Str::from_static("2"));

/// Writes up to this many bytes of frames are gathered into one buffer.
const GATHER_MAX: usize = 16 * 1024;

thread_local! {
    /// The buffer frames are gathered in, one per worker thread.
    static GATHER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// An upgraded connection whose vectored writes go out as one plain
/// write: a frame's header and payload (and a batch of small frames) are
/// copied into one buffer and sent with `send(2)`, where `writev(2)` would
/// pass through the kernel's file layer on every write (the file, its
/// inode and the notification hooks: more memory touched per message on a
/// server with many connections). Writes past [`GATHER_MAX`] stay vectored.
struct Gathered<T>(T);

impl<T: AsyncRead + Unpin> AsyncRead for Gathered<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Gathered<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if bufs.len() < 2 || bufs.iter().map(|b| b.len()).sum::<usize>() > GATHER_MAX {
            return Pin::new(&mut self.0).poll_write_vectored(cx, bufs);
        }
        GATHER.with_borrow_mut(|gathered| {
            gathered.clear();
            for b in bufs {
                gathered.extend_from_slice(b);
            }
            // Nothing is kept between calls: a write that is not taken
            // (or taken in part) is gathered again from what is left.
            Pin::new(&mut self.0).poll_write(cx, gathered)
        })
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// How a session's packets travel in WebSocket frames.
///
/// Text frames are the same in both protocols; binary frames differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    /// Protocol 4: a binary frame is a binary message's bytes.
    V4,
    /// Protocol 3: a binary frame is a packet type byte then the data; a
    /// client that asked `b64` gets binary messages as `b4<base64>` text.
    V3 {
        /// Whether the client takes binary frames.
        binary: bool,
    },
}

impl Codec {
    /// The codec of `session` on a WebSocket opened by a request whose
    /// `b64` says whether the client takes binary.
    fn of(session: &Session, binary: bool) -> Self {
        match session.protocol() {
            Protocol::V4 => Self::V4,
            Protocol::V3 => Self::V3 { binary },
        }
    }
}

/// Whether a request asks to switch to WebSocket.
pub(crate) fn is_upgrade_request<B>(req: &Request<B>) -> bool {
    let has = |name, value: &str| {
        req.headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case(value))
    };
    req.method() == http::Method::GET
        && has(header::UPGRADE, "websocket")
        && req.headers().contains_key(header::SEC_WEBSOCKET_KEY)
}

/// The 101 reply to an upgrade request, or why there can be none.
fn switching_protocols(parts: &Parts) -> Option<Response<EngineBody>> {
    const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let key = parts.headers.get(header::SEC_WEBSOCKET_KEY)?;
    if parts.headers.get(header::SEC_WEBSOCKET_VERSION)? != "13" {
        return None;
    }
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID);
    let accept = HeaderValue::from_str(&STANDARD.encode(sha.digest().bytes())).ok()?;
    let mut response = response::status(StatusCode::SWITCHING_PROTOCOLS);
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    Some(response)
}

/// Takes the connection over once the 101 reply has gone out.
fn on_upgraded<F, Fut>(parts: &mut Parts, max_payload: usize, then: F) -> Response<EngineBody>
where
    F: FnOnce(Option<Ws>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (Some(response), Some(on_upgrade)) = (
        switching_protocols(parts),
        parts.extensions.remove::<OnUpgrade>(),
    ) else {
        tokio::spawn(then(None));
        return response::error(ErrorCode::BadRequest);
    };
    tokio::spawn(async move {
        let ws = match on_upgrade.await {
            Ok(upgraded) => Some(
                ServerBuilder::new()
                    .limits(Limits::default().max_payload_len(Some(max_payload)))
                    .serve(Gathered(TokioIo::new(upgraded))),
            ),
            Err(e) => {
                tracing::debug!(error = %e, "websocket upgrade failed");
                None
            }
        };
        then(ws).await;
    });
    response
}

/// A WebSocket that cannot carry a session (such as `transport=polling`):
/// accepted, then closed at once, as the reference does.
pub(crate) fn refuse<B>(req: Request<B>) -> Response<EngineBody> {
    let (mut parts, _body) = req.into_parts();
    on_upgraded(&mut parts, 0, |ws| async move {
        if let Some(mut ws) = ws {
            close(&mut ws).await;
        }
    })
}

/// A session that starts on WebSocket (no polling first).
pub(crate) fn open<H: Handler, B>(
    engine: Arc<Engine<H>>,
    session: Arc<Session>,
    parts: &mut Parts,
    _body: B,
    binary: bool,
) -> Response<EngineBody> {
    let max = engine.config.max_http_buffer_size;
    let codec = Codec::of(&session, binary);
    on_upgraded(parts, max, move |ws| async move {
        let Some(mut ws) = ws else {
            session.close_with(CloseReason::TransportError);
            return;
        };
        let open = engine.open_packet(&session.sid(), Transport::WebSocket);
        if write(&mut ws, vec![Frame::Text(open)], codec)
            .await
            .is_err()
        {
            session.close_with(CloseReason::TransportError);
            return;
        }
        let mut rx = session.receiver().await;
        run(&engine, &session, ws, &mut rx, codec).await;
    })
}

/// A polling session asking to move to WebSocket (`sid` in the query);
/// `binary` tells whether this request asked no `b64`.
pub(crate) fn upgrade<H: Handler, B>(
    engine: Arc<Engine<H>>,
    session: Arc<Session>,
    req: Request<B>,
    binary: bool,
) -> Response<EngineBody> {
    let (mut parts, _body) = req.into_parts();
    let max = engine.config.max_http_buffer_size;
    let allowed = engine.config.allow_upgrades;
    let codec = Codec::of(&session, binary);
    on_upgraded(&mut parts, max, move |ws| async move {
        let Some(mut ws) = ws else { return };
        if !allowed || !session.begin_upgrade() {
            // Already upgraded, or an upgrade is under way: refuse this one.
            close(&mut ws).await;
            return;
        }
        let timeout = engine.config.upgrade_timeout;
        let probed = tokio::time::timeout(timeout, probe(&session, &mut ws, codec)).await;
        if !matches!(probed, Ok(true)) {
            tracing::debug!(sid = %session.sid(), "upgrade failed");
            session.end_upgrade(false);
            close(&mut ws).await;
            return;
        }
        // The session is WebSocket's from now on; a poll still pending
        // (a client normally paused polling already) is told to end.
        session.end_upgrade(true);
        session.noop.notify_one();
        let mut rx = session.receiver().await;
        tracing::debug!(sid = %session.sid(), "upgraded to websocket");
        run(&engine, &session, ws, &mut rx, codec).await;
    })
}

/// The probe of an upgrade: `2probe` → `3probe`, then `5`, with a noop to
/// the pending poll every 100 ms meanwhile. True when the client switched.
/// Like the reference, a `5` without a probe is taken too.
async fn probe(session: &Session, ws: &mut Ws, codec: Codec) -> bool {
    let mut noop = tokio::time::interval(NOOP_EVERY);
    let mut probed = false;
    loop {
        let message = tokio::select! {
            () = session.closed() => return false,
            _ = noop.tick(), if probed => {
                session.noop.notify_one();
                continue;
            }
            message = ws.next() => message,
        };
        let Some(Ok(message)) = message else {
            return false;
        };
        let packet = match decode(message, codec) {
            Some(Ok(packet)) => packet,
            _ => return false,
        };
        match packet {
            Packet::Ping(data) if !probed && data == "probe" => {
                let pong = Frame::packet(Packet::Pong(data));
                if write(ws, vec![pong], codec).await.is_err() {
                    return false;
                }
                session.noop.notify_one();
                probed = true;
                noop.reset();
            }
            Packet::Upgrade => return true,
            _ => return false,
        }
    }
}

/// What the WebSocket loop does next.
enum Next {
    /// The session closed.
    Closed,
    /// Frames were taken from the queue (into the batch) to write.
    Write,
    /// The client sent something (or went away).
    Read(Option<Result<WsMessage, tokio_websockets::Error>>),
    /// The heartbeat deadline passed or moved earlier.
    Beat,
}

/// How the WebSocket loop goes on after a step.
enum Flow {
    /// It waits for the next thing.
    Continue,
    /// It ends, closing the session for the reason, if any.
    Stop(Option<CloseReason>),
    /// The socket itself failed (reset by the peer, a write that failed or
    /// timed out): it ends with [`CloseReason::TransportError`], and the
    /// socket gets no close handshake, which could only fail or wait again.
    Broken,
}

/// Serves a session on its WebSocket until either side ends it.
///
/// One task, waiting on four things at once in one `poll_fn`: the session's
/// close, its queue (both through the queue's one registered waker, kept
/// from turn to turn), the socket and the heartbeat timer.
async fn run<H: Handler>(
    engine: &Engine<H>,
    session: &Arc<Session>,
    mut ws: Ws,
    rx: &mut Receiver<'_>,
    codec: Codec,
) {
    let config = &engine.config;
    // A client that stops reading cannot hold the task forever.
    let write_timeout = config.ping_interval + config.ping_timeout;
    let mut batch = Vec::with_capacity(16);
    let mut heartbeat = pin!(tokio::time::sleep_until(session.heartbeat_deadline()));
    let (failure, broken) = loop {
        let deadline = session.heartbeat_deadline();
        if heartbeat.deadline() != deadline {
            heartbeat.as_mut().reset(deadline);
        }
        let next =
            poll_fn(|cx| poll_next(cx, session, rx, &mut batch, &mut ws, heartbeat.as_mut())).await;
        let flow = match next {
            Next::Closed => Flow::Stop(None),
            Next::Write => {
                write_batch(session, &mut ws, rx, &mut batch, write_timeout, codec).await
            }
            Next::Read(message) => read_batch(engine, session, &mut ws, rx, message, codec),
            Next::Beat => beat(session, &mut ws, config.ping_timeout).await,
        };
        match flow {
            Flow::Continue => {}
            Flow::Stop(failure) => break (failure, false),
            Flow::Broken => break (Some(CloseReason::TransportError), true),
        }
    };
    finish(session, &mut ws, rx, failure, broken, codec).await;
}

/// The loop's wait: the session's close first, then the queue, the socket
/// and the heartbeat timer, in that order.
#[inline]
fn poll_next(
    cx: &mut Context<'_>,
    session: &Session,
    rx: &mut Receiver<'_>,
    batch: &mut Vec<Frame>,
    ws: &mut Ws,
    heartbeat: Pin<&mut Sleep>,
) -> Poll<Next> {
    // Registered before looking at the close and the queue, so that a close
    // or a frame after the look wakes this task.
    rx.register(cx.waker());
    if session.is_closed() {
        Poll::Ready(Next::Closed)
    } else if rx.drain(batch, MAX_BATCH) > 0 {
        Poll::Ready(Next::Write)
    } else if let Poll::Ready(message) = ws.poll_next_unpin(cx) {
        Poll::Ready(Next::Read(message))
    } else if heartbeat.poll(cx).is_ready() || session.take_deadline_moved() {
        Poll::Ready(Next::Beat)
    } else {
        Poll::Pending
    }
}

/// Writes the frames taken from the queue, and flushes once.
async fn write_batch(
    session: &Session,
    ws: &mut Ws,
    rx: &mut Receiver<'_>,
    batch: &mut Vec<Frame>,
    write_timeout: Duration,
    codec: Codec,
) -> Flow {
    let mut written = pin!(tokio::time::timeout(
        write_timeout,
        write(ws, batch.drain(..), codec)
    ));
    // A write stuck on a client that does not read ends when the session is
    // dropped (its queue overflowed), not at the timeout; a close that
    // flushes waits for it.
    let written = poll_fn(|cx| {
        if let Poll::Ready(written) = written.as_mut().poll(cx) {
            return Poll::Ready(Some(written));
        }
        rx.register(cx.waker());
        match session.close_reason() {
            Some(reason) if !reason.flushes() => Poll::Ready(None),
            _ => Poll::Pending,
        }
    })
    .await;
    match written {
        Some(Ok(Ok(()))) => Flow::Continue,
        None => Flow::Stop(None),
        Some(_) => Flow::Broken,
    }
}

/// Hands the client's message, and every one already read after it, to
/// the session.
fn read_batch<H: Handler>(
    engine: &Engine<H>,
    session: &Arc<Session>,
    ws: &mut Ws,
    rx: &mut Receiver<'_>,
    mut message: Option<Result<WsMessage, tokio_websockets::Error>>,
    codec: Codec,
) -> Flow {
    // The answers this task queues itself need no wake-up: the loop looks
    // at the queue before it waits again.
    rx.unregister();
    // Take every message already read before writing anything: the answers
    // to a batch of requests then go out in one write.
    let mut taken = 0;
    loop {
        let broken = matches!(message, Some(Err(tokio_websockets::Error::Io(_))));
        if let Err(reason) = receive(engine, session, message, codec) {
            // `receive` answers a failed socket with a transport error.
            return if broken {
                Flow::Broken
            } else {
                Flow::Stop(Some(reason))
            };
        }
        taken += 1;
        if taken == MAX_BATCH || session.is_closed() {
            return Flow::Continue;
        }
        match ws.next().now_or_never() {
            Some(next) => message = next,
            None => return Flow::Continue,
        }
    }
}

/// Advances the heartbeat: a ping to send, or the session's end.
async fn beat(session: &Session, ws: &mut Ws, ping_timeout: Duration) -> Flow {
    match session.heartbeat_beat(Instant::now(), ping_timeout) {
        Beat::Wait => Flow::Continue,
        Beat::Ping => {
            if write(ws, vec![PING], Codec::V4).await.is_err() {
                Flow::Broken
            } else {
                Flow::Continue
            }
        }
        Beat::TimedOut => Flow::Stop(Some(CloseReason::PingTimeout)),
        Beat::Expired => Flow::Stop(Some(CloseReason::ForcedClose)),
    }
}

/// Ends the connection: the session closed for `failure`, what a flushing
/// close leaves queued sent, then the close handshake unless the socket is
/// `broken`.
async fn finish(
    session: &Arc<Session>,
    ws: &mut Ws,
    rx: &mut Receiver<'_>,
    failure: Option<CloseReason>,
    broken: bool,
    codec: Codec,
) {
    rx.unregister();
    if let Some(reason) = failure {
        session.close_with(reason);
    }
    if session.close_reason().is_some_and(CloseReason::flushes) {
        let mut frames = Vec::new();
        while rx.drain(&mut frames, usize::MAX) > 0 {}
        let _ = tokio::time::timeout(CLOSE_GRACE, write(ws, frames, codec)).await;
    }
    if !broken {
        close(ws).await;
    }
}

/// Hands one read result to the session; the reason to close on failure.
fn receive<H: Handler>(
    engine: &Engine<H>,
    session: &Arc<Session>,
    message: Option<Result<WsMessage, tokio_websockets::Error>>,
    codec: Codec,
) -> Result<(), CloseReason> {
    match message {
        Some(Ok(message)) => match decode(message, codec) {
            // Over WebSocket the client closes with a close frame; the
            // reference ignores a `1` here.
            Some(Ok(Packet::Close)) | None => Ok(()),
            Some(Ok(packet)) => {
                super::on_packet(engine, session, packet);
                Ok(())
            }
            Some(Err(e)) => {
                tracing::debug!(sid = %session.sid(), error = %e, "undecodable packet");
                Err(CloseReason::ParseError)
            }
        },
        Some(Err(e)) => {
            tracing::debug!(sid = %session.sid(), error = %e, "websocket error");
            Err(CloseReason::TransportError)
        }
        None => Err(CloseReason::TransportClose),
    }
}

/// The packet a WebSocket message carries; `None` for control frames.
///
/// In protocol 3 a binary frame starts with its packet type, and a text
/// frame may be a binary packet in base64 (`b4...`).
fn decode(message: WsMessage, codec: Codec) -> Option<Result<Packet, rally_proto::DecodeError>> {
    if message.is_binary() {
        let bytes = Bytes::from(message.into_payload());
        Some(Ok(match codec {
            Codec::V4 => Packet::Message(Message::Binary(bytes)),
            Codec::V3 { .. } => v3::decode_binary_frame(bytes),
        }))
    } else if message.is_text() {
        let text = Str::from_utf8(Bytes::from(message.into_payload()));
        Some(match codec {
            Codec::V4 => text.and_then(Packet::decode_text),
            Codec::V3 { .. } => text.and_then(v3::decode_packet),
        })
    } else {
        None
    }
}

/// Writes frames and flushes once.
async fn write(
    ws: &mut Ws,
    frames: impl IntoIterator<Item = Frame>,
    codec: Codec,
) -> Result<(), tokio_websockets::Error> {
    for frame in frames {
        let message = match (frame, codec) {
            (Frame::Text(text), _) => WsMessage::text(Bytes::from(text)),
            (Frame::Binary(bytes), Codec::V4) => WsMessage::binary(bytes),
            (Frame::Binary(bytes), Codec::V3 { binary: true }) => {
                WsMessage::binary(v3::encode_binary_frame(&bytes))
            }
            (Frame::Binary(bytes), Codec::V3 { binary: false }) => {
                WsMessage::text(Bytes::from(v3::encode_base64_packet(&bytes)))
            }
        };
        ws.feed(message).await?;
    }
    ws.flush().await
}

/// Sends a close frame with no status (as the reference does) and waits
/// briefly for the client's.
async fn close(ws: &mut Ws) {
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        // Fails when a close is under way already (the peer's, or the
        // 1009 of an oversize message): closing then finishes that one.
        let _ = ws.send(WsMessage::close(None, "")).await;
        ws.close().await
    })
    .await;
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn gathered_writes_send_slices_together_and_survive_short_writes() {
        // A pipe taking at most 7 bytes at a time: every write is short.
        let (near, mut far) = tokio::io::duplex(7);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            far.read_to_end(&mut got).await.map(|_| got)
        });
        let parts: [&[u8]; 3] = [b"head", b"payload-one", b"two"];
        let expected = parts.concat();
        let mut writer = Gathered(near);
        let mut written = 0;
        let mut first = None;
        while written < expected.len() {
            // What is left, as the frame queue would hand it over.
            let mut skip = written;
            let mut slices = Vec::new();
            for part in parts {
                if skip >= part.len() {
                    skip -= part.len();
                } else {
                    slices.push(IoSlice::new(&part[skip..]));
                    skip = 0;
                }
            }
            let n = writer.write_vectored(&slices).await.expect("written");
            first.get_or_insert(n);
            written += n;
        }
        // The first write took more than its first slice: it was gathered.
        assert_eq!(first, Some(7));
        writer.shutdown().await.expect("shut down");
        drop(writer);
        let got = reader.await.expect("no panic").expect("read");
        assert_eq!(got, expected);
    }
}

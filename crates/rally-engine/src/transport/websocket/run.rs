//! The one task that serves a session on its WebSocket.
//!
//! One `poll` does everything the connection needs, in this order: the
//! session's close, bytes the socket did not take yet, frames queued for
//! the client (laid out and written with one call), what the client sent
//! (handed to the session as it is read, so that the answers to a batch of
//! requests go out in the next single write), and the heartbeat timer. The
//! state it keeps between polls is the few fields of [`Run`]: no read
//! buffer, no batch vector, no nested futures.

use std::{
    cell::Cell,
    future::poll_fn,
    ops::ControlFlow,
    pin::{Pin, pin},
    sync::Arc,
    task::{Context, Poll},
};

use rally_proto::{
    DecodeError, Str,
    engine::{Frame, Packet},
    ws::{CloseCode, Incoming},
};
use tokio::time::{Instant, Sleep};

use super::{
    CLOSE_GRACE,
    conn::{Conn, ReadError},
    decode,
};
use crate::{
    CloseReason, Handler, Session,
    engine::Engine,
    queue::{Outgoing, Receiver},
    session::Beat,
};

/// How many queued frames one write takes.
const MAX_BATCH: usize = 256;
/// How many messages are handed to the session before the answers are
/// written.
const MAX_READ_BATCH: usize = 256;
/// How many turns one poll takes before letting other tasks run.
const TURNS: usize = 16;

const PING: Frame = Frame::Text(Str::from_static("2"));

thread_local! {
    /// The frames taken from a queue for one write, one vector per thread.
    static BATCH: Cell<Vec<Outgoing>> = const { Cell::new(Vec::new()) };
}

/// How the loop ended.
enum End {
    /// The session closed (by the server, or a reason already set).
    Closed,
    /// The session must close for this reason; the close frame carries
    /// `code`, if any.
    Stop(CloseReason, Option<CloseCode>),
    /// The socket itself failed (reset by the peer, a write that failed or
    /// timed out): no close handshake, which could only fail or wait again.
    Broken,
}

/// A session's WebSocket, between polls.
struct Run<'a, 'r, H: Handler> {
    engine: &'a Engine<H>,
    session: &'a Arc<Session>,
    conn: &'a mut Conn,
    rx: &'a mut Receiver<'r>,
    heartbeat: Pin<&'a mut Sleep>,
    /// Since when bytes have waited for a client that does not read.
    blocked_since: Option<Instant>,
}

/// Serves a session on its WebSocket until either side ends it.
pub(super) async fn serve<H: Handler>(engine: &Engine<H>, session: &Arc<Session>, conn: &mut Conn) {
    // The queue is free unless a poll still holds it: no wait then.
    let mut rx = match session.try_receiver() {
        Some(rx) => rx,
        None => Box::pin(session.receiver()).await,
    };
    let heartbeat = pin!(tokio::time::sleep_until(session.heartbeat_deadline()));
    let end = {
        let mut run = Run {
            engine,
            session,
            conn: &mut *conn,
            rx: &mut rx,
            heartbeat,
            blocked_since: None,
        };
        poll_fn(|cx| run.poll(cx)).await
    };
    // The rare paths are boxed, so that their futures take no room in every
    // connection's task while it runs.
    Box::pin(finish(session, conn, &mut rx, end)).await;
}

/// Ends the connection as `end` says: the session closed, what a flushing
/// close leaves queued sent, then the close handshake unless the socket
/// broke.
async fn finish(session: &Arc<Session>, conn: &mut Conn, rx: &mut Receiver<'_>, end: End) {
    rx.unregister();
    let (code, broken) = match end {
        End::Closed => (None, false),
        End::Stop(reason, code) => {
            session.close_with(reason);
            (code, false)
        }
        End::Broken => {
            session.close_with(CloseReason::TransportError);
            (None, true)
        }
    };
    if session.close_reason().is_some_and(CloseReason::flushes) {
        let mut frames = Vec::new();
        while rx.drain(&mut frames, usize::MAX) > 0 {}
        let _ = tokio::time::timeout(CLOSE_GRACE, conn.send(frames)).await;
    }
    if !broken {
        close(conn, code).await;
    }
}

/// Sends a close frame (no status, as the reference does, unless an error
/// gives one) and waits briefly for the client's.
pub(super) async fn close(conn: &mut Conn, code: Option<CloseCode>) {
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        if conn.send_close(code).await.is_err() {
            return;
        }
        // The client answers with its own close frame (or just goes).
        while let Ok(message) = conn.next().await {
            if matches!(message, Incoming::Close(..)) {
                break;
            }
        }
        conn.shutdown().await;
    })
    .await;
}

impl<H: Handler> Run<'_, '_, H> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<End> {
        let config = &self.engine.config;
        for _ in 0..TURNS {
            // Registered before looking at the close and the queue, so that
            // a close or a frame after the look wakes this task.
            self.rx.register(cx.waker());
            if self.session.is_closed() {
                return Poll::Ready(End::Closed);
            }
            // 1. What the socket did not take, and the flush of a write.
            if self.conn.needs_flush() {
                match self.conn.poll_flush(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(_)) => return Poll::Ready(End::Broken),
                    Poll::Pending => {}
                }
            }
            // 2. Queued frames, unless the client is not reading.
            if !self.conn.is_blocked() {
                let mut batch = BATCH.take();
                let n = self.rx.drain_outgoing(&mut batch, MAX_BATCH);
                let written = (n > 0).then(|| self.conn.write(cx, batch.drain(..)));
                BATCH.set(batch);
                match written {
                    Some(Ok(())) => continue,
                    Some(Err(_)) => return Poll::Ready(End::Broken),
                    None => {}
                }
            }
            // While the client does not take what is written, nothing more
            // is read from it (the answers could not go out either) and the
            // heartbeat waits: the write gives up after pingInterval +
            // pingTimeout, and the session ends with `transport error`.
            if self.conn.is_blocked() {
                let write_timeout = config.ping_interval + config.ping_timeout;
                let since = *self.blocked_since.get_or_insert_with(Instant::now);
                if since + write_timeout <= Instant::now() {
                    return Poll::Ready(End::Broken);
                }
                if self.heartbeat.deadline() != since + write_timeout {
                    self.heartbeat.as_mut().reset(since + write_timeout);
                }
                if self.heartbeat.as_mut().poll(cx).is_ready() {
                    continue;
                }
                return Poll::Pending;
            }
            self.blocked_since = None;
            // 3. What the client sent.
            match self.read(cx) {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(end)) => return Poll::Ready(end),
                Poll::Pending => {}
            }
            // 4. The heartbeat.
            let deadline = self.session.heartbeat_deadline();
            if self.heartbeat.deadline() != deadline {
                self.heartbeat.as_mut().reset(deadline);
            }
            let due = self.heartbeat.as_mut().poll(cx).is_ready();
            if !(due || self.session.take_deadline_moved()) {
                return Poll::Pending;
            }
            match self
                .session
                .heartbeat_beat(Instant::now(), config.ping_timeout)
            {
                Beat::Wait => {}
                Beat::Ping => {
                    let ping = Outgoing {
                        frame: PING,
                        compress: false,
                    };
                    if self.conn.write(cx, [ping]).is_err() {
                        return Poll::Ready(End::Broken);
                    }
                }
                Beat::TimedOut => {
                    return Poll::Ready(End::Stop(CloseReason::PingTimeout, None));
                }
                Beat::Expired => {
                    return Poll::Ready(End::Stop(CloseReason::ForcedClose, None));
                }
            }
        }
        // Many turns in a row: let other tasks run, then go on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Reads what the client sent and hands it to the session. Ready with
    /// `Ok` when something was read, with the end when the connection must
    /// end.
    fn read(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), End>> {
        let (engine, session) = (self.engine, self.session);
        let codec = self.conn.codec();
        // The answers this task queues itself need no wake-up: the loop
        // looks at the queue before it waits again.
        let rx = &*self.rx;
        let mut stop = None;
        let mut pong = None;
        let mut taken = 0;
        let polled = self.conn.poll_read(cx, |message| {
            if taken == 0 {
                rx.unregister();
            }
            taken += 1;
            match message {
                Incoming::Close(..) => {
                    stop = Some(End::Stop(CloseReason::TransportClose, None));
                    return ControlFlow::Break(());
                }
                Incoming::Ping(data) => pong = Some(data),
                message => match decode(message, codec) {
                    // Over WebSocket the client closes with a close frame;
                    // the reference ignores a `1` here.
                    Some(Ok(Packet::Close)) | None => {}
                    Some(Ok(packet)) => super::super::on_packet(engine, session, packet),
                    Some(Err(DecodeError::InvalidUtf8)) => {
                        let code = Some(CloseCode::INVALID_DATA);
                        stop = Some(End::Stop(CloseReason::TransportError, code));
                    }
                    Some(Err(e)) => {
                        tracing::debug!(sid = %session.sid(), error = %e, "undecodable packet");
                        stop = Some(End::Stop(CloseReason::ParseError, None));
                    }
                },
            }
            if stop.is_some() || taken == MAX_READ_BATCH || session.is_closed() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        if let Some(data) = pong {
            self.conn.queue_pong(&data);
        }
        if let Some(end) = stop {
            return Poll::Ready(Err(end));
        }
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(ReadError::Ws(e))) => {
                tracing::debug!(sid = %session.sid(), error = %e, "websocket error");
                Poll::Ready(Err(End::Stop(CloseReason::TransportError, Some(e.code()))))
            }
            Poll::Ready(Err(ReadError::Io(e))) => {
                tracing::debug!(sid = %session.sid(), error = %e, "websocket read failed");
                Poll::Ready(Err(End::Broken))
            }
            Poll::Ready(Err(ReadError::Eof)) => {
                Poll::Ready(Err(End::Stop(CloseReason::TransportClose, None)))
            }
        }
    }
}

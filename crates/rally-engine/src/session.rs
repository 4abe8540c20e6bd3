mod heartbeat;
mod upgrade;

use std::{
    any::Any,
    fmt,
    sync::{
        Arc, Mutex, MutexGuard, OnceLock, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use rally_proto::engine::{Frame, Message};
use tokio::{sync::Notify, time::Instant};

use crate::{
    CloseReason, Handshake, Protocol, SendError, Sid, Transport,
    queue::{Queue, Receiver},
    stats::Counters,
    transport::polling::Timed,
};

/// Told when a session ends, so that the engine can forget it.
pub(crate) trait Owner: Send + Sync {
    fn session_closed(&self, session: &Arc<Session>, reason: CloseReason);

    /// The session's heartbeat needs a look now rather than at its timed
    /// instant (a polling session's heartbeat is timed by its owner).
    fn wake_heartbeat(&self, session: &Session);
}

/// One client's Engine.IO session, whatever transport carries it.
///
/// Sessions are handed to your [`Handler`](crate::Handler). Sending never
/// waits: frames go to a bounded queue that the transport drains.
pub struct Session {
    sid: Sid,
    handshake: Handshake,
    protocol: Protocol,
    /// Whether a protocol 3 polling client takes binary bodies (it asked
    /// no `b64`); protocol 4 bodies are text always.
    polling_binary: bool,
    queue: Queue,
    state: Mutex<State>,
    /// Whether `state.close` is set, read without the lock on every send.
    is_closed: AtomicBool,
    /// Woken (all waiters) when the session closes.
    closed: Notify,
    /// Whether a pending poll (or the next one) should return a noop
    /// (during an upgrade); [`Session::ask_noop`] sets it.
    noop: AtomicBool,
    /// Set when an expiry comes before the heartbeat deadline, for the
    /// WebSocket task (woken through the queue) to set its timer again.
    deadline_moved: AtomicBool,
    owner: Weak<dyn Owner>,
    attachment: OnceLock<Box<dyn Any + Send + Sync>>,
    /// Whether the engine has been told the session ended.
    finalized: AtomicBool,
    counters: Arc<Counters>,
}

struct State {
    transport: Transport,
    upgrading: bool,
    posting: bool,
    close: Option<CloseReason>,
    heartbeat: Heartbeat,
    /// When the session is closed unless told otherwise ([`Session::expire_after`]).
    expiry: Option<Instant>,
    /// Where a polling session stands in its engine's heartbeat timer.
    timed: Option<Timed>,
}

/// Where the heartbeat stands: server-driven in protocol 4, client-driven
/// in protocol 3.
#[derive(Clone, Copy)]
enum Heartbeat {
    /// The next ping goes out at this instant.
    Idle(Instant),
    /// A ping went out; its pong must arrive before this instant.
    AwaitingPong(Instant),
    /// Protocol 3: the client's next ping must arrive before this instant.
    AwaitingPing(Instant),
}

impl State {
    /// When the transport's timer must fire next: the heartbeat's instant,
    /// or the expiry when that comes first.
    fn deadline(&self) -> Instant {
        let (Heartbeat::Idle(at) | Heartbeat::AwaitingPong(at) | Heartbeat::AwaitingPing(at)) =
            self.heartbeat;
        self.expiry.map_or(at, |expiry| expiry.min(at))
    }
}

/// What the heartbeat asks of the transport when its deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Beat {
    /// Not yet: sleep until the deadline again.
    Wait,
    /// Send a ping now.
    Ping,
    /// The pong is late: close the session.
    TimedOut,
    /// The session's expiry passed: close it ([`CloseReason::ForcedClose`]).
    Expired,
}

impl Session {
    pub(crate) fn new(
        handshake: Handshake,
        (protocol, polling_binary): (Protocol, bool),
        capacity: usize,
        (ping_interval, ping_timeout): (Duration, Duration),
        owner: Weak<dyn Owner>,
        counters: Arc<Counters>,
        tag: Option<crate::NodeTag>,
    ) -> Arc<Self> {
        counters.opened(handshake.transport);
        let heartbeat = match protocol {
            Protocol::V4 => Heartbeat::Idle(Instant::now() + ping_interval),
            Protocol::V3 => Heartbeat::AwaitingPing(Instant::now() + ping_interval + ping_timeout),
        };
        Arc::new(Self {
            sid: tag.map_or_else(Sid::random, Sid::random_tagged),
            state: Mutex::new(State {
                transport: handshake.transport,
                upgrading: false,
                posting: false,
                close: None,
                heartbeat,
                expiry: None,
                timed: None,
            }),
            handshake,
            protocol,
            polling_binary,
            is_closed: AtomicBool::new(false),
            queue: Queue::new(capacity),
            closed: Notify::new(),
            noop: AtomicBool::new(false),
            deadline_moved: AtomicBool::new(false),
            owner,
            attachment: OnceLock::new(),
            finalized: AtomicBool::new(false),
            counters,
        })
    }

    /// The session id, shared with the client.
    #[must_use]
    pub fn sid(&self) -> Sid {
        self.sid
    }

    /// The request that opened the session.
    #[must_use]
    pub fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    /// The Engine.IO protocol revision the session speaks, that of the
    /// request that opened it.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use rally_engine::{Protocol, Session};
    ///
    /// fn on_open(session: &Arc<Session>) {
    ///     if session.protocol() == Protocol::V3 {
    ///         // A Socket.IO v2 client: speak Socket.IO protocol 4 to it.
    ///     }
    /// }
    /// ```
    #[must_use]
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Whether polling replies may take the binary form (protocol 3 only).
    pub(crate) fn polling_binary(&self) -> bool {
        self.polling_binary
    }

    /// The transport carrying the session now.
    #[must_use]
    pub fn transport(&self) -> Transport {
        self.state().transport
    }

    /// Whether the session has ended.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.is_closed.load(Ordering::Acquire)
    }

    /// Why the session ended, once it has.
    #[must_use]
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.state().close
    }

    /// Attaches the application's state for this session, once; the layer
    /// above keeps its per-connection state here. False when something is
    /// attached already.
    ///
    /// ```
    /// # fn f(session: &rally_engine::Session) {
    /// struct Nickname(String);
    /// session.attach(Nickname("ada".into()));
    /// assert_eq!(session.attached::<Nickname>().map(|n| n.0.as_str()), Some("ada"));
    /// # }
    /// ```
    pub fn attach<T: Any + Send + Sync>(&self, value: T) -> bool {
        self.attachment.set(Box::new(value)).is_ok()
    }

    /// The state attached with [`attach`](Self::attach), if it is a `T`.
    #[must_use]
    pub fn attached<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.attachment.get()?.downcast_ref()
    }

    /// Queues a message for the client.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] once the session has ended, [`SendError::Full`]
    /// when the client has not read the last
    /// [`max_buffered_frames`](crate::Config::max_buffered_frames) frames: the
    /// caller decides whether to drop the message or close the session.
    pub fn send(&self, message: impl Into<Message>) -> Result<(), SendError> {
        self.send_frame(Frame::message(message.into()))
    }

    /// Queues an already encoded frame (shared by every recipient of a
    /// broadcast) for the client.
    ///
    /// # Errors
    ///
    /// As for [`send`](Self::send).
    pub fn send_frame(&self, frame: Frame) -> Result<(), SendError> {
        self.push(frame, true)
    }

    /// Queues a frame that goes out uncompressed even on a WebSocket with
    /// permessage-deflate (the reference's `compress: false`).
    ///
    /// # Errors
    ///
    /// As for [`send`](Self::send).
    pub fn send_frame_uncompressed(&self, frame: Frame) -> Result<(), SendError> {
        self.push(frame, false)
    }

    fn push(&self, frame: Frame, compress: bool) -> Result<(), SendError> {
        if self.is_closed() {
            return Err(SendError::Closed);
        }
        let len = frame.len();
        self.queue
            .push(frame, compress)
            .map(|()| self.counters.sent(len))
            .map_err(|_| SendError::Full)
    }

    /// Waits for the right to take the queued frames out (one transport at
    /// a time has it).
    pub(crate) async fn receiver(&self) -> Receiver<'_> {
        self.queue.receiver().await
    }

    /// The right to take the queued frames out, unless a transport has it.
    pub(crate) fn try_receiver(&self) -> Option<Receiver<'_>> {
        self.queue.try_receiver()
    }

    /// Ends the session with [`CloseReason::ForcedClose`], after what is
    /// already queued has been sent.
    pub fn close(self: &Arc<Self>) {
        self.close_with(CloseReason::ForcedClose);
    }

    /// Ends the session with `reason`. Closing twice keeps the first reason.
    ///
    /// With a reason that [flushes](CloseReason::flushes), what is already
    /// queued is still sent; otherwise it is dropped. A polling client
    /// fetches the rest with its next poll, so until then (or until a grace
    /// period passes) the session stays known to the engine, and
    /// [`Handler::on_close`](crate::Handler::on_close) waits for it.
    pub fn close_with(self: &Arc<Self>, reason: CloseReason) {
        let (transport, upgrading) = {
            let mut state = self.state();
            if state.close.is_some() {
                return;
            }
            state.close = Some(reason);
            self.is_closed.store(true, Ordering::Release);
            (state.transport, state.upgrading)
        };
        tracing::debug!(sid = %self.sid, %reason, "session closed");
        self.closed.notify_waiters();
        self.queue.wake();
        self.wake_heartbeat();
        // A polling client learns of the close from its next poll (after
        // what is still queued), as the reference's orderly close; one
        // in the middle of an upgrade has stopped polling.
        let draining = reason.flushes() && transport == Transport::Polling && !upgrading;
        if !draining {
            self.finalize();
        }
    }

    /// Whether the engine has been told the session ended.
    pub(crate) fn is_finalized(&self) -> bool {
        self.finalized.load(Ordering::Acquire)
    }

    /// Tells the engine, once, that the session has ended.
    pub(crate) fn finalize(self: &Arc<Self>) {
        let Some(reason) = self.close_reason() else {
            return;
        };
        if self.finalized.swap(true, Ordering::AcqRel) {
            return;
        }
        self.counters.closed(self.transport(), reason);
        if let Some(owner) = self.owner.upgrade() {
            owner.session_closed(self, reason);
        }
    }

    /// Resolves once the session has ended.
    pub async fn closed(&self) {
        let notified = self.closed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.is_closed() {
            return;
        }
        notified.await;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state inconsistent
        // (every update is a single assignment), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a message received from the client.
    pub(crate) fn received(&self, bytes: usize) {
        self.counters.received(bytes);
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("sid", &self.sid)
            .field("protocol", &self.protocol)
            .field("transport", &self.transport())
            .field("closed", &self.close_reason())
            .finish_non_exhaustive()
    }
}

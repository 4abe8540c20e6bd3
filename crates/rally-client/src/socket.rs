//! A socket: the client's presence in one namespace.

use std::{
    fmt,
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use rally_proto::Str;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::{
    AckFuture, Args, DisconnectReason, EmitError, Emitter, Error, Event, Manager,
    driver::Command,
    handler::{AuthFn, EventHandler, Handlers},
    manager::{ManagerShared, lock},
};

/// The client in one namespace: emits events, receives them, answers and
/// asks for acknowledgements.
///
/// Get one from [`Manager::socket`] (or [`io`](crate::io)), set its
/// handlers, then [`connect`](Self::connect). Cloning it is cheap: clones are
/// the same socket.
///
/// ```no_run
/// use rally_client::{Manager, Args};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let socket = Manager::new("http://127.0.0.1:3000")?.socket("/");
/// socket.on("chat", |_socket, event| async move {
///     if let Ok(text) = event.arg::<String>(0) {
///         println!("chat: {text}");
///     }
/// });
/// socket.connect().await?;
/// socket.emit("chat", "hello")?;
/// let reply = socket
///     .timeout(std::time::Duration::from_secs(5))
///     .emit_with_ack("add", Args::new().arg(&1).arg(&2))
///     .await?;
/// let sum: i64 = reply.arg(0)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Socket {
    pub(crate) manager: Arc<ManagerShared>,
    pub(crate) inner: Arc<SocketShared>,
}

/// What a socket's handles share with the manager's task.
pub(crate) struct SocketShared {
    pub(crate) nsp: Str,
    pub(crate) state: Mutex<SocketState>,
    pub(crate) handlers: Mutex<Handlers>,
    /// Whether `handlers` has outgoing listeners: checked for each event
    /// sent without taking the lock.
    outgoing: AtomicBool,
    pub(crate) auth: Mutex<Auth>,
}

/// The socket as its handles see it.
#[derive(Debug, Default, Clone)]
pub(crate) struct SocketState {
    pub(crate) id: Option<String>,
    pub(crate) connected: bool,
    pub(crate) active: bool,
    pub(crate) recovered: bool,
}

/// What the CONNECT packet carries.
#[derive(Clone, Default)]
pub(crate) enum Auth {
    #[default]
    None,
    Value(serde_json::Map<String, serde_json::Value>),
    With(AuthFn),
}

impl SocketShared {
    pub(crate) fn new(nsp: String) -> Self {
        Self {
            nsp: Str::from(nsp),
            state: Mutex::new(SocketState::default()),
            handlers: Mutex::new(Handlers::default()),
            outgoing: AtomicBool::new(false),
            auth: Mutex::new(Auth::None),
        }
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut SocketState)) {
        f(&mut lock(&self.state));
    }

    /// Whether the socket has outgoing listeners.
    pub(crate) fn has_outgoing(&self) -> bool {
        self.outgoing.load(Ordering::Acquire)
    }

    /// Changes the outgoing listeners (under the lock, so the flag follows
    /// the list).
    fn update_outgoing(&self, f: impl FnOnce(&mut Vec<EventHandler>)) {
        let mut handlers = lock(&self.handlers);
        f(&mut handlers.any_outgoing);
        self.outgoing
            .store(!handlers.any_outgoing.is_empty(), Ordering::Release);
    }
}

impl Socket {
    /// The namespace (`/`, `/admin`...).
    ///
    /// ```
    /// let socket = rally_client::io("http://127.0.0.1:3000/admin")?;
    /// assert_eq!(socket.nsp(), "/admin");
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    #[must_use]
    pub fn nsp(&self) -> &str {
        &self.inner.nsp
    }

    /// The socket id the server gave, while connected.
    ///
    /// ```
    /// # async fn run(socket: rally_client::Socket) -> Result<(), Box<dyn std::error::Error>> {
    /// socket.connect().await?;
    /// println!("connected as {}", socket.id().unwrap_or_default());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn id(&self) -> Option<String> {
        lock(&self.inner.state).id.clone()
    }

    /// Whether the socket is connected to its namespace.
    ///
    /// ```
    /// let socket = rally_client::io("http://127.0.0.1:3000")?;
    /// assert!(!socket.connected()); // not before `connect`
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    #[must_use]
    pub fn connected(&self) -> bool {
        lock(&self.inner.state).connected
    }

    /// Whether the socket wants to be connected: from
    /// [`connect`](Self::connect) until [`disconnect`](Self::disconnect), a
    /// refusal, or a disconnection by the server. An active socket that is
    /// not connected is waiting for a reconnection.
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) {
    /// if socket.active() && !socket.connected() {
    ///     println!("reconnecting...");
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn active(&self) -> bool {
        lock(&self.inner.state).active
    }

    /// Whether the last connection recovered the previous session (server
    /// with connection state recovery on): same id, rooms restored, missed
    /// events replayed.
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) {
    /// socket.on_connect(|socket| async move {
    ///     if !socket.recovered() {
    ///         // A new session: subscribe again.
    ///         let _ = socket.emit("subscribe", "news");
    ///     }
    /// });
    /// # }
    /// ```
    #[must_use]
    pub fn recovered(&self) -> bool {
        lock(&self.inner.state).recovered
    }

    /// The manager this socket belongs to.
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) {
    /// let admin = socket.manager().socket("/admin"); // same connection
    /// # }
    /// ```
    #[must_use]
    pub fn manager(&self) -> Manager {
        Manager {
            shared: self.manager.clone(),
        }
    }

    /// Sets the payload of the namespace CONNECT packet (`auth`), read by the
    /// server's middlewares as `socket.handshake.auth`. Used from the next
    /// connection on.
    ///
    /// ```
    /// # let socket = rally_client::Manager::new("http://127.0.0.1:3000")?.socket("/");
    /// socket.set_auth(&serde_json::json!({"token": "secret"}))?;
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`] unless `auth` serializes to a JSON object.
    #[doc(alias = "auth")]
    pub fn set_auth<T: Serialize + ?Sized>(&self, auth: &T) -> Result<(), Error> {
        match serde_json::to_value(auth) {
            Ok(serde_json::Value::Object(map)) => {
                *lock(&self.inner.auth) = Auth::Value(map);
                Ok(())
            }
            _ => Err(Error::InvalidOption("auth must be a json object".into())),
        }
    }

    /// Computes the CONNECT payload anew for each connection (a fresh token
    /// for each reconnection...). A value that is not an object is sent as
    /// no auth.
    ///
    /// ```
    /// # let socket = rally_client::Manager::new("http://127.0.0.1:3000")?.socket("/");
    /// socket.set_auth_with(|| async { serde_json::json!({"token": "fresh"}) });
    /// # Ok::<(), rally_client::Error>(())
    /// ```
    pub fn set_auth_with<F, Fut>(&self, auth: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = serde_json::Value> + Send + 'static,
    {
        *lock(&self.inner.auth) = Auth::With(Arc::new(move || Box::pin(auth())));
    }

    /// Connects to the namespace, opening the manager's connection if
    /// needed, and waits for the outcome.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let socket = rally_client::io("http://127.0.0.1:3000/admin")?;
    /// match socket.connect().await {
    ///     Ok(()) => println!("connected"),
    ///     Err(rally_client::Error::Refused { message, data }) => println!("refused: {message} {data:?}"),
    ///     Err(e) => println!("not yet: {e}"), // reconnection goes on
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// - [`Error::Refused`]: the namespace refused (unknown namespace, or a
    ///   middleware said no, with its `message` and `data`); the socket is no
    ///   longer active.
    /// - [`Error::Transport`], [`Error::Timeout`]: opening the connection
    ///   failed. With reconnection on (the default) the socket stays active
    ///   and the manager keeps trying in the background, as the official
    ///   client does: the socket connects later by itself
    ///   ([`on_connect`](Self::on_connect) tells), unless you
    ///   [`disconnect`](Self::disconnect) it.
    /// - [`Error::Closed`]: the socket was disconnected before it connected.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not cancel the connection, only the wait.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime (the manager's task is spawned on first use).
    pub async fn connect(&self) -> Result<(), Error> {
        let (done, outcome) = oneshot::channel();
        self.manager.start();
        self.manager
            .commands
            .send(Command::Connect(self.inner.clone(), Some(done)))
            .map_err(|_| Error::Closed)?;
        outcome.await.unwrap_or(Err(Error::Closed))
    }

    /// Leaves the namespace: the server is told, the socket is no longer
    /// active (no reconnection), and its disconnect handlers see
    /// `io client disconnect`. The manager's connection closes when this was
    /// its last active socket.
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) {
    /// socket.disconnect();
    /// assert!(!socket.connected());
    /// # }
    /// ```
    pub fn disconnect(&self) {
        let _ = self
            .manager
            .commands
            .send(Command::Disconnect(self.inner.clone()));
    }

    /// Emits `event` with `args`. While the socket is not connected the
    /// event waits in a buffer and goes out once it is. With
    /// [`retries`](crate::ManagerBuilder::retries) it goes through the
    /// socket's retry queue instead: sent after the events before it were
    /// acknowledged, and again until it is.
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) -> Result<(), rally_client::EmitError> {
    /// socket.emit("chat", "hi")?;
    /// socket.emit("move", rally_client::Args::new().arg(&1).arg(&2))?;
    /// socket.emit("ping", ())?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`EmitError::Reserved`] for a reserved event name,
    /// [`EmitError::Serialize`] when an argument does not serialize,
    /// [`EmitError::Closed`] when the manager is gone.
    pub fn emit(&self, event: &str, args: impl Into<Args>) -> Result<(), EmitError> {
        self.emitter().emit(event, args)
    }

    /// Emits `event` with `args` and waits for the server's answer, with no
    /// time limit (see [`timeout`](Self::timeout)).
    ///
    /// ```
    /// # async fn run(socket: rally_client::Socket) -> Result<(), Box<dyn std::error::Error>> {
    /// let reply = socket.emit_with_ack("join", "lobby").await?;
    /// let members: Vec<String> = reply.arg(0)?;
    /// # Ok(()) }
    /// ```
    ///
    /// The event is queued when this is called, not when the future is
    /// first polled.
    ///
    /// # Errors
    ///
    /// [`AckError::Disconnected`](crate::AckError::Disconnected) when the socket disconnects after the
    /// event went out and before the answer, [`AckError::Emit`](crate::AckError::Emit) when the emit
    /// fails (see [`emit`](Self::emit)), [`AckError::Timeout`](crate::AckError::Timeout) past the
    /// manager's [`ack_timeout`](crate::ManagerBuilder::ack_timeout). With
    /// [`retries`](crate::ManagerBuilder::retries), the failure of the last try.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the answer, not the event.
    #[doc(alias = "emitWithAck")]
    pub fn emit_with_ack(&self, event: &str, args: impl Into<Args>) -> AckFuture {
        self.emitter().emit_with_ack(event, args)
    }

    /// Emits with a time limit on the answer: past it,
    /// [`emit_with_ack`](Emitter::emit_with_ack) fails with
    /// [`AckError::Timeout`](crate::AckError::Timeout) (and an event still buffered is dropped).
    /// It overrides the manager's [`ack_timeout`](crate::ManagerBuilder::ack_timeout);
    /// with [`retries`](crate::ManagerBuilder::retries) it limits each try.
    ///
    /// ```
    /// # async fn run(socket: rally_client::Socket) {
    /// use std::time::Duration;
    ///
    /// match socket.timeout(Duration::from_millis(500)).emit_with_ack("ping", ()).await {
    ///     Ok(reply) => println!("pong: {:?}", reply.raw_arg(0)),
    ///     Err(e) => println!("no pong: {e}"), // "operation has timed out"
    /// }
    /// # }
    /// ```
    pub fn timeout(&self, timeout: Duration) -> Emitter<'_> {
        self.emitter().timeout(timeout)
    }

    /// Emits an event that may be lost: it is dropped, not buffered, while
    /// the socket is not connected, and it skips the retry queue of
    /// [`retries`](crate::ManagerBuilder::retries). An acknowledgement asked
    /// for a dropped event fails with
    /// [`AckError::Disconnected`](crate::AckError::Disconnected).
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) {
    /// let _ = socket.volatile().emit("cursor", &[10, 20]);
    /// # }
    /// ```
    pub fn volatile(&self) -> Emitter<'_> {
        self.emitter().volatile()
    }

    fn emitter(&self) -> Emitter<'_> {
        Emitter {
            socket: self,
            timeout: None,
            volatile: false,
        }
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.inner.state).clone();
        f.debug_struct("Socket")
            .field("nsp", &self.inner.nsp)
            .field("id", &state.id)
            .field("connected", &state.connected)
            .field("active", &state.active)
            .finish()
    }
}

// The handler setters, in their own block for readability.
impl Socket {
    /// Handles event `event` (replacing an earlier handler for it). The
    /// handler gets the socket and the [`Event`], whose
    /// [`ack`](Event::ack) answers the server when it asked.
    ///
    /// Handlers run in the order events arrive; one that finishes without
    /// waiting costs no task, one that waits goes on in a task of its own.
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) {
    /// socket.on("ping", |_socket, mut event| async move {
    ///     let _ = event.ack("pong");
    /// });
    /// # }
    /// ```
    pub fn on<F, Fut>(&self, event: &str, handler: F)
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        lock(&self.inner.handlers).events.insert(
            event.to_owned(),
            Arc::new(move |s, e| Box::pin(handler(s, e))),
        );
    }

    /// Removes the handler of event `event`.
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) {
    /// socket.on("tick", |_, _| async {});
    /// socket.off("tick");
    /// # }
    /// ```
    pub fn off(&self, event: &str) {
        lock(&self.inner.handlers).events.remove(event);
    }

    /// Handles every event (a catch-all), before its own handler. It gets
    /// the acknowledgement only when the event has no handler of its own.
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) {
    /// socket.on_any(|_socket, event| async move {
    ///     println!("{} with {} args", event.name(), event.len());
    /// });
    /// # }
    /// ```
    #[doc(alias = "onAny")]
    pub fn on_any<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        lock(&self.inner.handlers)
            .any
            .push(Arc::new(move |s, e| Box::pin(handler(s, e))));
    }

    /// Sees every event the socket sends, as it goes out (`onAnyOutgoing`):
    /// at once when connected, on connection for an event buffered
    /// meanwhile, and at each try with [`retries`](crate::ManagerBuilder::retries).
    /// A volatile event dropped is not seen. Listeners run in the order
    /// they were added, and see the events in the order they go out; the
    /// [`Event`] has no acknowledgement to give.
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) {
    /// socket.on_any_outgoing(|_socket, event| async move {
    ///     println!("sent {} with {} args", event.name(), event.len());
    /// });
    /// # }
    /// ```
    #[doc(alias = "onAnyOutgoing")]
    pub fn on_any_outgoing<F, Fut>(&self, listener: F)
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener: EventHandler = Arc::new(move |s, e| Box::pin(listener(s, e)));
        self.inner.update_outgoing(|l| l.push(listener));
    }

    /// As [`on_any_outgoing`](Self::on_any_outgoing), but the listener runs
    /// before those already added (`prependAnyOutgoing`).
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) {
    /// socket.on_any_outgoing(|_, _| async { /* second */ });
    /// socket.prepend_any_outgoing(|_, _| async { /* first */ });
    /// # }
    /// ```
    #[doc(alias = "prependAnyOutgoing")]
    pub fn prepend_any_outgoing<F, Fut>(&self, listener: F)
    where
        F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener: EventHandler = Arc::new(move |s, e| Box::pin(listener(s, e)));
        self.inner.update_outgoing(|l| l.insert(0, listener));
    }

    /// Removes every outgoing listener (`offAnyOutgoing()`).
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) {
    /// socket.on_any_outgoing(|_, _| async {});
    /// socket.off_any_outgoing();
    /// # }
    /// ```
    #[doc(alias = "offAnyOutgoing")]
    pub fn off_any_outgoing(&self) {
        self.inner.update_outgoing(Vec::clear);
    }

    /// Runs `handler` each time the socket connects (after the events
    /// buffered meanwhile went out). [`recovered`](Self::recovered) tells
    /// whether the session was recovered.
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) {
    /// socket.on_connect(|socket| async move {
    ///     println!("connected as {:?}", socket.id());
    /// });
    /// # }
    /// ```
    #[doc(alias = "connect")]
    pub fn on_connect<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        lock(&self.inner.handlers)
            .connect
            .push(Arc::new(move |s| Box::pin(handler(s))));
    }

    /// Runs `handler` each time the socket loses its connection, with the
    /// reason.
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) {
    /// socket.on_disconnect(|_socket, reason| async move {
    ///     println!("disconnected: {reason}, reconnecting: {}", reason.will_reconnect());
    /// });
    /// # }
    /// ```
    #[doc(alias = "disconnect")]
    pub fn on_disconnect<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        lock(&self.inner.handlers)
            .disconnect
            .push(Arc::new(move |s, r| Box::pin(handler(s, r))));
    }

    /// Runs `handler` each time connecting fails: a refusal by the
    /// namespace, or a failed attempt to open the connection.
    ///
    /// ```
    /// # fn run(socket: rally_client::Socket) {
    /// socket.on_connect_error(|_socket, error| async move {
    ///     if let rally_client::Error::Refused { message, data } = &error {
    ///         println!("refused: {message} {data:?}");
    ///     }
    /// });
    /// # }
    /// ```
    #[doc(alias = "connect_error")]
    pub fn on_connect_error<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, Error) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        lock(&self.inner.handlers)
            .connect_error
            .push(Arc::new(move |s, e| Box::pin(handler(s, e))));
    }
}

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        Arc, OnceLock, RwLock, RwLockReadGuard, Weak,
        atomic::{AtomicU64, Ordering},
    },
};

use rally_engine::{Sid, SidMap};

use crate::{
    AdapterError, Args, BroadcastOperator, ConnectError, DisconnectReason, Event, IntoRooms,
    ServerEvent, Socket, adapter::Adapter, run::run_detached,
};

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type SocketHandler = Arc<dyn Fn(Arc<Socket>) -> BoxFuture<()> + Send + Sync>;
type EventHandler = Arc<dyn Fn(Arc<Socket>, Event) -> BoxFuture<()> + Send + Sync>;
type DisconnectHandler = Arc<dyn Fn(Arc<Socket>, DisconnectReason) -> BoxFuture<()> + Send + Sync>;
type Middleware = Arc<dyn Fn(Arc<Socket>) -> BoxFuture<Result<(), ConnectError>> + Send + Sync>;
type OutgoingHandler = Arc<dyn Fn(&Socket, &str, &Args) + Send + Sync>;
type EmptyHook = Box<dyn Fn(&str) + Send + Sync>;
/// Makes the adapter of a new namespace.
pub(crate) type AdapterFactory = Arc<dyn Fn(Weak<Namespace>) -> Arc<dyn Adapter> + Send + Sync>;
type ServerEventHandler = Arc<dyn Fn(ServerEvent) -> BoxFuture<()> + Send + Sync>;
type EventMiddleware = Arc<dyn Fn(&Arc<Socket>, &Event) -> Result<(), ConnectError> + Send + Sync>;

#[derive(Default)]
struct Handlers {
    connection: Vec<SocketHandler>,
    middlewares: Vec<Middleware>,
    events: HashMap<String, EventHandler>,
    any: Option<EventHandler>,
    any_outgoing: Option<OutgoingHandler>,
    event_middlewares: Vec<EventMiddleware>,
    disconnecting: Vec<DisconnectHandler>,
    disconnect: Vec<DisconnectHandler>,
    server_events: HashMap<String, ServerEventHandler>,
}

/// A namespace: a channel of its own on a shared connection, with its own
/// handlers, sockets and rooms.
///
/// Handlers live on the namespace, not on each socket: register them once,
/// they apply to every socket that joins.
///
/// ```
/// # fn setup(io: &rally::Server) {
/// let chat = io.of("/chat");
/// chat.on_connection(|socket| async move {
///     socket.join("lobby");
/// });
/// chat.on("say", |socket, event| async move {
///     if let Ok(text) = event.arg::<String>(0) {
///         let _ = socket.to("lobby").emit("said", &text);
///     }
/// });
/// # }
/// ```
pub struct Namespace {
    name: String,
    /// Shared with the dynamic children of a parent namespace.
    handlers: Arc<RwLock<Handlers>>,
    sockets: RwLock<SidMap<Arc<Socket>>>,
    adapter: OnceLock<Arc<dyn Adapter>>,
    ack_ids: AtomicU64,
    children: RwLock<Vec<Weak<Namespace>>>,
    /// Called with the name of a dynamic child that lost its last socket,
    /// when the server cleans those up.
    on_empty: OnceLock<EmptyHook>,
}

impl Namespace {
    pub(crate) fn new(name: String, adapter: &AdapterFactory) -> Arc<Self> {
        Self::with_handlers(name, adapter, Arc::default())
    }

    /// A child of a dynamic namespace: its own sockets and rooms, the
    /// parent's handlers (registered before or after it was created).
    pub(crate) fn child(
        name: String,
        adapter: &AdapterFactory,
        parent: &Arc<Namespace>,
    ) -> Arc<Self> {
        let child = Self::with_handlers(name, adapter, parent.handlers.clone());
        parent
            .children
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&child));
        child
    }

    fn with_handlers(
        name: String,
        adapter: &AdapterFactory,
        handlers: Arc<RwLock<Handlers>>,
    ) -> Arc<Self> {
        let ns = Arc::new(Self {
            name,
            handlers,
            sockets: RwLock::default(),
            adapter: OnceLock::new(),
            ack_ids: AtomicU64::new(0),
            children: RwLock::default(),
            on_empty: OnceLock::new(),
        });
        // Made once the namespace exists, so the factory can read its name
        // (a cluster adapter names its channels after it).
        let _ = ns.adapter.set(adapter(Arc::downgrade(&ns)));
        ns
    }

    /// The namespace's name, such as `/` or `/admin`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The adapter holding its rooms.
    #[must_use]
    pub fn adapter(&self) -> &Arc<dyn Adapter> {
        // Set by the constructor before the namespace is shared.
        self.adapter
            .get()
            .expect("a namespace's adapter is set when it is made")
    }

    fn handlers(&self) -> RwLockReadGuard<'_, Handlers> {
        self.handlers.read().unwrap_or_else(|e| e.into_inner())
    }

    fn edit(&self, f: impl FnOnce(&mut Handlers)) {
        f(&mut self.handlers.write().unwrap_or_else(|e| e.into_inner()));
    }

    /// Runs `handler` for every socket that connects, after the middlewares
    /// let it in.
    pub fn on_connection<F, Fut>(&self, handler: F)
    where
        F: Fn(Arc<Socket>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.edit(|h| h.connection.push(Arc::new(move |s| Box::pin(handler(s)))));
    }

    /// Adds a connect middleware: it sees the socket before it joins (its
    /// auth, handshake, data) and may refuse it with a [`ConnectError`],
    /// which the client receives as `connect_error`.
    ///
    /// ```
    /// # fn setup(ns: &rally::Namespace) {
    /// ns.use_middleware(|socket| async move {
    ///     match socket.auth::<serde_json::Value>() {
    ///         Ok(auth) if auth["token"] == "secret" => Ok(()),
    ///         _ => Err(rally::ConnectError::new("not authorized")),
    ///     }
    /// });
    /// # }
    /// ```
    pub fn use_middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Arc<Socket>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.edit(|h| {
            h.middlewares
                .push(Arc::new(move |s| Box::pin(middleware(s))))
        });
    }

    /// Handles the event `event` from any socket of the namespace.
    pub fn on<F, Fut>(&self, event: &str, handler: F)
    where
        F: Fn(Arc<Socket>, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: EventHandler = Arc::new(move |s, e| Box::pin(handler(s, e)));
        self.edit(|h| {
            h.events.insert(event.to_owned(), handler);
        });
    }

    /// Sees every incoming event, before its own handler (the reference's
    /// `onAny`). An event without a handler of its own is handed over
    /// whole, acknowledgement included; otherwise this sees a copy
    /// without it.
    pub fn on_any<F, Fut>(&self, handler: F)
    where
        F: Fn(Arc<Socket>, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.edit(|h| h.any = Some(Arc::new(move |s, e| Box::pin(handler(s, e)))));
    }

    /// Sees every event sent to a socket of the namespace, emitted to it
    /// alone or broadcast (the reference's `onAnyOutgoing`).
    pub fn on_any_outgoing<F>(&self, handler: F)
    where
        F: Fn(&Socket, &str, &Args) + Send + Sync + 'static,
    {
        self.edit(|h| h.any_outgoing = Some(Arc::new(handler)));
    }

    /// Adds an event middleware (the reference's `socket.use`): it sees
    /// each incoming event first and may reject it; a rejected event is
    /// dropped, and the rejection logged.
    pub fn use_event_middleware<F>(&self, middleware: F)
    where
        F: Fn(&Arc<Socket>, &Event) -> Result<(), ConnectError> + Send + Sync + 'static,
    {
        self.edit(|h| h.event_middlewares.push(Arc::new(middleware)));
    }

    /// Runs `handler` when a socket is about to leave, its rooms still filled.
    pub fn on_disconnecting<F, Fut>(&self, handler: F)
    where
        F: Fn(Arc<Socket>, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.edit(|h| {
            h.disconnecting
                .push(Arc::new(move |s, r| Box::pin(handler(s, r))))
        });
    }

    /// Runs `handler` once a socket has left.
    pub fn on_disconnect<F, Fut>(&self, handler: F)
    where
        F: Fn(Arc<Socket>, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.edit(|h| {
            h.disconnect
                .push(Arc::new(move |s, r| Box::pin(handler(s, r))))
        });
    }

    /// Handles the server-side event `event` that other nodes of the
    /// cluster send (the reference's `io.on("event", ...)` for
    /// `serverSideEmit`).
    #[doc(alias = "serverSideEmit")]
    pub fn on_server_event<F, Fut>(&self, event: &str, handler: F)
    where
        F: Fn(ServerEvent) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: ServerEventHandler = Arc::new(move |e| Box::pin(handler(e)));
        self.edit(|h| {
            h.server_events.insert(event.to_owned(), handler);
        });
    }

    /// Sends the event `event` with `args` to the other nodes of the
    /// cluster, whose [`on_server_event`](Self::on_server_event) handlers
    /// get it; without a cluster adapter it goes nowhere.
    ///
    /// ```
    /// # fn f(io: &rally::Server) {
    /// io.of("/").server_side_emit("reload", vec![serde_json::json!({"all": true})]);
    /// # }
    /// ```
    #[doc(alias = "serverSideEmit")]
    pub fn server_side_emit(&self, event: &str, args: Vec<serde_json::Value>) {
        self.adapter().server_side_emit(server_data(event, args));
    }

    /// Sends the event `event` with `args` to the other nodes and gathers
    /// one answer from each.
    ///
    /// # Errors
    ///
    /// [`AdapterError::Timeout`] when a node does not answer within the
    /// adapter's requests timeout.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future forgets the answers still due.
    #[doc(alias = "serverSideEmitWithAck")]
    pub async fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: Vec<serde_json::Value>,
    ) -> Result<Vec<serde_json::Value>, AdapterError> {
        self.adapter()
            .server_side_emit_with_ack(server_data(event, args))
            .await
    }

    /// Runs the handler of a server-side event from another node (called by
    /// cluster adapters); an event without a handler is dropped, and its
    /// ack never answered.
    pub fn dispatch_server_event(&self, event: ServerEvent) {
        let handler = self.handlers().server_events.get(event.name()).cloned();
        if let Some(handler) = handler {
            run_detached(handler(event));
        }
    }

    /// Calls `listener` on every room change of this namespace on this
    /// node: `create-room`, `join-room`, `leave-room`, `delete-room`.
    pub fn on_room_event(
        &self,
        listener: impl Fn(&crate::adapter::RoomEvent) + Send + Sync + 'static,
    ) {
        self.adapter().on_room_event(Box::new(listener));
    }

    /// The connected socket with id `id`.
    #[must_use]
    pub fn get_socket(&self, id: Sid) -> Option<Arc<Socket>> {
        self.sockets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// The connected sockets among `ids` (one lock for all).
    pub(crate) fn sockets_by_id(&self, ids: &[Sid]) -> Vec<Arc<Socket>> {
        let sockets = self.sockets.read().unwrap_or_else(|e| e.into_inner());
        ids.iter()
            .filter_map(|id| sockets.get(id).cloned())
            .collect()
    }

    /// Every connected socket.
    #[must_use]
    pub fn sockets(&self) -> Vec<Arc<Socket>> {
        self.sockets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Targets every socket of the namespace.
    pub fn broadcast(self: &Arc<Self>) -> BroadcastOperator {
        BroadcastOperator::new(self.clone())
    }

    /// Targets the sockets in `rooms`.
    pub fn to(self: &Arc<Self>, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Targets every socket except those in `rooms`.
    pub fn except(self: &Arc<Self>, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// Sends an event to every socket of the namespace (and of its dynamic
    /// children).
    ///
    /// # Errors
    ///
    /// As for [`BroadcastOperator::emit`].
    pub fn emit(
        self: &Arc<Self>,
        event: &str,
        args: impl Into<Args>,
    ) -> Result<(), crate::EmitError> {
        self.broadcast().emit(event, args)
    }

    /// A fresh acknowledgement id of this namespace (for adapters that
    /// build packets asking for answers).
    #[must_use]
    pub fn next_ack_id(&self) -> u64 {
        self.ack_ids.fetch_add(1, Ordering::Relaxed)
    }

    /// The dynamic namespaces created from this one that are still alive.
    pub(crate) fn children(&self) -> Vec<Arc<Namespace>> {
        let mut children = self.children.write().unwrap_or_else(|e| e.into_inner());
        children.retain(|c| c.strong_count() > 0);
        children.iter().filter_map(Weak::upgrade).collect()
    }

    /// Asks to be told when this (dynamic child) namespace becomes empty.
    pub(crate) fn when_empty(&self, f: impl Fn(&str) + Send + Sync + 'static) {
        let _ = self.on_empty.set(Box::new(f));
    }

    pub(crate) fn remove_if_empty_child(&self) {
        if let Some(on_empty) = self.on_empty.get() {
            if self.is_empty() {
                on_empty(&self.name);
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.sockets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Runs the connect middlewares in order.
    pub(crate) async fn run_middlewares(&self, socket: &Arc<Socket>) -> Result<(), ConnectError> {
        let middlewares = self.handlers().middlewares.clone();
        for middleware in middlewares {
            middleware(socket.clone()).await?;
        }
        Ok(())
    }

    /// Registers a socket that passed the middlewares (in its own room and,
    /// when recovered, its former `rooms`) and runs the connection handlers.
    pub(crate) fn connect(&self, socket: &Arc<Socket>, rooms: &[crate::Room]) {
        self.sockets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(socket.id(), socket.clone());
        self.adapter()
            .add_all(socket.id(), &[crate::Room::from(socket.id().as_str())]);
        if !rooms.is_empty() {
            self.adapter().add_all(socket.id(), rooms);
        }
        for handler in self.handlers().connection.clone() {
            run_detached(handler(socket.clone()));
        }
    }

    pub(crate) fn remove_socket(&self, id: Sid) {
        self.sockets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// Hands an incoming event to the catch-all and to its handler.
    pub(crate) fn dispatch(&self, socket: &Arc<Socket>, event: Event) {
        let (handler, any) = {
            let handlers = self.handlers();
            for middleware in &handlers.event_middlewares {
                if let Err(e) = middleware(socket, &event) {
                    tracing::debug!(socket = %socket.id(), event = event.name(), error = %e, "event rejected by a middleware");
                    return;
                }
            }
            (
                handlers.events.get(event.name()).cloned(),
                handlers.any.clone(),
            )
        };
        match (handler, any) {
            (Some(handler), Some(any)) => {
                run_detached(any(socket.clone(), event.without_ack()));
                run_detached(handler(socket.clone(), event));
            }
            (Some(handler), None) | (None, Some(handler)) => {
                run_detached(handler(socket.clone(), event))
            }
            (None, None) => {}
        }
    }

    /// Whether an `on_any_outgoing` handler is registered.
    pub(crate) fn watches_outgoing(&self) -> bool {
        self.handlers().any_outgoing.is_some()
    }

    pub(crate) fn outgoing(&self, socket: &Socket, event: &str, args: &Args) {
        let handler = self.handlers().any_outgoing.clone();
        if let Some(handler) = handler {
            handler(socket, event, args);
        }
    }

    pub(crate) fn fire_disconnecting(&self, socket: &Arc<Socket>, reason: DisconnectReason) {
        for handler in self.handlers().disconnecting.clone() {
            run_detached(handler(socket.clone(), reason));
        }
    }

    pub(crate) fn fire_disconnect(&self, socket: &Arc<Socket>, reason: DisconnectReason) {
        for handler in self.handlers().disconnect.clone() {
            run_detached(handler(socket.clone(), reason));
        }
    }
}

/// A server-side event as the reference sends it: its name, then its
/// arguments.
fn server_data(event: &str, args: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    let mut data = Vec::with_capacity(args.len() + 1);
    data.push(serde_json::Value::String(event.to_owned()));
    data.extend(args);
    data
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

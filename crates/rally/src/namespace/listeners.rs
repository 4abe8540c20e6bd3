//! The namespace's handlers: registering them, and calling them for each
//! connection, event, disconnection and server-side event.

use std::{
    future::Future,
    sync::{Arc, RwLockReadGuard, atomic::Ordering},
};

use super::{EventHandler, Handlers, Namespace, ServerEventHandler};
use crate::{
    Args, ConnectError, DisconnectReason, Event, ServerEvent, Socket,
    run::{run_detached, run_made},
};

impl Namespace {
    pub(super) fn handlers(&self) -> RwLockReadGuard<'_, Handlers> {
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

    /// Listens to the event `event` from any socket of the namespace.
    ///
    /// Listeners add up: each one registered for `event` runs, in
    /// registration order, before the socket's own listeners
    /// ([`Socket::on`]). They share the event's acknowledgement: the first
    /// to answer it wins, later answers do nothing.
    ///
    /// ```
    /// # fn setup(ns: &rally::Namespace) {
    /// ns.on("shout", |socket, _event| async move { let _ = socket.emit("heard", "first"); });
    /// ns.on("shout", |socket, _event| async move { let _ = socket.emit("heard", "second"); });
    /// # }
    /// ```
    pub fn on<F, Fut>(&self, event: &str, handler: F)
    where
        F: Fn(Arc<Socket>, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: EventHandler = Arc::new(move |s, e| Box::pin(handler(s, e)));
        self.edit(|h| {
            let list = h.events.entry(event.to_owned()).or_default();
            *list = list.iter().cloned().chain([handler]).collect();
        });
    }

    /// Removes the namespace's listeners of `event` (the sockets' own stay).
    pub fn off(&self, event: &str) {
        self.edit(|h| {
            h.events.remove(event);
        });
    }

    /// Sees every incoming event, before its listeners and the socket's
    /// own catch-alls (the reference's `onAny`). An event without a
    /// listener is handed over whole, acknowledgement included; otherwise
    /// this sees a copy without it. A second call replaces the first.
    pub fn on_any<F, Fut>(&self, handler: F)
    where
        F: Fn(Arc<Socket>, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.edit(|h| h.any = Some(Arc::new(move |s, e| Box::pin(handler(s, e)))));
    }

    /// Sees every event sent to a socket of the namespace, emitted to it
    /// alone or broadcast (the reference's `onAnyOutgoing`), before the
    /// socket's own ([`Socket::on_any_outgoing`]). A second call replaces
    /// the first.
    pub fn on_any_outgoing<F>(&self, handler: F)
    where
        F: Fn(&Socket, &str, &Args) + Send + Sync + 'static,
    {
        self.edit(|h| h.any_outgoing = Some(Arc::new(handler)));
    }

    /// Adds an event middleware for every socket of the namespace (a
    /// synchronous, namespace-wide form of the reference's `socket.use`;
    /// see [`Socket::use_middleware`] for the per-socket one): it sees each
    /// incoming event first and may reject it; a rejected event is dropped,
    /// and the rejection logged.
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

    /// Runs the handler of a server-side event from another node (called by
    /// cluster adapters); an event without a handler is dropped, and its
    /// ack never answered.
    ///
    /// Plumbing for cluster adapters such as `rally-redis`, hidden from the
    /// documentation: applications register with
    /// [`on_server_event`](Self::on_server_event) instead.
    #[doc(hidden)]
    pub fn dispatch_server_event(&self, event: ServerEvent) {
        let handler = self.handlers().server_events.get(event.name()).cloned();
        if let Some(handler) = handler {
            run_detached(handler(event));
        }
    }

    /// Runs the connect middlewares in order.
    pub(crate) async fn run_middlewares(&self, socket: &Arc<Socket>) -> Result<(), ConnectError> {
        let middlewares = self.handlers().middlewares.clone();
        for middleware in middlewares {
            middleware(socket.clone()).await?;
        }
        Ok(())
    }

    /// Hands an incoming event to the catch-all and to its listeners, or
    /// to its socket when that has listeners or middlewares of its own.
    pub(crate) fn dispatch(&self, socket: &Arc<Socket>, event: Event) {
        let (listeners, any) = {
            let handlers = self.handlers();
            for middleware in &handlers.event_middlewares {
                if let Err(e) = middleware(socket, &event) {
                    tracing::debug!(socket = %socket.id(), event = event.name(), error = %e, "event rejected by a middleware");
                    return;
                }
            }
            if socket.listens() {
                drop(handlers);
                socket.receive(event);
                return;
            }
            (
                handlers.events.get(event.name()).cloned(),
                handlers.any.clone(),
            )
        };
        let listeners = listeners.as_deref().unwrap_or_default();
        deliver(
            socket,
            event,
            any.as_ref(),
            &[],
            listeners.len(),
            listeners.iter(),
        );
    }

    /// The namespace's catch-all and listeners of `event`.
    pub(crate) fn listeners_of(
        &self,
        event: &str,
    ) -> (Option<EventHandler>, Option<Arc<[EventHandler]>>) {
        let handlers = self.handlers();
        (handlers.any.clone(), handlers.events.get(event).cloned())
    }

    /// Whether an `on_any_outgoing` listener is registered, here or on a
    /// socket of the namespace.
    pub(crate) fn watches_outgoing(&self) -> bool {
        self.outgoing_sockets.load(Ordering::Acquire) > 0 || self.handlers().any_outgoing.is_some()
    }

    /// Counts a socket that gained (`true`) or lost its outgoing listeners.
    pub(crate) fn count_outgoing(&self, gained: bool) {
        if gained {
            self.outgoing_sockets.fetch_add(1, Ordering::AcqRel);
        } else {
            self.outgoing_sockets.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Shows an outgoing event to the namespace's `on_any_outgoing`
    /// listener, then to the socket's own.
    pub(crate) fn outgoing(&self, socket: &Socket, event: &str, args: &Args) {
        let handler = self.handlers().any_outgoing.clone();
        if let Some(handler) = handler {
            handler(socket, event, args);
        }
        socket.notify_outgoing(event, args);
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

/// Runs the catch-alls and the listeners of one event, in that order.
///
/// The listeners share the event's acknowledgement (the first answer
/// wins); the catch-alls see copies without it, unless the event has no
/// listener, when they share it instead. A single recipient gets the event
/// itself: nothing is copied or allocated.
pub(crate) fn deliver<'a>(
    socket: &Arc<Socket>,
    event: Event,
    any: Option<&'a EventHandler>,
    socket_any: &'a [EventHandler],
    count: usize,
    listeners: impl Iterator<Item = &'a EventHandler>,
) {
    let catch_alls = any.into_iter().chain(socket_any);
    if count == 0 {
        let count = usize::from(any.is_some()) + socket_any.len();
        run_all(socket, event, count, catch_alls);
        return;
    }
    for handler in catch_alls {
        run_made(|| handler(socket.clone(), event.without_ack()));
    }
    run_all(socket, event, count, listeners);
}

/// Runs `count` handlers on `event`, sharing its acknowledgement.
fn run_all<'a>(
    socket: &Arc<Socket>,
    event: Event,
    count: usize,
    handlers: impl Iterator<Item = &'a EventHandler>,
) {
    let event = if count > 1 { event.shared() } else { event };
    let mut handlers = handlers.peekable();
    while let Some(handler) = handlers.next() {
        if handlers.peek().is_none() {
            run_made(|| handler(socket.clone(), event));
            return;
        }
        run_made(|| handler(socket.clone(), event.copy()));
    }
}

//! A socket's own listeners and packet middlewares (the reference's
//! `socket.on`, `socket.onAny`, `socket.use`...), and the order in which an
//! incoming event meets them.
//!
//! A socket that registers nothing keeps an empty `OnceLock`: its events go
//! straight from the namespace to the namespace's listeners.

use std::{
    collections::{HashMap, VecDeque},
    future::Future,
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{Arc, Mutex, MutexGuard, atomic::Ordering},
};

use super::{DISCONNECTED, Socket};
use crate::{
    Args, ConnectError, Event,
    namespace::{BoxFuture, EventHandler, OutgoingHandler, deliver},
    run::{caught, run_detached, run_made},
};

/// How many events may wait behind one that a packet middleware holds;
/// a client sending more is disconnected as too slow (`transport error`).
const MAX_WAITING_EVENTS: usize = 1024;

type PacketMiddleware =
    Arc<dyn Fn(Arc<Socket>, Event) -> BoxFuture<Result<Event, ConnectError>> + Send + Sync>;
type ErrorListener = Arc<dyn Fn(Arc<Socket>, ConnectError) -> BoxFuture<()> + Send + Sync>;

/// What a socket registered, behind one lock. Lists are copied on write,
/// so that a dispatch takes a snapshot by counting a reference.
#[derive(Default)]
pub(super) struct Listeners(Mutex<State>);

#[derive(Default)]
struct State {
    events: HashMap<String, Arc<[Listener]>>,
    any: Arc<[EventHandler]>,
    any_outgoing: Arc<[OutgoingHandler]>,
    middlewares: Arc<[PacketMiddleware]>,
    errors: Arc<[ErrorListener]>,
    /// Whether the namespace counts this socket as watching outgoing events.
    counted: bool,
    /// Whether an event is on its way through the middlewares; later ones
    /// wait in `queue`, so that none overtakes another.
    busy: bool,
    queue: VecDeque<Event>,
}

#[derive(Clone)]
struct Listener {
    handler: EventHandler,
    once: bool,
}

/// `list` with `item` added at its end, or at its start with `first`.
fn with<T: Clone>(list: &[T], item: T, first: bool) -> Arc<[T]> {
    if first {
        [item].into_iter().chain(list.iter().cloned()).collect()
    } else {
        list.iter().cloned().chain([item]).collect()
    }
}

impl Socket {
    /// Listens to the event `event` from this client (the reference's
    /// `socket.on`).
    ///
    /// Listeners add up: every one registered for `event` runs, in
    /// registration order, after the namespace's listeners of `event`
    /// ([`Namespace::on`](crate::Namespace::on)). They share the event's
    /// acknowledgement: the first to answer it wins, later answers send
    /// nothing. Listeners registered after the socket left are ignored,
    /// and a socket's listeners are dropped when it leaves (so a listener
    /// may hold its own socket without keeping it alive).
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    ///
    /// # fn setup(io: &rally::Server) {
    /// io.of("/").on_connection(|socket| async move {
    ///     let count = Arc::new(AtomicUsize::new(0));
    ///     socket.on("tick", move |_socket, mut event| {
    ///         let n = count.fetch_add(1, Ordering::SeqCst) + 1;
    ///         async move { let _ = event.ack(&n); }
    ///     });
    /// });
    /// # }
    /// ```
    pub fn on<F, Fut>(&self, event: &str, listener: F)
    where
        F: Fn(Arc<Socket>, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add_listener(event, Arc::new(move |s, e| Box::pin(listener(s, e))), false);
    }

    /// As [`on`](Self::on), for the next `event` only (the reference's
    /// `socket.once`).
    ///
    /// ```
    /// # fn setup(socket: &rally::Socket) {
    /// socket.once("hello", |socket, _event| async move { let _ = socket.emit("hi-once", ()); });
    /// # }
    /// ```
    pub fn once<F, Fut>(&self, event: &str, listener: F)
    where
        F: Fn(Arc<Socket>, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add_listener(event, Arc::new(move |s, e| Box::pin(listener(s, e))), true);
    }

    /// Removes this socket's listeners of `event` (the namespace's stay).
    /// An event being dispatched still reaches the listeners it started
    /// with, as in Node.js; the next one does not.
    pub fn off(&self, event: &str) {
        if let Some(listeners) = self.listeners.get() {
            listeners.state().events.remove(event);
        }
    }

    /// Sees every incoming event, after the namespace's catch-all and
    /// before the event's listeners (the reference's `socket.onAny`).
    /// Catch-alls add up and run in order; like the namespace's, they get
    /// the event's acknowledgement only when no listener of the event
    /// does, and a copy without it otherwise.
    ///
    /// ```
    /// # fn setup(socket: &rally::Socket) {
    /// socket.on_any(|_socket, event| async move { tracing::debug!(name = event.name(), "in"); });
    /// # }
    /// ```
    pub fn on_any<F, Fut>(&self, listener: F)
    where
        F: Fn(Arc<Socket>, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener: EventHandler = Arc::new(move |s, e| Box::pin(listener(s, e)));
        self.edit(|state| state.any = with(&state.any, listener, false));
    }

    /// As [`on_any`](Self::on_any), ahead of the catch-alls already
    /// registered (the reference's `socket.prependAny`).
    pub fn prepend_any<F, Fut>(&self, listener: F)
    where
        F: Fn(Arc<Socket>, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener: EventHandler = Arc::new(move |s, e| Box::pin(listener(s, e)));
        self.edit(|state| state.any = with(&state.any, listener, true));
    }

    /// Removes this socket's catch-alls (the reference's `socket.offAny()`;
    /// closures cannot be told apart, so all go).
    pub fn off_any(&self) {
        if let Some(listeners) = self.listeners.get() {
            listeners.state().any = Arc::default();
        }
    }

    /// Sees every event emitted to this client, by
    /// [`emit`](Self::emit) or a broadcast reaching it, acknowledgements
    /// excluded (the reference's `socket.onAnyOutgoing`). It runs before the
    /// packet is queued, after the namespace's
    /// [`on_any_outgoing`](crate::Namespace::on_any_outgoing); several add
    /// up and run in order.
    ///
    /// ```
    /// # fn setup(socket: &rally::Socket) {
    /// socket.on_any_outgoing(|_socket, event_name, _args| { tracing::debug!(event_name, "out"); });
    /// # }
    /// ```
    pub fn on_any_outgoing<F>(&self, listener: F)
    where
        F: Fn(&Socket, &str, &Args) + Send + Sync + 'static,
    {
        self.add_outgoing(Arc::new(listener), false);
    }

    /// As [`on_any_outgoing`](Self::on_any_outgoing), ahead of those
    /// already registered (the reference's `socket.prependAnyOutgoing`).
    pub fn prepend_any_outgoing<F>(&self, listener: F)
    where
        F: Fn(&Socket, &str, &Args) + Send + Sync + 'static,
    {
        self.add_outgoing(Arc::new(listener), true);
    }

    /// Removes this socket's outgoing catch-alls (the reference's
    /// `socket.offAnyOutgoing()`).
    pub fn off_any_outgoing(&self) {
        if let Some(listeners) = self.listeners.get() {
            let mut state = listeners.state();
            state.any_outgoing = Arc::default();
            if std::mem::take(&mut state.counted) {
                self.ns.count_outgoing(false);
            }
        }
    }

    /// Adds a packet middleware (the reference's `socket.use`): it gets
    /// each incoming event of this socket, after the namespace's event
    /// middlewares, and lets it through (`Ok`, possibly changed, see
    /// [`Event::set_args`]) or refuses it (`Err`): a refused event reaches
    /// no listener, and the error goes to the [`on_error`](Self::on_error)
    /// listeners. Middlewares run in registration order, one event at a
    /// time: while one waits, later events wait behind it, so listeners
    /// still see events in the order they came; a client that gets more
    /// than 1024 events ahead of its middlewares is disconnected
    /// (`transport error`). A panicking middleware drops its event.
    ///
    /// ```
    /// # fn setup(socket: &rally::Socket) {
    /// socket.use_middleware(|_socket, event| async move {
    ///     if event.name() == "forbidden" {
    ///         Err(rally::ConnectError::new("not allowed"))
    ///     } else {
    ///         Ok(event)
    ///     }
    /// });
    /// socket.on_error(|socket, err| async move { let _ = socket.emit("error-seen", &err.to_string()); });
    /// # }
    /// ```
    #[doc(alias = "use")]
    pub fn use_middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Arc<Socket>, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Event, ConnectError>> + Send + 'static,
    {
        let middleware: PacketMiddleware = Arc::new(move |s, e| Box::pin(middleware(s, e)));
        self.edit(|state| state.middlewares = with(&state.middlewares, middleware, false));
    }

    /// Runs `listener` with each refusal of a packet middleware (the
    /// reference's `socket.on("error", ...)`); several add up. Without one,
    /// refusals are only logged.
    pub fn on_error<F, Fut>(&self, listener: F)
    where
        F: Fn(Arc<Socket>, ConnectError) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener: ErrorListener = Arc::new(move |s, e| Box::pin(listener(s, e)));
        self.edit(|state| state.errors = with(&state.errors, listener, false));
    }

    /// Whether the socket registered anything of its own.
    pub(crate) fn listens(&self) -> bool {
        self.listeners.get().is_some()
    }

    /// An incoming event that passed the namespace's middlewares: through
    /// the socket's middlewares when it has some, to the listeners.
    pub(crate) fn receive(self: &Arc<Self>, event: Event) {
        let Some(listeners) = self.listeners.get() else {
            return self.deliver(event);
        };
        {
            let mut state = listeners.state();
            if state.busy {
                if state.queue.len() < MAX_WAITING_EVENTS {
                    state.queue.push_back(event);
                } else {
                    drop(state);
                    // Closing leaves the namespace, which takes the lock.
                    self.client.disconnect_slow();
                }
                return;
            }
            if state.middlewares.is_empty() {
                drop(state);
                return self.deliver(event);
            }
            state.busy = true;
        }
        // Polled here first: middlewares that finish at once cost no task.
        run_detached(Box::pin(self.clone().filter_queue(event)));
    }

    /// Takes `event`, then each event queued behind it, through the
    /// middlewares, and delivers those let through.
    async fn filter_queue(self: Arc<Self>, mut event: Event) {
        loop {
            if let Some(event) = self.filter(event).await {
                if self.connected() {
                    self.deliver(event);
                }
            }
            let Some(listeners) = self.listeners.get() else {
                return;
            };
            let mut state = listeners.state();
            match state.queue.pop_front() {
                Some(next) => event = next,
                None => {
                    state.busy = false;
                    return;
                }
            }
        }
    }

    /// Runs the middlewares on `event`; `None` when one refused it.
    async fn filter(self: &Arc<Self>, mut event: Event) -> Option<Event> {
        let middlewares = self.listeners.get()?.state().middlewares.clone();
        for middleware in middlewares.iter() {
            match caught(|| middleware(self.clone(), event)).await {
                Some(Ok(passed)) => event = passed,
                Some(Err(error)) => {
                    self.fire_error(error);
                    return None;
                }
                None => {
                    tracing::error!(socket = %self.id, "a packet middleware panicked");
                    return None;
                }
            }
        }
        Some(event)
    }

    fn fire_error(self: &Arc<Self>, error: ConnectError) {
        let errors = self
            .listeners
            .get()
            .map(|listeners| listeners.state().errors.clone())
            .unwrap_or_default();
        if errors.is_empty() {
            tracing::debug!(socket = %self.id, %error, "event refused by a packet middleware");
        }
        for listener in errors.iter() {
            run_made(|| listener(self.clone(), error.clone()));
        }
    }

    /// Runs the catch-alls and listeners, the namespace's then the
    /// socket's; `once` listeners are removed as their event is taken.
    fn deliver(self: &Arc<Self>, event: Event) {
        let (any, ns_listeners) = self.ns.listeners_of(event.name());
        let (socket_any, own) = match self.listeners.get() {
            Some(listeners) => {
                let mut state = listeners.state();
                let own = state.events.get(event.name()).cloned();
                if own.as_ref().is_some_and(|own| own.iter().any(|l| l.once)) {
                    let kept: Arc<[Listener]> = own
                        .iter()
                        .flat_map(|own| own.iter())
                        .filter(|l| !l.once)
                        .cloned()
                        .collect();
                    if kept.is_empty() {
                        state.events.remove(event.name());
                    } else {
                        state.events.insert(event.name().to_owned(), kept);
                    }
                }
                (state.any.clone(), own)
            }
            None => (Arc::default(), None),
        };
        let ns_listeners = ns_listeners.as_deref().unwrap_or_default();
        let own = own.as_deref().unwrap_or_default();
        deliver(
            self,
            event,
            any.as_ref(),
            &socket_any,
            ns_listeners.len() + own.len(),
            ns_listeners.iter().chain(own.iter().map(|l| &l.handler)),
        );
    }

    /// Shows an outgoing event to the socket's own outgoing catch-alls; a
    /// panicking one is logged.
    pub(crate) fn notify_outgoing(&self, event: &str, args: &Args) {
        let Some(listeners) = self.listeners.get() else {
            return;
        };
        let outgoing = listeners.state().any_outgoing.clone();
        for listener in outgoing.iter() {
            if catch_unwind(AssertUnwindSafe(|| listener(self, event, args))).is_err() {
                tracing::error!(socket = %self.id, "an outgoing listener panicked");
            }
        }
    }

    /// Drops every listener and middleware, and the events waiting for
    /// them, when the socket leaves.
    pub(super) fn clear_listeners(&self) {
        if let Some(listeners) = self.listeners.get() {
            let mut state = listeners.state();
            let counted = state.counted;
            *state = State {
                busy: state.busy,
                ..State::default()
            };
            if counted {
                self.ns.count_outgoing(false);
            }
        }
    }

    fn add_listener(&self, event: &str, handler: EventHandler, once: bool) {
        self.edit(|state| {
            let list = state.events.entry(event.to_owned()).or_default();
            *list = with(list, Listener { handler, once }, false);
        });
    }

    fn add_outgoing(&self, listener: OutgoingHandler, first: bool) {
        self.edit(|state| {
            state.any_outgoing = with(&state.any_outgoing, listener, first);
            if !state.counted {
                state.counted = true;
                self.ns.count_outgoing(true);
            }
        });
    }

    /// Registers something on the socket, unless it has left already.
    fn edit(&self, f: impl FnOnce(&mut State)) {
        let listeners = self.listeners.get_or_init(Box::default);
        let mut state = listeners.state();
        // Checked under the lock that `clear_listeners` takes after the
        // socket is marked as gone: nothing registered later survives.
        if self.state.load(Ordering::Acquire) != DISCONNECTED {
            f(&mut state);
        }
    }
}

impl Listeners {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

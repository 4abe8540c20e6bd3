use std::{
    collections::HashMap,
    convert::Infallible,
    fmt,
    sync::{Arc, OnceLock, RwLock, atomic::Ordering},
    task::{Context, Poll},
};

use crate::namespace::BoxFuture;
use http::{Request, Response};
use rally_engine::{
    CloseReason, EngineBody, EngineIo, EngineIoLayer, Handler, Message, ResponseFuture, Session,
};
use rally_proto::Str;
use tower_service::Service;

use crate::{
    Args, BroadcastOperator, EmitError, IntoRooms, Namespace, ServerBuilder,
    adapter::{Adapter, AdapterContext, LocalAdapter},
    client::Client,
    namespace::AdapterFactory,
};

type SyncPredicate = dyn Fn(&str, &serde_json::Value) -> bool + Send + Sync;
type AsyncPredicate = dyn Fn(&str, &serde_json::Value) -> BoxFuture<bool> + Send + Sync;

/// The test of a dynamic namespace: a function, or an async one.
#[derive(Clone)]
enum Predicate {
    Sync(Arc<SyncPredicate>),
    Async(Arc<AsyncPredicate>),
}

/// The namespace a CONNECT names, found at once or later (when an async
/// dynamic predicate must decide).
pub(crate) enum Lookup {
    /// Found (or created).
    Found(Arc<Namespace>),
    /// No namespace has that name.
    Missing,
    /// An async predicate decides.
    Pending(BoxFuture<Option<Arc<Namespace>>>),
}

pub(crate) struct Config {
    pub(crate) connect_timeout: std::time::Duration,
    pub(crate) cleanup_empty_child_namespaces: bool,
    pub(crate) max_attachments: usize,
    pub(crate) recovery: Option<crate::ConnectionStateRecovery>,
    pub(crate) max_namespaces: usize,
    pub(crate) max_pending_acks: usize,
    pub(crate) max_rooms: usize,
    pub(crate) parser: rally_proto::socket::Parser,
    pub(crate) states: crate::state::States,
}

pub(crate) struct ServerInner {
    pub(crate) config: Config,
    pub(crate) recoveries: crate::recovery::Counters,
    adapter: AdapterFactory,
    namespaces: RwLock<HashMap<String, Arc<Namespace>>>,
    dynamic: RwLock<Vec<(Predicate, Arc<Namespace>)>>,
    /// Set once the server is instrumented for the Admin UI.
    pub(crate) admin: OnceLock<crate::admin::Instrumented>,
}

impl ServerInner {
    /// The Admin UI's hooks, in its development mode.
    pub(crate) fn admin_hooks(&self) -> Option<&crate::admin::Hooks> {
        self.admin.get()?.hooks.as_ref()
    }

    /// The namespace a CONNECT names: a static one, or a child created by
    /// a dynamic namespace whose predicate accepts the name.
    ///
    /// The predicates are asked in the order they were registered; from
    /// the first async one on, the answer is a future.
    pub(crate) fn namespace_for(self: &Arc<Self>, name: &str, auth: Option<&Str>) -> Lookup {
        if let Some(ns) = self
            .namespaces
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Lookup::Found(ns.clone());
        }
        // No auth reads as `{}`, as in the reference.
        let auth: serde_json::Value = auth
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or_else(|| serde_json::Value::Object(serde_json::Map::new()));
        let (parent, rest) = {
            let dynamic = self.dynamic.read().unwrap_or_else(|e| e.into_inner());
            let mut found = (None, Vec::new());
            for (at, (accepts, parent)) in dynamic.iter().enumerate() {
                match accepts {
                    Predicate::Sync(accepts) if accepts(name, &auth) => {
                        found.0 = Some(parent.clone());
                        break;
                    }
                    Predicate::Sync(_) => {}
                    Predicate::Async(_) => {
                        // The rest is asked outside the lock.
                        found.1 = dynamic[at..].to_vec();
                        break;
                    }
                }
            }
            found
        };
        if let Some(parent) = parent {
            return Lookup::Found(self.child(name, &parent));
        }
        if rest.is_empty() {
            return Lookup::Missing;
        }
        let (server, name) = (self.clone(), name.to_owned());
        Lookup::Pending(Box::pin(async move {
            for (accepts, parent) in rest {
                let accepted = match accepts {
                    Predicate::Sync(accepts) => accepts(&name, &auth),
                    Predicate::Async(accepts) => accepts(&name, &auth).await,
                };
                if accepted {
                    return Some(server.child(&name, &parent));
                }
            }
            None
        }))
    }

    /// The child `name` of the dynamic namespace `parent`, created when it
    /// does not exist yet.
    fn child(self: &Arc<Self>, name: &str, parent: &Arc<Namespace>) -> Arc<Namespace> {
        let mut created = false;
        let mut namespaces = self.namespaces.write().unwrap_or_else(|e| e.into_inner());
        let child = namespaces
            .entry(name.to_owned())
            .or_insert_with(|| {
                created = true;
                let child = Namespace::child(name.to_owned(), &self.adapter, parent);
                if self.config.cleanup_empty_child_namespaces {
                    let server = Arc::downgrade(self);
                    child.when_empty(move |name| {
                        if let Some(server) = server.upgrade() {
                            server.remove_empty(name);
                        }
                    });
                }
                child
            })
            .clone();
        drop(namespaces);
        if created {
            self.watch(&child);
        }
        child
    }

    fn of(&self, name: &str) -> Arc<Namespace> {
        let name = normalize(name);
        let mut created = false;
        let ns = self
            .namespaces
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.clone())
            .or_insert_with(|| {
                created = true;
                Namespace::new(name, &self.adapter)
            })
            .clone();
        if created {
            self.watch(&ns);
        }
        ns
    }

    /// Shows the Admin UI the room changes of a new namespace.
    fn watch(&self, ns: &Namespace) {
        if let Some(hooks) = self.admin_hooks() {
            hooks.watch(ns);
        }
    }
}

fn normalize(name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/{name}")
    }
}

/// The engine's view of the server: sessions in, packets out.
pub(crate) struct Dispatch(Arc<ServerInner>);

impl Handler for Dispatch {
    fn on_open(&self, session: &Arc<Session>) {
        session.attach(Client::new(session, self.0.clone()));
    }

    fn on_message(&self, session: &Arc<Session>, message: Message) {
        if let Some(client) = session.attached::<Arc<Client>>() {
            client.on_message(message);
        }
    }

    fn on_upgrade(&self, session: &Arc<Session>) {
        if let (Some(hooks), Some(client)) =
            (self.0.admin_hooks(), session.attached::<Arc<Client>>())
        {
            for socket in client.sockets() {
                hooks.upgraded(&socket);
            }
        }
    }

    fn on_close(&self, session: &Arc<Session>, reason: CloseReason) {
        if let Some(client) = session.attached::<Arc<Client>>() {
            client.on_close(reason);
        }
    }
}

impl ServerInner {
    /// Forgets a dynamic child that has no socket left.
    fn remove_empty(&self, name: &str) {
        let mut namespaces = self.namespaces.write().unwrap_or_else(|e| e.into_inner());
        if namespaces.get(name).is_some_and(|ns| ns.is_empty()) {
            namespaces.remove(name);
        }
    }
}

/// A Socket.IO server: namespaces, rooms, broadcasting, over an Engine.IO
/// server. It is a tower [`Service`] (see [`layer`](Self::layer) to put it
/// in front of another, such as an axum router).
///
/// ```no_run
/// use rally::Server;
///
/// #[tokio::main]
/// async fn main() -> std::io::Result<()> {
///     let io = Server::new();
///     io.of("/").on("ping", |socket, mut event| async move {
///         let _ = event.ack(&"pong");
///     });
///     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
///     rally::serve(listener, io).await
/// }
/// ```
#[derive(Clone)]
pub struct Server {
    pub(crate) inner: Arc<ServerInner>,
    engine: EngineIo<Dispatch>,
}

impl Server {
    /// A server with the reference's defaults.
    #[must_use]
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Options first.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    pub(crate) fn from_builder(mut builder: ServerBuilder) -> Self {
        if builder.forward_sessions {
            assert!(
                builder.bus.is_some(),
                "forward_sessions needs the cluster's bus (ServerBuilder::bus)"
            );
            builder.engine.forward_sessions = builder.bus.clone();
        }
        let inner = Arc::new(ServerInner {
            config: Config {
                connect_timeout: builder.connect_timeout,
                cleanup_empty_child_namespaces: builder.cleanup_empty_child_namespaces,
                max_attachments: builder.max_attachments,
                recovery: builder.recovery.clone(),
                max_namespaces: builder.max_namespaces,
                max_pending_acks: builder.max_pending_acks,
                max_rooms: builder.max_rooms,
                parser: builder.parser,
                states: builder.states,
            },
            recoveries: crate::recovery::Counters::default(),
            adapter: match (builder.adapter, builder.recovery) {
                (Some(factory), recovery) => {
                    let parser = builder.parser;
                    Arc::new(move |ns| factory(AdapterContext::new(ns, recovery.clone(), parser)))
                }
                (None, Some(recovery)) => Arc::new(move |ns| {
                    Arc::new(LocalAdapter::with_recovery(ns, recovery.clone())) as Arc<dyn Adapter>
                }),
                (None, None) => Arc::new(|ns| Arc::new(LocalAdapter::new(ns)) as Arc<dyn Adapter>),
            },
            namespaces: RwLock::default(),
            dynamic: RwLock::default(),
            admin: OnceLock::new(),
        });
        inner.of("/");
        let engine = EngineIo::new(builder.engine, Dispatch(inner.clone()));
        let server = Self { inner, engine };
        if let Some(admin_ui) = builder.admin_ui {
            crate::admin::instrument(&server, admin_ui);
        }
        server
    }

    /// The namespace `name`, created when it does not exist yet.
    #[must_use]
    pub fn of(&self, name: &str) -> Arc<Namespace> {
        self.inner.of(name)
    }

    /// A dynamic namespace: every namespace name (and CONNECT auth) that
    /// `accepts` approves gets a child namespace with the handlers
    /// registered on the returned parent. Emitting on the parent reaches
    /// every child.
    ///
    /// ```
    /// # let io = rally::Server::new();
    /// let workspaces = io.dynamic(|name, _auth| name.starts_with("/workspace-"));
    /// workspaces.on_connection(|socket| async move {
    ///     println!("joined {}", socket.ns().name());
    /// });
    /// ```
    pub fn dynamic(
        &self,
        accepts: impl Fn(&str, &serde_json::Value) -> bool + Send + Sync + 'static,
    ) -> Arc<Namespace> {
        self.add_dynamic(Predicate::Sync(Arc::new(accepts)))
    }

    /// A dynamic namespace whose predicate is async, as the reference's
    /// callback form allows (`io.of((name, auth, next) => ...)`): it reads
    /// what it needs of the name and auth, and returns a future deciding
    /// (looking the name up in a database, say). The CONNECT waits for it;
    /// a refusal is `Invalid namespace`, as with [`dynamic`](Self::dynamic).
    ///
    /// ```
    /// # let io = rally::Server::new();
    /// let rooms = io.dynamic_async(|name, _auth| {
    ///     let name = name.to_owned();
    ///     async move {
    ///         // e.g. ask a database whether the room exists
    ///         name.starts_with("/room-")
    ///     }
    /// });
    /// ```
    pub fn dynamic_async<F>(
        &self,
        accepts: impl Fn(&str, &serde_json::Value) -> F + Send + Sync + 'static,
    ) -> Arc<Namespace>
    where
        F: std::future::Future<Output = bool> + Send + 'static,
    {
        self.add_dynamic(Predicate::Async(Arc::new(move |name, auth| {
            Box::pin(accepts(name, auth))
        })))
    }

    fn add_dynamic(&self, accepts: Predicate) -> Arc<Namespace> {
        let parent = Namespace::new(String::from("(dynamic)"), &self.inner.adapter);
        self.inner
            .dynamic
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push((accepts, parent.clone()));
        parent
    }

    /// Targets every socket of `/`.
    pub fn broadcast(&self) -> BroadcastOperator {
        self.of("/").broadcast()
    }

    /// Targets the sockets of `/` in `rooms`.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.of("/").to(rooms)
    }

    /// Targets the sockets of `/` not in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.of("/").except(rooms)
    }

    /// Sends an event to every socket of `/`.
    ///
    /// # Errors
    ///
    /// As for [`BroadcastOperator::emit`].
    pub fn emit(&self, event: &str, args: impl Into<Args>) -> Result<(), EmitError> {
        self.broadcast().emit(event, args)
    }

    /// Targets every socket of `/`, with a time limit for
    /// [`emit_with_ack`](BroadcastOperator::emit_with_ack): the reference's
    /// `io.timeout(3000).emitWithAck(...)`, which gathers the answers of
    /// every socket.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # async fn f(io: rally::Server) -> Result<(), rally::AckError> {
    /// let answers = io.timeout(Duration::from_secs(3)).emit_with_ack("survey", ()).await?;
    /// for answer in answers.answers() {
    ///     println!("{:?}", answer.arg::<String>(0));
    /// }
    /// println!("all answered: {}", answers.all_answered());
    /// # Ok(()) }
    /// ```
    pub fn timeout(&self, timeout: std::time::Duration) -> BroadcastOperator {
        self.broadcast().timeout(timeout)
    }

    /// Every socket of `/`, on every node (the reference's
    /// `io.fetchSockets()`), as [`BroadcastOperator::fetch_sockets`].
    ///
    /// ```
    /// # async fn f(io: rally::Server) -> Result<(), rally::AdapterError> {
    /// let sockets = io.fetch_sockets().await?;
    /// println!("{} sockets", sockets.len());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// With a cluster adapter, [`AdapterError::Timeout`](crate::AdapterError::Timeout)
    /// when a node does not answer in time.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future forgets the answers still due.
    #[doc(alias = "fetchSockets")]
    pub async fn fetch_sockets(&self) -> Result<Vec<crate::RemoteSocket>, crate::AdapterError> {
        self.broadcast().fetch_sockets().await
    }

    /// The value of type `T` given to
    /// [`ServerBuilder::state`](crate::ServerBuilder::state), when one was.
    #[must_use]
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.inner.config.states.get()
    }

    /// The Engine.IO layer's counters (handshakes, packets and bytes in
    /// and out, closes by reason), for metrics.
    #[must_use]
    pub fn engine_stats(&self) -> rally_engine::Stats {
        self.engine.stats()
    }

    /// What session forwarding has done so far, when it is on
    /// ([`ServerBuilder::forward_sessions`]).
    #[must_use]
    pub fn forward_stats(&self) -> Option<rally_engine::ForwardStats> {
        self.engine.forward_stats()
    }

    /// This node's tag (the start of its session ids), when it forwards
    /// sessions.
    #[must_use]
    pub fn node_tag(&self) -> Option<rally_engine::NodeTag> {
        self.engine.node_tag()
    }

    /// Every namespace (static ones, and the children of dynamic ones).
    #[must_use]
    pub fn namespaces(&self) -> Vec<Arc<Namespace>> {
        self.inner
            .namespaces
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Connection state recovery's counters: reconnections recovered or
    /// not, and what the adapters of every namespace keep for it.
    #[must_use]
    pub fn recovery_stats(&self) -> crate::RecoveryStats {
        let mut stats = crate::RecoveryStats {
            recovered: self.inner.recoveries.recovered.load(Ordering::Relaxed),
            unrecovered: self.inner.recoveries.unrecovered.load(Ordering::Relaxed),
            ..crate::RecoveryStats::default()
        };
        for ns in self.namespaces() {
            let size = ns.adapter().recovery_log_size();
            stats.log_entries += size.entries;
            stats.sessions += size.sessions;
            stats.log_bytes += size.bytes;
        }
        stats
    }

    /// How many Engine.IO connections are open.
    #[must_use]
    pub fn connection_count(&self) -> usize {
        self.engine.session_count()
    }

    /// Closes the server, as the reference's `io.close()`: new connections
    /// are refused from now on (every Engine.IO handshake gets HTTP 503,
    /// `Server is shutting down`), every socket of every namespace
    /// disconnects with [`DisconnectReason::ServerShuttingDown`](crate::DisconnectReason::ServerShuttingDown)
    /// (its `disconnecting` and `disconnect` handlers run), the adapters
    /// [flush](crate::adapter::Adapter::flush) what that sent to the other
    /// nodes (at most 3 s; with recovery in a cluster, the session records
    /// another node recovers the clients from), and every connection is
    /// closed, its queued packets still sent.
    ///
    /// Resolves once every connection is gone, or at the latest after
    /// `ping_interval + ping_timeout` (45 s with the defaults): a polling
    /// client learns of the close from its next request, which a live
    /// client makes at once; past that bound the engine gives up on it
    /// anyway. The server does not own its listener: to stop accepting TCP
    /// connections too, end [`serve_with_shutdown`](crate::serve_with_shutdown)
    /// after this resolves.
    ///
    /// ```no_run
    /// # async fn run(shutdown_requested: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
    /// let io = rally::Server::new();
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    /// // A signal, an admin request...
    /// let stop = {
    ///     let io = io.clone();
    ///     async move {
    ///         shutdown_requested.await;
    ///         io.close().await;
    ///     }
    /// };
    /// rally::serve_with_shutdown(listener, io, stop).await
    /// # }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping the future only stops the wait: the server stays closed.
    pub async fn close(&self) {
        let namespaces = self.namespaces();
        for ns in &namespaces {
            for socket in ns.sockets() {
                socket.leave_namespace(crate::DisconnectReason::ServerShuttingDown, false);
            }
        }
        // What the adapters queued as the sockets left (with recovery, the
        // records that let another node take the sessions over) reaches the
        // cluster before any client hears of the close and reconnects
        // elsewhere. The engine closes even if this future is dropped here.
        let mut guard = CloseOnDrop(Some(self.engine.clone()));
        let flushed = async {
            for ns in &namespaces {
                ns.adapter().flush().await;
            }
        };
        if tokio::time::timeout(FLUSH_TIMEOUT, flushed).await.is_err() {
            tracing::warn!("the cluster did not take the last messages in time; closing anyway");
        }
        guard.0 = None;
        let config = self.engine.config();
        let bound = config.ping_interval + config.ping_timeout;
        if !self.engine.close(bound).await {
            tracing::warn!(
                left = self.engine.session_count(),
                "connections still open when closing the server"
            );
        }
    }

    /// Closes every connection with `reason` (for a shutdown: clients see
    /// `server shutting down`).
    pub fn close_all(&self, reason: CloseReason) {
        self.engine.close_all(reason);
    }

    /// A tower layer answering Socket.IO requests under the server's path
    /// and passing the others to the wrapped service.
    pub fn layer(&self) -> EngineIoLayer<impl Handler> {
        EngineIoLayer::new(self.engine.clone())
    }
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("engine", &self.engine)
            .finish()
    }
}

impl<B> Service<Request<B>> for Server
where
    EngineIo<Dispatch>: Service<
            Request<B>,
            Response = Response<EngineBody>,
            Error = Infallible,
            Future = ResponseFuture,
        >,
{
    type Response = Response<EngineBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.engine.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.engine.call(req)
    }
}

/// How long [`Server::close`] waits for the adapters to flush.
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Closes the engine when dropped while holding it: a [`Server::close`]
/// dropped before it reached the engine still closes it.
struct CloseOnDrop<H: rally_engine::Handler>(Option<rally_engine::EngineIo<H>>);

impl<H: rally_engine::Handler> Drop for CloseOnDrop<H> {
    fn drop(&mut self) {
        if let Some(engine) = self.0.take() {
            crate::run::run_detached(Box::pin(async move {
                engine.close(std::time::Duration::ZERO).await;
            }));
        }
    }
}

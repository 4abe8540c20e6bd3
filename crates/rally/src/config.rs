use std::{fmt, sync::Arc, time::Duration};

use rally_engine::{Cookie, Cors, HttpCompression, PerMessageDeflate, Transport};
use rally_proto::socket::Parser;

use crate::adapter::{Adapter, AdapterContext};

/// Makes the adapter of a new namespace from its context.
pub(crate) type ContextFactory = Arc<dyn Fn(AdapterContext) -> Arc<dyn Adapter> + Send + Sync>;

/// Options of a Socket.IO server: the Engine.IO ones plus its own. The
/// defaults are the reference's.
///
/// ```
/// use std::time::Duration;
/// use rally::Server;
///
/// let io = Server::builder()
///     .ping_interval(Duration::from_secs(10))
///     .connect_timeout(Duration::from_secs(5))
///     .build();
/// ```
#[derive(Clone)]
#[must_use]
pub struct ServerBuilder {
    pub(crate) engine: rally_engine::Config,
    pub(crate) connect_timeout: Duration,
    pub(crate) cleanup_empty_child_namespaces: bool,
    pub(crate) max_attachments: usize,
    pub(crate) max_namespaces: usize,
    pub(crate) max_pending_acks: usize,
    pub(crate) max_rooms: usize,
    pub(crate) adapter: Option<ContextFactory>,
    pub(crate) recovery: Option<crate::ConnectionStateRecovery>,
    pub(crate) parser: Parser,
    pub(crate) states: crate::state::States,
    pub(crate) admin_ui: Option<crate::admin::AdminUi>,
    pub(crate) bus: Option<Arc<dyn rally_engine::Bus>>,
    pub(crate) forward_sessions: bool,
}

impl fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("engine", &self.engine)
            .field("connect_timeout", &self.connect_timeout)
            .field(
                "cleanup_empty_child_namespaces",
                &self.cleanup_empty_child_namespaces,
            )
            .field("max_attachments", &self.max_attachments)
            .field("max_namespaces", &self.max_namespaces)
            .field("max_pending_acks", &self.max_pending_acks)
            .field("max_rooms", &self.max_rooms)
            .field("adapter", &self.adapter.is_some())
            .field("connection_state_recovery", &self.recovery)
            .field("parser", &self.parser)
            .field("states", &self.states)
            .field("admin_ui", &self.admin_ui)
            .field("bus", &self.bus.is_some())
            .field("forward_sessions", &self.forward_sessions)
            .finish()
    }
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            engine: rally_engine::Config::default().path("/socket.io/"),
            connect_timeout: Duration::from_secs(45),
            cleanup_empty_child_namespaces: false,
            max_attachments: 10,
            max_namespaces: 64,
            max_pending_acks: 1024,
            max_rooms: 1024,
            adapter: None,
            recovery: None,
            parser: Parser::Json,
            states: crate::state::States::default(),
            admin_ui: None,
            bus: None,
            forward_sessions: false,
        }
    }
}

impl ServerBuilder {
    /// Sets `path` (default `/socket.io/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.engine = self.engine.path(path);
        self
    }

    /// Sets `pingInterval` (default 25 s).
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.engine = self.engine.ping_interval(interval);
        self
    }

    /// Sets `pingTimeout` (default 20 s).
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.engine = self.engine.ping_timeout(timeout);
        self
    }

    /// Sets `upgradeTimeout` (default 10 s).
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.engine = self.engine.upgrade_timeout(timeout);
        self
    }

    /// Sets `maxHttpBufferSize` in bytes (default 1,000,000).
    pub fn max_http_buffer_size(mut self, bytes: usize) -> Self {
        self.engine = self.engine.max_http_buffer_size(bytes);
        self
    }

    /// Sets `httpCompression` (default on, threshold 1024 bytes; `None`
    /// turns it off): poll replies of at least the threshold are sent
    /// compressed with gzip or deflate when the client accepts it. See
    /// [`rally_engine::Config::http_compression`].
    ///
    /// ```
    /// use rally::{HttpCompression, Server};
    ///
    /// let io = Server::builder()
    ///     .http_compression(Some(HttpCompression::default().threshold(4096)))
    ///     .build();
    /// # let _ = io;
    /// ```
    #[doc(alias = "httpCompression")]
    pub fn http_compression(mut self, compression: Option<HttpCompression>) -> Self {
        self.engine = self.engine.http_compression(compression);
        self
    }

    /// Sets `transports` (default polling and WebSocket).
    pub fn transports(mut self, transports: impl IntoIterator<Item = Transport>) -> Self {
        self.engine = self.engine.transports(transports);
        self
    }

    /// Sets `allowUpgrades` (default true).
    pub fn allow_upgrades(mut self, allow: bool) -> Self {
        self.engine = self.engine.allow_upgrades(allow);
        self
    }

    /// Sets `cors` (default off).
    pub fn cors(mut self, cors: Cors) -> Self {
        self.engine = self.engine.cors(cors);
        self
    }

    /// Sets `cookie` (default off).
    pub fn cookie(mut self, cookie: Cookie) -> Self {
        self.engine = self.engine.cookie(cookie);
        self
    }

    /// Sets `allowRequest`: a hook that may refuse a handshake.
    pub fn allow_request(
        mut self,
        hook: impl Fn(&http::request::Parts) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.engine = self.engine.allow_request(hook);
        self
    }

    /// Sets `allowRequest` to an async hook: it reads what it needs of the
    /// request and returns a future deciding (see
    /// [`rally_engine::Config::allow_request_async`]).
    ///
    /// ```
    /// let io = rally::Server::builder()
    ///     .allow_request_async(|req| {
    ///         let token = req.headers.get("x-token").cloned();
    ///         async move { token.map(|_| ()).ok_or_else(|| "no token".to_owned()) }
    ///     })
    ///     .build();
    /// # drop(io);
    /// ```
    pub fn allow_request_async<F>(
        mut self,
        hook: impl Fn(&http::request::Parts) -> F + Send + Sync + 'static,
    ) -> Self
    where
        F: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.engine = self.engine.allow_request_async(hook);
        self
    }

    /// Sets `addTrailingSlash` (default true): off, the path is matched
    /// without its trailing slash, so `/socket.io?EIO=4...` is served (see
    /// [`rally_engine::Config::add_trailing_slash`]).
    #[doc(alias = "addTrailingSlash")]
    pub fn add_trailing_slash(mut self, add: bool) -> Self {
        self.engine = self.engine.add_trailing_slash(add);
        self
    }

    /// Adds to the headers of the reply that opens a connection: the
    /// polling handshake's, the WebSocket's 101 (the reference's
    /// `io.engine.on("initial_headers", ...)`). See
    /// [`rally_engine::Config::on_initial_headers`].
    ///
    /// ```
    /// use http::HeaderValue;
    ///
    /// let io = rally::Server::builder()
    ///     .on_initial_headers(|headers, _req| {
    ///         headers.insert("x-served-by", HeaderValue::from_static("node-1"));
    ///     })
    ///     .build();
    /// # drop(io);
    /// ```
    #[doc(alias = "initial_headers")]
    pub fn on_initial_headers(
        mut self,
        hook: impl Fn(&mut http::HeaderMap, &http::request::Parts) + Send + Sync + 'static,
    ) -> Self {
        self.engine = self.engine.on_initial_headers(hook);
        self
    }

    /// Adds to the headers of every successful reply of the engine (the
    /// reference's `io.engine.on("headers", ...)`). See
    /// [`rally_engine::Config::on_headers`].
    #[doc(alias = "headers")]
    pub fn on_headers(
        mut self,
        hook: impl Fn(&mut http::HeaderMap, &http::request::Parts) + Send + Sync + 'static,
    ) -> Self {
        self.engine = self.engine.on_headers(hook);
        self
    }

    /// Is told of every request the engine refuses, with its code, message,
    /// reason and request (the reference's
    /// `io.engine.on("connection_error", ...)`). See
    /// [`rally_engine::Config::on_connection_error`].
    ///
    /// ```
    /// let io = rally::Server::builder()
    ///     .on_connection_error(|err| {
    ///         tracing::warn!(code = err.code, message = err.message, reason = ?err.reason, "refused");
    ///     })
    ///     .build();
    /// # drop(io);
    /// ```
    #[doc(alias = "connection_error")]
    pub fn on_connection_error(
        mut self,
        hook: impl Fn(&rally_engine::ConnectionError<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.engine = self.engine.on_connection_error(hook);
        self
    }

    /// Sets `connectTimeout`: how long a connection may stay without
    /// joining a namespace (default 45 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets `cleanupEmptyChildNamespaces`: whether a dynamic namespace is
    /// removed once its last socket leaves (default false).
    pub fn cleanup_empty_child_namespaces(mut self, cleanup: bool) -> Self {
        self.cleanup_empty_child_namespaces = cleanup;
        self
    }

    /// Sets the Socket.IO parser every client must use (the reference's
    /// `parser` option): [`Parser::Json`], the default parser, or
    /// [`Parser::MsgPack`] for clients with `socket.io-msgpack-parser`.
    ///
    /// A packet is encoded once for the parser, whatever the number of
    /// recipients.
    ///
    /// ```
    /// use rally::{Parser, Server};
    ///
    /// let io = Server::builder().parser(Parser::MsgPack).build();
    /// # drop(io);
    /// ```
    pub fn parser(mut self, parser: Parser) -> Self {
        self.parser = parser;
        self
    }

    /// Lets Socket.IO v2 clients connect (the reference's `allowEIO3`, off by
    /// default): Engine.IO protocol 3 sessions (a request with `EIO=3`, or
    /// with no `EIO` at all) are served, and Socket.IO protocol 4 is spoken
    /// on them: the client is joined to `/` as soon as its session opens, a
    /// namespace's query string (`/admin?token=x`) is its auth, the CONNECT
    /// reply carries no payload, and a middleware's refusal is its `data`
    /// (or its message) alone. v2 and v4 clients share the server, its rooms
    /// and its broadcasts.
    ///
    /// ```
    /// let io = rally::Server::builder().allow_eio3(true).build();
    /// # drop(io);
    /// ```
    #[doc(alias = "allowEIO3")]
    pub fn allow_eio3(mut self, allow: bool) -> Self {
        self.engine = self.engine.allow_eio3(allow);
        self
    }

    /// Sets `perMessageDeflate`: WebSocket compression (RFC 7692), off by
    /// default as in the reference; `Some` turns it on. A client that offers
    /// the extension gets it with no context takeover either way, messages
    /// under the threshold (1024 bytes by default) go out uncompressed, and
    /// a compressed message from a client may inflate to at most
    /// `maxHttpBufferSize` (past it the connection closes with 1009). See
    /// [`rally_engine::Config::per_message_deflate`].
    ///
    /// ```
    /// use rally::PerMessageDeflate;
    ///
    /// let io = rally::Server::builder()
    ///     .per_message_deflate(Some(PerMessageDeflate::default().threshold(2048)))
    ///     .build();
    /// # drop(io);
    /// ```
    #[doc(alias = "perMessageDeflate")]
    pub fn per_message_deflate(mut self, deflate: Option<PerMessageDeflate>) -> Self {
        self.engine = self.engine.per_message_deflate(deflate);
        self
    }

    /// Sets how many binary attachments one packet may carry (default 10).
    pub fn max_attachments(mut self, max: usize) -> Self {
        self.max_attachments = max;
        self
    }

    /// Sets how many frames may wait for a slow client before it is
    /// disconnected (volatile packets are dropped instead). Default 4096.
    pub fn max_buffered_frames(mut self, frames: usize) -> Self {
        self.engine = self.engine.max_buffered_frames(frames);
        self
    }

    /// Sets how many sessions may be open at once (default 100,000); a
    /// handshake past it is refused with HTTP 503, which the official
    /// client retries with its backoff. See SECURITY.md.
    pub fn max_sessions(mut self, sessions: usize) -> Self {
        self.engine = self.engine.max_sessions(sessions);
        self
    }

    /// Limits each IP address to `max` handshakes per `window` (default
    /// off); past it, HTTP 429. See
    /// [`rally_engine::Config::max_handshakes_per_ip`].
    pub fn max_handshakes_per_ip(mut self, max: u32, window: Duration) -> Self {
        self.engine = self.engine.max_handshakes_per_ip(max, window);
        self
    }

    /// Sets how many namespaces one connection may join (default 64). A
    /// CONNECT past it is refused with a CONNECT_ERROR
    /// `{"message":"Too many namespaces"}`; the connection stays.
    ///
    /// ```
    /// let io = rally::Server::builder().max_namespaces(8).build();
    /// ```
    pub fn max_namespaces(mut self, max: usize) -> Self {
        self.max_namespaces = max;
        self
    }

    /// Sets how many acknowledgements one socket may owe the server at
    /// once (default 1024): an emit with an ack past it fails at once with
    /// [`AckError::TooManyPending`](crate::AckError::TooManyPending) and
    /// sends nothing, so a client that never answers cannot grow the
    /// server's memory.
    pub fn max_pending_acks(mut self, max: usize) -> Self {
        self.max_pending_acks = max;
        self
    }

    /// Sets how many rooms one socket may be in, besides its own (default
    /// 1024). [`Socket::join`](crate::Socket::join) past it joins none of
    /// the rooms beyond the limit (a warning is logged).
    pub fn max_rooms(mut self, max: usize) -> Self {
        self.max_rooms = max;
        self
    }

    /// Sets how each namespace's [`Adapter`] is made (default: the
    /// in-memory [`LocalAdapter`](crate::adapter::LocalAdapter)); a cluster
    /// adapter plugs in here. The factory gets an [`AdapterContext`]: the
    /// namespace and the server's recovery settings and parser.
    pub fn adapter(
        mut self,
        factory: impl Fn(AdapterContext) -> Arc<dyn Adapter> + Send + Sync + 'static,
    ) -> Self {
        self.adapter = Some(Arc::new(factory));
        self
    }

    /// Turns connection state recovery on (`connectionStateRecovery`; off
    /// by default, as in the reference): the CONNECT reply carries a `pid`,
    /// every broadcast that is neither volatile nor acknowledged (direct
    /// emits to one socket included) ends with an offset, and a client that
    /// comes back within `maxDisconnectionDuration` with its `{pid, offset}`
    /// gets its socket id, rooms and data back with what it missed
    /// ([`Socket::recovered`](crate::Socket::recovered) is then true).
    ///
    /// The default adapter keeps what that takes in memory; a custom
    /// [`adapter`](Self::adapter) must implement
    /// [`persist_session`](Adapter::persist_session) and
    /// [`restore_session`](Adapter::restore_session) for it.
    #[doc(alias = "connectionStateRecovery")]
    pub fn connection_state_recovery(mut self, recovery: crate::ConnectionStateRecovery) -> Self {
        self.recovery = Some(recovery);
        self
    }

    /// Shares `value` with every handler, as axum's `with_state`: read it
    /// back by its type with [`Socket::state`](crate::Socket::state) (in
    /// connection, event and disconnect handlers alike) or
    /// [`Server::state`](crate::Server::state), instead of cloning an
    /// `Arc` into every closure. Each type holds one value (setting a type
    /// again replaces it); set several types for several values. Values
    /// shared this way are immutable: put a `Mutex` or atomics inside for
    /// what changes.
    ///
    /// ```
    /// use rally::Server;
    ///
    /// #[derive(Clone)]
    /// struct Greeting(String);
    ///
    /// let io = Server::builder().state(Greeting("hello".into())).state(42_u32).build();
    /// io.of("/").on_connection(|socket| async move {
    ///     let greeting = socket.state::<Greeting>().expect("set on the builder");
    ///     let _ = socket.emit("welcome", &greeting.0);
    /// });
    /// assert_eq!(io.state::<u32>(), Some(&42));
    /// ```
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.states.insert(value);
        self
    }

    /// Serves the Socket.IO Admin UI's namespace with `options` (see
    /// [`admin::instrument`](crate::admin::instrument), which this calls
    /// when the server is built; default: off, which costs nothing).
    ///
    /// ```
    /// use rally::admin::{AdminUi, Mode};
    ///
    /// let io = rally::Server::builder()
    ///     .admin_ui(AdminUi::new().mode(Mode::Production))
    ///     .build();
    /// # let _ = io;
    /// ```
    pub fn admin_ui(mut self, options: crate::admin::AdminUi) -> Self {
        self.admin_ui = Some(options);
        self
    }

    /// Gives the server its cluster's node-to-node [`Bus`](rally_engine::Bus),
    /// which the cluster adapters provide (`RedisAdapter::bus`,
    /// `PostgresAdapter::bus`), for [`forward_sessions`](Self::forward_sessions).
    pub fn bus(mut self, bus: Arc<dyn rally_engine::Bus>) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Turns session forwarding on or off (off by default): a polling
    /// request for a session another node of the cluster holds is served
    /// through that node, so the nodes need no sticky sessions behind a
    /// load balancer. It needs the cluster's [`bus`](Self::bus); see
    /// [`rally_engine::Config::forward_sessions`] for how it works.
    ///
    /// ```
    /// # fn run(cluster: impl Fn(rally::adapter::AdapterContext) -> std::sync::Arc<dyn rally::adapter::Adapter> + Send + Sync + 'static, bus: std::sync::Arc<dyn rally::Bus>) {
    /// // With Redis: `.adapter(redis.factory()).bus(redis.bus())`.
    /// let io = rally::Server::builder()
    ///     .adapter(cluster)
    ///     .bus(bus)
    ///     .forward_sessions(true)
    ///     .build();
    /// # }
    /// ```
    pub fn forward_sessions(mut self, on: bool) -> Self {
        self.forward_sessions = on;
        self
    }

    /// The server.
    ///
    /// # Panics
    ///
    /// With [`forward_sessions`](Self::forward_sessions) on and no
    /// [`bus`](Self::bus): forwarding needs a cluster.
    #[must_use]
    pub fn build(self) -> crate::Server {
        crate::Server::from_builder(self)
    }
}

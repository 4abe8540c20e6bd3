use std::{
    fmt,
    future::Future,
    sync::Arc,
    time::{Duration, SystemTime},
};

use futures_util::future::BoxFuture;
use http::request::Parts;

use crate::{
    HttpCompression, Message, Transport,
    hooks::{ConnectionErrorHook, HeadersHook},
};

/// A hook deciding whether a handshake may go on (`allowRequest`), sync or
/// async: made by [`Config::allow_request`] or
/// [`Config::allow_request_async`].
///
/// `Err(message)` refuses the handshake with HTTP 403 and
/// `{"code":4,"message":<message>}` (`Forbidden` when the message is empty).
#[derive(Clone)]
pub struct AllowRequest(Arc<dyn Fn(&Parts) -> Verdict + Send + Sync>);

/// What an [`AllowRequest`] hook answers: at once, or later.
enum Verdict {
    Now(Result<(), String>),
    Later(BoxFuture<'static, Result<(), String>>),
}

impl AllowRequest {
    /// A hook that answers at once.
    pub fn new(hook: impl Fn(&Parts) -> Result<(), String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(move |req| Verdict::Now(hook(req))))
    }

    /// A hook that answers with a future: it reads what it needs of the
    /// request, then returns a future owning it.
    pub fn new_async<F>(hook: impl Fn(&Parts) -> F + Send + Sync + 'static) -> Self
    where
        F: Future<Output = Result<(), String>> + Send + 'static,
    {
        Self(Arc::new(move |req| Verdict::Later(Box::pin(hook(req)))))
    }

    /// Runs the hook on a request.
    pub(crate) async fn check(&self, req: &Parts) -> Result<(), String> {
        match (self.0)(req) {
            Verdict::Now(verdict) => verdict,
            Verdict::Later(future) => future.await,
        }
    }
}

impl fmt::Debug for AllowRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AllowRequest(..)")
    }
}

/// Options of an Engine.IO server. The defaults are the reference's.
///
/// Each setter is named after the JavaScript option it mirrors
/// (`pingInterval` → [`ping_interval`](Config::ping_interval)).
///
/// ```
/// use std::time::Duration;
/// use rally_engine::Config;
///
/// let config = Config::default()
///     .path("/engine.io/")
///     .ping_interval(Duration::from_millis(300))
///     .ping_timeout(Duration::from_millis(200));
/// assert_eq!(config.max_http_buffer_size, 1_000_000);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// Where the server answers (`path`); always ends with `/`. Default `/engine.io/`.
    pub path: String,
    /// How often the server pings (`pingInterval`). Default 25 s.
    pub ping_interval: Duration,
    /// How long a pong may take (`pingTimeout`). Default 20 s.
    pub ping_timeout: Duration,
    /// How long an upgrade may take (`upgradeTimeout`). Default 10 s.
    pub upgrade_timeout: Duration,
    /// The largest polling body or WebSocket message accepted, in bytes
    /// (`maxHttpBufferSize`). Default 1,000,000.
    pub max_http_buffer_size: usize,
    /// Compression of poll replies (`httpCompression`): gzip or deflate
    /// for bodies of at least the threshold, when the client accepts it.
    /// Default on, threshold 1024 bytes. See
    /// [`http_compression`](Config::http_compression).
    pub http_compression: Option<HttpCompression>,
    /// The transports clients may use (`transports`). Default both.
    pub transports: Vec<Transport>,
    /// Whether polling sessions may upgrade to WebSocket (`allowUpgrades`). Default true.
    pub allow_upgrades: bool,
    /// Cross-origin resource sharing for polling requests (`cors`). Default off.
    pub cors: Option<Cors>,
    /// The session cookie for sticky load balancing (`cookie`). Default off.
    pub cookie: Option<Cookie>,
    /// A hook that may refuse handshakes and upgrades (`allowRequest`). Default none.
    pub allow_request: Option<AllowRequest>,
    /// How many frames may wait for a slow client before
    /// [`Session::send`](crate::Session::send) refuses more. Default 4096.
    pub max_buffered_frames: usize,
    /// How many sessions may be open at once; handshakes past it are
    /// refused with HTTP 503. Default 100,000. See SECURITY.md.
    pub max_sessions: usize,
    /// How many handshakes one IP address may make per window, and the
    /// window. Default off. See
    /// [`max_handshakes_per_ip`](Config::max_handshakes_per_ip).
    pub handshake_rate: Option<(u32, Duration)>,
    /// Whether Engine.IO protocol 3 clients (Socket.IO v2) may connect
    /// (`allowEIO3`). Default false. See [`allow_eio3`](Config::allow_eio3).
    pub allow_eio3: bool,
    /// Whether [`path`](Config::path) is matched with its trailing `/`
    /// (`addTrailingSlash`). Default true. See
    /// [`add_trailing_slash`](Config::add_trailing_slash).
    pub add_trailing_slash: bool,
    /// A message sent right after the open packet of every session
    /// (`initialPacket`). Default none.
    pub initial_packet: Option<Message>,
    /// A hook on the headers of the reply that opens a session (the
    /// `initial_headers` event). Default none.
    pub initial_headers: Option<HeadersHook>,
    /// A hook on the headers of every successful reply (the `headers`
    /// event). Default none.
    pub headers: Option<HeadersHook>,
    /// A hook told of every refused request (the `connection_error` event).
    /// Default none.
    pub connection_error: Option<ConnectionErrorHook>,
    /// WebSocket compression (`perMessageDeflate`). Default off. See
    /// [`per_message_deflate`](Config::per_message_deflate).
    pub per_message_deflate: Option<PerMessageDeflate>,
    /// Session forwarding over a cluster's bus: requests for sessions
    /// other nodes hold are served through them. Default off. See
    /// [`forward_sessions`](Config::forward_sessions).
    pub forward_sessions: Option<Arc<dyn crate::Bus>>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            path: "/engine.io/".into(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_http_buffer_size: 1_000_000,
            http_compression: Some(HttpCompression::default()),
            transports: vec![Transport::Polling, Transport::WebSocket],
            allow_upgrades: true,
            cors: None,
            cookie: None,
            allow_request: None,
            max_buffered_frames: 4096,
            max_sessions: 100_000,
            handshake_rate: None,
            allow_eio3: false,
            add_trailing_slash: true,
            initial_packet: None,
            initial_headers: None,
            headers: None,
            connection_error: None,
            per_message_deflate: None,
            forward_sessions: None,
        }
    }
}

impl Config {
    /// Turns WebSocket compression (permessage-deflate, RFC 7692) on or off
    /// (`perMessageDeflate`; off by default, as in the reference).
    ///
    /// When on, a client that offers the extension (browsers always do,
    /// Node's `ws` when asked) gets it, with no context takeover either way:
    /// each message is compressed on its own, so a connection keeps no
    /// compressor state, idle or busy, and a broadcast is compressed once per
    /// thread for all its recipients. Messages under the threshold, and
    /// those that compressing would not shrink, go out as they are.
    ///
    /// ```
    /// use rally_engine::{Config, PerMessageDeflate};
    ///
    /// let config = Config::default().per_message_deflate(Some(PerMessageDeflate::default()));
    /// assert_eq!(config.per_message_deflate.unwrap().threshold, 1024);
    /// ```
    #[must_use]
    pub fn per_message_deflate(mut self, deflate: Option<PerMessageDeflate>) -> Self {
        self.per_message_deflate = deflate;
        self
    }

    /// Serves the polling requests of sessions that other nodes of a
    /// cluster hold through those nodes, over `bus` (which the cluster
    /// adapter provides): a round-robin load balancer in front of the
    /// nodes then needs no sticky sessions. Off (`None`) by default.
    ///
    /// Each node gets a random tag when the engine is made, and its
    /// session ids begin with it (still 96 random bits each); a request for
    /// a session held elsewhere goes to the node its id names, which runs
    /// it as a request of its own and sends back the reply. An upgrade to
    /// WebSocket of another node's session is refused (its client goes on
    /// polling); a WebSocket opened without a session is a session of the
    /// node that receives it. Make the engine within a tokio runtime.
    #[must_use]
    pub fn forward_sessions(mut self, bus: Option<Arc<dyn crate::Bus>>) -> Self {
        self.forward_sessions = bus;
        self
    }

    /// Sets `path`. A trailing `/` is added when missing.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let mut path = path.into();
        if !path.ends_with('/') {
            path.push('/');
        }
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        self.path = path;
        self
    }

    /// Sets `pingInterval`.
    #[must_use]
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// Sets `pingTimeout`.
    #[must_use]
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.ping_timeout = timeout;
        self
    }

    /// Sets `upgradeTimeout`.
    #[must_use]
    pub fn upgrade_timeout(mut self, timeout: Duration) -> Self {
        self.upgrade_timeout = timeout;
        self
    }

    /// Sets `maxHttpBufferSize`, in bytes.
    #[must_use]
    pub fn max_http_buffer_size(mut self, bytes: usize) -> Self {
        self.max_http_buffer_size = bytes;
        self
    }

    /// Sets `httpCompression` (default on, threshold 1024 bytes); `None`
    /// turns it off.
    ///
    /// On, a poll reply whose body (the encoded payload) has at least
    /// `threshold` bytes is compressed with gzip or deflate, the one the
    /// request's `Accept-Encoding` weighs higher (gzip on a tie), and
    /// carries `Content-Encoding` and `Vary: Accept-Encoding`; a client
    /// that accepts neither gets it as it is. Smaller bodies are never
    /// compressed. A POST whose body is compressed
    /// (`Content-Encoding: gzip` or `deflate`) is read whether this is on
    /// or off: [`max_http_buffer_size`](Config::max_http_buffer_size)
    /// bounds its inflated size (past it: HTTP 413), and another coding is
    /// refused with HTTP 415.
    ///
    /// ```
    /// use rally_engine::{Config, HttpCompression};
    ///
    /// let config = Config::default().http_compression(Some(HttpCompression::default().threshold(2048)));
    /// assert_eq!(config.http_compression.map(|c| c.threshold), Some(2048));
    /// assert!(Config::default().http_compression(None).http_compression.is_none());
    /// ```
    #[doc(alias = "httpCompression")]
    #[must_use]
    pub fn http_compression(mut self, compression: Option<HttpCompression>) -> Self {
        self.http_compression = compression;
        self
    }

    /// Sets `transports`.
    #[must_use]
    pub fn transports(mut self, transports: impl IntoIterator<Item = Transport>) -> Self {
        self.transports = transports.into_iter().collect();
        self
    }

    /// Sets `allowUpgrades`.
    #[must_use]
    pub fn allow_upgrades(mut self, allow: bool) -> Self {
        self.allow_upgrades = allow;
        self
    }

    /// Sets `cors`.
    #[must_use]
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = Some(cors);
        self
    }

    /// Sets `cookie`.
    #[must_use]
    pub fn cookie(mut self, cookie: Cookie) -> Self {
        self.cookie = Some(cookie);
        self
    }

    /// Sets `allowRequest`: a hook called with each handshake request
    /// (upgrades and the later requests of a session are not screened).
    /// `Err(message)` refuses it with HTTP 403 and
    /// `{"code":4,"message":<message>}`.
    ///
    /// ```
    /// use rally_engine::Config;
    ///
    /// let config = Config::default().allow_request(|req| {
    ///     if req.headers.contains_key("x-token") { Ok(()) } else { Err("no token".into()) }
    /// });
    /// ```
    #[must_use]
    pub fn allow_request(
        mut self,
        hook: impl Fn(&Parts) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.allow_request = Some(AllowRequest::new(hook));
        self
    }

    /// Sets `allowRequest` to an async hook, as the reference's callback
    /// form allows: the hook reads what it needs of the request and returns
    /// a future that decides (looking a token up in a database, say). The
    /// handshake waits for it; its `Err(message)` refuses as
    /// [`allow_request`](Config::allow_request)'s does.
    ///
    /// ```
    /// use rally_engine::Config;
    ///
    /// let config = Config::default().allow_request_async(|req| {
    ///     let token = req.headers.get("x-token").cloned();
    ///     async move {
    ///         // e.g. ask a session store
    ///         if token.is_some() { Ok(()) } else { Err("no token".into()) }
    ///     }
    /// });
    /// ```
    #[must_use]
    pub fn allow_request_async<F>(
        mut self,
        hook: impl Fn(&Parts) -> F + Send + Sync + 'static,
    ) -> Self
    where
        F: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.allow_request = Some(AllowRequest::new_async(hook));
        self
    }

    /// Sets `addTrailingSlash` (default true). On, requests are served
    /// under `path` with its trailing slash (`/engine.io/...`). Off, the
    /// slash is dropped from what is matched, as the reference does: any
    /// request whose path starts with `/engine.io` is served, so
    /// `/engine.io?EIO=4&...` and `/engine.io/?EIO=4&...` both are.
    ///
    /// ```
    /// use rally_engine::Config;
    ///
    /// let config = Config::default().path("/realtime").add_trailing_slash(false);
    /// assert!(!config.add_trailing_slash);
    /// ```
    #[doc(alias = "addTrailingSlash")]
    #[must_use]
    pub fn add_trailing_slash(mut self, add: bool) -> Self {
        self.add_trailing_slash = add;
        self
    }

    /// Sets `initialPacket`: a message queued right after the open packet
    /// of every session, before anything the handler sends (in the reply
    /// to a polling handshake, after the open packet; over a WebSocket, the
    /// frame after it).
    ///
    /// ```
    /// use rally_engine::{Config, Message};
    ///
    /// let config = Config::default().initial_packet(Message::Text("welcome".into()));
    /// ```
    #[doc(alias = "initialPacket")]
    #[must_use]
    pub fn initial_packet(mut self, message: impl Into<Message>) -> Self {
        self.initial_packet = Some(message.into());
        self
    }

    /// Sets a hook on the headers of the reply that opens a session (the
    /// reference's `initial_headers` event): the polling handshake's 200,
    /// the WebSocket handshake's 101. It runs after the engine has written
    /// its own headers (the cookie's `Set-Cookie` included) and may add,
    /// change or remove any; it gets the request's method, URI, version,
    /// headers and [`RemoteAddr`](crate::RemoteAddr). The reply's body and
    /// status are the engine's.
    ///
    /// ```
    /// use http::HeaderValue;
    /// use rally_engine::Config;
    ///
    /// let config = Config::default().on_initial_headers(|headers, _req| {
    ///     headers.insert("x-served-by", HeaderValue::from_static("node-1"));
    /// });
    /// ```
    #[doc(alias = "initial_headers")]
    #[must_use]
    pub fn on_initial_headers(
        mut self,
        hook: impl Fn(&mut http::HeaderMap, &Parts) + Send + Sync + 'static,
    ) -> Self {
        self.initial_headers = Some(Arc::new(hook));
        self
    }

    /// Sets a hook on the headers of every successful reply of the engine
    /// (the reference's `headers` event): handshakes, polls, POSTs, and the
    /// 101 of WebSocket handshakes and upgrades. On the reply that opens a
    /// session it runs after [`on_initial_headers`](Config::on_initial_headers)'s
    /// hook. Refusals and errors do not get it (see
    /// [`on_connection_error`](Config::on_connection_error)).
    ///
    /// ```
    /// use http::HeaderValue;
    /// use rally_engine::Config;
    ///
    /// let config = Config::default().on_headers(|headers, _req| {
    ///     headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    /// });
    /// ```
    #[doc(alias = "headers")]
    #[must_use]
    pub fn on_headers(
        mut self,
        hook: impl Fn(&mut http::HeaderMap, &Parts) + Send + Sync + 'static,
    ) -> Self {
        self.headers = Some(Arc::new(hook));
        self
    }

    /// Sets a hook told of every request the engine refuses (the
    /// reference's `connection_error` event), with the Engine.IO error code,
    /// the message sent, why ([`Refusal`](crate::Refusal)) and the request.
    /// It runs before the refusal is sent and cannot change it.
    ///
    /// ```
    /// use rally_engine::Config;
    ///
    /// let config = Config::default().on_connection_error(|err| {
    ///     eprintln!("{} {}: {:?} {}", err.code, err.message, err.reason, err.request.uri);
    /// });
    /// ```
    #[doc(alias = "connection_error")]
    #[must_use]
    pub fn on_connection_error(
        mut self,
        hook: impl Fn(&crate::ConnectionError<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.connection_error = Some(Arc::new(hook));
        self
    }

    /// Sets the bound of each session's outgoing queue, in frames.
    #[must_use]
    pub fn max_buffered_frames(mut self, frames: usize) -> Self {
        self.max_buffered_frames = frames.max(1);
        self
    }

    /// Sets how many sessions may be open at once (default 100,000). A
    /// handshake past it is refused with HTTP 503 and
    /// `{"code":3,"message":"Too many sessions"}` (a WebSocket handshake:
    /// 503 and that message as text); the official client treats it as a
    /// connection error and retries with its backoff.
    ///
    /// ```
    /// use rally_engine::Config;
    ///
    /// let config = Config::default().max_sessions(10_000);
    /// assert_eq!(config.max_sessions, 10_000);
    /// ```
    #[must_use]
    pub fn max_sessions(mut self, sessions: usize) -> Self {
        self.max_sessions = sessions;
        self
    }

    /// Limits each IP address to `max` handshakes per `window` (off by
    /// default). A handshake past it is refused with HTTP 429 and
    /// `{"code":3,"message":"Too many handshakes"}` (a WebSocket handshake:
    /// 429 and that message as text); requests of open sessions are not
    /// counted. The address is the TCP peer's ([`RemoteAddr`](crate::RemoteAddr),
    /// set by [`serve`](crate::serve)): behind a reverse proxy, limit there.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rally_engine::Config;
    ///
    /// let config = Config::default().max_handshakes_per_ip(30, Duration::from_secs(60));
    /// ```
    #[must_use]
    pub fn max_handshakes_per_ip(mut self, max: u32, window: Duration) -> Self {
        self.handshake_rate = Some((max, window));
        self
    }

    /// Sets `allowEIO3`: whether clients of Engine.IO protocol 3 (what
    /// socket.io-client 2.x and the Socket.IO v2 clients of other languages
    /// speak) may open sessions. Off by default, as in the reference.
    ///
    /// Off, a handshake with `EIO=3` (or with no `EIO` at all, which the
    /// reference reads as protocol 3) is refused with HTTP 400 and
    /// `{"code":5,"message":"Unsupported protocol version"}`. On, such a
    /// handshake opens a protocol 3 session, beside protocol 4 ones: the
    /// client pings and the server answers (a session that sends no ping for
    /// `pingInterval + pingTimeout` closes with `ping timeout`), polling
    /// bodies take the `<length>:<packet>` text form or the binary form, and
    /// a binary WebSocket frame starts with its packet type. Every later
    /// request of a session must name the revision it opened with
    /// ([`Session::protocol`](crate::Session::protocol)), or it gets HTTP 400.
    /// JSONP polling (a `j` parameter) is not served: such a handshake gets
    /// HTTP 400, `{"code":3,"message":"Bad request"}`.
    ///
    /// ```
    /// use rally_engine::Config;
    ///
    /// let config = Config::default().allow_eio3(true);
    /// assert!(config.allow_eio3);
    /// ```
    #[doc(alias = "allowEIO3")]
    #[must_use]
    pub fn allow_eio3(mut self, allow: bool) -> Self {
        self.allow_eio3 = allow;
        self
    }

    /// What follows the sid in the open packet of a session on `transport`
    /// (`","upgrades":[...],...}`): the same for every session, so built once.
    pub(crate) fn open_packet_tail(&self, transport: Transport) -> String {
        let upgrades = transport == Transport::Polling
            && self.allow_upgrades
            && self.allows(Transport::WebSocket);
        let upgrades = if upgrades { r#"["websocket"]"# } else { "[]" };
        format!(
            r#"","upgrades":{upgrades},"pingInterval":{},"pingTimeout":{},"maxPayload":{}}}"#,
            self.ping_interval.as_millis(),
            self.ping_timeout.as_millis(),
            self.max_http_buffer_size
        )
    }

    pub(crate) fn allows(&self, transport: Transport) -> bool {
        self.transports.contains(&transport)
    }

    /// What the path of a request must start with to be the engine's.
    pub(crate) fn path_prefix(&self) -> &str {
        if self.add_trailing_slash {
            &self.path
        } else {
            self.path.strip_suffix('/').unwrap_or(&self.path)
        }
    }

    /// Whether a hook needs a copy of each request.
    pub(crate) fn hooks_requests(&self) -> bool {
        self.initial_headers.is_some() || self.headers.is_some() || self.connection_error.is_some()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("path", &self.path)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("upgrade_timeout", &self.upgrade_timeout)
            .field("max_http_buffer_size", &self.max_http_buffer_size)
            .field("http_compression", &self.http_compression)
            .field("transports", &self.transports)
            .field("allow_upgrades", &self.allow_upgrades)
            .field("cors", &self.cors)
            .field("cookie", &self.cookie)
            .field("allow_request", &self.allow_request.is_some())
            .field("max_buffered_frames", &self.max_buffered_frames)
            .field("max_sessions", &self.max_sessions)
            .field("handshake_rate", &self.handshake_rate)
            .field("allow_eio3", &self.allow_eio3)
            .field("add_trailing_slash", &self.add_trailing_slash)
            .field("initial_packet", &self.initial_packet)
            .field("initial_headers", &self.initial_headers.is_some())
            .field("headers", &self.headers.is_some())
            .field("connection_error", &self.connection_error.is_some())
            .field("forward_sessions", &self.forward_sessions.is_some())
            .finish()
    }
}

/// Which origins CORS lets in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllowOrigin {
    /// Any origin: `Access-Control-Allow-Origin: *`.
    Any,
    /// Whatever origin the request names, echoed back.
    Mirror,
    /// Only these origins (exact matches, such as `https://example.com`).
    List(Vec<String>),
    /// The origins a function accepts (what the reference's regular
    /// expressions and functions do), echoed back.
    Predicate(OriginPredicate),
}

/// A function deciding whether an origin may reach the server: see
/// [`Cors::predicate`]. Two are equal when they are the same function.
#[derive(Clone)]
pub struct OriginPredicate(Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl OriginPredicate {
    /// Whether `origin` is let in.
    #[must_use]
    pub fn accepts(&self, origin: &str) -> bool {
        (self.0)(origin)
    }
}

impl fmt::Debug for OriginPredicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OriginPredicate(..)")
    }
}

impl PartialEq for OriginPredicate {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for OriginPredicate {}

/// The `cors` option: which origins may reach the server from a browser,
/// and what a preflight answers. The options and replies are those of the
/// `cors` package the reference's users pass them to.
///
/// ```
/// use std::time::Duration;
/// use rally_engine::Cors;
///
/// let cors = Cors::origins(["https://example.com"])
///     .credentials(true)
///     .allowed_headers(["authorization"])
///     .exposed_headers(["x-request-id"])
///     .max_age(Duration::from_secs(600));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cors {
    /// The origins allowed.
    pub origin: AllowOrigin,
    /// Whether to send `Access-Control-Allow-Credentials: true`.
    pub credentials: bool,
    /// The methods a preflight allows (`Access-Control-Allow-Methods`).
    /// Default `GET,HEAD,PUT,PATCH,POST,DELETE`.
    pub methods: Vec<String>,
    /// The request headers a preflight allows
    /// (`Access-Control-Allow-Headers`); `None`, the default, allows those
    /// the preflight asks for.
    pub allowed_headers: Option<Vec<String>>,
    /// The response headers a page may read
    /// (`Access-Control-Expose-Headers`). Default none.
    pub exposed_headers: Vec<String>,
    /// How long a browser may cache a preflight's answer
    /// (`Access-Control-Max-Age`, in whole seconds). Default unset.
    pub max_age: Option<Duration>,
}

impl Cors {
    fn with_origin(origin: AllowOrigin) -> Self {
        Self {
            origin,
            credentials: false,
            methods: ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"]
                .map(String::from)
                .into(),
            allowed_headers: None,
            exposed_headers: Vec::new(),
            max_age: None,
        }
    }

    /// Lets any origin in.
    #[must_use]
    pub fn any() -> Self {
        Self::with_origin(AllowOrigin::Any)
    }

    /// Lets in whatever origin the request names.
    #[must_use]
    pub fn mirror() -> Self {
        Self::with_origin(AllowOrigin::Mirror)
    }

    /// Lets in only the listed origins.
    #[must_use]
    pub fn origins<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::with_origin(AllowOrigin::List(
            origins.into_iter().map(Into::into).collect(),
        ))
    }

    /// Lets in the origins `accepts` approves (it gets the request's
    /// `Origin` header): the reference's regular expression or function
    /// origins. A regular expression crate of your choice fits here.
    ///
    /// ```
    /// use rally_engine::Cors;
    ///
    /// let cors = Cors::predicate(|origin| origin.ends_with(".example.com"));
    /// ```
    #[must_use]
    pub fn predicate(accepts: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Self::with_origin(AllowOrigin::Predicate(OriginPredicate(Arc::new(accepts))))
    }

    /// Sets whether credentials (cookies) may be sent.
    #[must_use]
    pub fn credentials(mut self, credentials: bool) -> Self {
        self.credentials = credentials;
        self
    }

    /// Sets the methods a preflight allows.
    #[must_use]
    pub fn methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.methods = methods.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the request headers a preflight allows (instead of those it
    /// asks for).
    #[must_use]
    pub fn allowed_headers<I, S>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_headers = Some(headers.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the response headers a page may read.
    #[must_use]
    pub fn exposed_headers<I, S>(mut self, headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exposed_headers = headers.into_iter().map(Into::into).collect();
        self
    }

    /// Sets how long a preflight's answer may be cached.
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Whether `origin` (an `Origin` header) is let in.
    pub(crate) fn allows_origin(&self, origin: &[u8]) -> bool {
        match &self.origin {
            AllowOrigin::Any | AllowOrigin::Mirror => true,
            AllowOrigin::List(list) => list.iter().any(|allowed| origin == allowed.as_bytes()),
            AllowOrigin::Predicate(accepts) => {
                std::str::from_utf8(origin).is_ok_and(|o| accepts.accepts(o))
            }
        }
    }
}

/// The `SameSite` attribute of the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None`.
    None,
}

/// The `cookie` option: a cookie holding the session id, set on the
/// handshake, for load balancers that route by cookie. Its attributes are
/// written in the order the reference writes them.
///
/// ```
/// use std::time::Duration;
/// use rally_engine::Cookie;
///
/// let cookie = Cookie::default(); // io=<sid>; Path=/; HttpOnly; SameSite=Lax
/// assert_eq!(cookie.name, "io");
/// let cookie = Cookie::default()
///     .secure(true)
///     .domain("example.com")
///     .max_age(Duration::from_secs(86_400));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cookie {
    /// The cookie's name. Default `io`.
    pub name: String,
    /// Its `Path`. Default `/`.
    pub path: Option<String>,
    /// Whether it is `HttpOnly`. Default true.
    pub http_only: bool,
    /// Its `SameSite`. Default `Lax`.
    pub same_site: Option<SameSite>,
    /// Whether it is `Secure` (sent over HTTPS only). Default false.
    pub secure: bool,
    /// Its `Domain`. Default none (the host that set it).
    pub domain: Option<String>,
    /// Its `Max-Age`, in whole seconds. Default none (a session cookie).
    pub max_age: Option<Duration>,
    /// Its `Expires`. Default none.
    pub expires: Option<SystemTime>,
}

impl Default for Cookie {
    fn default() -> Self {
        Self {
            name: "io".into(),
            path: Some("/".into()),
            http_only: true,
            same_site: Some(SameSite::Lax),
            secure: false,
            domain: None,
            max_age: None,
            expires: None,
        }
    }
}

impl Cookie {
    /// Sets the cookie's name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets its `Path` (`None`: no `Path` attribute).
    #[must_use]
    pub fn path(mut self, path: Option<String>) -> Self {
        self.path = path;
        self
    }

    /// Sets whether it is `HttpOnly`.
    #[must_use]
    pub fn http_only(mut self, http_only: bool) -> Self {
        self.http_only = http_only;
        self
    }

    /// Sets its `SameSite` (`None`: no `SameSite` attribute).
    #[must_use]
    pub fn same_site(mut self, same_site: Option<SameSite>) -> Self {
        self.same_site = same_site;
        self
    }

    /// Sets whether it is `Secure`.
    #[must_use]
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Sets its `Domain`.
    #[must_use]
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Sets its `Max-Age` (whole seconds; less is rounded down).
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Sets its `Expires`.
    #[must_use]
    pub fn expires(mut self, expires: SystemTime) -> Self {
        self.expires = Some(expires);
        self
    }

    /// The `Set-Cookie` value for a session.
    pub(crate) fn header_value(&self, sid: &str) -> String {
        let mut value = format!("{}={sid}", self.name);
        if let Some(max_age) = self.max_age {
            value.push_str(&format!("; Max-Age={}", max_age.as_secs()));
        }
        if let Some(domain) = &self.domain {
            value.push_str("; Domain=");
            value.push_str(domain);
        }
        if let Some(path) = &self.path {
            value.push_str("; Path=");
            value.push_str(path);
        }
        if let Some(expires) = self.expires {
            value.push_str("; Expires=");
            value.push_str(&httpdate::fmt_http_date(expires));
        }
        if self.http_only {
            value.push_str("; HttpOnly");
        }
        if self.secure {
            value.push_str("; Secure");
        }
        match self.same_site {
            Some(SameSite::Strict) => value.push_str("; SameSite=Strict"),
            Some(SameSite::Lax) => value.push_str("; SameSite=Lax"),
            Some(SameSite::None) => value.push_str("; SameSite=None"),
            None => {}
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_attributes_come_in_the_reference_order() {
        let cookie = Cookie::default()
            .name("sticky")
            .secure(true)
            .domain("example.com")
            .max_age(Duration::from_millis(3_600_900))
            .expires(SystemTime::UNIX_EPOCH + Duration::from_secs(86_400))
            .same_site(Some(SameSite::None));
        assert_eq!(
            cookie.header_value("abc"),
            "sticky=abc; Max-Age=3600; Domain=example.com; Path=/; \
             Expires=Fri, 02 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=None"
        );
        let bare = Cookie::default()
            .path(None)
            .http_only(false)
            .same_site(None);
        assert_eq!(bare.header_value("abc"), "io=abc");
    }

    #[test]
    fn the_path_prefix_drops_the_slash_only_when_asked() {
        let config = Config::default().path("/realtime");
        assert_eq!(config.path_prefix(), "/realtime/");
        assert_eq!(config.add_trailing_slash(false).path_prefix(), "/realtime");
    }
}

/// How WebSocket messages are compressed (the reference's
/// `perMessageDeflate` object).
///
/// ```
/// use rally_engine::PerMessageDeflate;
///
/// let deflate = PerMessageDeflate::default().threshold(4096).level(6);
/// assert_eq!((deflate.threshold, deflate.level), (4096, 6));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PerMessageDeflate {
    /// Messages shorter than this many bytes are sent uncompressed. Default
    /// 1024, as in the reference.
    pub threshold: usize,
    /// The compression level, 0 (none) to 9 (smallest, slowest). Default 1:
    /// the fastest level takes most of the gain on JSON at a fraction of the
    /// CPU of zlib's default (6).
    pub level: u32,
}

impl Default for PerMessageDeflate {
    fn default() -> Self {
        Self {
            threshold: 1024,
            level: 1,
        }
    }
}

impl PerMessageDeflate {
    /// Sets the threshold.
    #[must_use]
    pub fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// Sets the compression level (capped at 9).
    #[must_use]
    pub fn level(mut self, level: u32) -> Self {
        self.level = level.min(9);
        self
    }
}

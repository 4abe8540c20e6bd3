use std::{
    convert::Infallible,
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::SystemTime,
};

use futures_util::FutureExt;
use http::{HeaderValue, Method, Request, Response, StatusCode, header, request::Parts};
use http_body::Body;
use rally_proto::{Str, engine::v3};
use tower_service::Service;

use crate::{
    CloseReason, Config, Handler, Handshake, Protocol, Refusal, RemoteAddr, Session, Sid, SidMap,
    Transport,
    error::ErrorCode,
    hooks,
    rate::HandshakeRate,
    response::{self, EngineBody},
    session::Owner,
    stats::{Counters, Stats},
    transport::{polling, websocket},
};

/// The boxed error of request bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The state every request of one engine shares.
pub(crate) struct Engine<H> {
    pub(crate) config: Config,
    pub(crate) handler: H,
    sessions: Mutex<SidMap<Arc<Session>>>,
    /// Set by [`EngineIo::close`]: handshakes are refused from then on.
    closed: AtomicBool,
    /// Woken when the last session ends.
    emptied: tokio::sync::Notify,
    counters: Arc<Counters>,
    handshake_rate: Option<HandshakeRate>,
    /// [`Config::open_packet_tail`] of each transport, built once.
    open_tail_polling: String,
    open_tail_websocket: String,
    /// Session forwarding, when on.
    pub(crate) forwarder: Option<crate::forward::Forwarder>,
    /// The heartbeats of the polling sessions.
    heartbeats: Arc<polling::Heartbeats>,
}

impl<H: Handler> Owner for Engine<H> {
    fn session_closed(&self, session: &Arc<Session>, reason: CloseReason) {
        let emptied = {
            let mut sessions = self.sessions();
            sessions.remove(&session.sid());
            sessions.is_empty()
        };
        if emptied {
            self.emptied.notify_waiters();
        }
        self.handler.on_close(session, reason);
    }

    fn wake_heartbeat(&self, session: &Session) {
        self.heartbeats.wake(session);
    }
}

/// The reply to a request, boxed: only the futures of requests that wait
/// are kept, each of its own size.
pub(crate) type Reply = Pin<Box<dyn Future<Output = Response<EngineBody>> + Send>>;

/// Where [`Engine::route`] sent a request.
enum Routed {
    /// The answer, known at once.
    Now(Response<EngineBody>),
    /// The answer, once the future gives it.
    Later(Reply),
}

/// The query parameters the engine reads.
#[derive(Clone, Copy)]
struct Query {
    /// The protocol revision `EIO` names (protocol 3 unless it is `4`).
    protocol: Protocol,
    /// `transport`, when it names one.
    transport: Option<Transport>,
    /// `sid` when present: `Some(None)` for one that cannot be an id.
    sid: Option<Option<Sid>>,
    /// Whether a protocol 3 client takes binary: it asked no (non-empty)
    /// `b64`.
    binary: bool,
    /// Whether `j` (JSONP polling) is present.
    jsonp: bool,
}

impl Query {
    /// Reads the first `EIO`, `transport`, `sid` and `b64`, and whether
    /// there is a `j`, copying nothing.
    fn parse(query: Option<&str>) -> Self {
        let (mut protocol, mut transport, mut sid, mut b64) = (None, None, None, None);
        let mut jsonp = false;
        for (key, value) in crate::handshake::query_pairs(query.unwrap_or_default()) {
            match &*key {
                "EIO" => _ = protocol.get_or_insert_with(|| Protocol::from_eio(&value)),
                "transport" => _ = transport.get_or_insert_with(|| Transport::from_name(&value)),
                "sid" => _ = sid.get_or_insert_with(|| Sid::parse(&value)),
                "b64" => _ = b64.get_or_insert_with(|| v3::supports_binary(Some(&value))),
                "j" => jsonp = true,
                _ => {}
            }
        }
        Self {
            protocol: protocol.unwrap_or(Protocol::V3),
            transport: transport.flatten(),
            sid,
            binary: b64.unwrap_or(true),
            jsonp,
        }
    }
}

/// The refusal of a request for `reason`: plain text for a WebSocket
/// request, as the reference's, JSON otherwise.
#[inline]
fn refuse(reason: Refusal, wants_upgrade: bool) -> Response<EngineBody> {
    let code = reason.error_code();
    let response = if wants_upgrade {
        response::upgrade_error(code.message())
    } else {
        response::error(code)
    };
    hooks::mark(response, reason, None)
}

impl<H: Handler> Engine<H> {
    /// Whether the engine was closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn sessions(&self) -> MutexGuard<'_, SidMap<Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The open packet (`0{"sid":...}`) of a session opened on `transport`.
    pub(crate) fn open_packet(&self, sid: &str, transport: Transport) -> Str {
        const HEAD: &str = r#"0{"sid":""#;
        // Transport is non-exhaustive: polling is every other one.
        let tail = match transport {
            Transport::WebSocket => &self.open_tail_websocket,
            _ => &self.open_tail_polling,
        };
        let mut open = String::with_capacity(HEAD.len() + sid.len() + tail.len());
        open.push_str(HEAD);
        open.push_str(sid);
        open.push_str(tail);
        Str::from(open)
    }

    /// Whether this engine answers requests for `path`.
    pub(crate) fn matches(&self, path: &str) -> bool {
        path.starts_with(self.config.path_prefix())
    }

    /// Answers one request under the engine's path.
    pub(crate) fn handle<B>(self: Arc<Self>, req: Request<B>) -> Reply
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        if req.method() == Method::OPTIONS && self.config.cors.is_some() {
            return Box::pin(std::future::ready(response::preflight(
                &self.config,
                req.headers(),
            )));
        }
        // Only the origin outlives the request, and only when CORS needs it.
        let origin =
            (self.config.cors.as_ref()).and_then(|_| req.headers().get(header::ORIGIN).cloned());
        // Only the hooks need the request once it is answered.
        let request = self
            .config
            .hooks_requests()
            .then(|| hooks::copy_request(&req));
        let adds_nothing = self.config.cors.is_none() && request.is_none();
        let finish = move |engine: &Self, mut response: Response<EngineBody>| {
            response::add_cors(&engine.config, origin.as_ref(), response.headers_mut());
            if let Some(request) = request {
                let opens = Query::parse(request.uri.query()).sid.is_none();
                hooks::run(&engine.config, &request, opens, &mut response);
            }
            response
        };
        match self.route(req) {
            Routed::Now(response) => Box::pin(std::future::ready(finish(&self, response))),
            // Nothing to add to the reply (no CORS, no hooks): the route's
            // own future is the reply, without a second box around it (a
            // held poll keeps it as long as it waits).
            Routed::Later(reply) if adds_nothing => reply,
            Routed::Later(reply) => Box::pin(async move {
                let response = reply.await;
                finish(&self, response)
            }),
        }
    }

    /// Where a request goes: most answers are known at once; a handshake, a
    /// POST and a poll wait, each in a future of its own size (a held poll,
    /// the request that waits for long, carries none of the others').
    fn route<B>(self: &Arc<Self>, req: Request<B>) -> Routed
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let query = Query::parse(req.uri().query());
        let wants_upgrade = websocket::is_upgrade_request(&req);
        let Some(transport) = query.transport.filter(|t| self.config.allows(*t)) else {
            return Routed::Now(refuse(Refusal::UnknownTransport, wants_upgrade));
        };
        if wants_upgrade && transport == Transport::Polling {
            return Routed::Now(websocket::refuse(req));
        }
        match query.sid {
            Some(sid) => self.to_session(req, sid, transport, &query, wants_upgrade),
            None => {
                let engine = self.clone();
                Routed::Later(Box::pin(async move {
                    engine
                        .handshake(req, transport, &query, wants_upgrade)
                        .await
                }))
            }
        }
    }

    /// Answers a request as one of this node's own: what a request another
    /// node forwarded goes through.
    pub(crate) async fn route_local<B>(self: &Arc<Self>, req: Request<B>) -> Response<EngineBody>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        match self.route(req) {
            Routed::Now(response) => response,
            Routed::Later(reply) => reply.await,
        }
    }

    /// A request naming a session (`sid`, `None` when it cannot be one): a
    /// poll, a POST or an upgrade.
    fn to_session<B>(
        self: &Arc<Self>,
        req: Request<B>,
        sid: Option<Sid>,
        transport: Transport,
        query: &Query,
        wants_upgrade: bool,
    ) -> Routed
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let session = sid.and_then(|sid| self.sessions().get(&sid).cloned());
        let Some(session) = session else {
            // Another node's session: served through it, when forwarding
            // is on and the node is alive (an upgrade's connection relayed
            // to it).
            if let (Some(fwd), Some(sid)) = (&self.forwarder, sid) {
                if wants_upgrade && fwd.takes(sid.tag()) {
                    let engine = self.clone();
                    return Routed::Later(Box::pin(crate::forward::relay::open(
                        engine,
                        req,
                        sid.tag(),
                    )));
                }
                let method = req.method();
                if !wants_upgrade
                    && (method == Method::GET || method == Method::POST)
                    && fwd.takes(sid.tag())
                {
                    let engine = self.clone();
                    return Routed::Later(Box::pin(crate::forward::forward(
                        engine,
                        req,
                        sid.tag(),
                    )));
                }
            }
            return Routed::Now(refuse(Refusal::UnknownSid, wants_upgrade));
        };
        // A session speaks one protocol revision; a request naming another
        // is a mismatch (an upgrade included), as is the wrong transport
        // without an upgrade.
        if query.protocol != session.protocol() {
            return Routed::Now(refuse(Refusal::ProtocolMismatch, wants_upgrade));
        }
        if wants_upgrade {
            let binary = query.binary;
            return Routed::Now(websocket::upgrade(self.clone(), session, req, binary));
        }
        if transport != session.transport() {
            return Routed::Now(refuse(Refusal::TransportMismatch, false));
        }
        match *req.method() {
            Method::GET => {
                // The request is not kept while the poll waits.
                let reply_to = polling::ReplyTo::of(req.headers());
                let compression = self.config.http_compression;
                Routed::Later(Box::pin(polling::poll(session, reply_to, compression)))
            }
            Method::POST => {
                let engine = self.clone();
                Routed::Later(Box::pin(async move {
                    polling::post(&engine, session, req).await
                }))
            }
            _ => Routed::Now(response::status(StatusCode::INTERNAL_SERVER_ERROR)),
        }
    }

    /// A handshake: a request naming no session, which opens one if the
    /// checks let it.
    async fn handshake<B>(
        self: &Arc<Self>,
        req: Request<B>,
        transport: Transport,
        query: &Query,
        wants_upgrade: bool,
    ) -> Response<EngineBody>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        if req.method() != Method::GET {
            return refuse(Refusal::BadHandshakeMethod, wants_upgrade);
        }
        if transport == Transport::WebSocket && !wants_upgrade {
            return refuse(Refusal::TransportHandshakeError, wants_upgrade);
        }
        if self.closed.load(Ordering::Acquire) {
            return response::closed(wants_upgrade);
        }
        let (mut parts, body) = req.into_parts();
        if let Some(refusal) = self
            .screen_handshake(&parts, query.protocol, wants_upgrade)
            .await
        {
            return refusal;
        }
        // JSONP polling (what a protocol 3 client falls back to where it
        // has no XHR) is not served: refused as a transport that cannot be
        // made.
        if query.jsonp && query.protocol == Protocol::V3 && transport == Transport::Polling {
            return refuse(Refusal::Jsonp, false);
        }
        let Some(session) = self.open(&parts, transport, query) else {
            tracing::warn!(
                max_sessions = self.config.max_sessions,
                "handshake refused: too many sessions"
            );
            return hooks::mark(
                response::too_many_sessions(wants_upgrade),
                Refusal::TooManySessions,
                None,
            );
        };
        if transport == Transport::WebSocket {
            return websocket::open(self.clone(), session, &mut parts, body, query.binary);
        }
        let open = self.open_packet(&session.sid(), transport);
        let compression = self.config.http_compression;
        let mut response = polling::handshake(open, &session, &parts, compression);
        if let Some(cookie) = &self.config.cookie {
            if let Ok(value) = HeaderValue::from_str(&cookie.header_value(&session.sid())) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        response
    }

    /// The checks a handshake passes before its session opens, in order:
    /// `allow_request`, the protocol revision (protocol 3 only with
    /// `allow_eio3`), the handshake rate. The refusal, when one fails.
    async fn screen_handshake(
        &self,
        parts: &Parts,
        protocol: Protocol,
        wants_upgrade: bool,
    ) -> Option<Response<EngineBody>> {
        if let Some(hook) = &self.config.allow_request {
            if let Err(why) = hook.check(parts).await {
                tracing::debug!(%why, "handshake refused by allow_request");
                let message = if why.is_empty() {
                    ErrorCode::Forbidden.message().to_owned()
                } else {
                    why
                };
                let response = if wants_upgrade {
                    response::upgrade_error(&message)
                } else {
                    response::error_message(ErrorCode::Forbidden, &message)
                };
                return Some(hooks::mark(response, Refusal::Forbidden, Some(message)));
            }
        }
        if protocol == Protocol::V3 && !self.config.allow_eio3 {
            return Some(refuse(Refusal::UnsupportedProtocolVersion, wants_upgrade));
        }
        if let (Some(rate), Some(addr)) =
            (&self.handshake_rate, parts.extensions.get::<RemoteAddr>())
        {
            if !rate.allow(addr.0.ip(), std::time::Instant::now()) {
                tracing::debug!(ip = %addr.0.ip(), "handshake refused: too many from this address");
                return Some(hooks::mark(
                    response::too_many_handshakes(wants_upgrade),
                    Refusal::TooManyHandshakes,
                    None,
                ));
            }
        }
        None
    }

    /// Opens a session for a handshake request and tells the handler;
    /// `None` when `max_sessions` are open already.
    fn open(
        self: &Arc<Self>,
        parts: &Parts,
        transport: Transport,
        query: &Query,
    ) -> Option<Arc<Session>> {
        let handshake = Handshake {
            uri: crate::handshake::detach_uri(&parts.uri),
            headers: crate::Headers::from(&parts.headers),
            remote_addr: parts.extensions.get::<RemoteAddr>().map(|a| a.0),
            issued: SystemTime::now(),
            transport,
            secure: parts.extensions.get::<crate::Secure>().is_some(),
        };
        let owner: std::sync::Weak<dyn Owner> = Arc::downgrade(self) as _;
        let session = {
            // Checked under the lock that inserts: concurrent handshakes
            // cannot overshoot the bound.
            let mut sessions = self.sessions();
            if sessions.len() >= self.config.max_sessions {
                return None;
            }
            let session = Session::new(
                handshake,
                (query.protocol, query.binary),
                self.config.max_buffered_frames,
                (self.config.ping_interval, self.config.ping_timeout),
                owner,
                self.counters.clone(),
                self.forwarder.as_ref().map(|f| f.me),
            );
            sessions.insert(session.sid(), session.clone());
            session
        };
        // Queued first, so that it follows the open packet: nothing else
        // is queued yet, so the queue has room.
        if let Some(message) = &self.config.initial_packet {
            let _ = session.send(message.clone());
        }
        tracing::debug!(sid = %session.sid(), %transport, protocol = %query.protocol, "session opened");
        if transport == Transport::Polling {
            self.heartbeats.start(&session);
        }
        self.handler.on_open(&session);
        Some(session)
    }
}

/// An Engine.IO server: a tower [`Service`] answering the requests under its
/// path (404 elsewhere), and the owner of every session.
///
/// Serve it alone with [`serve`](crate::serve), nest it in an axum router,
/// or put it in front of another service with [`EngineIoLayer`](crate::EngineIoLayer).
///
/// ```no_run
/// # use std::sync::Arc;
/// # use rally_engine::{Config, EngineIo, Handler, Message, Session};
/// # struct Echo;
/// # impl Handler for Echo {
/// #     fn on_open(&self, _: &Arc<Session>) {}
/// #     fn on_message(&self, s: &Arc<Session>, m: Message) { let _ = s.send(m); }
/// # }
/// # async fn run() -> std::io::Result<()> {
/// let engine = EngineIo::new(Config::default(), Echo);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// rally_engine::serve(listener, engine).await
/// # }
/// ```
pub struct EngineIo<H> {
    pub(crate) engine: Arc<Engine<H>>,
}

impl<H: Handler> EngineIo<H> {
    /// An engine with these options, handing its sessions to `handler`.
    pub fn new(config: Config, handler: H) -> Self {
        let this = Self {
            engine: Arc::new(Engine {
                handler,
                sessions: Mutex::default(),
                closed: AtomicBool::new(false),
                emptied: tokio::sync::Notify::new(),
                counters: Arc::default(),
                handshake_rate: config
                    .handshake_rate
                    .map(|(max, window)| HandshakeRate::new(max, window)),
                open_tail_polling: config.open_packet_tail(Transport::Polling),
                open_tail_websocket: config.open_packet_tail(Transport::WebSocket),
                heartbeats: polling::Heartbeats::new(config.ping_interval, config.ping_timeout),
                forwarder: config
                    .forward_sessions
                    .clone()
                    .map(crate::forward::Forwarder::new),
                config,
            }),
        };
        if let Some(fwd) = &this.engine.forwarder {
            fwd.start(&this.engine);
        }
        this
    }

    /// The engine's options.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.engine.config
    }

    /// The handler given to [`new`](Self::new).
    #[must_use]
    pub fn handler(&self) -> &H {
        &self.engine.handler
    }

    /// The open session with id `sid`.
    #[must_use]
    pub fn session(&self, sid: &Sid) -> Option<Arc<Session>> {
        self.engine.sessions().get(sid).cloned()
    }

    /// How many sessions are open.
    #[must_use]
    pub fn session_count(&self) -> usize {
        self.engine.sessions().len()
    }

    /// This node's tag, the first characters of its session ids, when it
    /// forwards sessions ([`Config::forward_sessions`]).
    #[must_use]
    pub fn node_tag(&self) -> Option<crate::NodeTag> {
        self.engine.forwarder.as_ref().map(|f| f.me)
    }

    /// What session forwarding has done so far, when it is on
    /// ([`Config::forward_sessions`]).
    #[must_use]
    pub fn forward_stats(&self) -> Option<crate::ForwardStats> {
        self.engine
            .forwarder
            .as_ref()
            .map(crate::forward::Forwarder::stats)
    }

    /// What the engine has done so far.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.engine.counters.snapshot()
    }

    /// Closes every open session with `reason`.
    pub fn close_all(&self, reason: CloseReason) {
        let sessions: Vec<_> = self.engine.sessions().values().cloned().collect();
        for session in sessions {
            session.close_with(reason);
        }
    }
}

impl<H: Handler> EngineIo<H> {
    /// Closes the engine for good: from now on every handshake is refused
    /// (HTTP 503, `Server is shutting down`; the WebSocket handshake too),
    /// and every open session is closed with
    /// [`CloseReason::ServerShuttingDown`] (what is queued is still sent,
    /// as [`Session::close_with`] does). Requests of closed sessions find
    /// none. The engine does not own the listener: stop accepting with
    /// [`serve_with_shutdown`](crate::serve_with_shutdown).
    ///
    /// Resolves once no session is left open, or after `grace`, whichever
    /// comes first: a polling session stays known until its client fetches
    /// the close (its next poll) or the engine gives up on it. True when
    /// every session is gone.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future only stops the wait: the engine stays closed.
    pub async fn close(&self, grace: std::time::Duration) -> bool {
        self.engine.closed.store(true, Ordering::Release);
        if let Some(fwd) = &self.engine.forwarder {
            fwd.stop();
        }
        self.close_all(CloseReason::ServerShuttingDown);
        let wait = async {
            loop {
                let emptied = self.engine.emptied.notified();
                tokio::pin!(emptied);
                emptied.as_mut().enable();
                if self.engine.sessions().is_empty() {
                    return;
                }
                emptied.await;
            }
        };
        tokio::time::timeout(grace, wait).await.is_ok()
    }

    /// Whether [`close`](Self::close) was called.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.engine.closed.load(Ordering::Acquire)
    }
}

impl<H> Clone for EngineIo<H> {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
        }
    }
}

impl<H> fmt::Debug for EngineIo<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineIo")
            .field("config", &self.engine.config)
            .finish_non_exhaustive()
    }
}

/// The future of an engine's reply.
pub type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<EngineBody>, Infallible>> + Send>>;

impl<H, B> Service<Request<B>> for EngineIo<H>
where
    H: Handler,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<EngineBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let engine = self.engine.clone();
        if !engine.matches(req.uri().path()) {
            return Box::pin(std::future::ready(Ok(response::status(
                http::StatusCode::NOT_FOUND,
            ))));
        }
        Box::pin(engine.handle(req).map(Ok))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_keeps_the_first_of_each_parameter_decoded() {
        let sid = Sid::random();
        let q = Query::parse(Some(&format!(
            "EIO=4&transport=%70olling&sid={sid}&EIO=3&transport=websocket&sid=x&t=1"
        )));
        assert_eq!(q.protocol, Protocol::V4);
        assert_eq!(q.transport, Some(Transport::Polling));
        assert_eq!(q.sid, Some(Some(sid)));
        assert!(q.binary && !q.jsonp);

        // Present but unusable is not the same as absent.
        let q = Query::parse(Some("EIO=3&transport=carrier-pigeon&sid=nope"));
        assert_eq!(q.protocol, Protocol::V3);
        assert_eq!(q.transport, None);
        assert_eq!(q.sid, Some(None));
        let q = Query::parse(None);
        assert_eq!(q.protocol, Protocol::V3);
        assert!(q.transport.is_none() && q.sid.is_none());
        assert!(q.binary && !q.jsonp);
    }

    #[test]
    fn the_query_reads_b64_and_j_as_the_reference() {
        // Any value but 4 is protocol 3.
        assert_eq!(Query::parse(Some("EIO=5")).protocol, Protocol::V3);
        assert_eq!(Query::parse(Some("EIO=")).protocol, Protocol::V3);
        // A non-empty `b64`, even `0`, asks for base64; an empty one does not.
        assert!(!Query::parse(Some("b64=1")).binary);
        assert!(!Query::parse(Some("b64=0")).binary);
        assert!(Query::parse(Some("b64=")).binary);
        // `j`, even empty, asks for JSONP.
        assert!(Query::parse(Some("EIO=3&j=")).jsonp);
        assert!(Query::parse(Some("EIO=3&j=0")).jsonp);
    }

    struct Nop;

    impl Handler for Nop {
        fn on_open(&self, _: &Arc<Session>) {}
        fn on_message(&self, _: &Arc<Session>, _: rally_proto::engine::Message) {}
    }

    /// What an idle polling client's held poll keeps, boxed once (the
    /// engine adds nothing to the reply without CORS or hooks): 224 bytes
    /// in debug and release builds when the poll came to wait in one
    /// future (350 in a release build before, with a `select!` over the
    /// session's close, the queue and the noop).
    #[tokio::test]
    async fn a_held_poll_stays_small() {
        let mut io = EngineIo::new(Config::default(), Nop);
        let open = Request::get("/engine.io/?EIO=4&transport=polling")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let response = io.call(open).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let session = io.engine.sessions().values().next().cloned().unwrap();
        let poll = polling::poll(session, polling::ReplyTo::of(&http::HeaderMap::new()), None);
        let size = std::mem::size_of_val(&poll);
        assert!(size <= 224, "a held poll takes {size} bytes");
    }
}

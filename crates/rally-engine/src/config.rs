use std::{fmt, sync::Arc, time::Duration};

use http::request::Parts;

use crate::Transport;

/// A hook deciding whether a handshake or upgrade request may go on.
///
/// `Err(message)` refuses it with HTTP 403, `{"code":4,"message":"Forbidden"}`
/// (the message is logged, not sent).
pub type AllowRequest = Arc<dyn Fn(&Parts) -> Result<(), String> + Send + Sync>;

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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            path: "/engine.io/".into(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_http_buffer_size: 1_000_000,
            transports: vec![Transport::Polling, Transport::WebSocket],
            allow_upgrades: true,
            cors: None,
            cookie: None,
            allow_request: None,
            max_buffered_frames: 4096,
            max_sessions: 100_000,
            handshake_rate: None,
            allow_eio3: false,
        }
    }
}

impl Config {
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

    /// Sets `allowRequest`.
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
        self.allow_request = Some(Arc::new(hook));
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
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("path", &self.path)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("upgrade_timeout", &self.upgrade_timeout)
            .field("max_http_buffer_size", &self.max_http_buffer_size)
            .field("transports", &self.transports)
            .field("allow_upgrades", &self.allow_upgrades)
            .field("cors", &self.cors)
            .field("cookie", &self.cookie)
            .field("allow_request", &self.allow_request.is_some())
            .field("max_buffered_frames", &self.max_buffered_frames)
            .field("max_sessions", &self.max_sessions)
            .field("handshake_rate", &self.handshake_rate)
            .field("allow_eio3", &self.allow_eio3)
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
}

/// The `cors` option: which origins may reach the server from a browser.
///
/// ```
/// use rally_engine::Cors;
///
/// let cors = Cors::origins(["https://example.com"]).credentials(true);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cors {
    /// The origins allowed.
    pub origin: AllowOrigin,
    /// Whether to send `Access-Control-Allow-Credentials: true`.
    pub credentials: bool,
}

impl Cors {
    /// Lets any origin in.
    #[must_use]
    pub fn any() -> Self {
        Self {
            origin: AllowOrigin::Any,
            credentials: false,
        }
    }

    /// Lets in whatever origin the request names.
    #[must_use]
    pub fn mirror() -> Self {
        Self {
            origin: AllowOrigin::Mirror,
            credentials: false,
        }
    }

    /// Lets in only the listed origins.
    #[must_use]
    pub fn origins<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            origin: AllowOrigin::List(origins.into_iter().map(Into::into).collect()),
            credentials: false,
        }
    }

    /// Sets whether credentials (cookies) may be sent.
    #[must_use]
    pub fn credentials(mut self, credentials: bool) -> Self {
        self.credentials = credentials;
        self
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
/// handshake, for load balancers that route by cookie.
///
/// ```
/// use rally_engine::Cookie;
///
/// let cookie = Cookie::default(); // io=<sid>; Path=/; HttpOnly; SameSite=Lax
/// assert_eq!(cookie.name, "io");
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
}

impl Default for Cookie {
    fn default() -> Self {
        Self {
            name: "io".into(),
            path: Some("/".into()),
            http_only: true,
            same_site: Some(SameSite::Lax),
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

    /// The `Set-Cookie` value for a session.
    pub(crate) fn header_value(&self, sid: &str) -> String {
        let mut value = format!("{}={sid}", self.name);
        if let Some(path) = &self.path {
            value.push_str("; Path=");
            value.push_str(path);
        }
        if self.http_only {
            value.push_str("; HttpOnly");
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

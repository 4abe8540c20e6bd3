//! Every setting of `rally serve`, declared once: the field's name is its
//! TOML key, its attributes give its flag and `RALLY_*` variable, its doc
//! comment its help.

use std::marker::PhantomData;

use serde::{Deserialize, Deserializer};

/// `rally serve`'s options. Flags and variables are read by clap; a TOML
/// file has the same keys (the fields' names), each of the type given to
/// [`Toml`].
#[derive(Debug, Default, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
#[command(
    about = "run a standalone Socket.IO server (with a chat demo at /)",
    args_override_self = true,
    after_help = "Flags win over environment variables, which win over the config file; \
each option's key in that file is shown as [toml: key].\n\
Logs go to stderr; RUST_LOG sets the level (default info).\n\
Endpoints: /healthz, /metrics (Prometheus), /socket.io/socket.io.js (browser client), \
/admin/ (the Admin UI, with --admin-ui).\n\
RALLY_ADMIN_PASSWORD: the Admin UI's password in plain text (hashed at start; environment only)."
)]
pub(crate) struct ServeArgs {
    /// TOML file with any of the settings below
    #[arg(long, env = "RALLY_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    config: Option<String>,
    /// address to listen on (default ::, all)
    #[arg(long, env = "RALLY_HOST", value_name = "ADDR")]
    host: Option<Toml<String>>,
    /// port (default 3000)
    #[arg(long, env = "RALLY_PORT", value_name = "N")]
    port: Option<Toml<u16>>,
    /// Socket.IO path (default /socket.io/)
    #[arg(long, env = "RALLY_PATH")]
    path: Option<Toml<String>>,
    /// allowed browser origin, repeatable or comma separated, or *
    #[arg(
        long = "cors-origin",
        visible_alias = "cors-origins",
        env = "RALLY_CORS_ORIGINS",
        value_name = "ORIGIN"
    )]
    cors_origins: Option<Vec<String>>,
    /// with --cors-origin: whether browsers may send cookies, true or false (default true for listed origins, false for *; the flag alone turns it on)
    #[arg(
        long,
        env = "RALLY_CORS_CREDENTIALS",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    cors_credentials: Option<Toml<bool>>,
    /// with --cors-origin: methods a preflight allows, comma separated (default GET,HEAD,PUT,PATCH,POST,DELETE)
    #[arg(long, env = "RALLY_CORS_METHODS", value_name = "LIST")]
    cors_methods: Option<Vec<String>>,
    /// with --cors-origin: request headers a preflight allows, comma separated (default those it asks for)
    #[arg(long, env = "RALLY_CORS_ALLOWED_HEADERS", value_name = "LIST")]
    cors_allowed_headers: Option<Vec<String>>,
    /// with --cors-origin: response headers pages may read, comma separated
    #[arg(long, env = "RALLY_CORS_EXPOSED_HEADERS", value_name = "LIST")]
    cors_exposed_headers: Option<Vec<String>>,
    /// with --cors-origin: how long browsers may cache a preflight, in seconds
    #[arg(long, env = "RALLY_CORS_MAX_AGE", value_name = "SECONDS")]
    cors_max_age: Option<Toml<u64>>,
    /// set a cookie with this name holding the session id, for sticky load balancing (default none)
    #[arg(long, env = "RALLY_COOKIE", value_name = "NAME")]
    cookie: Option<Toml<String>>,
    /// with --cookie: mark it Secure (HTTPS only), true or false (default off; the flag alone turns it on)
    #[arg(
        long,
        env = "RALLY_COOKIE_SECURE",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    cookie_secure: Option<Toml<bool>>,
    /// with --cookie: its Domain
    #[arg(long, env = "RALLY_COOKIE_DOMAIN", value_name = "DOMAIN")]
    cookie_domain: Option<Toml<String>>,
    /// with --cookie: its Max-Age in seconds (default none: a session cookie)
    #[arg(long, env = "RALLY_COOKIE_MAX_AGE", value_name = "SECONDS")]
    cookie_max_age: Option<Toml<u64>>,
    /// whether the path is matched with its trailing slash, true or false (default true; false also serves /socket.io?EIO=4...)
    #[arg(
        long,
        env = "RALLY_ADD_TRAILING_SLASH",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    add_trailing_slash: Option<Toml<bool>>,
    /// heartbeat interval in milliseconds (default 25000)
    #[arg(long, env = "RALLY_PING_INTERVAL", value_name = "MS")]
    ping_interval: Option<Toml<u64>>,
    /// heartbeat timeout in milliseconds (default 20000)
    #[arg(long, env = "RALLY_PING_TIMEOUT", value_name = "MS")]
    ping_timeout: Option<Toml<u64>>,
    /// largest message accepted, in bytes (default 1000000)
    #[arg(long, env = "RALLY_MAX_PAYLOAD", value_name = "BYTES")]
    max_payload: Option<Toml<usize>>,
    /// compress polling replies of 1024 bytes or more with gzip or deflate when the client accepts it, true or false (default true)
    #[arg(
        long,
        env = "RALLY_HTTP_COMPRESSION",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    http_compression: Option<Toml<bool>>,
    /// polling,websocket (default both)
    #[arg(long, env = "RALLY_TRANSPORTS", value_name = "LIST")]
    transports: Option<Vec<String>>,
    /// Socket.IO parser every client must use: json (the default parser) or msgpack (socket.io-msgpack-parser)
    #[arg(long, env = "RALLY_PARSER", value_name = "PARSER")]
    parser: Option<Toml<String>>,
    /// also serve Socket.IO v2 clients (Engine.IO protocol 3), true or false (default off; the flag alone turns it on)
    #[arg(
        long,
        env = "RALLY_ALLOW_EIO3",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    allow_eio3: Option<Toml<bool>>,
    /// compress WebSocket messages (permessage-deflate) with clients that offer it, true or false (default off; the flag alone turns it on)
    #[arg(
        long,
        env = "RALLY_PER_MESSAGE_DEFLATE",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    per_message_deflate: Option<Toml<bool>>,
    /// with --per-message-deflate: WebSocket messages shorter than this go out uncompressed, in bytes (default 1024)
    #[arg(
        long,
        env = "RALLY_PER_MESSAGE_DEFLATE_THRESHOLD",
        value_name = "BYTES"
    )]
    per_message_deflate_threshold: Option<Toml<usize>>,
    /// serve this directory at / instead of the chat demo
    #[arg(long, env = "RALLY_STATIC_DIR", value_name = "DIR")]
    static_dir: Option<Toml<String>>,
    /// how long a shutdown may drain, in milliseconds (default 10000)
    #[arg(long, env = "RALLY_SHUTDOWN_TIMEOUT", value_name = "MS")]
    shutdown_timeout: Option<Toml<u64>>,
    /// join a cluster through Redis, redis://host:port, or rediss://host:port over TLS
    #[arg(long, env = "RALLY_REDIS", value_name = "URL")]
    redis: Option<Toml<String>>,
    /// classic (PUBLISH), sharded (SPUBLISH, Redis 7) or streams (XADD/XREAD, recovery across nodes)
    #[arg(long, env = "RALLY_REDIS_MODE", value_name = "MODE")]
    redis_mode: Option<Toml<String>>,
    /// with a rediss:// --redis: trust only the CA certificates of this PEM file (default: the platform's roots)
    #[arg(long, env = "RALLY_REDIS_CA", value_name = "FILE")]
    redis_ca: Option<Toml<String>>,
    /// join a cluster through Postgres (LISTEN/NOTIFY), postgres://user:password@host/db (not with --redis)
    #[arg(long, env = "RALLY_POSTGRES", value_name = "URL")]
    postgres: Option<Toml<String>>,
    /// serve the polling requests of sessions other nodes hold through them (no sticky sessions needed behind a load balancer), true or false (default off; the flag alone turns it on; needs --redis or --postgres)
    #[arg(
        long,
        env = "RALLY_FORWARD_SESSIONS",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    forward_sessions: Option<Toml<bool>>,
    /// connection state recovery, true or false (default off; the flag alone turns it on)
    #[arg(
        long,
        env = "RALLY_RECOVERY",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    recovery: Option<Toml<bool>>,
    /// how long a disconnected session is kept, in milliseconds (default 120000)
    #[arg(long, env = "RALLY_RECOVERY_MAX_DISCONNECTION", value_name = "MS")]
    recovery_max_disconnection: Option<Toml<u64>>,
    /// memory cap of the recovery log, per namespace (default 67108864)
    #[arg(long, env = "RALLY_RECOVERY_MAX_BYTES", value_name = "BYTES")]
    recovery_max_bytes: Option<Toml<usize>>,
    /// serve the Socket.IO Admin UI at /admin/ and its namespace /admin, true or false (default off; the flag alone turns it on)
    #[arg(
        long,
        env = "RALLY_ADMIN_UI",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        help_heading = ADMIN
    )]
    admin_ui: Option<Toml<bool>>,
    /// with --admin-ui: the username the UI must give (default admin, when a password is set)
    #[arg(long, env = "RALLY_ADMIN_USER", value_name = "NAME", help_heading = ADMIN)]
    admin_user: Option<Toml<String>>,
    /// with --admin-ui: the bcrypt hash of the password the UI must give (or a plain password in RALLY_ADMIN_PASSWORD, hashed at start); without either, no login
    #[arg(long, env = "RALLY_ADMIN_PASSWORD_HASH", value_name = "HASH", help_heading = ADMIN)]
    admin_password_hash: Option<Toml<String>>,
    /// with --admin-ui: development (every socket, room and event) or production (only figures) (default development)
    #[arg(long, env = "RALLY_ADMIN_MODE", value_name = "MODE", help_heading = ADMIN)]
    admin_mode: Option<Toml<String>>,
    /// with --admin-ui: the id this node shows in the UI (default the host name; give each node of one host its own)
    #[arg(long, env = "RALLY_ADMIN_SERVER_ID", value_name = "ID", help_heading = ADMIN)]
    admin_server_id: Option<Toml<String>>,
    /// serve HTTPS and WSS with this certificate chain (PEM, the server's certificate first, e.g. an ACME client's fullchain.pem); with --tls-key; reloaded on SIGHUP
    #[arg(long, env = "RALLY_TLS_CERT", value_name = "FILE")]
    tls_cert: Option<Toml<String>>,
    /// with --tls-cert: its private key (PEM: PKCS#8, PKCS#1 or SEC1); reloaded on SIGHUP
    #[arg(long, env = "RALLY_TLS_KEY", value_name = "FILE")]
    tls_key: Option<Toml<String>>,
    /// with --tls-cert: also listen on this port for plain HTTP, answering every request with a permanent redirect to https on the main port
    #[arg(long, env = "RALLY_REDIRECT_HTTP", value_name = "PORT")]
    redirect_http: Option<Toml<u16>>,
    /// log lines as text or json (one JSON object a line)
    #[arg(long, env = "RALLY_LOG_FORMAT", value_name = "FORMAT")]
    log_format: Option<Toml<String>>,
    /// open sessions (default 100000)
    #[arg(long, env = "RALLY_MAX_SESSIONS", value_name = "N", help_heading = LIMITS)]
    max_sessions: Option<Toml<usize>>,
    /// namespaces per connection (default 64)
    #[arg(long, env = "RALLY_MAX_NAMESPACES", value_name = "N", help_heading = LIMITS)]
    max_namespaces: Option<Toml<usize>>,
    /// acks a socket may owe (default 1024)
    #[arg(long, env = "RALLY_MAX_PENDING_ACKS", value_name = "N", help_heading = LIMITS)]
    max_pending_acks: Option<Toml<usize>>,
    /// rooms per socket (default 1024)
    #[arg(long, env = "RALLY_MAX_ROOMS", value_name = "N", help_heading = LIMITS)]
    max_rooms: Option<Toml<usize>>,
    /// outgoing queue per connection, in frames (default 4096)
    #[arg(long, env = "RALLY_MAX_BUFFERED_FRAMES", value_name = "N", help_heading = LIMITS)]
    max_buffered_frames: Option<Toml<usize>>,
    /// handshakes per minute from one IP address (default no limit)
    #[arg(
        long,
        env = "RALLY_MAX_HANDSHAKES_PER_MINUTE",
        value_name = "N",
        help_heading = LIMITS
    )]
    max_handshakes_per_minute: Option<Toml<usize>>,
}

/// The heading of the resource limits in `--help`.
const LIMITS: &str = "Limits (SECURITY.md says what happens past each)";
const ADMIN: &str = "Admin UI";

/// A setting's type in a config file: reading a file into [`ServeArgs`]
/// checks that the value is a `T`, and keeps nothing. The value itself is
/// read as text, by name, from clap's matches and from the TOML table
/// (layers.rs), so that an error can say where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Toml<T>(PhantomData<fn() -> T>);

impl<T> From<String> for Toml<T> {
    fn from(_: String) -> Self {
        Self(PhantomData)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Toml<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(|_| Self(PhantomData))
    }
}

/// The keys a config file may have, as serde reads them (the fields of
/// [`ServeArgs`] that are not skipped).
pub(crate) fn file_keys() -> &'static [&'static str] {
    use serde::de::{Error, Visitor};

    /// A deserializer that only learns the names of a struct's fields.
    struct Keys(Option<&'static [&'static str]>);

    #[derive(Debug)]
    struct Stop;

    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("only the keys were wanted")
        }
    }

    impl std::error::Error for Stop {}

    impl Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Self
        }
    }

    impl<'de> Deserializer<'de> for &mut Keys {
        type Error = Stop;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0 = Some(fields);
            Err(Stop)
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    let mut keys = Keys(None);
    let _ = ServeArgs::deserialize(&mut keys);
    keys.0.unwrap_or_default()
}

//! `rally serve`'s settings: defaults, then a TOML file, then `RALLY_*`
//! environment variables, then flags (each overriding the one before).
//!
//! Each setting is declared once, in `args.rs` (its flag, variable, TOML key
//! and help); `layers.rs` reads the layers and `settings.rs` checks each
//! value.

mod args;
mod layers;
mod settings;

use std::{path::PathBuf, time::Duration};

use clap::ArgMatches;
use rally::Transport;
use rally_redis::Mode;

pub(crate) use args::ServeArgs;

/// The keys a `rally serve` config file may have (each is also a flag and a
/// `RALLY_*` variable; `rally serve --help` shows them).
#[must_use]
pub fn file_keys() -> &'static [&'static str] {
    args::file_keys()
}

/// Adds its TOML key to the help of each option a config file may set.
pub(crate) fn annotate(command: clap::Command) -> clap::Command {
    command.mut_args(|arg| {
        let key = arg.get_id().as_str();
        if !file_keys().contains(&key) {
            return arg;
        }
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        let help = format!("{help} [toml: {key}]");
        arg.help(help)
    })
}

/// The settings of `rally serve` from the matches of its arguments and the
/// environment `env` (a lookup, so that tests can give their own).
///
/// # Errors
///
/// What is wrong and where it was given (`--port: ...`, `RALLY_PORT: ...`,
/// `config file rally.toml: ...`).
pub(crate) fn from_matches(
    matches: &ArgMatches,
    env: impl Fn(&str) -> Option<String>,
) -> Result<ServeConfig, String> {
    layers::resolve(matches, &env)
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

impl LogFormat {
    fn from_name(name: &str) -> Result<Self, String> {
        match name {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err(format!("expected text or json, got `{name}`")),
        }
    }
}

/// Everything `rally serve` needs to know.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServeConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) path: String,
    pub(crate) cors_origins: Vec<String>,
    /// The CORS options besides the origins (used when some are given).
    pub(crate) cors: CorsOptions,
    /// The session cookie (set when it has a name).
    pub(crate) cookie: CookieOptions,
    /// Whether the path is matched with its trailing slash.
    pub(crate) add_trailing_slash: bool,
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    pub(crate) max_payload: usize,
    /// Whether poll replies are compressed (`httpCompression`).
    pub(crate) http_compression: bool,
    pub(crate) transports: Vec<Transport>,
    pub(crate) parser: rally::Parser,
    /// Whether Socket.IO v2 clients (Engine.IO protocol 3) are served.
    pub(crate) allow_eio3: bool,
    /// Whether WebSocket messages are compressed (`perMessageDeflate`).
    pub(crate) per_message_deflate: bool,
    /// The size from which a WebSocket message is compressed, in bytes.
    pub(crate) per_message_deflate_threshold: usize,
    pub(crate) static_dir: Option<PathBuf>,
    pub(crate) shutdown_timeout: Duration,
    /// The Redis of the cluster, if any.
    pub(crate) redis: Option<String>,
    pub(crate) redis_mode: Mode,
    /// The CA certificates (a PEM file) a `rediss://` Redis is checked
    /// against, instead of the platform's roots.
    pub(crate) redis_ca: Option<PathBuf>,
    /// The Postgres of the cluster, if any (never with `redis`).
    pub(crate) postgres: Option<String>,
    /// Whether polling requests of other nodes' sessions are forwarded to
    /// them (needs `redis` or `postgres`).
    pub(crate) forward_sessions: bool,
    pub(crate) recovery: bool,
    pub(crate) recovery_max_disconnection: Duration,
    pub(crate) recovery_max_bytes: usize,
    /// The limits set; the library's defaults for the others (boxed: most
    /// runs set none).
    pub(crate) limits: Box<Limits>,
    pub(crate) log_format: LogFormat,
    /// The TLS certificate chain (PEM): HTTPS and WSS when set, with
    /// `tls_key` (both or neither).
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key of `tls_cert` (PEM).
    pub(crate) tls_key: Option<PathBuf>,
    /// A plain HTTP port redirecting to HTTPS, with TLS.
    pub(crate) redirect_http: Option<u16>,
    /// The Admin UI's options.
    pub(crate) admin: AdminOptions,
}

/// The Admin UI's options of `rally serve`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AdminOptions {
    /// Whether the UI and its namespace are served.
    pub(crate) enabled: bool,
    pub(crate) user: Option<String>,
    pub(crate) password_hash: Option<String>,
    /// A plain password (from `RALLY_ADMIN_PASSWORD` only), hashed at start.
    pub(crate) password: Option<String>,
    pub(crate) mode: rally::admin::Mode,
    /// The id the UI shows for this node (default: the host name).
    pub(crate) server_id: Option<String>,
}

impl AdminOptions {
    /// The library's options; the plain password, if any, is hashed here
    /// (bcrypt: this takes a moment).
    ///
    /// # Errors
    ///
    /// When the password cannot be hashed.
    pub(crate) fn admin_ui(&self) -> Result<rally::admin::AdminUi, String> {
        let mut options = rally::admin::AdminUi::new().mode(self.mode);
        if let Some(id) = &self.server_id {
            options = options.server_id(id.as_str());
        }
        let user = self.user.as_deref().unwrap_or("admin");
        let auth = match (&self.password_hash, &self.password) {
            (Some(hash), _) => Some(rally::admin::Auth::basic(user, hash)),
            (None, Some(password)) => Some(rally::admin::Auth::from_password(user, password)),
            (None, None) => None,
        };
        if let Some(auth) = auth {
            options = options.auth(auth.map_err(|e| format!("--admin-password-hash: {e}"))?);
        }
        Ok(options)
    }
}

/// The CORS options of `rally serve`; `None` keeps the library's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CorsOptions {
    /// Default: true for listed origins, false for `*`.
    pub(crate) credentials: Option<bool>,
    pub(crate) methods: Option<Vec<String>>,
    pub(crate) allowed_headers: Option<Vec<String>>,
    pub(crate) exposed_headers: Vec<String>,
    pub(crate) max_age: Option<Duration>,
}

/// The session cookie's options of `rally serve`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CookieOptions {
    /// The cookie's name: no cookie without one.
    pub(crate) name: Option<String>,
    pub(crate) secure: bool,
    pub(crate) domain: Option<String>,
    pub(crate) max_age: Option<Duration>,
}

impl ServeConfig {
    /// The `cors` option, when origins are given.
    pub(crate) fn cors(&self) -> Option<rally::Cors> {
        if self.cors_origins.is_empty() {
            return None;
        }
        let options = &self.cors;
        let any = self.cors_origins.iter().any(|o| o == "*");
        let mut cors = if any {
            rally::Cors::any()
        } else {
            rally::Cors::origins(self.cors_origins.clone())
        }
        .credentials(options.credentials.unwrap_or(!any))
        .exposed_headers(options.exposed_headers.clone());
        if let Some(methods) = &options.methods {
            cors = cors.methods(methods.clone());
        }
        if let Some(headers) = &options.allowed_headers {
            cors = cors.allowed_headers(headers.clone());
        }
        if let Some(max_age) = options.max_age {
            cors = cors.max_age(max_age);
        }
        Some(cors)
    }

    /// The `cookie` option, when the cookie has a name.
    pub(crate) fn cookie(&self) -> Option<rally::Cookie> {
        let options = &self.cookie;
        let mut cookie = rally::Cookie::default()
            .name(options.name.clone()?)
            .secure(options.secure);
        if let Some(domain) = &options.domain {
            cookie = cookie.domain(domain.clone());
        }
        if let Some(max_age) = options.max_age {
            cookie = cookie.max_age(max_age);
        }
        Some(cookie)
    }

    /// What the path of a request must start with to be the server's.
    pub(crate) fn path_prefix(&self) -> &str {
        if self.add_trailing_slash {
            &self.path
        } else {
            self.path.strip_suffix('/').unwrap_or(&self.path)
        }
    }

    /// Connection state recovery's options, when it is on.
    pub(crate) fn recovery(&self) -> Option<rally::ConnectionStateRecovery> {
        self.recovery.then(|| {
            rally::ConnectionStateRecovery::default()
                .max_disconnection_duration(self.recovery_max_disconnection)
                .max_log_bytes(self.recovery_max_bytes)
        })
    }

    /// WebSocket compression's options, when it is on.
    pub(crate) fn per_message_deflate(&self) -> Option<rally::PerMessageDeflate> {
        self.per_message_deflate.then(|| {
            rally::PerMessageDeflate::default().threshold(self.per_message_deflate_threshold)
        })
    }
}

/// The limits of SECURITY.md that `rally serve` lets one set; `None`
/// keeps the library's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) max_sessions: Option<usize>,
    pub(crate) max_namespaces: Option<usize>,
    pub(crate) max_pending_acks: Option<usize>,
    pub(crate) max_rooms: Option<usize>,
    pub(crate) max_buffered_frames: Option<usize>,
    pub(crate) max_handshakes_per_minute: Option<usize>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            host: "::".into(),
            port: 3000,
            path: "/socket.io/".into(),
            cors_origins: Vec::new(),
            cors: CorsOptions::default(),
            cookie: CookieOptions::default(),
            add_trailing_slash: true,
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_payload: 1_000_000,
            http_compression: true,
            transports: vec![Transport::Polling, Transport::WebSocket],
            parser: rally::Parser::Json,
            allow_eio3: false,
            per_message_deflate: false,
            per_message_deflate_threshold: rally::PerMessageDeflate::default().threshold,
            static_dir: None,
            shutdown_timeout: Duration::from_millis(10_000),
            redis: None,
            redis_mode: Mode::Classic,
            redis_ca: None,
            postgres: None,
            forward_sessions: false,
            recovery: false,
            recovery_max_disconnection: rally::ConnectionStateRecovery::default()
                .get_max_disconnection_duration(),
            recovery_max_bytes: rally::ConnectionStateRecovery::default().get_max_log_bytes(),
            limits: Box::default(),
            log_format: LogFormat::Text,
            admin: AdminOptions::default(),
            tls_cert: None,
            tls_key: None,
            redirect_http: None,
        }
    }
}

#[cfg(test)]
mod tests;

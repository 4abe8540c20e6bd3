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
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    pub(crate) max_payload: usize,
    pub(crate) transports: Vec<Transport>,
    pub(crate) parser: rally::Parser,
    /// Whether Socket.IO v2 clients (Engine.IO protocol 3) are served.
    pub(crate) allow_eio3: bool,
    pub(crate) static_dir: Option<PathBuf>,
    pub(crate) shutdown_timeout: Duration,
    /// The Redis of the cluster, if any.
    pub(crate) redis: Option<String>,
    pub(crate) redis_mode: Mode,
    pub(crate) recovery: bool,
    pub(crate) recovery_max_disconnection: Duration,
    pub(crate) recovery_max_bytes: usize,
    /// The limits set; the library's defaults for the others (boxed: most
    /// runs set none).
    pub(crate) limits: Box<Limits>,
    pub(crate) log_format: LogFormat,
}

impl ServeConfig {
    /// Connection state recovery's options, when it is on.
    pub(crate) fn recovery(&self) -> Option<rally::ConnectionStateRecovery> {
        self.recovery.then(|| {
            rally::ConnectionStateRecovery::default()
                .max_disconnection_duration(self.recovery_max_disconnection)
                .max_log_bytes(self.recovery_max_bytes)
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
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_payload: 1_000_000,
            transports: vec![Transport::Polling, Transport::WebSocket],
            parser: rally::Parser::Json,
            allow_eio3: false,
            static_dir: None,
            shutdown_timeout: Duration::from_millis(10_000),
            redis: None,
            redis_mode: Mode::Classic,
            recovery: false,
            recovery_max_disconnection: rally::ConnectionStateRecovery::default()
                .get_max_disconnection_duration(),
            recovery_max_bytes: rally::ConnectionStateRecovery::default().get_max_log_bytes(),
            limits: Box::default(),
            log_format: LogFormat::Text,
        }
    }
}

#[cfg(test)]
mod tests;

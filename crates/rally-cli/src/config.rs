//! `rally serve`'s settings: defaults, then a TOML file, then `RALLY_*`
//! environment variables, then flags (each overriding the one before).

use std::{path::PathBuf, time::Duration};

use rally::Transport;
use rally_redis::Mode;
use serde::Deserialize;

pub(crate) const HELP: &str = "\
rally serve: a standalone Socket.IO server

Usage: rally serve [options]

Options (environment variable in brackets; flags win over variables, which
win over the config file):
  --config <file>          TOML file with any of the settings below   [RALLY_CONFIG]
  --host <addr>            address to listen on (default ::, all)     [RALLY_HOST]
  --port <n>               port (default 3000)                        [RALLY_PORT]
  --path <path>            Socket.IO path (default /socket.io/)       [RALLY_PATH]
  --cors-origin <origin>   allowed browser origin, repeatable, or *   [RALLY_CORS_ORIGINS, comma separated]
  --ping-interval <ms>     heartbeat interval (default 25000)         [RALLY_PING_INTERVAL]
  --ping-timeout <ms>      heartbeat timeout (default 20000)          [RALLY_PING_TIMEOUT]
  --max-payload <bytes>    largest message accepted (default 1000000) [RALLY_MAX_PAYLOAD]
  --transports <list>      polling,websocket (default both)           [RALLY_TRANSPORTS]
  --static-dir <dir>       serve this directory at / instead of the chat demo [RALLY_STATIC_DIR]
  --shutdown-timeout <ms>  how long a shutdown may drain (default 10000) [RALLY_SHUTDOWN_TIMEOUT]
  --redis <url>            join a cluster through Redis, redis://host:port [RALLY_REDIS]
  --redis-mode <mode>      classic (PUBLISH), sharded (SPUBLISH, Redis 7) or streams
                           (XADD/XREAD, recovery across nodes)        [RALLY_REDIS_MODE]
  --recovery[=true|false]  connection state recovery (default off)    [RALLY_RECOVERY]
  --recovery-max-disconnection <ms>
                           how long a session is kept (default 120000) [RALLY_RECOVERY_MAX_DISCONNECTION]
  --recovery-max-bytes <bytes>
                           memory cap of the recovery log, per namespace
                           (default 67108864)                         [RALLY_RECOVERY_MAX_BYTES]
Limits (SECURITY.md says what happens past each):
  --max-sessions <n>       open sessions (default 100000)             [RALLY_MAX_SESSIONS]
  --max-namespaces <n>     namespaces per connection (default 64)     [RALLY_MAX_NAMESPACES]
  --max-pending-acks <n>   acks a socket may owe (default 1024)       [RALLY_MAX_PENDING_ACKS]
  --max-rooms <n>          rooms per socket (default 1024)            [RALLY_MAX_ROOMS]
  --max-buffered-frames <n> outgoing queue per connection (default 4096) [RALLY_MAX_BUFFERED_FRAMES]
  --max-handshakes-per-minute <n> per IP address (default no limit)  [RALLY_MAX_HANDSHAKES_PER_MINUTE]
  -h, --help               print this help

Logs go to stderr; RUST_LOG sets the level (default info).
Endpoints: /healthz, /metrics (Prometheus), /socket.io/socket.io.js (browser client).

Config file keys: host, port, path, cors_origins (array), ping_interval,
ping_timeout, max_payload, transports (array), static_dir, shutdown_timeout,
redis, redis_mode, recovery (bool), recovery_max_disconnection,
recovery_max_bytes, max_sessions, max_namespaces, max_pending_acks, max_rooms, max_buffered_frames,
max_handshakes_per_minute.
";

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
            static_dir: None,
            shutdown_timeout: Duration::from_millis(10_000),
            redis: None,
            redis_mode: Mode::Classic,
            recovery: false,
            recovery_max_disconnection: rally::ConnectionStateRecovery::default()
                .get_max_disconnection_duration(),
            recovery_max_bytes: rally::ConnectionStateRecovery::default().get_max_log_bytes(),
            limits: Box::default(),
        }
    }
}

/// The config file's shape: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    host: Option<String>,
    port: Option<u16>,
    path: Option<String>,
    cors_origins: Option<Vec<String>>,
    ping_interval: Option<u64>,
    ping_timeout: Option<u64>,
    max_payload: Option<usize>,
    transports: Option<Vec<String>>,
    static_dir: Option<PathBuf>,
    shutdown_timeout: Option<u64>,
    redis: Option<String>,
    redis_mode: Option<String>,
    recovery: Option<bool>,
    recovery_max_disconnection: Option<u64>,
    recovery_max_bytes: Option<usize>,
    max_sessions: Option<usize>,
    max_namespaces: Option<usize>,
    max_pending_acks: Option<usize>,
    max_rooms: Option<usize>,
    max_buffered_frames: Option<usize>,
    max_handshakes_per_minute: Option<usize>,
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub(crate) enum Command {
    Serve(Box<ServeConfig>),
    Help,
}

/// Builds the settings from `args` (after `serve`) and the environment
/// `env` (a lookup, so tests can give their own).
pub(crate) fn parse(
    args: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<Command, String> {
    let flags = Flags::parse(args)?;
    if flags.help {
        return Ok(Command::Help);
    }
    let mut config = ServeConfig::default();
    let file = flags.get("config").or_else(|| env("RALLY_CONFIG"));
    if let Some(file) = file {
        apply_file(&mut config, &file)?;
    }
    for setting in SETTINGS {
        let env_name = format!("RALLY_{}", setting.to_uppercase().replace('-', "_"));
        if let Some(value) = env(&env_name) {
            apply(&mut config, setting, &[value]).map_err(|e| format!("{env_name}: {e}"))?;
        }
        let values = flags.all(setting);
        if !values.is_empty() {
            apply(&mut config, setting, &values).map_err(|e| format!("--{setting}: {e}"))?;
        }
    }
    Ok(Command::Serve(Box::new(config)))
}

/// The settings flags and variables can set (besides `config`).
const SETTINGS: [&str; 21] = [
    "host",
    "port",
    "path",
    "cors-origins",
    "ping-interval",
    "ping-timeout",
    "max-payload",
    "transports",
    "static-dir",
    "shutdown-timeout",
    "redis",
    "redis-mode",
    "recovery",
    "recovery-max-disconnection",
    "recovery-max-bytes",
    "max-sessions",
    "max-namespaces",
    "max-pending-acks",
    "max-rooms",
    "max-buffered-frames",
    "max-handshakes-per-minute",
];

fn apply(config: &mut ServeConfig, setting: &str, values: &[String]) -> Result<(), String> {
    let last = values.last().map(String::as_str).unwrap_or_default();
    let millis = |v: &str| {
        v.parse::<u64>()
            .ok()
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
            .ok_or_else(|| format!("expected a positive number of milliseconds, got `{v}`"))
    };
    match setting {
        "host" => config.host = last.to_owned(),
        "port" => {
            config.port = last
                .parse()
                .map_err(|_| format!("expected a port number, got `{last}`"))?
        }
        "path" => config.path = normalize_path(last)?,
        "cors-origins" => {
            config.cors_origins = values
                .iter()
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect();
        }
        "ping-interval" => config.ping_interval = millis(last)?,
        "ping-timeout" => config.ping_timeout = millis(last)?,
        "max-payload" => {
            config.max_payload = last
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("expected a positive number of bytes, got `{last}`"))?;
        }
        "transports" => {
            let names: Vec<&str> = values
                .iter()
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .collect();
            config.transports = transports(&names)?;
        }
        "static-dir" => config.static_dir = Some(PathBuf::from(last)),
        "shutdown-timeout" => config.shutdown_timeout = millis(last)?,
        "redis" => {
            if !last.starts_with("redis://") && !last.starts_with("rediss://") {
                return Err(format!("expected redis://host:port, got `{last}`"));
            }
            config.redis = Some(last.to_owned());
        }
        "redis-mode" => {
            config.redis_mode = last
                .parse()
                .map_err(|_| format!("expected classic, sharded or streams, got `{last}`"))?;
        }
        "recovery" => {
            config.recovery = match last {
                "true" | "1" | "on" => true,
                "false" | "0" | "off" => false,
                _ => return Err(format!("expected true or false, got `{last}`")),
            };
        }
        "recovery-max-disconnection" => config.recovery_max_disconnection = millis(last)?,
        "recovery-max-bytes" => {
            config.recovery_max_bytes = last
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("expected a positive number of bytes, got `{last}`"))?;
        }
        "max-sessions"
        | "max-namespaces"
        | "max-pending-acks"
        | "max-rooms"
        | "max-buffered-frames"
        | "max-handshakes-per-minute" => {
            let n = last
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("expected a positive number, got `{last}`"))?;
            let limits = &mut config.limits;
            *match setting {
                "max-sessions" => &mut limits.max_sessions,
                "max-namespaces" => &mut limits.max_namespaces,
                "max-pending-acks" => &mut limits.max_pending_acks,
                "max-rooms" => &mut limits.max_rooms,
                "max-buffered-frames" => &mut limits.max_buffered_frames,
                _ => &mut limits.max_handshakes_per_minute,
            } = Some(n);
        }
        _ => return Err(format!("unknown setting {setting}")),
    }
    Ok(())
}

fn transports(names: &[&str]) -> Result<Vec<Transport>, String> {
    let mut transports = Vec::new();
    for name in names.iter().filter(|n| !n.is_empty()) {
        let transport = Transport::from_name(name)
            .ok_or_else(|| format!("unknown transport `{name}` (expected polling or websocket)"))?;
        if !transports.contains(&transport) {
            transports.push(transport);
        }
    }
    if transports.is_empty() {
        return Err("at least one transport is needed".into());
    }
    Ok(transports)
}

fn normalize_path(path: &str) -> Result<String, String> {
    if !path.starts_with('/') || path.contains(['?', '#', ' ']) {
        return Err(format!("expected a path starting with /, got `{path}`"));
    }
    Ok(if path.ends_with('/') {
        path.to_owned()
    } else {
        format!("{path}/")
    })
}

fn apply_file(config: &mut ServeConfig, file: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("config file {file}: {e}"))?;
    let parsed: FileConfig = toml::from_str(&text)
        .map_err(|e| format!("config file {file}: {}", e.to_string().trim_end()))?;
    let wrap = |key: &str, e: String| format!("config file {file}: {key}: {e}");
    let mut set = |key: &str, value: Option<Vec<String>>| match value {
        Some(values) => apply(config, key, &values).map_err(|e| wrap(key, e)),
        None => Ok(()),
    };
    set("host", parsed.host.map(|v| vec![v]))?;
    set("port", parsed.port.map(|v| vec![v.to_string()]))?;
    set("path", parsed.path.map(|v| vec![v]))?;
    set("cors-origins", parsed.cors_origins)?;
    set(
        "ping-interval",
        parsed.ping_interval.map(|v| vec![v.to_string()]),
    )?;
    set(
        "ping-timeout",
        parsed.ping_timeout.map(|v| vec![v.to_string()]),
    )?;
    set(
        "max-payload",
        parsed.max_payload.map(|v| vec![v.to_string()]),
    )?;
    set("transports", parsed.transports)?;
    set(
        "static-dir",
        parsed.static_dir.map(|v| vec![v.display().to_string()]),
    )?;
    set(
        "shutdown-timeout",
        parsed.shutdown_timeout.map(|v| vec![v.to_string()]),
    )?;
    set("redis", parsed.redis.map(|v| vec![v]))?;
    set("redis-mode", parsed.redis_mode.map(|v| vec![v]))?;
    set("recovery", parsed.recovery.map(|v| vec![v.to_string()]))?;
    set(
        "recovery-max-disconnection",
        parsed
            .recovery_max_disconnection
            .map(|v| vec![v.to_string()]),
    )?;
    set(
        "recovery-max-bytes",
        parsed.recovery_max_bytes.map(|v| vec![v.to_string()]),
    )?;
    for (key, value) in [
        ("max-sessions", parsed.max_sessions),
        ("max-namespaces", parsed.max_namespaces),
        ("max-pending-acks", parsed.max_pending_acks),
        ("max-rooms", parsed.max_rooms),
        ("max-buffered-frames", parsed.max_buffered_frames),
        (
            "max-handshakes-per-minute",
            parsed.max_handshakes_per_minute,
        ),
    ] {
        set(key, value.map(|v| vec![v.to_string()]))?;
    }
    Ok(())
}

/// The flags as given: `--name value`, `--name=value`, repeatable.
struct Flags {
    values: Vec<(String, String)>,
    help: bool,
}

impl Flags {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut flags = Self {
            values: Vec::new(),
            help: false,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if arg == "-h" || arg == "--help" {
                flags.help = true;
                continue;
            }
            let Some(flag) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument `{arg}`"));
            };
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name.to_owned(), value.to_owned()),
                // A switch: `--recovery` alone turns it on.
                None if flag == "recovery" => (flag.to_owned(), "true".to_owned()),
                None => {
                    let value = it.next().ok_or_else(|| format!("--{flag} needs a value"))?;
                    (flag.to_owned(), value.clone())
                }
            };
            let name = if name == "cors-origin" {
                "cors-origins".to_owned()
            } else {
                name
            };
            if name != "config" && !SETTINGS.contains(&name.as_str()) {
                return Err(format!("unknown flag `--{name}`"));
            }
            flags.values.push((name, value));
        }
        Ok(flags)
    }

    fn get(&self, name: &str) -> Option<String> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.values
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn serve(list: &[&str], env: &[(&str, &str)]) -> Result<ServeConfig, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        match parse(&args(list), |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })? {
            Command::Serve(config) => Ok(*config),
            Command::Help => Err("help".into()),
        }
    }

    #[test]
    fn defaults_match_the_reference() {
        let config = serve(&[], &[]).unwrap();
        assert_eq!(config, ServeConfig::default());
        assert_eq!(config.port, 3000);
        assert_eq!(config.path, "/socket.io/");
    }

    #[test]
    fn flags_win_over_environment_over_file() {
        let dir = std::env::temp_dir().join(format!("rally-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("rally.toml");
        std::fs::write(&file, "port = 4000\nping_interval = 1000\ntransports = [\"websocket\"]\ncors_origins = [\"http://a\"]\n").unwrap();
        let file = file.display().to_string();
        let config = serve(
            &["--config", &file, "--port=5000"],
            &[("RALLY_PORT", "4500"), ("RALLY_PING_TIMEOUT", "700")],
        )
        .unwrap();
        assert_eq!(config.port, 5000);
        assert_eq!(config.ping_interval, Duration::from_millis(1000));
        assert_eq!(config.ping_timeout, Duration::from_millis(700));
        assert_eq!(config.transports, vec![Transport::WebSocket]);
        assert_eq!(config.cors_origins, vec!["http://a".to_owned()]);
        let config = serve(
            &[],
            &[
                ("RALLY_CONFIG", &file),
                ("RALLY_CORS_ORIGINS", "http://b, http://c"),
            ],
        )
        .unwrap();
        assert_eq!(config.port, 4000);
        assert_eq!(
            config.cors_origins,
            vec!["http://b".to_owned(), "http://c".to_owned()]
        );
    }

    #[test]
    fn bad_input_says_what_is_wrong() {
        assert_eq!(
            serve(&["--port", "x"], &[]).unwrap_err(),
            "--port: expected a port number, got `x`"
        );
        assert_eq!(
            serve(&["--prot", "1"], &[]).unwrap_err(),
            "unknown flag `--prot`"
        );
        assert_eq!(serve(&["--port"], &[]).unwrap_err(), "--port needs a value");
        assert!(
            serve(&["--transports", "carrier-pigeon"], &[])
                .unwrap_err()
                .contains("unknown transport")
        );
        assert!(
            serve(&[], &[("RALLY_PING_INTERVAL", "0")])
                .unwrap_err()
                .starts_with("RALLY_PING_INTERVAL:")
        );
        assert!(
            serve(&["--config", "/nonexistent/rally.toml"], &[])
                .unwrap_err()
                .starts_with("config file /nonexistent/rally.toml:")
        );
        assert_eq!(
            serve(&["--path", "io"], &[]).unwrap_err(),
            "--path: expected a path starting with /, got `io`"
        );
        assert_eq!(serve(&["--help"], &[]).unwrap_err(), "help");
    }

    #[test]
    fn redis_settings() {
        let config = serve(&["--redis", "redis://127.0.0.1:6379"], &[]).unwrap();
        assert_eq!(config.redis.as_deref(), Some("redis://127.0.0.1:6379"));
        assert_eq!(config.redis_mode, Mode::Classic);
        let config = serve(
            &["--redis-mode=sharded"],
            &[
                ("RALLY_REDIS", "redis://h:1"),
                ("RALLY_REDIS_MODE", "classic"),
            ],
        )
        .unwrap();
        assert_eq!(config.redis.as_deref(), Some("redis://h:1"));
        assert_eq!(config.redis_mode, Mode::Sharded);
        let config = serve(&["--redis-mode", "streams"], &[]).unwrap();
        assert_eq!(config.redis_mode, Mode::Streams);
        let file = std::env::temp_dir().join(format!("rally-redis-{}.toml", std::process::id()));
        std::fs::write(&file, "redis = \"redis://f:2\"\nredis_mode = \"sharded\"\n").unwrap();
        let config = serve(&["--config", &file.display().to_string()], &[]).unwrap();
        assert_eq!(config.redis.as_deref(), Some("redis://f:2"));
        assert_eq!(config.redis_mode, Mode::Sharded);
        assert_eq!(
            serve(&["--redis-mode", "ring"], &[]).unwrap_err(),
            "--redis-mode: expected classic, sharded or streams, got `ring`"
        );
        assert_eq!(
            serve(&["--redis", "localhost"], &[]).unwrap_err(),
            "--redis: expected redis://host:port, got `localhost`"
        );
    }

    #[test]
    fn recovery_settings() {
        assert_eq!(serve(&[], &[]).unwrap().recovery(), None);
        let on = serve(&["--recovery", "--port", "1"], &[]).unwrap();
        assert_eq!(
            on.recovery(),
            Some(rally::ConnectionStateRecovery::default())
        );
        assert_eq!(on.port, 1);
        let tuned = serve(
            &["--recovery-max-disconnection", "5000"],
            &[
                ("RALLY_RECOVERY", "true"),
                ("RALLY_RECOVERY_MAX_BYTES", "1024"),
            ],
        )
        .unwrap()
        .recovery()
        .expect("on");
        assert_eq!(
            tuned.get_max_disconnection_duration(),
            Duration::from_millis(5000)
        );
        assert_eq!(tuned.get_max_log_bytes(), 1024);
        let file = std::env::temp_dir().join(format!("rally-rec-{}.toml", std::process::id()));
        std::fs::write(
            &file,
            "recovery = true
recovery_max_disconnection = 300
",
        )
        .unwrap();
        let file = file.display().to_string();
        let from_file = serve(&["--config", &file], &[])
            .unwrap()
            .recovery()
            .expect("on");
        assert_eq!(
            from_file.get_max_disconnection_duration(),
            Duration::from_millis(300)
        );
        // Flags win: off again.
        let off = serve(&["--config", &file, "--recovery=false"], &[]).unwrap();
        assert_eq!(off.recovery(), None);
        assert_eq!(
            serve(&["--recovery=maybe"], &[]).unwrap_err(),
            "--recovery: expected true or false, got `maybe`"
        );
    }

    #[test]
    fn limits_come_from_flags_environment_and_file() {
        let file = std::env::temp_dir().join(format!("rally-limits-{}.toml", std::process::id()));
        std::fs::write(&file, "max_sessions = 10\nmax_rooms = 20\n").unwrap();
        let config = serve(
            &[
                "--config",
                &file.display().to_string(),
                "--max-namespaces",
                "3",
                "--max-rooms=30",
            ],
            &[("RALLY_MAX_PENDING_ACKS", "40")],
        )
        .unwrap();
        let expected = Limits {
            max_sessions: Some(10),
            max_namespaces: Some(3),
            max_pending_acks: Some(40),
            max_rooms: Some(30),
            max_buffered_frames: None,
            max_handshakes_per_minute: None,
        };
        assert_eq!(*config.limits, expected);
        assert_eq!(
            serve(&["--max-buffered-frames", "0"], &[]).unwrap_err(),
            "--max-buffered-frames: expected a positive number, got `0`"
        );
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let file = std::env::temp_dir().join(format!("rally-bad-{}.toml", std::process::id()));
        std::fs::write(&file, "prot = 1\n").unwrap();
        let err = serve(&["--config", &file.display().to_string()], &[]).unwrap_err();
        assert!(err.contains("unknown field `prot`"), "{err}");
    }
}

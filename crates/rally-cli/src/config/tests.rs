//! The layers of `rally serve`'s settings, their errors, and the help.

use std::{path::Path, time::Duration};

use rally::Transport;
use rally_redis::Mode;

use clap::Args as _;

use super::*;

/// `rally serve`'s command line, with the TOML keys in its help.
fn command() -> clap::Command {
    annotate(ServeArgs::augment_args(clap::Command::new("serve")))
}

/// `rally serve <list>` with the environment `env`: the settings, or the
/// error message (for an error of clap's, its kind).
fn serve(list: &[&str], env: &[(&str, &str)]) -> Result<ServeConfig, String> {
    let matches = command()
        .no_binary_name(true)
        .try_get_matches_from(list)
        .map_err(|e| format!("{:?}", e.kind()))?;
    from_matches(&matches, |k| {
        env.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    })
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
    assert_eq!(serve(&["--prot", "1"], &[]).unwrap_err(), "UnknownArgument");
    assert_eq!(serve(&["--port"], &[]).unwrap_err(), "InvalidValue");
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
    assert_eq!(serve(&["--help"], &[]).unwrap_err(), "DisplayHelp");
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
    std::fs::write(
        &file,
        "redis = \"rediss://f:2\"\nredis_mode = \"sharded\"\nredis_ca = \"/etc/ca.pem\"\n",
    )
    .unwrap();
    let config = serve(&["--config", &file.display().to_string()], &[]).unwrap();
    assert_eq!(config.redis.as_deref(), Some("rediss://f:2"));
    assert_eq!(config.redis_mode, Mode::Sharded);
    assert_eq!(config.redis_ca.as_deref(), Some(Path::new("/etc/ca.pem")));
    let config = serve(&["--redis-ca", "/a.pem"], &[("RALLY_REDIS_CA", "/b.pem")]).unwrap();
    assert_eq!(config.redis_ca.as_deref(), Some(Path::new("/a.pem")));
    let config = serve(&[], &[("RALLY_REDIS_CA", "/b.pem")]).unwrap();
    assert_eq!(config.redis_ca.as_deref(), Some(Path::new("/b.pem")));
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
fn postgres_settings() {
    let config = serve(&["--postgres", "postgres://app@127.0.0.1/app"], &[]).unwrap();
    assert_eq!(
        config.postgres.as_deref(),
        Some("postgres://app@127.0.0.1/app")
    );
    let config = serve(&[], &[("RALLY_POSTGRES", "postgresql://h/db")]).unwrap();
    assert_eq!(config.postgres.as_deref(), Some("postgresql://h/db"));
    let file = std::env::temp_dir().join(format!("rally-pg-{}.toml", std::process::id()));
    std::fs::write(&file, "postgres = \"postgres://f/db\"\n").unwrap();
    let config = serve(&["--config", &file.display().to_string()], &[]).unwrap();
    assert_eq!(config.postgres.as_deref(), Some("postgres://f/db"));
    assert_eq!(
        serve(&["--postgres", "localhost"], &[]).unwrap_err(),
        "--postgres: expected postgres://user@host/db, got `localhost`"
    );
    assert_eq!(
        serve(
            &["--postgres", "postgres://h/db", "--redis", "redis://h:1"],
            &[]
        )
        .unwrap_err(),
        "--redis and --postgres: a node joins one cluster, through one of them"
    );
}

#[test]
fn forward_sessions_settings() {
    assert!(
        !serve(&["--redis", "redis://h:1"], &[])
            .unwrap()
            .forward_sessions
    );
    let on = serve(&["--redis", "redis://h:1", "--forward-sessions"], &[]).unwrap();
    assert!(on.forward_sessions);
    let off = serve(&["--redis", "redis://h:1", "--forward-sessions=false"], &[]).unwrap();
    assert!(!off.forward_sessions);
    let env = [
        ("RALLY_FORWARD_SESSIONS", "true"),
        ("RALLY_POSTGRES", "postgres://h/db"),
    ];
    assert!(serve(&[], &env).unwrap().forward_sessions);
    let file = std::env::temp_dir().join(format!("rally-fwd-{}.toml", std::process::id()));
    std::fs::write(&file, "redis = \"redis://f:2\"\nforward_sessions = true\n").unwrap();
    let config = serve(&["--config", &file.display().to_string()], &[]).unwrap();
    assert!(config.forward_sessions);
    assert_eq!(
        serve(&["--forward-sessions"], &[]).unwrap_err(),
        "--forward-sessions needs a cluster: --redis or --postgres (a lone node holds every session)"
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
fn per_message_deflate_settings() {
    assert_eq!(serve(&[], &[]).unwrap().per_message_deflate(), None);
    let on = serve(&["--per-message-deflate"], &[]).unwrap();
    assert_eq!(
        on.per_message_deflate(),
        Some(rally::PerMessageDeflate::default())
    );
    let tuned = serve(
        &["--per-message-deflate-threshold", "0"],
        &[("RALLY_PER_MESSAGE_DEFLATE", "true")],
    )
    .unwrap()
    .per_message_deflate()
    .expect("on");
    assert_eq!(tuned.threshold, 0);
    let file = std::env::temp_dir().join(format!("rally-pmd-{}.toml", std::process::id()));
    std::fs::write(
        &file,
        "per_message_deflate = true
per_message_deflate_threshold = 4096
",
    )
    .unwrap();
    let file_name = file.display().to_string();
    let from_file = serve(&["--config", &file_name], &[])
        .unwrap()
        .per_message_deflate()
        .expect("on");
    assert_eq!(from_file.threshold, 4096);
    // Flags win over the file: off again.
    let off = serve(
        &["--config", &file_name, "--per-message-deflate=false"],
        &[],
    )
    .unwrap();
    assert_eq!(off.per_message_deflate(), None);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        serve(&["--per-message-deflate-threshold=-1"], &[]).unwrap_err(),
        "--per-message-deflate-threshold: expected a number of bytes, got `-1`"
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

#[test]
fn log_format_from_flag_variable_and_file() {
    assert_eq!(serve(&[], &[]).unwrap().log_format, LogFormat::Text);
    let json = serve(&["--log-format", "json"], &[]).unwrap();
    assert_eq!(json.log_format, LogFormat::Json);
    let json = serve(&[], &[("RALLY_LOG_FORMAT", "json")]).unwrap();
    assert_eq!(json.log_format, LogFormat::Json);
    let file = std::env::temp_dir().join(format!("rally-log-{}.toml", std::process::id()));
    std::fs::write(&file, "log_format = \"json\"\n").unwrap();
    let file = file.display().to_string();
    let json = serve(&["--config", &file], &[]).unwrap();
    assert_eq!(json.log_format, LogFormat::Json);
    let text = serve(&["--config", &file, "--log-format=text"], &[]).unwrap();
    assert_eq!(text.log_format, LogFormat::Text);
    assert_eq!(
        serve(&["--log-format", "xml"], &[]).unwrap_err(),
        "--log-format: expected text or json, got `xml`"
    );
}

#[test]
fn every_key_is_a_documented_setting() {
    let keys = file_keys();
    assert!(
        keys.contains(&"port") && keys.contains(&"log_format"),
        "{keys:?}"
    );
    assert!(
        !keys.contains(&"config"),
        "the file does not name another file"
    );
    let command = command();
    for key in keys {
        let arg = command
            .get_arguments()
            .find(|arg| arg.get_id() == *key)
            .unwrap_or_else(|| panic!("no flag for the key {key}"));
        assert!(arg.get_long().is_some(), "{key} has no --flag");
        assert!(arg.get_env().is_some(), "{key} has no RALLY_* variable");
        let mut config = ServeConfig::default();
        let err = settings::apply(&mut config, key, &["?".into()]).err();
        assert!(
            !err.is_some_and(|e| e.starts_with("unknown setting")),
            "{key} is not read"
        );
    }
}

#[test]
fn cors_cookie_and_trailing_slash_settings() {
    let config = serve(&[], &[]).unwrap();
    assert_eq!(config.cors(), None);
    assert_eq!(config.cookie(), None);
    assert!(config.add_trailing_slash);
    assert!(config.http_compression);

    let config = serve(
        &[
            "--cors-origin=http://a",
            "--cors-credentials=false",
            "--cors-methods",
            "GET, POST",
            "--cors-allowed-headers=authorization",
            "--cors-exposed-headers=x-one,x-two",
            "--cors-max-age=600",
            "--cookie=sticky",
            "--cookie-secure",
            "--cookie-domain=example.com",
            "--add-trailing-slash=false",
            "--http-compression=false",
        ],
        &[("RALLY_COOKIE_MAX_AGE", "3600")],
    )
    .unwrap();
    assert_eq!(
        config.cors(),
        Some(
            rally::Cors::origins(["http://a"])
                .methods(["GET", "POST"])
                .allowed_headers(["authorization"])
                .exposed_headers(["x-one", "x-two"])
                .max_age(Duration::from_secs(600))
        )
    );
    assert_eq!(
        config.cookie(),
        Some(
            rally::Cookie::default()
                .name("sticky")
                .secure(true)
                .domain("example.com")
                .max_age(Duration::from_secs(3600))
        )
    );
    assert!(!config.add_trailing_slash);
    assert!(!config.http_compression);
    assert_eq!(config.path_prefix(), "/socket.io");
    let config = serve(&[], &[("RALLY_HTTP_COMPRESSION", "false")]).unwrap();
    assert!(!config.http_compression);

    // Credentials stay on for listed origins and off for `*` unless said.
    let listed = serve(&["--cors-origin=http://a"], &[]).unwrap();
    assert!(listed.cors().unwrap().credentials);
    let any = serve(&["--cors-origin=*"], &[]).unwrap();
    assert!(!any.cors().unwrap().credentials);
    let any = serve(&["--cors-origin=*", "--cors-credentials"], &[]).unwrap();
    assert!(any.cors().unwrap().credentials);

    assert_eq!(
        serve(&["--cookie=a b"], &[]).unwrap_err(),
        "--cookie: expected a cookie name, got `a b`"
    );
    assert_eq!(
        serve(&["--cors-max-age=soon"], &[]).unwrap_err(),
        "--cors-max-age: expected a number of seconds, got `soon`"
    );
}

#[test]
fn admin_ui_settings() {
    let config = serve(&[], &[]).unwrap();
    assert!(!config.admin.enabled);
    // A fixed hash of cost 4 (the flag checks it is bcrypt's).
    let hash = "$2a$04$ewfyDNUOjvZfa0RMB/mZguyzZN8iBT8Dz0SlNFyLWznB492TZEDQy";
    let on = serve(
        &[
            "--admin-ui",
            "--admin-user",
            "ops",
            "--admin-mode",
            "production",
            "--admin-server-id",
            "node-a",
        ],
        &[("RALLY_ADMIN_PASSWORD_HASH", hash)],
    )
    .unwrap();
    assert!(on.admin.enabled);
    assert_eq!(on.admin.user.as_deref(), Some("ops"));
    assert_eq!(on.admin.password_hash.as_deref(), Some(hash));
    assert_eq!(on.admin.mode, rally::admin::Mode::Production);
    assert_eq!(on.admin.server_id.as_deref(), Some("node-a"));
    assert!(on.admin.admin_ui().is_ok());

    let dir = std::env::temp_dir().join(format!("rally-admin-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rally.toml");
    std::fs::write(&file, "admin_ui = true\nadmin_mode = \"development\"\n").unwrap();
    let file = file.display().to_string();
    let from_file = serve(
        &["--config", &file],
        &[
            ("RALLY_ADMIN_PASSWORD", "plain"),
            ("RALLY_ADMIN_USER", "root"),
        ],
    )
    .unwrap();
    assert!(from_file.admin.enabled);
    assert_eq!(from_file.admin.mode, rally::admin::Mode::Development);
    assert_eq!(from_file.admin.password.as_deref(), Some("plain"));
    assert_eq!(from_file.admin.user.as_deref(), Some("root"));
    let off = serve(&["--config", &file, "--admin-ui=false"], &[]).unwrap();
    assert!(!off.admin.enabled);
    // The plain password is no key of the file.
    std::fs::write(dir.join("bad.toml"), "admin_password = \"x\"\n").unwrap();
    let bad = dir.join("bad.toml").display().to_string();
    assert!(serve(&["--config", &bad], &[]).is_err());
    std::fs::remove_dir_all(&dir).unwrap();

    assert_eq!(
        serve(&["--admin-password-hash", "plain"], &[]).unwrap_err(),
        "--admin-password-hash: the admin password must be a valid bcrypt hash"
    );
    assert_eq!(
        serve(&["--admin-mode", "verbose"], &[]).unwrap_err(),
        "--admin-mode: expected development or production, got `verbose`"
    );
}

#[test]
fn tls_settings_come_in_pairs() {
    let dir = std::env::temp_dir().join(format!("rally-config-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rally.toml");
    std::fs::write(
        &file,
        "tls_cert = \"/etc/rally/fullchain.pem\"\ntls_key = \"/etc/rally/key.pem\"\nredirect_http = 8080\n",
    )
    .unwrap();
    let config = serve(&["--config", &file.display().to_string()], &[]).unwrap();
    assert_eq!(
        config.tls_cert.as_deref(),
        Some(std::path::Path::new("/etc/rally/fullchain.pem"))
    );
    assert_eq!(
        config.tls_key.as_deref(),
        Some(std::path::Path::new("/etc/rally/key.pem"))
    );
    assert_eq!(config.redirect_http, Some(8080));
    std::fs::remove_dir_all(&dir).unwrap();

    let config = serve(
        &["--tls-cert", "c.pem", "--redirect-http", "80"],
        &[("RALLY_TLS_KEY", "k.pem")],
    )
    .unwrap();
    assert_eq!(
        config.tls_key.as_deref(),
        Some(std::path::Path::new("k.pem"))
    );
    assert_eq!(config.redirect_http, Some(80));
    assert_eq!(
        serve(
            &[],
            &[("RALLY_TLS_CERT", "c.pem"), ("RALLY_TLS_KEY", "k.pem")]
        )
        .unwrap()
        .tls_cert
        .as_deref(),
        Some(std::path::Path::new("c.pem"))
    );

    let error = serve(&["--tls-cert", "c.pem"], &[]).unwrap_err();
    assert!(error.contains("--tls-cert needs --tls-key"), "{error}");
    let error = serve(&[], &[("RALLY_TLS_KEY", "k.pem")]).unwrap_err();
    assert!(error.contains("--tls-key needs --tls-cert"), "{error}");
    let error = serve(&["--redirect-http", "80"], &[]).unwrap_err();
    assert!(
        error.contains("--redirect-http needs --tls-cert"),
        "{error}"
    );
    let error = serve(&["--tls-cert=c", "--tls-key=k", "--redirect-http=0"], &[]).unwrap_err();
    assert!(
        error.starts_with("--redirect-http: expected a port"),
        "{error}"
    );
    let error = serve(
        &[
            "--tls-cert=c",
            "--tls-key=k",
            "--port=8443",
            "--redirect-http=8443",
        ],
        &[],
    )
    .unwrap_err();
    assert!(error.contains("the same port"), "{error}");
    let error = serve(&["--tls-cert="], &[]).unwrap_err();
    assert!(error.starts_with("--tls-cert: expected a file"), "{error}");
}

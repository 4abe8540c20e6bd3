//! A setting's text, from any layer, checked and stored in a
//! [`ServeConfig`].

use std::{path::PathBuf, time::Duration};

use rally::Transport;

use super::{LogFormat, ServeConfig};

/// Sets `key` (a TOML key) from `values` (several for the repeatable
/// settings; the last one wins for the others).
///
/// # Errors
///
/// What is wrong with the value, without saying where it came from.
pub(super) fn apply(config: &mut ServeConfig, key: &str, values: &[String]) -> Result<(), String> {
    let last = values.last().map(String::as_str).unwrap_or_default();
    let limits = &mut config.limits;
    match key {
        "host" => config.host = last.to_owned(),
        "port" => {
            config.port = last
                .parse()
                .map_err(|_| format!("expected a port number, got `{last}`"))?;
        }
        "path" => config.path = normalize_path(last)?,
        "cors_origins" => {
            config.cors_origins = list(values)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect();
        }
        "cors_credentials" => config.cors.credentials = Some(switch(last)?),
        "cors_methods" => config.cors.methods = Some(items(values)),
        "cors_allowed_headers" => config.cors.allowed_headers = Some(items(values)),
        "cors_exposed_headers" => config.cors.exposed_headers = items(values),
        "cors_max_age" => config.cors.max_age = Some(seconds(last)?),
        "cookie" => {
            if last.is_empty() || last.contains([';', '=', ',', ' ']) {
                return Err(format!("expected a cookie name, got `{last}`"));
            }
            config.cookie.name = Some(last.to_owned());
        }
        "cookie_secure" => config.cookie.secure = switch(last)?,
        "cookie_domain" => config.cookie.domain = Some(last.to_owned()),
        "cookie_max_age" => config.cookie.max_age = Some(seconds(last)?),
        "add_trailing_slash" => config.add_trailing_slash = switch(last)?,
        "ping_interval" => config.ping_interval = millis(last)?,
        "ping_timeout" => config.ping_timeout = millis(last)?,
        "max_payload" => config.max_payload = positive(last, " of bytes")?,
        "http_compression" => config.http_compression = switch(last)?,
        "transports" => config.transports = transports(list(values))?,
        "parser" => {
            config.parser = last
                .parse()
                .map_err(|_| format!("expected json or msgpack, got `{last}`"))?;
        }
        "allow_eio3" => config.allow_eio3 = switch(last)?,
        "per_message_deflate" => config.per_message_deflate = switch(last)?,
        "per_message_deflate_threshold" => {
            config.per_message_deflate_threshold = last
                .parse()
                .map_err(|_| format!("expected a number of bytes, got `{last}`"))?;
        }
        "static_dir" => config.static_dir = Some(PathBuf::from(last)),
        "shutdown_timeout" => config.shutdown_timeout = millis(last)?,
        "redis" => {
            if !last.starts_with("redis://") && !last.starts_with("rediss://") {
                return Err(format!("expected redis://host:port, got `{last}`"));
            }
            config.redis = Some(last.to_owned());
        }
        "postgres" => {
            if !last.starts_with("postgres://") && !last.starts_with("postgresql://") {
                return Err(format!("expected postgres://user@host/db, got `{last}`"));
            }
            config.postgres = Some(last.to_owned());
        }
        "redis_mode" => {
            config.redis_mode = last
                .parse()
                .map_err(|_| format!("expected classic, sharded or streams, got `{last}`"))?;
        }
        "redis_ca" => config.redis_ca = Some(PathBuf::from(last)),
        "forward_sessions" => config.forward_sessions = switch(last)?,
        "recovery" => config.recovery = switch(last)?,
        "recovery_max_disconnection" => config.recovery_max_disconnection = millis(last)?,
        "recovery_max_bytes" => config.recovery_max_bytes = positive(last, " of bytes")?,
        "tls_cert" => config.tls_cert = Some(file(last)?),
        "tls_key" => config.tls_key = Some(file(last)?),
        "redirect_http" => {
            config.redirect_http = Some(
                last.parse()
                    .ok()
                    .filter(|port| *port > 0)
                    .ok_or_else(|| format!("expected a port number above 0, got `{last}`"))?,
            );
        }
        "log_format" => config.log_format = LogFormat::from_name(last)?,
        "admin_ui" => config.admin.enabled = switch(last)?,
        "admin_user" => {
            if last.is_empty() {
                return Err("expected a username".into());
            }
            config.admin.user = Some(last.to_owned());
        }
        "admin_password_hash" => {
            rally::admin::Auth::basic("admin", last).map_err(|e| e.to_string())?;
            config.admin.password_hash = Some(last.to_owned());
        }
        "admin_mode" => config.admin.mode = last.parse()?,
        "admin_server_id" => {
            if last.is_empty() {
                return Err("expected an id".into());
            }
            config.admin.server_id = Some(last.to_owned());
        }
        "max_sessions" => limits.max_sessions = Some(positive(last, "")?),
        "max_namespaces" => limits.max_namespaces = Some(positive(last, "")?),
        "max_pending_acks" => limits.max_pending_acks = Some(positive(last, "")?),
        "max_rooms" => limits.max_rooms = Some(positive(last, "")?),
        "max_buffered_frames" => limits.max_buffered_frames = Some(positive(last, "")?),
        "max_handshakes_per_minute" => {
            limits.max_handshakes_per_minute = Some(positive(last, "")?);
        }
        _ => return Err(format!("unknown setting {key}")),
    }
    Ok(())
}

/// A file's path (not checked here: it is read when the server starts).
fn file(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() {
        return Err("expected a file name".into());
    }
    Ok(PathBuf::from(text))
}

/// Settings that need others: a TLS key without its certificate, or the
/// other way round, or a redirect to HTTPS without TLS.
///
/// # Errors
///
/// What is missing, naming the flags.
pub(super) fn check(config: &ServeConfig) -> Result<(), String> {
    match (&config.tls_cert, &config.tls_key) {
        (Some(_), None) => Err("--tls-cert needs --tls-key (the certificate's private key)".into()),
        (None, Some(_)) => Err("--tls-key needs --tls-cert (the certificate chain)".into()),
        (None, None) if config.redirect_http.is_some() => {
            Err("--redirect-http needs --tls-cert and --tls-key (it redirects to https)".into())
        }
        _ if config.redirect_http == Some(config.port) => {
            Err("--redirect-http: the same port as --port".into())
        }
        _ => Ok(()),
    }
}

/// The items of comma-separated lists, trimmed.
fn list(values: &[String]) -> impl Iterator<Item = &str> {
    values.iter().flat_map(|v| v.split(',')).map(str::trim)
}

/// The non-empty items of comma-separated lists.
fn items(values: &[String]) -> Vec<String> {
    list(values)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

fn seconds(text: &str) -> Result<Duration, String> {
    text.parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| format!("expected a number of seconds, got `{text}`"))
}

fn millis(text: &str) -> Result<Duration, String> {
    text.parse::<u64>()
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("expected a positive number of milliseconds, got `{text}`"))
}

/// A number above zero; `unit` (" of bytes", or nothing) names it in the
/// error.
fn positive(text: &str, unit: &str) -> Result<usize, String> {
    text.parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("expected a positive number{unit}, got `{text}`"))
}

fn switch(text: &str) -> Result<bool, String> {
    match text {
        "true" | "1" | "on" => Ok(true),
        "false" | "0" | "off" => Ok(false),
        _ => Err(format!("expected true or false, got `{text}`")),
    }
}

fn transports<'a>(names: impl Iterator<Item = &'a str>) -> Result<Vec<Transport>, String> {
    let mut transports = Vec::new();
    for name in names.filter(|n| !n.is_empty()) {
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

//! Building the HTTP replies of the engine.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::Full;

use crate::{AllowOrigin, Config, Cors, error::ErrorCode};

/// The body of every reply the engine makes itself.
pub type EngineBody = Full<Bytes>;

pub(crate) const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=UTF-8");
pub(crate) const TEXT_HTML: HeaderValue = HeaderValue::from_static("text/html");
pub(crate) const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A reply with a body and its content type.
pub(crate) fn with_body(
    status: StatusCode,
    content_type: HeaderValue,
    body: impl Into<Bytes>,
) -> Response<EngineBody> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    response
}

/// The reference's error reply: `{"code":N,"message":"..."}`.
pub(crate) fn error(code: ErrorCode) -> Response<EngineBody> {
    error_message(code, code.message())
}

/// An error reply with a message of the application's.
pub(crate) fn error_message(code: ErrorCode, message: &str) -> Response<EngineBody> {
    let body = format!(
        r#"{{"code":{},"message":{}}}"#,
        code as u8,
        json_string(message)
    );
    with_body(code.status(), APPLICATION_JSON, body)
}

/// The refusal of a WebSocket request: always 400, the message as text.
pub(crate) fn upgrade_error(message: &str) -> Response<EngineBody> {
    upgrade_error_status(StatusCode::BAD_REQUEST, message)
}

/// The refusal of a WebSocket request with another status.
pub(crate) fn upgrade_error_status(status: StatusCode, message: &str) -> Response<EngineBody> {
    let mut response = with_body(status, TEXT_HTML, message.to_owned());
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The refusal of a handshake when the server holds `max_sessions`
/// sessions: 503, so that clients and load balancers retry later.
pub(crate) fn too_many_sessions(websocket: bool) -> Response<EngineBody> {
    refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "Too many sessions",
        websocket,
    )
}

/// The refusal of a handshake once the engine is closed: 503, as a server
/// going away.
pub(crate) fn closed(websocket: bool) -> Response<EngineBody> {
    refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "Server is shutting down",
        websocket,
    )
}

/// The refusal of a handshake from an address over its handshake rate.
pub(crate) fn too_many_handshakes(websocket: bool) -> Response<EngineBody> {
    refusal(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many handshakes",
        websocket,
    )
}

/// A handshake refused for a limit: `status` with the Engine.IO error
/// JSON (code 3), or the message as text for a WebSocket.
fn refusal(status: StatusCode, message: &str, websocket: bool) -> Response<EngineBody> {
    if websocket {
        return upgrade_error_status(status, message);
    }
    let mut response = error_message(ErrorCode::BadRequest, message);
    *response.status_mut() = status;
    response
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A reply with a status and no body.
pub(crate) fn status(status: StatusCode) -> Response<EngineBody> {
    let mut response = Response::new(Full::default());
    *response.status_mut() = status;
    response
}

/// Adds the CORS headers that `config` asks for to a reply to a request
/// from `origin` (its `Origin` header).
pub(crate) fn add_cors(config: &Config, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
    let Some(cors) = &config.cors else { return };
    add_origin(cors, origin, headers, None);
    add_exposed(cors, headers);
}

/// The `Access-Control-Allow-Origin`, `-Allow-Credentials` and `Vary`
/// headers, with `extra_vary` appended to `Vary`.
fn add_origin(
    cors: &Cors,
    origin: Option<&HeaderValue>,
    headers: &mut HeaderMap,
    extra_vary: Option<&str>,
) {
    let allowed = match &cors.origin {
        AllowOrigin::Any => Some(HeaderValue::from_static("*")),
        _ => origin.filter(|o| cors.allows_origin(o.as_bytes())).cloned(),
    };
    let vary = match (matches!(cors.origin, AllowOrigin::Any), extra_vary) {
        (false, Some(extra)) => Some(format!("Origin, {extra}")),
        (false, None) => Some("Origin".to_owned()),
        (true, extra) => extra.map(str::to_owned),
    };
    if let Some(vary) = vary.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.append(header::VARY, vary);
    }
    let Some(allowed) = allowed else { return };
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
    if cors.credentials {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

/// `Access-Control-Expose-Headers`, when some are exposed.
fn add_exposed(cors: &Cors, headers: &mut HeaderMap) {
    if let Some(exposed) = joined(&cors.exposed_headers) {
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, exposed);
    }
}

/// `items` joined with commas, as one header value; `None` when empty.
fn joined(items: &[String]) -> Option<HeaderValue> {
    if items.is_empty() {
        return None;
    }
    HeaderValue::from_str(&items.join(",")).ok()
}

/// The reply to a CORS preflight (`OPTIONS`): 204 with the headers of the
/// `cors` package, in its order.
pub(crate) fn preflight(config: &Config, request_headers: &HeaderMap) -> Response<EngineBody> {
    let mut response = status(StatusCode::NO_CONTENT);
    let Some(cors) = &config.cors else {
        return response;
    };
    let headers = response.headers_mut();
    // Headers taken from the request make the answer vary with them.
    let reflect = cors.allowed_headers.is_none();
    add_origin(
        cors,
        request_headers.get(header::ORIGIN),
        headers,
        reflect.then_some("Access-Control-Request-Headers"),
    );
    if let Some(methods) = joined(&cors.methods) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
    }
    let allowed = match &cors.allowed_headers {
        Some(list) => joined(list),
        None => request_headers
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned(),
    };
    if let Some(allowed) = allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allowed);
    }
    if let Some(max_age) = cors.max_age {
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, max_age.as_secs().into());
    }
    add_exposed(cors, headers);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_json_strings() {
        assert_eq!(json_string("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
    }
}

//! The engine's hooks on replies and refusals (the reference's
//! `initial_headers`, `headers` and `connection_error` events).

use std::{panic::AssertUnwindSafe, sync::Arc};

use http::{HeaderMap, Request, Response, request::Parts};

use crate::{RemoteAddr, error::ErrorCode};

/// A hook on the headers of a reply: it gets them, and the request.
pub type HeadersHook = Arc<dyn Fn(&mut HeaderMap, &Parts) + Send + Sync>;

/// A hook told of each refused request.
pub type ConnectionErrorHook = Arc<dyn Fn(&ConnectionError<'_>) + Send + Sync>;

/// Why the engine refused a request, as the reference's `connection_error`
/// event tells it (its `context.name`, or its error code where it has no
/// name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// No `transport`, or one the server does not offer (code 0).
    UnknownTransport,
    /// A `sid` that names no open session (code 1).
    UnknownSid,
    /// A handshake that is not a GET (code 2).
    BadHandshakeMethod,
    /// A request of a session on another transport than the session's,
    /// without an upgrade (code 3, `TRANSPORT_MISMATCH`).
    TransportMismatch,
    /// A request of a session naming another protocol revision than the
    /// session's (code 3, `PROTOCOL_MISMATCH`).
    ProtocolMismatch,
    /// A WebSocket handshake without the upgrade (code 3,
    /// `TRANSPORT_HANDSHAKE_ERROR`).
    TransportHandshakeError,
    /// A JSONP polling handshake, which is not served (code 3).
    Jsonp,
    /// `allow_request` refused the handshake (code 4).
    Forbidden,
    /// A protocol 3 handshake without `allow_eio3` (code 5).
    UnsupportedProtocolVersion,
    /// A handshake past `max_sessions` (code 3, HTTP 503).
    TooManySessions,
    /// A handshake past the address's handshake rate (code 3, HTTP 429).
    TooManyHandshakes,
}

impl Refusal {
    /// The Engine.IO error code of the refusal.
    pub(crate) const fn error_code(self) -> ErrorCode {
        match self {
            Self::UnknownTransport => ErrorCode::TransportUnknown,
            Self::UnknownSid => ErrorCode::UnknownSid,
            Self::BadHandshakeMethod => ErrorCode::BadHandshakeMethod,
            Self::Forbidden => ErrorCode::Forbidden,
            Self::UnsupportedProtocolVersion => ErrorCode::UnsupportedProtocolVersion,
            Self::TransportMismatch
            | Self::ProtocolMismatch
            | Self::TransportHandshakeError
            | Self::Jsonp
            | Self::TooManySessions
            | Self::TooManyHandshakes => ErrorCode::BadRequest,
        }
    }

    /// The message of the refusal (`allow_request` may give its own).
    pub(crate) const fn message(self) -> &'static str {
        match self {
            Self::TooManySessions => "Too many sessions",
            Self::TooManyHandshakes => "Too many handshakes",
            _ => self.error_code().message(),
        }
    }
}

/// A refused request, as the `connection_error` hook sees it.
#[derive(Debug)]
#[non_exhaustive]
pub struct ConnectionError<'a> {
    /// The Engine.IO error code (0 to 5) of the refusal.
    pub code: u8,
    /// The message of the refusal (what `allow_request` answered, for
    /// [`Refusal::Forbidden`]).
    pub message: &'a str,
    /// Why the request was refused.
    pub reason: Refusal,
    /// The request: its method, URI, version, headers and
    /// [`RemoteAddr`].
    pub request: &'a Parts,
}

/// The mark a refusal carries to [`run`] (a response extension).
#[derive(Debug, Clone)]
pub(crate) struct Refused {
    reason: Refusal,
    /// The message, when it is not the reason's own.
    message: Option<String>,
}

/// Marks `response` as the refusal of a request for `reason`.
pub(crate) fn mark<B>(
    mut response: Response<B>,
    reason: Refusal,
    message: Option<String>,
) -> Response<B> {
    response
        .extensions_mut()
        .insert(Refused { reason, message });
    response
}

/// What the hooks see of a request: everything but its body and its
/// extensions (the [`RemoteAddr`] kept). Made only when a hook is set.
pub(crate) fn copy_request<B>(req: &Request<B>) -> Parts {
    let mut copy = Request::new(());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    if let Some(addr) = req.extensions().get::<RemoteAddr>() {
        copy.extensions_mut().insert(*addr);
    }
    copy.into_parts().0
}

/// Runs the hooks of `config` on the reply to `request`: `connection_error`
/// for a refusal, `initial_headers` (when `opens`) and `headers` for a
/// success. A hook that panics is logged; the reply goes out as the hooks
/// before it left it.
pub(crate) fn run<B>(
    config: &crate::Config,
    request: &Parts,
    opens: bool,
    response: &mut Response<B>,
) {
    if let Some(refused) = response.extensions_mut().remove::<Refused>() {
        if let Some(hook) = &config.connection_error {
            guarded("connection_error", || {
                hook(&ConnectionError {
                    code: refused.reason.error_code() as u8,
                    message: refused
                        .message
                        .as_deref()
                        .unwrap_or(refused.reason.message()),
                    reason: refused.reason,
                    request,
                });
            });
        }
        return;
    }
    let status = response.status();
    if !(status.is_success() || status == http::StatusCode::SWITCHING_PROTOCOLS) {
        return;
    }
    if opens {
        if let Some(hook) = &config.initial_headers {
            guarded("initial_headers", || hook(response.headers_mut(), request));
        }
    }
    if let Some(hook) = &config.headers {
        guarded("headers", || hook(response.headers_mut(), request));
    }
}

/// Runs the hook `name`, catching its panic.
fn guarded(name: &str, hook: impl FnOnce()) {
    if std::panic::catch_unwind(AssertUnwindSafe(hook)).is_err() {
        tracing::error!(hook = name, "an engine hook panicked");
    }
}

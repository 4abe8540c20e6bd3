//! The errors of the client: connecting, transports, emits and acks.

use std::sync::Arc;

use thiserror::Error;

/// Why a connection could not be made, or broke.
///
/// Cloneable, so that every socket sharing a connection can receive the same
/// error. `Display` describes this layer only; the cause, if any, is the
/// [`source`](std::error::Error::source).
///
/// ```
/// use rally_client::Error;
///
/// let refused = Error::Refused { message: "not authorized".into(), data: None };
/// assert_eq!(refused.to_string(), "connection refused: not authorized");
/// assert!(refused.is_refused());
/// ```
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL could not be used (not `http`, `https`, `ws` or `wss`, no
    /// host, bad port...).
    #[error("invalid url: {0}")]
    InvalidUrl(String),
    /// An option was invalid (a header name or value, a non-object auth...).
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The namespace refused the connection (a `CONNECT_ERROR` packet): an
    /// unknown namespace, or a middleware said no.
    #[error("connection refused: {message}")]
    Refused {
        /// The server's `message`.
        message: String,
        /// The server's `data`, when it sent some.
        data: Option<serde_json::Value>,
    },
    /// The connection was not open within the manager's
    /// [`timeout`](crate::ManagerBuilder::timeout).
    #[error("connection timed out")]
    Timeout,
    /// The transport failed: the server is unreachable, answered with an
    /// HTTP error, or broke the protocol.
    #[error("transport error")]
    Transport(#[source] TransportError),
    /// The socket was disconnected, or the manager closed, before it
    /// connected.
    #[error("connection closed")]
    Closed,
}

impl Error {
    /// Whether the namespace refused the connection.
    ///
    /// ```
    /// assert!(!rally_client::Error::Timeout.is_refused());
    /// ```
    #[must_use]
    pub fn is_refused(&self) -> bool {
        matches!(self, Self::Refused { .. })
    }

    /// Whether the connection timed out.
    ///
    /// ```
    /// assert!(rally_client::Error::Timeout.is_timeout());
    /// ```
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout)
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Self::Transport(e)
    }
}

/// What went wrong in a transport.
///
/// ```
/// use rally_client::TransportError;
///
/// let e = TransportError::Http { status: 400, message: "Session ID unknown".into() };
/// assert_eq!(e.to_string(), "http status 400: Session ID unknown");
/// ```
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum TransportError {
    /// A network error (connection refused, reset...).
    #[error("i/o error")]
    Io(#[source] Arc<std::io::Error>),
    /// The server answered a polling request, the handshake or the
    /// WebSocket upgrade with an HTTP error; `message` is the Engine.IO
    /// error message when it sent one.
    #[error("http status {status}: {message}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The `message` of the JSON error body, or the body itself.
        message: String,
    },
    /// The WebSocket broke the protocol (a bad frame, data that does not
    /// inflate, a message over the size limit, an extension reply that
    /// does not match the offer); the cause names the close status. A
    /// refused upgrade is [`Http`](Self::Http).
    #[error("websocket error")]
    WebSocket(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The TLS handshake failed; the cause is rustls' error, which names
    /// the problem (`invalid peer certificate: UnknownIssuer` for a
    /// certificate no trusted root signed, `certificate not valid for name
    /// "localhost"; certificate is only valid for ...` for one made out to
    /// another host...).
    #[error("tls handshake failed")]
    Tls(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The server sent something that is not Engine.IO.
    #[error("invalid response: {0}")]
    InvalidResponse(&'static str),
    /// A packet could not be decoded.
    #[error("undecodable packet")]
    Decode(#[source] rally_proto::DecodeError),
}

impl From<std::io::Error> for TransportError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(Arc::new(e))
    }
}

impl From<rally_proto::ws::WsError> for TransportError {
    fn from(e: rally_proto::ws::WsError) -> Self {
        Self::WebSocket(Arc::new(e))
    }
}

impl From<rally_proto::DecodeError> for TransportError {
    fn from(e: rally_proto::DecodeError) -> Self {
        Self::Decode(e)
    }
}

/// Why an emit did not go out.
///
/// ```
/// # async fn run(socket: rally_client::Socket) {
/// use rally_client::EmitError;
///
/// assert!(matches!(socket.emit("connect", ()), Err(EmitError::Reserved(_))));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The event name is reserved (`connect`, `disconnect`, ...).
    #[error("\"{0}\" is a reserved event name")]
    Reserved(String),
    /// An argument could not be serialized to JSON.
    #[error("argument not serializable: {0}")]
    Serialize(String),
    /// The manager is gone: every handle to it was dropped, or it was closed.
    #[error("manager closed")]
    Closed,
}

/// Why an acknowledgement did not come: the enum the server's
/// `rally::AckError` names too ([`rally_proto::AckError`]), with the client's
/// [`EmitError`]. The client never produces `TooManyPending` nor `Payload`.
///
/// The messages are the official client's (`operation has timed out`,
/// `socket has been disconnected`).
///
/// ```
/// # async fn run(socket: rally_client::Socket) {
/// use rally_client::AckError;
///
/// let answer = socket.timeout(std::time::Duration::from_millis(100)).emit_with_ack("ping", ()).await;
/// if let Err(AckError::Timeout) = answer {
///     eprintln!("no answer in time");
/// }
/// # }
/// ```
pub type AckError = rally_proto::AckError<EmitError>;

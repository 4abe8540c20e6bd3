use thiserror::Error;

/// Why an emit did not go out.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The event name is reserved (`connect`, `disconnect`, ...).
    #[error("reserved event name: {0}")]
    Reserved(String),
    /// An argument could not be serialized to JSON.
    #[error("argument not serializable: {0}")]
    Serialize(String),
    /// The socket is disconnected.
    #[error("socket disconnected")]
    Disconnected,
}

/// Why an acknowledgement did not come: the enum the client's
/// `rally_client::AckError` names too ([`rally_proto::AckError`]), with the
/// server's [`EmitError`], so both sides match the same variants.
///
/// ```
/// # async fn run(socket: std::sync::Arc<rally::Socket>) {
/// use std::time::Duration;
/// use rally::AckError;
///
/// match socket.timeout(Duration::from_secs(5)).emit_with_ack("ready?", ()).await {
///     Ok(reply) => println!("answered {:?}", reply.raw_arg(0)),
///     Err(AckError::Timeout) => println!("no answer in time"),
///     Err(AckError::Disconnected) => println!("gone"),
///     Err(e) => println!("{e}"),
/// }
/// # }
/// ```
pub type AckError = rally_proto::AckError<EmitError>;

/// The refusal of a connection by a middleware, sent to the client as a
/// `connect_error` with `message` and, when set, `data`.
///
/// ```
/// use rally::ConnectError;
///
/// let refusal = ConnectError::new("not authorized").with_data(&serde_json::json!({"retry": false}));
/// assert_eq!(refusal.message(), "not authorized");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct ConnectError {
    message: String,
    data: Option<String>,
}

impl ConnectError {
    /// A refusal with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            data: None,
        }
    }

    /// Adds `data`, serialized to JSON, for the client's `err.data`.
    #[must_use]
    pub fn with_data<T: serde::Serialize + ?Sized>(mut self, data: &T) -> Self {
        self.data = serde_json::to_string(data).ok();
        self
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The JSON payload of the CONNECT_ERROR packet; for a Socket.IO v2
    /// client (`v2`), the data alone, or else the message as a string, as
    /// the reference sends them.
    pub(crate) fn payload(&self, v2: bool) -> String {
        let message = serde_json::to_string(&self.message).unwrap_or_else(|_| "\"\"".into());
        match (&self.data, v2) {
            (Some(data), true) => data.clone(),
            (None, true) => message,
            (Some(data), false) => format!(r#"{{"message":{message},"data":{data}}}"#),
            (None, false) => format!(r#"{{"message":{message}}}"#),
        }
    }
}

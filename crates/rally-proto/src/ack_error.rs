//! Why an acknowledgement did not come: one enum for the server and the
//! client.

use thiserror::Error;

/// Why an acknowledgement did not come, on either side of a connection.
///
/// The server (`rally::AckError`) and the client (`rally_client::AckError`)
/// both name this enum, with their own emit error as `E`, so the variants,
/// their messages and the code that matches them are the same on both sides.
/// One enum rather than a common core each side wraps: a wrapper would make
/// `Timeout` a level deeper on one side than the other, where with this enum
/// `AckError::Timeout` reads the same in a server and in a client. The cost
/// is that a side may name a variant it never produces: each variant says
/// which side does.
///
/// The messages of `Timeout` and `Disconnected` are the official
/// implementations' (`operation has timed out`, `socket has been
/// disconnected`).
///
/// ```
/// use rally_proto::AckError;
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("closed")]
/// struct Closed;
///
/// let failed: AckError<Closed> = Closed.into();
/// assert!(matches!(failed, AckError::Emit(Closed)));
/// assert_eq!(failed.to_string(), "closed");
/// assert_eq!(AckError::<Closed>::Timeout.to_string(), "operation has timed out");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AckError<E> {
    /// No answer within the timeout.
    #[error("operation has timed out")]
    Timeout,
    /// The other side disconnected after the event was sent, before it
    /// answered.
    #[error("socket has been disconnected")]
    Disconnected,
    /// The socket already owes its limit of answers (the server's
    /// `max_pending_acks`); nothing was sent. Only the server produces it.
    #[error("too many pending acknowledgements")]
    TooManyPending,
    /// The emit itself failed, with the side's own emit error.
    #[error(transparent)]
    Emit(#[from] E),
    /// The answer could not be deserialized into the type asked for (the
    /// server's typed acknowledgements produce it).
    #[error("unexpected ack payload: {0}")]
    Payload(String),
}

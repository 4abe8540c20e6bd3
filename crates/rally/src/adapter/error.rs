use thiserror::Error;

/// Why a cluster operation did not complete.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// Some nodes did not answer in time.
    #[error(
        "timeout reached while waiting for {operation}: {missing} of {expected} answers missing"
    )]
    Timeout {
        /// The operation, as the reference names it (`fetchSockets`,
        /// `allRooms`, `serverSideEmit`).
        operation: &'static str,
        /// How many answers did not come.
        missing: usize,
        /// How many were due.
        expected: usize,
    },
    /// The cluster cannot be reached (the message says why).
    #[error("cluster unavailable: {0}")]
    Unavailable(String),
    /// The request could not be sent: a reserved event name, or arguments
    /// that cannot go to other nodes.
    #[error(transparent)]
    Emit(#[from] crate::EmitError),
}

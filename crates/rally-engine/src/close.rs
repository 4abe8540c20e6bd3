use std::fmt;

/// Why a session ended, in the reference's words.
///
/// ```
/// use rally_engine::CloseReason;
///
/// assert_eq!(CloseReason::PingTimeout.as_str(), "ping timeout");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client closed the session or its connection (`transport close`).
    TransportClose,
    /// The transport failed or the client broke the protocol (`transport error`).
    TransportError,
    /// The client did not answer a ping in time (`ping timeout`).
    PingTimeout,
    /// The server closed the session (`forced close`).
    ForcedClose,
    /// The server is shutting down (`server shutting down`).
    ServerShuttingDown,
    /// A message could not be decoded by the layer above (`parse error`).
    ParseError,
}

impl CloseReason {
    /// The reason as the reference spells it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::PingTimeout => "ping timeout",
            Self::ForcedClose => "forced close",
            Self::ServerShuttingDown => "server shutting down",
            Self::ParseError => "parse error",
        }
    }

    /// Whether what was queued for the client is still sent before closing
    /// (a close the server chose), or dropped (a failure).
    #[must_use]
    pub const fn flushes(self) -> bool {
        matches!(self, Self::ForcedClose | Self::ServerShuttingDown)
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

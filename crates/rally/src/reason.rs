use std::fmt;

use rally_engine::CloseReason;

/// Why a socket disconnected, in the reference's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The transport failed (`transport error`).
    TransportError,
    /// The client closed its connection (`transport close`).
    TransportClose,
    /// The connection was closed by the server (`forced close`).
    ForcedClose,
    /// The client missed its pongs (`ping timeout`).
    PingTimeout,
    /// The client sent what could not be decoded (`parse error`).
    ParseError,
    /// The server is shutting down (`server shutting down`).
    ServerShuttingDown,
    /// The server closed the whole connection (`forced server close`).
    ForcedServerClose,
    /// The client left the namespace (`client namespace disconnect`).
    ClientNamespaceDisconnect,
    /// The server made the socket leave the namespace (`server namespace disconnect`).
    ServerNamespaceDisconnect,
}

impl DisconnectReason {
    /// The reason as the reference spells it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TransportError => "transport error",
            Self::TransportClose => "transport close",
            Self::ForcedClose => "forced close",
            Self::PingTimeout => "ping timeout",
            Self::ParseError => "parse error",
            Self::ServerShuttingDown => "server shutting down",
            Self::ForcedServerClose => "forced server close",
            Self::ClientNamespaceDisconnect => "client namespace disconnect",
            Self::ServerNamespaceDisconnect => "server namespace disconnect",
        }
    }

    /// Whether connection state recovery may restore a socket that left
    /// for this reason: the reference (socket.io 4.8.4) keeps a session for
    /// `transport error`, `transport close`, `forced close`, `ping timeout`,
    /// `server shutting down` and `forced server close`, not for a
    /// `parse error` nor a namespace disconnect.
    #[must_use]
    pub const fn is_recoverable(self) -> bool {
        matches!(
            self,
            Self::TransportError
                | Self::TransportClose
                | Self::ForcedClose
                | Self::PingTimeout
                | Self::ServerShuttingDown
                | Self::ForcedServerClose
        )
    }
}

impl From<CloseReason> for DisconnectReason {
    fn from(reason: CloseReason) -> Self {
        match reason {
            CloseReason::TransportClose => Self::TransportClose,
            CloseReason::PingTimeout => Self::PingTimeout,
            CloseReason::ForcedClose => Self::ForcedClose,
            CloseReason::ServerShuttingDown => Self::ServerShuttingDown,
            CloseReason::ParseError => Self::ParseError,
            _ => Self::TransportError,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

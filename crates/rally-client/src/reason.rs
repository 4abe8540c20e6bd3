//! Why a socket disconnected.

use std::fmt;

/// Why a socket disconnected, in the official client's words.
///
/// ```
/// use rally_client::DisconnectReason;
///
/// assert_eq!(DisconnectReason::TransportClose.as_str(), "transport close");
/// assert!(DisconnectReason::TransportClose.will_reconnect());
/// assert!(!DisconnectReason::IoServerDisconnect.will_reconnect());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The server made the socket leave the namespace (`io server disconnect`).
    IoServerDisconnect,
    /// The application called [`Socket::disconnect`](crate::Socket::disconnect)
    /// (`io client disconnect`).
    IoClientDisconnect,
    /// No ping from the server within `pingInterval + pingTimeout` (`ping timeout`).
    PingTimeout,
    /// The server closed the connection (`transport close`).
    TransportClose,
    /// The connection failed (`transport error`).
    TransportError,
    /// The server sent a packet that could not be decoded (`parse error`).
    ParseError,
}

impl DisconnectReason {
    /// The reason as the official client spells it.
    ///
    /// ```
    /// assert_eq!(rally_client::DisconnectReason::PingTimeout.as_str(), "ping timeout");
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::IoServerDisconnect => "io server disconnect",
            Self::IoClientDisconnect => "io client disconnect",
            Self::PingTimeout => "ping timeout",
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::ParseError => "parse error",
        }
    }

    /// Whether the manager reconnects after this (when reconnection is on):
    /// every reason but the two deliberate ones.
    ///
    /// ```
    /// assert!(!rally_client::DisconnectReason::IoClientDisconnect.will_reconnect());
    /// ```
    #[must_use]
    pub const fn will_reconnect(self) -> bool {
        !matches!(self, Self::IoServerDisconnect | Self::IoClientDisconnect)
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

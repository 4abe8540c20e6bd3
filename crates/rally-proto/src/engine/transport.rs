//! The names of the two transports, as both ends of a connection spell them.

use std::fmt;

/// A transport an Engine.IO connection can use: the server's sessions and the
/// client's connections share this one type.
///
/// ```
/// use rally_proto::engine::Transport;
///
/// assert_eq!(Transport::WebSocket.as_str(), "websocket");
/// assert_eq!(Transport::from_name("polling"), Some(Transport::Polling));
/// assert_eq!(Transport::Polling.to_string(), "polling");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// HTTP long-polling: a held GET carries the server's packets, POSTs
    /// carry the client's.
    Polling,
    /// One WebSocket carries everything.
    WebSocket,
}

impl Transport {
    /// The transport's name, as in the `transport` query parameter.
    ///
    /// ```
    /// assert_eq!(rally_proto::engine::Transport::Polling.as_str(), "polling");
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Polling => "polling",
            Self::WebSocket => "websocket",
        }
    }

    /// The transport named `name` (`polling` or `websocket`), if any.
    ///
    /// ```
    /// assert_eq!(rally_proto::engine::Transport::from_name("ws"), None);
    /// ```
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "polling" => Some(Self::Polling),
            "websocket" => Some(Self::WebSocket),
            _ => None,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

use std::fmt;

/// The Engine.IO protocol revision a session speaks, fixed by the request
/// that opened it (`EIO=4`, or `EIO=3` when
/// [`Config::allow_eio3`](crate::Config::allow_eio3) lets protocol 3 in).
///
/// The two differ on the wire only (the engine writes and reads each
/// session's own forms), and in the heartbeat's direction; what a session
/// sends and receives is the same [`Message`](crate::Message) either way. A
/// Socket.IO layer reads it to speak Socket.IO protocol 5 to
/// protocol 4 sessions and Socket.IO protocol 4 (socket.io-client 2.x) to
/// protocol 3 ones.
///
/// ```
/// use rally_engine::Protocol;
///
/// assert_eq!(Protocol::V3.as_u8(), 3);
/// assert_eq!(Protocol::V4.to_string(), "4");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// Engine.IO 3 (Socket.IO v2 clients): the client pings, polling bodies
    /// are `<length>:<packet>` records, binary WebSocket frames start with
    /// the packet type.
    V3,
    /// Engine.IO 4: the server pings, polling records are separated by
    /// `\x1e`, binary WebSocket frames are the message's bytes.
    V4,
}

impl Protocol {
    /// The revision named by a request's `EIO` parameter: `4` is protocol 4,
    /// anything else protocol 3, as the reference reads it (a request with
    /// no `EIO` at all is protocol 3 too).
    pub(crate) fn from_eio(eio: &str) -> Self {
        if eio == "4" { Self::V4 } else { Self::V3 }
    }

    /// The revision's number, as in `EIO=`.
    #[must_use]
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::V3 => 3,
            Self::V4 => 4,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_u8())
    }
}

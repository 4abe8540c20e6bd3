//! Which Socket.IO parser a connection speaks.

use std::{fmt, str::FromStr};

/// How Socket.IO packets travel in Engine.IO messages: the choice the
/// reference makes with its `parser` option, on the server and the client
/// alike (both ends must use the same).
///
/// - [`Json`](Self::Json), the default parser (`socket.io-parser`): a packet
///   is a text message (`2["chat","hi"]`), binary values travel as
///   attachments after it.
/// - [`MsgPack`](Self::MsgPack), `socket.io-msgpack-parser`: a packet is one
///   binary message holding a MessagePack map, binary values inside it (see
///   [`msgpack`](super::msgpack)).
///
/// ```
/// use rally_proto::socket::Parser;
///
/// assert_eq!(Parser::default(), Parser::Json);
/// assert_eq!("msgpack".parse::<Parser>(), Ok(Parser::MsgPack));
/// assert_eq!(Parser::MsgPack.to_string(), "msgpack");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Parser {
    /// The default parser: JSON text packets and binary attachments.
    #[default]
    Json,
    /// `socket.io-msgpack-parser`: one MessagePack binary message a packet.
    MsgPack,
}

impl Parser {
    /// The name used on command lines and in configuration files: `json` or
    /// `msgpack`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::MsgPack => "msgpack",
        }
    }
}

impl fmt::Display for Parser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`Parser`] name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownParser(pub String);

impl fmt::Display for UnknownParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown parser `{}` (json or msgpack)", self.0)
    }
}

impl std::error::Error for UnknownParser {}

impl FromStr for Parser {
    type Err = UnknownParser;

    /// `json` (or `default`) and `msgpack`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" | "default" => Ok(Self::Json),
            "msgpack" => Ok(Self::MsgPack),
            other => Err(UnknownParser(other.to_owned())),
        }
    }
}

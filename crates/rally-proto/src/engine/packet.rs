use bytes::Bytes;

use crate::{DecodeError, Str};

/// The seven Engine.IO packet types, by their wire digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// `0`: the handshake, sent by the server once per session.
    Open = 0,
    /// `1`: the session is closing.
    Close = 1,
    /// `2`: a heartbeat (server to client in protocol 4), or the `2probe` of an upgrade.
    Ping = 2,
    /// `3`: the answer to a ping.
    Pong = 3,
    /// `4`: an application message.
    Message = 4,
    /// `5`: the client switches to the probed transport.
    Upgrade = 5,
    /// `6`: nothing; lets a pending long-polling request return.
    Noop = 6,
}

impl PacketType {
    /// The packet type of a wire digit (`b'0'` to `b'6'`).
    #[must_use]
    pub const fn from_digit(digit: u8) -> Option<Self> {
        Some(match digit {
            b'0' => Self::Open,
            b'1' => Self::Close,
            b'2' => Self::Ping,
            b'3' => Self::Pong,
            b'4' => Self::Message,
            b'5' => Self::Upgrade,
            b'6' => Self::Noop,
            _ => return None,
        })
    }

    /// The wire digit of this packet type.
    #[must_use]
    pub const fn as_digit(self) -> u8 {
        b'0' + self as u8
    }
}

/// An application message: text or binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A UTF-8 message (a text WebSocket frame, or a `4...` record).
    Text(Str),
    /// A binary message (a binary WebSocket frame, or a `b...` record).
    Binary(Bytes),
}

impl Message {
    /// The message's length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Text(s) => s.len(),
            Self::Binary(b) => b.len(),
        }
    }

    /// Whether the message holds no bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Self::Text(Str::from(s))
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Self::Text(Str::from(s))
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Self::Binary(b)
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Self {
        Self::Binary(Bytes::from(b))
    }
}

/// A decoded Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// The handshake, with its JSON text.
    Open(Str),
    /// The session is closing.
    Close,
    /// A ping, with its data (`probe` during an upgrade, usually empty).
    Ping(Str),
    /// A pong, with the data of the ping it answers.
    Pong(Str),
    /// An application message.
    Message(Message),
    /// The client switches to the probed transport.
    Upgrade,
    /// Nothing.
    Noop,
}

impl Packet {
    /// Decodes a text packet: a type digit followed by its data.
    ///
    /// Data after the digit of a close, upgrade or noop packet is ignored, as
    /// the reference implementation does.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Empty`] for an empty text and
    /// [`DecodeError::UnknownPacketType`] when the first byte is not `0`–`6`.
    ///
    /// ```
    /// use rally_proto::{engine::Packet, Str};
    ///
    /// assert_eq!(Packet::decode_text(Str::from("2probe")).unwrap(), Packet::Ping(Str::from("probe")));
    /// assert!(Packet::decode_text(Str::from("9")).is_err());
    /// ```
    pub fn decode_text(text: Str) -> Result<Self, DecodeError> {
        let first = *text.as_bytes().first().ok_or(DecodeError::Empty)?;
        let kind = PacketType::from_digit(first).ok_or(DecodeError::UnknownPacketType)?;
        // The digit is one ASCII byte, so index 1 is always a boundary.
        let data = || text.slice_from(1).unwrap_or_default();
        Ok(match kind {
            PacketType::Open => Self::Open(data()),
            PacketType::Close => Self::Close,
            PacketType::Ping => Self::Ping(data()),
            PacketType::Pong => Self::Pong(data()),
            PacketType::Message => Self::Message(Message::Text(data())),
            PacketType::Upgrade => Self::Upgrade,
            PacketType::Noop => Self::Noop,
        })
    }

    /// The type of this packet.
    #[must_use]
    pub fn packet_type(&self) -> PacketType {
        match self {
            Self::Open(_) => PacketType::Open,
            Self::Close => PacketType::Close,
            Self::Ping(_) => PacketType::Ping,
            Self::Pong(_) => PacketType::Pong,
            Self::Message(_) => PacketType::Message,
            Self::Upgrade => PacketType::Upgrade,
            Self::Noop => PacketType::Noop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> Result<Packet, DecodeError> {
        Packet::decode_text(Str::from(s))
    }

    #[test]
    fn decodes_every_type() {
        assert_eq!(decode("0{}"), Ok(Packet::Open(Str::from("{}"))));
        assert_eq!(decode("1"), Ok(Packet::Close));
        assert_eq!(decode("2"), Ok(Packet::Ping(Str::default())));
        assert_eq!(decode("3probe"), Ok(Packet::Pong(Str::from("probe"))));
        assert_eq!(decode("4héllo"), Ok(Packet::Message("héllo".into())));
        assert_eq!(decode("4"), Ok(Packet::Message("".into())));
        assert_eq!(decode("5"), Ok(Packet::Upgrade));
        assert_eq!(decode("6"), Ok(Packet::Noop));
    }

    #[test]
    fn rejects_bad_types() {
        assert_eq!(decode(""), Err(DecodeError::Empty));
        assert_eq!(decode("7"), Err(DecodeError::UnknownPacketType));
        assert_eq!(decode("x4"), Err(DecodeError::UnknownPacketType));
        assert_eq!(decode("é"), Err(DecodeError::UnknownPacketType));
    }

    #[test]
    fn digits_round_trip() {
        for d in b'0'..=b'6' {
            assert_eq!(PacketType::from_digit(d).map(PacketType::as_digit), Some(d));
        }
    }
}

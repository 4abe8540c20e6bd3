use bytes::{BufMut, Bytes, BytesMut};

use super::{Message, Packet, PacketType};
use crate::Str;

/// An Engine.IO packet encoded once for the wire and shared by reference.
///
/// `Text` holds the whole text packet, type digit included (`4hello`): it is
/// the payload of a WebSocket text frame and a record of a polling body as it
/// is. `Binary` holds the raw bytes of a binary message: a WebSocket binary
/// frame, or a `b<base64>` record over polling. Cloning a frame only bumps a
/// reference count, so a broadcast encodes its packet once for all recipients.
///
/// ```
/// use rally_proto::engine::Frame;
///
/// let frame = Frame::message_text("hello");
/// assert_eq!(frame, Frame::Text("4hello".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete text packet, type digit included.
    Text(Str),
    /// The bytes of a binary message.
    Binary(Bytes),
}

impl Frame {
    /// A message packet carrying `text` (`4` followed by the text).
    #[must_use]
    pub fn message_text(text: &str) -> Self {
        let mut buf = BytesMut::with_capacity(text.len() + 1);
        buf.put_u8(PacketType::Message.as_digit());
        buf.put_slice(text.as_bytes());
        // A digit followed by a `str` is UTF-8.
        Self::Text(Str::from_utf8(buf.freeze()).unwrap_or_default())
    }

    /// The frame of a message.
    #[must_use]
    pub fn message(message: Message) -> Self {
        match message {
            Message::Text(text) => Self::message_text(&text),
            Message::Binary(bytes) => Self::Binary(bytes),
        }
    }

    /// The frame of a packet that carries no data or only text data.
    ///
    /// A binary message packet becomes a binary frame.
    #[must_use]
    pub fn packet(packet: Packet) -> Self {
        let (kind, data) = match packet {
            Packet::Message(message) => return Self::message(message),
            Packet::Open(data) => (PacketType::Open, data),
            Packet::Ping(data) => (PacketType::Ping, data),
            Packet::Pong(data) => (PacketType::Pong, data),
            Packet::Close => return Self::Text(Str::from_static("1")),
            Packet::Upgrade => return Self::Text(Str::from_static("5")),
            Packet::Noop => return Self::Text(Str::from_static("6")),
        };
        let mut buf = BytesMut::with_capacity(data.len() + 1);
        buf.put_u8(kind.as_digit());
        buf.put_slice(data.as_bytes());
        Self::Text(Str::from_utf8(buf.freeze()).unwrap_or_default())
    }

    /// The size of this frame on a WebSocket (its payload length).
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Text(s) => s.len(),
            Self::Binary(b) => b.len(),
        }
    }

    /// Whether the frame has no payload bytes (never true for a valid text packet).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_packets() {
        assert_eq!(
            Frame::packet(Packet::Ping(Str::default())),
            Frame::Text("2".into())
        );
        assert_eq!(
            Frame::packet(Packet::Pong(Str::from("probe"))),
            Frame::Text("3probe".into())
        );
        assert_eq!(Frame::packet(Packet::Close), Frame::Text("1".into()));
        assert_eq!(Frame::packet(Packet::Noop), Frame::Text("6".into()));
        assert_eq!(
            Frame::packet(Packet::Message(Message::Binary(Bytes::from_static(&[
                1, 2
            ])))),
            Frame::Binary(Bytes::from_static(&[1, 2]))
        );
        assert_eq!(Frame::message("é".into()), Frame::Text("4é".into()));
    }
}

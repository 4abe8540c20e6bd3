use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};

use crate::engine::payload::{BASE64, decode_base64_lenient};
use crate::engine::{Message, Packet, PacketType};
use crate::{DecodeError, Str};

/// Decodes a protocol 3 text packet: a type digit and its data (`4hello`), or
/// a binary packet in base64 (`b4AQID`).
///
/// A WebSocket text frame and each record of a text polling payload are read
/// this way.
///
/// # Errors
///
/// [`DecodeError::Empty`] for an empty text and
/// [`DecodeError::UnknownPacketType`] when a text packet does not start with
/// `0`–`6`. A `b` packet never fails: see [`decode_binary_frame`] for its
/// type, and its base64 is read as leniently as Node.js reads it (characters
/// outside the alphabet are skipped).
///
/// ```
/// use rally_proto::engine::{v3, Message, Packet};
///
/// assert_eq!(v3::decode_packet("4hi".into()).unwrap(), Packet::Message("hi".into()));
/// assert_eq!(
///     v3::decode_packet("b4AQID".into()).unwrap(),
///     Packet::Message(Message::Binary(vec![1, 2, 3].into())),
/// );
/// ```
pub fn decode_packet(text: Str) -> Result<Packet, DecodeError> {
    match text.as_bytes().first() {
        Some(b'b') => Ok(decode_base64_packet(&text.as_bytes()[1..])),
        _ => Packet::decode_text(text),
    }
}

/// Reads `<type><base64>` (what follows the `b`) as bytes: the first byte is
/// the type, the rest base64.
///
/// The reference takes one UTF-16 unit (or one byte, in the binary payload
/// form) as the type; when that is part of a longer character, the rest of
/// it is no base64 and is skipped, so one byte gives the same packet.
pub(super) fn decode_base64_packet(rest: &[u8]) -> Packet {
    match rest.split_first() {
        Some((&kind, data)) => {
            binary_packet(PacketType::from_digit(kind), decode_base64_lenient(data))
        }
        None => binary_packet(None, Bytes::new()),
    }
}

/// The packet of a WebSocket binary frame: the type byte, then the data.
///
/// A binary message is `\x04` followed by its bytes. Protocol 3 lets any
/// packet type travel as binary, and the reference server then looks at the
/// type only: the data of a binary open, ping or pong is dropped (a binary
/// ping is never a `probe`). A frame that is empty or whose first byte is not
/// a packet type (`0`–`6` as a byte, not a digit) decodes to
/// [`Packet::Noop`]: the reference makes it a packet of no type, which its
/// server ignores exactly as it ignores a noop.
///
/// ```
/// use bytes::Bytes;
/// use rally_proto::engine::{v3, Message, Packet};
///
/// assert_eq!(
///     v3::decode_binary_frame(Bytes::from_static(&[4, 1, 2])),
///     Packet::Message(Message::Binary(Bytes::from_static(&[1, 2]))),
/// );
/// assert_eq!(v3::decode_binary_frame(Bytes::new()), Packet::Noop);
/// ```
#[must_use]
pub fn decode_binary_frame(frame: Bytes) -> Packet {
    let kind = frame
        .first()
        .filter(|&&b| b <= 6)
        .and_then(|&b| PacketType::from_digit(b'0' + b));
    binary_packet(kind, frame.slice(frame.len().min(1)..))
}

/// The packet of a binary packet type and its data (see
/// [`decode_binary_frame`]).
fn binary_packet(kind: Option<PacketType>, data: Bytes) -> Packet {
    match kind {
        Some(PacketType::Message) => Packet::Message(Message::Binary(data)),
        Some(PacketType::Open) => Packet::Open(Str::default()),
        Some(PacketType::Close) => Packet::Close,
        Some(PacketType::Ping) => Packet::Ping(Str::default()),
        Some(PacketType::Pong) => Packet::Pong(Str::default()),
        Some(PacketType::Upgrade) => Packet::Upgrade,
        Some(PacketType::Noop) | None => Packet::Noop,
    }
}

/// The WebSocket binary frame of a binary message: `\x04` then `data`.
///
/// ```
/// use rally_proto::engine::v3;
///
/// assert_eq!(&v3::encode_binary_frame(&[1, 2, 3])[..], b"\x04\x01\x02\x03");
/// ```
#[must_use]
pub fn encode_binary_frame(data: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(data.len() + 1);
    buf.put_u8(PacketType::Message as u8);
    buf.put_slice(data);
    buf.freeze()
}

/// A binary message as text, for a client that cannot take binary: `b4`
/// then `data` in padded base64. It is a WebSocket text frame as it is, and
/// a record of a text polling payload.
///
/// ```
/// use rally_proto::engine::v3;
///
/// assert_eq!(v3::encode_base64_packet(&[1, 2, 3]), "b4AQID");
/// ```
#[must_use]
pub fn encode_base64_packet(data: &[u8]) -> Str {
    let mut buf = BytesMut::with_capacity(base64_packet_len(data.len()));
    put_base64_packet(&mut buf, data);
    // `b4` and base64 are ASCII.
    Str::from_utf8(buf.freeze()).unwrap_or_default()
}

/// The length of `b4<base64>` for `len` bytes of data.
pub(super) const fn base64_packet_len(len: usize) -> usize {
    2 + len.div_ceil(3) * 4
}

/// Writes `b4<base64 of data>` to `buf`.
pub(super) fn put_base64_packet(buf: &mut BytesMut, data: &[u8]) {
    buf.put_u8(b'b');
    buf.put_u8(PacketType::Message.as_digit());
    let start = buf.len();
    buf.resize(start + data.len().div_ceil(3) * 4, 0);
    let written = BASE64
        .encode_slice(data, &mut buf[start..])
        .unwrap_or_default();
    buf.truncate(start + written);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Result<Packet, DecodeError> {
        decode_packet(Str::from(s))
    }

    fn binary(b: &'static [u8]) -> Packet {
        Packet::Message(Message::Binary(Bytes::from_static(b)))
    }

    #[test]
    fn reads_text_packets_as_protocol_4() {
        assert_eq!(text("2probe"), Ok(Packet::Ping("probe".into())));
        assert_eq!(text("4"), Ok(Packet::Message("".into())));
        assert_eq!(text(""), Err(DecodeError::Empty));
        assert_eq!(text("7"), Err(DecodeError::UnknownPacketType));
    }

    #[test]
    fn reads_base64_packets_with_their_type() {
        assert_eq!(text("b4AQID"), Ok(binary(&[1, 2, 3])));
        assert_eq!(text("b4"), Ok(binary(&[])));
        assert_eq!(text("b4!!"), Ok(binary(&[])));
        assert_eq!(text("b4AQ="), Ok(binary(&[1])));
        assert_eq!(text("b2cHJvYmU="), Ok(Packet::Ping(Str::default())));
        assert_eq!(text("b1"), Ok(Packet::Close));
        assert_eq!(text("b9AQ"), Ok(Packet::Noop));
        assert_eq!(text("b"), Ok(Packet::Noop));
        assert_eq!(text("béAQID"), Ok(Packet::Noop));
        assert_eq!(text("b😀"), Ok(Packet::Noop));
    }

    #[test]
    fn reads_binary_frames_by_type_byte() {
        assert_eq!(
            decode_binary_frame(Bytes::from_static(&[4, 0, 255])),
            binary(&[0, 255])
        );
        assert_eq!(decode_binary_frame(Bytes::from_static(&[4])), binary(&[]));
        assert_eq!(
            decode_binary_frame(Bytes::from_static(&[2, 1])),
            Packet::Ping(Str::default())
        );
        assert_eq!(
            decode_binary_frame(Bytes::from_static(&[5])),
            Packet::Upgrade
        );
        assert_eq!(
            decode_binary_frame(Bytes::from_static(b"4hi")),
            Packet::Noop
        );
        assert_eq!(decode_binary_frame(Bytes::from_static(&[7])), Packet::Noop);
        assert_eq!(
            decode_binary_frame(Bytes::from_static(&[0xff])),
            Packet::Noop
        );
    }

    #[test]
    fn encodes_binary_both_ways() {
        assert_eq!(&encode_binary_frame(&[])[..], b"\x04");
        assert_eq!(encode_base64_packet(&[]), "b4");
        assert_eq!(encode_base64_packet(&[0, 255, 7, 8]), "b4AP8HCA==");
        for len in 0..8 {
            assert_eq!(
                encode_base64_packet(&vec![7; len]).len(),
                base64_packet_len(len)
            );
        }
    }
}

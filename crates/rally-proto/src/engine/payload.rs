use base64::{
    Engine as _,
    alphabet::STANDARD,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use bytes::{BufMut, Bytes, BytesMut};

use super::{Frame, Message, Packet};
use crate::{DecodeError, Str};

/// The record separator between packets of a long-polling body.
pub const SEPARATOR: u8 = 0x1e;

/// Standard base64, padded on output, padding optional on input.
pub(super) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encodes frames into one long-polling body: records joined by `\x1e`,
/// binary frames as `b` followed by their base64.
///
/// ```
/// use bytes::Bytes;
/// use rally_proto::engine::{Frame, encode_payload};
///
/// let body = encode_payload(&[Frame::message_text("hi"), Frame::Binary(Bytes::from_static(&[1, 2, 3]))]);
/// assert_eq!(&body[..], b"4hi\x1ebAQID");
/// ```
#[must_use]
pub fn encode_payload(frames: &[Frame]) -> Bytes {
    let len: usize = frames
        .iter()
        .map(|f| match f {
            Frame::Text(s) => s.len() + 1,
            Frame::Binary(b) => b.len().div_ceil(3) * 4 + 2,
        })
        .sum();
    let mut buf = BytesMut::with_capacity(len);
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            buf.put_u8(SEPARATOR);
        }
        match frame {
            Frame::Text(s) => buf.put_slice(s.as_bytes()),
            Frame::Binary(b) => {
                buf.put_u8(b'b');
                let start = buf.len();
                buf.resize(start + b.len().div_ceil(3) * 4, 0);
                let written = BASE64
                    .encode_slice(b, &mut buf[start..])
                    .unwrap_or_default();
                buf.truncate(start + written);
            }
        }
    }
    buf.freeze()
}

/// Decodes a long-polling body into its packets.
///
/// The whole body must be UTF-8; each record is a text packet or a
/// `b<base64>` binary message. Records are decoded lazily, in order.
/// Base64 is read as leniently as the reference reads it: characters outside
/// the alphabet are skipped, so a binary record never fails.
///
/// # Errors
///
/// [`DecodeError::InvalidUtf8`] when the body is not UTF-8; each record can
/// then fail on its own (an empty record, an unknown type).
///
/// ```
/// use rally_proto::engine::{decode_payload, Message, Packet};
///
/// let packets: Vec<_> = decode_payload("4hello\x1ebAQID".into()).unwrap().collect();
/// assert_eq!(packets[0], Ok(Packet::Message("hello".into())));
/// assert_eq!(packets[1], Ok(Packet::Message(Message::Binary(vec![1, 2, 3].into()))));
/// ```
pub fn decode_payload(body: Bytes) -> Result<PayloadDecoder, DecodeError> {
    Ok(PayloadDecoder {
        rest: Some(Str::from_utf8(body)?),
    })
}

/// The packets of a long-polling body, in order (see [`decode_payload`]).
#[derive(Debug)]
pub struct PayloadDecoder {
    rest: Option<Str>,
}

impl Iterator for PayloadDecoder {
    type Item = Result<Packet, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest.take()?;
        // The separator is ASCII, so both cuts are on character boundaries.
        let record = match rest.as_bytes().iter().position(|&b| b == SEPARATOR) {
            Some(at) => {
                self.rest = rest.slice_from(at + 1);
                rest.slice(0, at).unwrap_or_default()
            }
            None => rest,
        };
        Some(decode_record(record))
    }
}

fn decode_record(record: Str) -> Result<Packet, DecodeError> {
    match record.as_bytes().first() {
        Some(b'b') => Ok(Packet::Message(Message::Binary(decode_base64_lenient(
            &record.as_bytes()[1..],
        )))),
        _ => Packet::decode_text(record),
    }
}

/// Decodes base64 the way the reference (Node's `Buffer.from(s, "base64")`)
/// does: both alphabets, characters outside them skipped, decoding stops at
/// the first `=`, and trailing bits that make no whole byte are dropped. It
/// cannot fail.
pub(super) fn decode_base64_lenient(input: &[u8]) -> Bytes {
    if let Ok(bytes) = BASE64.decode(input) {
        return Bytes::from(bytes);
    }
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 2);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in input {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &[u8]) -> Result<Vec<Result<Packet, DecodeError>>, DecodeError> {
        decode_payload(Bytes::copy_from_slice(body)).map(Iterator::collect)
    }

    #[test]
    fn round_trips_mixed_frames() {
        let frames = [
            Frame::message_text("héllo"),
            Frame::Binary(Bytes::from_static(&[0, 255, 7, 8])),
            Frame::packet(Packet::Ping(Str::default())),
            Frame::Binary(Bytes::new()),
        ];
        let body = encode_payload(&frames);
        assert_eq!(&body[..], "4héllo\x1ebAP8HCA==\x1e2\x1eb".as_bytes());
        let packets: Vec<_> = decode(&body)
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let again: Vec<_> = packets.into_iter().map(Frame::packet).collect();
        assert_eq!(again, frames);
    }

    #[test]
    fn reads_base64_like_the_reference() {
        let binary = |body: &[u8]| match decode(body).unwrap().remove(0) {
            Ok(Packet::Message(Message::Binary(b))) => b.to_vec(),
            other => panic!("not binary: {other:?}"),
        };
        assert_eq!(binary(b"b!!!"), Vec::<u8>::new());
        assert_eq!(binary(b"bAQ"), vec![1]);
        assert_eq!(binary(b"bA Q=ID"), vec![1]);
        assert_eq!(binary(b"b_-8"), vec![0xff, 0xef]);
        assert_eq!(binary(b"b/+8="), vec![0xff, 0xef]);
    }

    #[test]
    fn accepts_unpadded_base64() {
        assert_eq!(
            decode(b"bAP8HCA").unwrap(),
            vec![Ok(Packet::Message(Message::Binary(Bytes::from_static(&[
                0, 255, 7, 8
            ]))))]
        );
    }

    #[test]
    fn reports_bad_records_in_place() {
        assert_eq!(decode(&[b'4', 0xff]).unwrap_err(), DecodeError::InvalidUtf8);
        assert_eq!(decode(b"").unwrap(), vec![Err(DecodeError::Empty)]);
        assert_eq!(
            decode(b"4a\x1e").unwrap(),
            vec![Ok(Packet::Message("a".into())), Err(DecodeError::Empty)]
        );
        assert_eq!(
            decode(b"zzz").unwrap(),
            vec![Err(DecodeError::UnknownPacketType)]
        );
        assert_eq!(
            decode(b"zzz").unwrap(),
            vec![Err(DecodeError::UnknownPacketType)]
        );
    }
}

//! The binary form of a protocol 3 polling payload:
//! `<0 text | 1 binary><decimal digits as bytes 0–9><0xFF><data>` records.

use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};

use super::packet::{decode_base64_packet, decode_binary_frame};
use super::text_payload::decimal_digits;
use crate::engine::{Frame, Packet, PacketType};
use crate::{DecodeError, Str};

/// The byte that ends the length of a record.
const END_OF_LENGTH: u8 = 0xff;

/// Encodes frames as a binary payload; no frame at all is no byte.
///
/// A text frame is a `0` record of its UTF-8 bytes (the length counts
/// bytes); a binary frame is a `1` record of the type byte `4` and its bytes.
pub(super) fn encode(frames: &[Frame]) -> Bytes {
    let len: usize = frames.iter().map(|f| f.len() + 23).sum();
    let mut buf = BytesMut::with_capacity(len);
    for frame in frames {
        let (kind, data) = match frame {
            Frame::Text(s) => (0, s.as_bytes()),
            Frame::Binary(b) => (1, b),
        };
        buf.put_u8(kind);
        let (digits, count) = decimal_digits(data.len() + usize::from(kind));
        buf.put_slice(&digits[..count]);
        buf.put_u8(END_OF_LENGTH);
        if kind == 1 {
            buf.put_u8(PacketType::Message as u8);
        }
        buf.put_slice(data);
    }
    buf.freeze()
}

/// Where the record at `pos` lies: whether it is text, and the range of its
/// data.
///
/// Stricter than the reference, which accepts any byte as a digit (reading
/// its decimal value, and then cutting the record in the wrong place) and
/// cuts a record that runs past the end short: here a length byte above 9,
/// no length byte at all, or a length past the end is
/// [`DecodeError::InvalidLength`]. Like the reference, a missing `0xFF` is
/// an error and any first byte other than 0 is a binary record.
fn record_at(body: &[u8], pos: usize, max: usize) -> Result<(bool, Range<usize>), DecodeError> {
    let is_text = body.get(pos) == Some(&0);
    let mut len: usize = 0;
    let mut at = pos + 1;
    loop {
        match body.get(at) {
            Some(&END_OF_LENGTH) if at > pos + 1 => break,
            Some(&d @ 0..=9) => {
                len = len
                    .checked_mul(10)
                    .and_then(|l| l.checked_add(usize::from(d)))
                    .ok_or(DecodeError::InvalidLength)?;
            }
            _ => return Err(DecodeError::InvalidLength),
        }
        at += 1;
    }
    let start = at + 1;
    if len > body.len() - start {
        return Err(DecodeError::InvalidLength);
    }
    if len > max {
        return Err(DecodeError::RecordTooLong { max });
    }
    Ok((is_text, start..start + len))
}

/// Checks the framing of every record, without decoding any: the reference
/// splits the whole body before it decodes the first packet, so a framing
/// error fails the payload before any packet is delivered.
pub(super) fn check(body: &[u8], max: usize) -> Result<(), DecodeError> {
    let mut pos = 0;
    while pos < body.len() {
        pos = record_at(body, pos, max)?.1.end;
    }
    Ok(())
}

/// Decodes the record at byte `*pos`, moving `*pos` past it; `None` at the
/// end.
///
/// A text record is read as the reference reads it: a `b` record is a
/// base64 packet (its bytes need not be UTF-8), any other must be UTF-8 and
/// a text packet (an empty one fails with [`DecodeError::Empty`]). A binary
/// record is a type byte and data ([`decode_binary_frame`]).
pub(super) fn next_record(
    body: &Bytes,
    pos: &mut usize,
    max: usize,
) -> Option<Result<Packet, DecodeError>> {
    if *pos >= body.len() {
        return None;
    }
    let (is_text, range) = match record_at(body, *pos, max) {
        Ok(record) => record,
        Err(e) => return Some(Err(e)),
    };
    *pos = range.end;
    let data = body.slice(range);
    Some(match (is_text, data.first()) {
        (false, _) => Ok(decode_binary_frame(data)),
        (true, Some(b'b')) => Ok(decode_base64_packet(&data[1..])),
        (true, _) => Str::from_utf8(data).and_then(Packet::decode_text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Message;

    fn decode(body: &'static [u8]) -> Result<Vec<Result<Packet, DecodeError>>, DecodeError> {
        check(body, usize::MAX)?;
        let body = Bytes::from_static(body);
        let mut pos = 0;
        Ok(std::iter::from_fn(|| next_record(&body, &mut pos, usize::MAX)).collect())
    }

    #[test]
    fn encodes_both_kinds() {
        let frames = [
            Frame::message_text("hé"),
            Frame::Binary(Bytes::from_static(&[1, 2, 3])),
            Frame::Binary(Bytes::new()),
        ];
        assert_eq!(
            &encode(&frames)[..],
            b"\x00\x04\xff4h\xc3\xa9\x01\x04\xff\x04\x01\x02\x03\x01\x01\xff\x04"
        );
        assert_eq!(&encode(&[])[..], b"");
        let long = Frame::message_text(&"x".repeat(1233));
        assert_eq!(&encode(&[long])[..6], b"\x00\x01\x02\x03\x04\xff");
    }

    #[test]
    fn decodes_records() {
        assert_eq!(
            decode(b"\x00\x03\xff4hi\x01\x03\xff\x04\x00\xff").unwrap(),
            vec![
                Ok(Packet::Message("hi".into())),
                Ok(Packet::Message(Message::Binary(Bytes::from_static(&[
                    0, 255
                ])))),
            ]
        );
        assert_eq!(
            decode(b"\x00\x05\xffb4AQ\xff").unwrap(),
            vec![Ok(Packet::Message(Message::Binary(Bytes::from_static(&[
                1
            ]))))]
        );
        assert_eq!(decode(b"").unwrap(), vec![]);
        assert_eq!(
            decode(b"\x00\x00\xff").unwrap(),
            vec![Err(DecodeError::Empty)]
        );
        assert_eq!(
            decode(b"\x00\x02\xff4\xc3").unwrap(),
            vec![Err(DecodeError::InvalidUtf8)]
        );
        assert_eq!(decode(b"\x01\x00\xff").unwrap(), vec![Ok(Packet::Noop)]);
    }

    #[test]
    fn refuses_bad_framing() {
        for body in [
            &b"\x00"[..],
            b"\x00\x01",
            b"\x00\xff",
            b"\x00\x0a\xff4444444444",
            b"\x00\x02\xff4",
            b"\x00\x01\xff4\x00",
            b"\x00\x01\xff4\x01\x01",
            b"\x01\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\x09\xff",
        ] {
            assert_eq!(check(body, usize::MAX), Err(DecodeError::InvalidLength), "{body:?}");
        }
        assert_eq!(
            check(b"\x00\x03\xff4hi", 2),
            Err(DecodeError::RecordTooLong { max: 2 })
        );
        assert_eq!(check(b"\x00\x03\xff4hi", 3), Ok(()));
    }
}

//! The text form of a protocol 3 polling payload: `<length>:<packet>`
//! records, the length in UTF-16 code units.

use bytes::{BufMut, Bytes, BytesMut};

use super::length::record_length;
use super::packet::{base64_packet_len, decode_packet, put_base64_packet};
use crate::engine::{Frame, Packet};
use crate::{DecodeError, Str};

/// Encodes frames as a text payload; no frame at all is `0:`.
pub(super) fn encode(frames: &[Frame]) -> Bytes {
    if frames.is_empty() {
        return Bytes::from_static(b"0:");
    }
    let len: usize = frames
        .iter()
        .map(|f| match f {
            Frame::Text(s) => s.len() + 21,
            Frame::Binary(b) => base64_packet_len(b.len()) + 21,
        })
        .sum();
    let mut buf = BytesMut::with_capacity(len);
    for frame in frames {
        match frame {
            Frame::Text(s) => {
                put_decimal(&mut buf, utf16_len(s));
                buf.put_u8(b':');
                buf.put_slice(s.as_bytes());
            }
            Frame::Binary(b) => {
                // `b4<base64>` is ASCII: one code unit per byte.
                put_decimal(&mut buf, base64_packet_len(b.len()));
                buf.put_u8(b':');
                put_base64_packet(&mut buf, b);
            }
        }
    }
    buf.freeze()
}

/// The length of `s` in UTF-16 code units (JavaScript's `String.length`):
/// one per character, two for a character outside the Basic Multilingual
/// Plane (a four-byte UTF-8 sequence).
pub(super) fn utf16_len(s: &str) -> usize {
    s.bytes()
        .map(|b| match b {
            0x80..=0xbf => 0,
            0xf0.. => 2,
            _ => 1,
        })
        .sum()
}

/// Writes `n` in decimal ASCII digits.
fn put_decimal(buf: &mut BytesMut, n: usize) {
    let (digits, count) = decimal_digits(n);
    buf.extend(digits[..count].iter().map(|d| b'0' + d));
}

/// The decimal digits of `n` as values 0–9, most significant first, and
/// how many there are.
pub(super) fn decimal_digits(mut n: usize) -> ([u8; 20], usize) {
    let mut digits = [0; 20];
    let mut count = 0;
    loop {
        digits[count] = (n % 10) as u8;
        count += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits[..count].reverse();
    (digits, count)
}

/// Decodes the next non-empty record of `body` from byte index `*pos`,
/// moving `*pos` past it; `None` at the end.
///
/// Fails, as the reference does, on: a record with no `:` after its length;
/// an empty length; a length that `Number` does not read as a whole number
/// ([`record_length`]); a length past the end of the body; and a record
/// that is not a packet. Also fails on a length above `max` code units
/// ([`DecodeError::RecordTooLong`]), and on a length that ends inside a
/// character outside the Basic Multilingual Plane (the reference cuts the
/// surrogate pair, delivers a packet ending in half a character, and then
/// fails on the other half).
pub(super) fn next_record(
    body: &Str,
    pos: &mut usize,
    max: usize,
) -> Option<Result<Packet, DecodeError>> {
    loop {
        let rest = body.as_bytes().get(*pos..).filter(|r| !r.is_empty())?;
        let Some(colon) = rest.iter().position(|&b| b == b':') else {
            return Some(Err(DecodeError::InvalidLength));
        };
        // `:` is ASCII, so both cuts fall on character boundaries.
        let start = *pos + colon + 1;
        let prefix = &body[*pos..start - 1];
        let record = record_length(prefix)
            .ok_or(DecodeError::InvalidLength)
            .and_then(|units| record_end(body, start, units, max));
        let end = match record {
            Ok(end) => end,
            Err(e) => return Some(Err(e)),
        };
        *pos = end;
        if end > start {
            let packet = body.slice(start, end).unwrap_or_default();
            return Some(decode_packet(packet));
        }
    }
}

/// The byte index where a record of `units` UTF-16 code units starting at
/// byte `start` ends.
fn record_end(body: &Str, start: usize, units: u64, max: usize) -> Result<usize, DecodeError> {
    let rest = &body[start..];
    // A code unit takes at least one byte: a record longer than what is
    // left is refused before anything is read.
    let units = usize::try_from(units)
        .ok()
        .filter(|&u| u <= rest.len())
        .ok_or(DecodeError::InvalidLength)?;
    if units > max {
        return Err(DecodeError::RecordTooLong { max });
    }
    let (mut counted, mut end) = (0, start);
    for (at, c) in rest.char_indices() {
        if counted >= units {
            break;
        }
        counted += c.len_utf16();
        end = start + at + c.len_utf8();
    }
    if counted == units {
        Ok(end)
    } else {
        // Past the end, or a character straddles the end.
        Err(DecodeError::InvalidLength)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &str, max: usize) -> Vec<Result<Packet, DecodeError>> {
        let body = Str::from(body);
        let (mut pos, mut out) = (0, Vec::new());
        while let Some(result) = next_record(&body, &mut pos, max) {
            let failed = result.is_err();
            out.push(result);
            if failed {
                break;
            }
        }
        out
    }

    #[test]
    fn counts_utf16_units() {
        assert_eq!(utf16_len(""), 0);
        assert_eq!(utf16_len("4é"), 2);
        assert_eq!(utf16_len("4日本語"), 4);
        assert_eq!(utf16_len("4😀"), 3);
        assert_eq!(utf16_len("a😀b🎉c"), 7);
    }

    #[test]
    fn writes_decimal() {
        for n in [0, 7, 10, 1234, usize::MAX] {
            let mut buf = BytesMut::new();
            put_decimal(&mut buf, n);
            assert_eq!(&buf[..], n.to_string().as_bytes());
        }
    }

    #[test]
    fn cuts_by_code_units() {
        assert_eq!(
            decode("3:4😀1:6", 100),
            vec![Ok(Packet::Message("😀".into())), Ok(Packet::Noop)]
        );
        assert_eq!(decode("2:4😀", 100), vec![Err(DecodeError::InvalidLength)]);
        assert_eq!(decode("4:4😀", 100), vec![Err(DecodeError::InvalidLength)]);
    }

    #[test]
    fn skips_empty_records_and_stops_at_the_end() {
        assert_eq!(decode("0:0: :1:6", 100), vec![Ok(Packet::Noop)]);
        assert_eq!(decode("", 100), vec![]);
    }

    #[test]
    fn checks_the_limit_before_reading() {
        assert_eq!(
            decode("6:4hello", 6),
            vec![Ok(Packet::Message("hello".into()))]
        );
        assert_eq!(
            decode("6:4hello", 5),
            vec![Err(DecodeError::RecordTooLong { max: 5 })]
        );
        assert_eq!(decode("7:4hello", 5), vec![Err(DecodeError::InvalidLength)]);
        assert_eq!(
            decode("18446744073709551616:4", usize::MAX),
            vec![Err(DecodeError::InvalidLength)]
        );
    }
}

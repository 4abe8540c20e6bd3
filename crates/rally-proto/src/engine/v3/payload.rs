use bytes::Bytes;

use super::{binary_payload, text_payload};
use crate::engine::{Frame, Packet};
use crate::{DecodeError, Str};

/// The `Content-Type` of a text payload, as the reference writes it.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; charset=UTF-8";

/// The `Content-Type` of a binary payload, written by the server and sent by
/// a client that POSTs one.
pub const BINARY_CONTENT_TYPE: &str = "application/octet-stream";

/// Whether a protocol 3 client takes binary: it does unless its query
/// string has a non-empty `b64` parameter.
///
/// `b64` is the decoded value of that parameter (the last one when it is
/// repeated), `None` when there is none. `b64=1`, or even `b64=0`, asks for
/// base64; an empty `b64=` does not.
///
/// Ask it of the request that opens a transport (the polling handshake, the
/// WebSocket request) and keep the answer for that transport: a client
/// sends no `b64` on the polls and POSTs that follow its handshake.
///
/// ```
/// use rally_proto::engine::v3::supports_binary;
///
/// assert!(supports_binary(None));
/// assert!(supports_binary(Some("")));
/// assert!(!supports_binary(Some("1")));
/// ```
#[must_use]
pub fn supports_binary(b64: Option<&str>) -> bool {
    b64.is_none_or(str::is_empty)
}

/// The two forms of a protocol 3 polling payload (see the [module
/// documentation](super)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadForm {
    /// `<length>:<packet>` records, binary in base64 (`text/plain`).
    Text,
    /// `<0|1><length digits>\xff<data>` records (`application/octet-stream`).
    Binary,
}

impl PayloadForm {
    /// The form the server writes `frames` in: binary when one of them is
    /// binary and the client takes binary ([`supports_binary`]), text
    /// otherwise.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use rally_proto::engine::{Frame, v3::PayloadForm};
    ///
    /// let frames = [Frame::message_text("a"), Frame::Binary(Bytes::from_static(&[1]))];
    /// assert_eq!(PayloadForm::choose(&frames, true), PayloadForm::Binary);
    /// assert_eq!(PayloadForm::choose(&frames, false), PayloadForm::Text);
    /// assert_eq!(PayloadForm::choose(&frames[..1], true), PayloadForm::Text);
    /// ```
    #[must_use]
    pub fn choose(frames: &[Frame], supports_binary: bool) -> Self {
        if supports_binary && frames.iter().any(|f| matches!(f, Frame::Binary(_))) {
            Self::Binary
        } else {
            Self::Text
        }
    }

    /// The form of a POSTed body, from its `Content-Type` header: binary
    /// when the header is exactly `application/octet-stream`, text
    /// otherwise (no header included).
    #[must_use]
    pub fn of_request(content_type: Option<&[u8]>) -> Self {
        if content_type == Some(BINARY_CONTENT_TYPE.as_bytes()) {
            Self::Binary
        } else {
            Self::Text
        }
    }

    /// The `Content-Type` of a response in this form.
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Text => TEXT_CONTENT_TYPE,
            Self::Binary => BINARY_CONTENT_TYPE,
        }
    }

    /// Encodes `frames` in this form.
    ///
    /// The text form counts lengths in UTF-16 code units and writes a binary
    /// frame as `b4<base64>`; no frame at all is `0:`. The binary form
    /// writes a text frame as a `0` record of its UTF-8 and a binary frame as
    /// a `1` record of `\x04` and its bytes; no frame at all is no byte.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use rally_proto::engine::{Frame, v3::PayloadForm};
    ///
    /// let frames = [Frame::message_text("😀"), Frame::Binary(Bytes::from_static(&[1, 2, 3]))];
    /// assert_eq!(&PayloadForm::Text.encode(&frames)[..], "3:4😀6:b4AQID".as_bytes());
    /// assert_eq!(
    ///     &PayloadForm::Binary.encode(&frames)[..],
    ///     b"\x00\x05\xff4\xf0\x9f\x98\x80\x01\x04\xff\x04\x01\x02\x03",
    /// );
    /// ```
    #[must_use]
    pub fn encode(self, frames: &[Frame]) -> Bytes {
        match self {
            Self::Text => text_payload::encode(frames),
            Self::Binary => binary_payload::encode(frames),
        }
    }
}

/// Decodes a protocol 3 polling body in `form` (see
/// [`PayloadForm::of_request`]).
///
/// `max` bounds the length a record may announce (UTF-16 code units in the
/// text form, bytes in the binary form), checked before the record is read;
/// a body is already bounded by the server's `maxHttpBufferSize`, so that
/// bound is a natural value.
///
/// # Errors
///
/// Up front, for the whole payload: an empty text body
/// ([`DecodeError::Empty`]), a text body that is not UTF-8
/// ([`DecodeError::InvalidUtf8`]; the reference would read it with
/// replacement characters, which no client sends), and in the binary form
/// any record whose framing is wrong ([`DecodeError::InvalidLength`],
/// [`DecodeError::RecordTooLong`]). Then the decoder yields each packet
/// in order, and at the first faulty record its error, after which it
/// ends; see [`PayloadDecoder`].
///
/// ```
/// use rally_proto::engine::{v3, Message, Packet};
/// use rally_proto::DecodeError;
///
/// let form = v3::PayloadForm::of_request(None);
/// let packets: Vec<_> = v3::decode_payload(form, "6:4hello6:b4AQID".into(), 1000).unwrap().collect();
/// assert_eq!(packets, [
///     Ok(Packet::Message("hello".into())),
///     Ok(Packet::Message(Message::Binary(vec![1, 2, 3].into()))),
/// ]);
///
/// let bad: Result<Vec<_>, _> = v3::decode_payload(form, "6:4hi".into(), 1000).unwrap().collect();
/// assert_eq!(bad, Err(DecodeError::InvalidLength));
/// ```
pub fn decode_payload(
    form: PayloadForm,
    body: Bytes,
    max: usize,
) -> Result<PayloadDecoder, DecodeError> {
    let body = match form {
        PayloadForm::Text if body.is_empty() => return Err(DecodeError::Empty),
        PayloadForm::Text => Body::Text(Str::from_utf8(body)?),
        PayloadForm::Binary => {
            binary_payload::check(&body, max)?;
            Body::Binary(body)
        }
    };
    Ok(PayloadDecoder {
        body,
        pos: 0,
        max,
        done: false,
    })
}

/// The packets of a protocol 3 polling body, in order (see
/// [`decode_payload`]).
///
/// Each item is a packet, or the error of the first faulty record, which
/// ends the iteration: the reference delivers the packets before a faulty
/// record and then closes the session with a parse error. The reference's
/// server also stops at a [`Packet::Close`]: what follows it in the body is
/// neither delivered nor checked, so a caller stops iterating there. Records are
/// decoded lazily; text and binary data are slices of the body, except
/// base64, which is decoded into a new buffer.
#[derive(Debug)]
pub struct PayloadDecoder {
    body: Body,
    pos: usize,
    max: usize,
    done: bool,
}

#[derive(Debug)]
enum Body {
    Text(Str),
    Binary(Bytes),
}

impl Iterator for PayloadDecoder {
    type Item = Result<Packet, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = match &self.body {
            Body::Text(body) => text_payload::next_record(body, &mut self.pos, self.max),
            Body::Binary(body) => binary_payload::next_record(body, &mut self.pos, self.max),
        };
        self.done = !matches!(next, Some(Ok(_)));
        next
    }
}

impl std::iter::FusedIterator for PayloadDecoder {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_content_type_exactly() {
        assert_eq!(
            PayloadForm::of_request(Some(b"application/octet-stream")),
            PayloadForm::Binary
        );
        for other in [
            &b"application/octet-stream; charset=UTF-8"[..],
            b"Application/Octet-Stream",
            b"text/plain;charset=UTF-8",
        ] {
            assert_eq!(PayloadForm::of_request(Some(other)), PayloadForm::Text);
        }
        assert_eq!(PayloadForm::of_request(None), PayloadForm::Text);
        assert_eq!(
            PayloadForm::Binary.content_type(),
            "application/octet-stream"
        );
        assert_eq!(
            PayloadForm::Text.content_type(),
            "text/plain; charset=UTF-8"
        );
    }

    #[test]
    fn fails_whole_payloads_up_front() {
        let decode = |form, body: &'static [u8]| {
            decode_payload(form, Bytes::from_static(body), 100).map(|_| ())
        };
        assert_eq!(decode(PayloadForm::Text, b""), Err(DecodeError::Empty));
        assert_eq!(
            decode(PayloadForm::Text, b"2:4\xff"),
            Err(DecodeError::InvalidUtf8)
        );
        assert_eq!(decode(PayloadForm::Binary, b""), Ok(()));
        assert_eq!(
            decode(PayloadForm::Binary, b"\x00\x01\xff4\x00\x01"),
            Err(DecodeError::InvalidLength)
        );
    }

    #[test]
    fn ends_after_an_error() {
        let decoder = decode_payload(PayloadForm::Text, Bytes::from_static(b"1:41:x1:6"), 100);
        let items: Vec<_> = decoder.unwrap().collect();
        assert_eq!(
            items,
            [
                Ok(Packet::Message("".into())),
                Err(DecodeError::UnknownPacketType)
            ]
        );
    }
}

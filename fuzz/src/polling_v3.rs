//! rally-proto's Engine.IO protocol 3 polling payloads, both forms.

use bytes::Bytes;
use rally_proto::{
    DecodeError,
    engine::{
        Frame, Packet,
        v3::{PayloadForm, decode_payload},
    },
};

/// The record limit of the second decoding of each input.
const SMALL_MAX: usize = 16;

/// `polling_payload_v3`: [`decode_payload`] on any bytes, as a text payload
/// and as a binary payload.
///
/// - it fails up front only with the errors of its form (text: `Empty` for
///   no byte, `InvalidUtf8` exactly when the body is not UTF-8; binary: the
///   framing errors `InvalidLength` / `RecordTooLong`), and a record only
///   with the errors a record can have; nothing follows an error;
/// - with a record limit, it yields the same as without until a record is
///   over the limit (`RecordTooLong`);
/// - the packets that decode encode back in both forms
///   ([`PayloadForm::encode`]) to bodies that decode to the same packets
///   without error, and each encoding is a fixed point.
pub fn check_polling_payload_v3(data: &[u8]) {
    for form in [PayloadForm::Text, PayloadForm::Binary] {
        let (packets, error) = decode(form, data, usize::MAX);
        match (form, &error) {
            (_, None) => {}
            (PayloadForm::Text, Some(DecodeError::Empty)) => assert!(data.is_empty()),
            (PayloadForm::Text, Some(DecodeError::InvalidUtf8)) => {
                assert!(std::str::from_utf8(data).is_err());
            }
            (PayloadForm::Text, Some(e)) => {
                assert!(std::str::from_utf8(data).is_ok());
                assert!(
                    matches!(
                        e,
                        DecodeError::InvalidLength | DecodeError::UnknownPacketType
                    ),
                    "text form: {e:?}"
                );
            }
            (PayloadForm::Binary, Some(e)) => assert!(
                matches!(
                    e,
                    DecodeError::InvalidLength
                        | DecodeError::Empty
                        | DecodeError::InvalidUtf8
                        | DecodeError::UnknownPacketType
                ),
                "binary form: {e:?}"
            ),
        }

        let limited = decode(form, data, SMALL_MAX);
        if limited.1 == Some(DecodeError::RecordTooLong { max: SMALL_MAX }) {
            assert!(packets.starts_with(&limited.0), "{form:?}: limited prefix");
        } else {
            assert_eq!(
                limited,
                (packets.clone(), error),
                "{form:?}: limit not reached"
            );
        }

        round_trip(&packets);
    }
}

/// Decodes `data` in `form`: the packets before the first error, and that
/// error; checks that the decoder ends after an error.
fn decode(form: PayloadForm, data: &[u8], max: usize) -> (Vec<Packet>, Option<DecodeError>) {
    let mut decoder = match decode_payload(form, Bytes::copy_from_slice(data), max) {
        Ok(decoder) => decoder,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut packets = Vec::new();
    for item in decoder.by_ref() {
        match item {
            Ok(packet) => packets.push(packet),
            Err(e) => {
                assert!(decoder.next().is_none(), "an item after an error");
                return (packets, Some(e));
            }
        }
    }
    (packets, None)
}

/// Both encodings of `packets` decode to them, and re-encode to themselves.
fn round_trip(packets: &[Packet]) {
    let frames: Vec<Frame> = packets.iter().cloned().map(Frame::packet).collect();
    for form in [PayloadForm::Text, PayloadForm::Binary] {
        let body = form.encode(&frames);
        let (again, error) = decode(form, &body, usize::MAX);
        assert_eq!(error, None, "{form:?} encoding {body:?} does not decode");
        assert_eq!(again, packets, "{form:?} encoding {body:?}");
        let frames_again: Vec<Frame> = again.into_iter().map(Frame::packet).collect();
        assert_eq!(form.encode(&frames_again), body, "{form:?}: fixed point");
    }
}

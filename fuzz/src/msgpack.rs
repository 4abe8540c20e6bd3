//! rally-proto's MessagePack decoder (the Redis adapters' messages).

use rally_proto::{DecodeError, msgpack};

/// `msgpack`: [`msgpack::decode`] on any bytes never panics and fails only
/// with [`DecodeError::InvalidMsgpack`]; what decodes re-encodes to bytes
/// that decode again, to the same encoding (the encoding is a fixed point);
/// its conversion to JSON (binary parts as attachments) and back never
/// panics and encodes to bytes that decode.
pub fn check_msgpack(data: &[u8]) {
    match msgpack::decode(data) {
        Ok(value) => {
            let bytes = msgpack::encode(&value);
            let again = msgpack::decode(&bytes).expect("an encoding decodes");
            assert_eq!(
                msgpack::encode(&again),
                bytes,
                "the encoding is a fixed point"
            );
            let mut attachments = Vec::new();
            let json = value.into_json(&mut attachments);
            let back = msgpack::Value::from_json(&json, &attachments);
            msgpack::decode(&msgpack::encode(&back)).expect("a JSON round trip encodes");
        }
        Err(e) => assert_eq!(e, DecodeError::InvalidMsgpack),
    }
}

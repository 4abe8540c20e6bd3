//! rally-proto's MessagePack decoders: the Redis adapters' messages, and
//! Socket.IO packets of the MessagePack parser.

use bytes::Bytes;
use rally_proto::{
    DecodeError, Str, msgpack,
    socket::{self, Assembler, DEFAULT_MAX_ATTACHMENTS, Decoder, msgpack::Layout},
};

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

/// `msgpack_packet`: [`socket::msgpack::decode`] (the MessagePack parser) on
/// any bytes never panics; a first byte `0xf0`–`0xff` sets
/// `max_attachments` to 0–15 (else the default 10). A decoded packet is what
/// the default parser yields once assembled: its text form decodes to it
/// with the default parser, and it goes through an [`Assembler`] with its
/// attachments (placeholders and all). It encodes in every layout, the
/// encoding decodes to the same kind, namespace, id and attachments, and
/// that packet encodes to the same bytes (a fixed point: the first encoding
/// may reorder keys as JavaScript does).
pub fn check_msgpack_packet(data: &[u8]) {
    let (max, input) = match data.split_first() {
        Some((&b, rest)) if b >= 0xf0 => (usize::from(b - 0xf0), rest),
        _ => (DEFAULT_MAX_ATTACHMENTS, data),
    };
    let bytes = Bytes::copy_from_slice(input);
    let (packet, attachments) = match socket::msgpack::decode(&bytes, max) {
        Ok(decoded) => decoded,
        Err(DecodeError::TooManyAttachments { max: m }) => {
            assert_eq!(m, max);
            return;
        }
        Err(_) => return,
    };
    assert_eq!(packet.attachments, attachments.len());
    assert!(attachments.len() <= max);
    assert_eq!(packet.kind.is_binary(), !attachments.is_empty());
    assert!(packet.nsp.starts_with('/'));

    // The default parser's view of the same packet (a namespace with a
    // comma has no text form).
    if !packet.nsp.contains(',') {
        let text = packet.encode();
        let decoder = Decoder::new().max_attachments(max);
        assert_eq!(
            decoder.decode(Str::from(text.as_str())).as_ref(),
            Ok(&packet),
            "text form {text:?}"
        );
    }
    let mut assembler = Assembler::new().max_attachments(max);
    let mut done = assembler
        .push(packet.clone())
        .expect("the packet assembles");
    for a in &attachments {
        assert!(done.is_none());
        done = assembler
            .push_binary(a.clone())
            .expect("the attachments assemble");
    }
    let done = done.expect("a complete packet");
    assert_eq!((&done.packet, &done.attachments), (&packet, &attachments));

    for layout in [
        Layout::Server,
        Layout::Broadcast,
        Layout::InvalidNamespace,
        Layout::Client,
    ] {
        let encoded = socket::msgpack::encode(&packet, &attachments, layout)
            .expect("a decoded packet encodes");
        let (again, again_attachments) =
            socket::msgpack::decode(&encoded, max).expect("an encoding decodes");
        assert_eq!(
            (&again.kind, &again.nsp, again.id, again.attachments),
            (&packet.kind, &packet.nsp, packet.id, packet.attachments)
        );
        // Keys may move, and with them the order of the attachments.
        let mut sorted = attachments.clone();
        sorted.sort();
        let mut again_sorted = again_attachments.clone();
        again_sorted.sort();
        assert_eq!(again_sorted, sorted);
        let fixed = socket::msgpack::encode(&again, &again_attachments, layout)
            .expect("a decoded packet encodes");
        assert_eq!(fixed, encoded, "the encoding is a fixed point");
    }
}

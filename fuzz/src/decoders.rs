//! The pure decoders of rally-proto: no panic on any input, and the
//! invariants each one promises.

use bytes::Bytes;
use rally_proto::{
    DecodeError, Str,
    engine::{self, Frame, Message, SEPARATOR, decode_payload, encode_payload},
    socket::{
        Assembler, BinaryPacket, Decoder, Packet, PacketType, event_array, event_name,
        is_reserved_event, replace_placeholders, split_array,
    },
};
use serde_json::Value;

use crate::{Msg, is_json, is_json_ws, messages, str_of};

/// `engine_packet`: [`engine::Packet::decode_text`] on any text.
///
/// A decoded packet encodes back ([`Frame::packet`]) to the input itself, less
/// the data a close, upgrade or noop ignores, and that decodes to the same
/// packet.
pub fn check_engine_packet(data: &[u8]) {
    let text = str_of(data);
    match engine::Packet::decode_text(text.clone()) {
        Ok(packet) => {
            assert_eq!(packet.packet_type().as_digit(), text.as_bytes()[0]);
            let frame = Frame::packet(packet.clone());
            let Frame::Text(again) = &frame else {
                panic!("text packet {packet:?} encoded as a binary frame");
            };
            let expected = match packet {
                engine::Packet::Close | engine::Packet::Upgrade | engine::Packet::Noop => {
                    &text[..1]
                }
                _ => &text[..],
            };
            assert_eq!(again.as_str(), expected);
            assert_eq!(frame.len(), expected.len());
            assert_eq!(engine::Packet::decode_text(again.clone()), Ok(packet));
        }
        Err(DecodeError::Empty) => assert!(text.is_empty()),
        Err(DecodeError::UnknownPacketType) => {
            assert!(!matches!(text.as_bytes()[0], b'0'..=b'6'));
        }
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

/// Node's `Buffer.from(s, "base64")`, as rally-proto documents it (both
/// alphabets, other characters skipped, stop at the first `=`, leftover bits
/// dropped): an independent model to hold its fast path to.
fn node_base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut bits = Vec::new();
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => continue,
        };
        bits.extend((0..6).rev().map(|i| (v >> i) & 1));
    }
    for byte in bits.chunks_exact(8) {
        out.push(byte.iter().fold(0u8, |acc, b| (acc << 1) | b));
    }
    out
}

/// `polling_payload`: [`decode_payload`] on any body.
///
/// - it fails only on a body that is not UTF-8;
/// - it yields one result per record (separators + 1);
/// - a binary record decodes like Node's base64 decoder;
/// - the packets that decode encode back ([`encode_payload`]) to a body that
///   decodes to the same packets, and that encoding is a fixed point.
pub fn check_polling_payload(data: &[u8]) {
    let decoder = match decode_payload(Bytes::copy_from_slice(data)) {
        Ok(decoder) => decoder,
        Err(e) => {
            assert_eq!(e, DecodeError::InvalidUtf8);
            assert!(std::str::from_utf8(data).is_err());
            return;
        }
    };
    let results: Vec<_> = decoder.collect();
    let records: Vec<&[u8]> = data.split(|&b| b == SEPARATOR).collect();
    assert_eq!(results.len(), records.len());
    for (record, result) in records.iter().zip(&results) {
        match (record.first(), result) {
            (Some(b'b'), Ok(engine::Packet::Message(Message::Binary(bytes)))) => {
                assert_eq!(&bytes[..], node_base64(&record[1..]), "base64 {record:?}");
            }
            (Some(b'b'), other) => panic!("binary record {record:?} gave {other:?}"),
            (None, other) => assert_eq!(other, &Err(DecodeError::Empty)),
            (Some(_), other) => {
                let text = std::str::from_utf8(record).expect("a record of a UTF-8 body");
                assert_eq!(other, &engine::Packet::decode_text(Str::from(text)));
            }
        }
    }
    let packets: Vec<engine::Packet> = results.into_iter().filter_map(Result::ok).collect();
    if packets.is_empty() {
        return;
    }
    let frames: Vec<Frame> = packets.iter().cloned().map(Frame::packet).collect();
    let body = encode_payload(&frames);
    let again: Vec<engine::Packet> = decode_payload(body.clone())
        .expect("an encoded body is UTF-8")
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("encoded body {body:?} does not decode: {e}"));
    assert_eq!(again, packets, "body {body:?}");
    let frames_again: Vec<Frame> = again.into_iter().map(Frame::packet).collect();
    assert_eq!(encode_payload(&frames_again), body);
}

/// Whether the JSON text `json` (valid) has a string escape `\uD800`-`\uDFFF`,
/// which `JSON.parse` takes (a lone surrogate is fine in a JS string) and
/// `serde_json` refuses when it builds a tree.
fn has_surrogate_escape(json: &str) -> bool {
    let b = json.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if b.get(i + 1) == Some(&b'u')
                && let Some(hex) = json.get(i + 2..i + 6)
                && let Ok(n) = u16::from_str_radix(hex, 16)
                && (0xd800..=0xdfff).contains(&n)
            {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// A tree of `json` (valid JSON), or `None` where `serde_json` cannot build
/// one although `JSON.parse` can: nesting past 128, a lone surrogate escape,
/// a number out of `f64` range.
fn tree(json: &str) -> Option<Value> {
    match serde_json::from_str(json) {
        Ok(v) => Some(v),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains("recursion limit")
                    || msg.contains("number out of range")
                    || has_surrogate_escape(json),
                "serde_json refused valid JSON {json:?}: {msg}"
            );
            None
        }
    }
}

/// `socket_packet`: [`Decoder::decode`] on any text.
///
/// A decoded packet is well formed (namespace starts with `/`, attachments
/// only on binary types and within the limit, the payload a valid JSON value
/// of the right shape with no white space around it), and it encodes back
/// ([`Packet::encode`]) to text that decodes to the same packet.
pub fn check_socket_packet(data: &[u8]) {
    // The limit comes from the input too, so that small limits get tried.
    let (max, text) = match data.split_first() {
        Some((&b, rest)) if b >= 0xf0 => (usize::from(b - 0xf0), rest),
        _ => (rally_proto::socket::DEFAULT_MAX_ATTACHMENTS, data),
    };
    let decoder = Decoder::new().max_attachments(max);
    let text = str_of(text);
    let packet = match decoder.decode(text.clone()) {
        Ok(packet) => packet,
        Err(DecodeError::TooManyAttachments { max: m }) => {
            assert_eq!(m, max);
            return;
        }
        Err(_) => return,
    };
    check_packet(&decoder, &packet);
}

fn check_packet(decoder: &Decoder, packet: &Packet) {
    assert!(packet.nsp.starts_with('/'), "namespace {:?}", packet.nsp);
    if packet.kind.is_binary() {
        assert!(packet.attachments >= 1, "{packet:?}");
    } else {
        assert_eq!(packet.attachments, 0);
    }
    if let Some(data) = &packet.data {
        assert!(is_json(data), "payload is not JSON: {data:?}");
        assert_eq!(data.trim_matches(is_json_ws), &data[..], "white space kept");
        let first = data.as_bytes()[0];
        match packet.kind {
            PacketType::Connect => assert_eq!(first, b'{'),
            PacketType::Disconnect => panic!("DISCONNECT with a payload: {packet:?}"),
            PacketType::ConnectError => assert!(matches!(first, b'"' | b'{')),
            PacketType::Ack | PacketType::BinaryAck => assert_eq!(first, b'['),
            PacketType::Event | PacketType::BinaryEvent => {
                let items = split_array(data).expect("an event payload splits");
                assert!(!items.is_empty());
                match event_name(data) {
                    Ok(name) => assert!(!is_reserved_event(&name), "reserved {name:?}"),
                    // Documented: a name with a lone surrogate escape.
                    Err(_) => assert!(has_surrogate_escape(&items[0]), "no name: {data:?}"),
                }
            }
        }
    }
    let encoded = packet.encode();
    assert_eq!(
        decoder.decode(Str::from(encoded.as_str())).as_ref(),
        Ok(packet),
        "re-encoded as {encoded:?}"
    );
    assert_eq!(
        packet.to_engine_frame(),
        Frame::Text(Str::from(format!("4{encoded}")))
    );
}

/// What a JSON value of a binary packet says about attachment `count`:
/// whether every placeholder in it is an index below `count`.
fn placeholders_ok(value: &mut Value, attachments: &[Bytes]) -> bool {
    replace_placeholders(value, attachments, |b| Value::from(b.len())).is_ok()
}

/// The frames of a complete packet, fed to a fresh decoder and assembler,
/// give the same packet back.
fn check_reassembles(decoder: &Decoder, done: &BinaryPacket) {
    let frames =
        BinaryPacket::new(done.packet.clone(), done.attachments.clone()).to_engine_frames();
    let mut assembler = Assembler::new().max_attachments(usize::MAX);
    let mut out = None;
    for (i, frame) in frames.into_iter().enumerate() {
        let step = match frame {
            Frame::Text(text) => {
                assert_eq!(i, 0, "text frame after the first");
                let text = text.slice_from(1).expect("a message frame");
                let packet = decoder
                    .max_attachments(usize::MAX)
                    .decode(text.clone())
                    .unwrap_or_else(|e| panic!("own frame {text:?} does not decode: {e}"));
                assembler.push(packet)
            }
            Frame::Binary(bytes) => assembler.push_binary(bytes),
        };
        if let Some(packet) = step.unwrap_or_else(|e| panic!("own frames of {done:?} refused: {e}"))
        {
            assert!(out.is_none());
            out = Some(packet);
        }
    }
    assert_eq!(out.as_ref(), Some(done));
}

/// `socket_assembler`: a sequence of text packets and binary messages
/// ([`crate::messages`]) through a [`Decoder`] and an [`Assembler`], against
/// a model of what the assembler must do.
pub fn check_socket_assembler(data: &[u8]) {
    let decoder = Decoder::new();
    let mut assembler = Assembler::new();
    // The model: the packet waiting for attachments, and those received.
    let mut pending: Option<(Packet, Vec<Bytes>)> = None;
    for Msg { tag, payload } in messages(data) {
        if tag & 1 == 0 {
            let Ok(text) = Str::from_utf8(Bytes::copy_from_slice(payload)) else {
                continue;
            };
            let Ok(packet) = decoder.decode(text) else {
                continue;
            };
            let was_pending = pending.take().is_some();
            assert_eq!(assembler.is_pending(), was_pending);
            match assembler.push(packet.clone()) {
                Err(DecodeError::UnexpectedText) => assert!(was_pending),
                Err(e) => panic!("push {packet:?}: {e}"),
                Ok(_) if was_pending => panic!("text accepted while attachments were pending"),
                Ok(Some(done)) => {
                    assert!(!packet.kind.is_binary());
                    assert_eq!(done.packet, packet);
                    assert!(done.attachments.is_empty());
                    check_reassembles(&decoder, &done);
                }
                Ok(None) => {
                    assert!(packet.kind.is_binary());
                    pending = Some((packet, Vec::new()));
                }
            }
            assert_eq!(assembler.is_pending(), pending.is_some());
        } else {
            let bytes = Bytes::copy_from_slice(payload);
            assert_eq!(assembler.is_pending(), pending.is_some());
            let result = assembler.push_binary(bytes.clone());
            let Some((packet, mut received)) = pending.take() else {
                assert_eq!(result, Err(DecodeError::UnexpectedBinary));
                continue;
            };
            received.push(bytes);
            if received.len() < packet.attachments {
                assert_eq!(result, Ok(None));
                pending = Some((packet, received));
                assert!(assembler.is_pending());
                continue;
            }
            assert!(
                !assembler.is_pending(),
                "still pending after the last attachment"
            );
            // The model's verdict on the placeholders.
            let expected = match packet.data.as_deref() {
                None => Ok(()),
                // A placeholder needs the key `_placeholder`, spelled out or
                // escaped: without either there is none to check.
                Some(data) if !data.contains("_placeholder") && !data.contains('\\') => Ok(()),
                Some(data) => match tree(data) {
                    Some(mut value) => {
                        if placeholders_ok(&mut value, &received) {
                            Ok(())
                        } else {
                            Err(DecodeError::InvalidPlaceholder)
                        }
                    }
                    // Documented: the placeholders are checked on a
                    // serde_json tree, so what serde_json cannot build (past
                    // 128 levels; also a lone surrogate escape or a number out
                    // of f64 range, see tests/findings.rs) is refused.
                    None => Err(DecodeError::InvalidJson),
                },
            };
            match (result, expected) {
                (Ok(Some(done)), Ok(())) => {
                    assert_eq!(done.packet, packet);
                    assert_eq!(done.attachments, received);
                    check_reassembles(&decoder, &done);
                }
                (Err(got), Err(want)) if got == want => {}
                (result, expected) => panic!(
                    "{packet:?} with {} attachments: {result:?}, expected {expected:?}",
                    received.len()
                ),
            }
        }
    }
}

/// `event_args`: [`split_array`] and [`event_name`] on any text, held to
/// `serde_json`.
///
/// - `split_array` accepts exactly the JSON arrays (`InvalidPayload` when
///   the text does not start with `[`, else `InvalidJson` when it is not
///   JSON);
/// - its items are slices of the input, in order, each a JSON value without
///   white space around it, and what lies between them is `[`, `,`, `]` and
///   white space only: joined with commas and bracketed they are the input
///   less white space between items;
/// - each item is the same value as serde_json's item;
/// - `event_name` is the first item's string or `String(number)`;
/// - `event_array(name, rest)` splits back into the same name and items.
pub fn check_event_args(data: &[u8]) {
    let text = str_of(data);
    let split = split_array(&text);
    let trimmed = text.trim_start_matches(is_json_ws);
    if !trimmed.starts_with('[') {
        assert_eq!(split, Err(DecodeError::InvalidPayload));
        // Must not panic, whatever the input.
        let _ = event_name(&text);
        return;
    }
    if !is_json(&text) {
        assert_eq!(split, Err(DecodeError::InvalidJson), "{text:?}");
        let _ = event_name(&text);
        return;
    }
    let items = split.unwrap_or_else(|e| panic!("JSON array {text:?} refused: {e}"));

    // Items are slices of the input, and the gaps are separators.
    let base = text.as_ptr() as usize;
    let mut at = text.len() - trimmed.len() + 1;
    for (i, item) in items.iter().enumerate() {
        let start = item.as_ptr() as usize - base;
        assert!(
            start >= at && start + item.len() <= text.len(),
            "item {i} not in order"
        );
        let gap = &text[at..start];
        let expected_commas = usize::from(i > 0);
        assert_eq!(gap.matches(',').count(), expected_commas, "gap {gap:?}");
        assert!(
            gap.chars().all(|c| c == ',' || is_json_ws(c)),
            "gap {gap:?}"
        );
        assert!(is_json(item), "item {item:?}");
        assert_eq!(item.trim_matches(is_json_ws), &item[..]);
        at = start + item.len();
    }
    let tail = text[at..].trim_end_matches(is_json_ws);
    assert!(tail.ends_with(']'), "tail {tail:?}");
    assert!(
        tail[..tail.len() - 1].chars().all(is_json_ws),
        "tail {tail:?}"
    );
    let joined = format!(
        "[{}]",
        items
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    assert!(is_json(&joined));

    // The same values as serde_json's, where it can build a tree.
    if let Some(value) = tree(&text) {
        let Value::Array(values) = value else {
            panic!("split a non-array {text:?}");
        };
        assert_eq!(values.len(), items.len());
        for (item, value) in items.iter().zip(&values) {
            assert_eq!(tree(item).as_ref(), Some(value), "item {item:?}");
        }
        let name = event_name(&text);
        match values.first() {
            Some(Value::String(s)) => assert_eq!(name.as_deref(), Ok(s.as_str())),
            Some(Value::Number(n)) => {
                let name = name.unwrap_or_else(|e| panic!("number name {n}: {e}"));
                let f = n.as_f64().expect("a JSON number");
                assert_eq!(name.parse::<f64>().ok(), Some(f), "name {name:?} for {n}");
                if let Some(u) = n.as_u64().filter(|&u| u < 1 << 53) {
                    assert_eq!(name.as_str(), u.to_string());
                }
            }
            _ => assert_eq!(name, Err(DecodeError::InvalidPayload)),
        }
        // Building an event from a name and the other items splits back.
        if let Ok(name) = event_name(&text) {
            let rebuilt = Str::from(event_array(&name, &items[1..]));
            let again = split_array(&rebuilt).expect("an event array splits");
            assert_eq!(again.len(), items.len());
            assert_eq!(&again[1..], &items[1..]);
            assert_eq!(event_name(&rebuilt).as_deref(), Ok(&name[..]));
            assert_eq!(
                serde_json::from_str::<Value>(&again[0]).ok(),
                Some(Value::String(name.to_string()))
            );
        }
    } else {
        let _ = event_name(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_base64_model() {
        assert_eq!(node_base64(b"AQID"), [1, 2, 3]);
        assert_eq!(node_base64(b"AQ"), [1]);
        assert_eq!(node_base64(b"_-8"), [0xff, 0xef]);
        assert_eq!(node_base64(b"AQ==AQ=="), [1]);
    }

    #[test]
    fn surrogates() {
        assert!(has_surrogate_escape(r#"["\ud800"]"#));
        assert!(has_surrogate_escape(r#"["\uDFFF"]"#));
        assert!(!has_surrogate_escape(r#"["\\ud800"]"#));
        assert!(!has_surrogate_escape(r#"["\u00e9"]"#));
    }
}

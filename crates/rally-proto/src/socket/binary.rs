//! Binary attachments: placeholders in the JSON, the attachments in their own
//! binary messages after the packet.

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::{DecodeError, engine::Frame};

use super::{Packet, PacketType, packet::push_decimal};

/// The placeholder that stands for attachment `num` in a binary packet's
/// JSON: `{"_placeholder":true,"num":N}`, as the reference writes it.
///
/// ```
/// use rally_proto::socket::placeholder;
///
/// assert_eq!(placeholder(0), r#"{"_placeholder":true,"num":0}"#);
/// ```
#[must_use]
pub fn placeholder(num: usize) -> String {
    let mut out = String::with_capacity(32);
    out.push_str(r#"{"_placeholder":true,"num":"#);
    push_decimal(&mut out, num as u64);
    out.push('}');
    out
}

/// A packet together with its binary attachments, in order.
///
/// This is what [`Assembler`](super::Assembler) yields once every attachment
/// has arrived (a packet without attachments comes out with none), and what
/// a sender turns into frames with [`to_engine_frames`](Self::to_engine_frames).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryPacket {
    /// The packet; its JSON refers to the attachments by placeholders.
    pub packet: Packet,
    /// The attachments, attachment `i` for placeholder `num` `i`.
    pub attachments: Vec<Bytes>,
}

impl BinaryPacket {
    /// Pairs `packet` with `attachments`, making the packet's type and count
    /// agree with them as the reference's encoder does: with attachments an
    /// EVENT becomes a `BINARY_EVENT` and an ACK a `BINARY_ACK`; without, the
    /// binary types fall back to the plain ones. The packet's JSON must
    /// already hold the placeholders (see [`placeholder`]).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use rally_proto::{engine::Frame, socket::{BinaryPacket, Packet, PacketType, event_array, placeholder}};
    ///
    /// let data = event_array("file", &[placeholder(0)]);
    /// let packet = Packet::new(PacketType::Event, "/".into()).with_data(data.into());
    /// let frames = BinaryPacket::new(packet, vec![Bytes::from_static(&[1, 2])]).to_engine_frames();
    /// assert_eq!(frames, [
    ///     Frame::Text(r#"451-["file",{"_placeholder":true,"num":0}]"#.into()),
    ///     Frame::Binary(Bytes::from_static(&[1, 2])),
    /// ]);
    /// ```
    #[must_use]
    pub fn new(mut packet: Packet, attachments: Vec<Bytes>) -> Self {
        packet.kind = match (packet.kind, attachments.is_empty()) {
            (PacketType::Event, false) => PacketType::BinaryEvent,
            (PacketType::Ack, false) => PacketType::BinaryAck,
            (PacketType::BinaryEvent, true) => PacketType::Event,
            (PacketType::BinaryAck, true) => PacketType::Ack,
            (kind, _) => kind,
        };
        packet.attachments = attachments.len();
        Self {
            packet,
            attachments,
        }
    }

    /// The Engine.IO frames to send: the packet's text frame, then one binary
    /// frame per attachment. Encode once, clone the frames per recipient.
    #[must_use]
    pub fn to_engine_frames(&self) -> Vec<Frame> {
        let mut frames = Vec::with_capacity(1 + self.attachments.len());
        frames.push(self.packet.to_engine_frame());
        frames.extend(self.attachments.iter().cloned().map(Frame::Binary));
        frames
    }
}

/// Replaces every placeholder in `value` with `f(attachment)`, the way the
/// reference rebuilds a binary packet: any object whose `_placeholder` is
/// `true` is a placeholder, and its `num` must be the index of an attachment.
///
/// What a placeholder becomes is up to the caller: bytes as an array of
/// numbers, a base64 string, a handle into `attachments`...
///
/// ```
/// use bytes::Bytes;
/// use rally_proto::socket::replace_placeholders;
/// use serde_json::json;
///
/// let mut value = json!(["file", {"_placeholder": true, "num": 0}, {"n": [{"_placeholder": true, "num": 1}]}]);
/// let attachments = [Bytes::from_static(&[1, 2]), Bytes::from_static(&[3])];
/// replace_placeholders(&mut value, &attachments, |b| json!(b.to_vec())).unwrap();
/// assert_eq!(value, json!(["file", [1, 2], {"n": [[3]]}]));
/// ```
///
/// # Errors
///
/// [`DecodeError::InvalidPlaceholder`] when a placeholder's `num` is not the
/// index of an attachment (some placeholders may have been replaced already).
pub fn replace_placeholders(
    value: &mut Value,
    attachments: &[Bytes],
    mut f: impl FnMut(&Bytes) -> Value,
) -> Result<(), DecodeError> {
    // An explicit stack: a value built by hand may nest deeper than the stack.
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        let num = match &*value {
            Value::Object(map) => placeholder_num(map, attachments.len()),
            _ => None,
        };
        if let Some(num) = num {
            let bytes = attachments
                .get(num?)
                .ok_or(DecodeError::InvalidPlaceholder)?;
            *value = f(bytes);
            continue;
        }
        match value {
            Value::Object(map) => stack.extend(map.values_mut()),
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
    Ok(())
}

/// Checks that every placeholder in the JSON text `json` refers to one of
/// `count` attachments. Valid JSON is expected (a decoded payload).
pub(crate) fn check_placeholders(json: &str, count: usize) -> Result<(), DecodeError> {
    // Without `_placeholder`, spelled out or escaped, there is none to check.
    if !json.contains("_placeholder") && !json.contains('\\') {
        return Ok(());
    }
    let value: Value = serde_json::from_str(json).map_err(|_| DecodeError::InvalidJson)?;
    let mut stack = vec![&value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => match placeholder_num(map, count) {
                Some(num) => {
                    num?;
                }
                None => stack.extend(map.values()),
            },
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    Ok(())
}

/// `None` when `map` is not a placeholder, else the attachment index it
/// refers to, checked against `count` (a number from 0 to `count - 1`).
///
/// The reference also takes a fractional `num` within range (and then
/// yields `undefined`); here only integers are indexes.
fn placeholder_num(map: &Map<String, Value>, count: usize) -> Option<Result<usize, DecodeError>> {
    if map.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    let num = match map.get("num") {
        Some(Value::Number(n)) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }),
        _ => None,
    };
    Some(
        num.and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n < count)
            .ok_or(DecodeError::InvalidPlaceholder),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn placeholders() {
        assert_eq!(placeholder(0), r#"{"_placeholder":true,"num":0}"#);
        assert_eq!(placeholder(12), r#"{"_placeholder":true,"num":12}"#);
    }

    #[test]
    fn checks_placeholders() {
        let ok = [
            (r#"["a",{"_placeholder":true,"num":0}]"#, 1),
            (r#"["a",{"_placeholder":true,"num":1.0}]"#, 2),
            (r#"["a",{"_placeholder":true,"num":0,"x":1}]"#, 1),
            (r#"["a",{"_placeholder":false,"num":9}]"#, 1),
            (r#"["a",{"_placeholder":1,"num":9}]"#, 1),
            (
                r#"["a",{"_placeholder":true,"num":5,"_placeholder":false}]"#,
                1,
            ),
            (r#"["a",[{"b":{"_placeholder":true,"num":1}}]]"#, 2),
            (r#"["a"]"#, 0),
            (r#"["a\n"]"#, 0),
        ];
        for (json, count) in ok {
            assert_eq!(check_placeholders(json, count), Ok(()), "{json}");
        }
        let bad = [
            (r#"["a",{"_placeholder":true,"num":1}]"#, 1),
            (r#"["a",{"_placeholder":true,"num":-1}]"#, 1),
            (r#"["a",{"_placeholder":true,"num":0.5}]"#, 1),
            (r#"["a",{"_placeholder":true,"num":"0"}]"#, 1),
            (r#"["a",{"_placeholder":true}]"#, 1),
            (r#"["a",{"_pl\u0061ceholder":true,"num":3}]"#, 1),
            (r#"["a",{"b":[{"_placeholder":true,"num":2}]}]"#, 2),
            (
                r#"["a",{"_placeholder":true,"num":18446744073709551616}]"#,
                1,
            ),
        ];
        for (json, count) in bad {
            assert_eq!(
                check_placeholders(json, count),
                Err(DecodeError::InvalidPlaceholder),
                "{json}"
            );
        }
    }

    #[test]
    fn replaces_placeholders() {
        let mut value =
            json!({"a": {"_placeholder": true, "num": 0}, "b": [{"_placeholder": true, "num": 1}]});
        let attachments = [Bytes::from_static(&[1, 2]), Bytes::from_static(&[3])];
        replace_placeholders(&mut value, &attachments, |b| json!(b.len())).unwrap();
        assert_eq!(value, json!({"a": 2, "b": [1]}));

        let mut value = json!([{"_placeholder": true, "num": 2}]);
        assert_eq!(
            replace_placeholders(&mut value, &attachments, |_| Value::Null),
            Err(DecodeError::InvalidPlaceholder)
        );
    }

    #[test]
    fn replaces_in_deep_values() {
        let mut value = json!({"_placeholder": true, "num": 0});
        for _ in 0..10_000 {
            value = Value::Array(vec![value]);
        }
        replace_placeholders(&mut value, &[Bytes::new()], |_| Value::Null).unwrap();
        let mut depth = 0;
        let mut v = &value;
        while let Value::Array(items) = v {
            v = &items[0];
            depth += 1;
        }
        assert_eq!((depth, v), (10_000, &Value::Null));
        // Dropping a deep `Value` recurses; keep the test's stack safe.
        #[expect(
            clippy::mem_forget,
            reason = "a 10,000-deep Value would overflow the stack when dropped"
        )]
        std::mem::forget(value);
    }

    #[test]
    fn binary_packets_fix_their_type() {
        let event = Packet::new(PacketType::Event, "/".into()).with_data("[\"a\"]".into());
        let bin = BinaryPacket::new(event.clone(), vec![Bytes::new(), Bytes::new()]);
        assert_eq!(
            (bin.packet.kind, bin.packet.attachments),
            (PacketType::BinaryEvent, 2)
        );
        let back = BinaryPacket::new(bin.packet, vec![]);
        assert_eq!(back.packet, event);
        let ack = Packet::new(PacketType::Ack, "/".into()).with_id(1);
        assert_eq!(
            BinaryPacket::new(ack, vec![Bytes::new()]).packet.kind,
            PacketType::BinaryAck
        );
    }

    /// A binary emit over long-polling, as the reference server writes it.
    #[test]
    fn polling_body_like_the_reference() {
        let data = r#"["message-back",{"_placeholder":true,"num":0}]"#;
        let packet = Packet::new(PacketType::Event, "/".into()).with_data(data.into());
        let frames =
            BinaryPacket::new(packet, vec![Bytes::from_static(&[1, 2])]).to_engine_frames();
        assert_eq!(
            crate::engine::encode_payload(&frames),
            format!("451-{data}\x1ebAQI=").as_bytes()
        );
    }

    /// What the reference server sends for an emit with buffers.
    #[test]
    fn frames_like_the_reference() {
        let data =
            r#"["x",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1}]}]"#;
        let packet = Packet::new(PacketType::Event, "/".into()).with_data(data.into());
        let frames = BinaryPacket::new(
            packet,
            vec![Bytes::from_static(b"\x01\x02"), Bytes::from_static(b"\x03")],
        )
        .to_engine_frames();
        assert_eq!(
            frames,
            [
                Frame::Text(format!("452-{data}").into()),
                Frame::Binary(Bytes::from_static(b"\x01\x02")),
                Frame::Binary(Bytes::from_static(b"\x03")),
            ]
        );
        let data =
            crate::socket::event_array("y", &[placeholder(0), "\"str\"".into(), placeholder(1)]);
        let packet = Packet::new(PacketType::Event, "/".into()).with_data(data.into());
        let frames = BinaryPacket::new(
            packet,
            vec![Bytes::from_static(b"\x09"), Bytes::from_static(b"\x07\x08")],
        )
        .to_engine_frames();
        assert_eq!(
            frames[0],
            Frame::Text(
                r#"452-["y",{"_placeholder":true,"num":0},"str",{"_placeholder":true,"num":1}]"#
                    .into()
            )
        );
    }
}

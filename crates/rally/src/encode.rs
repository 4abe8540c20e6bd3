//! Outgoing Socket.IO packets, encoded once into Engine.IO frames.

use bytes::Bytes;
use rally_proto::{
    engine::Frame,
    socket::{PacketType, event_array, frame_of},
};

use crate::Args;

/// A packet encoded once: its text frame and its binary attachments, each
/// shared by reference with every recipient.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    pub(crate) text: Frame,
    pub(crate) attachments: Vec<Bytes>,
}

impl Encoded {
    /// An EVENT (a BINARY_EVENT when `args` carry attachments).
    pub(crate) fn event(nsp: &str, id: Option<u64>, event: &str, args: &Args) -> Self {
        let escaped;
        let name: [&str; 3] = if needs_escape(event) {
            escaped = event_array::<&str>(event, &[]);
            // `["name"]` without its brackets.
            [
                "",
                escaped.get(1..escaped.len() - 1).unwrap_or_default(),
                "",
            ]
        } else {
            ["\"", event, "\""]
        };
        let [open, name, close] = name;
        if args.is_empty() {
            Self::new(
                PacketType::Event,
                nsp,
                id,
                &["[", open, name, close, "]"],
                args,
            )
        } else {
            let data = ["[", open, name, close, ",", args.json(), "]"];
            Self::new(PacketType::Event, nsp, id, &data, args)
        }
    }

    /// An ACK (a BINARY_ACK when `args` carry attachments).
    pub(crate) fn ack(nsp: &str, id: u64, args: &Args) -> Self {
        Self::new(
            PacketType::Ack,
            nsp,
            Some(id),
            &["[", args.json(), "]"],
            args,
        )
    }

    /// A CONNECT, DISCONNECT or CONNECT_ERROR, with an optional JSON payload.
    pub(crate) fn control(kind: PacketType, nsp: &str, payload: Option<&str>) -> Self {
        let data = payload.as_slice();
        Self {
            text: frame_of(kind, nsp, None, 0, data),
            attachments: Vec::new(),
        }
    }

    /// The frames of a packet of `kind` whose data is the pieces `data`,
    /// made binary when `args` carry attachments; written in one buffer.
    fn new(kind: PacketType, nsp: &str, id: Option<u64>, data: &[&str], args: &Args) -> Self {
        let attachments = args.attachments();
        let kind = match (kind, attachments.is_empty()) {
            (PacketType::Event, false) => PacketType::BinaryEvent,
            (PacketType::Ack, false) => PacketType::BinaryAck,
            (kind, _) => kind,
        };
        Self {
            text: frame_of(kind, nsp, id, attachments.len(), data),
            attachments: attachments.to_vec(),
        }
    }

    /// All the frames, text first.
    pub(crate) fn frames(&self) -> impl Iterator<Item = Frame> + '_ {
        std::iter::once(self.text.clone())
            .chain(self.attachments.iter().map(|b| Frame::Binary(b.clone())))
    }
}

/// Whether `s` needs escapes as a JSON string (`"`, `\` or a control
/// character).
fn needs_escape(s: &str) -> bool {
    s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(e: &Encoded) -> &str {
        match &e.text {
            Frame::Text(s) => s.as_str(),
            Frame::Binary(_) => "",
        }
    }

    #[test]
    fn encodes_like_the_reference() {
        assert_eq!(
            text(&Encoded::event("/", None, "q", &Args::from(&1))),
            r#"42["q",1]"#
        );
        assert_eq!(
            text(&Encoded::event("/custom", Some(0), "q", &Args::from(&"c"))),
            r#"42/custom,0["q","c"]"#
        );
        let bin = Args::new().arg(&"s").binary(vec![9]);
        let e = Encoded::event("/", None, "y", &bin);
        assert_eq!(text(&e), r#"451-["y","s",{"_placeholder":true,"num":0}]"#);
        assert_eq!(e.frames().count(), 2);
        assert_eq!(text(&Encoded::ack("/", 5, &Args::from(&1))), "435[1]");
        assert_eq!(
            text(&Encoded::ack("/custom", 3, &Args::from(&"c"))),
            r#"43/custom,3["c"]"#
        );
        assert_eq!(text(&Encoded::ack("/", 1, &Args::new())), "431[]");
        assert_eq!(
            text(&Encoded::control(
                PacketType::Connect,
                "/admin",
                Some(r#"{"sid":"x"}"#)
            )),
            r#"40/admin,{"sid":"x"}"#
        );
        assert_eq!(
            text(&Encoded::control(PacketType::Disconnect, "/", None)),
            "41"
        );
        assert_eq!(
            text(&Encoded::event("/", None, "a\"b", &Args::new())),
            r#"42["a\"b"]"#
        );
    }
}

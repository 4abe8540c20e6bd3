//! Outgoing Socket.IO packets, encoded once into Engine.IO frames.
//!
//! A packet is first written for the default parser (a text frame and its
//! attachments): that is the form the recovery log keeps and measures. A
//! server with the MessagePack parser sends the packet's MessagePack form
//! instead, made from the first on first use and kept beside it, so that a
//! broadcast is encoded once for its parser however many sockets get it.

use std::sync::OnceLock;

use bytes::Bytes;
use rally_proto::{
    Str,
    engine::Frame,
    socket::{Decoder, PacketType, Parser, event_array, frame_of, msgpack},
};

use crate::Args;

/// A packet encoded once: its text frame and its binary attachments, each
/// shared by reference with every recipient, and (for the MessagePack
/// parser) its MessagePack frame.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    pub(crate) text: Frame,
    pub(crate) attachments: Vec<Bytes>,
    /// The MessagePack form, made on first use; `None` inside when the
    /// packet cannot be written in it (JSON nested deeper than the parser
    /// allows).
    packed: OnceLock<Option<Frame>>,
    /// Which of the reference's code paths the MessagePack map's field
    /// order follows.
    layout: msgpack::Layout,
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
        Self::from_parts(frame_of(kind, nsp, None, 0, data), Vec::new())
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
        Self::from_parts(
            frame_of(kind, nsp, id, attachments.len(), data),
            attachments.to_vec(),
        )
    }

    fn from_parts(text: Frame, attachments: Vec<Bytes>) -> Self {
        Self {
            text,
            attachments,
            packed: OnceLock::new(),
            layout: msgpack::Layout::Server,
        }
    }

    /// The same packet sent as a broadcast (the reference's adapter writes
    /// its MessagePack fields in another order than a socket does).
    pub(crate) fn broadcast(mut self) -> Self {
        self.layout = msgpack::Layout::Broadcast;
        self
    }

    /// The same packet as the reference's refusal of an unknown namespace.
    pub(crate) fn invalid_namespace(mut self) -> Self {
        self.layout = msgpack::Layout::InvalidNamespace;
        self
    }

    /// The frames a client of `parser` gets: for the default parser the
    /// text frame then the attachments; for MessagePack one binary frame
    /// (none when the packet cannot be written in MessagePack).
    pub(crate) fn frames(&self, parser: Parser) -> impl Iterator<Item = Frame> + '_ {
        let (first, attachments) = match parser {
            Parser::MsgPack => (self.packed().cloned(), &[][..]),
            _ => (Some(self.text.clone()), &self.attachments[..]),
        };
        first
            .into_iter()
            .chain(attachments.iter().map(|b| Frame::Binary(b.clone())))
    }

    /// [`frames`](Self::frames) for a packet with one recipient: the text
    /// frame and the attachments are moved out, not shared (sharing the
    /// bytes of a frame costs an allocation for their count).
    pub(crate) fn into_frames(self, parser: Parser) -> impl Iterator<Item = Frame> {
        let (first, attachments) = match parser {
            Parser::MsgPack => (self.packed().cloned(), Vec::new()),
            _ => (Some(self.text), self.attachments),
        };
        first
            .into_iter()
            .chain(attachments.into_iter().map(Frame::Binary))
    }

    /// The MessagePack frame, made once.
    fn packed(&self) -> Option<&Frame> {
        self.packed
            .get_or_init(|| {
                let packed = self.to_msgpack();
                if packed.is_none() {
                    tracing::warn!(
                        "a packet too deeply nested for the MessagePack parser: dropped"
                    );
                }
                packed
            })
            .as_ref()
    }

    /// Reads the packet back from its text frame (written by this module,
    /// so it decodes) and writes it as `socket.io-msgpack-parser` would.
    fn to_msgpack(&self) -> Option<Frame> {
        let Frame::Text(text) = &self.text else {
            return None;
        };
        // The Socket.IO packet follows the Engine.IO message digit.
        let packet = Decoder::new()
            .max_attachments(usize::MAX)
            .decode(text.slice_from(1).unwrap_or_else(Str::default))
            .ok()?;
        msgpack::encode(&packet, &self.attachments, self.layout)
            .ok()
            .map(Frame::Binary)
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
        assert_eq!(e.frames(Parser::Json).count(), 2);
        assert_eq!(e.frames(Parser::MsgPack).count(), 1);
        assert_eq!(
            e.clone().into_frames(Parser::Json).collect::<Vec<_>>(),
            e.frames(Parser::Json).collect::<Vec<_>>()
        );
        assert_eq!(
            e.clone().into_frames(Parser::MsgPack).collect::<Vec<_>>(),
            e.frames(Parser::MsgPack).collect::<Vec<_>>()
        );
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

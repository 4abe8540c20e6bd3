//! Outgoing Socket.IO packets, encoded once into Engine.IO frames.

use bytes::Bytes;
use rally_proto::{
    Str,
    engine::Frame,
    socket::{BinaryPacket, Packet, PacketType, event_array},
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
        let data = if args.is_empty() {
            event_array::<&str>(event, &[])
        } else {
            event_array(event, &[args.json()])
        };
        Self::new(PacketType::Event, nsp, id, Some(data), args.attachments())
    }

    /// An ACK (a BINARY_ACK when `args` carry attachments).
    pub(crate) fn ack(nsp: &str, id: u64, args: &Args) -> Self {
        let data = format!("[{}]", args.json());
        Self::new(
            PacketType::Ack,
            nsp,
            Some(id),
            Some(data),
            args.attachments(),
        )
    }

    /// A CONNECT, DISCONNECT or CONNECT_ERROR, with an optional JSON payload.
    pub(crate) fn control(kind: PacketType, nsp: &str, payload: Option<&str>) -> Self {
        Self::new(kind, nsp, None, payload.map(str::to_owned), &[])
    }

    fn new(
        kind: PacketType,
        nsp: &str,
        id: Option<u64>,
        data: Option<String>,
        attachments: &[Bytes],
    ) -> Self {
        let mut packet = Packet::new(kind, Str::from(nsp));
        packet.id = id;
        packet.data = data.map(Str::from);
        let BinaryPacket {
            packet,
            attachments,
        } = BinaryPacket::new(packet, attachments.to_vec());
        Self {
            text: packet.to_engine_frame(),
            attachments,
        }
    }

    /// All the frames, text first.
    pub(crate) fn frames(&self) -> impl Iterator<Item = Frame> + '_ {
        std::iter::once(self.text.clone())
            .chain(self.attachments.iter().map(|b| Frame::Binary(b.clone())))
    }
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

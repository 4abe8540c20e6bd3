//! Encoding outgoing Socket.IO packets once into Engine.IO frames.

use bytes::Bytes;
use rally_proto::{Str, engine::Frame};

use crate::Args;

/// A packet encoded once: its text frame and its binary attachments, each
/// shared by reference with every recipient.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    pub(crate) text: Frame,
    pub(crate) attachments: Vec<Bytes>,
}

impl Encoded {
    /// An EVENT (or BINARY_EVENT) packet.
    pub(crate) fn event(nsp: &str, id: Option<u64>, event: &str, args: &Args) -> Self {
        let mut out = header(
            b'2',
            nsp,
            id,
            args.attachments().len(),
            event.len() + args.json().len() + 4,
        );
        out.push('[');
        push_json_string(&mut out, event);
        if !args.is_empty() {
            out.push(',');
            out.push_str(args.json());
        }
        out.push(']');
        Self::finish(out, args)
    }

    /// An ACK (or BINARY_ACK) packet.
    pub(crate) fn ack(nsp: &str, id: u64, args: &Args) -> Self {
        let mut out = header(
            b'3',
            nsp,
            Some(id),
            args.attachments().len(),
            args.json().len() + 2,
        );
        out.push('[');
        out.push_str(args.json());
        out.push(']');
        Self::finish(out, args)
    }

    /// A packet without attachments: CONNECT (`0`), DISCONNECT (`1`) or
    /// CONNECT_ERROR (`4`), with an optional JSON payload.
    pub(crate) fn control(kind: u8, nsp: &str, payload: Option<&str>) -> Self {
        let mut out = header(kind, nsp, None, 0, payload.map_or(0, str::len));
        if let Some(payload) = payload {
            out.push_str(payload);
        }
        Self {
            text: Frame::Text(Str::from(out)),
            attachments: Vec::new(),
        }
    }

    fn finish(out: String, args: &Args) -> Self {
        Self {
            text: Frame::Text(Str::from(out)),
            attachments: args.attachments().to_vec(),
        }
    }

    /// All the frames, text first.
    pub(crate) fn frames(&self) -> impl Iterator<Item = Frame> + '_ {
        std::iter::once(self.text.clone())
            .chain(self.attachments.iter().map(|b| Frame::Binary(b.clone())))
    }
}

/// `4<type>[<n>-][<nsp>,][<id>]`: the Engine.IO message digit, then the
/// Socket.IO header. A packet with attachments takes the binary type.
fn header(kind: u8, nsp: &str, id: Option<u64>, attachments: usize, extra: usize) -> String {
    let mut out = String::with_capacity(nsp.len() + extra + 24);
    out.push('4');
    let kind = match (kind, attachments) {
        (b'2', 1..) => b'5',
        (b'3', 1..) => b'6',
        (kind, _) => kind,
    };
    out.push(char::from(kind));
    if attachments > 0 {
        out.push_str(&attachments.to_string());
        out.push('-');
    }
    if nsp != "/" {
        out.push_str(nsp);
        out.push(',');
    }
    if let Some(id) = id {
        out.push_str(&id.to_string());
    }
    out
}

/// Appends `s` as a JSON string literal.
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(s).unwrap_or_default());
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
        assert_eq!(
            text(&Encoded::control(b'0', "/admin", Some(r#"{"sid":"x"}"#))),
            r#"40/admin,{"sid":"x"}"#
        );
        assert_eq!(text(&Encoded::control(b'1', "/", None)), "41");
        assert_eq!(
            text(&Encoded::event("/", None, "a\"b", &Args::new())),
            r#"42["a\"b"]"#
        );
    }
}

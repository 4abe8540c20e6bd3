//! The messages nodes exchange to forward requests, in a small binary
//! form: a kind byte, the sender's tag, then the kind's fields (lengths
//! little-endian; a body runs to the end of the message).

use bytes::{BufMut, Bytes, BytesMut};

use crate::NodeTag;

const HELLO: u8 = 0;
const BYE: u8 = 1;
const REQUEST: u8 = 2;
const RESPONSE: u8 = 3;
const CANCEL: u8 = 4;
const TUNNEL_OPEN: u8 = 5;
const TUNNEL_REPLY: u8 = 6;
const TO_OWNER: u8 = 7;
const TO_ASKER: u8 = 8;
const END_TO_OWNER: u8 = 9;
const END_TO_ASKER: u8 = 10;

/// An HTTP request or reply as it crosses the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Http {
    /// The method (requests) or the status (replies).
    pub(crate) head: String,
    /// The path and query (requests); empty for replies.
    pub(crate) uri: String,
    /// The client's address, when known (requests).
    pub(crate) remote: Option<String>,
    pub(crate) headers: Vec<(String, Bytes)>,
    pub(crate) body: Bytes,
}

/// One message on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    /// The sender is alive (sent to every node, and to a node first heard).
    Hello(NodeTag),
    /// The sender is stopping.
    Bye(NodeTag),
    /// A request for a session of the receiver, numbered by the sender.
    Request(NodeTag, u64, Http),
    /// The reply to request `id` of the receiver.
    Response(NodeTag, u64, Http),
    /// The asking client went away: drop request `id`.
    Cancel(NodeTag, u64),
    /// A WebSocket request for a session of the receiver, to be relayed
    /// through tunnel `id` of the sender.
    TunnelOpen(NodeTag, u64, Http),
    /// The owner's reply to tunnel `id`'s request (101 when it relays).
    TunnelReply(NodeTag, u64, Http),
    /// Bytes of the client's connection for the owner, on tunnel `id` of
    /// the sender.
    ToOwner(NodeTag, u64, Bytes),
    /// Bytes of the owner for the client, on tunnel `id` of the receiver.
    ToAsker(NodeTag, u64, Bytes),
    /// The client's connection ended (tunnel `id` of the sender).
    EndToOwner(NodeTag, u64),
    /// The owner's end ended (tunnel `id` of the receiver).
    EndToAsker(NodeTag, u64),
}

fn put_str(out: &mut BytesMut, s: &[u8]) {
    out.put_u32_le(u32::try_from(s.len()).unwrap_or(u32::MAX));
    out.put_slice(s);
}

fn put_http(out: &mut BytesMut, http: &Http) {
    put_str(out, http.head.as_bytes());
    put_str(out, http.uri.as_bytes());
    put_str(out, http.remote.as_deref().unwrap_or_default().as_bytes());
    out.put_u32_le(u32::try_from(http.headers.len()).unwrap_or(u32::MAX));
    for (name, value) in &http.headers {
        put_str(out, name.as_bytes());
        put_str(out, value);
    }
    out.put_slice(&http.body);
}

impl Message {
    /// The message's bytes.
    pub(crate) fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(64);
        let (kind, from, id, http) = match self {
            Self::Hello(from) => (HELLO, from, None, None),
            Self::Bye(from) => (BYE, from, None, None),
            Self::Request(from, id, http) => (REQUEST, from, Some(id), Some(http)),
            Self::Response(from, id, http) => (RESPONSE, from, Some(id), Some(http)),
            Self::Cancel(from, id) => (CANCEL, from, Some(id), None),
            Self::TunnelOpen(from, id, http) => (TUNNEL_OPEN, from, Some(id), Some(http)),
            Self::TunnelReply(from, id, http) => (TUNNEL_REPLY, from, Some(id), Some(http)),
            Self::EndToOwner(from, id) => (END_TO_OWNER, from, Some(id), None),
            Self::EndToAsker(from, id) => (END_TO_ASKER, from, Some(id), None),
            Self::ToOwner(from, id, bytes) | Self::ToAsker(from, id, bytes) => {
                let kind = if matches!(self, Self::ToOwner(..)) {
                    TO_OWNER
                } else {
                    TO_ASKER
                };
                out.reserve(13 + bytes.len());
                out.put_u8(kind);
                out.put_slice(from.as_str().as_bytes());
                out.put_u64_le(*id);
                out.put_slice(bytes);
                return out.freeze();
            }
        };
        out.put_u8(kind);
        out.put_slice(from.as_str().as_bytes());
        if let Some(id) = id {
            out.put_u64_le(*id);
        }
        if let Some(http) = http {
            put_http(&mut out, http);
        }
        out.freeze()
    }

    /// Reads a message; `None` for bytes that are not one.
    pub(crate) fn decode(mut bytes: Bytes) -> Option<Self> {
        let mut r = Reader(&mut bytes);
        let kind = r.take(1)?[0];
        let from = NodeTag::parse(&r.take(4)?)?;
        Some(match kind {
            HELLO => Self::Hello(from),
            BYE => Self::Bye(from),
            REQUEST => Self::Request(from, r.u64()?, r.http()?),
            RESPONSE => Self::Response(from, r.u64()?, r.http()?),
            CANCEL => Self::Cancel(from, r.u64()?),
            TUNNEL_OPEN => Self::TunnelOpen(from, r.u64()?, r.http()?),
            TUNNEL_REPLY => Self::TunnelReply(from, r.u64()?, r.http()?),
            TO_OWNER => Self::ToOwner(from, r.u64()?, std::mem::take(r.0)),
            TO_ASKER => Self::ToAsker(from, r.u64()?, std::mem::take(r.0)),
            END_TO_OWNER => Self::EndToOwner(from, r.u64()?),
            END_TO_ASKER => Self::EndToAsker(from, r.u64()?),
            _ => return None,
        })
    }
}

/// Takes fields off the front of a message.
struct Reader<'a>(&'a mut Bytes);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<Bytes> {
        (self.0.len() >= n).then(|| self.0.split_to(n))
    }

    fn u32(&mut self) -> Option<usize> {
        let b = self.take(4)?;
        usize::try_from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])).ok()
    }

    fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        Some(u64::from_le_bytes(b.as_ref().try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<Bytes> {
        let n = self.u32()?;
        self.take(n)
    }

    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }

    fn http(&mut self) -> Option<Http> {
        let head = self.string()?;
        let uri = self.string()?;
        let remote = Some(self.string()?).filter(|r| !r.is_empty());
        let count = self.u32()?;
        // Each header takes at least 8 bytes: a count past that is a lie.
        if count > self.0.len() / 8 {
            return None;
        }
        let mut headers = Vec::with_capacity(count);
        for _ in 0..count {
            headers.push((self.string()?, self.bytes()?));
        }
        let body = std::mem::take(self.0);
        Some(Http {
            head,
            uri,
            remote,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_garbage_is_refused() {
        let tag = NodeTag::parse(b"ab-_").unwrap();
        let http = Http {
            head: "POST".into(),
            uri: "/socket.io/?EIO=4&transport=polling&sid=x".into(),
            remote: Some("127.0.0.1:5000".into()),
            headers: vec![("content-type".into(), Bytes::from_static(b"text/plain"))],
            body: Bytes::from_static(b"4hello"),
        };
        for message in [
            Message::Hello(tag),
            Message::Bye(tag),
            Message::Request(tag, 7, http.clone()),
            Message::Response(
                tag,
                u64::MAX,
                Http {
                    remote: None,
                    ..http.clone()
                },
            ),
            Message::Cancel(tag, 1),
            Message::TunnelOpen(tag, 2, http.clone()),
            Message::TunnelReply(tag, 2, http),
            Message::ToOwner(tag, 3, Bytes::from_static(b"\x81\x01a")),
            Message::ToAsker(tag, 3, Bytes::new()),
            Message::EndToOwner(tag, 4),
            Message::EndToAsker(tag, 4),
        ] {
            let bytes = message.encode();
            assert_eq!(Message::decode(bytes.clone()), Some(message));
            // Every truncation but the body's is refused, never a panic.
            for cut in 0..bytes.len() {
                let _ = Message::decode(bytes.slice(..cut));
            }
        }
        assert_eq!(Message::decode(Bytes::from_static(b"\x09abcd")), None);
        assert_eq!(Message::decode(Bytes::from_static(b"\x00ab")), None);
        assert_eq!(
            Message::decode(Bytes::from_static(
                b"\x02abcd\x01\0\0\0\0\0\0\0\xff\xff\xff\xff"
            )),
            None
        );
    }
}

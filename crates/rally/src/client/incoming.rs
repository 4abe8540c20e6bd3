//! What the client sends: Engine.IO messages decoded into Socket.IO packets,
//! and each packet handed to its namespace's socket.

use std::sync::Arc;

use bytes::Bytes;
use rally_engine::{CloseReason, Message};
use rally_proto::{
    RawArgs, Str,
    socket::{BinaryPacket, Decoder, Packet, PacketType, Parser, event_name, msgpack, split_array},
};

use super::Client;
use crate::{AckReply, DisconnectReason, Event, event::AckSender};

impl Client {
    /// A message from the Engine.IO session.
    pub(crate) fn on_message(self: &Arc<Self>, message: Message) {
        let result = match (self.server.config.parser, message) {
            (Parser::MsgPack, Message::Binary(bytes)) => self.on_packed(&bytes),
            // The reference's MessagePack decoder refuses text.
            (Parser::MsgPack, Message::Text(_)) => Err("a text message for the MessagePack parser"),
            (_, Message::Text(text)) => self.on_text(text),
            (_, Message::Binary(bytes)) => self.on_binary(bytes),
        };
        if let Err(why) = result {
            tracing::debug!(sid = %self.sid, why, "invalid packet: closing");
            // The reference closes the connection (`forced close`).
            self.close(CloseReason::ForcedClose);
        }
    }

    fn on_text(self: &Arc<Self>, text: Str) -> Result<(), &'static str> {
        let decoder = Decoder::new().max_attachments(self.server.config.max_attachments);
        // The items of an event's or ack's array come out of the one pass
        // that validates it.
        let (packet, items) = decoder
            .decode_split(text)
            .map_err(|_| "undecodable packet")?;
        let complete = self
            .lock(&self.assembler)
            .push(packet)
            .map_err(|_| "bad binary packet")?;
        complete.map_or(Ok(()), |packet| self.on_packet(packet, items))
    }

    fn on_binary(self: &Arc<Self>, bytes: Bytes) -> Result<(), &'static str> {
        let complete = self
            .lock(&self.assembler)
            .push_binary(bytes)
            .map_err(|_| "unexpected attachment")?;
        complete.map_or(Ok(()), |packet| self.on_packet(packet, None))
    }

    /// A packet of the MessagePack parser: one message, binary inside.
    fn on_packed(self: &Arc<Self>, bytes: &Bytes) -> Result<(), &'static str> {
        let (packet, attachments) = msgpack::decode(bytes, self.server.config.max_attachments)
            .map_err(|_| "undecodable MessagePack packet")?;
        self.on_packet(
            BinaryPacket {
                packet,
                attachments,
            },
            None,
        )
    }

    /// A complete packet; `items`: its payload's array items when the
    /// decoder found them already (else they are read from the payload).
    fn on_packet(
        self: &Arc<Self>,
        complete: BinaryPacket,
        items: Option<Vec<Str>>,
    ) -> Result<(), &'static str> {
        let BinaryPacket {
            mut packet,
            attachments,
        } = complete;
        if self.is_v2() {
            v2_namespace(&mut packet);
        }
        let nsp = packet.nsp.as_str();
        if packet.kind == PacketType::Connect {
            return self.on_connect(packet);
        }
        let socket = self
            .lock(&self.sockets)
            .iter()
            .rev()
            .find(|s| s.ns().name() == nsp)
            .cloned();
        let Some(socket) = socket else {
            return Err("packet for a namespace not joined");
        };
        match packet.kind {
            PacketType::Disconnect => {
                socket.leave_namespace(DisconnectReason::ClientNamespaceDisconnect, false);
                Ok(())
            }
            PacketType::Event | PacketType::BinaryEvent => {
                let (name, args) = match &packet.data {
                    Some(data) => {
                        let name = event_name(data).map_err(|_| "bad event name")?;
                        let mut args = match items {
                            Some(items) => items,
                            None => split_array(data).map_err(|_| "bad event")?,
                        };
                        if !args.is_empty() {
                            args.remove(0);
                        }
                        (name, args)
                    }
                    // The reference takes `2` alone as an event without a name.
                    None => (Str::default(), Vec::new()),
                };
                let ack = packet.id.map(|id| AckSender {
                    socket: socket.clone(),
                    id,
                    answered: None,
                });
                let event = Event {
                    name,
                    raw: RawArgs::new(args, attachments),
                    ack,
                };
                socket.ns().dispatch(&socket, event);
                Ok(())
            }
            PacketType::Ack | PacketType::BinaryAck => {
                if let Some(id) = packet.id {
                    let args = match (items, &packet.data) {
                        (Some(items), _) => items,
                        (None, Some(data)) => split_array(data).map_err(|_| "bad ack")?,
                        (None, None) => Vec::new(),
                    };
                    socket.on_ack(
                        id,
                        AckReply {
                            raw: RawArgs::new(args, attachments),
                        },
                    );
                }
                Ok(())
            }
            _ => Err("unexpected packet type from a client"),
        }
    }
}

/// Socket.IO protocol 4 names a namespace with its query string
/// (`/admin?token=x`): the namespace is the path, and a CONNECT's auth is
/// the query as an object of strings (the client sends no other auth), as
/// the reference reads them.
fn v2_namespace(packet: &mut Packet) {
    let (path, query) = match packet.nsp.as_str().split_once('?') {
        Some((path, query)) => (Some(path), query),
        None => (None, ""),
    };
    if packet.kind == PacketType::Connect {
        let mut auth = serde_json::Map::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            auth.insert(
                form_decode(key),
                serde_json::Value::String(form_decode(value)),
            );
        }
        packet.data = Some(Str::from(serde_json::Value::Object(auth).to_string()));
    }
    if let Some(path) = path {
        let path = if path.is_empty() { "/" } else { path };
        packet.nsp = Str::from(path.to_owned());
    }
}

/// A query component as a form decodes it: `+` is a space, `%XX` a byte,
/// invalid UTF-8 replaced.
fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(byte) = hex {
                    out.push(byte);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(nsp: &str) -> Packet {
        let mut packet = Packet::new(PacketType::Connect, Str::from(nsp.to_owned()));
        v2_namespace(&mut packet);
        packet
    }

    #[test]
    fn a_v2_namespace_query_is_its_auth() {
        let packet = connect("/admin?token=a%20b&x=1+2&flag&x=3");
        assert_eq!(packet.nsp.as_str(), "/admin");
        let auth: serde_json::Value =
            serde_json::from_str(packet.data.as_deref().expect("auth")).expect("json");
        assert_eq!(
            auth,
            serde_json::json!({"token": "a b", "x": "3", "flag": ""})
        );
        let packet = connect("/chat");
        assert_eq!(
            (packet.nsp.as_str(), packet.data.as_deref()),
            ("/chat", Some("{}"))
        );
        let mut event = Packet::new(PacketType::Event, Str::from_static("/chat?x=1"));
        v2_namespace(&mut event);
        assert_eq!((event.nsp.as_str(), event.data), ("/chat", None));
        assert_eq!(form_decode("%zz%4"), "%zz%4");
    }
}

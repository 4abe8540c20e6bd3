//! The pieces every engine's messages share (@socket.io/redis-adapter's
//! flavours, the streams and Postgres adapters): packets, broadcast options,
//! socket descriptions, and reading a payload that is JSON or MessagePack.

use std::{
    hash::{BuildHasher, RandomState},
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use bytes::Bytes;
use rally::{
    AckReply, Args, Room, Sid,
    adapter::{BroadcastOptions, BroadcastPacket, SocketInfo},
};
use rally_proto::msgpack;
use serde_json::{Value, json};

/// A message received from another node: its JSON tree (binary turned into
/// placeholders) and the binary parts the placeholders point at.
#[derive(Debug)]
pub struct Incoming {
    /// The message, binary parts replaced by placeholders.
    pub json: Value,
    /// The binary parts.
    pub attachments: Vec<Bytes>,
}

impl Incoming {
    /// Reads JSON when the payload starts with `{`, MessagePack otherwise,
    /// as the reference does. `None` for anything malformed.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        if payload.first() == Some(&b'{') {
            let json = serde_json::from_slice(payload).ok()?;
            return Some(Self {
                json,
                attachments: Vec::new(),
            });
        }
        let mut attachments = Vec::new();
        let json = msgpack::decode(payload).ok()?.into_json(&mut attachments);
        Some(Self { json, attachments })
    }

    /// Field `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.json.get(key)
    }

    /// Field `key`, when it is a string.
    #[must_use]
    pub fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// Field `type`, when it is a non-negative integer.
    #[must_use]
    pub fn kind(&self) -> Option<u64> {
        self.get("type").and_then(Value::as_u64)
    }
}

/// Random text for node and request ids: `len` base64url characters.
pub fn random_id(len: usize) -> String {
    let sid = Sid::random();
    sid.as_str()[..len.min(20)].to_owned()
}

/// 16 random hexadecimal digits (the sharded adapter's ids).
pub fn random_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = RandomState::new().hash_one((COUNTER.fetch_add(1, Ordering::Relaxed), Sid::random()));
    format!("{n:016x}")
}

/// `{rooms, except}` and, with `flags`, the flags the reference keeps, in
/// the reference's order.
pub fn opts_value(opts: &BroadcastOptions, flags: bool) -> msgpack::Value {
    let rooms = |rooms: &[Room]| {
        msgpack::Value::Array(rooms.iter().map(|r| msgpack::Value::from(&**r)).collect())
    };
    let mut out = vec![
        ("rooms".to_owned(), rooms(&opts.rooms)),
        ("except".to_owned(), rooms(&opts.except)),
    ];
    if flags {
        let mut f = Vec::new();
        if !opts.compress {
            f.push(("compress".to_owned(), msgpack::Value::Bool(false)));
        }
        if opts.volatile {
            f.push(("volatile".to_owned(), msgpack::Value::Bool(true)));
        }
        if let Some(timeout) = opts.timeout {
            let ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
            f.push(("timeout".to_owned(), msgpack::Value::Int(ms)));
        }
        out.push(("flags".to_owned(), msgpack::Value::Map(f)));
    }
    msgpack::Value::Map(out)
}

/// Broadcast options from another node's `{rooms, except, flags}`.
pub fn opts_from(json: Option<&Value>) -> BroadcastOptions {
    let rooms = |key: &str| -> Vec<Room> {
        json.and_then(|j| j.get(key))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(room_of).collect())
            .unwrap_or_default()
    };
    let mut opts = BroadcastOptions::default();
    opts.rooms = rooms("rooms");
    opts.except = rooms("except");
    let flags = json.and_then(|j| j.get("flags"));
    opts.volatile = flags
        .and_then(|f| f.get("volatile"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // Absent means compressible, as in the reference.
    opts.compress = flags
        .and_then(|f| f.get("compress"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    opts.timeout = flags
        .and_then(|f| f.get("timeout"))
        .and_then(Value::as_u64)
        .map(Duration::from_millis);
    opts
}

/// A room name; the reference also allows numbers.
pub fn room_of(value: &Value) -> Option<Room> {
    match value {
        Value::String(s) => Some(Room::from(s.as_str())),
        Value::Number(n) => Some(Room::from(n.to_string())),
        _ => None,
    }
}

/// The message types of the cluster protocol (socket.io-adapter's
/// `ClusterAdapter`), which the sharded, streams and Postgres adapters speak.
#[allow(missing_docs)] // the reference's names say it
pub mod cluster_kind {
    pub const INITIAL_HEARTBEAT: i64 = 1;
    pub const HEARTBEAT: i64 = 2;
    pub const BROADCAST: i64 = 3;
    pub const SOCKETS_JOIN: i64 = 4;
    pub const SOCKETS_LEAVE: i64 = 5;
    pub const DISCONNECT_SOCKETS: i64 = 6;
    pub const FETCH_SOCKETS: i64 = 7;
    pub const FETCH_SOCKETS_RESPONSE: i64 = 8;
    pub const SERVER_SIDE_EMIT: i64 = 9;
    pub const SERVER_SIDE_EMIT_RESPONSE: i64 = 10;
    pub const BROADCAST_CLIENT_COUNT: i64 = 11;
    pub const BROADCAST_ACK: i64 = 12;
    pub const ADAPTER_CLOSE: i64 = 13;
}

/// A list of room names.
pub fn rooms_from(value: Option<&Value>) -> Vec<Room> {
    value
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(room_of).collect())
        .unwrap_or_default()
}

/// The packet of a broadcast as the reference puts it on the wire:
/// `{type: 2, data: [event, ...args]}` and, `with_nsp` (classic mode),
/// `nsp`, in MessagePack form (binary arguments as MessagePack bin).
pub fn packet_value(packet: &BroadcastPacket, with_nsp: bool) -> msgpack::Value {
    let args: Value = serde_json::from_str(&format!("[{}]", packet.args.json()))
        .unwrap_or_else(|_| Value::Array(Vec::new()));
    let mut data = vec![msgpack::Value::from(packet.event.as_str())];
    if let msgpack::Value::Array(args) = msgpack::Value::from_json(&args, packet.args.attachments())
    {
        data.extend(args);
    }
    let mut value = vec![
        ("type".to_owned(), msgpack::Value::Int(2)),
        ("data".to_owned(), msgpack::Value::Array(data)),
    ];
    if with_nsp {
        value.push(("nsp".to_owned(), msgpack::Value::from(packet.nsp.as_str())));
    }
    msgpack::Value::Map(value)
}

/// The broadcast packet another node sent, for namespace `nsp`, with
/// `ack_id` when answers are wanted. `None` when it is not an event of
/// this namespace; a packet without `nsp` is taken as one of `unnamed`
/// (classic mode: `/`; sharded mode names the namespace on the message).
pub fn packet_from(
    json: &Value,
    attachments: &[Bytes],
    nsp: &str,
    unnamed: &str,
    ack_id: Option<u64>,
) -> Option<BroadcastPacket> {
    if json.get("nsp").and_then(Value::as_str).unwrap_or(unnamed) != nsp {
        return None;
    }
    packet_in(json, attachments, nsp, ack_id)
}

/// The broadcast packet another node sent in a message for namespace
/// `nsp`, whatever namespace the packet itself names; `None` when it is not
/// an event.
pub fn packet_in(
    json: &Value,
    attachments: &[Bytes],
    nsp: &str,
    ack_id: Option<u64>,
) -> Option<BroadcastPacket> {
    // EVENT, or BINARY_EVENT from an encoder that marks it.
    if !matches!(json.get("type").and_then(Value::as_u64), Some(2 | 5)) {
        return None;
    }
    let data = json.get("data")?.as_array()?;
    let event = data.first()?.as_str()?;
    let args: Vec<String> = data[1..].iter().map(Value::to_string).collect();
    let args = Args::raw_relay(&args.join(","), args.len(), attachments.to_vec());
    Some(BroadcastPacket::new(nsp, event, args, ack_id))
}

/// A socket as `fetchSockets` answers carry it.
pub fn socket_json(info: &SocketInfo) -> Value {
    json!({
        "id": info.id.as_str(),
        "handshake": info.handshake,
        "rooms": info.rooms.iter().map(|r| &**r).collect::<Vec<_>>(),
        "data": info.data,
    })
}

/// A socket from another node's `fetchSockets` answer.
pub fn socket_from(json: &Value) -> Option<SocketInfo> {
    let id = Sid::parse(json.get("id")?.as_str()?)?;
    Some(SocketInfo::new(
        id,
        rooms_from(json.get("rooms")),
        json.get("data").cloned().unwrap_or(Value::Null),
        json.get("handshake").cloned().unwrap_or(Value::Null),
    ))
}

/// A client's answer from another node (the reference forwards the first
/// argument only).
pub fn ack_reply(json: Option<&Value>, attachments: Vec<Bytes>) -> AckReply {
    AckReply::from_values(&[json.cloned().unwrap_or(Value::Null)], attachments)
}

/// The first argument of a client's answer, to forward to the asking node.
pub fn ack_value(reply: &AckReply) -> msgpack::Value {
    let first: Value = reply
        .raw_arg(0)
        .and_then(|raw| serde_json::from_str(raw).ok())
        .unwrap_or(Value::Null);
    msgpack::Value::from_json(&first, reply.binary())
}

/// A JSON value in MessagePack form (no binary).
pub fn mp(json: &Value) -> msgpack::Value {
    msgpack::Value::from_json(json, &[])
}

/// A message of the cluster protocol as the reference writes it:
/// `{type, data, uid, nsp}` (no `data` for heartbeats).
#[must_use]
pub fn envelope(kind: i64, data: Option<msgpack::Value>, uid: &str, nsp: &str) -> msgpack::Value {
    let mut message = Vec::with_capacity(4);
    message.push(("type".to_owned(), msgpack::Value::Int(kind)));
    if let Some(data) = data {
        message.push(("data".to_owned(), data));
    }
    message.push(("uid".to_owned(), msgpack::Value::from(uid)));
    message.push(("nsp".to_owned(), msgpack::Value::from(nsp)));
    msgpack::Value::Map(message)
}

/// Whether `value` holds binary anywhere.
pub fn has_binary(value: &msgpack::Value) -> bool {
    match value {
        msgpack::Value::Bin(_) => true,
        msgpack::Value::Array(items) => items.iter().any(has_binary),
        msgpack::Value::Map(entries) => entries.iter().any(|(_, v)| has_binary(v)),
        _ => false,
    }
}

/// `value` as JSON text, keys in their order (as `JSON.stringify` writes
/// the reference's objects). Binary has no JSON form: callers send
/// MessagePack when [`has_binary`].
pub fn json_text(value: &msgpack::Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    write_json(&mut out, value);
    out
}

fn write_json(out: &mut Vec<u8>, value: &msgpack::Value) {
    use msgpack::Value as Mp;
    match value {
        Mp::Nil | Mp::Bin(_) => out.extend_from_slice(b"null"),
        Mp::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Mp::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Mp::UInt(u) => out.extend_from_slice(u.to_string().as_bytes()),
        Mp::Float(f) => {
            let json = serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number);
            out.extend_from_slice(json.to_string().as_bytes());
        }
        Mp::Str(s) => out.extend_from_slice(Value::from(s.as_str()).to_string().as_bytes()),
        Mp::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(out, item);
            }
            out.push(b']');
        }
        Mp::Map(entries) => {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(Value::from(k.as_str()).to_string().as_bytes());
                out.push(b':');
                write_json(out, v);
            }
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_round_trip_with_binary() {
        let args = Args::new().arg(&"hi").arg(&1).binary(vec![1, 2]);
        let packet = BroadcastPacket::new("/", "ev", args, None);
        let value = packet_value(&packet, true);
        let bytes = msgpack::encode(&value);
        assert_eq!(
            bytes,
            b"\x83\xa4type\x02\xa4data\x94\xa2ev\xa2hi\x01\xc4\x02\x01\x02\xa3nsp\xa1/"
        );
        let incoming = Incoming::parse(&bytes).unwrap();
        let back = packet_from(&incoming.json, &incoming.attachments, "/", "/", None).unwrap();
        assert_eq!(back.event, "ev");
        assert_eq!(back.args.json(), r#""hi",1,{"_placeholder":true,"num":0}"#);
        assert_eq!(&back.args.attachments()[0][..], [1, 2]);
        assert!(packet_from(&incoming.json, &incoming.attachments, "/other", "/", None).is_none());
        // Sharded mode: no nsp in the packet, the message names it.
        let sharded = msgpack::encode(&packet_value(&packet, false));
        assert_eq!(
            sharded,
            b"\x82\xa4type\x02\xa4data\x94\xa2ev\xa2hi\x01\xc4\x02\x01\x02"
        );
        let incoming = Incoming::parse(&sharded).unwrap();
        let back = packet_from(
            &incoming.json,
            &incoming.attachments,
            "/admin",
            "/admin",
            None,
        );
        assert_eq!(back.unwrap().nsp, "/admin");
    }

    #[test]
    fn json_text_keeps_key_order() {
        let value = msgpack::Value::map([
            ("type", msgpack::Value::Int(7)),
            (
                "data",
                msgpack::Value::map([
                    ("opts", opts_value(&BroadcastOptions::default(), true)),
                    ("requestId", msgpack::Value::from("3505edcf95b13f46")),
                ]),
            ),
            ("uid", msgpack::Value::from("3ca0fb5ec292809d")),
            ("nsp", msgpack::Value::from("/")),
        ]);
        // As recorded from a Node.js node (@socket.io/redis-adapter 8.3.0, sharded).
        assert_eq!(
            String::from_utf8(json_text(&value)).unwrap(),
            r#"{"type":7,"data":{"opts":{"rooms":[],"except":[],"flags":{}},"requestId":"3505edcf95b13f46"},"uid":"3ca0fb5ec292809d","nsp":"/"}"#
        );
        assert!(!has_binary(&value));
    }

    #[test]
    fn options_as_the_reference_writes_them() {
        let mut opts = BroadcastOptions::default();
        opts.rooms = vec![Room::from("room1")];
        opts.timeout = Some(Duration::from_millis(2000));
        assert_eq!(
            msgpack::encode(&opts_value(&opts, true)),
            b"\x83\xa5rooms\x91\xa5room1\xa6except\x90\xa5flags\x81\xa7timeout\xcd\x07\xd0"
        );
        let back = opts_from(Some(&opts_value(&opts, true).into_json(&mut Vec::new())));
        assert_eq!(back.rooms, opts.rooms);
        assert_eq!(back.timeout, opts.timeout);
        assert_eq!(random_hex().len(), 16);
        assert_eq!(random_id(6).len(), 6);
    }
}

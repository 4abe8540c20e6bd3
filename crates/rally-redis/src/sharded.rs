//! Sharded mode: SPUBLISH / SSUBSCRIBE (Redis 7), as
//! @socket.io/redis-adapter's `createShardedAdapter` in its default
//! "dynamic" subscription mode.
//!
//! Every message is `{type, data, uid, nsp}`, JSON unless it holds binary
//! (then MessagePack), on `socket.io#<nsp>#`, or on
//! `socket.io#<nsp>#<room>#` for a broadcast to one public room (each node
//! subscribes to the rooms it has); answers go to the asking node's
//! `socket.io#<nsp>#<uid>#`.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use bytes::Bytes;
use rally::{
    AdapterError, Namespace, Room, Sid,
    adapter::{
        AckEvent, AckStream, Adapter, BroadcastOptions, BroadcastPacket, LocalAdapter, RoomEvent,
        SocketInfo,
    },
};
use rally_proto::msgpack::{self, Value as Mp};
use serde_json::Value;

use crate::{
    connection::{Connection, Route, Sub},
    pending::Pending,
    serve,
    wire::{self, Incoming, cluster_kind as kind},
};

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// The adapter of one namespace in sharded mode.
pub(crate) struct ShardedAdapter {
    me: Weak<ShardedAdapter>,
    local: LocalAdapter,
    ns: Weak<Namespace>,
    nsp: String,
    uid: String,
    conn: Arc<Connection>,
    channel: String,
    response_channel: String,
    pending: Pending,
    timeout: Duration,
}

impl ShardedAdapter {
    pub(crate) fn new(
        ns: Weak<Namespace>,
        conn: Arc<Connection>,
        key: &str,
        timeout: Duration,
    ) -> Arc<Self> {
        let nsp = ns
            .upgrade()
            .map(|ns| ns.name().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        let uid = wire::random_hex();
        let channel = format!("{key}#{nsp}#");
        let adapter = Arc::new_cyclic(|me| Self {
            me: me.clone(),
            local: LocalAdapter::new(ns.clone()),
            ns,
            response_channel: format!("{channel}{uid}#"),
            channel,
            nsp,
            uid,
            conn: conn.clone(),
            pending: Pending::default(),
            timeout,
        });
        let route: Weak<dyn Route> = Arc::downgrade(&adapter) as Weak<dyn Route>;
        conn.add_route(route);
        conn.subscribe(vec![
            Sub::Shard(adapter.channel.clone()),
            Sub::Shard(adapter.response_channel.clone()),
        ]);
        // Dynamic subscriptions: one channel per public room this node has.
        let me = adapter.me.clone();
        adapter.local.on_room_event(Box::new(move |event| {
            let Some(me) = me.upgrade() else { return };
            match event {
                RoomEvent::CreateRoom(room) if me.is_public(room) => {
                    me.conn.subscribe(vec![Sub::Shard(me.room_channel(room))]);
                }
                RoomEvent::DeleteRoom(room) => {
                    me.conn.unsubscribe(vec![Sub::Shard(me.room_channel(room))]);
                }
                _ => {}
            }
        }));
        adapter
    }

    fn room_channel(&self, room: &str) -> String {
        format!("{}{room}#", self.channel)
    }

    /// Whether `room` is not a socket's own room.
    fn is_public(&self, room: &Room) -> bool {
        !Sid::parse(room).is_some_and(|sid| self.local.socket_rooms(sid).contains(room))
    }

    fn encode(&self, kind: i64, data: Mp) -> Vec<u8> {
        encode(kind, data, &self.uid, &self.nsp)
    }

    fn publish(&self, kind: i64, data: Mp) {
        self.publish_to(self.channel.clone(), kind, data);
    }

    fn publish_to(&self, channel: String, kind: i64, data: Mp) {
        let payload = self.encode(kind, data);
        self.conn.publish(true, channel, payload);
    }

    async fn nodes(conn: Arc<Connection>, channel: String) -> usize {
        crate::numsub(&conn, "SHARDNUMSUB", &channel).await
    }

    fn on_message(&self, message: Incoming) {
        let Some(from) = message.str("uid").map(str::to_owned) else {
            return;
        };
        if from == self.uid || message.str("nsp").unwrap_or("/") != self.nsp {
            return;
        }
        let Some(data) = message.get("data") else {
            return;
        };
        let request_id = data
            .get("requestId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let opts = wire::opts_from(data.get("opts"));
        let kind = message.kind().and_then(|k| i64::try_from(k).ok());
        match kind {
            Some(kind::BROADCAST) => {
                let Some(packet) = data.get("packet") else {
                    return;
                };
                match request_id {
                    Some(id) => self.on_broadcast_with_ack(&from, id, packet, &message, &opts),
                    None => {
                        if let Some(packet) = wire::packet_from(
                            packet,
                            &message.attachments,
                            &self.nsp,
                            &self.nsp,
                            None,
                        ) {
                            self.local.broadcast(&packet, &opts);
                        }
                    }
                }
            }
            Some(kind::SOCKETS_JOIN) => {
                self.local
                    .add_sockets(&opts, &wire::rooms_from(data.get("rooms")));
            }
            Some(kind::SOCKETS_LEAVE) => {
                self.local
                    .del_sockets(&opts, &wire::rooms_from(data.get("rooms")));
            }
            Some(kind::DISCONNECT_SOCKETS) => {
                let close = data.get("close").and_then(Value::as_bool).unwrap_or(false);
                self.local.disconnect_sockets(&opts, close);
            }
            Some(kind::FETCH_SOCKETS) => {
                if let (Some(id), Some(me)) = (request_id, self.me.upgrade()) {
                    serve::answer_fetch_sockets(me, &self.local, opts, from, id);
                }
            }
            Some(kind::SERVER_SIDE_EMIT) => {
                if let (Some(ns), Some(me), Some(Value::Array(packet))) =
                    (self.ns.upgrade(), self.me.upgrade(), data.get("packet"))
                {
                    serve::answer_server_event(me, &ns, packet.clone(), from, request_id);
                }
            }
            Some(
                kind::FETCH_SOCKETS_RESPONSE
                | kind::SERVER_SIDE_EMIT_RESPONSE
                | kind::BROADCAST_CLIENT_COUNT
                | kind::BROADCAST_ACK,
            ) => self.pending.answer_response(message),
            _ => {}
        }
    }

    fn on_broadcast_with_ack(
        &self,
        from: &str,
        id: String,
        packet: &Value,
        message: &Incoming,
        opts: &BroadcastOptions,
    ) {
        let (Some(ns), Some(me)) = (self.ns.upgrade(), self.me.upgrade()) else {
            return;
        };
        serve::answer_broadcast_with_ack(
            me,
            &self.local,
            &ns,
            packet,
            &self.nsp,
            &message.attachments,
            opts,
            from.to_owned(),
            id,
        );
    }

    /// Sends a request every other node answers, and gathers the answers.
    async fn ask(
        &self,
        kind: i64,
        data: impl FnOnce(&str) -> Mp,
        operation: &'static str,
    ) -> Result<Vec<Incoming>, AdapterError> {
        let nodes = Self::nodes(self.conn.clone(), self.channel.clone()).await;
        if nodes <= 1 {
            return Ok(Vec::new());
        }
        let id = wire::random_hex();
        let waiting = self.pending.open(id.clone());
        self.publish(kind, data(&id));
        waiting
            .gather(nodes - 1, self.timeout, operation, |_| true)
            .await
    }
}

/// `{type, data, uid, nsp}`: JSON, or MessagePack when it holds binary.
fn encode(kind: i64, data: Mp, uid: &str, nsp: &str) -> Vec<u8> {
    let binary = wire::has_binary(&data);
    let message = Mp::map([
        ("type", Mp::Int(kind)),
        ("data", data),
        ("uid", Mp::from(uid)),
        ("nsp", Mp::from(nsp)),
    ]);
    if binary {
        msgpack::encode(&message)
    } else {
        wire::json_text(&message)
    }
}

impl Drop for ShardedAdapter {
    /// A namespace that goes away (a dynamic one left empty) stops
    /// listening, to its rooms' channels too.
    fn drop(&mut self) {
        let mut subs = vec![
            Sub::Shard(self.channel.clone()),
            Sub::Shard(self.response_channel.clone()),
        ];
        let mut all = BroadcastOptions::default();
        all.local = true;
        let sockets: Vec<Sid> = self.local.targets(&all);
        let mut rooms: Vec<Room> = sockets
            .iter()
            .flat_map(|id| self.local.socket_rooms(*id))
            .filter(|room| self.is_public(room))
            .collect();
        rooms.sort();
        rooms.dedup();
        subs.extend(rooms.iter().map(|room| Sub::Shard(self.room_channel(room))));
        self.conn.unsubscribe(subs);
    }
}

impl serve::Responder for ShardedAdapter {
    fn respond(&self, to: &str, kind: i64, data: Mp) {
        self.publish_to(format!("{}{to}#", self.channel), kind, data);
    }
}

impl Route for ShardedAdapter {
    fn owns(&self, channel: &str) -> bool {
        channel.starts_with(&self.channel)
    }

    fn on_message(&self, channel: &str, payload: Bytes) {
        let Some(message) = Incoming::parse(&payload) else {
            return;
        };
        if channel == self.response_channel {
            self.pending.answer_response(message);
        } else {
            ShardedAdapter::on_message(self, message);
        }
    }
}

impl Adapter for ShardedAdapter {
    fn add_all(&self, id: Sid, rooms: &[Room]) {
        self.local.add_all(id, rooms);
    }

    fn del(&self, id: Sid, room: &str) {
        self.local.del(id, room);
    }

    fn del_all(&self, id: Sid) {
        self.local.del_all(id);
    }

    fn socket_rooms(&self, id: Sid) -> Vec<Room> {
        self.local.socket_rooms(id)
    }

    fn targets(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        self.local.targets(opts)
    }

    fn broadcast(&self, packet: &BroadcastPacket, opts: &BroadcastOptions) {
        if !opts.local {
            let data = Mp::map([
                ("packet", wire::packet_value(packet, false)),
                ("opts", wire::opts_value(opts, true)),
            ]);
            // One public room: its own channel, reaching only the nodes that
            // have it.
            let channel = match opts.rooms.as_slice() {
                [room] if Sid::parse(room).is_none() => self.room_channel(room),
                _ => self.channel.clone(),
            };
            self.publish_to(channel, kind::BROADCAST, data);
        }
        self.local.broadcast(packet, opts);
    }

    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<Result<Vec<SocketInfo>, AdapterError>> {
        let local = self.local.fetch_sockets(opts.clone());
        let Some(me) = self.me.upgrade().filter(|_| !opts.local) else {
            return local;
        };
        Box::pin(async move {
            let mut sockets = local.await?;
            let request = |id: &str| {
                Mp::map([
                    ("opts", wire::opts_value(&opts, true)),
                    ("requestId", Mp::from(id)),
                ])
            };
            for answer in me.ask(kind::FETCH_SOCKETS, request, "fetchSockets").await? {
                let remote = answer.get("data").and_then(|d| d.get("sockets"));
                if let Some(Value::Array(remote)) = remote {
                    sockets.extend(remote.iter().filter_map(wire::socket_from));
                }
            }
            Ok(sockets)
        })
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if !opts.local {
            let rooms = rooms.iter().map(|r| Mp::from(&**r)).collect();
            self.publish(
                kind::SOCKETS_JOIN,
                Mp::map([
                    ("opts", wire::opts_value(opts, true)),
                    ("rooms", Mp::Array(rooms)),
                ]),
            );
        }
        self.local.add_sockets(opts, rooms);
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if !opts.local {
            let rooms = rooms.iter().map(|r| Mp::from(&**r)).collect();
            self.publish(
                kind::SOCKETS_LEAVE,
                Mp::map([
                    ("opts", wire::opts_value(opts, true)),
                    ("rooms", Mp::Array(rooms)),
                ]),
            );
        }
        self.local.del_sockets(opts, rooms);
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if !opts.local {
            self.publish(
                kind::DISCONNECT_SOCKETS,
                Mp::map([
                    ("opts", wire::opts_value(opts, true)),
                    ("close", Mp::Bool(close)),
                ]),
            );
        }
        self.local.disconnect_sockets(opts, close);
    }

    fn rooms(&self) -> BoxFuture<Result<Vec<Room>, AdapterError>> {
        // The cluster protocol has no "all rooms" request: the rooms of
        // every node are those of the sockets every node reports.
        let Some(me) = self.me.upgrade() else {
            return self.local.rooms();
        };
        Box::pin(async move {
            let mut rooms: Vec<Room> = Vec::new();
            for socket in me.fetch_sockets(BroadcastOptions::default()).await? {
                for room in socket.rooms {
                    if !rooms.contains(&room) {
                        rooms.push(room);
                    }
                }
            }
            for room in me.local.rooms().await? {
                if !rooms.contains(&room) {
                    rooms.push(room);
                }
            }
            Ok(rooms)
        })
    }

    fn server_count(&self) -> BoxFuture<usize> {
        Box::pin(Self::nodes(self.conn.clone(), self.channel.clone()))
    }

    fn on_room_event(&self, listener: Box<dyn Fn(&RoomEvent) + Send + Sync>) {
        self.local.on_room_event(listener);
    }

    fn broadcast_with_ack(&self, packet: &BroadcastPacket, opts: &BroadcastOptions) -> AckStream {
        let local = self.local.broadcast_with_ack(packet, opts);
        if opts.local {
            return local;
        }
        let id = wire::random_hex();
        let remote = self.pending.open(id.clone());
        self.publish(
            kind::BROADCAST,
            Mp::map([
                ("packet", wire::packet_value(packet, false)),
                ("requestId", Mp::from(id.as_str())),
                ("opts", wire::opts_value(opts, true)),
            ]),
        );
        let timeout = opts.timeout.unwrap_or(rally::adapter::DEFAULT_ACK_TIMEOUT);
        crate::merge_acks(local, remote, timeout, |answer| {
            let data = answer.get("data")?;
            match answer.kind().and_then(|k| i64::try_from(k).ok())? {
                kind::BROADCAST_CLIENT_COUNT => Some(AckEvent::Targeted(
                    data.get("clientCount").and_then(Value::as_u64).unwrap_or(0) as usize,
                )),
                kind::BROADCAST_ACK => Some(AckEvent::Reply(
                    None,
                    Ok(wire::ack_reply(
                        data.get("packet"),
                        answer.attachments.clone(),
                    )),
                )),
                _ => None,
            }
        })
    }

    fn server_side_emit(&self, data: Vec<Value>) {
        self.publish(
            kind::SERVER_SIDE_EMIT,
            Mp::map([("packet", wire::mp(&Value::Array(data)))]),
        );
    }

    fn server_side_emit_with_ack(
        &self,
        data: Vec<Value>,
    ) -> BoxFuture<Result<Vec<Value>, AdapterError>> {
        let Some(me) = self.me.upgrade() else {
            return Box::pin(async { Ok(Vec::new()) });
        };
        Box::pin(async move {
            let request = |id: &str| {
                Mp::map([
                    ("requestId", Mp::from(id)),
                    ("packet", wire::mp(&Value::Array(data))),
                ])
            };
            let answers = me
                .ask(kind::SERVER_SIDE_EMIT, request, "serverSideEmit")
                .await?;
            Ok(answers
                .into_iter()
                .map(|mut a| {
                    a.json
                        .get_mut("data")
                        .and_then(|d| d.get_mut("packet"))
                        .map(Value::take)
                        .unwrap_or_default()
                })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use rally::Args;

    use super::*;

    /// The messages a Node.js node sent (socket.io 4.8.4 with
    /// @socket.io/redis-adapter 8.3.0, recorded with `redis-cli MONITOR`),
    /// made the same way here.
    #[test]
    fn messages_as_the_reference_writes_them() {
        let args = Args::new().arg(&"hi").arg(&1).binary(vec![1, 2]);
        let packet = BroadcastPacket::new("/", "ev", args, None);
        let mut opts = BroadcastOptions::default();
        opts.rooms = vec![Room::from("room1")];
        let data = Mp::map([
            ("packet", wire::packet_value(&packet, false)),
            ("opts", wire::opts_value(&opts, true)),
        ]);
        assert_eq!(
            encode(kind::BROADCAST, data, "3ca0fb5ec292809d", "/"),
            b"\x84\xa4type\x03\xa4data\x82\xa6packet\x82\xa4type\x02\xa4data\x94\xa2ev\xa2hi\x01\xc4\x02\x01\x02\xa4opts\x83\xa5rooms\x91\xa5room1\xa6except\x90\xa5flags\x80\xa3uid\xb03ca0fb5ec292809d\xa3nsp\xa1/"
        );
        let data = Mp::map([
            ("requestId", Mp::from("25467e474a5623c0")),
            ("packet", wire::mp(&serde_json::json!(["hello", "world"]))),
        ]);
        assert_eq!(
            String::from_utf8(encode(
                kind::SERVER_SIDE_EMIT,
                data,
                "3ca0fb5ec292809d",
                "/"
            ))
            .unwrap(),
            r#"{"type":9,"data":{"requestId":"25467e474a5623c0","packet":["hello","world"]},"uid":"3ca0fb5ec292809d","nsp":"/"}"#
        );
    }
}

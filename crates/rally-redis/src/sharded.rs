//! Sharded mode: SPUBLISH / SSUBSCRIBE (Redis 7), as
//! @socket.io/redis-adapter's `createShardedAdapter` in its default
//! "dynamic" subscription mode: a transport of the cluster protocol.
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
    Room, Sid,
    adapter::{Adapter, AdapterContext, BroadcastOptions, RoomEvent},
};
use rally_cluster::{
    BoxFuture, ClusterAdapter, Message, Response, Transport,
    wire::{self, Incoming},
};
use rally_proto::msgpack::{self, Value as Mp};

use crate::connection::{Connection, Route, Sub};

/// The adapter of one namespace in sharded mode.
pub(crate) type ShardedAdapter = ClusterAdapter<Sharded>;

/// The sharded mode's transport for one namespace.
pub(crate) struct Sharded {
    conn: Arc<Connection>,
    channel: String,
    response_channel: String,
}

/// The adapter of the namespace of `ctx` in sharded mode.
pub(crate) fn adapter(
    ctx: &AdapterContext,
    conn: Arc<Connection>,
    key: &str,
    timeout: Duration,
) -> Arc<ShardedAdapter> {
    let uid = wire::random_hex();
    let channel = format!("{key}#{}#", ctx.name());
    let transport = Sharded {
        conn,
        response_channel: format!("{channel}{uid}#"),
        channel,
    };
    ClusterAdapter::new(ctx, uid, timeout, transport)
}

impl Sharded {
    fn room_channel(&self, room: &str) -> String {
        format!("{}{room}#", self.channel)
    }

    fn publish_to(&self, node: &ShardedAdapter, channel: String, kind: i64, data: Option<Mp>) {
        let payload = encode(kind, data, node.uid(), node.nsp());
        self.conn.publish(true, channel, payload);
    }
}

/// Whether `room` is not a socket's own room.
fn is_public(node: &ShardedAdapter, room: &Room) -> bool {
    !Sid::parse(room).is_some_and(|sid| node.local().socket_rooms(sid).contains(room))
}

/// `{type, data, uid, nsp}`: JSON, or MessagePack when it holds binary.
fn encode(kind: i64, data: Option<Mp>, uid: &str, nsp: &str) -> Vec<u8> {
    let binary = data.as_ref().is_some_and(wire::has_binary);
    let message = wire::envelope(kind, data, uid, nsp);
    if binary {
        msgpack::encode(&message)
    } else {
        wire::json_text(&message)
    }
}

impl Transport for Sharded {
    fn flush(&self) -> BoxFuture<()> {
        let link = self.conn.clone();
        Box::pin(async move { link.flush().await })
    }

    fn start(&self, node: &Arc<ShardedAdapter>) {
        let route: Weak<dyn Route> = Arc::downgrade(node) as Weak<dyn Route>;
        self.conn.add_route(route);
        self.conn.subscribe(vec![
            Sub::Shard(self.channel.clone()),
            Sub::Shard(self.response_channel.clone()),
        ]);
        // Dynamic subscriptions: one channel per public room this node has.
        let me = node.weak();
        node.local().on_room_event(Box::new(move |event| {
            let Some(me) = me.upgrade() else { return };
            let sharded = me.transport();
            match event {
                RoomEvent::CreateRoom(room) if is_public(&me, room) => {
                    sharded
                        .conn
                        .subscribe(vec![Sub::Shard(sharded.room_channel(room))]);
                }
                RoomEvent::DeleteRoom(room) => {
                    sharded
                        .conn
                        .unsubscribe(vec![Sub::Shard(sharded.room_channel(room))]);
                }
                _ => {}
            }
        }));
    }

    fn publish(&self, node: &ShardedAdapter, message: Message<'_>) {
        // A broadcast to one public room: its own channel, reaching only
        // the nodes that have it.
        let channel = match &message {
            Message::Broadcast {
                opts,
                request_id: None,
                ..
            } => match opts.rooms.as_slice() {
                [room] if Sid::parse(room).is_none() => self.room_channel(room),
                _ => self.channel.clone(),
            },
            _ => self.channel.clone(),
        };
        self.publish_to(node, channel, message.kind(), message.data());
    }

    fn publish_response(&self, node: &ShardedAdapter, to: &str, response: Response) {
        let channel = format!("{}{to}#", self.channel);
        self.publish_to(node, channel, response.kind(), Some(response.into_data()));
    }

    fn server_count(&self, _node: &ShardedAdapter) -> BoxFuture<usize> {
        let (conn, channel) = (self.conn.clone(), self.channel.clone());
        Box::pin(async move { crate::numsub(&conn, "SHARDNUMSUB", &channel).await })
    }

    /// A namespace that goes away (a dynamic one left empty) stops
    /// listening, to its rooms' channels too.
    fn close(&self, node: &ShardedAdapter) {
        let mut subs = vec![
            Sub::Shard(self.channel.clone()),
            Sub::Shard(self.response_channel.clone()),
        ];
        let mut all = BroadcastOptions::default();
        all.local = true;
        let sockets: Vec<Sid> = node.local().targets(&all);
        let mut rooms: Vec<Room> = sockets
            .iter()
            .flat_map(|id| node.local().socket_rooms(*id))
            .filter(|room| is_public(node, room))
            .collect();
        rooms.sort();
        rooms.dedup();
        subs.extend(rooms.iter().map(|room| Sub::Shard(self.room_channel(room))));
        self.conn.unsubscribe(subs);
    }
}

impl Route for ShardedAdapter {
    fn owns(&self, channel: &str) -> bool {
        channel.starts_with(&self.transport().channel)
    }

    fn on_message(&self, _channel: &str, payload: Bytes) {
        if let Some(message) = Incoming::parse(&payload) {
            ClusterAdapter::on_message(self, message, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use rally::{
        Args,
        adapter::{BroadcastOptions, BroadcastPacket},
    };
    use rally_cluster::wire::cluster_kind as kind;

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
            encode(kind::BROADCAST, Some(data), "3ca0fb5ec292809d", "/"),
            b"\x84\xa4type\x03\xa4data\x82\xa6packet\x82\xa4type\x02\xa4data\x94\xa2ev\xa2hi\x01\xc4\x02\x01\x02\xa4opts\x83\xa5rooms\x91\xa5room1\xa6except\x90\xa5flags\x80\xa3uid\xb03ca0fb5ec292809d\xa3nsp\xa1/"
        );
        let data = Mp::map([
            ("requestId", Mp::from("25467e474a5623c0")),
            ("packet", wire::mp(&serde_json::json!(["hello", "world"]))),
        ]);
        assert_eq!(
            String::from_utf8(encode(
                kind::SERVER_SIDE_EMIT,
                Some(data),
                "3ca0fb5ec292809d",
                "/"
            ))
            .unwrap(),
            r#"{"type":9,"data":{"requestId":"25467e474a5623c0","packet":["hello","world"]},"uid":"3ca0fb5ec292809d","nsp":"/"}"#
        );
    }
}

//! The Postgres transport of one namespace: every message of the cluster
//! protocol as a notification on `<channelPrefix>#<nsp>`, as
//! @socket.io/postgres-adapter 0.5.0 sends it.
//!
//! A message is JSON `{type, data, uid, nsp}`. One that holds binary (a
//! broadcast, a server-side event or an answer to either) or whose JSON is
//! over `payloadThreshold` bytes is stored, as MessagePack, in the
//! attachments table, and the notification is `{uid, type, attachmentId}`.
//! Nodes count each other by heartbeats; answers go to every node (the
//! asking node picks its own by request id).

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use rally::adapter::AdapterContext;
use rally_cluster::{
    ClusterAdapter, Heartbeat, Message, Response, Transport,
    wire::{self, cluster_kind as kind},
};
use rally_proto::msgpack::{self, Value as Mp};

use crate::client::{Client, Outgoing};

/// The adapter of one namespace.
pub(crate) type PostgresNode = ClusterAdapter<Postgres>;

/// The Postgres transport of one namespace.
pub(crate) struct Postgres {
    client: Arc<Client>,
    channel: String,
}

/// The adapter of the namespace of `ctx`.
pub(crate) fn adapter(ctx: &AdapterContext, client: Arc<Client>) -> Arc<PostgresNode> {
    let channel = format!("{}#{}", client.config.channel_prefix, ctx.name());
    let timeout = client.config.requests_timeout;
    let transport = Postgres { client, channel };
    ClusterAdapter::new(ctx, wire::random_hex(), timeout, transport)
}

/// How a message goes out: its JSON as the notification, or MessagePack in
/// the attachments table when it holds binary or is too big.
pub(crate) fn encode(message: &Mp, kind: i64, threshold: usize) -> Result<String, Vec<u8>> {
    let may_hold_binary = matches!(
        kind,
        kind::BROADCAST
            | kind::BROADCAST_ACK
            | kind::SERVER_SIDE_EMIT
            | kind::SERVER_SIDE_EMIT_RESPONSE
    );
    if may_hold_binary && wire::has_binary(message) {
        return Err(msgpack::encode(message));
    }
    let json = wire::json_text(message);
    if json.len() > threshold {
        return Err(msgpack::encode(message));
    }
    String::from_utf8(json).map_err(|_| msgpack::encode(message))
}

impl Postgres {
    fn send(&self, node: &PostgresNode, kind: i64, data: Option<Mp>) {
        let message = wire::envelope(kind, data, node.uid(), node.nsp());
        let outgoing = match encode(&message, kind, self.client.config.payload_threshold) {
            Ok(payload) => Outgoing::Notify {
                channel: self.channel.clone(),
                payload,
            },
            Err(body) => Outgoing::Attachment {
                channel: self.channel.clone(),
                uid: node.uid().to_owned(),
                kind,
                body,
            },
        };
        self.client.send(outgoing);
    }
}

impl Transport for Postgres {
    fn flush(&self) -> rally_cluster::BoxFuture<()> {
        let link = self.client.clone();
        Box::pin(async move { link.flush().await })
    }

    fn start(&self, node: &Arc<PostgresNode>) {
        self.client.add_route(self.channel.clone(), node.weak());
        let tick = self
            .heartbeat()
            .map_or(Duration::from_secs(1), |h| h.tick());
        let node: Weak<PostgresNode> = node.weak();
        // The runtime the node connected in: a namespace may be made
        // outside of it.
        self.client.runtime.spawn(async move {
            let mut every = tokio::time::interval(tick);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let Some(node) = node.upgrade() else { return };
                node.heartbeat_tick();
            }
        });
    }

    fn publish(&self, node: &PostgresNode, message: Message<'_>) {
        self.send(node, message.kind(), message.data());
    }

    fn publish_response(&self, node: &PostgresNode, _to: &str, response: Response) {
        self.send(node, response.kind(), Some(response.into_data()));
    }

    fn heartbeat(&self) -> Option<Heartbeat> {
        Some(self.client.config.heartbeat)
    }
}

#[cfg(test)]
mod tests {
    use rally::{
        Args, Room,
        adapter::{BroadcastOptions, BroadcastPacket},
    };

    use super::*;

    #[test]
    fn messages_as_the_reference_writes_them() {
        let args = Args::new().arg(&"hi").arg(&1);
        let packet = BroadcastPacket::new("/", "ev", args, None);
        let mut opts = BroadcastOptions::default();
        opts.rooms = vec![Room::from("room1")];
        let message = Message::Broadcast {
            packet: &packet,
            opts: &opts,
            request_id: None,
            fallback: None,
        };
        let envelope = wire::envelope(message.kind(), message.data(), "3ca0fb5ec292809d", "/");
        assert_eq!(
            encode(&envelope, kind::BROADCAST, 8000).unwrap(),
            r#"{"type":3,"data":{"packet":{"type":2,"data":["ev","hi",1]},"opts":{"rooms":["room1"],"except":[],"flags":{}}},"uid":"3ca0fb5ec292809d","nsp":"/"}"#
        );
        let heartbeat = wire::envelope(kind::HEARTBEAT, None, "3ca0fb5ec292809d", "/");
        assert_eq!(
            encode(&heartbeat, kind::HEARTBEAT, 8000).unwrap(),
            r#"{"type":2,"uid":"3ca0fb5ec292809d","nsp":"/"}"#
        );
        // Too big for a notification: MessagePack, for the table.
        assert!(encode(&envelope, kind::BROADCAST, 100).is_err());
        // Binary: MessagePack too, however small.
        let binary = Args::new().binary(vec![1, 2]);
        let packet = BroadcastPacket::new("/", "ev", binary, None);
        let message = Message::Broadcast {
            packet: &packet,
            opts: &opts,
            request_id: None,
            fallback: None,
        };
        let envelope = wire::envelope(message.kind(), message.data(), "u", "/");
        assert!(encode(&envelope, kind::BROADCAST, 8000).is_err());
    }
}

//! Classic mode: PUBLISH / PSUBSCRIBE, as @socket.io/redis-adapter's
//! `createAdapter`: a transport on the cluster core that keeps the classic
//! protocol's own messages.
//!
//! Broadcasts go to `socket.io#<nsp>#` (or `socket.io#<nsp>#<room>#` for
//! exactly one room) as MessagePack `[uid, packet, opts]`; requests to
//! `socket.io-request#<nsp>#` as JSON (MessagePack for broadcasts with
//! acks); answers to `socket.io-response#<nsp>#`.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use bytes::Bytes;
use rally::{
    AdapterError, Room, Sid,
    adapter::{Adapter, AdapterContext, BroadcastOptions},
};
use rally_cluster::{
    Answer, BoxFuture, ClusterAdapter, Message, Response, Transport,
    wire::{self, Incoming},
};
use rally_proto::msgpack::{self, Value as Mp};
use serde_json::Value;

use crate::connection::{Connection, Route, Sub};

/// The request types of the classic protocol.
mod kind {
    pub(super) const SOCKETS: u64 = 0;
    pub(super) const ALL_ROOMS: u64 = 1;
    pub(super) const REMOTE_JOIN: u64 = 2;
    pub(super) const REMOTE_LEAVE: u64 = 3;
    pub(super) const REMOTE_DISCONNECT: u64 = 4;
    pub(super) const REMOTE_FETCH: u64 = 5;
    pub(super) const SERVER_SIDE_EMIT: u64 = 6;
    pub(super) const BROADCAST: u64 = 7;
    pub(super) const BROADCAST_CLIENT_COUNT: u64 = 8;
    pub(super) const BROADCAST_ACK: u64 = 9;
}

/// The adapter of one namespace in classic mode.
pub(crate) type ClassicAdapter = ClusterAdapter<Classic>;

/// The classic mode's transport for one namespace.
pub(crate) struct Classic {
    conn: Arc<Connection>,
    channel: String,
    request_channel: String,
    response_channel: String,
    specific_response_channel: String,
}

/// The adapter of the namespace of `ctx` in classic mode.
pub(crate) fn adapter(
    ctx: &AdapterContext,
    conn: Arc<Connection>,
    key: &str,
    timeout: Duration,
) -> Arc<ClassicAdapter> {
    let nsp = ctx.name();
    let uid = wire::random_id(6);
    let response_channel = format!("{key}-response#{nsp}#");
    let transport = Classic {
        conn,
        channel: format!("{key}#{nsp}#"),
        request_channel: format!("{key}-request#{nsp}#"),
        specific_response_channel: format!("{response_channel}{uid}#"),
        response_channel,
    };
    ClusterAdapter::new(ctx, uid, timeout, transport)
}

impl Classic {
    fn subscriptions(&self) -> Vec<Sub> {
        vec![
            Sub::Pattern(format!("{}*", self.channel)),
            Sub::Channel(self.request_channel.clone()),
            Sub::Channel(self.response_channel.clone()),
            Sub::Channel(self.specific_response_channel.clone()),
        ]
    }

    fn publish_on(&self, channel: &str, payload: Vec<u8>) {
        self.conn.publish(false, channel.to_owned(), payload);
    }

    /// A request to every node, as JSON in the reference's key order.
    fn request(&self, request: Mp) {
        self.publish_on(&self.request_channel, wire::json_text(&request));
    }

    /// REMOTE_JOIN or REMOTE_LEAVE: `{uid, type, opts, rooms}`.
    fn rooms_request(uid: &str, kind: u64, opts: &BroadcastOptions, rooms: &[Room]) -> Mp {
        Mp::map([
            ("uid", Mp::from(uid)),
            ("type", Mp::Int(kind as i64)),
            ("opts", wire::opts_value(opts, false)),
            (
                "rooms",
                Mp::Array(rooms.iter().map(|r| Mp::from(&**r)).collect()),
            ),
        ])
    }

    fn respond(&self, payload: Vec<u8>) {
        self.publish_on(&self.response_channel, payload);
    }
}

impl Transport for Classic {
    fn flush(&self) -> BoxFuture<()> {
        let link = self.conn.clone();
        Box::pin(async move { link.flush().await })
    }

    fn start(&self, node: &Arc<ClassicAdapter>) {
        let route: Weak<dyn Route> = Arc::downgrade(node) as Weak<dyn Route>;
        self.conn.add_route(route);
        self.conn.subscribe(self.subscriptions());
    }

    fn publish(&self, node: &ClassicAdapter, message: Message<'_>) {
        let uid = Mp::from(node.uid());
        match message {
            Message::Broadcast {
                packet,
                opts,
                request_id: None,
                ..
            } => {
                let message = Mp::Array(vec![
                    uid,
                    wire::packet_value(packet, true),
                    wire::opts_value(opts, true),
                ]);
                let channel = match opts.rooms.as_slice() {
                    [room] => format!("{}{room}#", self.channel),
                    _ => self.channel.clone(),
                };
                self.publish_on(&channel, msgpack::encode(&message));
            }
            Message::Broadcast {
                packet,
                opts,
                request_id: Some(id),
                ..
            } => self.publish_on(
                &self.request_channel,
                msgpack::encode(&Mp::map([
                    ("uid", uid),
                    ("requestId", Mp::from(id)),
                    ("type", Mp::Int(kind::BROADCAST as i64)),
                    ("packet", wire::packet_value(packet, true)),
                    ("opts", wire::opts_value(opts, true)),
                ])),
            ),
            Message::SocketsJoin { opts, rooms } => {
                self.request(Self::rooms_request(
                    node.uid(),
                    kind::REMOTE_JOIN,
                    opts,
                    rooms,
                ));
            }
            Message::SocketsLeave { opts, rooms } => {
                self.request(Self::rooms_request(
                    node.uid(),
                    kind::REMOTE_LEAVE,
                    opts,
                    rooms,
                ));
            }
            Message::DisconnectSockets { opts, close } => self.request(Mp::map([
                ("uid", uid),
                ("type", Mp::Int(kind::REMOTE_DISCONNECT as i64)),
                ("opts", wire::opts_value(opts, false)),
                ("close", Mp::Bool(close)),
            ])),
            Message::FetchSockets { opts, request_id } => self.request(Mp::map([
                ("uid", uid),
                ("requestId", Mp::from(request_id)),
                ("type", Mp::Int(kind::REMOTE_FETCH as i64)),
                ("opts", wire::opts_value(opts, false)),
            ])),
            Message::ServerSideEmit { data, request_id } => {
                let mut request = vec![("uid".to_owned(), uid)];
                if let Some(id) = request_id {
                    request.push(("requestId".to_owned(), Mp::from(id)));
                }
                request.push(("type".to_owned(), Mp::Int(kind::SERVER_SIDE_EMIT as i64)));
                request.push(("data".to_owned(), wire::mp(&Value::Array(data.to_vec()))));
                self.request(Mp::Map(request));
            }
            // The classic protocol counts nodes by their subscriptions.
            _ => {}
        }
    }

    fn publish_response(&self, _node: &ClassicAdapter, _to: &str, response: Response) {
        let payload = match response {
            Response::FetchSockets {
                request_id,
                sockets,
            } => wire::json_text(&Mp::map([
                ("requestId", Mp::from(request_id)),
                ("sockets", sockets),
            ])),
            Response::ServerSideEmit { request_id, packet } => wire::json_text(&Mp::map([
                ("type", Mp::Int(kind::SERVER_SIDE_EMIT as i64)),
                ("requestId", Mp::from(request_id)),
                ("data", packet),
            ])),
            Response::BroadcastClientCount { request_id, count } => wire::json_text(&Mp::map([
                ("type", Mp::Int(kind::BROADCAST_CLIENT_COUNT as i64)),
                ("requestId", Mp::from(request_id)),
                ("clientCount", Mp::Int(count as i64)),
            ])),
            Response::BroadcastAck { request_id, packet } => msgpack::encode(&Mp::map([
                ("type", Mp::Int(kind::BROADCAST_ACK as i64)),
                ("requestId", Mp::from(request_id)),
                ("packet", packet),
            ])),
            _ => return,
        };
        self.respond(payload);
    }

    /// How many nodes listen on this namespace's request channel (this one
    /// included); 1 when Redis cannot say.
    fn server_count(&self, _node: &ClassicAdapter) -> BoxFuture<usize> {
        let (conn, channel) = (self.conn.clone(), self.request_channel.clone());
        Box::pin(async move { crate::numsub(&conn, "NUMSUB", &channel).await })
    }

    fn rooms(&self, node: &ClassicAdapter) -> Option<BoxFuture<Result<Vec<Room>, AdapterError>>> {
        let local = node.local().rooms();
        let me = node.weak().upgrade()?;
        Some(Box::pin(async move {
            let mut rooms = local.await?;
            let publish = |id: &str| {
                me.transport().request(Mp::map([
                    ("uid", Mp::from(me.uid())),
                    ("requestId", Mp::from(id)),
                    ("type", Mp::Int(kind::ALL_ROOMS as i64)),
                ]));
            };
            let keep = |a: &Answer| matches!(a, Answer::Rooms(_));
            for answer in me.ask(publish, "allRooms", keep).await? {
                if let Answer::Rooms(remote) = answer {
                    for room in remote {
                        if !rooms.contains(&room) {
                            rooms.push(room);
                        }
                    }
                }
            }
            Ok(rooms)
        }))
    }

    fn new_id(&self) -> String {
        wire::random_id(6)
    }

    /// A namespace that goes away (a dynamic one left empty) stops
    /// listening.
    fn close(&self, _node: &ClassicAdapter) {
        self.conn.unsubscribe(self.subscriptions());
    }
}

/// What the classic protocol's requests do here.
fn on_request(node: &ClassicAdapter, request: Incoming) {
    let classic = node.transport();
    let from_self = request.str("uid") == Some(node.uid());
    let from = request.str("uid").unwrap_or_default().to_owned();
    let request_id = request.str("requestId").map(str::to_owned);
    let opts = wire::opts_from(request.get("opts"));
    // A request of this node's own comes back to it: it answers nothing.
    let foreign = |id: Option<String>| id.filter(|id| !node.is_own_request(id));
    match request.kind() {
        Some(kind::SOCKETS) => {
            let Some(id) = foreign(request_id) else {
                return;
            };
            let mut opts = BroadcastOptions::default();
            opts.rooms = wire::rooms_from(request.get("rooms"));
            let sockets: Vec<String> = node
                .local()
                .targets(&opts)
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect();
            let sockets = sockets.into_iter().map(Mp::from).collect();
            classic.respond(wire::json_text(&Mp::map([
                ("requestId", Mp::from(id)),
                ("sockets", Mp::Array(sockets)),
            ])));
        }
        Some(kind::ALL_ROOMS) => {
            let Some(id) = foreign(request_id) else {
                return;
            };
            let Some(me) = node.weak().upgrade() else {
                return;
            };
            classic.conn.runtime.spawn(async move {
                let rooms = me.local().rooms().await.unwrap_or_default();
                let rooms = rooms.iter().map(|r| Mp::from(&**r)).collect();
                me.transport().respond(wire::json_text(&Mp::map([
                    ("requestId", Mp::from(id)),
                    ("rooms", Mp::Array(rooms)),
                ])));
            });
        }
        Some(kind::REMOTE_JOIN) if !from_self => remote_rooms(node, &request, &opts, true),
        Some(kind::REMOTE_LEAVE) if !from_self => remote_rooms(node, &request, &opts, false),
        Some(kind::REMOTE_DISCONNECT) if !from_self => {
            let close = request
                .get("close")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if request.get("opts").is_some() {
                node.local().disconnect_sockets(&opts, close);
            } else if let Some(sid) = request.str("sid").and_then(Sid::parse) {
                let mut one = BroadcastOptions::default();
                one.rooms = vec![Room::from(sid.as_str())];
                node.local().disconnect_sockets(&one, close);
                if let Some(id) = request_id {
                    classic.respond(wire::json_text(&Mp::map([("requestId", Mp::from(id))])));
                }
            }
        }
        Some(kind::REMOTE_FETCH) => {
            if let Some(id) = foreign(request_id) {
                node.serve_fetch_sockets(opts, from, id);
            }
        }
        Some(kind::SERVER_SIDE_EMIT) if !from_self => {
            if let Some(Value::Array(data)) = request.get("data") {
                node.serve_server_side_emit(data.clone(), from, request_id);
            }
        }
        Some(kind::BROADCAST) => {
            let Some(id) = foreign(request_id) else {
                return;
            };
            if let Some(packet) = request.get("packet") {
                node.serve_broadcast_with_ack(packet, &request.attachments, &opts, from, id);
            }
        }
        _ => {}
    }
}

/// REMOTE_JOIN and REMOTE_LEAVE: by options, or one socket by id.
fn remote_rooms(node: &ClassicAdapter, request: &Incoming, opts: &BroadcastOptions, join: bool) {
    let local = node.local();
    if request.get("opts").is_some() {
        let rooms = wire::rooms_from(request.get("rooms"));
        if join {
            local.add_sockets(opts, &rooms);
        } else {
            local.del_sockets(opts, &rooms);
        }
        return;
    }
    let (Some(sid), Some(room)) = (
        request.str("sid").and_then(Sid::parse),
        request.get("room").and_then(wire::room_of),
    ) else {
        return;
    };
    if local.socket_rooms(sid).is_empty() {
        return;
    }
    if join {
        local.add_all(sid, &[room]);
    } else {
        local.del(sid, &room);
    }
    if let Some(id) = request.str("requestId") {
        node.transport()
            .respond(wire::json_text(&Mp::map([("requestId", Mp::from(id))])));
    }
}

/// Another node's broadcast: `[uid, packet, opts]`.
fn on_broadcast(node: &ClassicAdapter, payload: &[u8]) {
    let Ok(Mp::Array(parts)) = msgpack::decode(payload) else {
        return;
    };
    let Ok([uid, packet, opts]) = <[Mp; 3]>::try_from(parts) else {
        return;
    };
    if uid.as_str() == Some(node.uid()) || matches!(packet, Mp::Nil) {
        return;
    }
    let mut attachments = Vec::new();
    let packet = packet.into_json(&mut attachments);
    let opts = opts.into_json(&mut Vec::new());
    if let Some(packet) = wire::packet_from(&packet, &attachments, node.nsp(), "/", None) {
        node.local()
            .broadcast(&packet, &wire::opts_from(Some(&opts)));
    }
}

/// An answer to one of this node's requests.
fn on_response(node: &ClassicAdapter, payload: &[u8]) {
    let Some(mut response) = Incoming::parse(payload) else {
        return;
    };
    let Some(id) = response.str("requestId").map(str::to_owned) else {
        return;
    };
    let answer = match response.kind() {
        Some(kind::SERVER_SIDE_EMIT) => Answer::Value(
            response
                .json
                .get_mut("data")
                .map(Value::take)
                .unwrap_or_default(),
        ),
        Some(kind::BROADCAST_CLIENT_COUNT) => Answer::ClientCount(
            response
                .get("clientCount")
                .and_then(Value::as_u64)
                .unwrap_or(0) as usize,
        ),
        Some(kind::BROADCAST_ACK) => {
            let attachments = std::mem::take(&mut response.attachments);
            Answer::Ack(wire::ack_reply(response.get("packet"), attachments))
        }
        _ => match (response.get("sockets"), response.get("rooms")) {
            (Some(Value::Array(sockets)), _) => {
                Answer::Sockets(sockets.iter().filter_map(wire::socket_from).collect())
            }
            (_, Some(rooms)) => Answer::Rooms(wire::rooms_from(Some(rooms))),
            _ => return,
        },
    };
    node.answer(&id, answer);
}

impl Route for ClassicAdapter {
    fn owns(&self, channel: &str) -> bool {
        let classic = self.transport();
        channel.starts_with(&classic.channel)
            || channel == classic.request_channel
            || channel.starts_with(&classic.response_channel)
    }

    fn on_message(&self, channel: &str, payload: Bytes) {
        let classic = self.transport();
        if channel.starts_with(&classic.response_channel) {
            on_response(self, &payload);
        } else if channel == classic.request_channel {
            if let Some(request) = Incoming::parse(&payload) {
                on_request(self, request);
            }
        } else {
            on_broadcast(self, &payload);
        }
    }
}

#[cfg(test)]
mod tests {
    use rally::{Args, adapter::BroadcastPacket};

    use super::*;

    /// JSON requests in the reference's key order
    /// (recorded from @socket.io/redis-adapter 8.3.0 with `redis-cli MONITOR`).
    #[test]
    fn requests_as_the_reference_writes_them() {
        let request = Mp::map([
            ("uid", Mp::from("qeVisn")),
            ("type", Mp::Int(kind::REMOTE_JOIN as i64)),
            ("opts", {
                let mut opts = BroadcastOptions::default();
                opts.rooms = vec![Room::from("room1")];
                wire::opts_value(&opts, false)
            }),
            ("rooms", Mp::Array(vec![Mp::from("room2")])),
        ]);
        assert_eq!(
            String::from_utf8(wire::json_text(&request)).unwrap(),
            r#"{"uid":"qeVisn","type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["room2"]}"#
        );
    }

    /// The broadcast a Node.js node sent (socket.io 4.8.4 with
    /// @socket.io/redis-adapter 8.3.0, recorded with `redis-cli MONITOR`),
    /// made the same way here.
    #[test]
    fn broadcasts_as_the_reference_writes_them() {
        let args = Args::new().arg(&"hi").arg(&1).binary(vec![1, 2]);
        let packet = BroadcastPacket::new("/", "ev", args, None);
        let mut opts = BroadcastOptions::default();
        opts.rooms = vec![Room::from("room1")];
        let message = Mp::Array(vec![
            Mp::from("qeVisn"),
            wire::packet_value(&packet, true),
            wire::opts_value(&opts, true),
        ]);
        assert_eq!(
            msgpack::encode(&message),
            b"\x93\xa6qeVisn\x83\xa4type\x02\xa4data\x94\xa2ev\xa2hi\x01\xc4\x02\x01\x02\xa3nsp\xa1/\x83\xa5rooms\x91\xa5room1\xa6except\x90\xa5flags\x80"
        );
    }
}

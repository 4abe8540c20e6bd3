//! Classic mode: PUBLISH / PSUBSCRIBE, as @socket.io/redis-adapter's
//! `createAdapter`.
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
    wire::{self, Incoming},
};

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

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
pub(crate) struct ClassicAdapter {
    me: Weak<ClassicAdapter>,
    local: LocalAdapter,
    ns: Weak<Namespace>,
    nsp: String,
    uid: String,
    conn: Arc<Connection>,
    channel: String,
    request_channel: String,
    response_channel: String,
    specific_response_channel: String,
    pending: Pending,
    timeout: Duration,
}

impl ClassicAdapter {
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
        let uid = wire::random_id(6);
        let response_channel = format!("{key}-response#{nsp}#");
        let adapter = Arc::new_cyclic(|me| Self {
            me: me.clone(),
            local: LocalAdapter::new(ns.clone()),
            ns,
            channel: format!("{key}#{nsp}#"),
            request_channel: format!("{key}-request#{nsp}#"),
            specific_response_channel: format!("{response_channel}{uid}#"),
            response_channel,
            nsp,
            uid,
            conn: conn.clone(),
            pending: Pending::default(),
            timeout,
        });
        let route: Weak<dyn Route> = Arc::downgrade(&adapter) as Weak<dyn Route>;
        conn.add_route(route);
        conn.subscribe(adapter.subscriptions());
        adapter
    }

    fn subscriptions(&self) -> Vec<Sub> {
        vec![
            Sub::Pattern(format!("{}*", self.channel)),
            Sub::Channel(self.request_channel.clone()),
            Sub::Channel(self.response_channel.clone()),
            Sub::Channel(self.specific_response_channel.clone()),
        ]
    }

    fn publish(&self, channel: &str, payload: Vec<u8>) {
        self.conn.publish(false, channel.to_owned(), payload);
    }

    /// A request to every node, as JSON in the reference's key order.
    fn request(&self, request: Mp) {
        self.publish(&self.request_channel, wire::json_text(&request));
    }

    /// REMOTE_JOIN or REMOTE_LEAVE: `{uid, type, opts, rooms}`.
    fn rooms_request(&self, kind: u64, opts: &BroadcastOptions, rooms: &[Room]) -> Mp {
        Mp::map([
            ("uid", Mp::from(self.uid.as_str())),
            ("type", Mp::Int(kind as i64)),
            ("opts", wire::opts_value(opts, false)),
            (
                "rooms",
                Mp::Array(rooms.iter().map(|r| Mp::from(&**r)).collect()),
            ),
        ])
    }

    fn respond(&self, payload: Vec<u8>) {
        self.publish(&self.response_channel, payload);
    }

    /// How many nodes listen on this namespace's request channel (this one
    /// included); 1 when Redis cannot say.
    async fn nodes(conn: Arc<Connection>, channel: String) -> usize {
        crate::numsub(&conn, "NUMSUB", &channel).await
    }

    fn on_broadcast(&self, payload: &[u8]) {
        let Ok(Mp::Array(parts)) = msgpack::decode(payload) else {
            return;
        };
        let Ok([uid, packet, opts]) = <[Mp; 3]>::try_from(parts) else {
            return;
        };
        if uid.as_str() == Some(&self.uid) || matches!(packet, Mp::Nil) {
            return;
        }
        let mut attachments = Vec::new();
        let packet = packet.into_json(&mut attachments);
        let opts = opts.into_json(&mut Vec::new());
        if let Some(packet) = wire::packet_from(&packet, &attachments, &self.nsp, "/", None) {
            self.local.broadcast(&packet, &wire::opts_from(Some(&opts)));
        }
    }

    fn on_request(&self, request: Incoming) {
        let from_self = request.str("uid") == Some(&self.uid);
        let request_id = request.str("requestId").map(str::to_owned);
        let opts = wire::opts_from(request.get("opts"));
        match request.kind() {
            Some(kind::SOCKETS) => {
                let Some(id) = request_id.filter(|id| !self.pending.contains(id)) else {
                    return;
                };
                let mut opts = BroadcastOptions::default();
                opts.rooms = wire::rooms_from(request.get("rooms"));
                let sockets: Vec<String> = self
                    .local
                    .targets(&opts)
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect();
                let sockets = sockets.into_iter().map(Mp::from).collect();
                self.respond(wire::json_text(&Mp::map([
                    ("requestId", Mp::from(id)),
                    ("sockets", Mp::Array(sockets)),
                ])));
            }
            Some(kind::ALL_ROOMS) => {
                let Some(id) = request_id.filter(|id| !self.pending.contains(id)) else {
                    return;
                };
                let Some(me) = self.me.upgrade() else { return };
                self.conn.runtime.spawn(async move {
                    let rooms = me.local.rooms().await.unwrap_or_default();
                    let rooms = rooms.iter().map(|r| Mp::from(&**r)).collect();
                    me.respond(wire::json_text(&Mp::map([
                        ("requestId", Mp::from(id)),
                        ("rooms", Mp::Array(rooms)),
                    ])));
                });
            }
            Some(kind::REMOTE_JOIN) if !from_self => self.remote_rooms(&request, &opts, true),
            Some(kind::REMOTE_LEAVE) if !from_self => self.remote_rooms(&request, &opts, false),
            Some(kind::REMOTE_DISCONNECT) if !from_self => {
                let close = request
                    .get("close")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if request.get("opts").is_some() {
                    self.local.disconnect_sockets(&opts, close);
                } else if let Some(sid) = request.str("sid").and_then(Sid::parse) {
                    let mut one = BroadcastOptions::default();
                    one.rooms = vec![Room::from(sid.as_str())];
                    self.local.disconnect_sockets(&one, close);
                    if let Some(id) = request_id {
                        self.respond(wire::json_text(&Mp::map([("requestId", Mp::from(id))])));
                    }
                }
            }
            Some(kind::REMOTE_FETCH) => {
                let Some(id) = request_id.filter(|id| !self.pending.contains(id)) else {
                    return;
                };
                let Some(me) = self.me.upgrade() else { return };
                serve::fetch_sockets(&self.local, opts, move |sockets| {
                    me.respond(wire::json_text(&Mp::map([
                        ("requestId", Mp::from(id)),
                        ("sockets", sockets),
                    ])));
                });
            }
            Some(kind::SERVER_SIDE_EMIT) if !from_self => self.on_server_side_emit(request),
            Some(kind::BROADCAST) => {
                let Some(id) = request_id.filter(|id| !self.pending.contains(id)) else {
                    return;
                };
                self.on_broadcast_with_ack(id, &request, &opts);
            }
            _ => {}
        }
    }

    /// REMOTE_JOIN and REMOTE_LEAVE: by options, or one socket by id.
    fn remote_rooms(&self, request: &Incoming, opts: &BroadcastOptions, join: bool) {
        if request.get("opts").is_some() {
            let rooms = wire::rooms_from(request.get("rooms"));
            if join {
                self.local.add_sockets(opts, &rooms);
            } else {
                self.local.del_sockets(opts, &rooms);
            }
            return;
        }
        let (Some(sid), Some(room)) = (
            request.str("sid").and_then(Sid::parse),
            request.get("room").and_then(wire::room_of),
        ) else {
            return;
        };
        if self.local.socket_rooms(sid).is_empty() {
            return;
        }
        if join {
            self.local.add_all(sid, &[room]);
        } else {
            self.local.del(sid, &room);
        }
        if let Some(id) = request.str("requestId") {
            self.respond(wire::json_text(&Mp::map([("requestId", Mp::from(id))])));
        }
    }

    fn on_server_side_emit(&self, request: Incoming) {
        let (Some(ns), Some(me)) = (self.ns.upgrade(), self.me.upgrade()) else {
            return;
        };
        let Some(Value::Array(data)) = request.get("data") else {
            return;
        };
        let answer = request.str("requestId").map(|id| {
            let id = id.to_owned();
            move |value: Value| {
                me.respond(wire::json_text(&Mp::map([
                    ("type", Mp::Int(kind::SERVER_SIDE_EMIT as i64)),
                    ("requestId", Mp::from(id)),
                    ("data", wire::mp(&value)),
                ])));
            }
        });
        serve::server_event(&ns, data.clone(), answer);
    }

    /// Another node's broadcast with acks: deliver here, then report the
    /// client count and forward each answer.
    fn on_broadcast_with_ack(&self, id: String, request: &Incoming, opts: &BroadcastOptions) {
        let (Some(ns), Some(me)) = (self.ns.upgrade(), self.me.upgrade()) else {
            return;
        };
        let Some(packet) = request.get("packet") else {
            return;
        };
        let (counter, acker) = (me.clone(), id.clone());
        serve::broadcast_with_ack(
            &self.local,
            &ns,
            packet,
            "/",
            &request.attachments,
            opts,
            move |n| {
                counter.respond(wire::json_text(&Mp::map([
                    ("type", Mp::Int(kind::BROADCAST_CLIENT_COUNT as i64)),
                    ("requestId", Mp::from(id.as_str())),
                    ("clientCount", Mp::Int(n as i64)),
                ])));
            },
            move |reply| {
                me.respond(msgpack::encode(&Mp::map([
                    ("type", Mp::Int(kind::BROADCAST_ACK as i64)),
                    ("requestId", Mp::from(acker.as_str())),
                    ("packet", wire::ack_value(reply)),
                ])));
            },
        );
    }

    fn on_response(&self, payload: &[u8]) {
        let Some(response) = Incoming::parse(payload) else {
            return;
        };
        if let Some(id) = response.str("requestId").map(str::to_owned) {
            self.pending.answer(&id, response);
        }
    }

    /// Runs a request every other node answers, once.
    async fn ask(
        &self,
        kind: u64,
        fields: Vec<(String, Mp)>,
        operation: &'static str,
        key: Option<&'static str>,
    ) -> Result<Vec<Incoming>, AdapterError> {
        let nodes = Self::nodes(self.conn.clone(), self.request_channel.clone()).await;
        if nodes <= 1 {
            return Ok(Vec::new());
        }
        let id = wire::random_id(6);
        let mut request = vec![
            ("uid".to_owned(), Mp::from(self.uid.as_str())),
            ("requestId".to_owned(), Mp::from(id.as_str())),
            ("type".to_owned(), Mp::Int(kind as i64)),
        ];
        request.extend(fields);
        let waiting = self.pending.open(id);
        self.request(Mp::Map(request));
        waiting
            .gather(nodes - 1, self.timeout, operation, |answer| {
                key.is_none_or(|key| answer.get(key).is_some())
            })
            .await
    }
}

impl Drop for ClassicAdapter {
    /// A namespace that goes away (a dynamic one left empty) stops
    /// listening.
    fn drop(&mut self) {
        self.conn.unsubscribe(self.subscriptions());
    }
}

impl Route for ClassicAdapter {
    fn owns(&self, channel: &str) -> bool {
        channel.starts_with(&self.channel)
            || channel == self.request_channel
            || channel.starts_with(&self.response_channel)
    }

    fn on_message(&self, channel: &str, payload: Bytes) {
        if channel.starts_with(&self.response_channel) {
            self.on_response(&payload);
        } else if channel == self.request_channel {
            if let Some(request) = Incoming::parse(&payload) {
                self.on_request(request);
            }
        } else {
            self.on_broadcast(&payload);
        }
    }
}

impl Adapter for ClassicAdapter {
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
            let message = Mp::Array(vec![
                Mp::from(self.uid.as_str()),
                wire::packet_value(packet, true),
                wire::opts_value(opts, true),
            ]);
            let channel = match opts.rooms.as_slice() {
                [room] => format!("{}{room}#", self.channel),
                _ => self.channel.clone(),
            };
            self.publish(&channel, msgpack::encode(&message));
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
            let fields = vec![("opts".to_owned(), wire::opts_value(&opts, false))];
            for answer in me
                .ask(kind::REMOTE_FETCH, fields, "fetchSockets", Some("sockets"))
                .await?
            {
                if let Some(Value::Array(remote)) = answer.get("sockets") {
                    sockets.extend(remote.iter().filter_map(wire::socket_from));
                }
            }
            Ok(sockets)
        })
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if !opts.local {
            self.request(self.rooms_request(kind::REMOTE_JOIN, opts, rooms));
        }
        self.local.add_sockets(opts, rooms);
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if !opts.local {
            self.request(self.rooms_request(kind::REMOTE_LEAVE, opts, rooms));
        }
        self.local.del_sockets(opts, rooms);
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if !opts.local {
            self.request(Mp::map([
                ("uid", Mp::from(self.uid.as_str())),
                ("type", Mp::Int(kind::REMOTE_DISCONNECT as i64)),
                ("opts", wire::opts_value(opts, false)),
                ("close", Mp::Bool(close)),
            ]));
        }
        self.local.disconnect_sockets(opts, close);
    }

    fn rooms(&self) -> BoxFuture<Result<Vec<Room>, AdapterError>> {
        let local = self.local.rooms();
        let Some(me) = self.me.upgrade() else {
            return local;
        };
        Box::pin(async move {
            let mut rooms = local.await?;
            for answer in me
                .ask(kind::ALL_ROOMS, Vec::new(), "allRooms", Some("rooms"))
                .await?
            {
                for room in wire::rooms_from(answer.get("rooms")) {
                    if !rooms.contains(&room) {
                        rooms.push(room);
                    }
                }
            }
            Ok(rooms)
        })
    }

    fn server_count(&self) -> BoxFuture<usize> {
        Box::pin(Self::nodes(self.conn.clone(), self.request_channel.clone()))
    }

    fn on_room_event(&self, listener: Box<dyn Fn(&RoomEvent) + Send + Sync>) {
        self.local.on_room_event(listener);
    }

    fn broadcast_with_ack(&self, packet: &BroadcastPacket, opts: &BroadcastOptions) -> AckStream {
        let local = self.local.broadcast_with_ack(packet, opts);
        if opts.local {
            return local;
        }
        let id = wire::random_id(6);
        let remote = self.pending.open(id.clone());
        self.publish(
            &self.request_channel,
            msgpack::encode(&Mp::map([
                ("uid", Mp::from(self.uid.as_str())),
                ("requestId", Mp::from(id.as_str())),
                ("type", Mp::Int(kind::BROADCAST as i64)),
                ("packet", wire::packet_value(packet, true)),
                ("opts", wire::opts_value(opts, true)),
            ])),
        );
        let timeout = opts.timeout.unwrap_or(rally::adapter::DEFAULT_ACK_TIMEOUT);
        crate::merge_acks(local, remote, timeout, |answer| match answer.kind() {
            Some(kind::BROADCAST_CLIENT_COUNT) => Some(AckEvent::Targeted(
                answer
                    .get("clientCount")
                    .and_then(Value::as_u64)
                    .unwrap_or(0) as usize,
            )),
            Some(kind::BROADCAST_ACK) => Some(AckEvent::Reply(
                None,
                Ok(wire::ack_reply(
                    answer.get("packet"),
                    answer.attachments.clone(),
                )),
            )),
            _ => None,
        })
    }

    fn server_side_emit(&self, data: Vec<Value>) {
        self.request(Mp::map([
            ("uid", Mp::from(self.uid.as_str())),
            ("type", Mp::Int(kind::SERVER_SIDE_EMIT as i64)),
            ("data", wire::mp(&Value::Array(data))),
        ]));
    }

    fn server_side_emit_with_ack(
        &self,
        data: Vec<Value>,
    ) -> BoxFuture<Result<Vec<Value>, AdapterError>> {
        let Some(me) = self.me.upgrade() else {
            return Box::pin(async { Ok(Vec::new()) });
        };
        Box::pin(async move {
            let fields = vec![("data".to_owned(), wire::mp(&Value::Array(data)))];
            let answers = me
                .ask(kind::SERVER_SIDE_EMIT, fields, "serverSideEmit", None)
                .await?;
            Ok(answers
                .into_iter()
                .map(|mut a| a.json.get_mut("data").map(Value::take).unwrap_or_default())
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use rally::Args;

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

//! Streams mode, as @socket.io/redis-streams-adapter 0.3.1: durable
//! messages are entries of a Redis stream (read in `reader`), ephemeral
//! requests go over pub/sub, and connection state recovery works across
//! nodes.
//!
//! - Broadcasts, room changes and disconnections are
//!   `XADD socket.io MAXLEN ~ 10000 * uid <uid> nsp <nsp> type <n> data <d>`
//!   (`d` JSON, or base64 MessagePack when it holds binary). Every node
//!   reads the stream (`XREAD COUNT 100 BLOCK 5000`); a broadcast is
//!   delivered to this node's sockets when the node reads it back, so every
//!   node delivers in stream order, and its entry id is the recovery offset
//!   appended to the packet.
//! - `fetch_sockets`, server-side events and broadcasts with acks are
//!   MessagePack `{type, data, uid, nsp}` on `socket.io#<nsp>#`; answers go
//!   to the asking node's `socket.io#<nsp>#<uid>#`.
//! - A session is `SET sio:session:<pid> <base64 MessagePack
//!   {sid, pid, rooms, data}> PX <maxDisconnectionDuration>`, given back
//!   with `GETDEL` and what its rooms missed read with `XRANGE` after the
//!   client's offset, on whichever node the client comes back to.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, OnceLock, Weak},
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use bytes::Bytes;
use rally::{
    AdapterError, Namespace, Room, Sid, SidMap,
    adapter::{
        AckEvent, AckStream, Adapter, BroadcastOptions, BroadcastPacket, LocalAdapter,
        RestoredSession, RoomEvent, SessionState, SocketInfo,
    },
};
use rally_proto::msgpack::{self, Value as Mp};
use serde_json::Value;

mod incoming;
mod reader;
mod recovery;

use reader::EntryId;
pub(crate) use reader::{Hub, stream_name};

use crate::{
    connection::{Connection, Route, Sub},
    pending::Pending,
    serve,
    wire::{self, Incoming, cluster_kind as kind},
};

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// The reference's stream length cap (`maxLen`, trimmed approximately).
const MAX_LEN: u32 = 10_000;
/// Entries per XRANGE while restoring a session, and how many XRANGE calls
/// at most (the stream is capped, so this is never the limit in practice).
const RANGE_COUNT: u32 = 1_000;
const MAX_RANGES: usize = 100;
/// Session keys' prefix (`sessionKeyPrefix`).
const SESSION_PREFIX: &str = "sio:session:";
/// How many packets may wait for a restored socket between its restore and
/// its admission; past that, it is disconnected once admitted (and
/// recovers again from its offset).
const MAX_HELD: usize = 4096;
/// How long a restore is followed at most (a socket refused by a
/// middleware is never admitted).
const RESTORE_WATCH: Duration = Duration::from_secs(120);

/// A socket given back by [`restore_session`](Adapter::restore_session),
/// followed until it is admitted and the reader has passed what its replay
/// covered: nothing comes twice, nothing is lost in between.
struct Restoring {
    rooms: Vec<Room>,
    at: Instant,
    /// The last entry the replay covered (`None` while it is being read).
    upto: Option<EntryId>,
    admitted: bool,
    /// What came for it after the replay, before its admission.
    held: Vec<(EntryId, BroadcastPacket)>,
    overflowed: bool,
}

/// Whether a session in `rooms` gets what `opts` reaches (the reference's
/// `shouldIncludePacket`).
fn includes(rooms: &[Room], opts: &BroadcastOptions) -> bool {
    (opts.rooms.is_empty() || rooms.iter().any(|r| opts.rooms.contains(r)))
        && !rooms.iter().any(|r| opts.except.contains(r))
}

/// The streams of a node: their readers, by stream name, and how a
/// namespace's stream is chosen.
#[derive(Clone)]
pub(crate) struct Streams {
    pub(crate) hubs: Arc<Mutex<HashMap<String, Arc<Hub>>>>,
    pub(crate) name: String,
    pub(crate) count: usize,
}

impl Streams {
    /// The reader of namespace `nsp`'s stream (started now for a stream
    /// the reference would not read: a negative hash).
    fn hub(&self, conn: &Arc<Connection>, nsp: &str) -> Arc<Hub> {
        let stream = stream_name(&self.name, self.count, nsp);
        self.hubs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(stream.clone())
            .or_insert_with(|| Hub::start(conn, stream).0)
            .clone()
    }
}

/// What an adapter learns once its namespace is built.
struct Names {
    nsp: String,
    channel: String,
    response_channel: String,
    hub: Arc<Hub>,
}

/// The adapter of one namespace in streams mode.
pub(crate) struct StreamsAdapter {
    me: Weak<StreamsAdapter>,
    local: LocalAdapter,
    ns: Weak<Namespace>,
    uid: String,
    conn: Arc<Connection>,
    streams: Streams,
    key: String,
    names: OnceLock<Names>,
    pending: Pending,
    timeout: Duration,
    /// `maxDisconnectionDuration` when connection state recovery is on.
    recovery: Option<Duration>,
    restoring: Mutex<SidMap<Restoring>>,
}

impl StreamsAdapter {
    pub(crate) fn new(
        ns: Weak<Namespace>,
        conn: Arc<Connection>,
        streams: Streams,
        key: &str,
        timeout: Duration,
        recovery: Option<Duration>,
    ) -> Arc<Self> {
        let adapter = Arc::new_cyclic(|me| Self {
            me: me.clone(),
            local: LocalAdapter::new(ns.clone()),
            ns,
            uid: wire::random_hex(),
            conn,
            streams,
            key: key.to_owned(),
            names: OnceLock::new(),
            pending: Pending::default(),
            timeout,
            recovery,
            restoring: Mutex::default(),
        });
        // The namespace is being built (its name cannot be read yet): join
        // the cluster as soon as it is.
        let me = adapter.me.clone();
        // The runtime the node connected in: a namespace may be made
        // outside of it.
        adapter.conn.runtime.spawn(async move {
            loop {
                let Some(me) = me.upgrade() else { return };
                if me.ns.upgrade().is_some() {
                    me.names();
                    return;
                }
                drop(me);
                tokio::task::yield_now().await;
            }
        });
        adapter
    }

    /// The namespace's name, channels and stream; the first call (once the
    /// namespace is built) joins the cluster: the stream's reader hands
    /// this namespace's entries here, and the channels are subscribed.
    fn names(&self) -> &Names {
        self.names.get_or_init(|| {
            let nsp = self
                .ns
                .upgrade()
                .map(|ns| ns.name().to_owned())
                .unwrap_or_else(|| "/".to_owned());
            let channel = format!("{}#{nsp}#", self.key);
            let hub = self.streams.hub(&self.conn, &nsp);
            hub.adapters
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(nsp.clone(), self.me.clone());
            self.conn.add_route(self.me.clone() as Weak<dyn Route>);
            let response_channel = format!("{channel}{}#", self.uid);
            self.conn.subscribe(vec![
                Sub::Channel(channel.clone()),
                Sub::Channel(response_channel.clone()),
            ]);
            Names {
                nsp,
                channel,
                response_channel,
                hub,
            }
        })
    }

    fn restoring(&self) -> MutexGuard<'_, SidMap<Restoring>> {
        self.restoring.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A durable message: an entry of the stream; `fallback` runs instead
    /// when it cannot reach Redis.
    fn append(&self, kind: i64, data: &Mp, fallback: Option<crate::connection::Fallback>) {
        let data = if kind == kind::BROADCAST && wire::has_binary(data) {
            BASE64.encode(msgpack::encode(data))
        } else {
            String::from_utf8(wire::json_text(data)).unwrap_or_default()
        };
        let mut cmd = redis::cmd("XADD");
        cmd.arg(self.names().hub.stream())
            .arg("MAXLEN")
            .arg("~")
            .arg(MAX_LEN)
            .arg("*")
            .arg("uid")
            .arg(&self.uid)
            .arg("nsp")
            .arg(&self.names().nsp)
            .arg("type")
            .arg(kind.to_string())
            .arg("data")
            .arg(data);
        self.conn.send(cmd, fallback);
    }

    /// An ephemeral message: MessagePack `{type, data, uid, nsp}` on pub/sub.
    fn publish_to(&self, channel: String, kind: i64, data: Mp) {
        let message = Mp::map([
            ("type", Mp::Int(kind)),
            ("data", data),
            ("uid", Mp::from(self.uid.as_str())),
            ("nsp", Mp::from(self.names().nsp.as_str())),
        ]);
        self.conn.publish(false, channel, msgpack::encode(&message));
    }

    /// The packet as the cluster adapter sends it: `{type, data}`.
    fn packet_value(packet: &BroadcastPacket) -> Mp {
        wire::packet_value(packet, false)
    }

    /// A broadcast packet of another node (or this one): the entry's
    /// namespace is this one's, whatever the packet says.
    fn packet_from(&self, packet: &Value, attachments: &[Bytes]) -> Option<BroadcastPacket> {
        let mut packet = packet.clone();
        packet
            .as_object_mut()?
            .insert("nsp".to_owned(), Value::from(self.names().nsp.as_str()));
        let nsp = &self.names().nsp;
        wire::packet_from(&packet, attachments, nsp, nsp, None)
    }

    async fn nodes(conn: Arc<Connection>, channel: String) -> usize {
        crate::numsub(&conn, "NUMSUB", &channel).await
    }

    /// Sends a request every other node answers, and gathers the answers.
    async fn ask(
        &self,
        kind: i64,
        data: impl FnOnce(&str) -> Mp,
        operation: &'static str,
    ) -> Result<Vec<Incoming>, AdapterError> {
        let nodes = Self::nodes(self.conn.clone(), self.names().channel.clone()).await;
        if nodes <= 1 {
            return Ok(Vec::new());
        }
        let id = wire::random_hex();
        let waiting = self.pending.open(id.clone());
        self.publish_to(self.names().channel.clone(), kind, data(&id));
        waiting
            .gather(nodes - 1, self.timeout, operation, |_| true)
            .await
    }
}

/// A session as the reference keeps it: base64 MessagePack
/// `{sid, pid, rooms, data}`.
fn encode_session(session: &SessionState) -> String {
    let rooms = session.rooms.iter().map(|r| Mp::from(&**r)).collect();
    let value = Mp::map([
        ("sid", Mp::from(session.sid.as_str())),
        ("pid", Mp::from(&*session.pid)),
        ("rooms", Mp::Array(rooms)),
        ("data", wire::mp(&session.data)),
    ]);
    BASE64.encode(msgpack::encode(&value))
}

fn decode_session(raw: &str) -> Option<SessionState> {
    let bytes = BASE64.decode(raw).ok()?;
    let json = msgpack::decode(&bytes).ok()?.into_json(&mut Vec::new());
    let sid = Sid::parse(json.get("sid")?.as_str()?)?;
    let pid = json.get("pid")?.as_str()?;
    Some(SessionState::new(
        sid,
        Arc::from(pid),
        wire::rooms_from(json.get("rooms")),
        json.get("data").cloned().unwrap_or(Value::Null),
    ))
}

impl serve::Responder for StreamsAdapter {
    fn respond(&self, to: &str, kind: i64, data: Mp) {
        self.publish_to(format!("{}{to}#", self.names().channel), kind, data);
    }
}

impl Route for StreamsAdapter {
    fn owns(&self, channel: &str) -> bool {
        channel == self.names().channel || channel == self.names().response_channel
    }

    fn on_message(&self, channel: &str, payload: Bytes) {
        let Some(message) = Incoming::parse(&payload) else {
            return;
        };
        if channel == self.names().response_channel {
            self.pending.answer_response(message);
        } else {
            StreamsAdapter::on_message(self, message);
        }
    }
}

impl Adapter for StreamsAdapter {
    fn add_all(&self, id: Sid, rooms: &[Room]) {
        if !self.admit_restored(id, rooms) {
            self.local.add_all(id, rooms);
        }
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
        if opts.local {
            return self.local.broadcast(packet, opts);
        }
        // Delivered here too when the reader gets it back; without Redis,
        // delivered here at once (without an offset) and lost elsewhere.
        let data = Mp::map([
            ("packet", Self::packet_value(packet)),
            ("opts", wire::opts_value(opts, true)),
        ]);
        let me = self.me.clone();
        let (packet, opts) = (packet.clone(), opts.clone());
        let fallback = Box::new(move || {
            if let Some(me) = me.upgrade() {
                me.local.broadcast(&packet, &opts);
            }
        });
        self.append(kind::BROADCAST, &data, Some(fallback));
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
            self.append(
                kind::SOCKETS_JOIN,
                &Mp::map([
                    ("opts", wire::opts_value(opts, true)),
                    ("rooms", Mp::Array(rooms)),
                ]),
                None,
            );
        }
        self.local.add_sockets(opts, rooms);
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if !opts.local {
            let rooms = rooms.iter().map(|r| Mp::from(&**r)).collect();
            self.append(
                kind::SOCKETS_LEAVE,
                &Mp::map([
                    ("opts", wire::opts_value(opts, true)),
                    ("rooms", Mp::Array(rooms)),
                ]),
                None,
            );
        }
        self.local.del_sockets(opts, rooms);
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if !opts.local {
            self.append(
                kind::DISCONNECT_SOCKETS,
                &Mp::map([
                    ("opts", wire::opts_value(opts, true)),
                    ("close", Mp::Bool(close)),
                ]),
                None,
            );
        }
        self.local.disconnect_sockets(opts, close);
    }

    fn rooms(&self) -> BoxFuture<Result<Vec<Room>, AdapterError>> {
        // As in sharded mode: the cluster protocol has no "all rooms"
        // request; the rooms are those of the sockets every node reports.
        let Some(me) = self.me.upgrade() else {
            return self.local.rooms();
        };
        Box::pin(async move {
            let mut rooms: Vec<Room> = me.local.rooms().await?;
            for socket in me.fetch_sockets(BroadcastOptions::default()).await? {
                for room in socket.rooms {
                    if !rooms.contains(&room) {
                        rooms.push(room);
                    }
                }
            }
            Ok(rooms)
        })
    }

    fn server_count(&self) -> BoxFuture<usize> {
        Box::pin(Self::nodes(self.conn.clone(), self.names().channel.clone()))
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
        self.publish_to(
            self.names().channel.clone(),
            kind::BROADCAST,
            Mp::map([
                ("packet", Self::packet_value(packet)),
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
        self.publish_to(
            self.names().channel.clone(),
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

    fn persist_session(&self, session: SessionState) -> BoxFuture<()> {
        if let Some(max) = self.recovery {
            let mut cmd = redis::cmd("SET");
            cmd.arg(format!("{SESSION_PREFIX}{}", session.pid))
                .arg(encode_session(&session))
                .arg("PX")
                .arg(u64::try_from(max.as_millis()).unwrap_or(u64::MAX));
            self.conn.send(cmd, None);
        }
        Box::pin(async {})
    }

    fn restore_session(&self, pid: &str, offset: &str) -> BoxFuture<Option<RestoredSession>> {
        let Some(me) = self.me.upgrade() else {
            return Box::pin(async { None });
        };
        let (pid, offset) = (pid.to_owned(), offset.to_owned());
        Box::pin(async move { me.restore(&pid, &offset).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_as_the_reference_keeps_them() {
        // Recorded from a Node.js node (@socket.io/redis-streams-adapter 0.3.1).
        let raw = "hKNzaWS0X1cxWHdySmRCUGRLakhSY0FBQUGjcGlktFJudGJfZE1KR0JIa0RtbEFBQUFCpXJvb21zk7RfVzFYd3JKZEJQZEtqSFJjQUFBQaVyb29tMaVyb29tMqRkYXRhgaR1c2VypXUzMTAx";
        let session = decode_session(raw).unwrap();
        assert_eq!(session.sid.as_str(), "_W1XwrJdBPdKjHRcAAAA");
        assert_eq!(&*session.pid, "Rntb_dMJGBHkDmlAAAAB");
        assert_eq!(session.rooms.len(), 3);
        assert_eq!(session.data, serde_json::json!({"user": "u3101"}));
        assert_eq!(encode_session(&session), raw);
        assert!(decode_session("not base64!").is_none());
        assert!(decode_session("hA==").is_none());
    }

    #[test]
    fn broadcasts_as_the_reference_writes_them() {
        let args = rally::Args::new().arg(&"hi").arg(&1).binary(vec![1, 2]);
        let packet = BroadcastPacket::new("/", "ev", args, None);
        let mut opts = BroadcastOptions::default();
        opts.rooms = vec![Room::from("room1")];
        let data = Mp::map([
            ("packet", StreamsAdapter::packet_value(&packet)),
            ("opts", wire::opts_value(&opts, true)),
        ]);
        // As recorded from @socket.io/redis-streams-adapter 0.3.1.
        assert_eq!(
            BASE64.encode(msgpack::encode(&data)),
            "gqZwYWNrZXSCpHR5cGUCpGRhdGGUomV2omhpAcQCAQKkb3B0c4Olcm9vbXORpXJvb20xpmV4Y2VwdJClZmxhZ3OA"
        );
        let join = Mp::map([
            ("opts", wire::opts_value(&opts, true)),
            ("rooms", Mp::Array(vec![Mp::from("room2")])),
        ]);
        assert_eq!(
            String::from_utf8(wire::json_text(&join)).unwrap(),
            r#"{"opts":{"rooms":["room1"],"except":[],"flags":{}},"rooms":["room2"]}"#
        );
    }

    #[test]
    fn sessions_get_what_their_rooms_got() {
        let rooms = [Room::from("a"), Room::from("b")];
        let mut opts = BroadcastOptions::default();
        assert!(includes(&rooms, &opts));
        opts.rooms = vec![Room::from("b")];
        assert!(includes(&rooms, &opts));
        opts.rooms = vec![Room::from("c")];
        assert!(!includes(&rooms, &opts));
        opts.rooms = Vec::new();
        opts.except = vec![Room::from("a")];
        assert!(!includes(&rooms, &opts));
    }
}

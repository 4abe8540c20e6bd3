//! Streams mode, as @socket.io/redis-streams-adapter 0.3.1, a transport of
//! the cluster protocol: durable messages are entries of a Redis stream
//! (read in `reader`), ephemeral requests go over pub/sub, and connection
//! state recovery works across nodes.
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
    sync::{Arc, Mutex, MutexGuard, Weak},
    time::{Duration, Instant},
};

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use bytes::Bytes;
use rally::{
    Room, Sid, SidMap,
    adapter::{AdapterContext, BroadcastOptions, BroadcastPacket, RestoredSession, SessionState},
};
use rally_cluster::{
    BoxFuture, ClusterAdapter, Fallback, Message, Response, Transport,
    wire::{self, Incoming, cluster_kind as kind},
};
use rally_proto::msgpack::{self, Value as Mp};
use serde_json::Value;

mod incoming;
mod reader;
mod recovery;

use reader::EntryId;
pub(crate) use reader::{Hub, stream_name};

use crate::connection::{Connection, Route, Sub};

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

/// The adapter of one namespace in streams mode.
pub(crate) type StreamsAdapter = ClusterAdapter<StreamsTransport>;

/// The streams mode's transport for one namespace.
pub(crate) struct StreamsTransport {
    conn: Arc<Connection>,
    hub: Arc<Hub>,
    channel: String,
    response_channel: String,
    restoring: Mutex<SidMap<Restoring>>,
}

/// The adapter of the namespace of `ctx` in streams mode; with connection
/// state recovery on (on the server), broadcasts carry their entry id as
/// offset and sessions are kept in Redis.
pub(crate) fn adapter(
    ctx: &AdapterContext,
    conn: Arc<Connection>,
    streams: &Streams,
    key: &str,
    timeout: Duration,
) -> Arc<StreamsAdapter> {
    let uid = wire::random_hex();
    let channel = format!("{key}#{}#", ctx.name());
    let transport = StreamsTransport {
        hub: streams.hub(&conn, ctx.name()),
        conn,
        response_channel: format!("{channel}{uid}#"),
        channel,
        restoring: Mutex::default(),
    };
    ClusterAdapter::new(ctx, uid, timeout, transport)
}

impl StreamsTransport {
    fn restoring(&self) -> MutexGuard<'_, SidMap<Restoring>> {
        self.restoring.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A durable message: an entry of the stream; `fallback` runs instead
    /// when it cannot reach Redis.
    fn append(&self, node: &StreamsAdapter, kind: i64, data: &Mp, fallback: Option<Fallback>) {
        let data = if kind == kind::BROADCAST && wire::has_binary(data) {
            BASE64.encode(msgpack::encode(data))
        } else {
            String::from_utf8(wire::json_text(data)).unwrap_or_default()
        };
        let mut cmd = redis::cmd("XADD");
        cmd.arg(self.hub.stream())
            .arg("MAXLEN")
            .arg("~")
            .arg(MAX_LEN)
            .arg("*")
            .arg("uid")
            .arg(node.uid())
            .arg("nsp")
            .arg(node.nsp())
            .arg("type")
            .arg(kind.to_string())
            .arg("data")
            .arg(data);
        self.conn.send(cmd, fallback);
    }

    /// An ephemeral message: MessagePack `{type, data, uid, nsp}` on pub/sub.
    fn publish_to(&self, node: &StreamsAdapter, channel: String, kind: i64, data: Option<Mp>) {
        let message = wire::envelope(kind, data, node.uid(), node.nsp());
        self.conn.publish(false, channel, msgpack::encode(&message));
    }
}

/// A broadcast packet of another node (or this one): the entry's namespace
/// is this one's, whatever the packet says.
fn packet_from(
    node: &StreamsAdapter,
    packet: &Value,
    attachments: &[Bytes],
) -> Option<BroadcastPacket> {
    wire::packet_in(packet, attachments, node.nsp(), None)
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

impl Transport for StreamsTransport {
    fn flush(&self) -> BoxFuture<()> {
        let link = self.conn.clone();
        Box::pin(async move { link.flush().await })
    }

    fn start(&self, node: &Arc<StreamsAdapter>) {
        // The stream's reader hands this namespace's entries here, and the
        // channels are subscribed.
        self.hub
            .adapters
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(node.nsp().to_owned(), node.weak());
        self.conn.add_route(Arc::downgrade(node) as Weak<dyn Route>);
        self.conn.subscribe(vec![
            Sub::Channel(self.channel.clone()),
            Sub::Channel(self.response_channel.clone()),
        ]);
    }

    fn publish(&self, node: &StreamsAdapter, message: Message<'_>) {
        let kind = message.kind();
        let data = message.data();
        match (message, data) {
            // Durable: broadcasts without acks, room changes, disconnections.
            (
                Message::Broadcast {
                    request_id: None,
                    fallback,
                    ..
                },
                Some(data),
            ) => self.append(node, kind, &data, fallback),
            (
                Message::SocketsJoin { .. }
                | Message::SocketsLeave { .. }
                | Message::DisconnectSockets { .. },
                Some(data),
            ) => self.append(node, kind, &data, None),
            (_, data) => self.publish_to(node, self.channel.clone(), kind, data),
        }
    }

    fn publish_response(&self, node: &StreamsAdapter, to: &str, response: Response) {
        let channel = format!("{}{to}#", self.channel);
        self.publish_to(node, channel, response.kind(), Some(response.into_data()));
    }

    fn server_count(&self, _node: &StreamsAdapter) -> BoxFuture<usize> {
        let (conn, channel) = (self.conn.clone(), self.channel.clone());
        Box::pin(async move { crate::numsub(&conn, "NUMSUB", &channel).await })
    }

    fn echoes_broadcasts(&self) -> bool {
        true
    }

    fn deliver(
        &self,
        node: &StreamsAdapter,
        packet: &BroadcastPacket,
        opts: &BroadcastOptions,
        offset: Option<&str>,
    ) {
        if let Some(id) = offset.and_then(EntryId::parse) {
            self.deliver_entry(node, id, packet, opts.clone());
        }
    }

    fn add_all(&self, node: &StreamsAdapter, id: Sid, rooms: &[Room]) -> bool {
        self.admit_restored(node, id, rooms)
    }

    fn persist_session(&self, node: &StreamsAdapter, session: SessionState) -> BoxFuture<()> {
        if let Some(recovery) = node.recovery() {
            let max = recovery.get_max_disconnection_duration();
            let mut cmd = redis::cmd("SET");
            cmd.arg(format!("{SESSION_PREFIX}{}", session.pid))
                .arg(encode_session(&session))
                .arg("PX")
                .arg(u64::try_from(max.as_millis()).unwrap_or(u64::MAX));
            self.conn.send(cmd, None);
        }
        Box::pin(async {})
    }

    fn restore_session(
        &self,
        node: &StreamsAdapter,
        pid: &str,
        offset: &str,
    ) -> BoxFuture<Option<RestoredSession>> {
        let Some(me) = node.weak().upgrade() else {
            return Box::pin(async { None });
        };
        let (pid, offset) = (pid.to_owned(), offset.to_owned());
        Box::pin(async move { me.transport().restore(&me, &pid, &offset).await })
    }

    /// A namespace that goes away stops listening.
    fn close(&self, node: &StreamsAdapter) {
        let _ = node;
        self.conn.unsubscribe(vec![
            Sub::Channel(self.channel.clone()),
            Sub::Channel(self.response_channel.clone()),
        ]);
    }
}

impl Route for StreamsAdapter {
    fn owns(&self, channel: &str) -> bool {
        let streams = self.transport();
        channel == streams.channel || channel == streams.response_channel
    }

    fn on_message(&self, _channel: &str, payload: Bytes) {
        if let Some(message) = Incoming::parse(&payload) {
            ClusterAdapter::on_message(self, message, None);
        }
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
        let data = Message::Broadcast {
            packet: &packet,
            opts: &opts,
            request_id: None,
            fallback: None,
        }
        .data()
        .unwrap();
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

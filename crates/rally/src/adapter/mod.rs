//! Where rooms live and how broadcasts find their sockets.
//!
//! Every namespace has an [`Adapter`]. The default, [`LocalAdapter`], keeps
//! rooms in memory for one process; a cluster adapter (Redis) implements
//! the same trait and also carries operations to the other nodes.

mod context;
mod error;
mod local;
mod store;

use std::{fmt, sync::Arc, time::Duration};

use rally_engine::Sid;
use tokio::sync::mpsc;

pub use context::AdapterContext;
pub use error::AdapterError;
pub use local::LocalAdapter;

use crate::{
    AckError, AckReply, Args, RecoveryLogSize, Room, encode::Encoded, namespace::BoxFuture,
};

/// How long a broadcast with acks waits when no timeout is set.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// Which sockets an operation reaches, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BroadcastOptions {
    /// Only sockets in at least one of these rooms; all when empty.
    pub rooms: Vec<Room>,
    /// Never sockets in these rooms.
    pub except: Vec<Room>,
    /// Only this node's sockets, even in a cluster.
    pub local: bool,
    /// May be dropped for a client that cannot take it now.
    pub volatile: bool,
    /// Whether the packet may be compressed (on by default; WebSocket
    /// connections with permessage-deflate send it uncompressed when off).
    pub compress: bool,
    /// How long a broadcast with acks waits.
    pub timeout: Option<Duration>,
}

impl Default for BroadcastOptions {
    fn default() -> Self {
        Self {
            rooms: Vec::new(),
            except: Vec::new(),
            local: false,
            volatile: false,
            compress: true,
            timeout: None,
        }
    }
}

impl BroadcastOptions {
    /// How each recipient's copy is queued.
    pub(crate) fn flags(&self) -> crate::socket::Flags {
        crate::socket::Flags {
            volatile: self.volatile,
            compress: self.compress,
        }
    }
}

/// A packet to broadcast: what it says, and its encoding, made once.
#[derive(Clone)]
pub struct BroadcastPacket {
    /// The namespace it goes to.
    pub nsp: String,
    /// The event name.
    pub event: String,
    /// Its arguments.
    pub args: Args,
    /// The ack id all recipients answer to, for a broadcast with acks.
    pub ack_id: Option<u64>,
    pub(crate) encoded: Encoded,
}

impl BroadcastPacket {
    /// The packet of event `event` with `args` for namespace `nsp`,
    /// encoded once; `ack_id` asks every recipient for an answer.
    ///
    /// A cluster adapter builds one from what another node sent.
    #[must_use]
    pub fn new(nsp: &str, event: &str, args: Args, ack_id: Option<u64>) -> Self {
        let encoded = Encoded::event(nsp, ack_id, event, &args).broadcast();
        Self {
            nsp: nsp.to_owned(),
            event: event.to_owned(),
            args,
            ack_id,
            encoded,
        }
    }
}

impl BroadcastPacket {
    /// Whether connection state recovery logs this packet and gives it an
    /// offset: neither volatile nor waiting for acks, as in the reference.
    #[must_use]
    pub fn is_recoverable(&self, opts: &BroadcastOptions) -> bool {
        self.ack_id.is_none() && !opts.volatile
    }

    /// The same packet with `offset` appended as its last argument: what a
    /// session-aware adapter sends and logs (the client remembers the last
    /// offset it saw and resumes from it).
    #[must_use]
    pub fn with_offset(&self, offset: &str) -> Self {
        let args = Args::raw_relay(
            &join_args(self.args.json(), &json_string(offset)),
            self.args.len() + 1,
            self.args.attachments().to_vec(),
        );
        Self::new(&self.nsp, &self.event, args, self.ack_id)
    }

    /// The packet as a recovered socket receives it again.
    #[must_use]
    pub fn to_missed(&self) -> MissedPacket {
        MissedPacket(self.encoded.clone())
    }
}

fn join_args(json: &str, last: &str) -> String {
    if json.is_empty() {
        last.to_owned()
    } else {
        format!("{json},{last}")
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""))
}

impl fmt::Debug for BroadcastPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastPacket")
            .field("nsp", &self.nsp)
            .field("event", &self.event)
            .field("args", &self.args)
            .field("ack_id", &self.ack_id)
            .finish()
    }
}

/// A packet that a recovered socket missed, encoded, ready to go out again
/// (offset included).
#[derive(Clone)]
pub struct MissedPacket(pub(crate) Encoded);

impl MissedPacket {
    /// An event of namespace `nsp` (its `args` ending with the offset), as
    /// a cluster adapter rebuilds it from its log.
    #[must_use]
    pub fn event(nsp: &str, event: &str, args: &Args) -> Self {
        Self(Encoded::event(nsp, None, event, args).broadcast())
    }
}

impl fmt::Debug for MissedPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MissedPacket").field(&self.0.text).finish()
    }
}

/// What connection state recovery keeps of a socket that disconnected for
/// a recoverable reason (the reference's `{sid, pid, rooms, data}`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SessionState {
    /// The socket id it gets back.
    pub sid: Sid,
    /// Its private session id, which the client sends back as `pid`.
    pub pid: Arc<str>,
    /// Its rooms (its own id's room included).
    pub rooms: Vec<Room>,
    /// Its data.
    pub data: serde_json::Value,
}

impl SessionState {
    /// A session to keep.
    #[must_use]
    pub fn new(sid: Sid, pid: Arc<str>, rooms: Vec<Room>, data: serde_json::Value) -> Self {
        Self {
            sid,
            pid,
            rooms,
            data,
        }
    }
}

/// A session given back, with what it missed in order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RestoredSession {
    /// The session as it was kept.
    pub session: SessionState,
    /// The packets for its rooms broadcast after the client's offset.
    pub missed: Vec<MissedPacket>,
}

impl RestoredSession {
    /// A restored session.
    #[must_use]
    pub fn new(session: SessionState, missed: Vec<MissedPacket>) -> Self {
        Self { session, missed }
    }
}

/// A socket as [`fetch_sockets`](crate::BroadcastOperator::fetch_sockets)
/// describes it: on this node or another.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SocketInfo {
    /// Its id.
    pub id: Sid,
    /// Its rooms.
    pub rooms: Vec<Room>,
    /// Its data (see [`Socket::set_data`](crate::Socket::set_data)).
    pub data: serde_json::Value,
    /// Its handshake, as JSON in the reference's shape.
    pub handshake: serde_json::Value,
}

impl SocketInfo {
    /// A description of socket `id` (for adapters that receive one from
    /// another node).
    #[must_use]
    pub fn new(
        id: Sid,
        rooms: Vec<Room>,
        data: serde_json::Value,
        handshake: serde_json::Value,
    ) -> Self {
        Self {
            id,
            rooms,
            data,
            handshake,
        }
    }
}

/// A change of rooms, as the reference's adapter events.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoomEvent {
    /// A room got its first member (`create-room`).
    CreateRoom(Room),
    /// A socket joined a room (`join-room`).
    JoinRoom(Room, Sid),
    /// A socket left a room (`leave-room`).
    LeaveRoom(Room, Sid),
    /// A room lost its last member (`delete-room`).
    DeleteRoom(Room),
}

/// The rooms of one namespace, and the delivery of what targets them.
///
/// Local operations are synchronous; those that need other nodes' answers
/// return futures, so a cluster adapter slots in without changing callers.
///
/// The local half (this node's rooms: [`add_all`](Self::add_all),
/// [`del`](Self::del), [`del_all`](Self::del_all),
/// [`socket_rooms`](Self::socket_rooms), [`targets`](Self::targets),
/// [`on_room_event`](Self::on_room_event)) delegates by default to the
/// [`LocalAdapter`] that [`local`](Self::local) gives: a cluster adapter
/// keeps this node's rooms in one and writes only the cluster half.
pub trait Adapter: Send + Sync + 'static {
    /// This node's rooms and sockets, which the local half of this trait
    /// works on by default. ([`LocalAdapter`] gives itself and implements
    /// the local half itself.)
    fn local(&self) -> &LocalAdapter;
    /// Adds socket `id` to `rooms`.
    fn add_all(&self, id: Sid, rooms: &[Room]) {
        self.local().add_all(id, rooms);
    }
    /// Removes socket `id` from `room`.
    fn del(&self, id: Sid, room: &str) {
        self.local().del(id, room);
    }
    /// Removes socket `id` from every room.
    fn del_all(&self, id: Sid) {
        self.local().del_all(id);
    }
    /// The rooms socket `id` is in.
    fn socket_rooms(&self, id: Sid) -> Vec<Room> {
        self.local().socket_rooms(id)
    }
    /// The local sockets `opts` reaches, each once.
    fn targets(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        self.local().targets(opts)
    }
    /// Delivers `packet` to the sockets `opts` reaches (and, in a cluster,
    /// asks the other nodes to do the same unless `opts.local`).
    fn broadcast(&self, packet: &BroadcastPacket, opts: &BroadcastOptions);
    /// Describes the sockets `opts` reaches, on every node.
    ///
    /// A cluster adapter fails with [`AdapterError::Timeout`] when a node
    /// does not answer in time.
    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<Result<Vec<SocketInfo>, AdapterError>>;
    /// Makes the sockets `opts` reaches join `rooms`, on every node.
    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]);
    /// Makes the sockets `opts` reaches leave `rooms`, on every node.
    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]);
    /// Disconnects the sockets `opts` reaches, on every node.
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool);
    /// Every room with at least one member, on every node.
    fn rooms(&self) -> BoxFuture<Result<Vec<Room>, AdapterError>>;
    /// How many nodes share this namespace (1 without a cluster).
    fn server_count(&self) -> BoxFuture<usize>;
    /// Calls `listener` on every room change of this node.
    fn on_room_event(&self, listener: Box<dyn Fn(&RoomEvent) + Send + Sync>) {
        self.local().on_room_event(listener);
    }
    /// Delivers `packet` (which carries an ack id) to the sockets `opts`
    /// reaches, on every node unless `opts.local`, and streams back how
    /// many clients each node reached and their answers, until
    /// `opts.timeout` (5 s when unset) has passed.
    fn broadcast_with_ack(&self, packet: &BroadcastPacket, opts: &BroadcastOptions) -> AckStream;
    /// Hands the server-side event `data` (the event name, then its
    /// arguments) to the other nodes (the reference's `serverSideEmit`);
    /// without other nodes, it goes nowhere.
    fn server_side_emit(&self, data: Vec<serde_json::Value>) {
        let _ = data;
    }
    /// Hands the server-side event `data` to the other nodes and gathers
    /// one answer from each (the reference's `serverSideEmitWithAck`);
    /// without other nodes, there are no answers.
    fn server_side_emit_with_ack(
        &self,
        data: Vec<serde_json::Value>,
    ) -> BoxFuture<Result<Vec<serde_json::Value>, AdapterError>> {
        let _ = data;
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Connection state recovery: keeps `session` of a socket that left for
    /// a recoverable reason, for at most `maxDisconnectionDuration`. An
    /// adapter without recovery support drops it (the default).
    ///
    /// A session-aware adapter also owns the offsets: its
    /// [`broadcast`](Self::broadcast) appends one to every packet that
    /// [`is_recoverable`](BroadcastPacket::is_recoverable) (see
    /// [`BroadcastPacket::with_offset`]) and logs it.
    fn persist_session(&self, session: SessionState) -> BoxFuture<()> {
        drop(session);
        Box::pin(async {})
    }

    /// Connection state recovery: gives back (once) the session `pid` with
    /// the packets broadcast to its rooms after `offset`, or `None` when it
    /// is unknown, expired, or some of what it missed is gone (the client
    /// then gets a fresh session). The default supports no recovery.
    fn restore_session(&self, pid: &str, offset: &str) -> BoxFuture<Option<RestoredSession>> {
        let _ = (pid, offset);
        Box::pin(async { None })
    }

    /// How much the adapter keeps for recovery on this node (zero without
    /// recovery support).
    fn recovery_log_size(&self) -> RecoveryLogSize {
        RecoveryLogSize::default()
    }

    /// Resolves once what the adapter queued for the other nodes so far
    /// (broadcasts, session records of [`persist_session`](Self::persist_session))
    /// went out, or failed to. [`Server::close`](crate::Server::close)
    /// waits for it after its sockets left and before their clients hear
    /// of the close, so that a client reconnecting at once to another node
    /// finds its session there. Nothing to wait for by default.
    fn flush(&self) -> BoxFuture<()> {
        Box::pin(async {})
    }
}

/// What a broadcast with acks yields, as it comes: the answers of every
/// node's clients. It ends when every node that took part is done.
pub type AckStream = mpsc::UnboundedReceiver<AckEvent>;

/// One step of a broadcast with acks.
#[derive(Debug)]
#[non_exhaustive]
pub enum AckEvent {
    /// A node reached this many clients: as many answers (or failures)
    /// are due from it.
    Targeted(usize),
    /// A client's answer: with its id for a socket of this node, without
    /// for one of another node (whose failures are not reported, only
    /// missing).
    Reply(Option<Sid>, Result<AckReply, AckError>),
}

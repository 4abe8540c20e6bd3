#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod acks;
mod adapter;
mod heartbeat;
mod incoming;
mod message;
mod pending;
pub mod wire;

pub use adapter::ClusterAdapter;
pub use heartbeat::Heartbeat;
pub use message::{Answer, Message, Response};
pub use pending::Request;

use std::{future::Future, pin::Pin};

use rally::adapter::{Adapter, BroadcastOptions, BroadcastPacket, RestoredSession, SessionState};

/// A boxed future, as the [`Adapter`] trait returns.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What a transport runs instead when a message could not reach the other
/// nodes (the streams mode delivers a broadcast here at once).
pub type Fallback = Box<dyn FnOnce() + Send>;

/// How the messages of one namespace's [`ClusterAdapter`] travel between
/// nodes: the one part each engine (Redis pub/sub, Redis streams, Postgres
/// LISTEN/NOTIFY) writes for itself.
///
/// The adapter calls it to send; the transport hands what it receives to
/// [`ClusterAdapter::on_message`] (messages of the cluster protocol) or to
/// the adapter's typed entry points (a transport with a protocol of its own).
/// Every method gets the adapter (`node`) it serves.
pub trait Transport: Send + Sync + Sized + 'static {
    /// Called once, when the adapter exists: subscribe, register routes.
    fn start(&self, node: &std::sync::Arc<ClusterAdapter<Self>>) {
        let _ = node;
    }

    /// Sends `message` to every other node of the namespace.
    fn publish(&self, node: &ClusterAdapter<Self>, message: Message<'_>);

    /// Sends `response` to node `to` alone (or to every node, where the
    /// engine cannot address one).
    fn publish_response(&self, node: &ClusterAdapter<Self>, to: &str, response: Response);

    /// How many nodes serve the namespace, this one included, as the engine
    /// counts them (1 by default; unused with [heartbeats](Self::heartbeat)).
    fn server_count(&self, node: &ClusterAdapter<Self>) -> BoxFuture<usize> {
        let _ = node;
        Box::pin(async { 1 })
    }

    /// Whether nodes count each other by heartbeats (socket.io-adapter's
    /// `ClusterAdapterWithHeartbeat`): then the adapter announces itself,
    /// sends heartbeats when it is quiet (the transport calls
    /// [`ClusterAdapter::heartbeat_tick`] every [`Heartbeat::tick`]), says
    /// goodbye when it goes, and counts the nodes it hears of. `None` (the
    /// default): the engine counts them ([`server_count`](Self::server_count)).
    fn heartbeat(&self) -> Option<Heartbeat> {
        None
    }

    /// Whether a broadcast comes back to this node through the transport
    /// (then it is delivered here when it does, in the order every node
    /// sees, and [`Message::Broadcast`] carries a [`Fallback`] for when it
    /// cannot be sent); false by default: delivered here at once.
    fn echoes_broadcasts(&self) -> bool {
        false
    }

    /// Delivers another node's broadcast (or, when it
    /// [echoes](Self::echoes_broadcasts), this node's own) to this node's
    /// sockets; `offset` is its position in the transport's log, if it has
    /// one. By default, to the local adapter.
    fn deliver(
        &self,
        node: &ClusterAdapter<Self>,
        packet: &BroadcastPacket,
        opts: &BroadcastOptions,
        offset: Option<&str>,
    ) {
        let _ = offset;
        node.local().broadcast(packet, opts);
    }

    /// Lets the transport add socket `id` to `rooms` itself (true when it
    /// did): the streams mode admits a socket it restored here.
    fn add_all(&self, node: &ClusterAdapter<Self>, id: rally::Sid, rooms: &[rally::Room]) -> bool {
        let _ = (node, id, rooms);
        false
    }

    /// Every room of every node, when the engine can ask for it directly;
    /// `None` (the default) gathers them from every node's sockets.
    fn rooms(
        &self,
        node: &ClusterAdapter<Self>,
    ) -> Option<BoxFuture<Result<Vec<rally::Room>, rally::AdapterError>>> {
        let _ = node;
        None
    }

    /// Connection state recovery across nodes: keeps `session`. None by
    /// default (the session is dropped).
    fn persist_session(&self, node: &ClusterAdapter<Self>, session: SessionState) -> BoxFuture<()> {
        let _ = (node, session);
        Box::pin(async {})
    }

    /// Connection state recovery across nodes: gives back session `pid`
    /// with what it missed after `offset`. None by default.
    fn restore_session(
        &self,
        node: &ClusterAdapter<Self>,
        pid: &str,
        offset: &str,
    ) -> BoxFuture<Option<RestoredSession>> {
        let _ = (node, pid, offset);
        Box::pin(async { None })
    }

    /// Resolves once what was sent so far went out (see
    /// [`Adapter::flush`]). Nothing to wait for by
    /// default.
    fn flush(&self) -> BoxFuture<()> {
        Box::pin(async {})
    }

    /// A fresh id for a request (and, once, for the node): 16 hexadecimal
    /// digits by default, as the reference's `randomId`.
    fn new_id(&self) -> String {
        wire::random_hex()
    }

    /// Called when the adapter goes away (its namespace was removed):
    /// unsubscribe, say goodbye.
    fn close(&self, node: &ClusterAdapter<Self>) {
        let _ = node;
    }
}

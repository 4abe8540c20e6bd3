//! The adapter of one namespace on a cluster: this node's rooms in a
//! [`LocalAdapter`], every operation also carried to the other nodes by a
//! [`Transport`].

use std::{
    fmt,
    sync::{Arc, Weak},
    time::Duration,
};

use rally::{
    AdapterError, ConnectionStateRecovery, Namespace, Room, Sid,
    adapter::{
        AckStream, Adapter, AdapterContext, BroadcastOptions, BroadcastPacket, LocalAdapter,
        RestoredSession, SessionState, SocketInfo,
    },
};
use serde_json::Value;

use crate::{
    Answer, BoxFuture, Message, Request, Transport, acks, heartbeat::Nodes, pending::Pending,
};

/// The adapter of one namespace on a cluster (socket.io-adapter's
/// `ClusterAdapter`): the protocol, written once, over a [`Transport`].
///
/// Local operations go to this node's [`LocalAdapter`]; broadcasts, room
/// changes and disconnections are also sent to the other nodes (unless
/// local), and `fetch_sockets`, server-side events with acks and broadcasts
/// with acks gather the other nodes' answers.
pub struct ClusterAdapter<T: Transport> {
    me: Weak<Self>,
    local: LocalAdapter,
    ns: Weak<Namespace>,
    nsp: String,
    uid: String,
    pending: Pending,
    timeout: Duration,
    recovery: Option<ConnectionStateRecovery>,
    /// The other nodes, when they are counted by heartbeats.
    nodes: Option<Nodes>,
    transport: T,
}

impl<T: Transport> ClusterAdapter<T> {
    /// The adapter of the namespace of `ctx`, node id `uid`; requests to
    /// other nodes wait at most `timeout` (`requestsTimeout`). The
    /// transport is [started](Transport::start) before this returns.
    pub fn new(ctx: &AdapterContext, uid: String, timeout: Duration, transport: T) -> Arc<Self> {
        let adapter = Arc::new_cyclic(|me| Self {
            me: me.clone(),
            local: LocalAdapter::new(ctx.namespace()),
            ns: ctx.namespace(),
            nsp: ctx.name().to_owned(),
            uid,
            pending: Pending::default(),
            timeout,
            recovery: ctx.connection_state_recovery().cloned(),
            nodes: transport.heartbeat().map(Nodes::new),
            transport,
        });
        adapter.transport.start(&adapter);
        if adapter.nodes.is_some() {
            adapter.publish(Message::InitialHeartbeat);
        }
        adapter
    }

    /// With [heartbeats](Transport::heartbeat): announces this node again
    /// (`INITIAL_HEARTBEAT`, which every node answers), for a transport
    /// that starts listening only after the adapter is made, or listens
    /// again after an outage, so that it hears the answers.
    pub fn announce(&self) {
        if self.nodes.is_some() {
            self.publish(Message::InitialHeartbeat);
        }
    }

    /// With [heartbeats](Transport::heartbeat): forgets the nodes not heard
    /// of for the timeout, and sends a heartbeat when this node has been
    /// quiet for the interval. The transport calls it every
    /// [`Heartbeat::tick`](crate::Heartbeat::tick).
    pub fn heartbeat_tick(&self) {
        if self.nodes.as_ref().is_some_and(Nodes::tick) {
            self.publish(Message::Heartbeat);
        }
    }

    /// With heartbeats: what a message from node `from` of type `kind`
    /// tells about the nodes; true when that is all it carries.
    pub(crate) fn on_heartbeat(&self, from: &str, kind: i64) -> bool {
        use crate::wire::cluster_kind as k;
        let Some(nodes) = &self.nodes else {
            return false;
        };
        nodes.seen(from);
        match kind {
            k::INITIAL_HEARTBEAT => self.publish(Message::Heartbeat),
            k::HEARTBEAT => {}
            k::ADAPTER_CLOSE => nodes.remove(from),
            _ => return false,
        }
        true
    }

    /// This node's rooms and sockets.
    #[must_use]
    pub fn local(&self) -> &LocalAdapter {
        &self.local
    }

    /// The namespace's name.
    #[must_use]
    pub fn nsp(&self) -> &str {
        &self.nsp
    }

    /// This node's id in the cluster (`uid`).
    #[must_use]
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The namespace, while it exists.
    #[must_use]
    pub fn namespace(&self) -> Option<Arc<Namespace>> {
        self.ns.upgrade()
    }

    /// The transport.
    #[must_use]
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// A weak handle on this adapter (for the transport's routes and tasks).
    #[must_use]
    pub fn weak(&self) -> Weak<Self> {
        self.me.clone()
    }

    /// The server's connection state recovery settings, when it is on.
    #[must_use]
    pub fn recovery(&self) -> Option<&ConnectionStateRecovery> {
        self.recovery.as_ref()
    }

    /// How long requests to other nodes wait (`requestsTimeout`).
    #[must_use]
    pub fn requests_timeout(&self) -> Duration {
        self.timeout
    }

    /// Starts a request: its answers, handed over by
    /// [`answer`](Self::answer), are kept for it until it is dropped.
    #[must_use]
    pub fn open_request(&self) -> Request {
        self.pending.open(self.transport.new_id())
    }

    /// Whether `request_id` is one of this node's requests in flight.
    #[must_use]
    pub fn is_own_request(&self, request_id: &str) -> bool {
        self.pending.contains(request_id)
    }

    /// Hands another node's answer to request `request_id`, if this node
    /// waits for it.
    pub fn answer(&self, request_id: &str, answer: Answer) {
        self.pending.answer(request_id, None, answer);
    }

    /// [`answer`](Self::answer), from node `from`.
    pub(crate) fn answer_from(&self, request_id: &str, from: &str, answer: Answer) {
        self.pending
            .answer(request_id, Some(from.to_owned()), answer);
    }

    /// Sends a request every other node answers (`publish` sends it, given
    /// the request id) and gathers the answers `keep` accepts, one per
    /// node. With [heartbeats](Transport::heartbeat), the nodes waited for
    /// are those known when it is sent, and one that goes away meanwhile is
    /// no longer waited for.
    ///
    /// # Errors
    ///
    /// [`AdapterError::Timeout`] when some node does not answer within
    /// [`requests_timeout`](Self::requests_timeout).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future forgets the request.
    pub async fn ask(
        &self,
        publish: impl FnOnce(&str),
        operation: &'static str,
        keep: impl Fn(&Answer) -> bool,
    ) -> Result<Vec<Answer>, AdapterError> {
        if let Some(nodes) = &self.nodes {
            let waiting = nodes.uids();
            if waiting.is_empty() {
                return Ok(Vec::new());
            }
            let request = self.open_request();
            publish(request.id());
            let knows = |uid: &str| nodes.knows(uid);
            return request
                .gather_from(waiting, knows, self.timeout, operation, keep)
                .await;
        }
        let nodes = self.transport.server_count(self).await;
        if nodes <= 1 {
            return Ok(Vec::new());
        }
        let request = self.open_request();
        publish(request.id());
        request
            .gather(nodes - 1, self.timeout, operation, keep)
            .await
    }

    fn publish(&self, message: Message<'_>) {
        if let Some(nodes) = &self.nodes {
            nodes.published();
        }
        self.transport.publish(self, message);
    }
}

impl<T: Transport> Drop for ClusterAdapter<T> {
    /// A namespace that goes away (a dynamic one left empty) leaves the
    /// cluster.
    fn drop(&mut self) {
        if self.nodes.is_some() {
            self.publish(Message::AdapterClose);
        }
        self.transport.close(self);
    }
}

impl<T: Transport> fmt::Debug for ClusterAdapter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterAdapter")
            .field("nsp", &self.nsp)
            .field("uid", &self.uid)
            .finish_non_exhaustive()
    }
}

impl<T: Transport> Adapter for ClusterAdapter<T> {
    // The rest of the local half (leaving rooms, a socket's rooms, targets,
    // room events) delegates to the local adapter by default.
    fn local(&self) -> &LocalAdapter {
        &self.local
    }

    fn add_all(&self, id: Sid, rooms: &[Room]) {
        if !self.transport.add_all(self, id, rooms) {
            self.local.add_all(id, rooms);
        }
    }

    fn broadcast(&self, packet: &BroadcastPacket, opts: &BroadcastOptions) {
        if opts.local {
            return self.local.broadcast(packet, opts);
        }
        if !self.transport.echoes_broadcasts() {
            self.publish(Message::Broadcast {
                packet,
                opts,
                request_id: None,
                fallback: None,
            });
            return self.local.broadcast(packet, opts);
        }
        // Delivered here when it comes back; when it cannot be sent,
        // delivered here at once (and lost elsewhere).
        let me = self.me.clone();
        let (owned_packet, owned_opts) = (packet.clone(), opts.clone());
        let fallback = Box::new(move || {
            if let Some(me) = me.upgrade() {
                me.local.broadcast(&owned_packet, &owned_opts);
            }
        });
        self.publish(Message::Broadcast {
            packet,
            opts,
            request_id: None,
            fallback: Some(fallback),
        });
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
            let publish = |id: &str| {
                me.publish(Message::FetchSockets {
                    opts: &opts,
                    request_id: id,
                });
            };
            let keep = |a: &Answer| matches!(a, Answer::Sockets(_));
            for answer in me.ask(publish, "fetchSockets", keep).await? {
                if let Answer::Sockets(remote) = answer {
                    sockets.extend(remote);
                }
            }
            Ok(sockets)
        })
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if !opts.local {
            self.publish(Message::SocketsJoin { opts, rooms });
        }
        self.local.add_sockets(opts, rooms);
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        if !opts.local {
            self.publish(Message::SocketsLeave { opts, rooms });
        }
        self.local.del_sockets(opts, rooms);
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if !opts.local {
            self.publish(Message::DisconnectSockets { opts, close });
        }
        self.local.disconnect_sockets(opts, close);
    }

    fn rooms(&self) -> BoxFuture<Result<Vec<Room>, AdapterError>> {
        if let Some(rooms) = self.transport.rooms(self) {
            return rooms;
        }
        // The cluster protocol has no "all rooms" request: the rooms of
        // every node are those of the sockets every node reports.
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
        match &self.nodes {
            Some(nodes) => {
                let count = 1 + nodes.count();
                Box::pin(async move { count })
            }
            None => self.transport.server_count(self),
        }
    }

    fn broadcast_with_ack(&self, packet: &BroadcastPacket, opts: &BroadcastOptions) -> AckStream {
        let local = self.local.broadcast_with_ack(packet, opts);
        if opts.local {
            return local;
        }
        let remote = self.open_request();
        self.publish(Message::Broadcast {
            packet,
            opts,
            request_id: Some(remote.id()),
            fallback: None,
        });
        let timeout = opts.timeout.unwrap_or(rally::adapter::DEFAULT_ACK_TIMEOUT);
        acks::merge(local, remote, timeout)
    }

    fn server_side_emit(&self, data: Vec<Value>) {
        self.publish(Message::ServerSideEmit {
            data: &data,
            request_id: None,
        });
    }

    fn server_side_emit_with_ack(
        &self,
        data: Vec<Value>,
    ) -> BoxFuture<Result<Vec<Value>, AdapterError>> {
        let Some(me) = self.me.upgrade() else {
            return Box::pin(async { Ok(Vec::new()) });
        };
        Box::pin(async move {
            let publish = |id: &str| {
                me.publish(Message::ServerSideEmit {
                    data: &data,
                    request_id: Some(id),
                });
            };
            let keep = |a: &Answer| matches!(a, Answer::Value(_));
            let answers = me.ask(publish, "serverSideEmit", keep).await?;
            Ok(answers
                .into_iter()
                .filter_map(|a| match a {
                    Answer::Value(value) => Some(value),
                    _ => None,
                })
                .collect())
        })
    }

    fn persist_session(&self, session: SessionState) -> BoxFuture<()> {
        self.transport.persist_session(self, session)
    }

    fn restore_session(&self, pid: &str, offset: &str) -> BoxFuture<Option<RestoredSession>> {
        self.transport.restore_session(self, pid, offset)
    }

    fn flush(&self) -> BoxFuture<()> {
        self.transport.flush()
    }
}

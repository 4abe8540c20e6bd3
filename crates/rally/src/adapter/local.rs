use std::{
    collections::{HashMap, HashSet},
    fmt,
    sync::{
        Arc, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak,
        atomic::{AtomicBool, Ordering},
    },
};

use rally_engine::{Sid, SidMap, SidSet};

use super::{
    AckEvent, AckStream, Adapter, AdapterError, BroadcastOptions, BroadcastPacket, RestoredSession,
    RoomEvent, SessionState, SocketInfo, store::Store,
};
use crate::{
    AckError, ConnectionStateRecovery, DisconnectReason, Namespace, RecoveryLogSize, Room,
    namespace::BoxFuture,
};

type RoomListener = Arc<dyn Fn(&RoomEvent) + Send + Sync>;

#[derive(Default)]
struct Rooms {
    members: HashMap<Room, SidSet>,
    by_socket: SidMap<HashSet<Room>>,
}

/// The in-memory adapter: rooms of one process.
///
/// Made [`with_recovery`](Self::with_recovery), it also supports connection
/// state recovery: it gives every recoverable packet an offset, logs it, and
/// keeps the sessions of sockets that left for a recoverable reason, all in
/// memory, bounded by `maxDisconnectionDuration` and by
/// [`max_log_bytes`](ConnectionStateRecovery::max_log_bytes), and pruned
/// continuously (on every broadcast and disconnection, and by a timer).
/// Broadcasts of one namespace are then delivered one at a time, so every
/// socket receives them in log order.
pub struct LocalAdapter {
    ns: Weak<Namespace>,
    rooms: RwLock<Rooms>,
    listeners: RwLock<Vec<RoomListener>>,
    recovery: Option<Arc<Store>>,
    pruning: AtomicBool,
}

impl LocalAdapter {
    /// The adapter of namespace `ns`.
    #[must_use]
    pub fn new(ns: Weak<Namespace>) -> Self {
        Self {
            ns,
            rooms: RwLock::default(),
            listeners: RwLock::default(),
            recovery: None,
            pruning: AtomicBool::new(false),
        }
    }

    /// The adapter of namespace `ns`, with connection state recovery.
    #[must_use]
    pub fn with_recovery(ns: Weak<Namespace>, config: ConnectionStateRecovery) -> Self {
        Self {
            recovery: Some(Arc::new(Store::new(config))),
            ..Self::new(ns)
        }
    }

    /// Prunes `store` every so often while it lives, in a task of the
    /// runtime of its first use (outside one, pruning happens on use).
    fn ensure_pruning(&self, store: &Arc<Store>) {
        if self.pruning.load(Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.pruning.swap(true, Ordering::Relaxed) {
            return;
        }
        let period = (store.max_age() / 4).clamp(
            std::time::Duration::from_millis(50),
            std::time::Duration::from_secs(1),
        );
        let store = Arc::downgrade(store);
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(store) = store.upgrade() else { return };
                let mut state = store.lock();
                store.prune(&mut state, std::time::Instant::now());
            }
        });
    }

    fn deliver(&self, ns: &Namespace, packet: &BroadcastPacket, opts: &BroadcastOptions) {
        let watched = ns.watches_outgoing();
        for socket in self.sockets(opts) {
            if watched {
                ns.outgoing(&socket, &packet.event, &packet.args);
            }
            let _ = socket.send_encoded(&packet.encoded, opts.flags());
        }
    }

    /// Logs a recoverable packet and queues it for its targets under the
    /// log's lock, so that every socket gets packets in log order. Nothing
    /// that may call back into the adapter runs under the lock: slow
    /// clients are disconnected and `on_any_outgoing` runs after it.
    fn deliver_logged(
        &self,
        ns: &Namespace,
        store: &Store,
        packet: &BroadcastPacket,
        opts: &BroadcastOptions,
    ) {
        let (packet, sockets, slow) = {
            let mut state = store.lock();
            let packet = packet.with_offset(&store.next_offset(&state));
            store.append(&mut state, opts, &packet.encoded);
            let sockets = self.sockets(opts);
            let slow: Vec<Arc<crate::Socket>> = sockets
                .iter()
                .filter(|socket| !socket.queue_encoded(&packet.encoded, opts.compress))
                .cloned()
                .collect();
            (packet, sockets, slow)
        };
        for socket in slow {
            socket.client.disconnect_slow();
        }
        if ns.watches_outgoing() {
            for socket in &sockets {
                ns.outgoing(socket, &packet.event, &packet.args);
            }
        }
    }

    /// Adds `id` to `rooms`; returns the room events for [`emit`](Self::emit).
    fn add_rooms(&self, id: Sid, rooms: &[Room]) -> Vec<RoomEvent> {
        let mut events = Vec::new();
        {
            let mut state = self.write();
            for room in rooms {
                let members = state.members.entry(room.clone()).or_insert_with(|| {
                    events.push(RoomEvent::CreateRoom(room.clone()));
                    SidSet::default()
                });
                if members.insert(id) {
                    events.push(RoomEvent::JoinRoom(room.clone(), id));
                }
                state.by_socket.entry(id).or_default().insert(room.clone());
            }
        }
        events
    }

    fn read(&self) -> RwLockReadGuard<'_, Rooms> {
        self.rooms.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Rooms> {
        self.rooms.write().unwrap_or_else(|e| e.into_inner())
    }

    fn emit(&self, events: Vec<RoomEvent>) {
        if events.is_empty() {
            return;
        }
        let listeners = self
            .listeners
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for event in &events {
            for listener in &listeners {
                listener(event);
            }
        }
    }

    fn remove(rooms: &mut Rooms, id: Sid, room: &str, events: &mut Vec<RoomEvent>) {
        if let Some(members) = rooms.members.get_mut(room) {
            if members.remove(&id) {
                events.push(RoomEvent::LeaveRoom(Room::from(room), id));
            }
            if members.is_empty() {
                rooms.members.remove(room);
                events.push(RoomEvent::DeleteRoom(Room::from(room)));
            }
        }
    }

    /// The local sockets `opts` reaches.
    fn sockets(&self, opts: &BroadcastOptions) -> Vec<Arc<crate::Socket>> {
        let Some(ns) = self.ns.upgrade() else {
            return Vec::new();
        };
        ns.sockets_by_id(&self.targets(opts))
    }
}

impl Adapter for LocalAdapter {
    fn local(&self) -> &LocalAdapter {
        self
    }

    fn add_all(&self, id: Sid, rooms: &[Room]) {
        let Some(store) = &self.recovery else {
            return self.emit(self.add_rooms(id, rooms));
        };
        // A restored socket joins its rooms and gets what was broadcast to
        // them since its restore under the log's lock: nothing slips
        // between the replay and live delivery, nothing comes twice.
        let mut state = store.lock();
        let Some(held) = Store::take_held(&mut state, id) else {
            drop(state);
            return self.emit(self.add_rooms(id, rooms));
        };
        let mut events = self.add_rooms(id, rooms);
        let socket = self.ns.upgrade().and_then(|ns| ns.get_socket(id));
        let mut slow = None;
        if let Some(socket) = socket {
            events.extend(self.add_rooms(id, &held.rooms));
            if held.overflowed
                || !held
                    .buffer
                    .iter()
                    .all(|packet| socket.queue_encoded(packet, true))
            {
                slow = Some(socket);
            }
        }
        drop(state);
        if let Some(socket) = slow {
            socket.client.disconnect_slow();
        }
        self.emit(events);
    }

    fn del(&self, id: Sid, room: &str) {
        let mut events = Vec::new();
        {
            let mut state = self.write();
            if let Some(rooms) = state.by_socket.get_mut(&id) {
                rooms.remove(room);
            }
            Self::remove(&mut state, id, room, &mut events);
        }
        self.emit(events);
    }

    fn del_all(&self, id: Sid) {
        let mut events = Vec::new();
        {
            let mut state = self.write();
            for room in state.by_socket.remove(&id).unwrap_or_default() {
                Self::remove(&mut state, id, &room, &mut events);
            }
        }
        self.emit(events);
    }

    fn socket_rooms(&self, id: Sid) -> Vec<Room> {
        self.read()
            .by_socket
            .get(&id)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn targets(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        let state = self.read();
        let excluded: SidSet = opts
            .except
            .iter()
            .filter_map(|room| state.members.get(room))
            .flatten()
            .copied()
            .collect();
        if opts.rooms.is_empty() {
            return state
                .by_socket
                .keys()
                .filter(|id| !excluded.contains(id))
                .copied()
                .collect();
        }
        if let [room] = opts.rooms.as_slice() {
            return state.members.get(room).map_or_else(Vec::new, |members| {
                members
                    .iter()
                    .filter(|id| !excluded.contains(id))
                    .copied()
                    .collect()
            });
        }
        let mut seen = HashSet::new();
        opts.rooms
            .iter()
            .filter_map(|room| state.members.get(room))
            .flatten()
            .filter(|id| !excluded.contains(id) && seen.insert(**id))
            .copied()
            .collect()
    }

    fn broadcast(&self, packet: &BroadcastPacket, opts: &BroadcastOptions) {
        let Some(ns) = self.ns.upgrade() else { return };
        match &self.recovery {
            Some(store) if packet.is_recoverable(opts) => {
                self.deliver_logged(&ns, store, packet, opts);
                self.ensure_pruning(store);
            }
            _ => self.deliver(&ns, packet, opts),
        }
    }

    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<Result<Vec<SocketInfo>, AdapterError>> {
        let sockets = self.sockets(&opts);
        let infos = sockets
            .iter()
            .map(|socket| SocketInfo {
                id: socket.id(),
                rooms: socket.rooms(),
                data: crate::admin::described_data(socket),
                handshake: crate::operators::handshake_json(socket),
            })
            .collect();
        Box::pin(async move { Ok(infos) })
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for id in self.targets(opts) {
            self.add_all(id, rooms);
        }
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for id in self.targets(opts) {
            for room in rooms {
                self.del(id, room);
            }
        }
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        for socket in self.sockets(opts) {
            if close {
                socket.client.disconnect_all();
            } else {
                socket.leave_namespace(DisconnectReason::ServerNamespaceDisconnect, true);
            }
        }
    }

    fn rooms(&self) -> BoxFuture<Result<Vec<Room>, AdapterError>> {
        let rooms = self.read().members.keys().cloned().collect();
        Box::pin(async move { Ok(rooms) })
    }

    fn server_count(&self) -> BoxFuture<usize> {
        Box::pin(async { 1 })
    }

    fn on_room_event(&self, listener: Box<dyn Fn(&RoomEvent) + Send + Sync>) {
        self.listeners
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::from(listener));
    }

    fn broadcast_with_ack(&self, packet: &BroadcastPacket, opts: &BroadcastOptions) -> AckStream {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let Some(id) = packet.ack_id else {
            let _ = tx.send(AckEvent::Targeted(0));
            return rx;
        };
        let watched = self.ns.upgrade().is_some_and(|ns| ns.watches_outgoing());
        let mut waiting = Vec::new();
        let mut refused = Vec::new();
        for socket in self.sockets(opts) {
            // A socket owing too many acks already answers with the error.
            let ack = match socket.register_ack(id) {
                Ok(ack) => ack,
                Err(e) => {
                    refused.push((socket.id(), e));
                    continue;
                }
            };
            if watched {
                socket.ns().outgoing(&socket, &packet.event, &packet.args);
            }
            if socket.send_encoded(&packet.encoded, opts.flags()).is_ok() {
                waiting.push((socket, ack));
            } else {
                socket.forget_ack(id);
            }
        }
        let _ = tx.send(AckEvent::Targeted(waiting.len() + refused.len()));
        for (sid, e) in refused {
            let _ = tx.send(AckEvent::Reply(Some(sid), Err(e)));
        }
        if waiting.is_empty() {
            return rx;
        }
        let deadline =
            tokio::time::Instant::now() + opts.timeout.unwrap_or(super::DEFAULT_ACK_TIMEOUT);
        tokio::spawn(async move {
            for (socket, ack) in waiting {
                let reply = match tokio::time::timeout_at(deadline, ack).await {
                    Ok(Ok(reply)) => reply,
                    Ok(Err(_)) => Err(AckError::Disconnected),
                    Err(_) => {
                        socket.forget_ack(id);
                        Err(AckError::Timeout)
                    }
                };
                let _ = tx.send(AckEvent::Reply(Some(socket.id()), reply));
            }
        });
        rx
    }

    fn persist_session(&self, session: SessionState) -> BoxFuture<()> {
        if let Some(store) = &self.recovery {
            store.persist(session);
            self.ensure_pruning(store);
        }
        Box::pin(async {})
    }

    fn restore_session(&self, pid: &str, offset: &str) -> BoxFuture<Option<RestoredSession>> {
        let restored = self
            .recovery
            .as_ref()
            .and_then(|store| store.restore(pid, offset));
        Box::pin(async move { restored })
    }

    fn recovery_log_size(&self) -> RecoveryLogSize {
        self.recovery
            .as_ref()
            .map(|store| store.size())
            .unwrap_or_default()
    }
}

impl fmt::Debug for LocalAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.read();
        f.debug_struct("LocalAdapter")
            .field("rooms", &state.members.len())
            .field("sockets", &state.by_socket.len())
            .finish()
    }
}

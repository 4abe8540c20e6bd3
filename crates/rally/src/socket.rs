use std::{
    collections::HashMap,
    fmt,
    net::SocketAddr,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU8, Ordering},
    },
    time::{Duration, SystemTime},
};

use http::HeaderMap;
use rally_engine::{SendError, Session, Sid, Transport};
use rally_proto::{
    Str,
    socket::{PacketType, is_reserved_event},
};
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::oneshot;

use crate::{
    AckError, AckReply, Args, BroadcastOperator, DisconnectReason, EmitError, Namespace, Room,
    adapter::{BroadcastOptions, BroadcastPacket, SessionState},
    client::Client,
    encode::Encoded,
};

const CONNECTING: u8 = 0;
const CONNECTED: u8 = 1;
const DISCONNECTING: u8 = 2;
const DISCONNECTED: u8 = 3;

type PendingAck = oneshot::Sender<Result<AckReply, AckError>>;

/// A client's membership of one namespace.
///
/// Handlers receive an `Arc<Socket>`; it stays usable after the client
/// leaves, but emits then fail with [`EmitError::Disconnected`]. Keep it
/// (or clone the `Arc`) to reach the client later, from any task.
///
/// ```
/// use std::time::Duration;
///
/// # fn setup(io: &rally::Server) {
/// io.of("/").on_connection(|socket| async move {
///     let name = socket.auth::<String>().unwrap_or_else(|_| "anonymous".into());
///     let _ = socket.set_data(&name);
///     socket.join(["lobby", "news"]);
///     let _ = socket.emit("welcome", &name);
///     // Everyone in the lobby but this socket.
///     let _ = socket.to("lobby").emit("arrived", &name);
///     // Ask the client and wait for its acknowledgement.
///     if let Ok(reply) = socket.timeout(Duration::from_secs(5)).emit_with_ack("ready?", ()).await {
///         let _ = reply.arg::<bool>(0);
///     }
/// });
/// # }
/// ```
pub struct Socket {
    id: Sid,
    ns: Arc<Namespace>,
    pub(crate) client: Arc<Client>,
    auth: Str,
    data: Mutex<serde_json::Value>,
    state: AtomicU8,
    acks: Mutex<HashMap<u64, PendingAck>>,
    /// The private session id, when connection state recovery is on.
    pid: Option<Arc<str>>,
    recovered: bool,
}

/// What a client sent when it joined a namespace, as the reference's
/// `socket.handshake`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Handshake {
    /// The request headers of the Engine.IO handshake.
    pub headers: HeaderMap,
    /// The query parameters of the Engine.IO handshake.
    pub query: Vec<(String, String)>,
    /// The peer's address, when known.
    pub address: Option<SocketAddr>,
    /// When the connection was opened.
    pub issued: SystemTime,
    /// The request URL (path and query).
    pub url: String,
    /// Whether the connection came over TLS (per `X-Forwarded-Proto`).
    pub secure: bool,
    /// Whether the request came from another origin.
    pub xdomain: bool,
    /// The auth payload of the namespace CONNECT, as JSON (`{}` when none).
    pub auth: serde_json::Value,
}

impl Socket {
    /// A new socket, or with `restored` the one that session had (its id,
    /// `pid` and data; its rooms are joined when it is admitted).
    pub(crate) fn new(
        ns: Arc<Namespace>,
        client: Arc<Client>,
        auth: Str,
        restored: Option<&SessionState>,
    ) -> Arc<Self> {
        let recovery = client.recovery_enabled();
        let (id, pid, data) = match restored {
            Some(session) => (session.sid, Some(session.pid.clone()), session.data.clone()),
            None => (
                Sid::random(),
                recovery.then(|| Arc::from(Sid::random().as_str())),
                serde_json::Value::Null,
            ),
        };
        Arc::new(Self {
            id,
            ns,
            client,
            auth,
            data: Mutex::new(data),
            state: AtomicU8::new(CONNECTING),
            acks: Mutex::default(),
            pid,
            recovered: restored.is_some(),
        })
    }

    /// Whether the connection state was recovered: the client came back
    /// after a short disconnection and got its id, rooms and data back, and
    /// the events it missed (the reference's `socket.recovered`).
    ///
    /// ```
    /// # fn setup(io: &rally::Server) {
    /// io.of("/").on_connection(|socket| async move {
    ///     if !socket.recovered() {
    ///         socket.join("lobby");
    ///     }
    /// });
    /// # }
    /// ```
    #[must_use]
    pub fn recovered(&self) -> bool {
        self.recovered
    }

    /// The private session id the client sends back to recover (`None`
    /// when connection state recovery is off).
    pub(crate) fn pid(&self) -> Option<&Arc<str>> {
        self.pid.as_ref()
    }

    /// The socket's id: 20 random characters, distinct from the Engine.IO
    /// session id. The socket is always in the room of that name.
    #[must_use]
    pub fn id(&self) -> Sid {
        self.id
    }

    /// The namespace it belongs to.
    #[must_use]
    pub fn ns(&self) -> &Arc<Namespace> {
        &self.ns
    }

    /// Whether it is connected: from its admission until it has left
    /// (still true in `disconnecting` handlers).
    #[must_use]
    pub fn connected(&self) -> bool {
        matches!(
            self.state.load(Ordering::Acquire),
            CONNECTED | DISCONNECTING
        )
    }

    /// The transport of its connection now (`None` once it has closed).
    #[must_use]
    pub fn transport(&self) -> Option<Transport> {
        self.client.session().map(|s| s.transport())
    }

    /// The Engine.IO session carrying it (shared by the client's other
    /// namespaces), while it lives.
    #[must_use]
    pub fn session(&self) -> Option<Arc<Session>> {
        self.client.session()
    }

    /// The auth payload of its CONNECT as a `T`.
    ///
    /// # Errors
    ///
    /// When it does not deserialize into `T`.
    pub fn auth<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.auth)
    }

    /// The raw JSON of the auth payload (`{}` when none was sent).
    #[must_use]
    pub fn raw_auth(&self) -> &str {
        &self.auth
    }

    /// The handshake, as the reference's `socket.handshake`.
    #[must_use]
    pub fn handshake(&self) -> Handshake {
        let session = self.client.session();
        let empty = rally_engine::Handshake::default();
        let engine = session.as_deref().map_or(&empty, Session::handshake);
        let header = |name: &str| engine.headers.get(name).and_then(|v| v.to_str().ok());
        let query = engine.query_pairs();
        // As the reference: any Origin header makes the request cross-domain.
        let xdomain = header("origin").is_some();
        Handshake {
            headers: engine.headers.clone(),
            query,
            address: engine.remote_addr,
            issued: engine.issued,
            url: engine
                .uri
                .path_and_query()
                .map(ToString::to_string)
                .unwrap_or_default(),
            secure: header("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https")),
            xdomain,
            auth: serde_json::from_str(&self.auth).unwrap_or_default(),
        }
    }

    /// The application's data for this socket, as a `T` (`None` when
    /// unset or of another shape).
    #[must_use]
    pub fn data<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_value(self.data_guard().clone()).ok()
    }

    /// Sets the application's data for this socket; it is what
    /// [`fetch_sockets`](BroadcastOperator::fetch_sockets) shows of it.
    ///
    /// # Errors
    ///
    /// When `data` does not serialize to JSON.
    pub fn set_data<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), serde_json::Error> {
        *self.data_guard() = serde_json::to_value(data)?;
        Ok(())
    }

    /// The data as JSON.
    #[must_use]
    pub fn raw_data(&self) -> serde_json::Value {
        self.data_guard().clone()
    }

    fn data_guard(&self) -> MutexGuard<'_, serde_json::Value> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends an event to this client.
    ///
    /// ```
    /// # fn f(socket: &rally::Socket) -> Result<(), rally::EmitError> {
    /// socket.emit("hello", &"world")?;
    /// socket.emit("pair", rally::Args::new().arg(&1).arg(&2))?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`EmitError::Reserved`] for a reserved name, [`EmitError::Serialize`]
    /// for an argument that does not serialize, [`EmitError::Disconnected`]
    /// when the socket is gone.
    pub fn emit(&self, event: &str, args: impl Into<Args>) -> Result<(), EmitError> {
        let args = check(event, args.into())?;
        if self.pid.is_some() && self.connected() {
            // As the reference: with recovery on, an emit to one socket
            // goes through the adapter, which gives it an offset and logs
            // it for a reconnection.
            let opts = BroadcastOptions {
                rooms: vec![Room::from(self.id.as_str())],
                ..BroadcastOptions::default()
            };
            let packet = BroadcastPacket::new(self.ns.name(), event, args, None);
            self.ns.adapter().broadcast(&packet, &opts);
            return Ok(());
        }
        self.ns.outgoing(self, event, &args);
        self.send_encoded(&Encoded::event(self.ns.name(), None, event, &args), false)
    }

    /// Sends an event and waits for the client's acknowledgement, without a
    /// time limit (see [`timeout`](Self::timeout)).
    ///
    /// # Errors
    ///
    /// [`AckError::Disconnected`] when the socket leaves first, or the
    /// emit's own error.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future forgets the request; a late answer is ignored.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: impl Into<Args>,
    ) -> Result<AckReply, AckError> {
        self.emit_with_ack_timeout(event, args.into(), None).await
    }

    /// A handle whose acknowledged emits fail with [`AckError::Timeout`]
    /// after `timeout`.
    #[must_use]
    pub fn timeout(&self, timeout: Duration) -> TimedSocket<'_> {
        TimedSocket {
            socket: self,
            timeout,
        }
    }

    async fn emit_with_ack_timeout(
        &self,
        event: &str,
        args: Args,
        timeout: Option<Duration>,
    ) -> Result<AckReply, AckError> {
        let args = check(event, args)?;
        let id = self.ns.next_ack_id();
        let rx = self.register_ack(id)?;
        self.ns.outgoing(self, event, &args);
        if let Err(e) = self.send_encoded(
            &Encoded::event(self.ns.name(), Some(id), event, &args),
            false,
        ) {
            self.acks().remove(&id);
            return Err(e.into());
        }
        let reply = match timeout {
            Some(t) => match tokio::time::timeout(t, rx).await {
                Ok(reply) => reply,
                Err(_) => {
                    self.acks().remove(&id);
                    return Err(AckError::Timeout);
                }
            },
            None => rx.await,
        };
        reply.unwrap_or(Err(AckError::Disconnected))
    }

    /// Waits for the ack `id`, unless `max_pending_acks` are due already.
    pub(crate) fn register_ack(
        &self,
        id: u64,
    ) -> Result<oneshot::Receiver<Result<AckReply, AckError>>, AckError> {
        let mut acks = self.acks();
        if acks.len() >= self.client.config().max_pending_acks {
            return Err(AckError::TooManyPending);
        }
        let (tx, rx) = oneshot::channel();
        acks.insert(id, tx);
        Ok(rx)
    }

    pub(crate) fn forget_ack(&self, id: u64) {
        self.acks().remove(&id);
    }

    /// Hands an ACK from the client to whoever waits for it; unknown or
    /// repeated ids are ignored.
    pub(crate) fn on_ack(&self, id: u64, reply: AckReply) {
        if let Some(tx) = self.acks().remove(&id) {
            let _ = tx.send(Ok(reply));
        }
    }

    fn acks(&self) -> MutexGuard<'_, HashMap<u64, PendingAck>> {
        self.acks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues an encoded packet. A full queue drops a volatile packet and
    /// disconnects a client too slow for any other.
    pub(crate) fn send_encoded(&self, packet: &Encoded, volatile: bool) -> Result<(), EmitError> {
        // Emits from a connect middleware go out before the CONNECT reply,
        // as the reference's do.
        if self.state.load(Ordering::Acquire) == DISCONNECTED {
            return Err(EmitError::Disconnected);
        }
        self.client.send(packet.frames(), volatile)
    }

    /// Queues a logged packet without acting on a full queue: false when
    /// the client is too slow (see [`Client::queue`]).
    pub(crate) fn queue_encoded(&self, packet: &Encoded) -> bool {
        self.state.load(Ordering::Acquire) == DISCONNECTED || self.client.queue(packet.frames())
    }

    /// Joins rooms, up to `max_rooms` besides its own (see
    /// [`ServerBuilder::max_rooms`](crate::ServerBuilder::max_rooms)): rooms
    /// past the limit are not joined.
    pub fn join(&self, rooms: impl IntoRooms) {
        let mut rooms = rooms.into_rooms();
        let max = self.client.config().max_rooms;
        let joined = self.ns.adapter().socket_rooms(self.id);
        rooms.retain(|r| !joined.contains(r));
        // Its own room is in `joined` and does not count.
        let room_left = (max + 1).saturating_sub(joined.len().max(1));
        if rooms.len() > room_left {
            tracing::warn!(socket = %self.id, max, "too many rooms: not joining {}", rooms.len() - room_left);
            rooms.truncate(room_left);
        }
        self.ns.adapter().add_all(self.id, &rooms);
    }

    /// Leaves a room.
    pub fn leave(&self, room: &str) {
        self.ns.adapter().del(self.id, room);
    }

    /// The rooms it is in (its own id's room included).
    #[must_use]
    pub fn rooms(&self) -> Vec<Room> {
        self.ns.adapter().socket_rooms(self.id)
    }

    /// Targets the sockets in `rooms`, except this one.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Same as [`to`](Self::to).
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// Targets every socket of the namespace except this one and those in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// Targets every socket of the namespace except this one.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.ns.clone()).except_socket(self.id)
    }

    /// Leaves the namespace (`server namespace disconnect`); with `close`,
    /// every namespace of the client is left and its connection closed.
    pub fn disconnect(self: &Arc<Self>, close: bool) {
        if close {
            self.client.disconnect_all();
        } else {
            self.leave_namespace(DisconnectReason::ServerNamespaceDisconnect, true);
        }
    }

    pub(crate) fn mark_connected(&self) {
        let _ =
            self.state
                .compare_exchange(CONNECTING, CONNECTED, Ordering::AcqRel, Ordering::Acquire);
    }

    /// A socket refused by a middleware, or whose connection closed before
    /// it was admitted, never connects.
    pub(crate) fn mark_refused(&self) {
        self.state.store(DISCONNECTED, Ordering::Release);
    }

    /// Leaves the namespace for `reason`: `disconnecting` (rooms still
    /// filled), then the rooms emptied, pending acks failed, `disconnect`.
    pub(crate) fn leave_namespace(self: &Arc<Self>, reason: DisconnectReason, notify: bool) {
        if self
            .state
            .compare_exchange(
                CONNECTED,
                DISCONNECTING,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            return;
        }
        if notify {
            let _ = self.client.send(
                Encoded::control(PacketType::Disconnect, self.ns.name(), None).frames(),
                false,
            );
        }
        self.ns.fire_disconnecting(self, reason);
        if let Some(pid) = &self.pid {
            if reason.is_recoverable() {
                let session =
                    SessionState::new(self.id, pid.clone(), self.rooms(), self.raw_data());
                crate::run::run_detached(self.ns.adapter().persist_session(session));
            }
        }
        self.state.store(DISCONNECTED, Ordering::Release);
        self.ns.adapter().del_all(self.id);
        self.ns.remove_socket(self.id);
        self.client.remove_socket(self.id);
        for (_, tx) in self.acks().drain() {
            let _ = tx.send(Err(AckError::Disconnected));
        }
        self.ns.fire_disconnect(self, reason);
        self.ns.remove_if_empty_child();
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.id)
            .field("ns", &self.ns.name())
            .field("connected", &self.connected())
            .finish()
    }
}

/// A socket whose acknowledged emits have a time limit.
#[derive(Debug)]
pub struct TimedSocket<'a> {
    socket: &'a Socket,
    timeout: Duration,
}

impl TimedSocket<'_> {
    /// As [`Socket::emit_with_ack`], failing with [`AckError::Timeout`]
    /// when no answer comes in time.
    ///
    /// # Errors
    ///
    /// [`AckError::Timeout`], [`AckError::Disconnected`], or the emit's own error.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future forgets the request.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: impl Into<Args>,
    ) -> Result<AckReply, AckError> {
        self.socket
            .emit_with_ack_timeout(event, args.into(), Some(self.timeout))
            .await
    }
}

/// Checks an event name and its arguments before they are encoded.
pub(crate) fn check(event: &str, args: Args) -> Result<Args, EmitError> {
    if is_reserved_event(event) {
        return Err(EmitError::Reserved(event.to_owned()));
    }
    if let Some(e) = args.error() {
        return Err(EmitError::Serialize(e.to_owned()));
    }
    Ok(args)
}

/// One room name or several.
pub trait IntoRooms {
    /// The rooms.
    fn into_rooms(self) -> Vec<Room>;
}

impl IntoRooms for &str {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self)]
    }
}

impl IntoRooms for String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self)]
    }
}

impl IntoRooms for Sid {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::from(self.as_str())]
    }
}

impl<T: Into<Room>> IntoRooms for Vec<T> {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<T: Into<Room> + Clone> IntoRooms for &[T] {
    fn into_rooms(self) -> Vec<Room> {
        self.iter().cloned().map(Into::into).collect()
    }
}

impl<T: Into<Room>, const N: usize> IntoRooms for [T; N] {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().map(Into::into).collect()
    }
}

impl From<SendError> for EmitError {
    fn from(_: SendError) -> Self {
        EmitError::Disconnected
    }
}

mod acks;
mod emit;
mod lifecycle;
mod listeners;
mod operator;
mod rooms;

use std::{
    collections::HashMap,
    fmt,
    hash::BuildHasherDefault,
    net::SocketAddr,
    sync::{
        Arc, Mutex, MutexGuard, OnceLock,
        atomic::{AtomicU8, Ordering},
    },
    time::SystemTime,
};

use http::HeaderMap;
use rally_engine::{SendError, Session, Sid, Transport};
use rally_proto::{Str, socket::is_reserved_event};
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::oneshot;

pub use self::operator::{SocketOperator, TimedSocket};

/// How a packet is queued for a socket: whether it may be dropped when the
/// client cannot take it, and whether it may be compressed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flags {
    pub(crate) volatile: bool,
    pub(crate) compress: bool,
}

impl Flags {
    /// Neither volatile nor uncompressed: what a plain emit is.
    pub(crate) const DEFAULT: Self = Self {
        volatile: false,
        compress: true,
    };
}
#[cfg(doc)]
use crate::BroadcastOperator;
use crate::{
    AckError, AckReply, Args, EmitError, Namespace, Room, adapter::SessionState, client::Client,
};

const CONNECTING: u8 = 0;
const CONNECTED: u8 = 1;
const DISCONNECTING: u8 = 2;
const DISCONNECTED: u8 = 3;

type PendingAck = oneshot::Sender<Result<AckReply, AckError>>;
/// The acknowledgements a socket waits for, by id.
type PendingAcks = HashMap<u64, PendingAck, BuildHasherDefault<acks::AckIdHasher>>;

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
    acks: Mutex<PendingAcks>,
    /// Its own listeners and middlewares, made by the first registration:
    /// a socket that registers none carries an empty `OnceLock`.
    listeners: OnceLock<Box<listeners::Listeners>>,
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
    /// Whether the connection came over TLS: served by
    /// `serve_tls` (the `tls` feature; the request had the
    /// [`Secure`](crate::Secure) extension), or behind a proxy that says
    /// `X-Forwarded-Proto: https`.
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
        id: Option<Sid>,
    ) -> Arc<Self> {
        let recovery = client.recovery_enabled();
        let (id, pid, data) = match restored {
            Some(session) => (session.sid, Some(session.pid.clone()), session.data.clone()),
            None => (
                id.unwrap_or_else(Sid::random),
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
            listeners: OnceLock::new(),
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
    ///
    /// Engine plumbing, hidden from the documentation: what an application
    /// needs of it has its own method ([`transport`](Self::transport),
    /// [`handshake`](Self::handshake)...).
    #[doc(hidden)]
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
        let header = |name: &str| engine.headers.get(name);
        let query = engine.query_pairs();
        // As the reference: any Origin header makes the request cross-domain.
        let xdomain = header("origin").is_some();
        Handshake {
            headers: engine.headers.to_header_map(),
            query,
            address: engine.remote_addr,
            issued: engine.issued,
            url: engine
                .uri
                .path_and_query()
                .map(ToString::to_string)
                .unwrap_or_default(),
            secure: engine.secure
                || header("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https")),
            xdomain,
            auth: serde_json::from_str(&self.auth).unwrap_or_default(),
        }
    }

    /// The server's shared value of type `T`, given to
    /// [`ServerBuilder::state`](crate::ServerBuilder::state) (`None` when
    /// no value of that type was): the axum way to reach application
    /// state from any handler, through the socket it gets.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// struct Visits(AtomicUsize);
    ///
    /// let io = rally::Server::builder().state(Visits(AtomicUsize::new(0))).build();
    /// io.of("/").on("visit", |socket, mut event| async move {
    ///     let visits = socket.state::<Visits>().expect("set on the builder");
    ///     let n = visits.0.fetch_add(1, Ordering::Relaxed) + 1;
    ///     let _ = event.ack(&n);
    /// });
    /// ```
    #[must_use]
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.client.config().states.get()
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
        if let Some(hooks) = self.client.server().admin_hooks() {
            hooks.data_changed(self);
        }
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

/// One room name: `&str`, `String`, [`Room`], a socket id ([`Sid`]),
/// `Box<str>`, `Cow<str>`, or a reference to one of those.
pub trait IntoRoom {
    /// The room.
    fn into_room(self) -> Room;
}

impl IntoRoom for &str {
    fn into_room(self) -> Room {
        Room::from(self)
    }
}

impl IntoRoom for String {
    fn into_room(self) -> Room {
        Room::from(self)
    }
}

impl IntoRoom for Room {
    fn into_room(self) -> Room {
        self
    }
}

impl IntoRoom for Box<str> {
    fn into_room(self) -> Room {
        Room::from(self)
    }
}

impl IntoRoom for std::borrow::Cow<'_, str> {
    fn into_room(self) -> Room {
        Room::from(self)
    }
}

impl IntoRoom for Sid {
    fn into_room(self) -> Room {
        Room::from(self.as_str())
    }
}

impl<T: IntoRoom + Clone> IntoRoom for &T {
    fn into_room(self) -> Room {
        self.clone().into_room()
    }
}

/// One room name or several: any [`IntoRoom`], or an array, `Vec`, slice,
/// set or iterator of them (the iterators of std's collections and the
/// `map`, `filter`, `cloned`, `copied`, `chain`, `take` and `skip`
/// adaptors).
///
/// ```
/// # fn f(socket: &rally::Socket) {
/// let name = String::from("news");
/// socket.join("lobby");
/// socket.join(&name);
/// socket.join(["a", "b"]);
/// socket.join(vec![name.clone()]);
/// socket.join((1..=3).map(|n| format!("table-{n}")));
/// socket.leave(["a", "b"]);
/// # }
/// ```
pub trait IntoRooms {
    /// The rooms.
    fn into_rooms(self) -> Vec<Room>;
}

impl<T: IntoRoom> IntoRooms for T {
    fn into_rooms(self) -> Vec<Room> {
        vec![self.into_room()]
    }
}

impl<T: IntoRoom> IntoRooms for Vec<T> {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().map(IntoRoom::into_room).collect()
    }
}

impl<T: IntoRoom + Clone> IntoRooms for &[T] {
    fn into_rooms(self) -> Vec<Room> {
        self.iter().map(IntoRoom::into_room).collect()
    }
}

impl<T: IntoRoom, const N: usize> IntoRooms for [T; N] {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().map(IntoRoom::into_room).collect()
    }
}

impl<T: IntoRoom, S> IntoRooms for std::collections::HashSet<T, S> {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().map(IntoRoom::into_room).collect()
    }
}

impl<T: IntoRoom> IntoRooms for std::collections::BTreeSet<T> {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().map(IntoRoom::into_room).collect()
    }
}

impl<T: IntoRoom, const N: usize> IntoRooms for std::array::IntoIter<T, N> {
    fn into_rooms(self) -> Vec<Room> {
        self.map(IntoRoom::into_room).collect()
    }
}

/// `IntoRooms` for iterator types whose items are rooms.
macro_rules! iterator_rooms {
    ($(impl<$($param:tt),*> for $ty:ty;)+) => {$(
        impl<$($param),*> IntoRooms for $ty
        where
            $ty: Iterator,
            <$ty as Iterator>::Item: IntoRoom,
        {
            fn into_rooms(self) -> Vec<Room> {
                self.map(IntoRoom::into_room).collect()
            }
        }
    )+};
}

iterator_rooms! {
    impl<'a, T> for std::slice::Iter<'a, T>;
    impl<T> for std::vec::IntoIter<T>;
    impl<'a, T> for std::collections::hash_set::Iter<'a, T>;
    impl<T> for std::collections::hash_set::IntoIter<T>;
    impl<'a, T> for std::collections::btree_set::Iter<'a, T>;
    impl<T> for std::collections::btree_set::IntoIter<T>;
    impl<I, F> for std::iter::Map<I, F>;
    impl<I, P> for std::iter::Filter<I, P>;
    impl<I> for std::iter::Cloned<I>;
    impl<I> for std::iter::Copied<I>;
    impl<A, B> for std::iter::Chain<A, B>;
    impl<I> for std::iter::Take<I>;
    impl<I> for std::iter::Skip<I>;
    impl<T> for std::iter::Once<T>;
}

impl From<SendError> for EmitError {
    fn from(_: SendError) -> Self {
        EmitError::Disconnected
    }
}

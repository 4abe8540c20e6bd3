mod children;
mod listeners;
mod registry;

pub(crate) use listeners::deliver;

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    hash::{BuildHasherDefault, Hasher},
    pin::Pin,
    sync::{
        Arc, OnceLock, RwLock, Weak,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
};

use rally_engine::SidMap;

use crate::{
    AdapterError, Args, BroadcastOperator, ConnectError, DisconnectReason, Event, IntoRooms,
    ServerEvent, Socket, adapter::Adapter,
};

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type SocketHandler = Arc<dyn Fn(Arc<Socket>) -> BoxFuture<()> + Send + Sync>;
/// A listener of incoming events, on a namespace or on one socket.
pub(crate) type EventHandler = Arc<dyn Fn(Arc<Socket>, Event) -> BoxFuture<()> + Send + Sync>;
type DisconnectHandler = Arc<dyn Fn(Arc<Socket>, DisconnectReason) -> BoxFuture<()> + Send + Sync>;
type Middleware = Arc<dyn Fn(Arc<Socket>) -> BoxFuture<Result<(), ConnectError>> + Send + Sync>;
/// A listener of outgoing events, on a namespace or on one socket.
pub(crate) type OutgoingHandler = Arc<dyn Fn(&Socket, &str, &Args) + Send + Sync>;
type EmptyHook = Box<dyn Fn(&str) + Send + Sync>;
/// Makes the adapter of a new namespace.
pub(crate) type AdapterFactory = Arc<dyn Fn(Weak<Namespace>) -> Arc<dyn Adapter> + Send + Sync>;
type ServerEventHandler = Arc<dyn Fn(ServerEvent) -> BoxFuture<()> + Send + Sync>;
type EventMiddleware = Arc<dyn Fn(&Arc<Socket>, &Event) -> Result<(), ConnectError> + Send + Sync>;

#[derive(Default)]
struct Handlers {
    connection: Vec<SocketHandler>,
    middlewares: Vec<Middleware>,
    /// Each event's listeners in registration order, copied on write so
    /// that a dispatch takes them without allocating.
    events: HashMap<String, Arc<[EventHandler]>, BuildHasherDefault<NameHasher>>,
    any: Option<EventHandler>,
    any_outgoing: Option<OutgoingHandler>,
    event_middlewares: Vec<EventMiddleware>,
    disconnecting: Vec<DisconnectHandler>,
    disconnect: Vec<DisconnectHandler>,
    server_events: HashMap<String, ServerEventHandler>,
}

/// FNV-1a, for the event names of [`Handlers::events`]: looking a name up
/// is on the path of every incoming event, and SipHash cost more there than
/// the rest of the lookup. The map holds only the names the application
/// registered; a client's names are only looked up, so names chosen to
/// collide cannot grow anything.
#[derive(Clone, Copy)]
struct NameHasher(u64);

impl Default for NameHasher {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A namespace: a channel of its own on a shared connection, with its own
/// handlers, sockets and rooms.
///
/// Handlers registered here apply to every socket that joins; a socket
/// may add listeners of its own ([`Socket::on`]), which run after the
/// namespace's.
///
/// ```
/// # fn setup(io: &rally::Server) {
/// let chat = io.of("/chat");
/// chat.on_connection(|socket| async move {
///     socket.join("lobby");
/// });
/// chat.on("say", |socket, event| async move {
///     if let Ok(text) = event.arg::<String>(0) {
///         let _ = socket.to("lobby").emit("said", &text);
///     }
/// });
/// # }
/// ```
pub struct Namespace {
    name: String,
    /// Shared with the dynamic children of a parent namespace.
    handlers: Arc<RwLock<Handlers>>,
    sockets: RwLock<SidMap<Arc<Socket>>>,
    adapter: OnceLock<Arc<dyn Adapter>>,
    ack_ids: AtomicU64,
    /// How many of its sockets have `on_any_outgoing` listeners of their
    /// own: broadcasts look at each recipient only when some do.
    outgoing_sockets: AtomicUsize,
    children: RwLock<Vec<Weak<Namespace>>>,
    /// Called with the name of a dynamic child that lost its last socket,
    /// when the server cleans those up.
    on_empty: OnceLock<EmptyHook>,
}

impl Namespace {
    pub(crate) fn new(name: String, adapter: &AdapterFactory) -> Arc<Self> {
        Self::with_handlers(name, adapter, Arc::default())
    }

    fn with_handlers(
        name: String,
        adapter: &AdapterFactory,
        handlers: Arc<RwLock<Handlers>>,
    ) -> Arc<Self> {
        let ns = Arc::new(Self {
            name,
            handlers,
            sockets: RwLock::default(),
            adapter: OnceLock::new(),
            ack_ids: AtomicU64::new(0),
            outgoing_sockets: AtomicUsize::new(0),
            children: RwLock::default(),
            on_empty: OnceLock::new(),
        });
        // Made once the namespace exists, so the factory can read its name
        // (a cluster adapter names its channels after it).
        let _ = ns.adapter.set(adapter(Arc::downgrade(&ns)));
        ns
    }

    /// The namespace's name, such as `/` or `/admin`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The adapter holding its rooms.
    #[must_use]
    pub fn adapter(&self) -> &Arc<dyn Adapter> {
        // Set by the constructor before the namespace is shared.
        self.adapter
            .get()
            .expect("a namespace's adapter is set when it is made")
    }

    /// Sends the event `event` with `args` to the other nodes of the
    /// cluster, whose [`on_server_event`](Self::on_server_event) handlers
    /// get it; without a cluster adapter it goes nowhere. `args` are taken
    /// as by [`emit`](Self::emit) (a tuple is several arguments), but stay
    /// JSON: binary arguments cannot go to other nodes.
    ///
    /// ```
    /// # fn f(io: &rally::Server) -> Result<(), rally::EmitError> {
    /// io.of("/").server_side_emit("reload", &serde_json::json!({"all": true}))?;
    /// io.of("/").server_side_emit("moved", ("room1", 42))?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`EmitError::Reserved`](crate::EmitError::Reserved) for a reserved
    /// name, [`EmitError::Serialize`](crate::EmitError::Serialize) for an
    /// argument that does not serialize or is binary.
    #[doc(alias = "serverSideEmit")]
    pub fn server_side_emit(
        &self,
        event: &str,
        args: impl Into<Args>,
    ) -> Result<(), crate::EmitError> {
        self.adapter()
            .server_side_emit(server_data(event, args.into())?);
        Ok(())
    }

    /// Sends the event `event` with `args` (as for
    /// [`server_side_emit`](Self::server_side_emit)) to the other nodes and
    /// gathers one answer from each.
    ///
    /// # Errors
    ///
    /// [`AdapterError::Timeout`] when a node does not answer within the
    /// adapter's requests timeout; [`AdapterError::Emit`] when the event
    /// cannot be sent (see [`server_side_emit`](Self::server_side_emit)).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future forgets the answers still due.
    #[doc(alias = "serverSideEmitWithAck")]
    pub async fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: impl Into<Args>,
    ) -> Result<Vec<serde_json::Value>, AdapterError> {
        let data = server_data(event, args.into())?;
        self.adapter().server_side_emit_with_ack(data).await
    }

    /// Calls `listener` on every room change of this namespace on this
    /// node: `create-room`, `join-room`, `leave-room`, `delete-room`.
    pub fn on_room_event(
        &self,
        listener: impl Fn(&crate::adapter::RoomEvent) + Send + Sync + 'static,
    ) {
        self.adapter().on_room_event(Box::new(listener));
    }

    /// Targets every socket of the namespace.
    pub fn broadcast(self: &Arc<Self>) -> BroadcastOperator {
        BroadcastOperator::new(self.clone())
    }

    /// Targets the sockets in `rooms`.
    pub fn to(self: &Arc<Self>, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Targets every socket except those in `rooms`.
    pub fn except(self: &Arc<Self>, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// Targets every socket of the namespace, with a time limit for
    /// [`emit_with_ack`](BroadcastOperator::emit_with_ack) (the
    /// reference's `namespace.timeout(...)`).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # async fn f(io: rally::Server) -> Result<(), rally::AckError> {
    /// let answers = io.of("/chat").timeout(Duration::from_secs(3)).emit_with_ack("survey", ()).await?;
    /// println!("{} answers", answers.answers().count());
    /// # Ok(()) }
    /// ```
    pub fn timeout(self: &Arc<Self>, timeout: std::time::Duration) -> BroadcastOperator {
        self.broadcast().timeout(timeout)
    }

    /// Every socket of the namespace (and of its dynamic children), on
    /// every node: the reference's `namespace.fetchSockets()`, as
    /// [`BroadcastOperator::fetch_sockets`].
    ///
    /// ```
    /// # async fn f(io: rally::Server) -> Result<(), rally::AdapterError> {
    /// for socket in io.of("/").fetch_sockets().await? {
    ///     println!("{}", socket.id());
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// With a cluster adapter, [`AdapterError::Timeout`] when a node does
    /// not answer in time.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future forgets the answers still due.
    #[doc(alias = "fetchSockets")]
    pub async fn fetch_sockets(self: &Arc<Self>) -> Result<Vec<crate::RemoteSocket>, AdapterError> {
        self.broadcast().fetch_sockets().await
    }

    /// Sends an event to every socket of the namespace (and of its dynamic
    /// children).
    ///
    /// # Errors
    ///
    /// As for [`BroadcastOperator::emit`].
    pub fn emit(
        self: &Arc<Self>,
        event: &str,
        args: impl Into<Args>,
    ) -> Result<(), crate::EmitError> {
        self.broadcast().emit(event, args)
    }

    /// A fresh acknowledgement id of this namespace (for adapters that
    /// build packets asking for answers).
    ///
    /// Plumbing for cluster adapters such as `rally-redis`, hidden from the
    /// documentation: applications never need it.
    #[doc(hidden)]
    #[must_use]
    pub fn next_ack_id(&self) -> u64 {
        self.ack_ids.fetch_add(1, Ordering::Relaxed)
    }
}

/// A server-side event as the reference sends it: its name, then its
/// arguments, as JSON values.
fn server_data(event: &str, args: Args) -> Result<Vec<serde_json::Value>, crate::EmitError> {
    use crate::EmitError;
    let args = crate::socket::check(event, args)?;
    if !args.attachments().is_empty() {
        return Err(EmitError::Serialize(
            "binary arguments cannot be sent to other nodes".to_owned(),
        ));
    }
    let mut data = Vec::with_capacity(args.len() + 1);
    data.push(serde_json::Value::String(event.to_owned()));
    if !args.is_empty() {
        let values: Vec<serde_json::Value> = serde_json::from_str(&format!("[{}]", args.json()))
            .map_err(|e| EmitError::Serialize(e.to_string()))?;
        data.extend(values);
    }
    Ok(data)
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::server_data;
    use crate::{Args, EmitError};

    #[test]
    fn server_side_data_is_the_name_then_the_arguments() {
        let data = server_data("ev", Args::from((1, "a", json!({"k": [2]})))).unwrap();
        assert_eq!(data, [json!("ev"), json!(1), json!("a"), json!({"k": [2]})]);
        assert_eq!(
            server_data("ev", Args::from(&(1, 2))).unwrap(),
            [json!("ev"), json!([1, 2])]
        );
        assert_eq!(server_data("ev", Args::new()).unwrap(), [json!("ev")]);
        assert!(matches!(
            server_data("disconnect", Args::new()),
            Err(EmitError::Reserved(_))
        ));
    }
}

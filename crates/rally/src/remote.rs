use std::{fmt, sync::Arc, time::Duration};

use rally_engine::Sid;
use serde::de::DeserializeOwned;

use crate::{Args, BroadcastOperator, EmitError, IntoRooms, Namespace, Room, adapter::SocketInfo};

/// A socket found by [`fetch_sockets`](crate::BroadcastOperator::fetch_sockets),
/// on this node or (with a cluster adapter) another: what it looked like,
/// and a handle to act on it wherever it is.
///
/// ```
/// # async fn f(io: rally::Server) -> Result<(), Box<dyn std::error::Error>> {
/// for socket in io.to("lobby").fetch_sockets().await? {
///     socket.emit("moved", "to the hall")?;
///     socket.join("hall");
///     socket.leave("lobby");
/// }
/// # Ok(()) }
/// ```
pub struct RemoteSocket {
    info: SocketInfo,
    ns: Arc<Namespace>,
}

impl RemoteSocket {
    pub(crate) fn new(info: SocketInfo, ns: Arc<Namespace>) -> Self {
        Self { info, ns }
    }

    /// Its id.
    #[must_use]
    pub fn id(&self) -> Sid {
        self.info.id
    }

    /// The rooms it was in.
    #[must_use]
    pub fn rooms(&self) -> &[Room] {
        &self.info.rooms
    }

    /// Its data as a `T` (see [`Socket::set_data`](crate::Socket::set_data)).
    #[must_use]
    pub fn data<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_value(self.info.data.clone()).ok()
    }

    /// Its handshake, in the reference's JSON shape.
    #[must_use]
    pub fn handshake(&self) -> &serde_json::Value {
        &self.info.handshake
    }

    /// Sends it an event.
    ///
    /// # Errors
    ///
    /// As for [`BroadcastOperator::emit`](crate::BroadcastOperator::emit).
    pub fn emit(&self, event: &str, args: impl Into<Args>) -> Result<(), EmitError> {
        self.ns.to(self.id()).emit(event, args)
    }

    /// Targets it with a time limit for acknowledgements (the reference's
    /// `remoteSocket.timeout(...)`): the operator's
    /// [`emit_with_ack`](BroadcastOperator::emit_with_ack) gathers its
    /// answer, wherever it is, or finds none in time.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # async fn f(io: rally::Server) -> Result<(), Box<dyn std::error::Error>> {
    /// for socket in io.fetch_sockets().await? {
    ///     let answers = socket.timeout(Duration::from_secs(2)).emit_with_ack("ping", ()).await?;
    ///     println!("{} answered: {}", socket.id(), answers.all_answered());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.ns.to(self.id()).timeout(timeout)
    }

    /// Makes it join `rooms`.
    pub fn join(&self, rooms: impl IntoRooms) {
        self.ns.to(self.id()).sockets_join(rooms);
    }

    /// Makes it leave `rooms`.
    pub fn leave(&self, rooms: impl IntoRooms) {
        self.ns.to(self.id()).sockets_leave(rooms);
    }

    /// Disconnects it; with `close`, its whole connection.
    pub fn disconnect(&self, close: bool) {
        self.ns.to(self.id()).disconnect_sockets(close);
    }
}

impl fmt::Debug for RemoteSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSocket")
            .field("info", &self.info)
            .field("ns", &self.ns.name())
            .finish()
    }
}

//! One client connection: an Engine.IO session and its namespaces.

mod connect;
mod incoming;

use std::sync::{Arc, Mutex, MutexGuard, Weak, atomic::AtomicUsize};

use rally_engine::{CloseReason, Protocol, SendError, Session, Sid};
use rally_proto::{
    Str,
    socket::{Assembler, Packet, PacketType},
};

use crate::socket::Flags;
use crate::{DisconnectReason, EmitError, Socket, encode::Encoded, server::ServerInner};

pub(crate) struct Client {
    /// Weak: the session holds the client (as its attachment).
    session: Weak<Session>,
    sid: Sid,
    server: Arc<ServerInner>,
    /// Connected sockets, in the order they joined.
    sockets: Mutex<Vec<Arc<Socket>>>,
    /// CONNECTs still in the namespaces' middlewares.
    connecting: AtomicUsize,
    assembler: Mutex<Assembler>,
    /// The Engine.IO revision of the session: protocol 3 sessions speak
    /// Socket.IO protocol 4 (socket.io-client 2.x).
    protocol: Protocol,
}

impl Client {
    pub(crate) fn new(session: &Arc<Session>, server: Arc<ServerInner>) -> Arc<Self> {
        let client = Arc::new(Self {
            session: Arc::downgrade(session),
            sid: session.sid(),
            sockets: Mutex::default(),
            connecting: AtomicUsize::new(0),
            assembler: Mutex::new(Assembler::new().max_attachments(server.config.max_attachments)),
            protocol: session.protocol(),
            server,
        });
        // A client that joins no namespace in time is let go (by the
        // session's heartbeat timer: no task of its own).
        session.expire_after(client.server.config.connect_timeout);
        if client.is_v2() {
            // Socket.IO protocol 4: the server joins the client to `/` on
            // its own (the client sends no CONNECT for it).
            let _ = client.on_connect(Packet::new(PacketType::Connect, Str::from_static("/")));
        }
        client
    }

    /// Whether the client speaks Socket.IO protocol 4 (socket.io-client
    /// 2.x, on an Engine.IO protocol 3 session).
    pub(crate) fn is_v2(&self) -> bool {
        self.protocol == Protocol::V3
    }

    /// The server.
    pub(crate) fn server(&self) -> &ServerInner {
        &self.server
    }

    /// The Engine.IO session's id.
    pub(crate) fn sid(&self) -> Sid {
        self.sid
    }

    /// The sockets connected over this client.
    pub(crate) fn sockets(&self) -> Vec<Arc<Socket>> {
        self.lock(&self.sockets).clone()
    }

    /// The server's options.
    pub(crate) fn config(&self) -> &crate::server::Config {
        &self.server.config
    }

    /// The session, while it lives.
    pub(crate) fn session(&self) -> Option<Arc<Session>> {
        self.session.upgrade()
    }

    fn close(&self, reason: CloseReason) {
        if let Some(session) = self.session() {
            session.close_with(reason);
        }
    }

    fn lock<'a, T>(&self, m: &'a Mutex<T>) -> MutexGuard<'a, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a packet's frames for this client's parser; a full queue
    /// drops volatile packets and disconnects a client too slow for the
    /// others.
    pub(crate) fn send(&self, packet: &Encoded, flags: Flags) -> Result<(), EmitError> {
        self.send_frames(packet.frames(self.server.config.parser), flags)
    }

    /// [`send`](Self::send) for a packet this client alone gets: its frames
    /// are moved into the queue rather than shared.
    pub(crate) fn send_owned(&self, packet: Encoded, flags: Flags) -> Result<(), EmitError> {
        self.send_frames(packet.into_frames(self.server.config.parser), flags)
    }

    fn send_frames(
        &self,
        frames: impl Iterator<Item = rally_engine::Frame>,
        flags: Flags,
    ) -> Result<(), EmitError> {
        let Some(session) = self.session() else {
            return Err(EmitError::Disconnected);
        };
        for frame in frames {
            match push(&session, frame, flags.compress) {
                Ok(()) => {}
                Err(SendError::Full) if flags.volatile => return Ok(()),
                Err(SendError::Full) => {
                    tracing::warn!(sid = %self.sid, "client too slow, queue full: disconnecting");
                    session.close_with(CloseReason::TransportError);
                    return Err(EmitError::Disconnected);
                }
                Err(_) => return Err(EmitError::Disconnected),
            }
        }
        Ok(())
    }

    /// Queues the frames of a logged packet without acting on a full queue
    /// (the caller holds the recovery log's lock): false when the client is
    /// too slow, for the caller to [`disconnect_slow`](Self::disconnect_slow)
    /// once it has let the lock go.
    pub(crate) fn queue(&self, packet: &Encoded, compress: bool) -> bool {
        let Some(session) = self.session() else {
            return true;
        };
        for frame in packet.frames(self.server.config.parser) {
            match push(&session, frame, compress) {
                Ok(()) => {}
                Err(SendError::Full) => return false,
                Err(_) => return true,
            }
        }
        true
    }

    /// Disconnects a client whose queue was full.
    pub(crate) fn disconnect_slow(&self) {
        tracing::warn!(sid = %self.sid, "client too slow, queue full: disconnecting");
        self.close(CloseReason::TransportError);
    }

    pub(crate) fn remove_socket(&self, id: Sid) {
        self.lock(&self.sockets).retain(|s| s.id() != id);
    }

    /// Every namespace left (`server namespace disconnect`), then the
    /// connection closed.
    pub(crate) fn disconnect_all(&self) {
        for socket in self.take_sockets() {
            socket.leave_namespace(DisconnectReason::ServerNamespaceDisconnect, true);
        }
        self.close(CloseReason::ForcedClose);
    }

    /// The Engine.IO session ended: every socket leaves with its reason.
    pub(crate) fn on_close(&self, reason: CloseReason) {
        for socket in self.take_sockets() {
            socket.leave_namespace(DisconnectReason::from(reason), false);
        }
        self.lock(&self.assembler).clear();
    }

    fn take_sockets(&self) -> Vec<Arc<Socket>> {
        std::mem::take(&mut *self.lock(&self.sockets))
    }
}

/// Queues `frame` for `session`, compressible or not.
fn push(session: &Session, frame: rally_engine::Frame, compress: bool) -> Result<(), SendError> {
    if compress {
        session.send_frame(frame)
    } else {
        session.send_frame_uncompressed(frame)
    }
}

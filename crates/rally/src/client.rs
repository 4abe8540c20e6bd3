//! One client connection: an Engine.IO session and its namespaces.

use std::sync::{
    Arc, Mutex, MutexGuard, Weak,
    atomic::{AtomicUsize, Ordering},
};

use bytes::Bytes;
use rally_engine::{CloseReason, Frame, Message, SendError, Session, Sid};
use rally_proto::{
    Str,
    socket::{Assembler, BinaryPacket, Decoder, Packet, PacketType, event_name, split_array},
};

use crate::{
    AckReply, ConnectError, DisconnectReason, EmitError, Event, Socket, adapter::RestoredSession,
    encode::Encoded, event::AckSender, server::ServerInner,
};

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
}

impl Client {
    pub(crate) fn new(session: &Arc<Session>, server: Arc<ServerInner>) -> Arc<Self> {
        let client = Arc::new(Self {
            session: Arc::downgrade(session),
            sid: session.sid(),
            sockets: Mutex::default(),
            connecting: AtomicUsize::new(0),
            assembler: Mutex::new(Assembler::new().max_attachments(server.config.max_attachments)),
            server,
        });
        // A client that joins no namespace in time is let go (by the
        // session's heartbeat timer: no task of its own).
        session.expire_after(client.server.config.connect_timeout);
        client
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

    /// Queues frames; a full queue drops volatile packets and disconnects a
    /// client too slow for the others.
    pub(crate) fn send(
        &self,
        frames: impl Iterator<Item = Frame>,
        volatile: bool,
    ) -> Result<(), EmitError> {
        let Some(session) = self.session() else {
            return Err(EmitError::Disconnected);
        };
        for frame in frames {
            match session.send_frame(frame) {
                Ok(()) => {}
                Err(SendError::Full) if volatile => return Ok(()),
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
    pub(crate) fn queue(&self, frames: impl Iterator<Item = Frame>) -> bool {
        let Some(session) = self.session() else {
            return true;
        };
        for frame in frames {
            match session.send_frame(frame) {
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

    /// A message from the Engine.IO session.
    pub(crate) fn on_message(self: &Arc<Self>, message: Message) {
        let result = match message {
            Message::Text(text) => self.on_text(text),
            Message::Binary(bytes) => self.on_binary(bytes),
        };
        if let Err(why) = result {
            tracing::debug!(sid = %self.sid, why, "invalid packet: closing");
            // The reference closes the connection (`forced close`).
            self.close(CloseReason::ForcedClose);
        }
    }

    fn on_text(self: &Arc<Self>, text: Str) -> Result<(), &'static str> {
        let decoder = Decoder::new().max_attachments(self.server.config.max_attachments);
        // The items of an event's or ack's array come out of the one pass
        // that validates it.
        let (packet, items) = decoder
            .decode_split(text)
            .map_err(|_| "undecodable packet")?;
        let complete = self
            .lock(&self.assembler)
            .push(packet)
            .map_err(|_| "bad binary packet")?;
        complete.map_or(Ok(()), |packet| self.on_packet(packet, items))
    }

    fn on_binary(self: &Arc<Self>, bytes: Bytes) -> Result<(), &'static str> {
        let complete = self
            .lock(&self.assembler)
            .push_binary(bytes)
            .map_err(|_| "unexpected attachment")?;
        complete.map_or(Ok(()), |packet| self.on_packet(packet, None))
    }

    /// A complete packet; `items`: its payload's array items when the
    /// decoder found them already (else they are read from the payload).
    fn on_packet(
        self: &Arc<Self>,
        complete: BinaryPacket,
        items: Option<Vec<Str>>,
    ) -> Result<(), &'static str> {
        let BinaryPacket {
            packet,
            attachments,
        } = complete;
        let nsp = packet.nsp.as_str();
        if packet.kind == PacketType::Connect {
            return self.on_connect(packet);
        }
        let socket = self
            .lock(&self.sockets)
            .iter()
            .rev()
            .find(|s| s.ns().name() == nsp)
            .cloned();
        let Some(socket) = socket else {
            return Err("packet for a namespace not joined");
        };
        match packet.kind {
            PacketType::Disconnect => {
                socket.leave_namespace(DisconnectReason::ClientNamespaceDisconnect, false);
                Ok(())
            }
            PacketType::Event | PacketType::BinaryEvent => {
                let (name, args) = match &packet.data {
                    Some(data) => {
                        let name = event_name(data).map_err(|_| "bad event name")?;
                        let mut args = match items {
                            Some(items) => items,
                            None => split_array(data).map_err(|_| "bad event")?,
                        };
                        if !args.is_empty() {
                            args.remove(0);
                        }
                        (name, args)
                    }
                    // The reference takes `2` alone as an event without a name.
                    None => (Str::default(), Vec::new()),
                };
                let ack = packet.id.map(|id| AckSender {
                    socket: socket.clone(),
                    id,
                });
                let event = Event {
                    name,
                    args,
                    attachments,
                    ack,
                };
                socket.ns().dispatch(&socket, event);
                Ok(())
            }
            PacketType::Ack | PacketType::BinaryAck => {
                if let Some(id) = packet.id {
                    let args = match (items, &packet.data) {
                        (Some(items), _) => items,
                        (None, Some(data)) => split_array(data).map_err(|_| "bad ack")?,
                        (None, None) => Vec::new(),
                    };
                    socket.on_ack(id, AckReply { args, attachments });
                }
                Ok(())
            }
            _ => Err("unexpected packet type from a client"),
        }
    }

    fn on_connect(self: &Arc<Self>, packet: Packet) -> Result<(), &'static str> {
        let name = packet.nsp.as_str().to_owned();
        if self
            .lock(&self.sockets)
            .iter()
            .any(|s| s.ns().name() == name)
        {
            return Err("second CONNECT to a joined namespace");
        }
        let joined = self.lock(&self.sockets).len() + self.connecting.load(Ordering::Acquire);
        if joined >= self.server.config.max_namespaces {
            tracing::debug!(sid = %self.sid, nsp = name, "too many namespaces");
            let refusal = ConnectError::new("Too many namespaces");
            let _ = self.send(
                Encoded::control(PacketType::ConnectError, &name, Some(&refusal.payload()))
                    .frames(),
                false,
            );
            return Ok(());
        }
        let Some(ns) = self.server.namespace_for(&name, packet.data.as_ref()) else {
            let refusal = ConnectError::new("Invalid namespace");
            let _ = self.send(
                Encoded::control(PacketType::ConnectError, &name, Some(&refusal.payload()))
                    .frames(),
                false,
            );
            return Ok(());
        };
        let auth = packet.data.unwrap_or_else(|| Str::from_static("{}"));
        let client = self.clone();
        self.connecting.fetch_add(1, Ordering::AcqRel);
        crate::run::run_detached(Box::pin(async move {
            let restored = client.restore(&ns, &auth).await;
            let socket = Socket::new(
                ns.clone(),
                client.clone(),
                auth,
                restored.as_ref().map(|r| &r.session),
            );
            let skip = restored.is_some()
                && client
                    .server
                    .config
                    .recovery
                    .as_ref()
                    .is_some_and(|r| r.skip_middlewares);
            let allowed = if skip {
                Ok(())
            } else {
                ns.run_middlewares(&socket).await
            };
            match allowed {
                Ok(()) => client.admit(&ns, socket, &name, restored),
                Err(refusal) => {
                    socket.mark_refused();
                    let _ = client.send(
                        Encoded::control(PacketType::ConnectError, &name, Some(&refusal.payload()))
                            .frames(),
                        false,
                    );
                }
            }
            client.connecting.fetch_sub(1, Ordering::AcqRel);
        }));
        Ok(())
    }

    /// Whether the server has connection state recovery on.
    pub(crate) fn recovery_enabled(&self) -> bool {
        self.server.config.recovery.is_some()
    }

    /// The session a CONNECT asks to recover (auth `{pid, offset}`, both
    /// strings, as the reference requires), when the adapter has it.
    async fn restore(&self, ns: &crate::Namespace, auth: &str) -> Option<RestoredSession> {
        if !self.recovery_enabled() {
            return None;
        }
        #[derive(serde::Deserialize)]
        struct Resume {
            pid: Option<serde_json::Value>,
            offset: Option<serde_json::Value>,
        }
        let resume: Resume = serde_json::from_str(auth).ok()?;
        let serde_json::Value::String(pid) = resume.pid? else {
            return None;
        };
        let restored = match resume.offset {
            Some(serde_json::Value::String(offset)) => {
                ns.adapter().restore_session(&pid, &offset).await
            }
            _ => None,
        };
        self.server.recoveries.count(restored.is_some());
        restored
    }

    fn admit(
        &self,
        ns: &Arc<crate::Namespace>,
        socket: Arc<Socket>,
        name: &str,
        restored: Option<RestoredSession>,
    ) {
        let Some(session) = self.session().filter(|s| !s.is_closed()) else {
            socket.mark_refused();
            return;
        };
        // Joined: the connect timeout no longer applies.
        session.cancel_expiry();
        self.lock(&self.sockets).push(socket.clone());
        socket.mark_connected();
        // As the reference: the missed packets go out before the CONNECT
        // reply (the official client holds them until it is connected).
        let rooms = restored.map(|restored| {
            for missed in &restored.missed {
                let _ = self.send(missed.0.frames(), false);
            }
            restored.session.rooms
        });
        let reply = match socket.pid() {
            Some(pid) => [r#"{"sid":""#, &socket.id(), r#"","pid":""#, pid, r#""}"#].concat(),
            None => [r#"{"sid":""#, &socket.id(), r#""}"#].concat(),
        };
        let _ = self.send(
            Encoded::control(PacketType::Connect, name, Some(&reply)).frames(),
            false,
        );
        ns.connect(&socket, rooms.as_deref().unwrap_or_default());
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

//! What the handles ask of the task: joining and leaving namespaces,
//! emitting, answering acknowledgements, and the CONNECT packets.

use std::sync::Arc;

use rally_proto::{
    Str,
    socket::{BinaryPacket, Packet, PacketType},
};
use tokio::{sync::oneshot, time::Instant};

use super::{AuthReady, Command, Conn, Driver, Emit};
use crate::{
    AckError, DisconnectReason, Error,
    manager::lock,
    socket::{Auth, SocketShared},
};

impl Driver {
    pub(super) fn command(&mut self, command: Command) {
        match command {
            Command::Connect(shared, done) => self.connect(&shared, done),
            Command::Disconnect(shared) => {
                if self.leave(&shared.nsp) {
                    self.close_if_unused();
                }
            }
            Command::Emit(emit) => self.emit(emit),
            Command::Ack(packet) => {
                let connected = self
                    .nsps
                    .get(&packet.packet.nsp)
                    .is_some_and(|n| n.connected);
                if connected {
                    self.send_packet(&packet);
                }
            }
            Command::Close(_) => {}
        }
    }

    fn connect(
        &mut self,
        shared: &Arc<SocketShared>,
        done: Option<oneshot::Sender<Result<(), Error>>>,
    ) {
        let nsp = self.nsp_entry(shared);
        if nsp.connected {
            if let Some(done) = done {
                let _ = done.send(Ok(()));
            }
            return;
        }
        let was_active = nsp.active;
        nsp.set_active(true);
        if let Some(done) = done {
            nsp.add_waiter(done);
        }
        match self.conn {
            Conn::Idle => self.open(),
            Conn::Open(_) if !was_active => self.send_connect(&shared.nsp),
            _ => {}
        }
    }

    /// Makes a socket leave its namespace; true if it was active.
    fn leave(&mut self, name: &Str) -> bool {
        let Some(nsp) = self.nsps.get_mut(name) else {
            return false;
        };
        let (was_active, was_connected) = (nsp.active, nsp.connected);
        nsp.set_active(false);
        nsp.resolve_waiters(&Err(Error::Closed));
        if was_connected {
            nsp.on_closed();
            let packet = Packet::new(PacketType::Disconnect, name.clone());
            let shared = nsp.shared.clone();
            self.send_packet(&BinaryPacket::new(packet, Vec::new()));
            self.on_disconnect(&shared, DisconnectReason::IoClientDisconnect);
        }
        was_active
    }

    pub(super) fn leave_all(&mut self) {
        let names: Vec<Str> = self.nsps.keys().cloned().collect();
        for name in names {
            self.leave(&name);
        }
    }

    /// Closes the connection once no socket wants it.
    pub(super) fn close_if_unused(&mut self) {
        if self.nsps.values().any(|n| n.active) {
            return;
        }
        if let Some(engine) = self.stop() {
            tokio::spawn(engine.close());
        }
    }

    fn emit(&mut self, emit: Emit) {
        let Emit {
            socket,
            mut packet,
            ack,
            timeout,
            volatile,
        } = emit;
        let timeout = timeout.or(self.config.ack_timeout);
        let queued = self.config.retries > 0 && !volatile;
        let open = matches!(self.conn, Conn::Open(_));
        let nsp = self.nsp_entry(&socket);
        if queued {
            nsp.queue.push(packet, ack, timeout);
            self.drain_queue(&socket);
            return;
        }
        let connected = open && nsp.connected;
        if volatile && !connected {
            if let Some(tx) = ack {
                let _ = tx.send(Err(AckError::Disconnected));
            }
            return;
        }
        let id = ack.map(|tx| nsp.acks.insert(tx, timeout.map(|t| Instant::now() + t)));
        packet.packet.id = id;
        if connected {
            self.send_event(&socket, &packet);
        } else {
            nsp.buffer(id, packet);
        }
    }

    /// Sends the next try of the socket's retry queue, if it can go now.
    pub(super) fn drain_queue(&mut self, socket: &Arc<SocketShared>) {
        let next = self
            .nsps
            .get_mut(&socket.nsp)
            .and_then(|nsp| nsp.next_try(Instant::now()));
        if let Some(packet) = next {
            self.send_event(socket, &packet);
        }
    }

    pub(super) fn send_connect(&mut self, name: &Str) {
        let Some(nsp) = self.nsps.get(name) else {
            return;
        };
        let auth = lock(&nsp.shared.auth).clone();
        match auth {
            Auth::None => self.send_connect_with(name, None),
            Auth::Value(map) => self.send_connect_with(name, Some(map)),
            Auth::With(auth) => {
                let (tx, nsp, epoch) = (self.auth_tx.clone(), name.clone(), self.epoch);
                tokio::spawn(async move {
                    let auth = auth().await;
                    let _ = tx.send(AuthReady { nsp, epoch, auth });
                });
            }
        }
    }

    pub(super) fn auth_ready(&mut self, ready: AuthReady) {
        if ready.epoch != self.epoch {
            return;
        }
        let auth = match ready.auth {
            serde_json::Value::Object(map) => Some(map),
            _ => None,
        };
        self.send_connect_with(&ready.nsp, auth);
    }

    fn send_connect_with(
        &mut self,
        name: &Str,
        auth: Option<serde_json::Map<String, serde_json::Value>>,
    ) {
        let Some(nsp) = self.nsps.get_mut(name) else {
            return;
        };
        if !nsp.active || nsp.connected {
            return;
        }
        // A new connection: events held for an earlier one are stale.
        drop(nsp.take_held());
        let mut packet = Packet::new(PacketType::Connect, name.clone());
        if let Some(payload) = nsp.connect_payload(auth) {
            packet = packet.with_data(payload.into());
        }
        self.send_packet(&BinaryPacket::new(packet, Vec::new()));
    }
}

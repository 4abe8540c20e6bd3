//! What the server sends, namespace by namespace: connection replies,
//! refusals, disconnections, events (to the handlers), acknowledgements.

use std::sync::Arc;

use bytes::Bytes;
use rally_proto::{
    RawArgs,
    socket::{BinaryPacket, Packet, PacketType},
};

use super::Driver;
use crate::{
    AckReply, DisconnectReason, Error, Event, Socket, TransportError,
    event::AckSender,
    handler::run_detached,
    manager::lock,
    nsp::{parse_ack, parse_connect, parse_event, parse_refusal},
    socket::SocketShared,
};

impl Driver {
    /// Acts on a complete packet from the server.
    pub(super) fn packet(&mut self, packet: BinaryPacket) {
        let BinaryPacket {
            packet,
            attachments,
        } = packet;
        let Some(nsp) = self.nsps.get_mut(&packet.nsp) else {
            return;
        };
        let shared = nsp.shared.clone();
        match packet.kind {
            PacketType::Connect if nsp.active && !nsp.connected => {
                match parse_connect(packet.data.as_ref()) {
                    Some((sid, pid)) => self.accepted(&shared, sid, pid),
                    None => {
                        let error = Error::Transport(TransportError::InvalidResponse(
                            "connect packet without a socket id",
                        ));
                        nsp.resolve_waiters(&Err(error.clone()));
                        self.on_connect_error(&shared, &error);
                    }
                }
            }
            PacketType::ConnectError if nsp.active => {
                let error = parse_refusal(packet.data.as_ref());
                nsp.set_active(false);
                nsp.resolve_waiters(&Err(error.clone()));
                self.on_connect_error(&shared, &error);
                self.close_if_unused();
            }
            PacketType::Disconnect if nsp.connected => {
                nsp.set_active(false);
                nsp.on_closed();
                self.on_disconnect(&shared, DisconnectReason::IoServerDisconnect);
                self.close_if_unused();
            }
            PacketType::Event | PacketType::BinaryEvent if nsp.connected => {
                self.event(&shared, packet, attachments);
            }
            // A server recovering a session replays the missed events before
            // its CONNECT reply: they wait for it.
            PacketType::Event | PacketType::BinaryEvent if nsp.active => {
                nsp.hold(packet, attachments);
            }
            PacketType::Ack | PacketType::BinaryAck => {
                if let Some(id) = packet.id {
                    let reply = AckReply {
                        raw: RawArgs::new(parse_ack(packet.data.as_ref()), attachments),
                    };
                    if let Some(result) = nsp.acks.resolve(id, Ok(reply)) {
                        nsp.queue.done(id, result);
                        self.drain_queue(&shared);
                    }
                }
            }
            _ => {}
        }
    }

    /// The namespace accepted the socket: the events received meanwhile go
    /// to the handlers, the buffered emits go out, then the retry queue
    /// goes on, then the connect handlers run.
    fn accepted(&mut self, shared: &Arc<SocketShared>, sid: String, pid: Option<String>) {
        let Some(nsp) = self.nsps.get_mut(&shared.nsp) else {
            return;
        };
        let buffered = nsp.on_connected(sid, pid);
        let held = nsp.take_held();
        nsp.resolve_waiters(&Ok(()));
        for (packet, attachments) in held {
            self.event(shared, packet, attachments);
        }
        for packet in &buffered {
            self.send_event(shared, packet);
        }
        self.drain_queue(shared);
        if let Some(socket) = self.socket(shared) {
            let handlers = lock(&shared.handlers).connect.clone();
            for handler in handlers {
                run_detached(handler(socket.clone()));
            }
        }
    }

    /// Hands an event to the socket's handlers.
    fn event(&mut self, shared: &Arc<SocketShared>, packet: Packet, attachments: Vec<Bytes>) {
        let Some((name, args)) = parse_event(packet.data.as_ref()) else {
            return;
        };
        // As the official client: an event asking for an ack ends with
        // the ack callback there, never with an offset.
        if let (Some(nsp), None) = (self.nsps.get_mut(&shared.nsp), packet.id) {
            nsp.track_offset(&args);
        }
        let Some(socket) = self.socket(shared) else {
            return;
        };
        let ack = packet.id.map(|id| AckSender {
            commands: socket.manager.commands.clone(),
            nsp: packet.nsp.clone(),
            id,
        });
        dispatch(
            socket,
            Event {
                name,
                raw: RawArgs::new(args, attachments),
                ack,
            },
        );
    }

    pub(super) fn on_disconnect(&self, shared: &Arc<SocketShared>, reason: DisconnectReason) {
        if let Some(socket) = self.socket(shared) {
            let handlers = lock(&shared.handlers).disconnect.clone();
            for handler in handlers {
                run_detached(handler(socket.clone(), reason));
            }
        }
    }

    pub(super) fn on_connect_error(&self, shared: &Arc<SocketShared>, error: &Error) {
        if let Some(socket) = self.socket(shared) {
            let handlers = lock(&shared.handlers).connect_error.clone();
            for handler in handlers {
                run_detached(handler(socket.clone(), error.clone()));
            }
        }
    }
}

/// Shows an event about to be sent to the socket's outgoing listeners, in
/// order.
pub(super) fn notify_outgoing(socket: Socket, packet: &BinaryPacket) {
    let listeners = lock(&socket.inner.handlers).any_outgoing.clone();
    let Some((name, args)) = parse_event(packet.packet.data.as_ref()) else {
        return;
    };
    let event = Event {
        name,
        raw: RawArgs::new(args, packet.attachments.clone()),
        ack: None,
    };
    for listener in listeners {
        run_detached(listener(socket.clone(), event.without_ack()));
    }
}

/// Calls the catch-all handlers, then the event's own handler, which gets
/// the acknowledgement (the first catch-all gets it when there is none).
fn dispatch(socket: Socket, mut event: Event) {
    let (own, any) = {
        let handlers = lock(&socket.inner.handlers);
        (
            handlers.events.get(&event.name).cloned(),
            handlers.any.clone(),
        )
    };
    let mut ack = event.ack.take();
    for handler in any {
        let mut copy = event.without_ack();
        if own.is_none() {
            copy.ack = ack.take();
        }
        run_detached(handler(socket.clone(), copy));
    }
    if let Some(handler) = own {
        event.ack = ack;
        run_detached(handler(socket, event));
    }
}

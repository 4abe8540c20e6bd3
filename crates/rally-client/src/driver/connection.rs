//! The Engine.IO connection: opening it, its events, its loss, and the
//! reconnection policy.

use std::sync::Arc;

use rally_proto::{
    DecodeError, Str,
    engine::Message,
    socket::{Assembler, BinaryPacket, Parser, msgpack},
};
use tokio::time::Instant;

use super::{Conn, Driver, Opening};
use crate::{
    DisconnectReason, Error, Transport,
    engine::{Closed, Engine, EngineEvent},
    socket::SocketShared,
};

impl Driver {
    /// Stops connecting and reconnecting; gives the open engine, if any.
    pub(super) fn stop(&mut self) -> Option<Box<Engine>> {
        self.reconnecting = false;
        self.backoff.reset();
        self.set_status(None);
        match std::mem::replace(&mut self.conn, Conn::Idle) {
            Conn::Open(engine) => Some(engine),
            _ => None,
        }
    }

    pub(super) fn open(&mut self) {
        let config = self.config.engine.clone();
        let opening: Opening = Box::pin(async move { Engine::open(&config).await.map(Box::new) });
        self.conn = Conn::Opening(opening, Instant::now() + self.config.timeout);
    }

    pub(super) fn opened(&mut self, result: Result<Box<Engine>, Error>) {
        match result {
            Ok(engine) => {
                self.epoch += 1;
                self.assembler = Assembler::new();
                self.set_status(Some((engine.transport(), engine.sid().to_owned())));
                self.conn = Conn::Open(engine);
                let active: Vec<Str> = self
                    .nsps
                    .iter()
                    .filter(|(_, n)| n.active)
                    .map(|(name, _)| name.clone())
                    .collect();
                for name in active {
                    self.send_connect(&name);
                }
                if self.reconnecting {
                    let attempts = self.backoff.attempts();
                    self.reconnecting = false;
                    self.backoff.reset();
                    self.hooks(|h| h.reconnect.clone(), |hook| hook(attempts));
                }
            }
            Err(error) => {
                tracing::debug!(%error, "connection failed");
                self.conn = Conn::Idle;
                let failed: Vec<Arc<SocketShared>> = self
                    .nsps
                    .values_mut()
                    .filter(|n| n.active && !n.connected)
                    .map(|n| {
                        n.resolve_waiters(&Err(error.clone()));
                        n.shared.clone()
                    })
                    .collect();
                for shared in failed {
                    self.on_connect_error(&shared, &error);
                }
                self.schedule_reconnect();
            }
        }
    }

    fn schedule_reconnect(&mut self) {
        self.conn = Conn::Idle;
        if !self.config.reconnection || !self.nsps.values().any(|n| n.active) {
            self.reconnecting = false;
            return;
        }
        if self
            .config
            .reconnection_attempts
            .is_some_and(|max| self.backoff.attempts() >= max)
        {
            self.backoff.reset();
            self.reconnecting = false;
            self.hooks(|h| h.reconnect_failed.clone(), |hook| hook());
            return;
        }
        let delay = self.backoff.next_delay();
        tracing::debug!(?delay, "reconnecting");
        self.reconnecting = true;
        self.conn = Conn::Waiting(Instant::now() + delay);
    }

    pub(super) fn timer(&mut self) {
        let now = Instant::now();
        match self.conn {
            Conn::Opening(_, at) if at <= now => self.opened(Err(Error::Timeout)),
            Conn::Waiting(at) if at <= now => {
                let attempt = self.backoff.attempts();
                self.hooks(|h| h.reconnect_attempt.clone(), |hook| hook(attempt));
                self.open();
            }
            _ => {}
        }
        for nsp in self.nsps.values_mut() {
            nsp.expire(now);
        }
        if self.config.retries > 0 {
            let sockets: Vec<Arc<SocketShared>> =
                self.nsps.values().map(|n| n.shared.clone()).collect();
            for socket in &sockets {
                self.drain_queue(socket);
            }
        }
    }

    pub(super) fn engine_event(&mut self, event: EngineEvent) {
        match event {
            EngineEvent::Message(message) => {
                let packet = match (self.config.parser, message) {
                    (Parser::MsgPack, Message::Binary(bytes)) => {
                        msgpack::decode(&bytes, usize::MAX).map(|(packet, attachments)| {
                            Some(BinaryPacket::new(packet, attachments))
                        })
                    }
                    // The MessagePack parser reads binary messages only.
                    (Parser::MsgPack, Message::Text(_)) => Err(DecodeError::InvalidMsgpack),
                    (_, Message::Text(text)) => self
                        .decoder
                        .decode(text)
                        .and_then(|p| self.assembler.push(p)),
                    (_, Message::Binary(bytes)) => self.assembler.push_binary(bytes),
                };
                self.decoded(packet);
            }
            EngineEvent::Upgraded => {
                if let Some(engine) = self.engine() {
                    let status = (engine.transport(), engine.sid().to_owned());
                    self.set_status(Some(status));
                }
                let transport = Transport::WebSocket;
                self.hooks(|h| h.upgrade.clone(), |hook| hook(transport));
            }
            EngineEvent::Closed(closed) => {
                let reason = match closed {
                    Closed::PingTimeout => DisconnectReason::PingTimeout,
                    Closed::TransportClose => DisconnectReason::TransportClose,
                    Closed::TransportError(error) => {
                        tracing::debug!(%error, "transport error");
                        DisconnectReason::TransportError
                    }
                };
                self.lost(reason);
            }
        }
    }

    fn decoded(&mut self, packet: Result<Option<BinaryPacket>, rally_proto::DecodeError>) {
        match packet {
            Ok(Some(packet)) => self.packet(packet),
            Ok(None) => {}
            Err(error) => {
                tracing::debug!(%error, "parse error");
                if let Conn::Open(engine) = std::mem::replace(&mut self.conn, Conn::Idle) {
                    tokio::spawn(engine.close());
                }
                self.lost(DisconnectReason::ParseError);
            }
        }
    }

    /// The connection is gone: every connected socket disconnects, and the
    /// manager reconnects if it should.
    fn lost(&mut self, reason: DisconnectReason) {
        tracing::debug!(%reason, "connection lost");
        self.conn = Conn::Idle;
        self.set_status(None);
        let lost: Vec<Arc<SocketShared>> = self
            .nsps
            .values_mut()
            .filter(|n| n.connected)
            .map(|n| {
                n.on_closed();
                n.shared.clone()
            })
            .collect();
        for shared in lost {
            self.on_disconnect(&shared, reason);
        }
        self.backoff.reset();
        self.schedule_reconnect();
    }
}

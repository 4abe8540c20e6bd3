//! The two transports: long-polling and WebSocket.

pub(crate) mod polling;
pub(crate) mod websocket;

use std::fmt;

/// A transport a session can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// HTTP long-polling: a held GET carries server packets, POSTs carry client packets.
    Polling,
    /// One WebSocket carries everything.
    WebSocket,
}

impl Transport {
    /// The transport's name in the `transport` query parameter.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Polling => "polling",
            Self::WebSocket => "websocket",
        }
    }

    /// The transport named `name`, if it is one.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "polling" => Some(Self::Polling),
            "websocket" => Some(Self::WebSocket),
            _ => None,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

use std::sync::Arc;

use rally_proto::engine::Packet;

use crate::{CloseReason, Handler, Session, engine::Engine};

/// Acts on one packet from the client, whatever transport brought it.
pub(crate) fn on_packet<H: Handler>(engine: &Engine<H>, session: &Arc<Session>, packet: Packet) {
    match packet {
        Packet::Message(message) => {
            session.received(message.len());
            engine.handler.on_message(session, message);
        }
        Packet::Pong(_) => session.heartbeat_pong(engine.config.ping_interval),
        Packet::Close => session.close_with(CloseReason::TransportClose),
        // In protocol 4 only the server pings.
        Packet::Ping(_) => {
            tracing::debug!(sid = %session.sid(), "client ping: invalid heartbeat direction");
            session.close_with(CloseReason::TransportError);
        }
        // An open from a client is meaningless; upgrade and noop only matter
        // during an upgrade, where the WebSocket handles them.
        Packet::Open(_) | Packet::Upgrade | Packet::Noop => {}
    }
}

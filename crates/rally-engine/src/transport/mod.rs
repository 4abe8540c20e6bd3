//! The two transports: long-polling and WebSocket.

pub(crate) mod polling;
pub(crate) mod websocket;

pub use rally_proto::engine::Transport;

use std::sync::Arc;

use rally_proto::{
    Str,
    engine::{Frame, Packet},
};

use crate::{CloseReason, Handler, Protocol, Session, engine::Engine};

/// The answer to a protocol 3 client's ping.
const PONG: Frame = Frame::Text(Str::from_static("3"));

/// Acts on one packet from the client, whatever transport brought it.
pub(crate) fn on_packet<H: Handler>(engine: &Engine<H>, session: &Arc<Session>, packet: Packet) {
    match packet {
        Packet::Message(message) => {
            session.received(message.len());
            engine.handler.on_message(session, message);
        }
        // In protocol 4 the server pings and the client answers; in
        // protocol 3 the other way round. The wrong direction is a
        // transport error, as in the reference.
        Packet::Pong(_) if session.protocol() == Protocol::V4 => {
            session.heartbeat_pong(engine.config.ping_interval);
        }
        Packet::Ping(_) if session.protocol() == Protocol::V3 => {
            let config = &engine.config;
            session.heartbeat_ping(config.ping_interval + config.ping_timeout);
            // A full queue cannot take the pong: the client will time out.
            drop(session.send_frame(PONG));
        }
        Packet::Close => session.close_with(CloseReason::TransportClose),
        Packet::Ping(_) | Packet::Pong(_) => {
            tracing::debug!(sid = %session.sid(), "invalid heartbeat direction");
            session.close_with(CloseReason::TransportError);
        }
        // An open from a client is meaningless; upgrade and noop only matter
        // during an upgrade, where the WebSocket handles them.
        Packet::Open(_) | Packet::Upgrade | Packet::Noop => {}
    }
}

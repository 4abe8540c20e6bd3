//! The two transports, the tiny HTTP/1.1 client long-polling rides on, and
//! the WebSocket's opening handshake.

pub(crate) mod http;
pub(crate) mod polling;
pub(crate) mod websocket;
mod ws_handshake;

pub use rally_proto::engine::Transport;

//! The two transports, the tiny HTTP/1.1 client long-polling rides on, the
//! WebSocket's opening handshake, and the stream (TCP or TLS) under them.

pub(crate) mod http;
pub(crate) mod polling;
mod stream;
pub(crate) mod websocket;
mod ws_handshake;

pub use rally_proto::engine::Transport;

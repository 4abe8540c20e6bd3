//! The two transports, and the tiny HTTP/1.1 client long-polling rides on.

pub(crate) mod http;
pub(crate) mod polling;
pub(crate) mod websocket;

pub use rally_proto::engine::Transport;

//! Socket.IO in Rust: the server library.
//!
//! Rally speaks the Socket.IO protocol (5, over Engine.IO 4) byte for byte
//! like the official JavaScript server, so the official `socket.io-client`
//! in a browser or in Node talks to it unchanged: namespaces, rooms,
//! events with acknowledgements, binary data, broadcasting, middlewares.
//!
//! ```no_run
//! use rally::Server;
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let io = Server::new();
//!     io.of("/").on_connection(|socket| async move {
//!         let _ = socket.emit("welcome", &"hello");
//!     });
//!     io.of("/").on("chat", |socket, event| async move {
//!         if let Ok(text) = event.arg::<String>(0) {
//!             let _ = socket.broadcast().emit("chat", &text);
//!         }
//!     });
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     rally::serve(listener, io).await
//! }
//! ```
//!
//! Handlers live on namespaces and apply to every socket that joins. They
//! run in the order packets arrive; one that finishes without waiting costs
//! no task. Per-socket outgoing queues are bounded: when a client reads too
//! slowly, volatile packets to it are dropped and, for any other packet, it
//! is disconnected (`transport error`) rather than buffered without limit.

pub mod adapter;
mod client;
mod config;
mod encode;
mod error;
mod event;
mod namespace;
mod operators;
mod reason;
mod recovery;
mod remote;
mod run;
mod server;
mod server_event;
mod socket;

use std::sync::Arc;

pub use adapter::AdapterError;
pub use config::ServerBuilder;
pub use error::{AckError, ConnectError, EmitError};
pub use event::{AckReply, AckSender, Event};
pub use namespace::Namespace;
pub use operators::{AckResponses, BroadcastOperator};
pub use rally_engine::{
    CloseReason, Cookie, Cors, RemoteAddr, Sid, SidHasher, SidMap, SidSet, Stats, Transport, serve,
    serve_with_shutdown,
};
pub use rally_proto::{Args, Binary};
pub use reason::DisconnectReason;
pub use recovery::{ConnectionStateRecovery, RecoveryLogSize, RecoveryStats};
pub use remote::RemoteSocket;
pub use server::Server;
pub use server_event::ServerEvent;
pub use socket::{Handshake, IntoRooms, Socket, TimedSocket};

/// A room name.
pub type Room = Arc<str>;

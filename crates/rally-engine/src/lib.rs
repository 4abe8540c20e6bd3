//! An Engine.IO server (protocol 4) as a tower [`Service`](tower_service::Service).
//!
//! `rally-engine` carries messages between a server and the official
//! `engine.io-client` (or any Engine.IO 4 client) over HTTP long-polling and
//! WebSocket, with the upgrade between them and the server-driven heartbeat.
//! It knows nothing of Socket.IO namespaces: the `rally` crate builds those on
//! top. It owns no runtime and no accept loop: serve it with [`serve`], nest
//! it in an axum router, or wrap another service with [`EngineIoLayer`].
//!
//! ```no_run
//! use std::sync::Arc;
//! use rally_engine::{Config, EngineIo, Handler, Message, Session};
//!
//! struct Echo;
//!
//! impl Handler for Echo {
//!     fn on_open(&self, session: &Arc<Session>) {
//!         println!("{} opened over {}", session.sid(), session.transport());
//!     }
//!     fn on_message(&self, session: &Arc<Session>, message: Message) {
//!         let _ = session.send(message);
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let engine = EngineIo::new(Config::default(), Echo);
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//!     rally_engine::serve(listener, engine).await
//! }
//! ```

mod close;
mod config;
mod engine;
mod error;
mod handler;
mod handshake;
mod layer;
mod queue;
mod rate;
mod response;
mod serve;
mod session;
mod sid;
mod stats;
mod transport;

pub use close::CloseReason;
pub use config::{AllowOrigin, AllowRequest, Config, Cookie, Cors, SameSite};
pub use engine::{EngineIo, ResponseFuture};
pub use error::SendError;
pub use handler::Handler;
pub use handshake::{Handshake, RemoteAddr};
pub use layer::{EngineIoLayer, EngineIoService, LayerFuture};
pub use rally_proto::Str;
pub use rally_proto::engine::{Frame, Message};
pub use response::EngineBody;
pub use serve::{serve, serve_with_shutdown};
pub use session::Session;
pub use sid::{Sid, SidHash, SidHasher, SidMap, SidSet};
pub use stats::Stats;
pub use transport::Transport;

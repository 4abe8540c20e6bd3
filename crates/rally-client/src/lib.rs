//! An async Socket.IO client: protocol 5 over Engine.IO 4, wire-compatible
//! with the official JavaScript servers and with Rally.
//!
//! - long-polling, WebSocket, and the upgrade from one to the other
//!   (polling first, then WebSocket, as the official client does);
//! - several namespaces on one connection (a [`Manager`] shared by one
//!   [`Socket`] per namespace), with auth as a value or an async function;
//! - events with acknowledgements both ways, with timeouts, binary data
//!   anywhere in the arguments ([`Binary`]), handlers and a catch-all;
//! - reconnection with exponential backoff and jitter, emits buffered
//!   while disconnected, connection state recovery;
//! - the heartbeat the server drives, typed errors, a clean close.
//!
//! ```no_run
//! use std::time::Duration;
//! use rally_client::{Args, Manager};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let socket = Manager::new("http://127.0.0.1:3000")?.socket("/");
//!     socket.set_auth(&serde_json::json!({"token": "secret"}))?;
//!     socket.on("chat", |_socket, event| async move {
//!         println!("chat: {:?}", event.arg::<String>(0));
//!     });
//!     socket.connect().await?;
//!     socket.emit("chat", "hello")?;
//!     let reply = socket
//!         .timeout(Duration::from_secs(5))
//!         .emit_with_ack("sum", Args::new().arg(&1).arg(&2))
//!         .await?;
//!     println!("sum: {}", reply.arg::<i64>(0)?);
//!     socket.manager().close().await;
//!     Ok(())
//! }
//! ```
//!
//! Each manager runs one task. Handlers run in the order events arrive;
//! one that finishes without waiting costs no task, one that waits goes on
//! in a task of its own. Plain TCP only (`http://`, `ws://`): no TLS.

mod ack;
mod config;
mod driver;
mod emitter;
mod engine;
mod error;
mod event;
mod handler;
mod manager;
mod nsp;
mod reason;
mod reconnect;
mod socket;
mod transport;
mod upgrade;
mod url;

pub use config::ManagerBuilder;
pub use emitter::{AckFuture, Emitter};
pub use error::{AckError, EmitError, Error, TransportError};
pub use event::{AckReply, AckSender, Event};
pub use manager::Manager;
pub use rally_proto::{Args, Binary};
pub use reason::DisconnectReason;
pub use socket::Socket;
pub use transport::Transport;

/// A new manager for `url` and its socket for the namespace the URL's path
/// names (`/` when it has none), not connected yet: the `io(url)` of the
/// official client, without its cache of managers.
///
/// ```
/// let socket = rally_client::io("http://127.0.0.1:3000/admin")?;
/// assert_eq!(socket.nsp(), "/admin");
/// # Ok::<(), rally_client::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::InvalidUrl`] when the URL cannot be used.
pub fn io(url: &str) -> Result<Socket, Error> {
    Manager::builder(url).socket()
}

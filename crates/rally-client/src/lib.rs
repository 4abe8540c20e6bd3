#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(clippy::print_stdout, clippy::print_stderr)]

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
mod queue;
mod reason;
mod reconnect;
mod socket;
mod tls;
mod transport;
mod upgrade;
mod url;

pub use config::ManagerBuilder;
pub use emitter::{AckFuture, Emitter};
pub use error::{AckError, EmitError, Error, TransportError};
pub use event::{AckReply, AckSender, Event};
pub use manager::Manager;
pub use rally_proto::{
    Args, Binary,
    socket::{Parser, UnknownParser},
};
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

// The handles users share across tasks must stay `Send + Sync`.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Manager>();
    send_sync::<ManagerBuilder>();
    send_sync::<Socket>();
    send_sync::<Emitter<'static>>();
    send_sync::<AckFuture>();
    send_sync::<AckSender>();
    send_sync::<AckReply>();
    send_sync::<Error>();
    send_sync::<EmitError>();
    send_sync::<AckError>();
};

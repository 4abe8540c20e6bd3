#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod adapter;
pub mod admin;
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
mod state;

use std::sync::Arc;

pub use adapter::AdapterError;
pub use config::ServerBuilder;
pub use error::{AckError, ConnectError, EmitError};
pub use event::{AckReply, AckSender, Event};
pub use namespace::Namespace;
pub use operators::{AckResponses, BroadcastOperator};
pub use rally_engine::PerMessageDeflate;
pub use rally_engine::{Bus, ForwardStats, Inbox, NodeTag};
pub use rally_engine::{
    CloseReason, ConnectionError, Cookie, Cors, HttpCompression, Refusal, RemoteAddr, RequestBody,
    SameSite, Secure, Sid, SidHasher, SidMap, SidSet, Stats, Transport, serve, serve_hyper,
    serve_hyper_with_shutdown, serve_with_shutdown,
};
#[cfg(feature = "tls")]
pub use rally_engine::{serve_tls, serve_tls_with_shutdown, tls};
pub use rally_proto::{Args, Binary, socket::Parser};
pub use reason::DisconnectReason;
pub use recovery::{ConnectionStateRecovery, RecoveryLogSize, RecoveryStats};
pub use remote::RemoteSocket;
pub use server::Server;
pub use server_event::ServerEvent;
pub use socket::{Handshake, IntoRoom, IntoRooms, Socket, SocketOperator, TimedSocket};

/// A room name.
pub type Room = Arc<str>;

// The handles users share across tasks must stay `Send + Sync`.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Server>();
    send_sync::<Namespace>();
    send_sync::<Socket>();
    send_sync::<Arc<Socket>>();
    send_sync::<BroadcastOperator>();
    send_sync::<SocketOperator<'static>>();
    send_sync::<RemoteSocket>();
    send_sync::<AckSender>();
    send_sync::<AckReply>();
    send_sync::<AckResponses>();
    send_sync::<Args>();
    send_sync::<ConnectionStateRecovery>();
    send_sync::<ServerBuilder>();
    send_sync::<admin::AdminUi>();
    send_sync::<admin::Auth>();
};

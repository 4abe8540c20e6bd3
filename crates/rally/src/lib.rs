#![doc = include_str!("../README.md")]

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

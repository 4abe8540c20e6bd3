#![doc = include_str!("../README.md")]

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

#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod close;
mod compression;
mod config;
mod engine;
mod error;
mod forward;
mod handler;
mod handshake;
mod hooks;
mod layer;
mod protocol;
mod queue;
mod rate;
mod response;
mod serve;
mod session;
mod sid;
mod stats;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;

pub use close::CloseReason;
pub use compression::HttpCompression;
pub use config::{
    AllowOrigin, AllowRequest, Config, Cookie, Cors, OriginPredicate, PerMessageDeflate, SameSite,
};
pub use engine::{EngineIo, ResponseFuture};
pub use error::SendError;
pub use forward::{Bus, ForwardStats, Inbox, MAX_PENDING, POST_TIMEOUT};
pub use handler::Handler;
pub use handshake::{Handshake, Headers, RemoteAddr, Secure};
pub use hooks::{ConnectionError, ConnectionErrorHook, HeadersHook, Refusal};
pub use layer::{EngineIoLayer, EngineIoService, LayerFuture};
pub use protocol::Protocol;
pub use rally_proto::Str;
pub use rally_proto::engine::{Frame, Message};
pub use response::EngineBody;
pub use serve::{RequestBody, serve, serve_hyper, serve_hyper_with_shutdown, serve_with_shutdown};
#[cfg(feature = "tls")]
pub use serve::{serve_tls, serve_tls_with_shutdown};
pub use session::Session;
pub use sid::{NodeTag, Sid, SidHash, SidHasher, SidMap, SidSet};
pub use stats::Stats;
pub use transport::Transport;

// The handles users share across tasks must stay `Send + Sync`.
const _: () = {
    struct Nop;
    impl Handler for Nop {
        fn on_open(&self, _: &std::sync::Arc<Session>) {}
        fn on_message(&self, _: &std::sync::Arc<Session>, _: Message) {}
    }
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<EngineIo<Nop>>();
    send_sync::<EngineIoLayer<Nop>>();
    send_sync::<Session>();
    send_sync::<Config>();
    send_sync::<Stats>();
    send_sync::<Sid>();
    send_sync::<Protocol>();
    send_sync::<RequestBody>();
};

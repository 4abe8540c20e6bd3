#![doc = include_str!("../README.md")]
// `unsafe_code` stays denied (workspace lints) rather than forbidden: `Str::as_str`
// skips a second UTF-8 check on bytes every constructor has already checked
// (see its SAFETY comment), on the path of every packet.
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod ack_error;
mod args;
mod binary;
pub mod engine;
mod error;
pub mod msgpack;
mod raw_args;
pub mod socket;
mod str;
pub mod ws;

pub use ack_error::AckError;
pub use args::Args;
pub use binary::{Binary, collect_attachments, read_attachments};
pub use error::DecodeError;
pub use raw_args::RawArgs;
pub use str::Str;

// Values the server and the client hand between tasks must stay `Send + Sync`.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Str>();
    send_sync::<Args>();
    send_sync::<Binary>();
    send_sync::<RawArgs>();
    send_sync::<DecodeError>();
    send_sync::<AckError<DecodeError>>();
    send_sync::<engine::Packet>();
    send_sync::<engine::Transport>();
    send_sync::<engine::v3::PayloadDecoder>();
    send_sync::<socket::Packet>();
    send_sync::<socket::Decoder>();
};

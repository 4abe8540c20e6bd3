#![doc = include_str!("../README.md")]

mod args;
mod binary;
pub mod engine;
mod error;
pub mod msgpack;
pub mod socket;
mod str;

pub use args::Args;
pub use binary::{Binary, collect_attachments, read_attachments};
pub use error::DecodeError;
pub use str::Str;

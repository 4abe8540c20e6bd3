//! Wire formats of Engine.IO (protocol 4, [`engine`]) and Socket.IO (protocol 5,
//! [`socket`]).
//!
//! This crate does no I/O: it turns bytes into packets and packets into bytes.
//! Every decoder returns a typed [`DecodeError`] instead of panicking, whatever
//! the input, so it is safe to feed it anything a client sends.
//!
//! ```
//! use rally_proto::engine::{Packet, Message};
//! use rally_proto::Str;
//!
//! let packet = Packet::decode_text(Str::from("4hello")).unwrap();
//! assert_eq!(packet, Packet::Message(Message::Text(Str::from("hello"))));
//! ```

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

//! Engine.IO protocol 4: packets, frames and long-polling payloads.
//!
//! A [`Packet`] is what a transport carries; a [`Frame`] is a packet already
//! encoded for the wire, shared by every recipient of a broadcast; a polling
//! body is a sequence of frames joined by the record separator `\x1e`
//! ([`encode_payload`], [`decode_payload`]).
//!
//! Protocol 3, what Socket.IO v2 clients speak, is in [`v3`].

mod frame;
mod packet;
mod payload;
mod transport;
pub mod v3;

pub use frame::Frame;
pub use packet::{Message, Packet, PacketType};
pub use payload::{PayloadDecoder, SEPARATOR, decode_payload, encode_payload};
pub use transport::Transport;

/// The Engine.IO protocol revision this crate speaks (`EIO=4`).
pub const PROTOCOL: u8 = 4;

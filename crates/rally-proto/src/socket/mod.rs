//! Socket.IO protocol 5: packets, event payloads and binary attachments.
//!
//! A Socket.IO [`Packet`] travels as the text of one Engine.IO message
//! (`42["chat","hi"]` on a WebSocket is the message `4` carrying the EVENT
//! `2["chat","hi"]`). Payloads stay raw JSON text, slices of what was
//! received: [`split_array`] and [`event_name`] read them without building a
//! tree, [`event_array`] builds one. Binary values travel as attachments: the
//! JSON holds a [`placeholder`] for each, and the attachments follow as binary
//! messages, which an [`Assembler`] collects.
//!
//! Decoding follows socket.io-parser 4.2.7 (socket.io 4.8.4) to the byte,
//! quirks included (see [`Decoder::decode`]), except where Rust cannot carry
//! what JavaScript would:
//!
//! - an ack id that JavaScript reads as `NaN` (`21 2[...]`) or that does not
//!   fit in a `u64` is an error, not a `NaN` or a rounded float;
//! - [`event_name`] fails on a name with a lone surrogate escape (the packet
//!   itself is accepted, as in the reference);
//! - a placeholder `num` must be an integer (the reference lets `0.5` through
//!   and yields `undefined`), and the placeholders of a binary packet are
//!   checked with a `serde_json` tree, which refuses nesting deeper than 128;
//! - payloads are kept as received, so relayed JSON keeps its original
//!   spelling (`1.0`, `"\u0061"`) where the reference would re-stringify it.
//!
//! ```
//! use bytes::Bytes;
//! use rally_proto::socket::{Assembler, Decoder, event_name, split_array};
//!
//! let decoder = Decoder::new();
//! let mut assembler = Assembler::new();
//!
//! // A plain event comes out at once.
//! let packet = decoder.decode(r#"2/admin,13["ping",{"n":1}]"#.into()).unwrap();
//! let done = assembler.push(packet).unwrap().unwrap();
//! let data = done.packet.data.unwrap();
//! assert_eq!(event_name(&data).unwrap(), "ping");
//! assert_eq!(split_array(&data).unwrap()[1], r#"{"n":1}"#);
//!
//! // A binary event waits for its attachment.
//! let packet = decoder.decode(r#"51-["file",{"_placeholder":true,"num":0}]"#.into()).unwrap();
//! assert_eq!(assembler.push(packet).unwrap(), None);
//! let done = assembler.push_binary(Bytes::from_static(b"\x01\x02")).unwrap().unwrap();
//! assert_eq!(done.attachments, [Bytes::from_static(b"\x01\x02")]);
//! ```

mod assembler;
mod binary;
mod decoder;
mod event;
mod js;
mod json;
pub mod msgpack;
mod packet;
mod parser;
mod payload;

pub use assembler::Assembler;
pub use binary::{BinaryPacket, placeholder, replace_placeholders};
pub use decoder::{DEFAULT_MAX_ATTACHMENTS, Decoder};
pub use event::{event_array, event_name, split_array};
pub use packet::{Packet, PacketType, frame_of};
pub use parser::{Parser, UnknownParser};
pub use payload::{RESERVED_EVENTS, is_reserved_event};

/// The Socket.IO protocol revision this module speaks.
pub const PROTOCOL: u8 = 5;

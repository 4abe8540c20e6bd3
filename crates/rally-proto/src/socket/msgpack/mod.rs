//! The MessagePack parser: Socket.IO packets as `socket.io-msgpack-parser`
//! 3.0.2 writes them (it encodes with notepack.io 2.2.0).
//!
//! With this parser a packet is one binary Engine.IO message holding one
//! MessagePack map: `type` (0 to 4: there are no binary types), `nsp`,
//! `data` and `id`, in the order the sender built its packet object. Binary
//! values travel inside `data` as MessagePack `bin`: there are no
//! attachment messages.
//!
//! The rest of Rally keeps payloads as JSON text with placeholders (see
//! [`placeholder`](super::placeholder)), so this module transcodes at the
//! edges:
//!
//! - [`decode`] turns the bytes of one message into what the default parser
//!   yields once a packet is assembled: a [`Packet`] whose data is JSON text,
//!   every binary value replaced by a placeholder, with its attachments
//!   beside it (an EVENT or ACK with binary becomes a `BINARY_EVENT` or
//!   `BINARY_ACK` with the attachment count). It checks what the default
//!   parser checks, which is more than `socket.io-msgpack-parser` does (see
//!   [`decode`]).
//! - [`encode`] writes the bytes `socket.io-msgpack-parser` would send for
//!   the JavaScript packet that JSON text stands for (`JSON.parse` of the
//!   data, the attachments put back as `Buffer`s), fields in the order of the
//!   reference's code path ([`Layout`]). It reads the JSON text once, into a
//!   flat list of tokens, and writes straight into one buffer: encode a
//!   broadcast once and send the bytes to every recipient.
//!
//! # The MessagePack forms
//!
//! notepack.io writes the smallest form of every integer, `str 8` for
//! strings of 32 to 255 bytes, no `array 8` / `map 8`, every non-integer
//! number as `float 64`, `Buffer` as `bin` and maps in the object's key
//! order: the forms of `@msgpack/msgpack` too, so the integer and length
//! writers of [`crate::msgpack`] (the Redis adapters' codec) serve both.
//! Its `Value` tree does not: notepack writes `undefined` as the extension
//! `d4 00 00`, a `Date` as `fixext 8` of type 0 and, in Node.js, an
//! `ArrayBuffer` or typed array as `ext 8/16/32` of type 0, where
//! `@msgpack/msgpack` has `nil`, its timestamp and `bin`; and a tree would
//! cost an allocation per value where this module writes as it reads. No
//! crate (rmp, rmpv) knows notepack's extensions or JavaScript's number and
//! key rules below, so this module has its own reader and token walker.
//!
//! # Numbers, keys and strings, as JavaScript holds them
//!
//! - A JSON number is written as JavaScript's `Number` would be: an integer
//!   value in the smallest integer form (`1`, `1.0` and `1e0` alike; `-0` as
//!   `0`), anything else as `float 64` (`1e400` is infinity, as in
//!   `JSON.parse`). Two deliberate differences, both where notepack would
//!   lose the value: an integer literal beyond 2^53 that fits in 64 bits is
//!   written exactly (JavaScript would round it first; a JavaScript reader
//!   rounds it to the same `Number` either way, and a Rust reader keeps it),
//!   and an integer value of 2^64 or more, or below -2^63, is written as
//!   `float 64` (notepack would write it modulo 2^64).
//! - Object keys come out in JavaScript's order: array-index keys (`"0"` to
//!   `"4294967294"`, canonical decimal) first, ascending, then the others in
//!   order of first appearance; a repeated key keeps its last value.
//! - Strings are unescaped and written as UTF-8; a lone surrogate escape
//!   (`"\ud800"`) becomes U+FFFD, as `Buffer` writes it.
//!
//! Decoding writes JSON text as `JSON.stringify` would for the decoded value:
//! numbers in JavaScript's shortest form (`1e+21`, `1e-7`, `0.1`), `NaN` and
//! infinities as `null`, `undefined` as `null` in an array and left out of a
//! map, a `Date` (`fixext 8` of type 0) as its ISO string, an `ext 8/16/32`
//! of type 0 as binary (an `ArrayBuffer`) and any other extension as the
//! array `[type, bytes]`, as notepack reads them, invalid UTF-8 as U+FFFD.
//! Four differences: a 64-bit integer is written exactly (where
//! JavaScript would round it), map keys stay in the order they arrived (a
//! reader of the JSON text orders them), only strings, numbers, `nil`,
//! booleans and `undefined` may be keys (JavaScript would turn any value
//! into a key string), and a map may not repeat a key (JavaScript would keep
//! the last value).
//!
//! ```
//! use bytes::Bytes;
//! use rally_proto::socket::{Packet, PacketType, msgpack::{self, Layout}};
//!
//! // What socket.io-client sends for `socket.emit("file", Buffer.from([1, 2]), ack)`.
//! let bytes = Bytes::from_static(
//!     b"\x85\xa4type\x02\xa4data\x92\xa4file\xc4\x02\x01\x02\xa7options\x81\xa8compress\xc3\xa2id\x00\xa3nsp\xa1/",
//! );
//! let (packet, attachments) = msgpack::decode(&bytes, 10).unwrap();
//! assert_eq!(packet.kind, PacketType::BinaryEvent);
//! assert_eq!((packet.id, packet.attachments), (Some(0), 1));
//! assert_eq!(packet.data.as_deref(), Some(r#"["file",{"_placeholder":true,"num":0}]"#));
//! assert_eq!(attachments, [Bytes::from_static(&[1, 2])]);
//!
//! // The server's answer, as socket.io 4.8.4 writes it (`id` first for an ack).
//! let ack = Packet::new(PacketType::Ack, "/".into()).with_id(0).with_data(r#"["ok"]"#.into());
//! assert_eq!(
//!     msgpack::encode(&ack, &[], Layout::Server).unwrap(),
//!     &b"\x84\xa2id\x00\xa4type\x03\xa4data\x91\xa2ok\xa3nsp\xa1/"[..],
//! );
//! ```
//!
//! [`Packet`]: super::Packet

mod decode;
mod encode;
pub(crate) mod text;

pub use decode::decode;
pub use encode::{EncodeError, Layout, encode, encode_into};

/// How deeply arrays and objects may nest in a packet's data as JSON (the
/// data itself is level 1, a placeholder object is a level): [`decode`]
/// refuses MessagePack that would nest deeper, [`encode`] JSON that does.
///
/// 127 is as deep as `serde_json` reads a tree, which is how the default
/// parser checks placeholders and how an application reads its arguments.
pub const MAX_DEPTH: usize = 127;

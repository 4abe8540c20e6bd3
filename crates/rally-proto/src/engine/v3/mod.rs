//! Engine.IO protocol 3 (`EIO=3`): what Socket.IO v2 clients speak.
//!
//! Protocol 3 shares the packets of protocol 4 ([`Packet`](super::Packet),
//! the same seven type digits) and differs in four places, all covered here
//! or below.
//!
//! # Binary packets
//!
//! A binary packet keeps its type. On a WebSocket, a binary frame is the type
//! byte followed by the data: a binary message is `\x04` then its bytes
//! ([`encode_binary_frame`], [`decode_binary_frame`]). Where only text can
//! go (a client that asked `b64=1`, or the text form of a polling payload), a
//! binary packet is `b`, its type digit, then its data in base64: `b4AQID`
//! is the message `[1, 2, 3]` ([`encode_base64_packet`]). [`decode_packet`]
//! reads both text forms; protocol 4's bare `b<base64>` does not exist here.
//!
//! # Polling payloads
//!
//! A polling body takes one of two forms ([`PayloadForm`]):
//!
//! - **text** (`text/plain; charset=UTF-8`): records `<length>:<packet>`
//!   concatenated, the length counted in UTF-16 code units as JavaScript's
//!   `String.length` counts them (`3:4😀`), binary packets as `b4<base64>`.
//!   An empty list is `0:`.
//! - **binary** (`application/octet-stream`): records
//!   `<0 text | 1 binary><length, one byte per decimal digit><0xFF><data>`,
//!   where the data of a text record is the packet's UTF-8 (length in bytes)
//!   and that of a binary record is the type byte then the bytes.
//!
//! The server writes the binary form only when the packets include a binary
//! one and the client takes binary ([`supports_binary`]: no non-empty `b64`
//! query parameter); otherwise the text form, binary as base64
//! ([`PayloadForm::choose`]). The client sends `b64` only on the request
//! that opens a transport (the polling handshake, the WebSocket upgrade), so
//! the choice is made once per transport, as the reference makes it. A client POSTs the binary form with the header
//! `Content-Type: application/octet-stream` (compared as the whole value, as
//! the reference does), anything else is the text form
//! ([`PayloadForm::of_request`]). The reference answers a POST with `ok`
//! (`text/html`) in both protocols.
//!
//! # Handshake
//!
//! The open packet is the same JSON object as in protocol 4, keys in this
//! order: `sid`, `upgrades`, `pingInterval`, `pingTimeout`, `maxPayload`.
//! The protocol 3 specification lists no `maxPayload`; the reference server
//! (engine.io 6) sends it to protocol 3 clients anyway, and they ignore it.
//! Over polling it travels as the first payload (`<length>:0{...}`, text
//! form), over a WebSocket as a text frame `0{...}`. A request without `EIO`
//! (or with any value other than `4`) is protocol 3 in the reference.
//!
//! # Heartbeat
//!
//! The direction is the reverse of protocol 4's: the *client* sends a ping
//! (`2`) every `pingInterval`, and the server answers with a pong (`3`, no
//! data, whatever the ping carried). The server closes the session (`ping
//! timeout`) when no ping arrived for `pingInterval + pingTimeout` since the
//! handshake or the last ping; other packets do not reset that timer. The
//! probe of an upgrade is unchanged: `2probe` on the new transport is
//! answered with `3probe`. A pong from a protocol 3 client (or a ping from a
//! protocol 4 client) is an error that closes the session.
//!
//! # Errors
//!
//! The reference decodes a polling payload record by record: the packets
//! before a faulty record are delivered, then the session closes with a
//! parse error. [`PayloadDecoder`] yields the packets in the same order and
//! then the error; collect it into a `Result<Vec<_>, _>` to treat the whole
//! payload as failed.

mod binary_payload;
mod length;
mod packet;
mod payload;
mod text_payload;

pub use packet::{decode_binary_frame, decode_packet, encode_base64_packet, encode_binary_frame};
pub use payload::{
    BINARY_CONTENT_TYPE, PayloadDecoder, PayloadForm, TEXT_CONTENT_TYPE, decode_payload,
    supports_binary,
};

/// The Engine.IO protocol revision of this module (`EIO=3`).
pub const PROTOCOL: u8 = 3;

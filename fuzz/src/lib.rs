//! The checks behind the fuzz targets of `fuzz_targets/`, as plain functions
//! so that tests (`tests/`) can replay inputs on a stable compiler without
//! libFuzzer.
//!
//! Each `check_*` function takes the raw fuzz input and panics when an
//! invariant does not hold. Panics are the findings.

#![allow(missing_docs)]

use bytes::Bytes;
use rally_proto::{DecodeError, Str};

mod decoders;
mod msgpack;
mod polling_v3;
pub mod ws;
pub mod ws_reader;

pub use decoders::{
    check_engine_packet, check_event_args, check_polling_payload, check_socket_assembler,
    check_socket_packet,
};
pub use msgpack::{check_msgpack, check_msgpack_packet};
pub use polling_v3::check_polling_payload_v3;
pub use ws::check_websocket_messages;
pub use ws_reader::check_ws_reader;

/// One message of a message-sequence input (`socket_assembler`,
/// `websocket_messages`).
///
/// The format, easy to write from a capture script and to mutate:
/// records of `tag: u8`, `len: u16` (big-endian), `len` bytes of payload.
/// Bit 0 of `tag` set means binary, clear means text; the other bits are
/// left to the target. A record cut short takes what is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msg<'a> {
    pub tag: u8,
    pub payload: &'a [u8],
}

impl Msg<'_> {
    pub fn is_binary(&self) -> bool {
        self.tag & 1 == 1
    }
}

/// Splits an input into its [`Msg`] records.
pub fn messages(data: &[u8]) -> Vec<Msg<'_>> {
    let mut out = Vec::new();
    let mut rest = data;
    while let [tag, tail @ ..] = rest {
        let (len, body) = match tail {
            [hi, lo, body @ ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), body),
            _ => (tail.len(), &[][..]),
        };
        let (payload, next) = body.split_at(len.min(body.len()));
        out.push(Msg { tag: *tag, payload });
        rest = next;
    }
    out
}

/// Writes messages in the format [`messages`] reads (payloads of at most
/// 65,535 bytes).
pub fn write_messages<'a>(msgs: impl IntoIterator<Item = (u8, &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (tag, payload) in msgs {
        let len = u16::try_from(payload.len()).expect("a payload of at most 65,535 bytes");
        out.push(tag);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(payload);
    }
    out
}

/// The input as a [`Str`]: as it is when it is UTF-8 (checking that
/// [`Str::from_utf8`] agrees), else its lossy conversion, so that no input is
/// wasted on the UTF-8 check.
pub fn str_of(data: &[u8]) -> Str {
    match Str::from_utf8(Bytes::copy_from_slice(data)) {
        Ok(s) => {
            assert!(std::str::from_utf8(data).is_ok());
            s
        }
        Err(e) => {
            assert_eq!(e, DecodeError::InvalidUtf8);
            assert!(std::str::from_utf8(data).is_err(), "Str refused UTF-8");
            Str::from(String::from_utf8_lossy(data).into_owned())
        }
    }
}

/// Whether `s` is one JSON text (white space around it allowed), by
/// `serde_json`'s validator for ignored values: no recursion limit, no number
/// range, no check of surrogate escapes, so exactly RFC 8259 / `JSON.parse`.
pub fn is_json(s: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok()
}

/// JSON white space (RFC 8259), which is also what rally-proto trims.
pub fn is_json_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

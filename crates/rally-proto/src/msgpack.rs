//! MessagePack, as the Node.js cluster adapters speak it.
//!
//! The Redis adapters of the reference send some messages as MessagePack
//! (made by `@msgpack/msgpack`): broadcasts, and anything that carries
//! binary data. [`Value`] is the tree they hold: JSON's values plus binary.
//! [`encode`] writes the same bytes as `@msgpack/msgpack` for the same tree
//! (smallest integer and length forms, maps in insertion order, floats as
//! 64 bits); [`decode`] reads any well-formed MessagePack whose only
//! extension type is the timestamp (a JavaScript `Date`, read as the text
//! `JSON.stringify` makes of it), checking every length against the input
//! before it allocates.
//!
//! ```
//! use rally_proto::msgpack::{Value, decode, encode};
//!
//! let value = Value::Array(vec![Value::from("ev"), Value::Int(1), Value::Bin(vec![1, 2].into())]);
//! let bytes = encode(&value);
//! assert_eq!(bytes, b"\x93\xa2ev\x01\xc4\x02\x01\x02");
//! assert_eq!(decode(&bytes).unwrap(), value);
//! ```

use bytes::Bytes;
use serde_json::{Map, Number};

use crate::DecodeError;

/// How deeply arrays and maps may nest in [`decode`].
pub const MAX_DEPTH: usize = 128;

/// A MessagePack value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `nil` (JSON `null`; JavaScript `undefined` is never written).
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// An integer above `i64::MAX`.
    UInt(u64),
    /// A floating point number.
    Float(f64),
    /// A string.
    Str(String),
    /// Binary data (the reference's `Buffer`).
    Bin(Bytes),
    /// An array.
    Array(Vec<Value>),
    /// A map with string keys, in order.
    Map(Vec<(String, Value)>),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl Value {
    /// A map from `(key, value)` pairs.
    #[must_use]
    pub fn map<const N: usize>(entries: [(&str, Value); N]) -> Self {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }

    /// The value under `key`, for a map.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, for a string.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The number as `u64`, for a non-negative integer (or a float
    /// holding one).
    #[must_use]
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Int(i) => u64::try_from(i).ok(),
            Value::UInt(u) => Some(u),
            Value::Float(f) if f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64 => {
                Some(f as u64)
            }
            _ => None,
        }
    }

    /// The JSON value, with every [`Value::Bin`] turned into a
    /// `{"_placeholder":true,"num":n}` object and its bytes pushed onto
    /// `attachments`: the shape of a Socket.IO packet's data.
    #[must_use]
    pub fn into_json(self, attachments: &mut Vec<Bytes>) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Nil => J::Null,
            Value::Bool(b) => J::Bool(b),
            Value::Int(i) => J::from(i),
            Value::UInt(u) => J::from(u),
            Value::Float(f) => Number::from_f64(f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s),
            Value::Bin(b) => {
                let num = attachments.len();
                attachments.push(b);
                let mut map = Map::new();
                map.insert("_placeholder".into(), J::Bool(true));
                map.insert("num".into(), J::from(num));
                J::Object(map)
            }
            Value::Array(items) => J::Array(
                items
                    .into_iter()
                    .map(|v| v.into_json(attachments))
                    .collect(),
            ),
            Value::Map(entries) => J::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, v.into_json(attachments)))
                    .collect(),
            ),
        }
    }

    /// The MessagePack value of `json`, with placeholder objects replaced
    /// by the `attachments` they point at (a placeholder pointing nowhere
    /// stays an object).
    #[must_use]
    pub fn from_json(json: &serde_json::Value, attachments: &[Bytes]) -> Self {
        use serde_json::Value as J;
        match json {
            J::Null => Value::Nil,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => number(n),
            J::String(s) => Value::Str(s.clone()),
            J::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| Self::from_json(v, attachments))
                    .collect(),
            ),
            J::Object(map) => {
                if map.get("_placeholder") == Some(&J::Bool(true)) {
                    if let Some(bin) = map
                        .get("num")
                        .and_then(J::as_u64)
                        .and_then(|n| attachments.get(usize::try_from(n).ok()?))
                    {
                        return Value::Bin(bin.clone());
                    }
                }
                Value::Map(
                    map.iter()
                        .map(|(k, v)| (k.clone(), Self::from_json(v, attachments)))
                        .collect(),
                )
            }
        }
    }
}

/// A JSON number as JavaScript holds it: a float with no fraction that
/// fits in 64 bits is written as an integer.
fn number(n: &Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::Int(i)
    } else if let Some(u) = n.as_u64() {
        Value::UInt(u)
    } else {
        let f = n.as_f64().unwrap_or_default();
        if f.fract() == 0.0 && f.abs() < 9.0e18 {
            Value::Int(f as i64)
        } else {
            Value::Float(f)
        }
    }
}

/// Writes `value` as MessagePack, in the shape `@msgpack/msgpack` gives.
#[must_use]
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    write(&mut out, value);
    out
}

fn write(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Nil => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Int(i) => write_int(out, *i),
        Value::UInt(u) => write_uint(out, *u),
        Value::Float(f) => {
            out.push(0xcb);
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::Str(s) => {
            write_len(out, s.len(), [0xa0, 0xd9, 0xda, 0xdb], 32, true);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bin(b) => {
            write_len(out, b.len(), [0, 0xc4, 0xc5, 0xc6], 0, true);
            out.extend_from_slice(b);
        }
        Value::Array(items) => {
            write_len(out, items.len(), [0x90, 0, 0xdc, 0xdd], 16, false);
            for item in items {
                write(out, item);
            }
        }
        Value::Map(entries) => {
            write_len(out, entries.len(), [0x80, 0, 0xde, 0xdf], 16, false);
            for (k, v) in entries {
                write_len(out, k.len(), [0xa0, 0xd9, 0xda, 0xdb], 32, true);
                out.extend_from_slice(k.as_bytes());
                write(out, v);
            }
        }
    }
}

/// A length header: the fix form below `fix_max`, then 8 (when `has_8`),
/// 16 and 32 bit forms.
pub(crate) fn write_len(out: &mut Vec<u8>, len: usize, tags: [u8; 4], fix_max: usize, has_8: bool) {
    if len < fix_max {
        out.push(tags[0] | len as u8);
    } else if has_8 && len <= 0xff {
        out.extend_from_slice(&[tags[1], len as u8]);
    } else if len <= 0xffff {
        out.push(tags[2]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(tags[3]);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

pub(crate) fn write_uint(out: &mut Vec<u8>, u: u64) {
    if u < 0x80 {
        out.push(u as u8);
    } else if u <= 0xff {
        out.extend_from_slice(&[0xcc, u as u8]);
    } else if u <= 0xffff {
        out.push(0xcd);
        out.extend_from_slice(&(u as u16).to_be_bytes());
    } else if u <= 0xffff_ffff {
        out.push(0xce);
        out.extend_from_slice(&(u as u32).to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&u.to_be_bytes());
    }
}

pub(crate) fn write_int(out: &mut Vec<u8>, i: i64) {
    if i >= 0 {
        write_uint(out, i as u64);
    } else if i >= -32 {
        out.push(i as u8);
    } else if i >= -128 {
        out.extend_from_slice(&[0xd0, i as u8]);
    } else if i >= -32_768 {
        out.push(0xd1);
        out.extend_from_slice(&(i as i16).to_be_bytes());
    } else if i >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(i as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

/// Reads one MessagePack value that spans all of `input`.
///
/// # Errors
///
/// [`DecodeError::InvalidMsgpack`] for truncated input, trailing bytes,
/// extension types other than the timestamp, non-string map keys, invalid
/// UTF-8 or nesting deeper than [`MAX_DEPTH`].
pub fn decode(input: &[u8]) -> Result<Value, DecodeError> {
    let mut reader = Reader { input, pos: 0 };
    let value = reader.value(0)?;
    if reader.pos != input.len() {
        return Err(DecodeError::InvalidMsgpack);
    }
    Ok(value)
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::InvalidMsgpack)?;
        let bytes = self
            .input
            .get(self.pos..end)
            .ok_or(DecodeError::InvalidMsgpack)?;
        self.pos = end;
        Ok(bytes)
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut buf = [0; N];
        buf.copy_from_slice(self.take(N)?);
        Ok(buf)
    }

    fn len(&mut self, width: usize) -> Result<usize, DecodeError> {
        Ok(match width {
            1 => usize::from(self.be::<1>()?[0]),
            2 => usize::from(u16::from_be_bytes(self.be()?)),
            _ => u32::from_be_bytes(self.be()?) as usize,
        })
    }

    fn str(&mut self, len: usize) -> Result<String, DecodeError> {
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| DecodeError::InvalidMsgpack)
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::InvalidMsgpack);
        }
        let tag = self.be::<1>()?[0];
        Ok(match tag {
            0x00..=0x7f => Value::Int(i64::from(tag)),
            0x80..=0x8f => self.map(usize::from(tag & 0x0f), depth)?,
            0x90..=0x9f => self.array(usize::from(tag & 0x0f), depth)?,
            0xa0..=0xbf => Value::Str(self.str(usize::from(tag & 0x1f))?),
            0xc0 => Value::Nil,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4..=0xc6 => {
                let len = self.len(1 << (tag - 0xc4))?;
                Value::Bin(Bytes::copy_from_slice(self.take(len)?))
            }
            0xca => Value::Float(f64::from(f32::from_be_bytes(self.be()?))),
            0xcb => Value::Float(f64::from_be_bytes(self.be()?)),
            0xcc => Value::Int(i64::from(self.be::<1>()?[0])),
            0xcd => Value::Int(i64::from(u16::from_be_bytes(self.be()?))),
            0xce => Value::Int(i64::from(u32::from_be_bytes(self.be()?))),
            0xcf => {
                let u = u64::from_be_bytes(self.be()?);
                i64::try_from(u).map_or(Value::UInt(u), Value::Int)
            }
            0xd0 => Value::Int(i64::from(i8::from_be_bytes(self.be()?))),
            0xd1 => Value::Int(i64::from(i16::from_be_bytes(self.be()?))),
            0xd2 => Value::Int(i64::from(i32::from_be_bytes(self.be()?))),
            0xd3 => Value::Int(i64::from_be_bytes(self.be()?)),
            0xd9..=0xdb => {
                let len = self.len(1 << (tag - 0xd9))?;
                Value::Str(self.str(len)?)
            }
            0xdc | 0xdd => {
                let len = self.len(if tag == 0xdc { 2 } else { 4 })?;
                self.array(len, depth)?
            }
            0xde | 0xdf => {
                let len = self.len(if tag == 0xde { 2 } else { 4 })?;
                self.map(len, depth)?
            }
            0xe0..=0xff => Value::Int(i64::from(tag as i8)),
            0xd6 => self.timestamp(4)?,
            0xd7 => self.timestamp(8)?,
            0xc7 => {
                let len = self.len(1)?;
                self.timestamp(len)?
            }
            // 0xc1 is never used; the other extensions are refused.
            _ => return Err(DecodeError::InvalidMsgpack),
        })
    }

    /// The timestamp extension (type -1) of `len` data bytes: a JavaScript
    /// `Date` (the Admin UI's events carry some), as `JSON.stringify`
    /// writes it (`2026-01-02T03:04:05.678Z`; `null` out of `Date`'s range).
    fn timestamp(&mut self, len: usize) -> Result<Value, DecodeError> {
        if self.be::<1>()?[0] != 0xff {
            return Err(DecodeError::InvalidMsgpack);
        }
        let (seconds, nanos) = match len {
            4 => (i64::from(u32::from_be_bytes(self.be()?)), 0),
            8 => {
                let both = u64::from_be_bytes(self.be()?);
                ((both & 0x3_ffff_ffff) as i64, (both >> 34) as u32)
            }
            12 => {
                let nanos = u32::from_be_bytes(self.be()?);
                (i64::from_be_bytes(self.be()?), nanos)
            }
            _ => return Err(DecodeError::InvalidMsgpack),
        };
        if nanos >= 1_000_000_000 {
            return Err(DecodeError::InvalidMsgpack);
        }
        Ok(js_date(seconds, nanos).map_or(Value::Nil, Value::Str))
    }

    /// Every element takes at least one byte: a count above what is left
    /// is refused before allocating.
    fn check_count(&self, count: usize) -> Result<(), DecodeError> {
        if count > self.input.len() - self.pos {
            return Err(DecodeError::InvalidMsgpack);
        }
        Ok(())
    }

    fn array(&mut self, len: usize, depth: usize) -> Result<Value, DecodeError> {
        self.check_count(len)?;
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, len: usize, depth: usize) -> Result<Value, DecodeError> {
        self.check_count(len.saturating_mul(2))?;
        let mut entries = Vec::with_capacity(len);
        for _ in 0..len {
            let Value::Str(key) = self.value(depth + 1)? else {
                return Err(DecodeError::InvalidMsgpack);
            };
            entries.push((key, self.value(depth + 1)?));
        }
        Ok(Value::Map(entries))
    }
}

/// A time as JavaScript's `Date.prototype.toJSON` writes it (to the
/// millisecond); `None` beyond `Date`'s range.
fn js_date(seconds: i64, nanos: u32) -> Option<String> {
    let ms = seconds
        .checked_mul(1000)?
        .checked_add(i64::from(nanos / 1_000_000))?;
    let mut quoted = String::new();
    crate::socket::msgpack::text::push_date(&mut quoted, ms)
        .then(|| quoted.trim_matches('"').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dates as `@msgpack/msgpack` (and notepack.io) write them, read as
    /// `JSON.stringify` writes them.
    #[test]
    fn timestamps_read_as_javascript_dates() {
        let cases: [(&[u8], &str); 4] = [
            (
                b"\xd7\xff\x0a\x03\x7a\x00\x65\x53\xf1\x00",
                "2023-11-14T22:13:20.042Z",
            ),
            (b"\xd6\xff\x65\x53\xf1\x00", "2023-11-14T22:13:20.000Z"),
            (
                b"\xc7\x0c\xff\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff",
                "1969-12-31T23:59:59.000Z",
            ),
            (
                b"\xc7\x0c\xff\x00\x00\x00\x00\x00\x00\x00\x3a\xff\xf4\x41\x80",
                "+010000-01-01T00:00:00.000Z",
            ),
        ];
        for (bytes, text) in cases {
            assert_eq!(decode(bytes).unwrap(), Value::from(text), "{bytes:02x?}");
        }
        // Other extension types, and bad timestamps, are refused.
        assert!(decode(b"\xd6\x01\x00\x00\x00\x00").is_err());
        assert!(decode(b"\xc7\x05\xff\x00\x00\x00\x00\x00").is_err());
        assert!(decode(b"\xd7\xff\xff\xff\xff\xff\x00\x00\x00\x00").is_err());
    }

    /// The broadcast of `a.to("room1").emit("ev", "hi", 1, Buffer.from([1, 2]))`
    /// by a Node.js node, classic mode (recorded with `redis-cli MONITOR` from
    /// socket.io 4.8.4 and @socket.io/redis-adapter 8.3.0).
    const CLASSIC_BROADCAST: &[u8] = b"\x93\xa6qeVisn\x83\xa4type\x02\xa4data\x94\xa2ev\xa2hi\x01\xc4\x02\x01\x02\xa3nsp\xa1/\x83\xa5rooms\x91\xa5room1\xa6except\x90\xa5flags\x80";
    /// A broadcast with acks request, classic mode.
    const CLASSIC_ACK_REQUEST: &[u8] = b"\x85\xa3uid\xa6qeVisn\xa9requestId\xa6_M2s4S\xa4type\x07\xa6packet\x83\xa4type\x02\xa4data\x91\xa7needack\xa3nsp\xa1/\xa4opts\x83\xa5rooms\x90\xa6except\x90\xa5flags\x81\xa7timeout\xcd\x07\xd0";
    /// A fetchSockets response with a 64-bit `issued`, streams adapter.
    const FETCH_RESPONSE: &[u8] = b"\x84\xa4type\x08\xa4data\x82\xa9requestId\xb0bcd6ab5ec270d129\xa7sockets\x91\x84\xa2id\xb4p1FBpnjdajys0JDsAAAC\xa9handshake\x89\xa7headers\x86\xb5sec-websocket-version\xa213\xb1sec-websocket-key\xb86EBO5vpLS/pjWOuVzok2Sw==\xaaconnection\xa7Upgrade\xa7upgrade\xa9websocket\xb8sec-websocket-extensions\xd9*permessage-deflate; client_max_window_bits\xa4host\xae127.0.0.1:3102\xa4time\xd9>Sat Nov 21 2026 22:00:37 GMT+0000 (Coordinated Universal Time)\xa7address\xb0::ffff:127.0.0.1\xa7xdomain\xc2\xa6secure\xc2\xa6issued\xcf\x00\x00\x01\xa2\x00 (.\xa3url\xd9%/socket.io/?EIO=4&transport=websocket\xa5query\x82\xa3EIO\xa14\xa9transport\xa9websocket\xa4auth\x80\xa5rooms\x92\xb4p1FBpnjdajys0JDsAAAC\xa5room1\xa4data\x81\xa4user\xa5u3102\xa3uid\xb0d1a74313f3074ec5\xa3nsp\xa1/";
    /// A sharded broadcast carrying binary.
    const SHARDED_BROADCAST: &[u8] = b"\x84\xa4type\x03\xa4data\x82\xa6packet\x82\xa4type\x02\xa4data\x94\xa2ev\xa2hi\x01\xc4\x02\x01\x02\xa4opts\x83\xa5rooms\x91\xa5room1\xa6except\x90\xa5flags\x80\xa3uid\xb03ca0fb5ec292809d\xa3nsp\xa1/";

    #[test]
    fn recorded_messages_round_trip_byte_for_byte() {
        for bytes in [
            CLASSIC_BROADCAST,
            CLASSIC_ACK_REQUEST,
            FETCH_RESPONSE,
            SHARDED_BROADCAST,
        ] {
            let value = decode(bytes).unwrap();
            assert_eq!(encode(&value), bytes);
        }
    }

    #[test]
    fn builds_the_recorded_broadcast() {
        let mut attachments = Vec::new();
        let data = serde_json::json!(["ev", "hi", 1, {"_placeholder": true, "num": 0}]);
        attachments.push(Bytes::from_static(&[1, 2]));
        let value = Value::Array(vec![
            Value::from("qeVisn"),
            Value::map([
                ("type", Value::Int(2)),
                ("data", Value::from_json(&data, &attachments)),
                ("nsp", Value::from("/")),
            ]),
            Value::map([
                ("rooms", Value::Array(vec![Value::from("room1")])),
                ("except", Value::Array(vec![])),
                ("flags", Value::Map(vec![])),
            ]),
        ]);
        assert_eq!(encode(&value), CLASSIC_BROADCAST);
        let mut out = Vec::new();
        let back = decode(CLASSIC_BROADCAST).unwrap();
        let Value::Array(parts) = back else { panic!() };
        let json = parts[1].get("data").unwrap().clone().into_json(&mut out);
        assert_eq!(json, data);
        assert_eq!(out, attachments);
    }

    #[test]
    fn integer_and_length_forms() {
        let cases: &[(Value, &[u8])] = &[
            (Value::Int(127), b"\x7f"),
            (Value::Int(128), b"\xcc\x80"),
            (Value::Int(2000), b"\xcd\x07\xd0"),
            (Value::Int(70_000), b"\xce\x00\x01\x11\x70"),
            (Value::Int(-1), b"\xff"),
            (Value::Int(-33), b"\xd0\xdf"),
            (Value::Int(-200), b"\xd1\xff\x38"),
            (Value::Float(1.5), b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"),
            (Value::Nil, b"\xc0"),
            (Value::Bool(true), b"\xc3"),
        ];
        for (value, bytes) in cases {
            assert_eq!(&encode(value), bytes);
            assert_eq!(&decode(bytes).unwrap(), value);
        }
        let long = "x".repeat(300);
        let bytes = encode(&Value::Str(long.clone()));
        assert_eq!(&bytes[..3], b"\xda\x01\x2c");
        assert_eq!(decode(&bytes).unwrap(), Value::Str(long));
        let array = Value::Array(vec![Value::Nil; 20]);
        assert_eq!(&encode(&array)[..3], b"\xdc\x00\x14");
    }

    #[test]
    fn json_numbers_as_javascript_holds_them() {
        assert_eq!(number(&Number::from_f64(3.0).unwrap()), Value::Int(3));
        assert_eq!(number(&Number::from_f64(0.5).unwrap()), Value::Float(0.5));
        assert_eq!(number(&Number::from(u64::MAX)), Value::UInt(u64::MAX));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for bytes in [
            &b""[..],
            b"\xc1",
            b"\xd4\x00\x00",
            b"\xdd\xff\xff\xff\xff",
            b"\xdf\xff\xff\xff\xff",
            b"\xc6\xff\xff\xff\xff",
            b"\x81\x01\x02",
            b"\xa2\xff\xfe",
            b"\x01\x02",
        ] {
            assert_eq!(decode(bytes), Err(DecodeError::InvalidMsgpack), "{bytes:?}");
        }
        let deep = vec![0x91; MAX_DEPTH + 2];
        assert_eq!(decode(&deep), Err(DecodeError::InvalidMsgpack));
    }
}

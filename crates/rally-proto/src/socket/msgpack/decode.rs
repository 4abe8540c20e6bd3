//! MessagePack packet → [`Packet`] with JSON text data and attachments.

use std::collections::HashSet;

use bytes::Bytes;

use super::{MAX_DEPTH, text};
use crate::{
    DecodeError, Str,
    socket::{Packet, PacketType, is_reserved_event},
};

/// Decodes one MessagePack packet: the bytes of one binary Engine.IO
/// message, with at most `max_attachments` binary values.
///
/// The result is what the default parser yields once a packet is assembled
/// (see the [module documentation](super) for how values become JSON text).
/// The attachments are slices of `bytes`, in the order their placeholders
/// appear.
///
/// The map may hold other fields (socket.io-client sends `options`); they
/// are read, to check them, and ignored. A field given twice counts with its
/// last value, as in JavaScript. `undefined` (`d4 00 00`) as `data` or `id`
/// is the same as no field.
///
/// The checks, those of the default parser (a failure closes the
/// connection with reason "parse error"):
///
/// - `type` is an integer (or a float holding one) from 0 to 4, else
///   [`DecodeError::UnknownPacketType`], as for anything but a map;
/// - `nsp` is a string that starts with `/`, else
///   [`DecodeError::InvalidNamespace`] (`socket.io-msgpack-parser` takes any
///   string; the default parser cannot express another);
/// - `id`, when present, is an integer from 0 to 2^64 - 1, else
///   [`DecodeError::InvalidAckId`] (`socket.io-msgpack-parser` takes any
///   integer, negative ones included);
/// - `data` fits the type, else [`DecodeError::InvalidPayload`]: an object
///   or nothing for CONNECT, nothing for DISCONNECT, an array for ACK, a
///   string or an object for `CONNECT_ERROR`, and for EVENT a non-empty array
///   whose first item is a number or a string that is not a reserved name
///   ([`DecodeError::ReservedEventName`]); `socket.io-msgpack-parser` only
///   wants an array. Binary values may only be in an EVENT's or an ACK's
///   data, there are at most `max_attachments` of them
///   ([`DecodeError::TooManyAttachments`]), and a map that looks like a
///   placeholder (`_placeholder` is `true`) may not stand beside them, as
///   it could not be told apart from one afterwards;
/// - the bytes are one well-formed MessagePack value, data nested at most
///   [`MAX_DEPTH`] deep (a binary value counts as the placeholder object it
///   becomes, an extension value as its array), with no bytes after it, and no map in the data
///   repeats a key (no JavaScript encoder writes one), else
///   [`DecodeError::InvalidMsgpack`]. Every declared length is checked
///   against what is left of the input before anything is read or
///   allocated for it.
///
/// ```
/// use bytes::Bytes;
/// use rally_proto::{DecodeError, socket::{PacketType, msgpack}};
///
/// // socket.io-client's CONNECT without auth: `data` is `undefined`.
/// let bytes = Bytes::from_static(b"\x83\xa4type\x00\xa4data\xd4\x00\x00\xa3nsp\xa6/admin");
/// let (packet, attachments) = msgpack::decode(&bytes, 10).unwrap();
/// assert_eq!((packet.kind, &*packet.nsp, packet.data), (PacketType::Connect, "/admin", None));
/// assert!(attachments.is_empty());
///
/// // An event named "disconnect" is refused, as by the default parser.
/// let bytes = Bytes::from_static(b"\x83\xa4type\x02\xa4data\x91\xaadisconnect\xa3nsp\xa1/");
/// assert_eq!(msgpack::decode(&bytes, 10), Err(DecodeError::ReservedEventName));
/// ```
///
/// # Errors
///
/// The [`DecodeError`]s above; never a panic.
pub fn decode(bytes: &Bytes, max_attachments: usize) -> Result<(Packet, Vec<Bytes>), DecodeError> {
    let mut r = Reader {
        input: bytes,
        pos: 0,
    };
    let tag = r.byte()?;
    let Some(fields) = r.map_len(tag)? else {
        // Not a map: `decoded.type` is `undefined`, once it parses.
        r.pos = 0;
        r.skip(0)?;
        r.finish()?;
        return Err(DecodeError::UnknownPacketType);
    };
    r.check_count(fields.saturating_mul(2))?;

    let mut kind = None;
    let mut nsp = None;
    let mut id = Scalar::Undefined;
    let mut data: Option<Data> = None;
    for _ in 0..fields {
        match r.key_text()?.as_str() {
            "type" => kind = Some(r.scalar()?),
            "nsp" => nsp = Some(r.scalar()?),
            "id" => id = r.scalar()?,
            "data" => {
                let mut json = Json {
                    r,
                    out: String::new(),
                    attachments: Vec::new(),
                    max_attachments,
                    looks_like_placeholder: false,
                    first_item: None,
                };
                let shape = json.value(1)?;
                r = json.r;
                data = Some(Data {
                    shape,
                    text: json.out,
                    attachments: json.attachments,
                    looks_like_placeholder: json.looks_like_placeholder,
                    first_item: json.first_item,
                });
            }
            _ => r.skip(1)?,
        }
    }
    r.finish()?;

    let kind = match kind.and_then(|k| k.as_u64()) {
        Some(0) => PacketType::Connect,
        Some(1) => PacketType::Disconnect,
        Some(2) => PacketType::Event,
        Some(3) => PacketType::Ack,
        Some(4) => PacketType::ConnectError,
        _ => return Err(DecodeError::UnknownPacketType),
    };
    let nsp = match nsp {
        Some(Scalar::Str(s)) if s.starts_with('/') => Str::from(s),
        _ => return Err(DecodeError::InvalidNamespace),
    };
    let data = data.filter(|d| d.shape != Shape::Undefined);
    check_data(kind, data.as_ref())?;
    let id = match id {
        Scalar::Undefined => None,
        other => Some(other.as_u64().ok_or(DecodeError::InvalidAckId)?),
    };

    let (text, attachments) = data.map_or((None, Vec::new()), |d| {
        (Some(Str::from(d.text)), d.attachments)
    });
    let kind = match (kind, attachments.is_empty()) {
        (PacketType::Event, false) => PacketType::BinaryEvent,
        (PacketType::Ack, false) => PacketType::BinaryAck,
        (kind, _) => kind,
    };
    let packet = Packet {
        kind,
        nsp,
        id,
        attachments: attachments.len(),
        data: text,
    };
    Ok((packet, attachments))
}

/// The default parser's rules for the data of a packet of type `kind`.
fn check_data(kind: PacketType, data: Option<&Data>) -> Result<(), DecodeError> {
    let Some(data) = data else {
        // No data: fine for CONNECT and DISCONNECT only.
        return match kind {
            PacketType::Connect | PacketType::Disconnect => Ok(()),
            _ => Err(DecodeError::InvalidPayload),
        };
    };
    let shape_ok = match kind {
        PacketType::Connect => data.shape == Shape::Object,
        PacketType::ConnectError => matches!(data.shape, Shape::Object | Shape::String),
        PacketType::Ack => data.shape == Shape::Array,
        PacketType::Event => data.shape == Shape::Array,
        _ => false,
    };
    if !shape_ok {
        return Err(DecodeError::InvalidPayload);
    }
    if !data.attachments.is_empty()
        && (!matches!(kind, PacketType::Event | PacketType::Ack) || data.looks_like_placeholder)
    {
        return Err(DecodeError::InvalidPayload);
    }
    if kind == PacketType::Event {
        match &data.first_item {
            Some(FirstItem::Number) => {}
            Some(FirstItem::String(name)) if is_reserved_event(name) => {
                return Err(DecodeError::ReservedEventName);
            }
            Some(FirstItem::String(_)) => {}
            _ => return Err(DecodeError::InvalidPayload),
        }
    }
    Ok(())
}

/// A decoded `data` field.
struct Data {
    shape: Shape,
    text: String,
    attachments: Vec<Bytes>,
    looks_like_placeholder: bool,
    first_item: Option<FirstItem>,
}

/// What kind of JSON value a MessagePack value became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// JavaScript's `undefined`: nothing was written.
    Undefined,
    /// `null`: `nil`, a `NaN`, an invalid date.
    Null,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// A string (a `Date` too).
    String,
    /// An array (an extension value too, `[type, bytes]`).
    Array,
    /// An object.
    Object,
    /// A binary value, written as a placeholder.
    Binary,
}

/// The first item of the data array, for an event's name.
enum FirstItem {
    Number,
    String(String),
    Other,
}

/// A field of the packet map that is not `data`.
enum Scalar {
    Undefined,
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Other,
}

impl Scalar {
    /// `Number.isInteger(x) && x >= 0`, as a `u64`.
    fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::Int(i) => u64::try_from(i).ok(),
            Self::UInt(u) => Some(u),
            // `-0.0` is an integer too; 2^64 is not a `u64`.
            Self::Float(f) if f.fract() == 0.0 && f > -1.0 && f < 1.844_674_407_370_955_2e19 => {
                Some(f as u64)
            }
            _ => None,
        }
    }
}

/// A reader over the input.
#[derive(Clone, Copy)]
struct Reader<'a> {
    input: &'a Bytes,
    pos: usize,
}

/// An extension value's type and bytes.
struct Ext {
    kind: i8,
    start: usize,
    len: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::InvalidMsgpack)?;
        let bytes = self
            .input
            .get(self.pos..end)
            .ok_or(DecodeError::InvalidMsgpack)?;
        self.pos = end;
        Ok(bytes)
    }

    /// `n` bytes as a range of the input, checked.
    fn range(&mut self, n: usize) -> Result<(usize, usize), DecodeError> {
        let start = self.pos;
        self.take(n)?;
        Ok((start, n))
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.be::<1>()?[0])
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut buf = [0; N];
        buf.copy_from_slice(self.take(N)?);
        Ok(buf)
    }

    /// A big-endian length of `width` bytes.
    fn len(&mut self, width: usize) -> Result<usize, DecodeError> {
        Ok(match width {
            1 => usize::from(self.byte()?),
            2 => usize::from(u16::from_be_bytes(self.be()?)),
            _ => u32::from_be_bytes(self.be()?) as usize,
        })
    }

    /// Every element takes at least one byte: a count above what is left is
    /// refused before anything is read.
    fn check_count(&self, count: usize) -> Result<(), DecodeError> {
        if count > self.input.len() - self.pos {
            return Err(DecodeError::InvalidMsgpack);
        }
        Ok(())
    }

    fn finish(&self) -> Result<(), DecodeError> {
        if self.pos != self.input.len() {
            return Err(DecodeError::InvalidMsgpack);
        }
        Ok(())
    }

    /// The entry count, if `tag` starts a map.
    fn map_len(&mut self, tag: u8) -> Result<Option<usize>, DecodeError> {
        Ok(match tag {
            0x80..=0x8f => Some(usize::from(tag & 0x0f)),
            0xde => Some(self.len(2)?),
            0xdf => Some(self.len(4)?),
            _ => None,
        })
    }

    /// The item count, if `tag` starts an array.
    fn array_len(&mut self, tag: u8) -> Result<Option<usize>, DecodeError> {
        Ok(match tag {
            0x90..=0x9f => Some(usize::from(tag & 0x0f)),
            0xdc => Some(self.len(2)?),
            0xdd => Some(self.len(4)?),
            _ => None,
        })
    }

    /// The length, if `tag` starts a string.
    fn str_len(&mut self, tag: u8) -> Result<Option<usize>, DecodeError> {
        Ok(match tag {
            0xa0..=0xbf => Some(usize::from(tag & 0x1f)),
            0xd9..=0xdb => Some(self.len(1 << (tag - 0xd9))?),
            _ => None,
        })
    }

    /// The extension, if `tag` starts one.
    fn ext(&mut self, tag: u8) -> Result<Option<Ext>, DecodeError> {
        let len = match tag {
            0xd4..=0xd8 => 1 << (tag - 0xd4),
            0xc7..=0xc9 => self.len(1 << (tag - 0xc7))?,
            _ => return Ok(None),
        };
        let kind = i8::from_be_bytes(self.be()?);
        let (start, len) = self.range(len)?;
        Ok(Some(Ext { kind, start, len }))
    }

    /// A string's text; invalid UTF-8 becomes U+FFFD, as `Buffer` reads it.
    fn text(&mut self, len: usize) -> Result<String, DecodeError> {
        Ok(String::from_utf8_lossy(self.take(len)?).into_owned())
    }

    /// A number's value, if `tag` starts one.
    fn number(&mut self, tag: u8) -> Result<Option<Scalar>, DecodeError> {
        Ok(Some(match tag {
            0x00..=0x7f => Scalar::Int(i64::from(tag)),
            0xe0..=0xff => Scalar::Int(i64::from(tag as i8)),
            0xca => Scalar::Float(f64::from(f32::from_be_bytes(self.be()?))),
            0xcb => Scalar::Float(f64::from_be_bytes(self.be()?)),
            0xcc => Scalar::Int(i64::from(self.byte()?)),
            0xcd => Scalar::Int(i64::from(u16::from_be_bytes(self.be()?))),
            0xce => Scalar::Int(i64::from(u32::from_be_bytes(self.be()?))),
            0xcf => Scalar::UInt(u64::from_be_bytes(self.be()?)),
            0xd0 => Scalar::Int(i64::from(i8::from_be_bytes(self.be()?))),
            0xd1 => Scalar::Int(i64::from(i16::from_be_bytes(self.be()?))),
            0xd2 => Scalar::Int(i64::from(i32::from_be_bytes(self.be()?))),
            0xd3 => Scalar::Int(i64::from_be_bytes(self.be()?)),
            _ => return Ok(None),
        }))
    }

    /// A field value other than `data`: what the checks need of it; a
    /// container or binary is read through and is `Other`.
    fn scalar(&mut self) -> Result<Scalar, DecodeError> {
        let start = self.pos;
        let tag = self.byte()?;
        if let Some(n) = self.number(tag)? {
            return Ok(n);
        }
        if let Some(len) = self.str_len(tag)? {
            return Ok(Scalar::Str(self.text(len)?));
        }
        if tag == 0xd4 && self.input.get(self.pos) == Some(&0) {
            self.take(2)?;
            return Ok(Scalar::Undefined);
        }
        self.pos = start;
        self.skip(1)?;
        Ok(Scalar::Other)
    }

    /// A map key, as JavaScript turns it into a property name: strings as
    /// they are, numbers as `String(n)`, `nil`, booleans and `undefined` by
    /// name; [`DecodeError::InvalidMsgpack`] for a container, binary or
    /// extension key (which only JavaScript would take).
    fn key_text(&mut self) -> Result<String, DecodeError> {
        let tag = self.byte()?;
        if let Some(len) = self.str_len(tag)? {
            return self.text(len);
        }
        let mut out = String::new();
        match self.number(tag)? {
            Some(Scalar::Int(i)) => out.push_str(&i.to_string()),
            Some(Scalar::UInt(u)) => out.push_str(&u.to_string()),
            Some(Scalar::Float(f)) if f.is_nan() => out.push_str("NaN"),
            Some(Scalar::Float(f)) if f.is_infinite() => {
                out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
            }
            Some(Scalar::Float(f)) => text::push_number(&mut out, f),
            Some(_) => return Err(DecodeError::InvalidMsgpack),
            None => match tag {
                0xc0 => out.push_str("null"),
                0xc2 => out.push_str("false"),
                0xc3 => out.push_str("true"),
                0xd4 if self.input.get(self.pos) == Some(&0) => {
                    self.take(2)?;
                    out.push_str("undefined");
                }
                _ => return Err(DecodeError::InvalidMsgpack),
            },
        }
        Ok(out)
    }

    /// Reads through one value at nesting `depth`, checking it.
    fn skip(&mut self, depth: usize) -> Result<(), DecodeError> {
        let tag = self.byte()?;
        if let Some(count) = self.array_len(tag)? {
            return self.skip_items(count, depth);
        }
        if let Some(count) = self.map_len(tag)? {
            return self.skip_items(count.saturating_mul(2), depth);
        }
        if let Some(len) = self.str_len(tag)? {
            self.take(len)?;
            return Ok(());
        }
        if self.number(tag)?.is_some() || self.ext(tag)?.is_some() {
            return Ok(());
        }
        match tag {
            0xc0 | 0xc2 | 0xc3 => Ok(()),
            0xc4..=0xc6 => {
                let len = self.len(1 << (tag - 0xc4))?;
                self.take(len).map(drop)
            }
            _ => Err(DecodeError::InvalidMsgpack),
        }
    }

    /// Reads through the `count` values of a container at nesting `depth`.
    fn skip_items(&mut self, count: usize, depth: usize) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::InvalidMsgpack);
        }
        self.check_count(count)?;
        for _ in 0..count {
            self.skip(depth + 1)?;
        }
        Ok(())
    }
}

/// The keys of a map so far, to refuse a repeated one: in a JavaScript
/// object the last value would replace the first, binary values and all,
/// which the JSON text could only follow by renumbering placeholders.
#[derive(Default)]
enum Keys {
    /// A few keys, searched in order.
    #[default]
    Empty,
    Few(Vec<String>),
    Many(HashSet<String>),
}

impl Keys {
    /// Adds `key`; `false` when it was there already.
    fn insert(&mut self, key: String) -> bool {
        match self {
            Self::Empty => *self = Self::Few(vec![key]),
            Self::Few(keys) if keys.contains(&key) => return false,
            Self::Few(keys) if keys.len() < 16 => keys.push(key),
            Self::Few(keys) => {
                let mut set: HashSet<String> = keys.drain(..).collect();
                set.insert(key);
                *self = Self::Many(set);
            }
            Self::Many(set) => return set.insert(key),
        }
        true
    }
}

/// Writes a MessagePack value as JSON text.
struct Json<'a> {
    r: Reader<'a>,
    out: String,
    attachments: Vec<Bytes>,
    max_attachments: usize,
    /// A map whose `_placeholder` is `true` was written.
    looks_like_placeholder: bool,
    /// The first item of the outermost array.
    first_item: Option<FirstItem>,
}

impl Json<'_> {
    /// Writes the value at nesting `depth` (the data itself is 1), or
    /// nothing for `undefined`.
    fn value(&mut self, depth: usize) -> Result<Shape, DecodeError> {
        let tag = self.r.byte()?;
        if let Some(count) = self.r.array_len(tag)? {
            self.array(count, depth)?;
            return Ok(Shape::Array);
        }
        if let Some(count) = self.r.map_len(tag)? {
            self.map(count, depth)?;
            return Ok(Shape::Object);
        }
        if let Some(len) = self.r.str_len(tag)? {
            let s = self.r.text(len)?;
            text::push_json_string(&mut self.out, &s);
            return Ok(Shape::String);
        }
        if let Some(n) = self.r.number(tag)? {
            return Ok(match n {
                Scalar::Int(i) => {
                    self.out.push_str(&i.to_string());
                    Shape::Number
                }
                Scalar::UInt(u) => {
                    self.out.push_str(&u.to_string());
                    Shape::Number
                }
                Scalar::Float(f) if f.is_finite() => {
                    text::push_number(&mut self.out, f);
                    Shape::Number
                }
                _ => {
                    self.out.push_str("null");
                    Shape::Null
                }
            });
        }
        if let Some(ext) = self.r.ext(tag)? {
            return self.ext(tag, &ext, depth);
        }
        Ok(match tag {
            0xc0 => {
                self.out.push_str("null");
                Shape::Null
            }
            0xc2 | 0xc3 => {
                self.out
                    .push_str(if tag == 0xc3 { "true" } else { "false" });
                Shape::Bool
            }
            0xc4..=0xc6 => {
                let len = self.r.len(1 << (tag - 0xc4))?;
                let (start, len) = self.r.range(len)?;
                self.binary(start, len, depth)?;
                Shape::Binary
            }
            _ => return Err(DecodeError::InvalidMsgpack),
        })
    }

    /// An extension value, as notepack.io reads it: `undefined` (type 0 of
    /// 1 byte), a `Date` (type 0 of 8 bytes: milliseconds), an `ArrayBuffer`
    /// (type 0 of any other length, from `ext 8/16/32`: binary), else the
    /// array `[type, bytes]`.
    fn ext(&mut self, tag: u8, ext: &Ext, depth: usize) -> Result<Shape, DecodeError> {
        if ext.kind == 0 {
            match tag {
                0xd4 => return Ok(Shape::Undefined),
                0xd7 => {
                    let mut ms = [0; 8];
                    if let Some(b) = self.r.input.get(ext.start..ext.start + 8) {
                        ms.copy_from_slice(b);
                    }
                    let valid = text::push_date(&mut self.out, i64::from_be_bytes(ms));
                    return Ok(if valid { Shape::String } else { Shape::Null });
                }
                0xc7..=0xc9 => {
                    self.binary(ext.start, ext.len, depth)?;
                    return Ok(Shape::Binary);
                }
                _ => {}
            }
        }
        // An array of two, one level deeper.
        if depth > MAX_DEPTH {
            return Err(DecodeError::InvalidMsgpack);
        }
        self.out.push('[');
        self.out.push_str(&ext.kind.to_string());
        self.out.push(',');
        self.binary(ext.start, ext.len, depth + 1)?;
        self.out.push(']');
        Ok(Shape::Array)
    }

    /// Bytes `start..start + len` of the input as the next attachment, its
    /// placeholder object at nesting `depth`.
    fn binary(&mut self, start: usize, len: usize, depth: usize) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::InvalidMsgpack);
        }
        if self.attachments.len() >= self.max_attachments {
            return Err(DecodeError::TooManyAttachments {
                max: self.max_attachments,
            });
        }
        self.out
            .push_str(&super::super::placeholder(self.attachments.len()));
        self.attachments
            .push(self.r.input.slice(start..start + len));
        Ok(())
    }

    fn array(&mut self, count: usize, depth: usize) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::InvalidMsgpack);
        }
        self.r.check_count(count)?;
        self.out.push('[');
        for i in 0..count {
            if i > 0 {
                self.out.push(',');
            }
            let start = self.out.len();
            let shape = self.value(depth + 1)?;
            if shape == Shape::Undefined {
                self.out.push_str("null");
            }
            if depth == 1 && i == 0 {
                self.first_item = Some(match shape {
                    Shape::Number => FirstItem::Number,
                    // A plain string (a `Date` is never a reserved name).
                    Shape::String => FirstItem::String(
                        serde_json::from_str(self.out.get(start..).unwrap_or_default())
                            .unwrap_or_default(),
                    ),
                    _ => FirstItem::Other,
                });
            }
        }
        self.out.push(']');
        Ok(())
    }

    fn map(&mut self, count: usize, depth: usize) -> Result<(), DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::InvalidMsgpack);
        }
        self.r.check_count(count.saturating_mul(2))?;
        self.out.push('{');
        let mut first = true;
        let mut keys = Keys::default();
        for _ in 0..count {
            let entry = self.out.len();
            if !first {
                self.out.push(',');
            }
            let key = self.r.key_text()?;
            text::push_json_string(&mut self.out, &key);
            self.out.push(':');
            let is_true = self.r.input.get(self.r.pos) == Some(&0xc3);
            match self.value(depth + 1)? {
                // `undefined` leaves the key out, as `JSON.stringify` does.
                Shape::Undefined => self.out.truncate(entry),
                _ => {
                    first = false;
                    if is_true && key == "_placeholder" {
                        self.looks_like_placeholder = true;
                    }
                }
            }
            if !keys.insert(key) {
                return Err(DecodeError::InvalidMsgpack);
            }
        }
        self.out.push('}');
        Ok(())
    }
}

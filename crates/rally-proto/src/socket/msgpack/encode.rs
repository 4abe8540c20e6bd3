//! [`Packet`] with JSON text data and attachments → MessagePack packet.

use std::{borrow::Cow, collections::HashMap};

use bytes::Bytes;
use thiserror::Error;

use super::{MAX_DEPTH, text};
use crate::{
    msgpack::{write_int, write_len, write_uint},
    socket::{Packet, PacketType},
};

/// Whose code path a packet follows, which decides the order of its fields
/// (JavaScript writes an object's keys in the order they were set, so the
/// reference's packets differ by where they were built).
///
/// | layout | fields |
/// | --- | --- |
/// | `Server` | ACK: `id`, `type`, `data`, `nsp`; others: `type`, `data`, `id`, `nsp` |
/// | `Broadcast` | `type`, `data`, `nsp`, `id` |
/// | `InvalidNamespace` | `type`, `nsp`, `data` |
/// | `Client` | EVENT: `type`, `data`, `options`, `id`, `nsp`; ACK: `type`, `id`, `data`, `nsp`; CONNECT: `type`, `data`, (`id`,) `nsp`; others: `type`, `data`, `id`, `nsp` |
///
/// A field without a value (no id, no data) is left out, except a
/// `Client` CONNECT's `data`, which socket.io-client sends as `undefined`
/// when there is no auth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// What a socket of socket.io 4.8.4 sends on its own (`socket.emit`, the
    /// answer to an ack, the CONNECT reply, DISCONNECT, a middleware's
    /// refusal). The reference builds two of them with a key that may be
    /// `undefined`, which notepack.io writes, so they get it when their
    /// object lacks it: the CONNECT reply `{sid, pid}` (`pid` is `undefined`
    /// without connection state recovery) and the `CONNECT_ERROR`
    /// `{message, data}` (`data` is `undefined` when the error has none).
    Server,
    /// What the adapter of socket.io 4.8.4 sends (`io.emit`, `to(room).emit`,
    /// with or without acks): the id, when there is one, comes last.
    Broadcast,
    /// socket.io 4.8.4's refusal of an unknown namespace
    /// (`{"message":"Invalid namespace"}`): `nsp` before `data`.
    InvalidNamespace,
    /// What socket.io-client 4.8.4 sends. An EVENT carries
    /// `options: {compress: true}`, as the official client's do.
    Client,
}

/// Why a packet could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The packet's data is not valid JSON.
    #[error("packet data is not valid json")]
    InvalidJson,
    /// The packet's data nests deeper than [`MAX_DEPTH`].
    #[error("packet data nests too deeply")]
    TooDeep,
}

/// Encodes `packet`, whose data is JSON text in which placeholders stand for
/// `attachments`, as `socket.io-msgpack-parser` would encode the JavaScript
/// packet it stands for, with the fields in the order of `layout`.
///
/// Binary kinds are written as EVENT (2) and ACK (3). With attachments,
/// every object whose `_placeholder` is `true` and whose `num` is the index
/// of an attachment becomes that attachment as `bin` (the reference
/// rebuilds the same objects); without, there are no placeholders and such
/// an object is an object. See the [module documentation](super) for
/// numbers, keys and strings.
///
/// ```
/// use bytes::Bytes;
/// use rally_proto::socket::{Packet, PacketType, msgpack::{self, Layout}};
///
/// let mut packet = Packet::new(PacketType::BinaryEvent, "/".into())
///     .with_data(r#"["file",{"_placeholder":true,"num":0}]"#.into());
/// packet.attachments = 1;
/// let bytes = msgpack::encode(&packet, &[Bytes::from_static(&[1, 2])], Layout::Server).unwrap();
/// assert_eq!(bytes, &b"\x83\xa4type\x02\xa4data\x92\xa4file\xc4\x02\x01\x02\xa3nsp\xa1/"[..]);
/// ```
///
/// # Errors
///
/// [`EncodeError`] when the data is not JSON or nests too deeply (which a
/// JavaScript server could not send either: its encoder recurses).
pub fn encode(
    packet: &Packet,
    attachments: &[Bytes],
    layout: Layout,
) -> Result<Bytes, EncodeError> {
    let capacity = 32
        + packet.nsp.len()
        + packet.data.as_ref().map_or(0, |d| d.len())
        + attachments.iter().map(Bytes::len).sum::<usize>();
    let mut out = Vec::with_capacity(capacity);
    encode_into(&mut out, packet, attachments, layout)?;
    Ok(Bytes::from(out))
}

/// As [`encode`], appending to `out` (left as it was on an error).
///
/// # Errors
///
/// As for [`encode`].
pub fn encode_into(
    out: &mut Vec<u8>,
    packet: &Packet,
    attachments: &[Bytes],
    layout: Layout,
) -> Result<(), EncodeError> {
    let mut tokens = Vec::new();
    if let Some(data) = &packet.data {
        tokenize(data, &mut tokens)?;
    }
    let start = out.len();
    let mut writer = Writer {
        json: packet.data.as_deref().unwrap_or_default(),
        tokens: &tokens,
        attachments,
        out,
        scratch: String::new(),
    };
    let result = writer.packet(packet, layout);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// A field of the packet map.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Type,
    Nsp,
    Id,
    Data,
    /// `data`, written as `undefined` when there is none.
    DataOrUndefined,
    /// socket.io-client's `options: {compress: true}`.
    Options,
}

/// The fields of a packet of `kind` in `layout`, in order.
fn fields(layout: Layout, kind: PacketType) -> &'static [Field] {
    use Field::*;
    use PacketType as K;
    match (layout, kind) {
        (Layout::Server, K::Ack | K::BinaryAck) => &[Id, Type, Data, Nsp],
        (Layout::Server, _) => &[Type, Data, Id, Nsp],
        (Layout::Broadcast, _) => &[Type, Data, Nsp, Id],
        (Layout::InvalidNamespace, _) => &[Type, Nsp, Data, Id],
        (Layout::Client, K::Event | K::BinaryEvent) => &[Type, Data, Options, Id, Nsp],
        (Layout::Client, K::Ack | K::BinaryAck) => &[Type, Id, Data, Nsp],
        // A CONNECT has no id; one given is not lost.
        (Layout::Client, K::Connect) => &[Type, DataOrUndefined, Id, Nsp],
        (Layout::Client, _) => &[Type, Data, Id, Nsp],
    }
}

/// One JSON value of the data, in document order; a container is followed
/// by its contents (an object's as key, value, key, value...).
#[derive(Debug, Clone, Copy)]
enum Token {
    Null,
    True,
    False,
    /// A number: its text.
    Number {
        start: usize,
        end: usize,
    },
    /// A string: the text between its quotes, and whether it has escapes.
    String {
        start: usize,
        end: usize,
        escaped: bool,
    },
    /// An array of `len` items; `end` is the index of the token after it.
    Array {
        len: usize,
        end: usize,
    },
    /// An object of `len` entries; `end` is the index of the token after it.
    Object {
        len: usize,
        end: usize,
    },
}

/// Splits the JSON text `json` into `tokens`, checking its grammar (that of
/// `JSON.parse`) and its depth.
fn tokenize(json: &str, tokens: &mut Vec<Token>) -> Result<(), EncodeError> {
    let b = json.as_bytes();
    let mut open: Vec<usize> = Vec::new();
    let mut i = skip_ws(b, 0);
    loop {
        // A value starts at `i`.
        let mut closed = true;
        match b.get(i) {
            Some(&c @ (b'[' | b'{')) => {
                if open.len() >= MAX_DEPTH {
                    return Err(EncodeError::TooDeep);
                }
                open.push(tokens.len());
                tokens.push(if c == b'[' {
                    Token::Array { len: 0, end: 0 }
                } else {
                    Token::Object { len: 0, end: 0 }
                });
                i = skip_ws(b, i + 1);
                let close = if c == b'[' { b']' } else { b'}' };
                if b.get(i) == Some(&close) {
                    i += 1;
                    set_end(tokens, open.pop());
                } else {
                    if c == b'{' {
                        i = key(b, i, tokens)?;
                    }
                    closed = false;
                }
            }
            Some(b'"') => i = string(b, i, tokens)?,
            Some(b't') => i = literal(b, i, b"true", Token::True, tokens)?,
            Some(b'f') => i = literal(b, i, b"false", Token::False, tokens)?,
            Some(b'n') => i = literal(b, i, b"null", Token::Null, tokens)?,
            _ => i = number(b, i, tokens)?,
        }
        if !closed {
            continue;
        }
        // A value ended at `i`: count it, then close containers until the
        // next value.
        loop {
            let Some(&top) = open.last() else {
                return if skip_ws(b, i) == b.len() {
                    Ok(())
                } else {
                    Err(EncodeError::InvalidJson)
                };
            };
            let is_object = match tokens.get_mut(top) {
                Some(Token::Array { len, .. }) => {
                    *len += 1;
                    false
                }
                Some(Token::Object { len, .. }) => {
                    *len += 1;
                    true
                }
                _ => return Err(EncodeError::InvalidJson),
            };
            i = skip_ws(b, i);
            match (b.get(i), is_object) {
                (Some(b','), _) => {
                    i = skip_ws(b, i + 1);
                    if is_object {
                        i = key(b, i, tokens)?;
                    }
                    break;
                }
                (Some(b']'), false) | (Some(b'}'), true) => {
                    i += 1;
                    set_end(tokens, open.pop());
                }
                _ => return Err(EncodeError::InvalidJson),
            }
        }
    }
}

/// Records where the container opened at token `open` ends: here.
fn set_end(tokens: &mut [Token], open: Option<usize>) {
    let here = tokens.len();
    if let Some(Token::Array { end, .. } | Token::Object { end, .. }) =
        open.and_then(|i| tokens.get_mut(i))
    {
        *end = here;
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// An object key at `i`, its `:` and the white space after: where its value
/// starts.
fn key(b: &[u8], i: usize, tokens: &mut Vec<Token>) -> Result<usize, EncodeError> {
    if b.get(i) != Some(&b'"') {
        return Err(EncodeError::InvalidJson);
    }
    let i = skip_ws(b, string(b, i, tokens)?);
    if b.get(i) != Some(&b':') {
        return Err(EncodeError::InvalidJson);
    }
    Ok(skip_ws(b, i + 1))
}

/// The string that opens at `i` (escapes are checked when it is written).
fn string(b: &[u8], i: usize, tokens: &mut Vec<Token>) -> Result<usize, EncodeError> {
    let start = i + 1;
    let mut j = start;
    let mut escaped = false;
    loop {
        match *b.get(j).ok_or(EncodeError::InvalidJson)? {
            b'"' => break,
            b'\\' => {
                escaped = true;
                j += 2;
            }
            0..=0x1f => return Err(EncodeError::InvalidJson),
            _ => j += 1,
        }
    }
    tokens.push(Token::String {
        start,
        end: j,
        escaped,
    });
    Ok(j + 1)
}

fn literal(
    b: &[u8],
    i: usize,
    word: &[u8],
    token: Token,
    tokens: &mut Vec<Token>,
) -> Result<usize, EncodeError> {
    if b.get(i..i + word.len()) != Some(word) {
        return Err(EncodeError::InvalidJson);
    }
    tokens.push(token);
    Ok(i + word.len())
}

/// The number at `i`: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn number(b: &[u8], i: usize, tokens: &mut Vec<Token>) -> Result<usize, EncodeError> {
    let digits = |mut j: usize| {
        let from = j;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        (j > from).then_some(j).ok_or(EncodeError::InvalidJson)
    };
    let mut j = i;
    if b.get(j) == Some(&b'-') {
        j += 1;
    }
    j = match b.get(j) {
        Some(b'0') => j + 1,
        _ => digits(j)?,
    };
    if b.get(j) == Some(&b'.') {
        j = digits(j + 1)?;
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        j += 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        j = digits(j)?;
    }
    tokens.push(Token::Number { start: i, end: j });
    Ok(j)
}

/// Writes a packet from its tokens.
struct Writer<'a> {
    json: &'a str,
    tokens: &'a [Token],
    attachments: &'a [Bytes],
    out: &'a mut Vec<u8>,
    /// Where escaped strings are unescaped.
    scratch: String,
}

/// The index of the token after the value at `i`.
fn next(tokens: &[Token], i: usize) -> usize {
    match tokens.get(i) {
        Some(Token::Array { end, .. } | Token::Object { end, .. }) => *end,
        _ => i + 1,
    }
}

/// The `(key token, value token)` pairs of the object at token `i`.
fn entries(tokens: &[Token], i: usize, len: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut j = i + 1;
    (0..len).map(move |_| {
        let entry = (j, j + 1);
        j = next(tokens, j + 1);
        entry
    })
}

impl<'a> Writer<'a> {
    fn packet(&mut self, packet: &Packet, layout: Layout) -> Result<(), EncodeError> {
        let fields = fields(layout, packet.kind);
        let present = |f: &&Field| match f {
            Field::Id => packet.id.is_some(),
            Field::Data => packet.data.is_some(),
            _ => true,
        };
        self.map_header(fields.iter().filter(present).count());
        for field in fields.iter().filter(present) {
            match field {
                Field::Type => {
                    self.str("type");
                    let kind = match packet.kind {
                        PacketType::BinaryEvent => PacketType::Event,
                        PacketType::BinaryAck => PacketType::Ack,
                        kind => kind,
                    };
                    write_uint(self.out, kind as u64);
                }
                Field::Nsp => {
                    self.str("nsp");
                    self.str(if packet.nsp.is_empty() {
                        "/"
                    } else {
                        &packet.nsp
                    });
                }
                Field::Id => {
                    self.str("id");
                    write_uint(self.out, packet.id.unwrap_or_default());
                }
                Field::Data | Field::DataOrUndefined => {
                    self.str("data");
                    // The key the reference's object literal always has.
                    let missing = match (layout, packet.kind) {
                        (Layout::Server, PacketType::Connect) => Some("pid"),
                        (Layout::Server, PacketType::ConnectError) => Some("data"),
                        _ => None,
                    };
                    if self.tokens.is_empty() {
                        self.undefined();
                    } else {
                        self.value_with(0, missing)?;
                    }
                }
                Field::Options => {
                    self.str("options");
                    self.out.push(0x81);
                    self.str("compress");
                    self.out.push(0xc3);
                }
            }
        }
        Ok(())
    }

    fn str(&mut self, s: &str) {
        write_len(self.out, s.len(), [0xa0, 0xd9, 0xda, 0xdb], 32, true);
        self.out.extend_from_slice(s.as_bytes());
    }

    fn undefined(&mut self) {
        self.out.extend_from_slice(&[0xd4, 0, 0]);
    }

    fn bin(&mut self, bytes: &[u8]) {
        write_len(self.out, bytes.len(), [0, 0xc4, 0xc5, 0xc6], 0, true);
        self.out.extend_from_slice(bytes);
    }

    /// Writes the value at token `i`.
    fn value(&mut self, i: usize) -> Result<(), EncodeError> {
        self.value_with(i, None)
    }

    /// Writes the value at token `i`; an object without the key `missing`
    /// gets it, as `undefined`, at its end.
    fn value_with(&mut self, i: usize, missing: Option<&str>) -> Result<(), EncodeError> {
        match *self.tokens.get(i).ok_or(EncodeError::InvalidJson)? {
            Token::Null => self.out.push(0xc0),
            Token::True => self.out.push(0xc3),
            Token::False => self.out.push(0xc2),
            Token::Number { start, end } => {
                self.number(self.json.get(start..end).unwrap_or_default());
            }
            Token::String {
                start,
                end,
                escaped,
            } => {
                let json = self.json;
                let raw = json.get(start..end).unwrap_or_default();
                if escaped {
                    let mut s = std::mem::take(&mut self.scratch);
                    s.clear();
                    let unescaped = text::unescape(raw, &mut s);
                    if unescaped.is_some() {
                        self.str(&s);
                    }
                    self.scratch = s;
                    unescaped.ok_or(EncodeError::InvalidJson)?;
                } else {
                    self.str(raw);
                }
            }
            Token::Array { len, .. } => {
                write_len(self.out, len, [0x90, 0, 0xdc, 0xdd], 16, false);
                let mut j = i + 1;
                for _ in 0..len {
                    self.value(j)?;
                    j = next(self.tokens, j);
                }
            }
            Token::Object { len, .. } => self.object(i, len, missing)?,
        }
        Ok(())
    }

    /// The text of the key token `i`, borrowed from the JSON when it has no
    /// escapes.
    fn key(&self, i: usize) -> Result<Cow<'a, str>, EncodeError> {
        let Some(&Token::String {
            start,
            end,
            escaped,
        }) = self.tokens.get(i)
        else {
            return Err(EncodeError::InvalidJson);
        };
        let json: &'a str = self.json;
        let raw = json.get(start..end).unwrap_or_default();
        if !escaped {
            return Ok(Cow::Borrowed(raw));
        }
        let mut s = String::with_capacity(raw.len());
        text::unescape(raw, &mut s).ok_or(EncodeError::InvalidJson)?;
        Ok(Cow::Owned(s))
    }

    /// Writes the object at token `i` of `len` entries: a placeholder as its
    /// attachment, else a map in JavaScript's key order.
    fn object(&mut self, i: usize, len: usize, missing: Option<&str>) -> Result<(), EncodeError> {
        if let Some(bytes) = self.placeholder(i, len)? {
            self.bin(&bytes);
            return Ok(());
        }
        // The common case: few keys, no escapes, no array index, no
        // repeat. Written in order, with nothing allocated.
        let simple = len <= 16
            && entries(self.tokens, i, len).enumerate().all(|(n, (k, _))| {
                let Some(Token::String {
                    start,
                    end,
                    escaped: false,
                }) = self.tokens.get(k)
                else {
                    return false;
                };
                let key = self.json.get(*start..*end).unwrap_or_default();
                text::array_index(key).is_none()
                    && entries(self.tokens, i, n)
                        .all(|(other, _)| self.key(other).ok().as_deref() != Some(key))
            });
        let tokens = self.tokens;
        if simple {
            let add = missing.filter(|m| {
                entries(tokens, i, len).all(|(k, _)| self.key(k).ok().as_deref() != Some(*m))
            });
            self.map_header(len + usize::from(add.is_some()));
            for (k, v) in entries(tokens, i, len) {
                let key = self.key(k)?;
                self.str(&key);
                self.value(v)?;
            }
            self.add_undefined(add);
            return Ok(());
        }
        // Array-index keys first, ascending; then the others in order of
        // first appearance; each with its last value.
        let mut indexed: Vec<(u32, Cow<'a, str>, usize)> = Vec::new();
        let mut named: Vec<(Cow<'a, str>, usize)> = Vec::new();
        let mut position: HashMap<Cow<'a, str>, usize> = HashMap::new();
        for (k, v) in entries(tokens, i, len) {
            let key = self.key(k)?;
            if let Some(index) = text::array_index(&key) {
                indexed.push((index, key, v));
            } else if let Some(&at) = position.get(&key) {
                if let Some(entry) = named.get_mut(at) {
                    entry.1 = v;
                }
            } else {
                position.insert(key.clone(), named.len());
                named.push((key, v));
            }
        }
        // A stable sort keeps repeats in order: the last one wins.
        indexed.sort_by_key(|e| e.0);
        let mut ordered: Vec<(Cow<'a, str>, usize)> = Vec::with_capacity(indexed.len());
        for (index, key, v) in indexed {
            match ordered.last_mut() {
                Some(last) if text::array_index(&last.0) == Some(index) => last.1 = v,
                _ => ordered.push((key, v)),
            }
        }
        ordered.append(&mut named);
        let add = missing.filter(|m| ordered.iter().all(|(k, _)| k != m));
        self.map_header(ordered.len() + usize::from(add.is_some()));
        for (key, v) in &ordered {
            self.str(key);
            self.value(*v)?;
        }
        self.add_undefined(add);
        Ok(())
    }

    fn map_header(&mut self, len: usize) {
        write_len(self.out, len, [0x80, 0, 0xde, 0xdf], 16, false);
    }

    /// Writes the entry `key: undefined`, if there is a key.
    fn add_undefined(&mut self, key: Option<&str>) {
        if let Some(key) = key {
            self.str(key);
            self.undefined();
        }
    }

    /// The attachment the object at token `i` stands for, if it is a
    /// placeholder: `_placeholder` is `true` and `num` an attachment's
    /// index (the last of each key counts, as in `JSON.parse`).
    fn placeholder(&self, i: usize, len: usize) -> Result<Option<Bytes>, EncodeError> {
        if self.attachments.is_empty() {
            return Ok(None);
        }
        let mut flag = None;
        let mut num = None;
        for (k, v) in entries(self.tokens, i, len) {
            match &*self.key(k)? {
                "_placeholder" => flag = Some(v),
                "num" => num = Some(v),
                _ => {}
            }
        }
        if !matches!(flag.and_then(|v| self.tokens.get(v)), Some(Token::True)) {
            return Ok(None);
        }
        let Some(&Token::Number { start, end }) = num.and_then(|v| self.tokens.get(v)) else {
            return Ok(None);
        };
        let n: f64 = self
            .json
            .get(start..end)
            .and_then(|t| t.parse().ok())
            .unwrap_or(f64::NAN);
        if n.fract() != 0.0 || n < 0.0 || n >= self.attachments.len() as f64 {
            return Ok(None);
        }
        Ok(self.attachments.get(n as usize).cloned())
    }

    /// Writes the JSON number `text` as JavaScript's `Number` of it would
    /// be written (see the module documentation for the two exceptions).
    fn number(&mut self, text: &str) {
        if !text.contains(['.', 'e', 'E']) {
            if let Ok(i) = text.parse::<i64>() {
                write_int(self.out, i);
                return;
            }
            if let Ok(u) = text.parse::<u64>() {
                write_uint(self.out, u);
                return;
            }
        }
        let f: f64 = text.parse().unwrap_or(f64::NAN);
        // 2^63 and 2^64: every integer-valued float in between is exact.
        const TWO_63: f64 = 9.223_372_036_854_776e18;
        const TWO_64: f64 = 1.844_674_407_370_955_2e19;
        if f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f) {
            write_int(self.out, f as i64);
        } else if f.fract() == 0.0 && (0.0..TWO_64).contains(&f) {
            write_uint(self.out, f as u64);
        } else {
            self.out.push(0xcb);
            self.out.extend_from_slice(&f.to_be_bytes());
        }
    }
}

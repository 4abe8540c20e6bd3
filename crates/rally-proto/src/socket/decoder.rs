use crate::{DecodeError, Str};

use super::{Packet, PacketType, js, payload};

/// The most attachments a binary packet may announce by default (the
/// reference's `maxAttachments`).
pub const DEFAULT_MAX_ATTACHMENTS: usize = 10;

/// Decodes Socket.IO packets, with its limits.
///
/// ```
/// use rally_proto::socket::{Decoder, PacketType};
///
/// let decoder = Decoder::new().max_attachments(2);
/// let packet = decoder.decode(r#"52-["file",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#.into()).unwrap();
/// assert_eq!((packet.kind, packet.attachments), (PacketType::BinaryEvent, 2));
/// assert!(decoder.decode(r#"53-["file"]"#.into()).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoder {
    max_attachments: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with the reference's limits.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            max_attachments: DEFAULT_MAX_ATTACHMENTS,
        }
    }

    /// The most attachments a binary packet may announce (`maxAttachments`,
    /// default 10). A packet that announces more is refused before anything
    /// is allocated for it.
    #[must_use]
    pub const fn max_attachments(mut self, max: usize) -> Self {
        self.max_attachments = max;
        self
    }

    /// Decodes a packet: the text of one Engine.IO message, without its `4`.
    ///
    /// The header is read in one pass, the way socket.io-parser 4.2 reads it,
    /// quirks included:
    ///
    /// - the type is the first character; an empty text or one that starts
    ///   with white space is a CONNECT (`Number("")` is `0`);
    /// - a binary type is followed by its attachment count and `-`;
    /// - a namespace starts with `/` and runs to the first `,` or the end
    ///   (`0/custom` is fine), `/` itself when absent;
    /// - the ack id is the run of digits and white space after that (so
    ///   `2 ["a"]` has ack id 0);
    /// - the rest, if any, is the JSON payload, checked for its type: an
    ///   object for CONNECT, nothing for DISCONNECT, a non-empty array whose
    ///   first item is a number or a string that is not a reserved event name
    ///   for (BINARY_)EVENT, an array for (BINARY_)ACK, a string or an object
    ///   for `CONNECT_ERROR`. A packet without payload is always accepted
    ///   (`2` is an event without a name, as in the reference).
    ///
    /// The namespace and payload are slices of `text`; the payload slice is
    /// the JSON value without the white space around it.
    ///
    /// # Errors
    ///
    /// - [`DecodeError::UnknownPacketType`]: the first character is not a type;
    /// - [`DecodeError::InvalidAttachments`], [`DecodeError::TooManyAttachments`]:
    ///   a bad `<n>-` on a binary packet;
    /// - [`DecodeError::InvalidAckId`]: the id is not an integer that fits in a
    ///   `u64` (the reference would carry `NaN` or a rounded float);
    /// - [`DecodeError::InvalidJson`], [`DecodeError::InvalidPayload`],
    ///   [`DecodeError::ReservedEventName`]: a bad payload.
    ///
    /// ```
    /// use rally_proto::socket::{Decoder, PacketType};
    ///
    /// let p = Decoder::new().decode(r#"0/custom,{"x":"y"}"#.into()).unwrap();
    /// assert_eq!((p.kind, &*p.nsp, p.data.as_deref()), (PacketType::Connect, "/custom", Some(r#"{"x":"y"}"#)));
    /// assert!(Decoder::new().decode(r#"2["disconnect"]"#.into()).is_err());
    /// ```
    pub fn decode(&self, text: Str) -> Result<Packet, DecodeError> {
        self.decode_into(text, false).map(|(packet, _)| packet)
    }

    /// As [`decode`](Self::decode), and for an EVENT or ACK packet (not the
    /// binary kinds) the items of its payload array too, found in the same
    /// pass over the JSON: what [`split_array`](super::split_array) would
    /// return, without reading the payload a second time.
    ///
    /// ```
    /// use rally_proto::socket::Decoder;
    ///
    /// let (packet, items) = Decoder::new().decode_split(r#"21["echo",{"a":1}]"#.into()).unwrap();
    /// assert_eq!(packet.id, Some(1));
    /// assert_eq!(items.unwrap(), ["\"echo\"", r#"{"a":1}"#]);
    /// let (_, items) = Decoder::new().decode_split(r#"0{"token":"x"}"#.into()).unwrap();
    /// assert!(items.is_none());
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`decode`](Self::decode).
    pub fn decode_split(&self, text: Str) -> Result<(Packet, Option<Vec<Str>>), DecodeError> {
        self.decode_into(text, true)
    }

    /// Decodes `text`; with `split`, also the items of an EVENT's or ACK's
    /// payload.
    fn decode_into(
        &self,
        text: Str,
        split: bool,
    ) -> Result<(Packet, Option<Vec<Str>>), DecodeError> {
        let s = text.as_str();
        let bytes = s.as_bytes();

        // Type: `Number(str.charAt(0))`.
        let (kind, mut pos) = match s.chars().next() {
            None => (PacketType::Connect, 0),
            Some(c) if c.is_ascii_digit() => (
                PacketType::from_digit(c as u8).ok_or(DecodeError::UnknownPacketType)?,
                1,
            ),
            Some(c) if js::is_whitespace(c) => (PacketType::Connect, c.len_utf8()),
            Some(_) => return Err(DecodeError::UnknownPacketType),
        };

        // Attachments: `<n>-`, binary types only.
        let mut attachments = 0;
        if kind.is_binary() {
            let dash = find(bytes, pos, b'-').ok_or(DecodeError::InvalidAttachments)?;
            let count = s.get(pos..dash).ok_or(DecodeError::InvalidAttachments)?;
            attachments = self.attachment_count(count)?;
            pos = dash + 1;
        }

        // Namespace: from `/` to the first `,` (dropped) or the end.
        let nsp = if bytes.get(pos) == Some(&b'/') {
            let (end, next) =
                find(bytes, pos, b',').map_or((bytes.len(), bytes.len()), |c| (c, c + 1));
            // `/` and `,` are ASCII, so the slice is on character boundaries.
            let nsp = text.slice(pos, end).ok_or(DecodeError::InvalidUtf8)?;
            pos = next;
            nsp
        } else {
            Str::from_static("/")
        };

        // Ack id: the run of characters `c` with `Number(c) == c`.
        let rest = s.get(pos..).unwrap_or_default();
        let id_len = rest
            .char_indices()
            .find(|&(_, c)| !js::is_digit_like(c))
            .map_or(rest.len(), |(i, _)| i);
        let id = match rest.get(..id_len) {
            Some(digits) if !digits.is_empty() => Some(parse_id(digits)?),
            _ => None,
        };
        pos += id_len;

        // Payload: whatever is left.
        let (data, items) = if pos < bytes.len() {
            let split = split && matches!(kind, PacketType::Event | PacketType::Ack);
            let (data, items) = payload::parse(kind, &text, pos, split)?;
            (Some(data), items)
        } else {
            (None, None)
        };

        let packet = Packet {
            kind,
            nsp,
            id,
            attachments,
            data,
        };
        Ok((packet, items))
    }

    /// The attachment count before the `-`: `Number(count)`, an integer from
    /// 1 to the maximum.
    fn attachment_count(self, count: &str) -> Result<usize, DecodeError> {
        // Fast path: plain digits, as every real client sends.
        if !count.is_empty() && count.len() <= 19 && count.bytes().all(|b| b.is_ascii_digit()) {
            let n: u64 = count.parse().map_err(|_| DecodeError::InvalidAttachments)?;
            return match usize::try_from(n) {
                Ok(0) => Err(DecodeError::InvalidAttachments),
                Ok(n) if n <= self.max_attachments => Ok(n),
                _ => Err(self.too_many()),
            };
        }
        let n = js::number(count).ok_or(DecodeError::InvalidAttachments)?;
        if !n.is_finite() || n.fract() != 0.0 || n < 1.0 {
            return Err(DecodeError::InvalidAttachments);
        }
        // `max_attachments as f64` rounds only for counts beyond 2^53, where
        // `n` is far past any real limit anyway.
        if n > self.max_attachments as f64 {
            return Err(self.too_many());
        }
        // An integer in 1..=max_attachments.
        Ok(n as usize)
    }

    fn too_many(self) -> DecodeError {
        DecodeError::TooManyAttachments {
            max: self.max_attachments,
        }
    }
}

/// The position of the first `byte` at or after `from`.
fn find(bytes: &[u8], from: usize, byte: u8) -> Option<usize> {
    bytes
        .get(from..)?
        .iter()
        .position(|&b| b == byte)
        .map(|i| i + from)
}

/// `Number(digits)` for a run of digits and white space, as a `u64`.
fn parse_id(run: &str) -> Result<u64, DecodeError> {
    let digits = run.trim_matches(js::is_whitespace);
    if digits.is_empty() {
        // `Number(" ")` is 0.
        return Ok(0);
    }
    // White space inside the digits makes `NaN`; too many digits overflow.
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecodeError::InvalidAckId);
    }
    digits.parse().map_err(|_| DecodeError::InvalidAckId)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> Result<Packet, DecodeError> {
        Packet::decode(Str::from(s))
    }

    /// `(kind, nsp, id, attachments, data)` of a decoded packet.
    fn parts(s: &str) -> (PacketType, String, Option<u64>, usize, Option<String>) {
        let p = decode(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        (
            p.kind,
            p.nsp.to_string(),
            p.id,
            p.attachments,
            p.data.map(|d| d.to_string()),
        )
    }

    fn event(
        nsp: &str,
        id: Option<u64>,
        data: Option<&str>,
    ) -> (PacketType, String, Option<u64>, usize, Option<String>) {
        (PacketType::Event, nsp.into(), id, 0, data.map(Into::into))
    }

    /// CONNECT packets the official client sends.
    #[test]
    fn connect() {
        let connect = |nsp: &str, data: Option<&str>| {
            (
                PacketType::Connect,
                nsp.to_owned(),
                None,
                0,
                data.map(Into::into),
            )
        };
        assert_eq!(parts("0"), connect("/", None));
        assert_eq!(
            parts(r#"0{"token":1}"#),
            connect("/", Some(r#"{"token":1}"#))
        );
        assert_eq!(parts("0/custom,"), connect("/custom", None));
        assert_eq!(parts("0/custom"), connect("/custom", None));
        assert_eq!(
            parts(r#"0/custom,{"x":"y"}"#),
            connect("/custom", Some(r#"{"x":"y"}"#))
        );
        assert_eq!(parts("0/unknown,"), connect("/unknown", None));
        assert_eq!(
            parts(r#"0{"pid":"p","offset":"Q80NPmf"}"#),
            connect("/", Some(r#"{"pid":"p","offset":"Q80NPmf"}"#))
        );
        for bad in [r#"0"str""#, "0[1]", "0null"] {
            assert_eq!(decode(bad), Err(DecodeError::InvalidPayload), "{bad}");
        }
    }

    /// Packets the reference's parser (socket.io-parser 4.2) accepts.
    #[test]
    fn accepted_like_the_reference() {
        assert_eq!(parts("2"), event("/", None, None));
        assert_eq!(parts("2[1]"), event("/", None, Some("[1]")));
        assert_eq!(parts(r#"2[1,"x"]"#), event("/", None, Some(r#"[1,"x"]"#)));
        assert_eq!(parts(r#"2 ["a"]"#), event("/", Some(0), Some(r#"["a"]"#)));
        assert_eq!(
            parts(r#"20["message","x"]"#),
            event("/", Some(0), Some(r#"["message","x"]"#))
        );
        assert_eq!(
            parts(r#"2/,["message",9]"#),
            event("/", None, Some(r#"["message",9]"#))
        );
        // Accepted by the parser; the server then refuses the namespace.
        assert_eq!(
            parts(r#"2/ ,["message",9]"#),
            event("/ ", None, Some(r#"["message",9]"#))
        );
        assert_eq!(
            parts(r#"2/custom,["a"]"#),
            event("/custom", None, Some(r#"["a"]"#))
        );
        let ack =
            |id, data: Option<&str>| (PacketType::Ack, "/".to_owned(), id, 0, data.map(Into::into));
        assert_eq!(parts("3"), ack(None, None));
        assert_eq!(parts("3[]"), ack(None, Some("[]")));
        assert_eq!(parts(r#"37["x"]"#), ack(Some(7), Some(r#"["x"]"#)));
        assert_eq!(
            parts("1"),
            (PacketType::Disconnect, "/".into(), None, 0, None)
        );
        assert_eq!(
            parts("1/custom,"),
            (PacketType::Disconnect, "/custom".into(), None, 0, None)
        );
        // CONNECT_ERROR is valid for the parser (a server refuses it from a client).
        assert_eq!(parts("4").0, PacketType::ConnectError);
        assert_eq!(
            parts(r#"4{"message":"x"}"#).4.as_deref(),
            Some(r#"{"message":"x"}"#)
        );
        assert_eq!(parts(r#"4"plain""#).4.as_deref(), Some(r#""plain""#));
        let placeholder = r#"["a",{"_placeholder":true,"num":0}]"#;
        let binary = |n, id| {
            (
                PacketType::BinaryEvent,
                "/".to_owned(),
                id,
                n,
                Some(placeholder.to_owned()),
            )
        };
        assert_eq!(parts(&format!("51-{placeholder}")), binary(1, None));
        assert_eq!(parts(&format!("510-{placeholder}")), binary(10, None));
        assert_eq!(parts(&format!("51-/admin,{placeholder}")).1, "/admin");
        let bin_ack = (
            PacketType::BinaryAck,
            "/".to_owned(),
            Some(5),
            1,
            Some(r#"[{"_placeholder":true,"num":0}]"#.to_owned()),
        );
        assert_eq!(parts(r#"61-5[{"_placeholder":true,"num":0}]"#), bin_ack);
    }

    /// Packets the reference's parser (socket.io-parser 4.2) rejects.
    #[test]
    fn rejected_like_the_reference() {
        use DecodeError::*;
        let placeholder = r#"["a",{"_placeholder":true,"num":0}]"#;
        let cases = [
            ("2{}", InvalidPayload),
            ("2[]", InvalidPayload),
            ("2[null]", InvalidPayload),
            (r#"2["a""#, InvalidJson),
            (r#"2abc["a"]"#, InvalidJson),
            (r#"2["message",1]x"#, InvalidJson),
            (r#"2["message"]extra"#, InvalidJson),
            (r#"2["connect"]"#, ReservedEventName),
            (r#"2["disconnect"]"#, ReservedEventName),
            (r#"2["disconnecting"]"#, ReservedEventName),
            (r#"2["newListener"]"#, ReservedEventName),
            (r#"2["connect_error"]"#, ReservedEventName),
            (r#"2["removeListener"]"#, ReservedEventName),
            (r#"2["conn\u0065ct"]"#, ReservedEventName),
            (r#"5["message",1]"#, InvalidAttachments),
            ("x", UnknownPacketType),
            ("7[]", UnknownPacketType),
            ("9", UnknownPacketType),
            ("-1", UnknownPacketType),
            (r#"1{"a":1}"#, InvalidPayload),
            ("3{}", InvalidPayload),
            ("4[1]", InvalidPayload),
            ("4 [1]", InvalidPayload),
        ];
        for (text, err) in cases {
            assert_eq!(decode(text), Err(err), "{text}");
        }
        assert_eq!(
            decode(&format!("511-{placeholder}")),
            Err(TooManyAttachments { max: 10 })
        );
        assert_eq!(
            decode(&format!("50-{placeholder}")),
            Err(InvalidAttachments)
        );
        assert_eq!(decode(&format!("5-{placeholder}")), Err(InvalidAttachments));
        assert_eq!(
            decode(&format!("5x-{placeholder}")),
            Err(InvalidAttachments)
        );
        assert_eq!(
            decode(&format!("51.5-{placeholder}")),
            Err(InvalidAttachments)
        );
        assert_eq!(decode("5"), Err(InvalidAttachments));
        assert_eq!(decode("61"), Err(InvalidAttachments));
    }

    #[test]
    fn quirks_of_the_reference() {
        // `Number("")` and `Number(" ")` are 0: CONNECT.
        assert_eq!(parts(""), (PacketType::Connect, "/".into(), None, 0, None));
        assert_eq!(parts(" "), (PacketType::Connect, "/".into(), None, 0, None));
        assert_eq!(parts("\u{a0}/x,{}").1, "/x");
        assert_eq!(
            parts(" 1{}"),
            (
                PacketType::Connect,
                "/".into(),
                Some(1),
                0,
                Some("{}".into())
            )
        );
        // The attachment count is read with `Number()`.
        for count in ["1", "01", " 1 ", "0x1", "1.0", "+1", "1e0", ".1e1", "0b1"] {
            assert_eq!(parts(&format!("5{count}-[\"a\"]")).3, 1, "{count}");
        }
        assert_eq!(parts("51e1-[\"a\"]").3, 10);
        assert_eq!(
            decode("52e1-[\"a\"]"),
            Err(DecodeError::TooManyAttachments { max: 10 })
        );
        assert_eq!(
            decode("5Infinity-[\"a\"]"),
            Err(DecodeError::InvalidAttachments)
        );
        assert_eq!(
            decode("599999999999999999999999-[\"a\"]"),
            Err(DecodeError::TooManyAttachments { max: 10 })
        );
        // The id is the run of digits and white space.
        assert_eq!(parts("2 12 [\"a\"]").2, Some(12));
        assert_eq!(parts("2\u{2028}[\"a\"]").2, Some(0));
        assert_eq!(parts("2007[\"a\"]").2, Some(7));
        assert_eq!(
            parts("2/a,1 \n[\"a\"]"),
            event("/a", Some(1), Some("[\"a\"]"))
        );
        // The namespace runs to the first comma, whatever it holds.
        assert_eq!(parts(r#"2/a["b"]"#), event(r#"/a["b"]"#, None, None));
        assert_eq!(parts("2/é,[\"a\"]").1, "/é");
        // White space around the JSON is not part of the payload.
        assert_eq!(parts("2[\"a\"] \r\n\t").4.as_deref(), Some("[\"a\"]"));
        assert_eq!(parts("2[ \"a\" ]").4.as_deref(), Some("[ \"a\" ]"));
        // A lone surrogate is a string JSON.parse takes, never a reserved name.
        assert_eq!(parts(r#"2["\ud800"]"#).4.as_deref(), Some(r#"["\ud800"]"#));
        // Deep nesting is fine, as for JSON.parse.
        let deep = format!("2[1,{}{}]", "[".repeat(10_000), "]".repeat(10_000));
        assert!(decode(&deep).is_ok());
    }

    #[test]
    fn ids_that_do_not_fit_are_errors() {
        assert_eq!(parts(&format!("2{}[\"a\"]", u64::MAX)).2, Some(u64::MAX));
        assert_eq!(
            decode("218446744073709551616[\"a\"]"),
            Err(DecodeError::InvalidAckId)
        );
        assert_eq!(
            decode(&format!("2{}[\"a\"]", "9".repeat(1000))),
            Err(DecodeError::InvalidAckId)
        );
        // `Number("1 2")` is NaN.
        assert_eq!(decode("21 2[\"a\"]"), Err(DecodeError::InvalidAckId));
    }

    #[test]
    fn payload_is_a_slice_of_the_input() {
        let text = Str::from(r#"2/admin,13["ping"]"#);
        let p = Packet::decode(text.clone()).unwrap();
        assert_eq!(p.nsp.as_ptr(), text[1..].as_ptr());
        assert_eq!(p.data.unwrap().as_ptr(), text[10..].as_ptr());
    }

    #[test]
    fn max_attachments_is_configurable() {
        let text = Str::from(r#"53-["a"]"#);
        let two = Decoder::new().max_attachments(2);
        assert_eq!(
            two.decode(text.clone()),
            Err(DecodeError::TooManyAttachments { max: 2 })
        );
        assert_eq!(
            Decoder::new()
                .max_attachments(3)
                .decode(text)
                .unwrap()
                .attachments,
            3
        );
        assert_eq!(two.decode(r#"52.0-["a"]"#.into()).unwrap().attachments, 2);
        assert_eq!(
            two.decode(r#"53.0-["a"]"#.into()),
            Err(DecodeError::TooManyAttachments { max: 2 })
        );
    }

    /// Texts the golden tests use; the no-panic loop cuts and mutates them.
    const SAMPLES: &[&str] = &[
        "0",
        r#"0{"token":1}"#,
        r#"0/custom,{"x":"y"}"#,
        "1/custom,",
        r#"2/admin,13["ping",{"a":[1,2.5e3,"\u00e9"]},null,true]"#,
        r#"2 ["a"]"#,
        r#"37["x"]"#,
        r#"4/mw,{"message":"nope","data":{"a":1}}"#,
        r#"452-/a,9["x",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1}]}]"#,
        r#"61-5[{"_placeholder":true,"num":0}]"#,
        "2[\"é\u{2028}\",-0.5]",
    ];

    /// Decoding never panics, and what decodes encodes back to text that
    /// decodes to the same packet.
    fn check(text: &str) {
        if let Ok(packet) = decode(text) {
            let again = decode(&packet.encode());
            assert_eq!(
                again.as_ref(),
                Ok(&packet),
                "{text:?} → {:?}",
                packet.encode()
            );
        }
    }

    #[test]
    fn prefixes_and_suffixes_never_panic() {
        for sample in SAMPLES {
            check(sample);
            for (i, _) in sample.char_indices() {
                check(&sample[..i]);
                check(&sample[i..]);
            }
        }
    }

    #[test]
    fn mutations_never_panic() {
        // xorshift64*: deterministic, no dependency.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        const ALPHABET: &[char] = &[
            '0',
            '1',
            '2',
            '3',
            '4',
            '5',
            '6',
            '7',
            '9',
            '-',
            '/',
            ',',
            '[',
            ']',
            '{',
            '}',
            '"',
            ':',
            '\\',
            ' ',
            'a',
            'e',
            '.',
            '+',
            'x',
            '\u{a0}',
            'é',
            '\u{2028}',
            '\u{1f600}',
            '\n',
            'u',
        ];
        let pick = |n: u64, len: usize| (n % len as u64) as usize;
        for _ in 0..20_000 {
            let base: Vec<char> = SAMPLES[pick(next(), SAMPLES.len())].chars().collect();
            let mut chars = base.clone();
            for _ in 0..=pick(next(), 4) {
                let c = ALPHABET[pick(next(), ALPHABET.len())];
                let at = pick(next(), chars.len() + 1);
                match next() % 3 {
                    0 => chars.insert(at, c),
                    1 if at < chars.len() => chars[at] = c,
                    _ if at < chars.len() => {
                        chars.remove(at);
                    }
                    _ => chars.push(c),
                }
            }
            check(&chars.into_iter().collect::<String>());
            // And pure garbage.
            let len = pick(next(), 24);
            let garbage: String = (0..len)
                .map(|_| ALPHABET[pick(next(), ALPHABET.len())])
                .collect();
            check(&garbage);
        }
    }

    /// `decode_split` gives the packet `decode` gives, and for events and
    /// acks the items `split_array` finds; nothing for other kinds.
    #[test]
    fn decode_split_agrees_with_decode_and_split_array() {
        let texts = [
            r#"2["echo"]"#,
            r#"21["echo","a",{"b":[1,2,{"c":"]"}]},null,-1.5e3,true]"#,
            r#"2/admin,7[ "x" , "\"q\"" ,[ ] ]"#,
            r#"3/admin,7["ok",{"n":1}]"#,
            "31[]",
            r#"0{"token":"x"}"#,
            r#"4"nope""#,
            r#"451-["file",{"_placeholder":true,"num":0}]"#,
            r#"61-[{"_placeholder":true,"num":0}]"#,
            "2",
            "1",
            r#"2["a",]"#,
            r#"2["disconnect"]"#,
            r#"3{"not":"an array"}"#,
        ];
        let decoder = Decoder::new();
        for text in texts {
            let plain = decoder.decode(Str::from(text));
            let split = decoder.decode_split(Str::from(text));
            match (plain, split) {
                (Ok(plain), Ok((packet, items))) => {
                    assert_eq!(plain, packet, "{text}");
                    let expected = match (packet.kind, &packet.data) {
                        (PacketType::Event | PacketType::Ack, Some(data)) => {
                            Some(super::super::split_array(data).expect("an array"))
                        }
                        _ => None,
                    };
                    assert_eq!(items, expected, "{text}");
                }
                (Err(a), Err(b)) => assert_eq!(a, b, "{text}"),
                (a, b) => panic!("{text}: {a:?} against {b:?}"),
            }
        }
    }
}

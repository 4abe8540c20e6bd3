//! Event payloads as raw JSON: splitting an array into its items, reading the
//! event name, building `["name",arg1,arg2]`.

use crate::{DecodeError, Str};

use super::{
    js, json,
    payload::{Item, first_item},
};

/// Splits the raw JSON array `data` (the payload of an EVENT or ACK) into its
/// items, each a slice of `data`: nothing is copied or parsed into a tree.
///
/// ```
/// use rally_proto::{Str, socket::split_array};
///
/// let items = split_array(&Str::from(r#"["chat", {"text":"hi"}, [1,2]]"#)).unwrap();
/// assert_eq!(items, [r#""chat""#, r#"{"text":"hi"}"#, "[1,2]"]);
/// ```
///
/// # Errors
///
/// [`DecodeError::InvalidPayload`] when `data` is not an array,
/// [`DecodeError::InvalidJson`] when it is not valid JSON.
pub fn split_array(data: &Str) -> Result<Vec<Str>, DecodeError> {
    let text = data.as_str();
    if text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .as_bytes()
        .first()
        != Some(&b'[')
    {
        return Err(DecodeError::InvalidPayload);
    }
    let mut items = Vec::new();
    let mut sliced = true;
    json::validate(text, |r| match data.slice(r.start, r.end) {
        Some(item) => items.push(item),
        // Items start and end next to ASCII bytes: never happens.
        None => sliced = false,
    })
    .ok_or(DecodeError::InvalidJson)?;
    if sliced {
        Ok(items)
    } else {
        Err(DecodeError::InvalidJson)
    }
}

/// The event name of an EVENT payload: its first item, a string (escapes
/// resolved) or a number.
///
/// A number name comes back as JavaScript's `String(n)` (`1`, `1.5`,
/// `1e+21`), the key the reference's event emitter looks handlers up by.
/// A string without escapes is a slice of `data`.
///
/// Only the first item is read: `data` is expected to be valid JSON, as the
/// payload of a decoded packet is.
///
/// ```
/// use rally_proto::{Str, socket::event_name};
///
/// assert_eq!(event_name(&Str::from(r#"["chat",{"text":"hi"}]"#)).unwrap(), "chat");
/// assert_eq!(event_name(&Str::from(r#"["a\nb"]"#)).unwrap(), "a\nb");
/// assert_eq!(event_name(&Str::from("[1.0,\"x\"]")).unwrap(), "1");
/// assert!(event_name(&Str::from("[]")).is_err());
/// ```
///
/// # Errors
///
/// [`DecodeError::InvalidPayload`] when `data` is not an array whose first
/// item is a string or a number.
pub fn event_name(data: &Str) -> Result<Str, DecodeError> {
    let text = data.as_str();
    let start = text.len() - text.trim_start_matches([' ', '\t', '\n', '\r']).len();
    let array = text.get(start..).unwrap_or_default();
    match first_item(array).ok_or(DecodeError::InvalidPayload)? {
        Item::String {
            start: s,
            end,
            escaped: false,
        } => data
            .slice(start + s, start + end)
            .ok_or(DecodeError::InvalidPayload),
        item @ Item::String { .. } => item
            .unescaped(array)
            .map(|name| Str::from(name.into_owned()))
            .ok_or(DecodeError::InvalidPayload),
        Item::Number { start: s, end } => {
            let raw = array.get(s..end).ok_or(DecodeError::InvalidPayload)?;
            if raw.len() <= 15 && raw.bytes().all(|b| b.is_ascii_digit()) {
                // JSON has no leading zeros: already the canonical form.
                return data
                    .slice(start + s, start + end)
                    .ok_or(DecodeError::InvalidPayload);
            }
            let n: f64 = raw.parse().map_err(|_| DecodeError::InvalidPayload)?;
            Ok(Str::from(js::number_to_string(n)))
        }
        Item::Other => Err(DecodeError::InvalidPayload),
    }
}

/// Builds the payload of an EVENT: a JSON array of the event name (escaped as
/// `JSON.stringify` escapes it) followed by `args`, each already a JSON value
/// (raw JSON text, written as it is).
///
/// ```
/// use rally_proto::socket::event_array;
///
/// assert_eq!(event_array("chat", &[r#"{"text":"hi"}"#, "2"]), r#"["chat",{"text":"hi"},2]"#);
/// assert_eq!(event_array("say \"hi\"", &[] as &[&str]), r#"["say \"hi\""]"#);
/// ```
#[must_use]
pub fn event_array<A: AsRef<str>>(name: &str, args: &[A]) -> String {
    let len = name.len() + 4 + args.iter().map(|a| a.as_ref().len() + 1).sum::<usize>();
    let mut out = String::with_capacity(len);
    out.push('[');
    push_json_string(&mut out, name);
    for arg in args {
        out.push(',');
        out.push_str(arg.as_ref());
    }
    out.push(']');
    out
}

/// Appends `s` as a JSON string, escaped exactly as `JSON.stringify` does:
/// `"`, `\` and control characters only (`\n` style where one exists, else
/// `\u00xx`); everything else, `/` and non-ASCII included, as it is.
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // `b` is ASCII, so `run..i` and `i + 1` are on character boundaries.
        out.push_str(s.get(run..i).unwrap_or_default());
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(escape);
        }
        run = i + 1;
    }
    out.push_str(s.get(run..).unwrap_or_default());
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Result<Vec<Str>, DecodeError> {
        split_array(&Str::from(s))
    }

    fn name(s: &str) -> Result<Str, DecodeError> {
        event_name(&Str::from(s))
    }

    #[test]
    fn splits_arrays_into_slices() {
        let data = Str::from(r#" [ "a" , 1,{"b":[2, 3]} ,null,"é\"]"] "#);
        let items = split_array(&data).unwrap();
        assert_eq!(
            items,
            [r#""a""#, "1", r#"{"b":[2, 3]}"#, "null", r#""é\"]""#]
        );
        // Slices of the input, not copies.
        let base = data.as_ptr() as usize;
        assert!(
            items
                .iter()
                .all(|i| (base..base + data.len()).contains(&(i.as_ptr() as usize)))
        );
        assert_eq!(split("[]"), Ok(vec![]));
    }

    #[test]
    fn split_rejects_non_arrays_and_bad_json() {
        assert_eq!(split("{}"), Err(DecodeError::InvalidPayload));
        assert_eq!(split(""), Err(DecodeError::InvalidPayload));
        assert_eq!(split("[1,"), Err(DecodeError::InvalidJson));
        assert_eq!(split("[1]x"), Err(DecodeError::InvalidJson));
        assert_eq!(split("[1,]"), Err(DecodeError::InvalidJson));
    }

    #[test]
    fn names() {
        assert_eq!(name(r#"["chat"]"#).unwrap(), "chat");
        assert_eq!(name(r#" [ "a b", 1]"#).unwrap(), "a b");
        assert_eq!(name(r#"["\u00e9\/"]"#).unwrap(), "é/");
        assert_eq!(name("[1]").unwrap(), "1");
        assert_eq!(name("[12345,2]").unwrap(), "12345");
        assert_eq!(name("[-1]").unwrap(), "-1");
        assert_eq!(name("[1e2]").unwrap(), "100");
        assert_eq!(name("[0.5]").unwrap(), "0.5");
        assert_eq!(name("[1e400]").unwrap(), "Infinity");
        assert_eq!(
            name("[1234567890123456789]").unwrap(),
            "1234567890123456800"
        );
        for bad in ["[]", "[null]", "[[1]]", "{}", "", "\"a\"", r#"["a"#] {
            assert_eq!(name(bad), Err(DecodeError::InvalidPayload), "{bad}");
        }
    }

    #[test]
    fn name_without_escapes_is_a_slice() {
        let data = Str::from(r#"["chat",1]"#);
        let n = event_name(&data).unwrap();
        assert_eq!(n.as_ptr(), data[2..].as_ptr());
    }

    #[test]
    fn builds_event_arrays() {
        assert_eq!(event_array("a", &["1", "\"x\""]), r#"["a",1,"x"]"#);
        assert_eq!(event_array("", &[] as &[String]), r#"[""]"#);
        assert_eq!(
            event_array("é/\u{2028}", &["null"]),
            "[\"é/\u{2028}\",null]"
        );
    }

    #[test]
    fn escapes_like_json_stringify() {
        let mut s = String::new();
        push_json_string(&mut s, "a\"b\\c\nd\re\tf\u{8}g\u{c}h\u{1}i\u{1f}j\u{7f}");
        assert_eq!(
            s,
            r#""a\"b\\c\nd\re\tf\bg\fh\u0001i\u001fj"#.to_owned() + "\u{7f}\""
        );
        // The same as serde_json, which escapes like JSON.stringify.
        let all: String = (0u8..=0x7f).map(char::from).collect();
        let mut ours = String::new();
        push_json_string(&mut ours, &all);
        assert_eq!(ours, serde_json::to_string(&all).unwrap());
    }
}

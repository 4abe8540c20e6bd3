//! Checking a packet's JSON payload without building a tree.

use crate::{DecodeError, Str};

use super::{PacketType, json};

/// Event names an application cannot use, because they have a meaning of
/// their own (the reference's `RESERVED_EVENTS`).
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Whether `name` is one of the [`RESERVED_EVENTS`].
///
/// ```
/// use rally_proto::socket::is_reserved_event;
///
/// assert!(is_reserved_event("disconnect"));
/// assert!(!is_reserved_event("chat"));
/// ```
#[must_use]
pub fn is_reserved_event(name: &str) -> bool {
    RESERVED_EVENTS.contains(&name)
}

/// Validates the payload `text[pos..]` of a packet of type `kind` and returns
/// the JSON value, without the white space around it, as a slice of `text`.
/// With `split`, also the items of an array payload (slices of `text`, found
/// in the same pass).
pub(crate) fn parse(
    kind: PacketType,
    text: &Str,
    pos: usize,
    split: bool,
) -> Result<(Str, Option<Vec<Str>>), DecodeError> {
    if kind == PacketType::Disconnect {
        // The reference wants `undefined`, which no JSON text parses to.
        return Err(DecodeError::InvalidPayload);
    }
    let rest = text.get(pos..).ok_or(DecodeError::InvalidJson)?;
    // One pass over the whole payload; no tree, no copy.
    let mut items = split.then(Vec::new);
    let mut sliced = true;
    let range = json::validate(rest, |r| {
        if let Some(items) = &mut items {
            match text.slice(pos + r.start, pos + r.end) {
                Some(item) => items.push(item),
                // Items start and end next to ASCII bytes: never happens.
                None => sliced = false,
            }
        }
    })
    .filter(|_| sliced)
    .ok_or(DecodeError::InvalidJson)?;
    check_shape(kind, rest.get(range.clone()).unwrap_or_default())?;
    let data = text
        .slice(pos + range.start, pos + range.end)
        .ok_or(DecodeError::InvalidJson)?;
    Ok((data, items))
}

/// The reference's `isPayloadValid`, for a valid JSON value.
fn check_shape(kind: PacketType, json: &str) -> Result<(), DecodeError> {
    let first = json.as_bytes().first().copied();
    let ok = match kind {
        PacketType::Connect => first == Some(b'{'),
        PacketType::Disconnect => false,
        PacketType::ConnectError => matches!(first, Some(b'"' | b'{')),
        PacketType::Ack | PacketType::BinaryAck => first == Some(b'['),
        PacketType::Event | PacketType::BinaryEvent => {
            return match first_item(json) {
                Some(Item::Number { .. }) => Ok(()),
                Some(item @ Item::String { .. }) => match item.unescaped(json) {
                    Some(name) if is_reserved_event(&name) => Err(DecodeError::ReservedEventName),
                    _ => Ok(()),
                },
                _ => Err(DecodeError::InvalidPayload),
            };
        }
    };
    if ok {
        Ok(())
    } else {
        Err(DecodeError::InvalidPayload)
    }
}

/// The first item of a JSON array, as found by [`first_item`]: byte ranges
/// into the array's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    /// A string; `start..end` is its content between the quotes.
    String {
        start: usize,
        end: usize,
        escaped: bool,
    },
    /// A number; `start..end` is its text.
    Number { start: usize, end: usize },
    /// Anything else: `null`, a boolean, an object or an array.
    Other,
}

impl Item {
    /// The content of a string item with its escapes resolved; `None` for
    /// other items, or when the escapes do not make a Rust string (lone
    /// surrogates, which cannot equal any reserved name anyway).
    pub(crate) fn unescaped(self, array: &str) -> Option<std::borrow::Cow<'_, str>> {
        let Self::String {
            start,
            end,
            escaped,
        } = self
        else {
            return None;
        };
        if !escaped {
            return array.get(start..end).map(Into::into);
        }
        let quoted = array.get(start.checked_sub(1)?..end + 1)?;
        serde_json::from_str::<String>(quoted).ok().map(Into::into)
    }
}

/// Finds the first item of the JSON array `array` (the text starts with `[`)
/// by looking at that item only; `None` when the array is empty or `array`
/// is not an array. The text must be valid JSON for the answer to be right;
/// for anything else it is some answer, never a panic.
pub(crate) fn first_item(array: &str) -> Option<Item> {
    let bytes = array.as_bytes();
    if bytes.first() != Some(&b'[') {
        return None;
    }
    let start = 1 + bytes
        .get(1..)?
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))?;
    match bytes.get(start)? {
        b'"' => {
            let mut i = start + 1;
            let mut escaped = false;
            loop {
                match bytes.get(i)? {
                    b'"' => break,
                    b'\\' => {
                        escaped = true;
                        i += 2;
                    }
                    _ => i += 1,
                }
            }
            Some(Item::String {
                start: start + 1,
                end: i,
                escaped,
            })
        }
        b'-' | b'0'..=b'9' => {
            let len = bytes
                .get(start..)?
                .iter()
                .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                .unwrap_or(bytes.len() - start);
            Some(Item::Number {
                start,
                end: start + len,
            })
        }
        b']' => None,
        _ => Some(Item::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_item() {
        let s = |start, end, escaped| {
            Some(Item::String {
                start,
                end,
                escaped,
            })
        };
        assert_eq!(first_item(r#"["a",1]"#), s(2, 3, false));
        assert_eq!(first_item(r#"[ "a\"b" ]"#), s(3, 7, true));
        assert_eq!(
            first_item("[-1.5e3,2]"),
            Some(Item::Number { start: 1, end: 7 })
        );
        assert_eq!(first_item("[7]"), Some(Item::Number { start: 1, end: 2 }));
        assert_eq!(first_item("[null]"), Some(Item::Other));
        assert_eq!(first_item("[{}]"), Some(Item::Other));
        assert_eq!(first_item("[ ]"), None);
        assert_eq!(first_item("{}"), None);
        assert_eq!(first_item(r#"["abc"#), None);
        assert_eq!(first_item(r#"["abc\"#), None);
        assert_eq!(first_item("["), None);
    }

    #[test]
    fn unescapes_names() {
        let json = r#"["conn\u0065ct"]"#;
        let item = first_item(json).unwrap();
        assert_eq!(item.unescaped(json).as_deref(), Some("connect"));
        let json = r#"["\ud800"]"#;
        assert_eq!(first_item(json).unwrap().unescaped(json), None);
    }

    #[test]
    fn reserved_names() {
        for name in RESERVED_EVENTS {
            assert!(is_reserved_event(name));
        }
        assert!(!is_reserved_event("Connect"));
        assert!(!is_reserved_event(""));
    }
}

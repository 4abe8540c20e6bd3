//! Binary data anywhere in a payload, as attachments.

use std::{cell::RefCell, fmt};

use bytes::Bytes;
use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{self, MapAccess, SeqAccess, Visitor},
    ser::SerializeStruct,
};

thread_local! {
    /// Where [`Binary`] values being serialized put their bytes.
    static SINK: RefCell<Option<Vec<Bytes>>> = const { RefCell::new(None) };
    /// Where [`Binary`] values being deserialized take their bytes from.
    static SOURCE: RefCell<Option<Vec<Bytes>>> = const { RefCell::new(None) };
}

/// Binary data that can stand anywhere in an event's arguments, as the
/// reference's `Buffer`: it travels as a binary attachment, not as JSON.
///
/// Put it in your own types, emit them with [`Args::arg`](crate::Args::arg)
/// and read them with the receiving side's `arg` (in `rally` and
/// `rally-client`), which run serde inside [`read_attachments`]:
///
/// ```
/// use rally_proto::{Args, Binary};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Upload { name: String, content: Binary }
///
/// let upload = Upload { name: "a.bin".into(), content: Binary::from(vec![1, 2, 3]) };
/// let args = Args::new().arg(&upload);
/// assert_eq!(args.len(), 1); // one argument, with one attachment
/// ```
///
/// Outside [`collect_attachments`] it serializes as a byte array, and it
/// deserializes from one as well as from a placeholder.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Binary(pub Bytes);

impl Binary {
    /// The bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

impl From<Vec<u8>> for Binary {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Bytes::from(bytes))
    }
}

impl From<Bytes> for Binary {
    fn from(bytes: Bytes) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for Binary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Binary({} bytes)", self.0.len())
    }
}

/// Runs `f` (a serialization) with every [`Binary`] it serializes turned
/// into a placeholder and its bytes pushed onto `attachments` (numbered
/// after the ones already there).
///
/// ```
/// use rally_proto::{Binary, collect_attachments};
///
/// let mut attachments = Vec::new();
/// let json = collect_attachments(&mut attachments, || serde_json::to_string(&Binary::from(vec![7])));
/// assert_eq!(json.unwrap(), r#"{"_placeholder":true,"num":0}"#);
/// assert_eq!(attachments.len(), 1);
/// ```
pub fn collect_attachments<R>(attachments: &mut Vec<Bytes>, f: impl FnOnce() -> R) -> R {
    let previous = SINK.with(|s| s.replace(Some(std::mem::take(attachments))));
    let result = f();
    *attachments = SINK.with(|s| s.replace(previous)).unwrap_or_default();
    result
}

/// Runs `f` (a deserialization) with every [`Binary`] it meets as a
/// placeholder taken from `attachments`.
///
/// ```
/// use bytes::Bytes;
/// use rally_proto::{Binary, read_attachments};
///
/// let attachments = [Bytes::from_static(&[1, 2])];
/// let json = r#"{"_placeholder":true,"num":0}"#;
/// let binary: Binary = read_attachments(&attachments, || serde_json::from_str(json)).unwrap();
/// assert_eq!(&binary.as_bytes()[..], [1, 2]);
/// ```
pub fn read_attachments<R>(attachments: &[Bytes], f: impl FnOnce() -> R) -> R {
    if attachments.is_empty() {
        return f();
    }
    let previous = SOURCE.with(|s| s.replace(Some(attachments.to_vec())));
    let result = f();
    SOURCE.with(|s| s.replace(previous));
    result
}

impl Serialize for Binary {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let num = SINK.with(|s| {
            s.borrow_mut().as_mut().map(|sink| {
                sink.push(self.0.clone());
                sink.len() - 1
            })
        });
        match num {
            Some(num) => {
                let mut placeholder = serializer.serialize_struct("Placeholder", 2)?;
                placeholder.serialize_field("_placeholder", &true)?;
                placeholder.serialize_field("num", &num)?;
                placeholder.end()
            }
            None => serializer.serialize_bytes(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Binary {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BinaryVisitor)
    }
}

struct BinaryVisitor;

impl<'de> Visitor<'de> for BinaryVisitor {
    type Value = Binary;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a binary attachment or an array of bytes")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Binary, A::Error> {
        let (mut placeholder, mut num) = (false, None::<usize>);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "_placeholder" => placeholder = map.next_value()?,
                "num" => num = Some(map.next_value()?),
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        let num = num
            .filter(|_| placeholder)
            .ok_or_else(|| de::Error::custom("not a placeholder"))?;
        SOURCE
            .with(|s| s.borrow().as_ref().and_then(|a| a.get(num).cloned()))
            .map(Binary)
            .ok_or_else(|| de::Error::custom("placeholder without its attachment"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Binary, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(b) = seq.next_element::<u8>()? {
            bytes.push(b);
        }
        Ok(Binary::from(bytes))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Binary, E> {
        Ok(Binary(Bytes::copy_from_slice(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct File {
        name: String,
        parts: Vec<Binary>,
    }

    #[test]
    fn round_trips_through_placeholders() {
        let file = File {
            name: "f".into(),
            parts: vec![Binary::from(vec![1]), Binary::from(vec![2, 3])],
        };
        let mut attachments = vec![Bytes::from_static(b"first")];
        let json = collect_attachments(&mut attachments, || serde_json::to_string(&file)).unwrap();
        assert_eq!(
            json,
            r#"{"name":"f","parts":[{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]}"#
        );
        assert_eq!(attachments.len(), 3);
        let back: File = read_attachments(&attachments, || serde_json::from_str(&json)).unwrap();
        assert_eq!(back, file);
    }

    #[test]
    fn refuses_missing_attachments_and_plain_objects() {
        let json = r#"{"_placeholder":true,"num":5}"#;
        assert!(
            read_attachments(&[Bytes::new()], || serde_json::from_str::<Binary>(json)).is_err()
        );
        assert!(serde_json::from_str::<Binary>(r#"{"a":1}"#).is_err());
        assert_eq!(
            serde_json::from_str::<Binary>("[1,2]").unwrap(),
            Binary::from(vec![1, 2])
        );
        assert_eq!(
            serde_json::to_string(&Binary::from(vec![7])).unwrap(),
            "[7]"
        );
    }
}

//! Received arguments, kept as raw JSON until someone asks for a type.

use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::{Args, Str, read_attachments, socket::replace_placeholders};

/// The arguments of a received event or acknowledgement: each one's raw JSON
/// text, as it came (a slice of the packet, nothing parsed into a tree), and
/// the binary attachments their placeholders point at.
///
/// The server's and the client's `Event` and `AckReply` are built on this
/// one type and dereference to it, so both sides read arguments with the same
/// methods.
///
/// ```
/// use bytes::Bytes;
/// use rally_proto::{Binary, RawArgs};
///
/// let raw = RawArgs::new(
///     vec![r#""chat""#.into(), r#"{"_placeholder":true,"num":0}"#.into(), "3".into()],
///     vec![Bytes::from_static(b"\x01\x02")],
/// );
/// assert_eq!(raw.len(), 3);
/// assert_eq!(raw.arg::<String>(0).unwrap(), "chat");
/// assert_eq!(raw.arg::<Binary>(1).unwrap().as_bytes().as_ref(), [1, 2]);
/// let (_, _, n): (String, Binary, u32) = raw.args().unwrap();
/// assert_eq!(n, 3);
/// assert_eq!(raw.raw_arg(2), Some("3"));
/// assert_eq!(raw.arg::<Option<u32>>(7).unwrap(), None); // missing reads as null
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RawArgs {
    args: Vec<Str>,
    attachments: Vec<Bytes>,
}

impl RawArgs {
    /// Arguments from their raw JSON texts (each must be one valid JSON
    /// value: it is not checked) and the attachments their placeholders
    /// point at.
    ///
    /// ```
    /// let raw = rally_proto::RawArgs::new(vec!["1".into(), "[2]".into()], Vec::new());
    /// assert_eq!(raw.arg::<Vec<u8>>(1).unwrap(), [2]);
    /// ```
    #[must_use]
    pub fn new(args: Vec<Str>, attachments: Vec<Bytes>) -> Self {
        Self { args, attachments }
    }

    /// Arguments made of JSON values whose placeholders point into
    /// `attachments` (what a cluster adapter gets from another node).
    ///
    /// ```
    /// let raw = rally_proto::RawArgs::from_values(&[serde_json::json!("ok")], Vec::new());
    /// assert_eq!(raw.raw_arg(0), Some(r#""ok""#));
    /// ```
    #[must_use]
    pub fn from_values(values: &[serde_json::Value], attachments: Vec<Bytes>) -> Self {
        Self::new(
            values.iter().map(|v| Str::from(v.to_string())).collect(),
            attachments,
        )
    }

    /// How many arguments there are.
    ///
    /// ```
    /// assert_eq!(rally_proto::RawArgs::default().len(), 0);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.args.len()
    }

    /// Whether there are none.
    ///
    /// ```
    /// assert!(rally_proto::RawArgs::default().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// Argument `index` as a `T`; [`Binary`](crate::Binary) values read
    /// their attachments. A missing argument reads as `null`.
    ///
    /// ```
    /// let raw = rally_proto::RawArgs::new(vec![r#""room""#.into()], Vec::new());
    /// let room: String = raw.arg(0).unwrap_or_default();
    /// let count: Option<u32> = raw.arg(1).unwrap();
    /// assert_eq!((room.as_str(), count), ("room", None));
    /// ```
    ///
    /// # Errors
    ///
    /// When the argument does not deserialize into `T`.
    pub fn arg<T: DeserializeOwned>(&self, index: usize) -> Result<T, serde_json::Error> {
        let raw = self.args.get(index).map_or("null", Str::as_str);
        read_attachments(&self.attachments, || serde_json::from_str(raw))
    }

    /// All the arguments as one `T`, read from the JSON array they form (a
    /// tuple such as `(String, u32)` takes two).
    ///
    /// ```
    /// let raw = rally_proto::RawArgs::new(vec!["1".into(), "2".into()], Vec::new());
    /// assert_eq!(raw.args::<(i32, i32)>().unwrap(), (1, 2));
    /// ```
    ///
    /// # Errors
    ///
    /// When the arguments do not deserialize into `T`.
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        let json = format!("[{}]", self.joined());
        read_attachments(&self.attachments, || serde_json::from_str(&json))
    }

    /// The raw JSON text of argument `index`.
    ///
    /// ```
    /// let raw = rally_proto::RawArgs::new(vec![r#"{"a":1}"#.into()], Vec::new());
    /// assert_eq!(raw.raw_arg(0), Some(r#"{"a":1}"#));
    /// assert_eq!(raw.raw_arg(1), None);
    /// ```
    #[must_use]
    pub fn raw_arg(&self, index: usize) -> Option<&str> {
        self.args.get(index).map(Str::as_str)
    }

    /// The raw JSON texts of all the arguments.
    ///
    /// ```
    /// let raw = rally_proto::RawArgs::new(vec!["1".into(), "true".into()], Vec::new());
    /// assert_eq!(raw.raw_args(), ["1", "true"]);
    /// ```
    #[must_use]
    pub fn raw_args(&self) -> &[Str] {
        &self.args
    }

    /// The binary attachments, in the order of their placeholders
    /// (`{"_placeholder":true,"num":N}` in the raw JSON).
    ///
    /// ```
    /// use bytes::Bytes;
    ///
    /// let raw = rally_proto::RawArgs::new(Vec::new(), vec![Bytes::from_static(b"abc")]);
    /// let total: usize = raw.binary().iter().map(|b| b.len()).sum();
    /// assert_eq!(total, 3);
    /// ```
    #[must_use]
    pub fn binary(&self) -> &[Bytes] {
        &self.attachments
    }

    /// The arguments as they came, binary included, ready to be emitted or
    /// acknowledged again unchanged.
    ///
    /// ```
    /// let raw = rally_proto::RawArgs::from_values(&[serde_json::json!("ok"), serde_json::json!(2)], Vec::new());
    /// assert_eq!(raw.to_args().json(), r#""ok",2"#);
    /// ```
    #[must_use]
    pub fn to_args(&self) -> Args {
        Args::raw_owned(self.joined(), self.args.len(), self.attachments.clone())
    }

    /// The arguments as JSON values, each binary attachment replaced by what
    /// `binary` makes of its bytes (placeholders are replaced only when there
    /// are attachments, as the official parser does; in arguments built by
    /// hand, one that points at no attachment ends the replacing in its
    /// argument, leaving the placeholders not reached yet). An argument that
    /// is not valid JSON reads as `null`.
    ///
    /// ```
    /// use bytes::Bytes;
    ///
    /// let raw = rally_proto::RawArgs::new(
    ///     vec![r#"{"a":{"_placeholder":true,"num":0}}"#.into(), "2".into()],
    ///     vec![Bytes::from_static(b"abc")],
    /// );
    /// // Binary arguments as their length.
    /// assert_eq!(raw.to_values(|bytes| bytes.len().into()), [serde_json::json!({"a": 3}), serde_json::json!(2)]);
    /// ```
    #[must_use]
    pub fn to_values(
        &self,
        mut binary: impl FnMut(&Bytes) -> serde_json::Value,
    ) -> Vec<serde_json::Value> {
        self.args
            .iter()
            .map(|raw| {
                let mut value = serde_json::from_str(raw).unwrap_or_default();
                if !self.attachments.is_empty() {
                    // Received packets had their placeholders checked when
                    // assembled; only arguments built by hand can fail here.
                    let _ = replace_placeholders(&mut value, &self.attachments, &mut binary);
                }
                value
            })
            .collect()
    }

    /// The raw JSON texts and the attachments.
    ///
    /// ```
    /// let (args, attachments) = rally_proto::RawArgs::new(vec!["1".into()], Vec::new()).into_parts();
    /// assert_eq!((args.len(), attachments.len()), (1, 0));
    /// ```
    #[must_use]
    pub fn into_parts(self) -> (Vec<Str>, Vec<Bytes>) {
        (self.args, self.attachments)
    }

    /// The arguments' raw JSON joined with commas.
    fn joined(&self) -> String {
        let len = self.args.iter().map(|a| a.len() + 1).sum::<usize>();
        let mut json = String::with_capacity(len.saturating_sub(1));
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str(arg);
        }
        json
    }
}

impl fmt::Debug for RawArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawArgs")
            .field("args", &self.args)
            .field("attachments", &self.attachments.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_without_attachments_stay() {
        let plain = RawArgs::new(vec![r#"{"_placeholder":true,"num":0}"#.into()], Vec::new());
        assert_eq!(
            plain.to_values(|_| serde_json::Value::Null),
            [serde_json::json!({"_placeholder": true, "num": 0})]
        );
    }
}

//! The arguments of an emit or an ack.

use std::fmt;

use bytes::Bytes;
use rally_proto::socket::placeholder;
use serde::Serialize;

/// The arguments of an emit or an ack: JSON values and binary attachments.
///
/// A single serializable value converts into one argument, `()` into none;
/// build several, or binary ones, with the methods here.
///
/// ```
/// use rally_client::Args;
///
/// let args = Args::new().arg(&"hello").arg(&42).binary(vec![1, 2, 3]);
/// assert_eq!(args.len(), 3);
/// assert_eq!(Args::from(&"one").len(), 1);
/// assert!(Args::from(()).is_empty());
/// ```
#[derive(Clone, Default)]
pub struct Args {
    /// The arguments as JSON, comma separated, without brackets.
    json: String,
    count: usize,
    attachments: Vec<Bytes>,
    error: Option<String>,
}

impl Args {
    /// No arguments.
    ///
    /// ```
    /// assert!(rally_client::Args::new().is_empty());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value` as the next argument.
    ///
    /// [`Binary`](crate::Binary) values anywhere inside it become
    /// attachments. A value that cannot be serialized to JSON makes the emit
    /// fail with [`EmitError::Serialize`](crate::EmitError::Serialize).
    ///
    /// ```
    /// #[derive(serde::Serialize)]
    /// struct Chat { text: String }
    ///
    /// let args = rally_client::Args::new().arg(&Chat { text: "hi".into() }).arg(&[1, 2]);
    /// assert_eq!(args.len(), 2);
    /// ```
    #[must_use]
    pub fn arg<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.separate();
        let mut buf = std::mem::take(&mut self.json).into_bytes();
        let written = crate::binary::collecting(&mut self.attachments, || {
            serde_json::to_writer(&mut buf, value)
        });
        if let Err(e) = written {
            self.error.get_or_insert(e.to_string());
        }
        // serde_json writes UTF-8 only.
        self.json = String::from_utf8(buf).unwrap_or_default();
        self
    }

    /// Adds a binary argument, sent as an attachment.
    ///
    /// ```
    /// let args = rally_client::Args::new().binary(vec![0xff, 0x00]);
    /// assert_eq!(args.len(), 1);
    /// ```
    #[must_use]
    pub fn binary(mut self, bytes: impl Into<Bytes>) -> Self {
        self.separate();
        let num = self.attachments.len();
        self.json.push_str(&placeholder(num));
        self.attachments.push(bytes.into());
        self
    }

    /// Adds one argument given as raw JSON text, sent as it is. It must be
    /// one valid JSON value: it is not checked.
    ///
    /// ```
    /// let args = rally_client::Args::new().raw_json(r#"{"token":"abc"}"#);
    /// assert_eq!(args.len(), 1);
    /// ```
    #[must_use]
    pub fn raw_json(mut self, json: &str) -> Self {
        self.separate();
        self.json.push_str(json);
        self
    }

    /// How many arguments there are.
    ///
    /// ```
    /// assert_eq!(rally_client::Args::new().arg(&1).arg(&2).len(), 2);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    ///
    /// ```
    /// assert!(rally_client::Args::from(()).is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The JSON array of the arguments, the attachments, or why an argument
    /// could not be serialized.
    pub(crate) fn into_parts(self) -> Result<(String, Vec<Bytes>), String> {
        if let Some(e) = self.error {
            return Err(e);
        }
        Ok((self.json, self.attachments))
    }

    fn separate(&mut self) {
        if self.count > 0 {
            self.json.push(',');
        }
        self.count += 1;
    }
}

impl<T: Serialize + ?Sized> From<&T> for Args {
    fn from(value: &T) -> Self {
        Args::new().arg(value)
    }
}

impl From<()> for Args {
    fn from((): ()) -> Self {
        Args::new()
    }
}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Args")
            .field("json", &self.json)
            .field("attachments", &self.attachments.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Binary;

    #[test]
    fn builds_json_and_placeholders() {
        let args = Args::new()
            .arg(&"a\"b")
            .binary(vec![1])
            .arg(&[1, 2])
            .arg(&Binary::from(vec![2]));
        let (json, attachments) = args.into_parts().unwrap();
        assert_eq!(
            json,
            r#""a\"b",{"_placeholder":true,"num":0},[1,2],{"_placeholder":true,"num":1}"#
        );
        assert_eq!(attachments, [vec![1], vec![2]]);
        assert_eq!(Args::from(&5).into_parts().unwrap().0, "5");
        assert!(Args::from(()).is_empty());
    }

    #[test]
    fn keeps_serialization_errors() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1], 2);
        assert!(Args::from(&map).into_parts().is_err());
    }
}

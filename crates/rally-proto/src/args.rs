use std::fmt;

use bytes::Bytes;
use serde::Serialize;

use crate::socket::placeholder;

/// The arguments of an emit or an ack: JSON values and binary attachments.
///
/// What converts into `Args`, as the reference's `emit(event, ...args)`
/// reads:
///
/// - `()` is no argument;
/// - a reference to a serializable value (`&value`) is one argument, even
///   when the value is a tuple or a list: `&(1, 2)` and `&vec![1, 2]` are
///   one JSON array;
/// - a tuple *by value*, of up to 12 serializable elements, is one
///   argument per element: `(x, y)` is `emit("move", x, y)` in Node, and
///   `(x,)` is one argument;
/// - several arguments, or binary ones, can also be built with the methods
///   here.
///
/// Mind clippy's `needless_borrows_for_generic_args` on `&(x, y)`: its
/// suggestion, dropping the `&`, turns one array argument into two
/// arguments. Write `Args::new().arg(&(x, y))` (or an array, `&[x, y]`)
/// where one array argument is meant.
///
/// ```
/// use rally_proto::Args;
///
/// let args = Args::new().arg(&"hello").arg(&42).binary(vec![1, 2, 3]);
/// assert_eq!(args.len(), 3);
///
/// // A tuple by value spreads; a reference is one value.
/// assert_eq!(Args::from((1, "two")).json(), r#"1,"two""#);
/// assert_eq!(Args::from(&(1, "two")).json(), r#"[1,"two"]"#);
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
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value` as the next argument.
    ///
    /// A value that cannot be serialized to JSON is remembered as the
    /// [`error`](Self::error), which makes the emit fail.
    /// [`Binary`](crate::Binary) values anywhere inside it become
    /// attachments.
    #[must_use]
    pub fn arg<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        self.separate();
        let mut buf = std::mem::take(&mut self.json).into_bytes();
        let written = crate::binary::collect_attachments(&mut self.attachments, || {
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
    #[must_use]
    pub fn binary(mut self, bytes: impl Into<Bytes>) -> Self {
        self.separate();
        let num = self.attachments.len();
        self.json.push_str(&placeholder(num));
        self.attachments.push(bytes.into());
        self
    }

    /// Arguments given as raw JSON text (a comma-separated list of
    /// `count` values, such as `1,"two"`) and the attachments their
    /// placeholders point at: what a client sent, relayed without parsing.
    /// The JSON is not checked.
    #[must_use]
    pub fn raw_relay(json: &str, count: usize, attachments: Vec<Bytes>) -> Self {
        Self::raw_owned(json.to_owned(), count, attachments)
    }

    /// [`raw_relay`](Self::raw_relay) taking the JSON text it keeps, so that
    /// text already laid out is not copied again.
    pub(crate) fn raw_owned(json: String, count: usize, attachments: Vec<Bytes>) -> Self {
        Self {
            json,
            count,
            attachments,
            error: None,
        }
    }

    /// One argument given as raw JSON text, sent as it is (it must be valid
    /// JSON: it is not checked).
    ///
    /// ```
    /// let args = rally_proto::Args::raw_json(r#"{"token":"abc"}"#);
    /// assert_eq!(args.len(), 1);
    /// ```
    #[must_use]
    pub fn raw_json(json: &str) -> Self {
        Self::raw_relay(json, 1, Vec::new())
    }

    /// How many arguments there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The arguments as JSON, comma separated, without brackets.
    #[must_use]
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The binary attachments, in placeholder order.
    #[must_use]
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// Why an argument could not be serialized, if one could not.
    #[must_use]
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The JSON and the attachments.
    ///
    /// # Errors
    ///
    /// The [`error`](Self::error) when an argument did not serialize.
    pub fn into_parts(self) -> Result<(String, Vec<Bytes>), String> {
        match self.error {
            Some(e) => Err(e),
            None => Ok((self.json, self.attachments)),
        }
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

/// A tuple by value: one argument per element.
macro_rules! tuple_args {
    ($($name:ident),+) => {
        impl<$($name: Serialize),+> From<($($name,)+)> for Args {
            #[allow(non_snake_case)]
            fn from(($($name,)+): ($($name,)+)) -> Self {
                Args::new()$(.arg(&$name))+
            }
        }
    };
}

tuple_args!(A);
tuple_args!(A, B);
tuple_args!(A, B, C);
tuple_args!(A, B, C, D);
tuple_args!(A, B, C, D, E);
tuple_args!(A, B, C, D, E, F);
tuple_args!(A, B, C, D, E, F, G);
tuple_args!(A, B, C, D, E, F, G, H);
tuple_args!(A, B, C, D, E, F, G, H, I);
tuple_args!(A, B, C, D, E, F, G, H, I, J);
tuple_args!(A, B, C, D, E, F, G, H, I, J, K);
tuple_args!(A, B, C, D, E, F, G, H, I, J, K, L);

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

    #[test]
    fn builds_json_and_placeholders() {
        let args = Args::new().arg(&"a\"b").binary(vec![1]).arg(&[1, 2]);
        assert_eq!(args.json(), r#""a\"b",{"_placeholder":true,"num":0},[1,2]"#);
        assert_eq!(args.attachments().len(), 1);
        assert_eq!(Args::from(&5).json(), "5");
        assert!(Args::from(()).is_empty());
    }

    #[test]
    fn tuples_by_value_spread_and_references_do_not() {
        let args = Args::from((1, "two", crate::Binary::from(vec![3])));
        assert_eq!(args.len(), 3);
        assert_eq!(args.json(), r#"1,"two",{"_placeholder":true,"num":0}"#);
        assert_eq!(args.attachments().len(), 1);
        assert_eq!(Args::from((7,)).json(), "7");
        assert_eq!(Args::from((7,)).len(), 1);
        let pair = (1, 2);
        assert_eq!(Args::from(&pair).json(), "[1,2]");
        assert_eq!(Args::from(&pair).len(), 1);
    }
}

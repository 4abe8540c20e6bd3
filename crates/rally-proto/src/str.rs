use std::{borrow::Borrow, fmt, ops::Deref};

use bytes::Bytes;

use crate::DecodeError;

/// A cheaply cloneable UTF-8 string backed by [`Bytes`].
///
/// Packets keep their text as slices of the buffer they were read from, so
/// relaying a message never copies it.
///
/// ```
/// use rally_proto::Str;
///
/// let s = Str::from("4hello");
/// assert_eq!(s.slice_from(1).as_deref(), Some("hello"));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Str(Bytes);

impl Str {
    /// Wraps `bytes` after checking that they are valid UTF-8.
    ///
    /// # Errors
    ///
    /// [`DecodeError::InvalidUtf8`] when they are not.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, DecodeError> {
        std::str::from_utf8(&bytes).map_err(|_| DecodeError::InvalidUtf8)?;
        Ok(Self(bytes))
    }

    /// Wraps a static string without copying it.
    #[must_use]
    pub const fn from_static(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }

    /// The text as a `&str`.
    #[must_use]
    #[allow(unsafe_code)]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor either checks the bytes with
        // `std::str::from_utf8` or takes them from a `str`/`String`, and
        // slicing (`slice`) only cuts on character boundaries, so the bytes
        // are always valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Gives the underlying bytes back.
    #[must_use]
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The text from byte index `start` to the end, sharing the buffer.
    ///
    /// `None` when `start` is past the end or not on a character boundary.
    #[must_use]
    pub fn slice_from(&self, start: usize) -> Option<Str> {
        self.slice(start, self.0.len())
    }

    /// The text between byte indexes `start` and `end`, sharing the buffer.
    ///
    /// `None` when the range is out of bounds or does not fall on character
    /// boundaries.
    #[must_use]
    pub fn slice(&self, start: usize, end: usize) -> Option<Str> {
        let s = self.as_str();
        (start <= end && s.is_char_boundary(start) && s.is_char_boundary(end))
            .then(|| Str(self.0.slice(start..end)))
    }
}

impl Deref for Str {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for Str {
    fn from(s: String) -> Self {
        Self(Bytes::from(s))
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Self {
        Self(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<Str> for Bytes {
    fn from(s: Str) -> Self {
        s.0
    }
}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_invalid_utf8() {
        assert_eq!(
            Str::from_utf8(Bytes::from_static(&[0x34, 0xff])),
            Err(DecodeError::InvalidUtf8)
        );
    }

    #[test]
    fn slices_on_char_boundaries_only() {
        let s = Str::from("4é!");
        assert_eq!(s.slice_from(1).as_deref(), Some("é!"));
        assert_eq!(s.slice_from(2), None);
        assert_eq!(s.slice_from(4).as_deref(), Some(""));
        assert_eq!(s.slice_from(5), None);
        assert_eq!(s.slice(3, 1), None);
    }
}

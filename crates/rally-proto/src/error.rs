use thiserror::Error;

/// Why some bytes could not be decoded into a packet.
///
/// Every decoder of this crate returns this error rather than panicking.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input held no packet at all.
    #[error("empty packet")]
    Empty,
    /// The first character is not a known packet type.
    #[error("unknown packet type")]
    UnknownPacketType,
    /// The bytes are not valid UTF-8 where text was expected.
    #[error("invalid utf-8")]
    InvalidUtf8,
}

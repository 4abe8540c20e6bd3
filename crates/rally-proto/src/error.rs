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
    /// The attachment count of a binary packet (`<n>-`) is missing or not a
    /// positive integer.
    #[error("invalid attachment count")]
    InvalidAttachments,
    /// A binary packet announces more attachments than allowed.
    #[error("too many attachments (at most {max})")]
    TooManyAttachments {
        /// The configured maximum.
        max: usize,
    },
    /// The ack id is not a number that fits in 64 bits.
    #[error("invalid ack id")]
    InvalidAckId,
    /// The payload is not valid JSON.
    #[error("invalid json payload")]
    InvalidJson,
    /// The payload is valid JSON of the wrong shape for its packet type.
    #[error("invalid payload for the packet type")]
    InvalidPayload,
    /// The event name is reserved (`connect`, `disconnect`, ...).
    #[error("reserved event name")]
    ReservedEventName,
    /// A text packet arrived while binary attachments were still expected.
    #[error("text packet while attachments are pending")]
    UnexpectedText,
    /// A binary message arrived while no attachment was expected.
    #[error("binary message with no attachment pending")]
    UnexpectedBinary,
    /// A placeholder refers to an attachment that does not exist.
    #[error("invalid attachment placeholder")]
    InvalidPlaceholder,
    /// The bytes are not well-formed MessagePack (or use extension types).
    #[error("invalid messagepack")]
    InvalidMsgpack,
    /// The namespace of a MessagePack packet is not a string starting with `/`.
    #[error("invalid namespace")]
    InvalidNamespace,
    /// A record of an Engine.IO protocol 3 polling payload has a missing,
    /// malformed or wrong length, or no separator after it.
    #[error("invalid payload record length")]
    InvalidLength,
    /// A record of an Engine.IO protocol 3 polling payload announces more
    /// than the allowed length.
    #[error("payload record too long (at most {max})")]
    RecordTooLong {
        /// The allowed maximum.
        max: usize,
    },
}

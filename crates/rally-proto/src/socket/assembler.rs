use bytes::Bytes;

use crate::DecodeError;

use super::{BinaryPacket, DEFAULT_MAX_ATTACHMENTS, Packet, binary::check_placeholders};

/// Puts binary packets back together: a `BINARY_EVENT` or `BINARY_ACK` announcing
/// `n` attachments, then the next `n` binary messages.
///
/// One per connection (the reference's `Decoder` state). Feed it every decoded
/// text packet with [`push`](Self::push) and every binary message with
/// [`push_binary`](Self::push_binary); each returns the complete packet when
/// there is one. Any error means the connection is broken (the reference
/// closes it); the assembler is then empty again.
///
/// ```
/// use bytes::Bytes;
/// use rally_proto::socket::{Assembler, Packet};
///
/// let mut assembler = Assembler::new();
/// let packet = Packet::decode(r#"51-["file",{"_placeholder":true,"num":0}]"#.into()).unwrap();
/// assert_eq!(assembler.push(packet).unwrap(), None);
/// let done = assembler.push_binary(Bytes::from_static(&[1, 2])).unwrap().unwrap();
/// assert_eq!(done.attachments, [Bytes::from_static(&[1, 2])]);
///
/// // A packet without attachments comes straight back.
/// let packet = Packet::decode(r#"2["chat"]"#.into()).unwrap();
/// assert!(assembler.push(packet).unwrap().unwrap().attachments.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembler {
    max_attachments: usize,
    pending: Option<BinaryPacket>,
}

impl Default for Assembler {
    fn default() -> Self {
        Self::new()
    }
}

impl Assembler {
    /// An empty assembler taking at most 10 attachments per packet.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            max_attachments: DEFAULT_MAX_ATTACHMENTS,
            pending: None,
        }
    }

    /// The most attachments a packet may announce (`maxAttachments`, default
    /// 10); keep it equal to the [`Decoder`](super::Decoder)'s.
    #[must_use]
    pub const fn max_attachments(mut self, max: usize) -> Self {
        self.max_attachments = max;
        self
    }

    /// Whether attachments are still expected.
    #[must_use]
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Takes a decoded text packet. A packet of a binary type is kept until
    /// its attachments have arrived (`Ok(None)`); any other packet comes back
    /// at once, with no attachments.
    ///
    /// # Errors
    ///
    /// - [`DecodeError::UnexpectedText`]: attachments of an earlier packet are
    ///   still expected (that packet is dropped);
    /// - [`DecodeError::InvalidAttachments`], [`DecodeError::TooManyAttachments`]:
    ///   a binary packet announcing no attachment, or more than the maximum.
    pub fn push(&mut self, packet: Packet) -> Result<Option<BinaryPacket>, DecodeError> {
        if self.pending.take().is_some() {
            return Err(DecodeError::UnexpectedText);
        }
        if !packet.kind.is_binary() {
            return Ok(Some(BinaryPacket {
                packet,
                attachments: Vec::new(),
            }));
        }
        match packet.attachments {
            0 => Err(DecodeError::InvalidAttachments),
            n if n > self.max_attachments => Err(DecodeError::TooManyAttachments {
                max: self.max_attachments,
            }),
            n => {
                self.pending = Some(BinaryPacket {
                    packet,
                    attachments: Vec::with_capacity(n),
                });
                Ok(None)
            }
        }
    }

    /// Takes a binary message: the next attachment of the pending packet.
    /// Returns the packet with all its attachments after the last one, once
    /// its placeholders have been checked against them.
    ///
    /// # Errors
    ///
    /// - [`DecodeError::UnexpectedBinary`]: no packet is waiting for attachments;
    /// - [`DecodeError::InvalidPlaceholder`]: the complete packet has a
    ///   placeholder whose `num` is not the index of an attachment.
    pub fn push_binary(&mut self, bytes: Bytes) -> Result<Option<BinaryPacket>, DecodeError> {
        let pending = self.pending.as_mut().ok_or(DecodeError::UnexpectedBinary)?;
        pending.attachments.push(bytes);
        if pending.attachments.len() < pending.packet.attachments {
            return Ok(None);
        }
        let Some(done) = self.pending.take() else {
            return Err(DecodeError::UnexpectedBinary);
        };
        if let Some(data) = &done.packet.data {
            check_placeholders(data, done.attachments.len())?;
        }
        Ok(Some(done))
    }

    /// Drops the packet waiting for attachments, if any.
    pub fn clear(&mut self) {
        self.pending = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::PacketType;

    fn packet(s: &str) -> Packet {
        Packet::decode(s.into()).unwrap()
    }

    fn bin(b: &'static [u8]) -> Bytes {
        Bytes::from_static(b)
    }

    #[test]
    fn assembles_in_order() {
        let mut a = Assembler::new();
        let text =
            r#"52-["x",{"a":{"_placeholder":true,"num":0},"b":[{"_placeholder":true,"num":1}]}]"#;
        assert_eq!(a.push(packet(text)), Ok(None));
        assert!(a.is_pending());
        assert_eq!(a.push_binary(bin(b"\x01\x02")), Ok(None));
        let done = a.push_binary(bin(b"\x03")).unwrap().unwrap();
        assert_eq!(done.packet, packet(text));
        assert_eq!(done.attachments, [bin(b"\x01\x02"), bin(b"\x03")]);
        assert!(!a.is_pending());
        // And again: the assembler is reusable.
        assert_eq!(
            a.push(packet(r#"61-5[{"_placeholder":true,"num":0}]"#)),
            Ok(None)
        );
        let done = a.push_binary(bin(&[5, 6])).unwrap().unwrap();
        assert_eq!(
            (done.packet.kind, done.packet.id),
            (PacketType::BinaryAck, Some(5))
        );
    }

    #[test]
    fn text_packets_pass_through() {
        let mut a = Assembler::new();
        let done = a.push(packet(r#"2["a"]"#)).unwrap().unwrap();
        assert_eq!(done.packet, packet(r#"2["a"]"#));
        assert!(done.attachments.is_empty());
    }

    #[test]
    fn text_while_pending_is_an_error() {
        let mut a = Assembler::new();
        a.push(packet(r#"51-["a",{"_placeholder":true,"num":0}]"#))
            .unwrap();
        assert_eq!(
            a.push(packet(r#"2["a"]"#)),
            Err(DecodeError::UnexpectedText)
        );
        assert!(!a.is_pending());
    }

    #[test]
    fn unexpected_binary_is_an_error() {
        let mut a = Assembler::new();
        assert_eq!(a.push_binary(bin(b"x")), Err(DecodeError::UnexpectedBinary));
        a.push(packet(r#"51-["a",{"_placeholder":true,"num":0}]"#))
            .unwrap();
        a.push_binary(bin(b"x")).unwrap().unwrap();
        assert_eq!(a.push_binary(bin(b"x")), Err(DecodeError::UnexpectedBinary));
    }

    #[test]
    fn placeholder_out_of_range_is_an_error() {
        let mut a = Assembler::new();
        a.push(packet(r#"51-["a",{"_placeholder":true,"num":5}]"#))
            .unwrap();
        assert_eq!(
            a.push_binary(bin(b"x")),
            Err(DecodeError::InvalidPlaceholder)
        );
        assert!(!a.is_pending());
    }

    #[test]
    fn too_many_attachments() {
        let mut p = packet(r#"51-["a"]"#);
        p.attachments = 1_000_000_000;
        let mut a = Assembler::new();
        assert_eq!(
            a.push(p.clone()),
            Err(DecodeError::TooManyAttachments { max: 10 })
        );
        p.attachments = 0;
        assert_eq!(a.push(p.clone()), Err(DecodeError::InvalidAttachments));
        p.attachments = 11;
        assert_eq!(Assembler::new().max_attachments(11).push(p), Ok(None));
    }

    #[test]
    fn binary_packet_without_data() {
        let mut a = Assembler::new();
        a.push(packet("51-")).unwrap();
        let done = a.push_binary(bin(b"x")).unwrap().unwrap();
        assert_eq!(done.packet.data, None);
        a.push(packet("51-")).unwrap();
        a.clear();
        assert!(!a.is_pending());
    }
}

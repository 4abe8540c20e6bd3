//! RFC 6455 frame headers: reading them, writing them, and masking.

use super::{CloseCode, Role, WsError};

/// What a frame carries (its opcode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// The next fragment of a message.
    Continuation,
    /// The first (or only) frame of a text message.
    Text,
    /// The first (or only) frame of a binary message.
    Binary,
    /// A close frame.
    Close,
    /// A ping.
    Ping,
    /// A pong.
    Pong,
}

impl OpCode {
    fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// Whether this is a control frame (close, ping, pong).
    #[must_use]
    pub fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// A frame's header, as read from the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Whether this is the last frame of its message.
    pub fin: bool,
    /// The first reserved bit: "compressed" under permessage-deflate.
    pub rsv1: bool,
    /// What the frame carries.
    pub opcode: OpCode,
    /// The masking key, present on every frame a client sends.
    pub mask: Option<[u8; 4]>,
    /// How many bytes the header takes.
    pub header_len: usize,
    /// How many payload bytes follow the header.
    pub payload_len: u64,
}

impl Header {
    /// Reads the header at the start of `buf`; `None` when `buf` does not
    /// hold all of it yet.
    ///
    /// # Errors
    ///
    /// A protocol error (1002) for a header no peer in `role`'s position may
    /// send: an unknown opcode, RSV2 or RSV3 set, a fragmented or long
    /// control frame, a 64-bit length with its top bit set, a client frame
    /// without a mask or a server frame with one.
    pub fn parse(buf: &[u8], role: Role) -> Result<Option<Self>, WsError> {
        let [b0, b1, ..] = *buf else {
            return Ok(None);
        };
        let protocol = |what: &'static str| WsError::new(CloseCode::PROTOCOL, what);
        if b0 & 0x30 != 0 {
            return Err(protocol("reserved bits set"));
        }
        let opcode = OpCode::from_bits(b0 & 0x0F).ok_or_else(|| protocol("unknown opcode"))?;
        let fin = b0 & 0x80 != 0;
        let rsv1 = b0 & 0x40 != 0;
        let masked = b1 & 0x80 != 0;
        if masked != (role == Role::Server) {
            return Err(protocol(if masked {
                "masked frame from the server"
            } else {
                "unmasked frame from the client"
            }));
        }
        let (payload_len, mut at) = match b1 & 0x7F {
            126 => match buf.get(2..4) {
                Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
                None => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(b) => {
                    let len = u64::from_be_bytes(b.try_into().unwrap_or_default());
                    if len >> 63 != 0 {
                        return Err(protocol("payload length out of range"));
                    }
                    (len, 10)
                }
                None => return Ok(None),
            },
            len => (u64::from(len), 2),
        };
        if opcode.is_control() && (!fin || payload_len > 125) {
            return Err(protocol("fragmented or oversized control frame"));
        }
        let mask = if masked {
            let Some(key) = buf.get(at..at + 4) else {
                return Ok(None);
            };
            at += 4;
            Some([key[0], key[1], key[2], key[3]])
        } else {
            None
        };
        Ok(Some(Self {
            fin,
            rsv1,
            opcode,
            mask,
            header_len: at,
            payload_len,
        }))
    }
}

/// The longest header [`write_header`] writes.
pub const MAX_HEADER_LEN: usize = 14;

/// Appends the header of a final frame of `len` payload bytes to `dst`;
/// `rsv1` marks a compressed message, `mask` (a client's) is written
/// after the length.
pub fn write_header(
    dst: &mut Vec<u8>,
    opcode: OpCode,
    rsv1: bool,
    len: usize,
    mask: Option<[u8; 4]>,
) {
    let b0 = 0x80 | if rsv1 { 0x40 } else { 0 } | opcode.bits();
    let m = if mask.is_some() { 0x80 } else { 0 };
    match len {
        // Each arm checked the range it casts from.
        #[expect(clippy::cast_possible_truncation, reason = "len <= 125")]
        0..=125 => dst.extend_from_slice(&[b0, m | len as u8]),
        #[expect(clippy::cast_possible_truncation, reason = "len <= u16::MAX")]
        126..=0xFFFF => {
            let l = (len as u16).to_be_bytes();
            dst.extend_from_slice(&[b0, m | 126, l[0], l[1]]);
        }
        _ => {
            dst.extend_from_slice(&[b0, m | 127]);
            dst.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    if let Some(key) = mask {
        dst.extend_from_slice(&key);
    }
}

/// XORs `data` with the masking `key`, as both masking and unmasking do.
pub fn apply_mask(data: &mut [u8], key: [u8; 4]) {
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut b = [0; 8];
        b.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(b) ^ word).to_ne_bytes());
    }
    // What is left starts at a multiple of 8, so at key index 0.
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= key[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_at_every_length_form() {
        for len in [0, 1, 125, 126, 127, 0xFFFF, 0x10000, 5_000_000] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let mut buf = Vec::new();
                write_header(&mut buf, OpCode::Binary, len == 1, len, mask);
                let role = if mask.is_some() {
                    Role::Server
                } else {
                    Role::Client
                };
                let header = Header::parse(&buf, role).unwrap().unwrap();
                assert_eq!(header.payload_len, len as u64);
                assert_eq!(header.header_len, buf.len());
                assert_eq!(header.mask, mask);
                assert_eq!(header.rsv1, len == 1);
                assert!(header.fin);
                // Every shorter prefix is incomplete, never an error.
                for cut in 0..buf.len() {
                    assert_eq!(Header::parse(&buf[..cut], role), Ok(None));
                }
            }
        }
    }

    #[test]
    fn bad_headers_are_protocol_errors() {
        let cases: [&[u8]; 6] = [
            &[0x83, 0x80, 0, 0, 0, 0], // opcode 3
            &[0xA1, 0x80, 0, 0, 0, 0], // RSV2
            &[0x09, 0x80, 0, 0, 0, 0], // fragmented ping
            &[0x89, 0xFE, 0, 126],     // ping of 126 bytes
            &[0x81, 0x05],             // unmasked client frame
            &[0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0],
        ];
        for case in cases {
            let err = Header::parse(case, Role::Server).unwrap_err();
            assert_eq!(err.code(), CloseCode::PROTOCOL, "{case:?}");
        }
        let err = Header::parse(&[0x81, 0x85, 1, 2, 3, 4], Role::Client).unwrap_err();
        assert_eq!(err.code(), CloseCode::PROTOCOL);
    }

    #[test]
    fn masking_twice_gives_the_data_back_at_any_length() {
        for len in 0..40 {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut masked = data.clone();
            apply_mask(&mut masked, [0xA, 0xB, 0xC, 0xD]);
            for (i, (m, d)) in masked.iter().zip(&data).enumerate() {
                assert_eq!(*m, d ^ [0xA, 0xB, 0xC, 0xD][i % 4]);
            }
            apply_mask(&mut masked, [0xA, 0xB, 0xC, 0xD]);
            assert_eq!(masked, data);
        }
    }
}

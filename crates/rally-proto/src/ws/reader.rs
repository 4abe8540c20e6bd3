//! Turning bytes read from a socket into whole WebSocket messages.

use std::ops::ControlFlow;

use bytes::Bytes;

use super::{
    CloseCode, Role, WsError,
    deflate::inflate,
    frame::{Header, OpCode, apply_mask},
};

/// A whole message or a control frame, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A text message. Its bytes are **not yet checked** as UTF-8: the
    /// reader of the text checks them once (and closes with
    /// [`CloseCode::INVALID_DATA`] when they are not).
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping and its data.
    Ping(Bytes),
    /// A pong and its data.
    Pong(Bytes),
    /// A close frame: its status code, if any, and its reason.
    Close(Option<u16>, Bytes),
}

/// A message whose frames are still arriving.
#[derive(Debug)]
struct Fragments {
    binary: bool,
    compressed: bool,
    data: Vec<u8>,
}

/// Reads frames out of the bytes a connection receives.
///
/// The reader owns no read buffer: the caller reads into any buffer (one
/// per thread, say) and hands the bytes to [`Reader::feed`]. Only the bytes
/// of a frame that is not complete yet, and the frames of a fragmented
/// message, are kept between reads; an idle connection's reader holds no
/// memory beyond its own few words.
///
/// ```
/// use std::ops::ControlFlow;
/// use rally_proto::ws::{Incoming, Reader, Role};
///
/// let mut reader = Reader::new(Role::Client, 1 << 20, false);
/// let mut got = Vec::new();
/// // "hi" in two reads, then a ping.
/// for mut chunk in [vec![0x81, 0x02, b'h'], vec![b'i', 0x89, 0x00]] {
///     reader.feed(&mut chunk, |m| { got.push(m); ControlFlow::Continue(()) }).unwrap();
/// }
/// assert_eq!(got, [Incoming::Text("hi".into()), Incoming::Ping("".into())]);
/// ```
#[derive(Debug)]
pub struct Reader {
    role: Role,
    deflate: bool,
    /// A caller's stop left whole frames in `partial`.
    stopped: bool,
    max_message: usize,
    /// The bytes of an incomplete frame (after a stop, possibly more).
    partial: Vec<u8>,
    fragments: Option<Fragments>,
}

impl Reader {
    /// A reader on the `role` side of a connection, for messages of at
    /// most `max_message` bytes (inflated size, when compressed);
    /// `deflate` when permessage-deflate was agreed.
    #[must_use]
    pub fn new(role: Role, max_message: usize, deflate: bool) -> Self {
        Self {
            role,
            deflate,
            stopped: false,
            max_message,
            partial: Vec::new(),
            fragments: None,
        }
    }

    /// Whether a stop asked by the caller left whole frames behind:
    /// [`Reader::feed`] with no new bytes then goes on with them.
    #[must_use]
    pub fn has_buffered_frames(&self) -> bool {
        self.stopped
    }

    /// How many bytes the reader holds for frames and messages not complete
    /// yet.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.partial.capacity() + self.fragments.as_ref().map_or(0, |f| f.data.capacity())
    }

    /// Reads every whole message out of what was kept and `input` (which it
    /// unmasks in place), calling `on` with each; keeps the rest. `on`
    /// stops the reading by returning `Break`: what is left is kept, and
    /// [`Reader::has_buffered_frames`] tells to call again.
    ///
    /// # Errors
    ///
    /// The status to close the connection with: a protocol error (1002), a
    /// message over the limit (1009, before any of it is kept), a bad close
    /// frame or undecompressable data (1002, 1007).
    pub fn feed<F>(&mut self, input: &mut [u8], mut on: F) -> Result<(), WsError>
    where
        F: FnMut(Incoming) -> ControlFlow<()>,
    {
        self.stopped = false;
        if self.partial.is_empty() {
            let used = self.frames(input, &mut on)?;
            if used < input.len() {
                self.partial.extend_from_slice(&input[used..]);
            }
        } else {
            self.partial.extend_from_slice(input);
            let mut kept = std::mem::take(&mut self.partial);
            let used = self.frames(&mut kept, &mut on);
            let used = used?;
            if used == kept.len() {
                // Nothing is kept while the connection is quiet.
                kept = Vec::new();
            } else {
                kept.drain(..used);
            }
            self.partial = kept;
        }
        Ok(())
    }

    /// Reads whole frames from the start of `buf`; how many bytes they took.
    fn frames<F>(&mut self, buf: &mut [u8], on: &mut F) -> Result<usize, WsError>
    where
        F: FnMut(Incoming) -> ControlFlow<()>,
    {
        let mut at = 0;
        while let Some(header) = Header::parse(&buf[at..], self.role)? {
            let so_far = self.fragments.as_ref().map_or(0, |f| f.data.len());
            let limit = self.max_message.saturating_sub(so_far) as u64;
            if !header.opcode.is_control() && header.payload_len > limit {
                return Err(WsError::new(CloseCode::TOO_BIG, "message too big"));
            }
            // Below the limit, so it fits a usize.
            let len = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
            let end = at + header.header_len;
            if buf.len() - end < len {
                break;
            }
            let payload = &mut buf[end..end + len];
            if let Some(key) = header.mask {
                apply_mask(payload, key);
            }
            at = end + len;
            if let Some(message) = self.frame(header, payload)?
                && on(message).is_break()
            {
                self.stopped = at < buf.len();
                break;
            }
        }
        Ok(at)
    }

    /// One whole frame: the message it ends, if any.
    fn frame(&mut self, header: Header, payload: &[u8]) -> Result<Option<Incoming>, WsError> {
        let protocol = |what| WsError::new(CloseCode::PROTOCOL, what);
        let may_compress = matches!(header.opcode, OpCode::Text | OpCode::Binary);
        if header.rsv1 && !(self.deflate && may_compress) {
            return Err(protocol("RSV1 set without a compressed message"));
        }
        let binary = match header.opcode {
            OpCode::Ping => return Ok(Some(Incoming::Ping(Bytes::copy_from_slice(payload)))),
            OpCode::Pong => return Ok(Some(Incoming::Pong(Bytes::copy_from_slice(payload)))),
            OpCode::Close => return close(payload).map(Some),
            OpCode::Continuation => {
                let Some(fragments) = &mut self.fragments else {
                    return Err(protocol("continuation without a message"));
                };
                fragments.data.extend_from_slice(payload);
                if !header.fin {
                    return Ok(None);
                }
                let Fragments {
                    binary,
                    compressed,
                    data,
                } = self.fragments.take().unwrap_or_else(|| unreachable!());
                return self.finish(binary, compressed, data).map(Some);
            }
            OpCode::Text => false,
            OpCode::Binary => true,
        };
        if self.fragments.is_some() {
            return Err(protocol("new message before the last one ended"));
        }
        if !header.fin {
            self.fragments = Some(Fragments {
                binary,
                compressed: header.rsv1,
                data: payload.to_vec(),
            });
            return Ok(None);
        }
        if header.rsv1 {
            return self.finish(binary, true, payload.to_vec()).map(Some);
        }
        // Binary messages are what applications keep as they are (files,
        // attachments): each has its own allocation, never a shared block.
        Ok(Some(if binary {
            Incoming::Binary(Bytes::copy_from_slice(payload))
        } else {
            Incoming::Text(super::arena::copy(payload))
        }))
    }

    fn finish(&self, binary: bool, compressed: bool, data: Vec<u8>) -> Result<Incoming, WsError> {
        let data = if compressed {
            inflate(&data, self.max_message)?
        } else {
            data
        };
        let data = Bytes::from(data);
        Ok(if binary {
            Incoming::Binary(data)
        } else {
            Incoming::Text(data)
        })
    }
}

/// A close frame's status and reason.
fn close(payload: &[u8]) -> Result<Incoming, WsError> {
    let code = match payload {
        [] => return Ok(Incoming::Close(None, Bytes::new())),
        [_] => return Err(WsError::new(CloseCode::PROTOCOL, "one-byte close payload")),
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
    };
    if !matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999) {
        return Err(WsError::new(CloseCode::PROTOCOL, "invalid close code"));
    }
    let reason = &payload[2..];
    if std::str::from_utf8(reason).is_err() {
        return Err(WsError::new(
            CloseCode::INVALID_DATA,
            "close reason not utf-8",
        ));
    }
    Ok(Incoming::Close(Some(code), Bytes::copy_from_slice(reason)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::{deflate::compress, frame::write_header};

    /// A client frame: masked.
    fn client_frame(fin: bool, rsv1: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        let key = [0x37, 0xFA, 0x21, 0x3D];
        let mut out = Vec::new();
        write_header(&mut out, opcode, rsv1, payload.len(), Some(key));
        if !fin {
            out[0] &= 0x7F;
        }
        let mut body = payload.to_vec();
        apply_mask(&mut body, key);
        out.extend_from_slice(&body);
        out
    }

    fn read_all(reader: &mut Reader, chunks: &[Vec<u8>]) -> Result<Vec<Incoming>, WsError> {
        let mut got = Vec::new();
        for chunk in chunks {
            let mut chunk = chunk.clone();
            reader.feed(&mut chunk, |m| {
                got.push(m);
                ControlFlow::Continue(())
            })?;
        }
        Ok(got)
    }

    fn stream() -> (Vec<u8>, Vec<Incoming>) {
        let big = vec![b'x'; 70_000];
        let mut bytes = Vec::new();
        bytes.extend(client_frame(true, false, OpCode::Text, b"42[\"a\"]"));
        bytes.extend(client_frame(false, false, OpCode::Binary, &[1, 2]));
        bytes.extend(client_frame(true, false, OpCode::Ping, b"p"));
        bytes.extend(client_frame(true, false, OpCode::Continuation, &[3]));
        bytes.extend(client_frame(true, false, OpCode::Text, &big));
        bytes.extend(client_frame(true, false, OpCode::Close, b"\x03\xe8bye"));
        let expected = vec![
            Incoming::Text("42[\"a\"]".into()),
            Incoming::Ping("p".into()),
            Incoming::Binary(vec![1, 2, 3].into()),
            Incoming::Text(big.into()),
            Incoming::Close(Some(1000), "bye".into()),
        ];
        (bytes, expected)
    }

    #[test]
    fn frames_split_at_every_byte_boundary_read_the_same() {
        let (bytes, expected) = stream();
        for cut in (0..bytes.len()).step_by(97).chain(0..40) {
            let mut reader = Reader::new(Role::Server, 1 << 20, false);
            let got = read_all(&mut reader, &[bytes[..cut].to_vec(), bytes[cut..].to_vec()]);
            assert_eq!(got.unwrap(), expected, "cut at {cut}");
            assert_eq!(reader.buffered(), 0, "nothing kept once done");
        }
        // One byte at a time.
        let mut reader = Reader::new(Role::Server, 1 << 20, false);
        let chunks: Vec<Vec<u8>> = bytes.iter().map(|b| vec![*b]).collect();
        assert_eq!(read_all(&mut reader, &chunks).unwrap(), expected);
    }

    #[test]
    fn a_stop_keeps_the_rest_for_the_next_call() {
        let (mut bytes, expected) = stream();
        let mut reader = Reader::new(Role::Server, 1 << 20, false);
        let mut got = Vec::new();
        reader
            .feed(&mut bytes, |m| {
                got.push(m);
                ControlFlow::Break(())
            })
            .unwrap();
        while reader.has_buffered_frames() {
            reader
                .feed(&mut [], |m| {
                    got.push(m);
                    ControlFlow::Break(())
                })
                .unwrap();
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn limits_are_checked_from_the_header() {
        let mut reader = Reader::new(Role::Server, 1000, false);
        // Only the header of a 1001-byte frame: refused before the payload.
        let frame = client_frame(true, false, OpCode::Binary, &[0; 1001]);
        let err = read_all(&mut reader, &[frame[..8].to_vec()]).unwrap_err();
        assert_eq!(err.code(), CloseCode::TOO_BIG);
        // Fragments adding up past the limit.
        let mut reader = Reader::new(Role::Server, 1000, false);
        let a = client_frame(false, false, OpCode::Text, &[b'a'; 600]);
        let b = client_frame(true, false, OpCode::Continuation, &[b'a'; 401]);
        let err = read_all(&mut reader, &[a, b]).unwrap_err();
        assert_eq!(err.code(), CloseCode::TOO_BIG);
    }

    #[test]
    fn protocol_errors() {
        let cases = [
            client_frame(true, false, OpCode::Continuation, b"x"),
            [
                client_frame(false, false, OpCode::Text, b"x"),
                client_frame(true, false, OpCode::Text, b"y"),
            ]
            .concat(),
            client_frame(true, true, OpCode::Text, b"x"),
            client_frame(true, false, OpCode::Close, b"\x03"),
            client_frame(true, false, OpCode::Close, b"\x03\xed"),
        ];
        for case in cases {
            let mut reader = Reader::new(Role::Server, 1000, false);
            let err = read_all(&mut reader, &[case]).unwrap_err();
            assert_eq!(err.code(), CloseCode::PROTOCOL);
        }
        let mut reader = Reader::new(Role::Server, 1000, false);
        let bad_reason = client_frame(true, false, OpCode::Close, b"\x03\xe8\xff");
        let err = read_all(&mut reader, &[bad_reason]).unwrap_err();
        assert_eq!(err.code(), CloseCode::INVALID_DATA);
    }

    #[test]
    fn compressed_messages_whole_or_in_fragments() {
        let text = "{\"msg\":\"hello\"}".repeat(100);
        let c = compress(text.as_bytes(), 1, 15).unwrap();
        let mut reader = Reader::new(Role::Server, 1 << 20, true);
        let whole = client_frame(true, true, OpCode::Text, &c);
        let (a, b) = c.split_at(c.len() / 2);
        let first = client_frame(false, true, OpCode::Text, a);
        let rest = client_frame(true, false, OpCode::Continuation, b);
        let got = read_all(&mut reader, &[whole, first, rest]).unwrap();
        assert_eq!(got, vec![Incoming::Text(text.into()); 2]);
        // Past the limit once inflated.
        let mut reader = Reader::new(Role::Server, 1000, true);
        let frame = client_frame(true, true, OpCode::Text, &c);
        let err = read_all(&mut reader, &[frame]).unwrap_err();
        assert_eq!(err.code(), CloseCode::TOO_BIG);
        // RSV1 on a message that is not deflate data.
        let mut reader = Reader::new(Role::Server, 1000, true);
        let frame = client_frame(true, true, OpCode::Text, b"\xff\xff\xff plain");
        let err = read_all(&mut reader, &[frame]).unwrap_err();
        assert_eq!(err.code(), CloseCode::INVALID_DATA);
    }
}

//! The request body of Rally's own HTTP/1.1 connections, and the decoding
//! of its framing (`Content-Length` or chunked).

use std::{
    io,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::{mpsc, oneshot};

/// The body of a request served by [`serve`](crate::serve).
///
/// The bytes that came with the request head are handed out first; the
/// rest are read from the connection as the service asks for them (one
/// chunk at a time, so a body that nobody reads is not read). With a
/// `Content-Length`, [`Body::size_hint`](http_body::Body::size_hint) is
/// exact, so a service can refuse a body too large before reading any.
///
/// A connection that ends before the whole body arrived gives an error.
#[derive(Debug)]
pub struct RequestBody {
    /// Bytes already read, handed out first.
    ready: Option<Bytes>,
    /// The rest, as the connection reads it; `None` once all is here.
    rest: Option<mpsc::Receiver<io::Result<Bytes>>>,
    /// The bytes announced and not handed out yet, when known.
    left: Option<u64>,
    /// Told when the body is first asked for (the connection then sends
    /// `100 Continue` to a client waiting for it).
    wants: Option<oneshot::Sender<()>>,
}

impl RequestBody {
    /// A body of `ready` (maybe empty) followed by what `rest` brings;
    /// `length` when the request announced it.
    pub(super) fn new(
        ready: Bytes,
        rest: Option<mpsc::Receiver<io::Result<Bytes>>>,
        length: Option<u64>,
    ) -> Self {
        Self {
            ready: (!ready.is_empty()).then_some(ready),
            rest,
            left: length,
            wants: None,
        }
    }

    /// The same body, telling `wants` when it is first asked for.
    pub(super) fn wanted_by(mut self, wants: Option<oneshot::Sender<()>>) -> Self {
        self.wants = wants;
        self
    }

    /// An empty body.
    pub(super) fn empty() -> Self {
        Self::new(Bytes::new(), None, Some(0))
    }

    fn took(&mut self, data: &Bytes) {
        if let Some(left) = &mut self.left {
            *left = left.saturating_sub(data.len() as u64);
        }
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        if let Some(wants) = self.wants.take() {
            let _ = wants.send(());
        }
        if let Some(data) = self.ready.take() {
            self.took(&data);
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        let Some(rest) = &mut self.rest else {
            return Poll::Ready(None);
        };
        match std::task::ready!(rest.poll_recv(cx)) {
            Some(Ok(data)) => {
                self.took(&data);
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Some(Err(e)) => {
                self.rest = None;
                Poll::Ready(Some(Err(e)))
            }
            None => {
                self.rest = None;
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ready.is_none() && self.rest.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.left {
            Some(left) => SizeHint::with_exact(left),
            None => SizeHint::default(),
        }
    }
}

/// A request body whose framing was not right.
#[derive(Debug)]
pub(super) struct Malformed;

/// How the end of a request body is found, and how far reading it went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decoder {
    /// `Content-Length`: this many bytes are left.
    Length(u64),
    /// `Transfer-Encoding: chunked`, in this state.
    Chunked(Chunk),
}

/// Where a chunked body's reading is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chunk {
    /// In a chunk's size: the size so far, and whether a digit came.
    Size(u64, bool),
    /// In a chunk extension (ignored), then the size's line end.
    Extension(u64),
    /// After the size line's `\r`.
    SizeLf(u64),
    /// In a chunk's data: this many bytes are left.
    Data(u64),
    /// After a chunk's data: its `\r`, then its `\n`.
    DataCr,
    DataLf,
    /// In the trailer section: the length of the current line so far.
    Trailer(u64),
    /// After a trailer line's `\r` (an empty line ends the body).
    TrailerLf(u64),
    /// The body ended.
    Done,
}

impl Decoder {
    /// Whether the whole body was read.
    pub(super) fn is_done(&self) -> bool {
        matches!(self, Self::Length(0) | Self::Chunked(Chunk::Done))
    }

    /// Reads body bytes out of `input` into `out`, up to the body's end;
    /// how many bytes of `input` it took.
    pub(super) fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, Malformed> {
        match self {
            Self::Length(left) => {
                let n = input
                    .len()
                    .min(usize::try_from(*left).unwrap_or(usize::MAX));
                out.extend_from_slice(&input[..n]);
                *left -= n as u64;
                Ok(n)
            }
            Self::Chunked(chunk) => {
                let mut at = 0;
                while at < input.len() && *chunk != Chunk::Done {
                    if let Chunk::Data(left) = chunk {
                        let n =
                            (input.len() - at).min(usize::try_from(*left).unwrap_or(usize::MAX));
                        out.extend_from_slice(&input[at..at + n]);
                        at += n;
                        *left -= n as u64;
                        if *left == 0 {
                            *chunk = Chunk::DataCr;
                        }
                        continue;
                    }
                    *chunk = chunk.step(input[at])?;
                    at += 1;
                }
                Ok(at)
            }
        }
    }
}

impl Chunk {
    /// The state after `byte`, outside chunk data.
    fn step(self, byte: u8) -> Result<Self, Malformed> {
        Ok(match (self, byte) {
            (Self::Size(size, _), _) if (byte as char).is_ascii_hexdigit() => {
                if size > u64::MAX >> 4 {
                    return Err(Malformed);
                }
                let digit = (byte as char).to_digit(16).unwrap_or(0);
                Self::Size(size << 4 | u64::from(digit), true)
            }
            (Self::Size(size, true), b';' | b' ' | b'\t') => Self::Extension(size),
            (Self::Size(size, true) | Self::Extension(size), b'\r') => Self::SizeLf(size),
            (Self::Extension(size), _) => Self::Extension(size),
            (Self::SizeLf(0), b'\n') => Self::Trailer(0),
            (Self::SizeLf(size), b'\n') => Self::Data(size),
            (Self::DataCr, b'\r') => Self::DataLf,
            (Self::DataLf, b'\n') => Self::Size(0, false),
            (Self::Trailer(len), b'\r') => Self::TrailerLf(len),
            (Self::Trailer(len), _) => Self::Trailer(len + 1),
            (Self::TrailerLf(0), b'\n') => Self::Done,
            (Self::TrailerLf(_), b'\n') => Self::Trailer(0),
            _ => return Err(Malformed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_split(
        mut decoder: Decoder,
        input: &[u8],
        at: usize,
    ) -> Result<(Vec<u8>, usize), Malformed> {
        let mut out = Vec::new();
        let first = decoder.decode(&input[..at], &mut out)?;
        let mut taken = first;
        if first == at {
            taken += decoder.decode(&input[at..], &mut out)?;
        }
        assert!(decoder.is_done(), "{decoder:?}");
        Ok((out, taken))
    }

    #[test]
    fn chunked_bodies_decode_split_anywhere() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let end = body.len() - 4;
        for at in 0..=end {
            let (out, taken) =
                decode_split(Decoder::Chunked(Chunk::Size(0, false)), body, at).unwrap();
            assert_eq!(out, b"Wikipedia in\r\n\r\nchunks.");
            assert_eq!(taken, end, "split at {at}");
        }
    }

    #[test]
    fn lengths_stop_at_the_end_of_the_body() {
        let (out, taken) = decode_split(Decoder::Length(5), b"hello world", 2).unwrap();
        assert_eq!((out.as_slice(), taken), (&b"hello"[..], 5));
    }

    #[test]
    fn malformed_chunks_are_refused() {
        for bad in [
            &b"\r\n"[..],
            b"x\r\n",
            b"4\r\nWikiX",
            b"4\nWiki",
            b"fffffffffffffffff\r\n",
        ] {
            let mut decoder = Decoder::Chunked(Chunk::Size(0, false));
            assert!(decoder.decode(bad, &mut Vec::new()).is_err(), "{bad:?}");
        }
    }
}

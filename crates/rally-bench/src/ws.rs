//! A minimal WebSocket client over a raw `TcpStream`: pre-built frames, one
//! read buffer parsed in place, batched writes. Just enough for a load
//! generator that must never be the bottleneck.

use std::{
    io,
    net::{IpAddr, SocketAddr},
    ops::Range,
    time::Duration,
};

use rally_proto::ws::deflate;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

/// WebSocket opcode of a text frame.
pub(crate) const TEXT: u8 = 0x1;
/// WebSocket opcode of a close frame.
pub(crate) const CLOSE: u8 = 0x8;
/// WebSocket opcode of a ping frame.
pub(crate) const PING: u8 = 0x9;

/// A masked client text frame (the mask key is zero, so the payload is sent
/// as it is: valid per RFC 6455 and free to build ahead of time).
pub(crate) fn text_frame(payload: &[u8]) -> Vec<u8> {
    frame(TEXT, payload)
}

/// A masked client frame with the given opcode.
pub(crate) fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_with(FIN | opcode, payload)
}

/// A masked client text frame whose payload was compressed (RSV1 set, as
/// permessage-deflate marks a compressed message).
pub(crate) fn compressed_text_frame(payload: &[u8]) -> Vec<u8> {
    frame_with(FIN | RSV1 | TEXT, payload)
}

/// The FIN bit of a frame's first byte.
const FIN: u8 = 0x80;
/// The RSV1 bit of a frame's first byte: a compressed message.
pub(crate) const RSV1: u8 = 0x40;

/// A masked client frame whose first byte is `first`.
fn frame_with(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(first);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= u16::MAX as usize {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(payload);
    out
}

/// Opens a TCP connection from `src` (any local address when `None`).
pub(crate) async fn tcp_connect(addr: SocketAddr, src: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(ip) = src {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Finds `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn other(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

/// One client WebSocket connection.
pub(crate) struct Ws {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The server agreed to permessage-deflate.
    pub(crate) deflate: bool,
}

/// A frame found in the read buffer.
pub(crate) struct Frame {
    /// The first byte: FIN, RSV1-3 and the opcode.
    pub(crate) first: u8,
    /// The payload's range in the buffer (see [`Ws::data`]).
    pub(crate) payload: Range<usize>,
    /// The frame's size on the wire, header included.
    pub(crate) wire_len: usize,
}

impl Ws {
    /// Connects and upgrades to WebSocket at `path`.
    pub(crate) async fn connect(
        addr: SocketAddr,
        src: Option<IpAddr>,
        path: &str,
        buf_size: usize,
    ) -> io::Result<Self> {
        Self::connect_offering(addr, src, path, buf_size, false).await
    }

    /// Connects and upgrades to WebSocket at `path`; with `deflate`, offers
    /// permessage-deflate with no context takeover either way (whether the
    /// server agreed is in [`Ws::deflate`]).
    pub(crate) async fn connect_offering(
        addr: SocketAddr,
        src: Option<IpAddr>,
        path: &str,
        buf_size: usize,
        deflate: bool,
    ) -> io::Result<Self> {
        let mut stream = tcp_connect(addr, src).await?;
        let offer = if deflate {
            format!("Sec-WebSocket-Extensions: {}\r\n", deflate::CLIENT_OFFER)
        } else {
            String::new()
        };
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
        );
        stream.write_all(req.as_bytes()).await?;
        let mut ws = Self {
            stream,
            buf: vec![0; buf_size.max(1024)],
            start: 0,
            end: 0,
            deflate: false,
        };
        loop {
            if let Some(pos) = find(&ws.buf[..ws.end], b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&ws.buf[..pos]).into_owned();
                if !head.starts_with("HTTP/1.1 101") {
                    return Err(other(format!("upgrade refused: {head}")));
                }
                for line in head.lines() {
                    if let Some((name, value)) = line.split_once(':') {
                        if name.trim().eq_ignore_ascii_case("sec-websocket-extensions") {
                            ws.deflate = deflate::check_response(value.trim())
                                .map_err(|e| other(format!("{e}: {value}")))?;
                        }
                    }
                }
                ws.start = pos + 4;
                return Ok(ws);
            }
            ws.fill().await?;
        }
    }

    /// Reads more bytes into the buffer (at least one).
    pub(crate) async fn fill(&mut self) -> io::Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let len = self.buf.len() * 2;
                self.buf.resize(len, 0);
            }
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.end += n;
        Ok(())
    }

    /// The next complete frame already in the buffer: its opcode and the
    /// range of its payload (see [`Ws::data`]).
    pub(crate) fn next_frame(&mut self) -> Option<(u8, Range<usize>)> {
        self.next_frame_full().map(|f| (f.first & 0x0f, f.payload))
    }

    /// The next complete frame already in the buffer, with its first byte
    /// and its size on the wire.
    pub(crate) fn next_frame_full(&mut self) -> Option<Frame> {
        let b = &self.buf[self.start..self.end];
        if b.len() < 2 {
            return None;
        }
        let first = b[0];
        let masked = b[1] & 0x80 != 0;
        let mut len = (b[1] & 0x7f) as usize;
        let mut head = 2;
        if len == 126 {
            if b.len() < 4 {
                return None;
            }
            len = u16::from_be_bytes([b[2], b[3]]) as usize;
            head = 4;
        } else if len == 127 {
            if b.len() < 10 {
                return None;
            }
            let mut n = [0; 8];
            n.copy_from_slice(&b[2..10]);
            len = u64::from_be_bytes(n) as usize;
            head = 10;
        }
        if masked {
            head += 4;
        }
        if b.len() < head + len {
            return None;
        }
        let payload = self.start + head..self.start + head + len;
        self.start += head + len;
        Some(Frame {
            first,
            payload,
            wire_len: head + len,
        })
    }

    /// The bytes of a payload range returned by [`Ws::next_frame`].
    pub(crate) fn data(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// Waits for the next frame.
    pub(crate) async fn next(&mut self) -> io::Result<(u8, Range<usize>)> {
        loop {
            if let Some(f) = self.next_frame() {
                return Ok(f);
            }
            self.fill().await?;
        }
    }

    /// Writes bytes (one or several pre-built frames).
    pub(crate) async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Waits for a text frame whose payload starts with `prefix`, answering
    /// Engine.IO pings on the way.
    pub(crate) async fn expect_text(&mut self, prefix: &[u8]) -> io::Result<Vec<u8>> {
        loop {
            let (op, r) = self.next().await?;
            match op {
                TEXT => {
                    let d = self.data(r);
                    if d.starts_with(prefix) {
                        return Ok(d.to_vec());
                    }
                    if d == b"2" {
                        self.send(&text_frame(b"3")).await?;
                    }
                }
                CLOSE => return Err(other("closed by the server")),
                _ => {}
            }
        }
    }

    /// Closes with a reset (SO_LINGER 0): no TIME_WAIT left on loopback.
    pub(crate) fn reset(self) {
        // A zero linger resets at once: it never blocks the thread on drop.
        #[allow(deprecated)]
        let _ = self.stream.set_linger(Some(Duration::ZERO));
    }
}

/// Connects, upgrades, reads the Engine.IO open packet and connects the
/// Socket.IO namespace `/`. For the bare WebSocket peer (`socketio` false):
/// the upgrade and one echoed message, the same number of round trips.
pub(crate) async fn sio_connect(
    addr: SocketAddr,
    src: Option<IpAddr>,
    socketio: bool,
    buf_size: usize,
) -> io::Result<Ws> {
    sio_connect_offering(addr, src, socketio, buf_size, false).await
}

/// [`sio_connect`], offering permessage-deflate when `deflate` is set: it
/// is then an error if the server does not agree.
pub(crate) async fn sio_connect_offering(
    addr: SocketAddr,
    src: Option<IpAddr>,
    socketio: bool,
    buf_size: usize,
    deflate: bool,
) -> io::Result<Ws> {
    let path = if socketio {
        "/socket.io/?EIO=4&transport=websocket"
    } else {
        "/"
    };
    let mut ws = Ws::connect_offering(addr, src, path, buf_size, deflate).await?;
    if deflate && !ws.deflate {
        return Err(other("the server did not agree to permessage-deflate"));
    }
    if socketio {
        ws.expect_text(b"0").await?;
    }
    ws.send(&text_frame(b"40")).await?;
    ws.expect_text(b"40").await?;
    Ok(ws)
}

/// Parses the decimal number at the start of `b`.
pub(crate) fn parse_num(b: &[u8]) -> Option<u64> {
    let mut n: u64 = 0;
    let mut any = false;
    for &c in b {
        if c.is_ascii_digit() {
            n = n * 10 + u64::from(c - b'0');
            any = true;
        } else {
            break;
        }
    }
    any.then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_masked_with_a_zero_key() {
        assert_eq!(text_frame(b"40"), vec![0x81, 0x82, 0, 0, 0, 0, b'4', b'0']);
        let big = text_frame(&[b'x'; 4096]);
        assert_eq!(&big[..4], &[0x81, 0x80 | 126, 0x10, 0x00]);
        assert_eq!(big.len(), 4 + 4 + 4096);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_num(b"123[\"x\"]"), Some(123));
        assert_eq!(parse_num(b"[1]"), None);
    }
}

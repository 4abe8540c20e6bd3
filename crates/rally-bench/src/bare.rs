//! The ceilings: the leanest WebSocket server this benchmark can set beside
//! the Socket.IO servers, for the same traffic, with no Socket.IO layer.
//!
//! - Its own RFC 6455 framing (client frames masked, server frames not;
//!   text, binary, continuation, ping, pong, close; no extensions).
//! - Reads on readiness into one buffer per thread; a connection keeps bytes
//!   of its own only for a frame that has not fully arrived.
//! - Everything answered to one read goes out in one non-blocking write; only
//!   what the socket does not take is queued, on the connection.
//! - Echo: every data frame comes back as it came (the ceiling of the acked
//!   round trip cells, which accept the echo as the answer).
//! - Broadcast: `42["bcast",ROOM,PAYLOAD]` frames `42["bcast",PAYLOAD]` once
//!   and writes it straight into every member's socket from the task that
//!   read it, a member's queue used only when its socket is full; the
//!   broadcasts to one room read together go to each member in one write,
//!   as the echoes of one read do. `join` (`42N["join",ROOM]`) is answered
//!   `43N[ROOM]`. That is all of Socket.IO the fan-out scenario needs; on a
//!   `/socket.io/` path the connection also opens with an Engine.IO open
//!   packet, as a Socket.IO server's does.

use std::{
    cell::RefCell,
    io,
    sync::{Arc, Mutex, PoisonError},
};

use base64::Engine as _;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt, Interest},
    net::{TcpListener, TcpStream},
    sync::Notify,
};

use crate::serve::Runtime;

/// The per-thread read buffer's size: a read that fills it is followed by
/// another.
const READ_BUF: usize = 64 * 1024;
/// The largest frame accepted (the closing code is 1009 past it).
const MAX_FRAME: usize = 16 * 1024 * 1024;
/// A connection's queue or partial-frame buffer bigger than this is freed
/// when it empties, not kept for the next burst.
const KEEP: usize = 64 * 1024;
/// The Engine.IO open packet sent on a `/socket.io/` path.
const OPEN: &[u8] =
    br#"0{"sid":"bare","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;

thread_local! {
    /// Where every connection served by this thread reads.
    static READ: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BUF]);
    /// Where the answers to one read are framed before their one write.
    static OUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// The broadcasts of one read not written yet (all to one room).
    static BCAST: RefCell<Bcast> = const { RefCell::new(Bcast { room: String::new(), frames: Vec::new() }) };
}

/// Broadcast frames to one room, gathered while a read is answered.
#[derive(Debug)]
struct Bcast {
    room: String,
    frames: Vec<u8>,
}

impl Bcast {
    /// Writes the gathered frames to the room's members.
    fn flush(&mut self, rooms: &Rooms, me: &Arc<Conn>, out: &mut Vec<u8>) {
        if !self.frames.is_empty() {
            rooms.broadcast(&self.room, &self.frames, me, out);
            self.frames.clear();
            if self.frames.capacity() > KEEP {
                self.frames = Vec::new();
            }
        }
    }
}

/// The bare server on `port`, on the given runtime, until killed.
pub(crate) fn bare_peer(port: u16, runtime: Runtime) {
    runtime.build().block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the bare peer");
        println!("listening {port}");
        accept(listener).await;
    });
}

/// Serves every connection `listener` accepts, a task each.
async fn accept(listener: TcpListener) {
    let rooms = Arc::new(Rooms::default());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream, rooms.clone()));
    }
}

/// One connection, shared between its own task and the broadcasters that
/// write into it.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    /// What the socket did not take yet: written before anything newer.
    queue: Mutex<Vec<u8>>,
    /// Woken when a broadcaster left bytes in `queue`.
    queued: Notify,
}

impl Conn {
    /// Writes `bytes` as far as the socket takes them, the rest queued
    /// (behind whatever is queued already). Returns whether this call
    /// started a queue (the connection's task must then be woken to flush).
    fn send(&self, bytes: &[u8]) -> io::Result<bool> {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if !q.is_empty() {
            q.extend_from_slice(bytes);
            return Ok(false);
        }
        let n = match self.stream.try_write(bytes) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        if n < bytes.len() {
            q.extend_from_slice(&bytes[n..]);
            return Ok(true);
        }
        Ok(false)
    }

    /// Writes out the queue, waiting for the socket when it is full.
    async fn flush(&self) -> io::Result<()> {
        loop {
            {
                let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if q.is_empty() {
                    return Ok(());
                }
                match self.stream.try_write(&q) {
                    Ok(n) => {
                        q.drain(..n);
                        if q.is_empty() {
                            if q.capacity() > KEEP {
                                *q = Vec::new();
                            }
                            return Ok(());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            self.stream.writable().await?;
        }
    }

    fn has_queue(&self) -> bool {
        !self
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }
}

/// A room: its name and its members.
type Room = (Box<str>, Vec<Arc<Conn>>);

/// The rooms (a handful at most here).
#[derive(Debug, Default)]
struct Rooms(Mutex<Vec<Room>>);

impl Rooms {
    fn join(&self, name: &str, conn: &Arc<Conn>) {
        let mut rooms = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match rooms.iter_mut().find(|(n, _)| &**n == name) {
            Some((_, members)) => members.push(conn.clone()),
            None => rooms.push((name.into(), vec![conn.clone()])),
        }
    }

    fn leave(&self, name: &str, conn: &Arc<Conn>) {
        let mut rooms = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, members)) = rooms.iter_mut().find(|(n, _)| &**n == name) {
            members.retain(|m| !Arc::ptr_eq(m, conn));
        }
        rooms.retain(|(_, members)| !members.is_empty());
    }

    /// Writes `frame` (one frame or several) into every member of `name`;
    /// for `me`, a member too, into `out`, behind the answers framed before.
    fn broadcast(&self, name: &str, frame: &[u8], me: &Arc<Conn>, out: &mut Vec<u8>) {
        let rooms = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((_, members)) = rooms.iter().find(|(n, _)| &**n == name) else {
            return;
        };
        for m in members {
            if Arc::ptr_eq(m, me) {
                out.extend_from_slice(frame);
            } else if let Ok(true) = m.send(frame) {
                m.queued.notify_one();
            }
        }
    }
}

/// What a connection remembers between reads.
#[derive(Debug, Default)]
struct State {
    /// The bytes of a frame not complete yet (empty, unallocated, otherwise).
    partial: Vec<u8>,
    /// The rooms joined, to leave them at the end.
    joined: Vec<Box<str>>,
}

async fn serve(mut stream: TcpStream, rooms: Arc<Rooms>) {
    let Ok((socketio, leftover)) = upgrade(&mut stream).await else {
        return;
    };
    let conn = Arc::new(Conn {
        stream,
        queue: Mutex::new(Vec::new()),
        queued: Notify::new(),
    });
    let mut st = State {
        partial: leftover,
        joined: Vec::new(),
    };
    if socketio {
        let mut open = Vec::with_capacity(OPEN.len() + 2);
        header(&mut open, 0x81, OPEN.len());
        open.extend_from_slice(OPEN);
        if conn.send(&open).is_err() {
            return;
        }
    }
    let _ = run(&conn, &mut st, &rooms).await;
    for name in &st.joined {
        rooms.leave(name, &conn);
    }
}

async fn run(conn: &Arc<Conn>, st: &mut State, rooms: &Rooms) -> io::Result<()> {
    if !st.partial.is_empty() && !on_bytes(conn, st, rooms, None)? {
        return Ok(());
    }
    loop {
        // A full socket: nothing more is read until it takes the queue.
        if conn.has_queue() {
            conn.flush().await?;
        }
        tokio::select! {
            biased;
            () = conn.queued.notified() => continue,
            r = conn.stream.readable() => r?,
        }
        if !on_readable(conn, st, rooms)? {
            return Ok(());
        }
    }
}

/// Reads what the socket has into the thread's buffer and answers every
/// complete frame, in one write. Returns whether the connection goes on.
fn on_readable(conn: &Arc<Conn>, st: &mut State, rooms: &Rooms) -> io::Result<bool> {
    READ.with_borrow_mut(|buf| {
        loop {
            // A read that does not fill the buffer drained the socket: it
            // also clears the readiness (as tokio's own `poll_read` does),
            // which saves the read that would only find nothing.
            let mut n = 0;
            let read = conn.stream.try_io(Interest::READABLE, || {
                n = conn.stream.try_read(buf)?;
                if n > 0 && n < buf.len() {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Ok(n)
            });
            match read {
                Ok(0) => return Ok(false),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && n > 0 => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) => return Err(e),
            }
            if !on_bytes(conn, st, rooms, Some(&mut buf[..n]))? {
                return Ok(false);
            }
            if n < buf.len() {
                return Ok(true);
            }
        }
    })
}

/// Answers the complete frames of `st.partial` followed by `fresh`, keeping
/// the bytes of an incomplete frame in `st.partial`, and writes the answers.
fn on_bytes(
    conn: &Arc<Conn>,
    st: &mut State,
    rooms: &Rooms,
    fresh: Option<&mut [u8]>,
) -> io::Result<bool> {
    OUT.with_borrow_mut(|out| {
        BCAST.with_borrow_mut(|bcast| {
            let mut cx = Cx {
                conn,
                joined: &mut st.joined,
                rooms,
                out,
                bcast,
            };
            let open = match fresh {
                Some(data) if st.partial.is_empty() => {
                    let (used, open) = frames(data, &mut cx);
                    if open {
                        st.partial.extend_from_slice(&data[used..]);
                    }
                    open
                }
                fresh => {
                    if let Some(data) = fresh {
                        st.partial.extend_from_slice(data);
                    }
                    let mut partial = std::mem::take(&mut st.partial);
                    let (used, open) = frames(&mut partial, &mut cx);
                    partial.drain(..used);
                    // Nothing is kept for a connection between frames.
                    if !partial.is_empty() {
                        st.partial = partial;
                    }
                    open
                }
            };
            cx.bcast.flush(rooms, conn, cx.out);
            let sent = if out.is_empty() {
                Ok(())
            } else {
                conn.send(out).map(|_| ())
            };
            out.clear();
            if out.capacity() > KEEP {
                *out = Vec::new();
            }
            sent.map(|()| open)
        })
    })
}

/// What answering frames needs.
#[derive(Debug)]
struct Cx<'a> {
    conn: &'a Arc<Conn>,
    joined: &'a mut Vec<Box<str>>,
    rooms: &'a Rooms,
    out: &'a mut Vec<u8>,
    bcast: &'a mut Bcast,
}

/// Answers the complete frames at the start of `data` (unmasking them in
/// place) into `cx.out`. Returns how many bytes they took and whether the
/// connection goes on (not after a close or a protocol error, which are
/// answered with a close frame).
fn frames(data: &mut [u8], cx: &mut Cx<'_>) -> (usize, bool) {
    let mut at = 0;
    loop {
        let frame = match parse(&data[at..]) {
            Parse::Incomplete => return (at, true),
            Parse::Error(code) => {
                close(cx.out, &code.to_be_bytes());
                return (at, false);
            }
            Parse::Frame(f) => f,
        };
        let payload = &mut data[at + frame.head..at + frame.head + frame.len];
        unmask(payload, frame.mask);
        at += frame.head + frame.len;
        match frame.b0 & 0x0f {
            0x8 => {
                close(cx.out, &payload[..payload.len().min(2)]);
                return (at, false);
            }
            0x9 => {
                header(cx.out, 0x8a, payload.len());
                cx.out.extend_from_slice(payload);
            }
            0xa => {}
            0x1 if frame.b0 & 0x80 != 0 && socketio(payload, cx) => {}
            _ => {
                header(cx.out, frame.b0, payload.len());
                cx.out.extend_from_slice(payload);
            }
        }
    }
}

/// A frame's header, read.
#[derive(Debug)]
struct Head {
    b0: u8,
    head: usize,
    len: usize,
    mask: [u8; 4],
}

#[derive(Debug)]
enum Parse {
    Frame(Head),
    Incomplete,
    /// The close code to answer with.
    Error(u16),
}

/// Reads the frame at the start of `b`, when all of it is there.
fn parse(b: &[u8]) -> Parse {
    if b.len() < 2 {
        return Parse::Incomplete;
    }
    let (b0, b1) = (b[0], b[1]);
    let opcode = b0 & 0x0f;
    // No extension was negotiated: no RSV bit; clients mask every frame.
    if b0 & 0x70 != 0 || b1 & 0x80 == 0 || matches!(opcode, 0x3..=0x7 | 0xb..=0xf) {
        return Parse::Error(1002);
    }
    let (len, head) = match b1 & 0x7f {
        126 if b.len() >= 4 => (usize::from(u16::from_be_bytes([b[2], b[3]])), 4),
        127 if b.len() >= 10 => {
            let mut n = [0; 8];
            n.copy_from_slice(&b[2..10]);
            (
                usize::try_from(u64::from_be_bytes(n)).unwrap_or(usize::MAX),
                10,
            )
        }
        126 | 127 => return Parse::Incomplete,
        n => (usize::from(n), 2),
    };
    if opcode >= 0x8 && (len > 125 || b0 & 0x80 == 0) {
        return Parse::Error(1002);
    }
    if len > MAX_FRAME {
        return Parse::Error(1009);
    }
    if b.len() < head + 4 + len {
        return Parse::Incomplete;
    }
    let mut mask = [0; 4];
    mask.copy_from_slice(&b[head..head + 4]);
    Parse::Frame(Head {
        b0,
        head: head + 4,
        len,
        mask,
    })
}

fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    if mask == [0; 4] {
        return;
    }
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

/// Appends an unmasked server frame header.
fn header(out: &mut Vec<u8>, b0: u8, len: usize) {
    out.push(b0);
    if len < 126 {
        out.push(len as u8);
    } else if let Ok(n) = u16::try_from(len) {
        out.push(126);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

fn close(out: &mut Vec<u8>, code: &[u8]) {
    header(out, 0x88, code.len());
    out.extend_from_slice(code);
}

/// The fan-out scenario's `join` and `bcast` events. Returns false for any
/// other message (echoed).
fn socketio(p: &[u8], cx: &mut Cx<'_>) -> bool {
    if let Some(rest) = p.strip_prefix(br#"42["bcast",""#) {
        let Some(q) = rest.iter().position(|&c| c == b'"') else {
            return false;
        };
        let (Ok(room), Some(payload)) = (
            std::str::from_utf8(&rest[..q]),
            rest[q + 1..]
                .strip_prefix(b",")
                .and_then(|r| r.strip_suffix(b"]")),
        ) else {
            return false;
        };
        if cx.bcast.room != room {
            cx.bcast.flush(cx.rooms, cx.conn, cx.out);
            room.clone_into(&mut cx.bcast.room);
        }
        let body = [&br#"42["bcast","#[..], payload, b"]"];
        header(
            &mut cx.bcast.frames,
            0x81,
            body.iter().map(|b| b.len()).sum(),
        );
        for b in body {
            cx.bcast.frames.extend_from_slice(b);
        }
        return true;
    }
    let Some(rest) = p.strip_prefix(b"42") else {
        return false;
    };
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    let (id, call) = rest.split_at(digits);
    let Some(room) = call
        .strip_prefix(br#"["join",""#)
        .and_then(|r| r.strip_suffix(br#""]"#))
        .and_then(|r| std::str::from_utf8(r).ok())
    else {
        return false;
    };
    if !cx.joined.iter().any(|j| &**j == room) {
        cx.rooms.join(room, cx.conn);
        cx.joined.push(room.into());
    }
    let out = &mut *cx.out;
    header(out, 0x81, 2 + id.len() + room.len() + 4);
    out.extend_from_slice(b"43");
    out.extend_from_slice(id);
    out.extend_from_slice(b"[\"");
    out.extend_from_slice(room.as_bytes());
    out.extend_from_slice(b"\"]");
    true
}

/// Reads the HTTP upgrade request and answers 101. Returns whether the
/// path is a Socket.IO one and the bytes read past the request.
async fn upgrade(stream: &mut TcpStream) -> io::Result<(bool, Vec<u8>)> {
    let mut req = Vec::with_capacity(1024);
    let end = loop {
        if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if req.len() > 8192 {
            return Err(io::ErrorKind::InvalidData.into());
        }
        if stream.read_buf(&mut req).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    };
    let head = std::str::from_utf8(&req[..end]).map_err(|_| io::ErrorKind::InvalidData)?;
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("/");
    let key = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-key"))
        .map(|(_, v)| v.trim())
        .ok_or(io::ErrorKind::InvalidData)?;
    let reply = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key)
    );
    let socketio = path.starts_with("/socket.io/");
    stream.write_all(reply.as_bytes()).await?;
    Ok((socketio, req[end..].to_vec()))
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455, 4.2.2).
fn accept_key(key: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ws::{CLOSE, TEXT, Ws, text_frame};

    /// A client frame masked with a key that is not zero.
    fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let mut f = vec![b0];
        match payload.len() {
            n if n < 126 => f.push(0x80 | n as u8),
            n if n <= 0xffff => {
                f.push(0x80 | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(0x80 | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(&key);
        let mut p = payload.to_vec();
        unmask(&mut p, key);
        f.extend_from_slice(&p);
        f
    }

    async fn next(ws: &mut Ws) -> (u8, Vec<u8>) {
        let (op, r) = ws.next().await.expect("a frame");
        (op, ws.data(r).to_vec())
    }

    async fn server() -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(accept(listener));
        addr
    }

    #[tokio::test]
    async fn echoes_split_batched_large_and_control_frames() {
        let run = async {
            let addr = server().await;
            let mut ws = Ws::connect(addr, None, "/", 1024).await.expect("upgrade");
            // One byte per write: every boundary of a frame split.
            for b in masked(0x81, b"hello") {
                ws.send(&[b]).await.expect("send");
            }
            assert_eq!(next(&mut ws).await, (TEXT, b"hello".to_vec()));
            // Many frames in one write, each answered in order.
            let batch: Vec<u8> = (0..100)
                .flat_map(|i| masked(0x81, format!("m{i}").as_bytes()))
                .collect();
            ws.send(&batch).await.expect("send");
            for i in 0..100 {
                assert_eq!(next(&mut ws).await, (TEXT, format!("m{i}").into_bytes()));
            }
            // A frame larger than the per-thread read buffer, binary.
            let big: Vec<u8> = (0..3 * READ_BUF).map(|i| i as u8).collect();
            ws.send(&masked(0x82, &big)).await.expect("send");
            assert_eq!(next(&mut ws).await, (0x2, big));
            // A ping is answered with a pong; a close with a close.
            ws.send(&masked(0x89, b"p")).await.expect("send");
            assert_eq!(next(&mut ws).await, (0xa, b"p".to_vec()));
            ws.send(&masked(0x88, &1000u16.to_be_bytes()))
                .await
                .expect("send");
            assert_eq!(next(&mut ws).await, (CLOSE, 1000u16.to_be_bytes().to_vec()));
        };
        tokio::time::timeout(Duration::from_secs(20), run)
            .await
            .expect("within 20 s");
    }

    #[tokio::test]
    async fn joins_and_broadcasts_to_the_room() {
        let run = async {
            let addr = server().await;
            let mut a = Ws::connect(addr, None, "/socket.io/?EIO=4&transport=websocket", 1024)
                .await
                .expect("upgrade");
            let open = a.expect_text(b"0{").await.expect("open packet");
            assert!(open.starts_with(br#"0{"sid":"#));
            let mut b = Ws::connect(addr, None, "/", 1024).await.expect("upgrade");
            for ws in [&mut a, &mut b] {
                ws.send(&text_frame(br#"427["join","r"]"#))
                    .await
                    .expect("send");
                assert_eq!(ws.expect_text(b"43").await.expect("ack"), br#"437["r"]"#);
            }
            let two = [
                text_frame(br#"42["bcast","r",{"n":1}]"#),
                text_frame(br#"42["bcast","r","x"]"#),
            ]
            .concat();
            a.send(&two).await.expect("send");
            for ws in [&mut a, &mut b] {
                assert_eq!(next(ws).await, (TEXT, br#"42["bcast",{"n":1}]"#.to_vec()));
                assert_eq!(next(ws).await, (TEXT, br#"42["bcast","x"]"#.to_vec()));
            }
        };
        tokio::time::timeout(Duration::from_secs(20), run)
            .await
            .expect("within 20 s");
    }

    #[test]
    fn accept_key_of_the_rfc_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn parses_masked_frames_and_waits_for_the_rest() {
        let mut f = vec![0x81, 0x85, 1, 2, 3, 4];
        let mut payload = *b"hello";
        unmask(&mut payload, [1, 2, 3, 4]);
        f.extend_from_slice(&payload);
        for cut in 0..f.len() {
            assert!(matches!(parse(&f[..cut]), Parse::Incomplete), "{cut}");
        }
        let Parse::Frame(h) = parse(&f) else {
            panic!("a frame")
        };
        assert_eq!((h.b0, h.head, h.len), (0x81, 6, 5));
        let p = &mut f[h.head..];
        unmask(p, h.mask);
        assert_eq!(p, b"hello");
    }

    #[test]
    fn refuses_unmasked_frames_and_reserved_bits() {
        assert!(matches!(parse(&[0x81, 0x00]), Parse::Error(1002)));
        assert!(matches!(
            parse(&[0xc1, 0x80, 0, 0, 0, 0]),
            Parse::Error(1002)
        ));
        assert!(matches!(
            parse(&[0x89, 0xfe, 0, 200, 0, 0, 0, 0]),
            Parse::Error(1002)
        ));
    }

    #[test]
    fn server_headers() {
        let mut out = Vec::new();
        header(&mut out, 0x81, 5);
        header(&mut out, 0x82, 300);
        header(&mut out, 0x82, 70_000);
        assert_eq!(
            out,
            [
                &[0x81, 5][..],
                &[0x82, 126, 1, 44],
                &[0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]
            ]
            .concat()
        );
    }
}

//! Rally's own HTTP/1.1 for plain TCP connections.
//!
//! A connection keeps memory only for what is in flight: the bytes of a
//! request head that arrived in part or of a pipelined request read ahead
//! (`pending`), and the bytes of a reply the socket did not take. Reads go
//! into a buffer of the thread, on readiness, and a reply is laid out in
//! another and written with one call; a connection whose poll is held
//! keeps no buffer at all. Heads are parsed with `httparse`; bodies are
//! framed by `Content-Length` or chunked; keep-alive, pipelining and the
//! WebSocket upgrade (the socket itself handed to the WebSocket transport)
//! are served, with hyper's limits and replies: a head must arrive within
//! 30 s and fit 100 headers and about 400 KiB (past them: 431), a malformed
//! one gets 400.

use std::{
    cell::Cell,
    future::{Future, poll_fn},
    io,
    net::SocketAddr,
    pin::{Pin, pin},
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use futures_util::FutureExt;
use http::{Method, Request, Response, StatusCode, Version, header};
use http_body::Body;
use http_body_util::BodyExt;
use tokio::{
    io::AsyncWrite,
    net::TcpStream,
    sync::{mpsc, oneshot, watch},
};
use tower_service::Service;

use super::{
    body::{Decoder, RequestBody},
    head::{Head, head},
    reply::{body_frame, can_have_body, connection_has, date_line, head_bytes, status_line},
};
use crate::{RemoteAddr, engine::BoxError};

/// The most headers a request head may have (hyper's default).
const MAX_HEADERS: usize = 100;
/// The most bytes a request head may take (hyper's default read buffer
/// limit).
const MAX_HEAD: usize = 8192 + 4096 * 100;
/// How long a request head may take to arrive.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How many bytes one read takes at most.
const READ_SIZE: usize = 64 * 1024;
/// A write buffer that grew past this is given back after use.
const KEEP_WRITE: usize = 256 * 1024;

thread_local! {
    /// The buffer of the thread that reads go into.
    static READ_BUF: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    /// The buffer of the thread that a reply is laid out in.
    static WRITE_BUF: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// The socket of an upgraded connection, once its 101 reply went out:
/// in the extensions of a request that asks for an upgrade.
#[derive(Debug, Clone)]
pub(crate) struct Upgrade(Arc<Mutex<Option<oneshot::Receiver<Upgraded>>>>);

/// An upgraded connection: its socket, and the bytes the client sent
/// after its request before the reply came (a WebSocket client may send
/// its first frames at once).
pub(crate) type Upgraded = (TcpStream, Vec<u8>);

impl Upgrade {
    /// The socket, once the 101 reply is out; `None` when the reply was
    /// another or the connection failed.
    pub(crate) async fn socket(self) -> Option<Upgraded> {
        let rx = self.0.lock().unwrap_or_else(|e| e.into_inner()).take()?;
        rx.await.ok()
    }
}

/// What ends the wait for a request head.
#[expect(
    clippy::large_enum_variant,
    reason = "made once per request, in the boxed wait for its head"
)]
enum Next {
    Head(Head),
    /// The client left, the head timed out, or the server stops.
    End,
    /// A head that cannot be served: this status, then close.
    Refuse(StatusCode),
}

/// What the connection does after a reply.
enum After {
    KeepAlive,
    Close,
    /// Hands the socket to the WebSocket transport.
    Upgrade(oneshot::Sender<Upgraded>),
}

/// A request handed to the service, and what its reply depends on.
struct Exchange<F> {
    /// The service's reply.
    reply: F,
    /// The feed of the rest of the body, while some is to come.
    feed: Option<Feed>,
    keep_alive: bool,
    /// Where the socket goes when the reply switches to WebSocket.
    upgrade: Option<oneshot::Sender<Upgraded>>,
    method: Method,
    version: Version,
}

/// One connection's socket and the bytes read ahead of its next request.
struct Conn {
    stream: TcpStream,
    pending: Vec<u8>,
}

/// Serves one plain TCP connection until it ends or, once `stopping`
/// changes, until its current request is answered.
///
/// An `async` block rather than an `async fn`, as hyper's connection
/// beside it: the arguments are not kept apart from the locals.
#[expect(
    clippy::manual_async_fn,
    reason = "the async block's future is smaller (see above)"
)]
pub(super) fn connection<S, B>(
    stream: TcpStream,
    addr: SocketAddr,
    mut service: S,
    mut stopping: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static
where
    S: Service<Request<RequestBody>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    async move {
        let mut conn = Conn {
            stream,
            pending: Vec::new(),
        };
        loop {
            // Boxed, as the writing of a reply below: an idle connection's
            // task holds only the state of the wait it is in.
            let head = match Box::pin(conn.read_head(&mut stopping)).await {
                Next::Head(head) => head,
                Next::End => return,
                Next::Refuse(status) => {
                    let _ = Box::pin(conn.refuse(status)).await;
                    return;
                }
            };
            if poll_fn(|cx| service.poll_ready(cx)).await.is_err() {
                return;
            }
            let Some(exchange) = conn.begin(&mut service, head, addr) else {
                let _ = Box::pin(conn.refuse(StatusCode::BAD_REQUEST)).await;
                return;
            };
            match conn.exchange(exchange, &stopping).await {
                After::KeepAlive => {}
                After::Close => {
                    let _ = conn.shutdown().await;
                    return;
                }
                After::Upgrade(to) => {
                    let _ = to.send((conn.stream, conn.pending));
                    return;
                }
            }
        }
    }
}

impl Conn {
    /// Waits for the next request head: from the bytes read ahead, or from
    /// the socket within [`HEADER_READ_TIMEOUT`].
    async fn read_head(&mut self, stopping: &mut watch::Receiver<bool>) -> Next {
        if !self.pending.is_empty() {
            if let Some(next) = self.take_head() {
                return next;
            }
        } else if *stopping.borrow() {
            return Next::End;
        }
        let mut timeout = pin!(tokio::time::sleep(HEADER_READ_TIMEOUT));
        loop {
            tokio::select! {
                biased;
                ready = self.stream.readable() => if ready.is_err() {
                    return Next::End;
                },
                () = &mut timeout => {
                    tracing::debug!("request head timed out");
                    return Next::End;
                }
                _ = stopping.changed(), if self.pending.is_empty() => return Next::End,
            }
            match self.read_some() {
                Ok(0) => return Next::End,
                Ok(_) => {
                    if let Some(next) = self.take_head() {
                        return next;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Next::End,
            }
        }
    }

    /// Reads what the socket has onto `pending` (through the thread's
    /// buffer: only what is read is kept). The count, 0 at the end.
    fn read_some(&mut self) -> io::Result<usize> {
        let mut buf = READ_BUF.take();
        if buf.len() < READ_SIZE {
            buf.resize(READ_SIZE, 0);
        }
        let result = self.stream.try_read(&mut buf);
        if let Ok(n) = result {
            self.pending.extend_from_slice(&buf[..n]);
        }
        READ_BUF.set(buf);
        result
    }

    /// The head at the start of `pending`, when it is whole (taken out).
    fn take_head(&mut self) -> Option<Next> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let next = match req.parse(&self.pending) {
            Ok(httparse::Status::Complete(len)) => {
                let next = match head(&req, &self.pending[..len]) {
                    Ok(head) => Next::Head(head),
                    Err(status) => Next::Refuse(status),
                };
                self.pending.drain(..len);
                next
            }
            Ok(httparse::Status::Partial) if self.pending.len() > MAX_HEAD => {
                Next::Refuse(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
            }
            Ok(httparse::Status::Partial) => return None,
            Err(httparse::Error::TooManyHeaders) => {
                Next::Refuse(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
            }
            Err(_) => Next::Refuse(StatusCode::BAD_REQUEST),
        };
        self.release();
        Some(next)
    }

    /// Gives `pending`'s memory back once it is empty.
    fn release(&mut self) {
        if self.pending.is_empty() && self.pending.capacity() > 0 {
            self.pending = Vec::new();
        }
    }

    /// Answers a head that cannot be served, as hyper does.
    async fn refuse(&mut self, status: StatusCode) -> io::Result<()> {
        tracing::debug!(%status, "request head refused");
        self.write(|out| {
            status_line(out, Version::HTTP_11, status);
            out.extend_from_slice(b"connection: close\r\ncontent-length: 0\r\n");
            date_line(out);
            out.extend_from_slice(b"\r\n");
        })
        .await?;
        self.shutdown().await
    }

    /// Hands a request to the service: the call made, the body's feed
    /// ready. `None` when the body's framing is malformed.
    fn begin<S>(
        &mut self,
        service: &mut S,
        head: Head,
        addr: SocketAddr,
    ) -> Option<Exchange<S::Future>>
    where
        S: Service<Request<RequestBody>>,
    {
        let Head {
            mut parts,
            decoder,
            keep_alive,
            expect_continue,
            wants_upgrade,
        } = head;
        parts.extensions.insert(RemoteAddr(addr));
        let upgrade = wants_upgrade.then(|| {
            let (to, from) = oneshot::channel();
            let from = Upgrade(Arc::new(Mutex::new(Some(from))));
            parts.extensions.insert(from);
            to
        });
        let (method, version) = (parts.method.clone(), parts.version);
        let expect_continue = expect_continue && version == Version::HTTP_11;
        let (body, feed) = self.body(decoder, expect_continue).ok()?;
        Some(Exchange {
            reply: service.call(Request::from_parts(parts, body)),
            feed,
            keep_alive,
            upgrade,
            method,
            version,
        })
    }

    /// Serves one request begun: its body fed to the service as it asks,
    /// its reply written. What the connection does next.
    async fn exchange<F, B, E>(
        &mut self,
        exchange: Exchange<F>,
        stopping: &watch::Receiver<bool>,
    ) -> After
    where
        F: Future<Output = Result<Response<B>, E>>,
        E: Into<BoxError>,
        B: Body,
        B::Error: Into<BoxError>,
    {
        let Exchange {
            reply,
            mut feed,
            mut keep_alive,
            upgrade,
            method,
            version,
        } = exchange;
        let mut reply = pin!(reply);
        let mut watch = true;
        let response = loop {
            tokio::select! {
                biased;
                response = reply.as_mut() => break response.map_err(Into::<BoxError>::into),
                side = beside(self, feed.as_mut(), watch) => match side {
                    Fed::More => {}
                    Fed::Done => feed = None,
                    Fed::Abandoned | Fed::Failed => {
                        feed = None;
                        keep_alive = false;
                        watch = false;
                    }
                    Fed::Gone => return After::Close,
                    Fed::Ahead => watch = false,
                },
            }
        };
        let response = match response {
            Ok(response) => response,
            Err(e) => {
                tracing::debug!(error = %e, "the service failed");
                return After::Close;
            }
        };
        // A body left unread leaves the connection where nothing can
        // follow; so does a server that stops.
        if feed.is_some() || *stopping.borrow() || version != Version::HTTP_11 {
            keep_alive = false;
        }
        let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS && upgrade.is_some();
        let respond = self.respond(response, &method, version, &mut keep_alive, switching);
        if !Box::pin(respond).await {
            return After::Close;
        }
        match upgrade {
            Some(to) if switching => After::Upgrade(to),
            _ if keep_alive => After::KeepAlive,
            _ => After::Close,
        }
    }

    /// The request's body: the bytes of it read ahead, and the feed of the
    /// rest when more is to come. A client that `expect`s `100 Continue`
    /// gets it once the service first asks for the body, as hyper does (a
    /// body refused at once is never sent).
    fn body(
        &mut self,
        mut decoder: Decoder,
        expect_continue: bool,
    ) -> Result<(RequestBody, Option<Feed>), super::body::Malformed> {
        if decoder == Decoder::Length(0) {
            return Ok((RequestBody::empty(), None));
        }
        let length = match decoder {
            Decoder::Length(length) => Some(length),
            Decoder::Chunked(_) => None,
        };
        let mut ready = Vec::new();
        let taken = decoder.decode(&self.pending, &mut ready)?;
        self.pending.drain(..taken);
        self.release();
        let ready = Bytes::from(ready);
        if decoder.is_done() {
            return Ok((RequestBody::new(ready, None, length), None));
        }
        let (tx, rx) = mpsc::channel(1);
        let (wants, wanted) = match expect_continue {
            true => {
                let (wants, wanted) = oneshot::channel();
                (Some(wants), Some(wanted))
            }
            false => (None, None),
        };
        Ok((
            RequestBody::new(ready, Some(rx), length).wanted_by(wants),
            Some(Feed {
                tx,
                decoder,
                wanted,
            }),
        ))
    }

    /// Writes `response` (no body to a HEAD request, nor with a status
    /// that has none). False when the connection failed.
    async fn respond<B>(
        &mut self,
        response: Response<B>,
        method: &Method,
        version: Version,
        keep_alive: &mut bool,
        switching: bool,
    ) -> bool
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = response.into_parts();
        let status = parts.status;
        let headers = parts.headers;
        if connection_has(&headers, "close") {
            *keep_alive = false;
        }
        let has_body = can_have_body(method, status);
        let hint = body.size_hint().exact();
        let chunked = has_body
            && hint.is_none()
            && version == Version::HTTP_11
            && !headers.contains_key(header::CONTENT_LENGTH)
            && !headers.contains_key(header::TRANSFER_ENCODING);
        if has_body && hint.is_none() && !chunked && !headers.contains_key(header::CONTENT_LENGTH) {
            // Delimited by the connection's end.
            *keep_alive = false;
        }
        let close = !*keep_alive && version == Version::HTTP_11 && !switching;
        let mut body = pin!(body);
        let mut ended = !has_body || body.is_end_stream();
        let mut failed = false;
        let written = self
            .write(|out| {
                head_bytes(out, version, status, &headers, method, hint, chunked, close);
                // What the body has at once goes out in the same write.
                while !ended {
                    match body.as_mut().frame().now_or_never() {
                        None => break,
                        Some(frame) => {
                            let frame = frame.map(|f| f.map_err(Into::into));
                            ended = body_frame(out, frame, chunked, &mut failed);
                        }
                    }
                }
            })
            .await;
        if written.is_err() || failed {
            return false;
        }
        while !ended {
            let frame = (body.as_mut().frame().await).map(|f| f.map_err(Into::into));
            let written = self
                .write(|out| ended = body_frame(out, frame, chunked, &mut failed))
                .await;
            if written.is_err() || failed {
                return false;
            }
        }
        true
    }

    /// Lays bytes out in the thread's buffer with `fill` and writes them;
    /// what the socket does not take at once is kept and written as it
    /// becomes writable.
    async fn write(&mut self, fill: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        let mut buf = WRITE_BUF.take();
        buf.clear();
        fill(&mut buf);
        let mut at = 0;
        let mut result = Ok(());
        while at < buf.len() {
            match self.stream.try_write(&buf[at..]) {
                Ok(0) => {
                    result = Err(io::ErrorKind::WriteZero.into());
                    break;
                }
                Ok(n) => at += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let unsent = (result.is_ok() && at < buf.len()).then(|| buf[at..].to_vec());
        if buf.capacity() > KEEP_WRITE {
            buf = Vec::new();
        }
        WRITE_BUF.set(buf);
        result?;
        match unsent {
            Some(unsent) => self.write_later(&unsent).await,
            None => Ok(()),
        }
    }

    /// Writes `bytes` as the socket becomes writable.
    async fn write_later(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            self.stream.writable().await?;
            match self.stream.try_write(bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Ends the connection's writing side.
    async fn shutdown(&mut self) -> io::Result<()> {
        poll_fn(|cx| Pin::new(&mut self.stream).poll_shutdown(cx)).await
    }
}

/// The feed of a request body from the connection to the service.
struct Feed {
    tx: mpsc::Sender<io::Result<Bytes>>,
    decoder: Decoder,
    /// Told when the service first asks for the body, when the client
    /// waits for `100 Continue`.
    wanted: Option<oneshot::Receiver<()>>,
}

/// What the reading beside a request being served did.
enum Fed {
    /// Bytes went to the service; more are to come.
    More,
    /// The whole body went.
    Done,
    /// The service dropped the body.
    Abandoned,
    /// The connection failed, or the body was malformed: the service was
    /// told.
    Failed,
    /// The client left (or the socket failed) before the reply.
    Gone,
    /// The client sent the start of its next request: kept.
    Ahead,
}

/// The reading beside a request being served: the body, as the service
/// asks for it; once it is all read, a look for the client leaving (a held
/// poll whose client is gone is dropped, as hyper does), which stops at
/// the first bytes of a pipelined request.
async fn beside(conn: &mut Conn, feed: Option<&mut Feed>, watch: bool) -> Fed {
    match feed {
        // Boxed: a held poll's wait, the state every idle connection is
        // in, then holds no room for a body's.
        Some(feed) => Box::pin(feed_body(conn, feed)).await,
        None if watch && conn.pending.is_empty() => {
            if watch_eof(conn).await {
                Fed::Gone
            } else {
                Fed::Ahead
            }
        }
        None => std::future::pending().await,
    }
}

/// Once the service wants more of the body, reads some and hands it over.
async fn feed_body(conn: &mut Conn, feed: &mut Feed) -> Fed {
    // Boxed: rare, and no room in every connection's task.
    if feed.wanted.is_some() {
        if let Some(fed) = Box::pin(send_continue(conn, feed)).await {
            return fed;
        }
    }
    let Ok(permit) = feed.tx.reserve().await else {
        return Fed::Abandoned;
    };
    loop {
        if conn.stream.readable().await.is_err() {
            permit.send(Err(io::ErrorKind::UnexpectedEof.into()));
            return Fed::Failed;
        }
        match conn.read_some() {
            Ok(0) => {
                permit.send(Err(io::ErrorKind::UnexpectedEof.into()));
                return Fed::Failed;
            }
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => {
                permit.send(Err(e));
                return Fed::Failed;
            }
        }
    }
    let mut data = Vec::new();
    match feed.decoder.decode(&conn.pending, &mut data) {
        Ok(taken) => {
            conn.pending.drain(..taken);
            conn.release();
        }
        Err(_) => {
            permit.send(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "malformed chunked body",
            )));
            return Fed::Failed;
        }
    }
    if !data.is_empty() {
        permit.send(Ok(Bytes::from(data)));
    }
    if feed.decoder.is_done() {
        Fed::Done
    } else {
        Fed::More
    }
}

/// Waits until the service first asks for the body, then sends `100
/// Continue`; what feeding did when it cannot go on.
async fn send_continue(conn: &mut Conn, feed: &mut Feed) -> Option<Fed> {
    let wanted = feed.wanted.take()?;
    if wanted.await.is_err() {
        return Some(Fed::Abandoned);
    }
    let continued = conn.write(|out| out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n"));
    if let Err(e) = continued.await {
        if let Ok(permit) = feed.tx.reserve().await {
            permit.send(Err(e));
        }
        return Some(Fed::Failed);
    }
    None
}

/// Waits until the client sends something or leaves while its request is
/// served. True when it left (or the socket failed); what it sent is kept
/// as the start of the next request.
async fn watch_eof(conn: &mut Conn) -> bool {
    loop {
        if conn.stream.readable().await.is_err() {
            return true;
        }
        match conn.read_some() {
            Ok(0) => return true,
            Ok(_) => return false,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return true,
        }
    }
}

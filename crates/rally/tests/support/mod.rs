//! Helpers shared by the Socket.IO integration tests: a `rally::Server`
//! served on a free port, a raw WebSocket client speaking Engine.IO and
//! Socket.IO frames by hand, a raw HTTP/1.1 client for long-polling, and
//! channels that handlers report into.
//!
//! Every wait is bounded by [`DEADLINE`]. Nothing here sleeps to decide an
//! outcome: "nothing else was sent" is checked with [`Client::sync`], a
//! CONNECT to an unknown namespace that the server answers in order with
//! `44/__sync,{"message":"Invalid namespace"}` (a packet-level barrier).

#![allow(dead_code, unreachable_pub)]

use std::{future::Future, net::SocketAddr, time::Duration};

use futures_util::{SinkExt, StreamExt};
use http::{HeaderName, HeaderValue};
use rally::{Server, ServerBuilder, Sid, Socket};
use std::sync::Arc;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::mpsc,
    task::JoinHandle,
};
use tokio_websockets::{ClientBuilder, MaybeTlsStream, Message as WsMessage, WebSocketStream};

/// How long any single expected step may take.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The namespace the barrier connects to; no test may accept it.
pub const SYNC_NSP: &str = "/__sync";

/// Awaits `fut`, failing the test if it takes longer than [`DEADLINE`].
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {DEADLINE:?} waiting for {what}"),
    }
}

/// Lets the server take what was just written when the test has no way to
/// observe it (such as a poll that must be pending). Never an assertion.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Options whose heartbeat and connect timeout stay out of a test's way.
pub fn quiet() -> ServerBuilder {
    Server::builder()
        .ping_interval(Duration::from_secs(20))
        .ping_timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(20))
}

// ---------------------------------------------------------------------------
// Channels handlers report into

/// The sending half handlers get (cheap to clone into closures).
pub type Tx<T> = mpsc::UnboundedSender<T>;

/// The receiving half the test reads, with deadlines.
pub struct Rx<T>(mpsc::UnboundedReceiver<T>);

/// A channel for handler reports.
pub fn channel<T>() -> (Tx<T>, Rx<T>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, Rx(rx))
}

impl<T: std::fmt::Debug> Rx<T> {
    /// The next report.
    pub async fn recv(&mut self) -> T {
        within("a handler report", self.0.recv())
            .await
            .expect("every sender was dropped")
    }

    /// The next `n` reports.
    pub async fn take(&mut self, n: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.recv().await);
        }
        out
    }

    /// Fails if a report is waiting.
    pub fn assert_empty(&mut self) {
        if let Ok(report) = self.0.try_recv() {
            panic!("unexpected handler report {report:?}");
        }
    }

    /// A report if one is waiting now.
    pub fn try_recv(&mut self) -> Option<T> {
        self.0.try_recv().ok()
    }
}

// ---------------------------------------------------------------------------
// The server

/// A `rally::Server` served on 127.0.0.1 on a port of its own.
pub struct TestServer {
    pub addr: SocketAddr,
    pub io: Server,
    task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// Serves `io` (handlers registered already or later, either way).
    pub async fn start(io: Server) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("listener address");
        let task = tokio::spawn(rally::serve(listener, io.clone()));
        Self { addr, io, task }
    }

    /// A new WebSocket connection, its Engine.IO open packet read.
    pub async fn client(&self) -> Client {
        Client::open(self.addr, "", &[]).await
    }

    /// A new WebSocket connection with extra query parameters (`a=1&b=2`)
    /// and request headers.
    pub async fn client_with(&self, query: &str, headers: &[(&str, &str)]) -> Client {
        Client::open(self.addr, query, headers).await
    }

    /// A WebSocket connection joined to `nsp`; returns it with its socket
    /// id once the server has run the namespace's connection handlers that
    /// finish without waiting (the barrier comes after them).
    pub async fn joined(&self, nsp: &str) -> (Client, Sid) {
        let mut client = self.client().await;
        let sid = client.connect(nsp).await;
        client.sync().await;
        (client, sid)
    }

    pub fn http(&self) -> Http {
        Http { addr: self.addr }
    }

    /// The server-side socket `id` of namespace `nsp`. The CONNECT reply
    /// goes out just before the namespace registers the socket, so this
    /// waits (bounded) for it to appear.
    pub fn socket(&self, nsp: &str, id: Sid) -> Arc<Socket> {
        let ns = self.io.of(nsp);
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            if let Some(socket) = ns.get_socket(id) {
                return socket;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no socket {id} in {nsp}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits until the server has no Engine.IO connection left.
    pub async fn wait_no_connections(&self) {
        within("every connection to close", async {
            while self.io.connection_count() > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------
// A raw WebSocket client

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the server sent, as the test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
    /// A close frame: its code (1005 when the payload is empty) and reason.
    Close(u16, String),
    /// The connection ended without a close frame.
    End,
}

/// A client speaking Engine.IO/Socket.IO frames by hand over WebSocket.
pub struct Client {
    pub ws: Ws,
    /// The Engine.IO session id (from the open packet).
    pub engine_sid: String,
    /// The open packet as sent.
    pub open: String,
}

impl Client {
    pub async fn open(addr: SocketAddr, query: &str, headers: &[(&str, &str)]) -> Self {
        let mut uri = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        if !query.is_empty() {
            uri.push('&');
            uri.push_str(query);
        }
        let mut builder = ClientBuilder::new().uri(&uri).expect("a valid ws URI");
        for (name, value) in headers {
            builder = builder
                .add_header(
                    HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                    HeaderValue::from_str(value).expect("a header value"),
                )
                .expect("add a header");
        }
        let (ws, _) = within("a WebSocket handshake", builder.connect())
            .await
            .unwrap_or_else(|e| panic!("WebSocket handshake to {uri} failed: {e}"));
        let mut client = Self {
            ws,
            engine_sid: String::new(),
            open: String::new(),
        };
        let open = client.text().await;
        assert!(open.starts_with("0{"), "open packet {open:?}");
        client.engine_sid = field(&open, "sid");
        client.open = open;
        client
    }

    pub async fn send(&mut self, text: &str) {
        within(
            "a WebSocket send",
            self.ws.send(WsMessage::text(text.to_owned())),
        )
        .await
        .expect("send a text frame");
    }

    pub async fn send_binary(&mut self, bytes: &[u8]) {
        within(
            "a WebSocket send",
            self.ws.send(WsMessage::binary(bytes.to_vec())),
        )
        .await
        .expect("send a binary frame");
    }

    /// Sends a text frame, tolerating a connection the server already closed.
    pub async fn try_send(&mut self, text: &str) -> bool {
        within(
            "a WebSocket send",
            self.ws.send(WsMessage::text(text.to_owned())),
        )
        .await
        .is_ok()
    }

    /// The next frame from the server.
    pub async fn recv(&mut self) -> Frame {
        match within("a WebSocket frame", self.ws.next()).await {
            Some(Ok(message)) => {
                if let Some((code, reason)) = message.as_close() {
                    Frame::Close(u16::from(code), reason.to_owned())
                } else if message.is_binary() {
                    Frame::Binary(message.as_payload().to_vec())
                } else if let Some(text) = message.as_text() {
                    Frame::Text(text.to_owned())
                } else {
                    Frame::End
                }
            }
            Some(Err(_)) | None => Frame::End,
        }
    }

    /// The next frame, which must be text.
    pub async fn text(&mut self) -> String {
        match self.recv().await {
            Frame::Text(text) => text,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// The next frame must be the text `expected`.
    pub async fn expect(&mut self, expected: &str) {
        match self.recv().await {
            Frame::Text(text) => assert_eq!(text, expected, "text frame"),
            other => panic!("expected text frame {expected:?}, got {other:?}"),
        }
    }

    /// The next frame must be binary with `expected` bytes.
    pub async fn expect_binary(&mut self, expected: &[u8]) {
        match self.recv().await {
            Frame::Binary(bytes) => assert_eq!(bytes, expected, "binary frame"),
            other => panic!("expected binary frame {expected:?}, got {other:?}"),
        }
    }

    /// The server closes the connection the reference's way: an empty close
    /// frame (the client sees 1005) and nothing before it.
    pub async fn expect_closed(&mut self) {
        match self.recv().await {
            Frame::Close(code, reason) => {
                assert_eq!(code, 1005, "close code (empty close payload expected)");
                assert_eq!(reason, "", "close reason");
            }
            other => panic!("expected an empty close frame, got {other:?}"),
        }
    }

    /// Like [`expect_closed`](Self::expect_closed), skipping Engine.IO pings.
    pub async fn expect_closed_after_pings(&mut self) {
        loop {
            match self.recv().await {
                Frame::Text(t) if t == "2" => {}
                Frame::Close(code, _) => {
                    assert_eq!(code, 1005, "close code (empty close payload expected)");
                    return;
                }
                other => panic!("expected an empty close frame, got {other:?}"),
            }
        }
    }

    /// Joins `nsp` (`/` or `/name`) without auth; returns the socket id
    /// after checking the reply is exactly `40[nsp,]{"sid":"<20 chars>"}`.
    pub async fn connect(&mut self, nsp: &str) -> Sid {
        self.send(&connect_packet(nsp, None)).await;
        self.expect_connected(nsp).await
    }

    /// Joins `nsp` with the auth payload `auth` (JSON text).
    pub async fn connect_auth(&mut self, nsp: &str, auth: &str) -> Sid {
        self.send(&connect_packet(nsp, Some(auth))).await;
        self.expect_connected(nsp).await
    }

    /// Reads the CONNECT reply for `nsp`; returns the socket id.
    pub async fn expect_connected(&mut self, nsp: &str) -> Sid {
        let reply = self.text().await;
        let prefix = format!("40{}{{\"sid\":\"", nsp_prefix(nsp));
        assert!(
            reply.starts_with(&prefix) && reply.ends_with("\"}"),
            "CONNECT reply {reply:?}, expected {prefix}…\"}}"
        );
        let id = &reply[prefix.len()..reply.len() - 2];
        assert!(
            is_reference_sid(id),
            "socket id {id:?} is not 20 base64url chars"
        );
        Sid::parse(id).unwrap_or_else(|| panic!("{id:?} is not a Sid"))
    }

    /// A packet-level barrier: everything the server sent before it answers
    /// the barrier CONNECT has arrived, and it must have been nothing.
    pub async fn sync(&mut self) {
        let before = self.until_sync().await;
        assert!(
            before.is_empty(),
            "unexpected frames before the barrier: {before:?}"
        );
    }

    /// Every frame the server sends before it answers the barrier CONNECT.
    pub async fn until_sync(&mut self) -> Vec<Frame> {
        self.send(&format!("40{SYNC_NSP},")).await;
        let reply = format!(r#"44{SYNC_NSP},{{"message":"Invalid namespace"}}"#);
        let mut before = Vec::new();
        loop {
            match self.recv().await {
                Frame::Text(t) if t == reply => return before,
                frame @ (Frame::Close(..) | Frame::End) => {
                    panic!("the connection ended before the barrier: {before:?} then {frame:?}")
                }
                frame => before.push(frame),
            }
        }
    }

    /// Closes the WebSocket from the client side (close frame 1000).
    pub async fn close(mut self) {
        let _ = within("a client close", self.ws.close()).await;
        // Read until the server's answer so the close completes.
        let _ = tokio::time::timeout(DEADLINE, async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }
}

/// `40` for `/`, `40/nsp,` otherwise, with the auth payload appended.
pub fn connect_packet(nsp: &str, auth: Option<&str>) -> String {
    format!("40{}{}", nsp_prefix(nsp), auth.unwrap_or_default())
}

/// The namespace part of a packet header: empty for `/`, `nsp,` otherwise.
pub fn nsp_prefix(nsp: &str) -> String {
    if nsp == "/" {
        String::new()
    } else {
        format!("{nsp},")
    }
}

/// The string value of `"name":"…"` in a JSON text (no escapes expected).
pub fn field(json: &str, name: &str) -> String {
    let key = format!("\"{name}\":\"");
    let start = json
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {json:?}"))
        + key.len();
    let len = json[start..]
        .find('"')
        .unwrap_or_else(|| panic!("unterminated {name} in {json:?}"));
    json[start..start + len].to_owned()
}

/// Whether `sid` has the reference's shape: 20 characters of base64url.
pub fn is_reference_sid(sid: &str) -> bool {
    sid.len() == 20
        && sid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

// ---------------------------------------------------------------------------
// A raw HTTP/1.1 client, for long-polling

/// The polling handshake target under the default path.
pub const POLLING_HANDSHAKE: &str = "/socket.io/?EIO=4&transport=polling";

#[derive(Debug, Clone, Copy)]
pub struct Http {
    pub addr: SocketAddr,
}

impl Http {
    /// One request on a connection of its own.
    pub async fn request(self, method: &str, target: &str, body: &[u8]) -> RawResponse {
        let stream = within("a TCP connection", TcpStream::connect(self.addr))
            .await
            .expect("connect to the test server");
        let mut stream = BufReader::new(stream);
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        if method == "POST" {
            head.push_str("Content-Type: text/plain;charset=UTF-8\r\n");
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        within("a write", async {
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body).await
        })
        .await
        .expect("write a request");
        within("an HTTP reply", read_response(&mut stream))
            .await
            .expect("the server closed the connection without a reply")
    }

    pub async fn get(self, target: &str) -> RawResponse {
        self.request("GET", target, b"").await
    }

    pub async fn post(self, target: &str, body: &[u8]) -> RawResponse {
        self.request("POST", target, body).await
    }

    /// Opens a polling session.
    pub async fn open_polling(self) -> Polling {
        let reply = self.get(POLLING_HANDSHAKE).await;
        assert_eq!(reply.status, 200, "polling handshake {reply:?}");
        let text = reply.text();
        assert!(text.starts_with("0{"), "open packet {text:?}");
        Polling {
            http: self,
            sid: field(text, "sid"),
        }
    }
}

/// A polling session.
pub struct Polling {
    pub http: Http,
    pub sid: String,
}

impl Polling {
    pub fn target(&self) -> String {
        format!("/socket.io/?EIO=4&transport=polling&sid={}", self.sid)
    }

    pub async fn get(&self) -> RawResponse {
        self.http.get(&self.target()).await
    }

    pub async fn post(&self, body: &[u8]) -> RawResponse {
        self.http.post(&self.target(), body).await
    }

    /// POSTs `body`, asserting the reference's `200 ok`.
    pub async fn post_ok(&self, body: &[u8]) {
        let reply = self.post(body).await;
        assert_eq!(reply.status, 200, "POST {:?}: {reply:?}", lossy(body));
        assert_eq!(reply.body, b"ok", "POST reply body");
    }

    /// A GET left pending in the background.
    pub async fn pending_get(&self) -> JoinHandle<RawResponse> {
        let (http, target) = (self.http, self.target());
        let handle = tokio::spawn(async move { http.get(&target).await });
        settle().await;
        assert!(!handle.is_finished(), "the poll did not wait");
        handle
    }

    /// GETs until `n` records other than noops and pings came back.
    pub async fn records(&self, n: usize) -> Vec<String> {
        let mut records = Vec::new();
        while records.len() < n {
            let reply = self.get().await;
            assert_eq!(reply.status, 200, "poll {reply:?}");
            records.extend(reply.records().into_iter().filter(|r| r != "6" && r != "2"));
        }
        records
    }
}

/// Waits for a background request.
pub async fn finish(handle: JoinHandle<RawResponse>) -> RawResponse {
    within("a pending request to complete", handle)
        .await
        .expect("the request task panicked")
}

pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An HTTP reply as it came over the wire.
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &lossy(&self.body))
            .finish()
    }
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }

    /// The records of a polling body.
    pub fn records(&self) -> Vec<String> {
        self.text().split('\x1e').map(str::to_owned).collect()
    }
}

async fn read_line(stream: &mut BufReader<TcpStream>) -> Option<String> {
    let mut line = Vec::new();
    match stream.read_until(b'\n', &mut line).await {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                line.pop();
            }
            Some(String::from_utf8(line).expect("an ASCII header line"))
        }
    }
}

async fn read_response(stream: &mut BufReader<TcpStream>) -> Option<RawResponse> {
    let status_line = read_line(stream).await?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let line = read_line(stream).await?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("bad header line {line:?}"));
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut response = RawResponse {
        status,
        headers,
        body: Vec::new(),
    };
    if let Some(length) = response.header("content-length") {
        let length: usize = length.parse().expect("a numeric Content-Length");
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await.ok()?;
        response.body = body;
    } else if response
        .header("transfer-encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let size_line = read_line(stream).await?;
            let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size {size_line:?}"));
            if size == 0 {
                while !read_line(stream).await?.is_empty() {}
                break;
            }
            let mut chunk = vec![0; size + 2];
            stream.read_exact(&mut chunk).await.ok()?;
            chunk.truncate(size);
            response.body.extend_from_slice(&chunk);
        }
    } else if !matches!(status, 101 | 204 | 304) {
        stream.read_to_end(&mut response.body).await.ok()?;
    }
    Some(response)
}

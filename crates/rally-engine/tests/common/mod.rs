//! Helpers shared by the integration tests: an in-process server whose
//! handler echoes and records what happens, a raw HTTP/1.1 client that shows
//! the exact bytes of each reply, and a WebSocket client.
//!
//! Every wait is bounded by [`DEADLINE`]; nothing here sleeps to decide an
//! outcome. The one pause, [`settle`], only gives the server time to take a
//! request the test cannot observe otherwise (a poll that is now pending).

#![allow(dead_code)]

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use futures_util::{SinkExt, StreamExt};
use rally_engine::{CloseReason, Config, EngineIo, Handler, Message, Session, Sid};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::mpsc,
    task::JoinHandle,
};
use tokio_websockets::{ClientBuilder, MaybeTlsStream, Message as WsMessage, WebSocketStream};

/// How long any single expected step may take.
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

/// The target of a polling handshake under the default path.
pub(crate) const HANDSHAKE: &str = "/engine.io/?EIO=4&transport=polling";

/// Awaits `fut`, failing the test if it takes longer than [`DEADLINE`].
pub(crate) async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(output) => output,
        Err(_) => panic!("timed out after {DEADLINE:?} waiting for {what}"),
    }
}

/// Lets the server take a request that was just written (such as a poll
/// that must be pending before the test goes on). Not an assertion.
pub(crate) async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// A configuration whose heartbeat stays out of the way of a test.
pub(crate) fn quiet_config() -> Config {
    Config::default()
        .ping_interval(Duration::from_secs(20))
        .ping_timeout(Duration::from_secs(20))
}

/// The heartbeat the reference was probed with: pingInterval 300, pingTimeout 200.
pub(crate) fn probed_config() -> Config {
    Config::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
}

// ---------------------------------------------------------------------------
// The server and its recording handler

/// What the handler saw after a session opened.
#[derive(Debug)]
pub(crate) enum Event {
    Message(Sid, Message),
    Close(Sid, CloseReason),
}

/// Echoes every message back (when `echo`) and records every callback.
///
/// Opens are recorded apart from the other events, so that a test about
/// messages or closes does not depend on `on_open` (one test checks it).
pub(crate) struct Recorder {
    opens: mpsc::UnboundedSender<Arc<Session>>,
    events: mpsc::UnboundedSender<Event>,
    echo: bool,
}

impl Handler for Recorder {
    fn on_open(&self, session: &Arc<Session>) {
        let _ = self.opens.send(session.clone());
    }

    fn on_message(&self, session: &Arc<Session>, message: Message) {
        // Echo first: once the test sees the message, its echo is queued.
        if self.echo {
            let _ = session.send(message.clone());
        }
        let _ = self.events.send(Event::Message(session.sid(), message));
    }

    fn on_close(&self, session: &Arc<Session>, reason: CloseReason) {
        let _ = self.events.send(Event::Close(session.sid(), reason));
    }
}

/// An engine served on 127.0.0.1 on a port of its own, stopped when dropped.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) engine: EngineIo<Recorder>,
    opens: mpsc::UnboundedReceiver<Arc<Session>>,
    events: mpsc::UnboundedReceiver<Event>,
    task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// A server whose handler echoes every message.
    pub(crate) async fn start(config: Config) -> Self {
        Self::start_with(config, true).await
    }

    /// A server whose handler only records.
    pub(crate) async fn start_silent(config: Config) -> Self {
        Self::start_with(config, false).await
    }

    async fn start_with(config: Config, echo: bool) -> Self {
        let (opens_tx, opens) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let recorder = Recorder {
            opens: opens_tx,
            events: events_tx,
            echo,
        };
        let engine = EngineIo::new(config, recorder);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("listener address");
        let task = tokio::spawn(rally_engine::serve(listener, engine.clone()));
        Self {
            addr,
            engine,
            opens,
            events,
            task,
        }
    }

    pub(crate) fn http(&self) -> Http {
        Http { addr: self.addr }
    }

    pub(crate) async fn next_event(&mut self) -> Event {
        within("a handler event", self.events.recv())
            .await
            .expect("the engine dropped its handler")
    }

    /// Fails if the handler has recorded anything not yet taken.
    pub(crate) fn assert_no_event(&mut self) {
        if let Ok(event) = self.events.try_recv() {
            panic!("unexpected handler event {event:?}");
        }
    }

    /// Waits for the handler's `on_open`.
    pub(crate) async fn expect_open(&mut self) -> Arc<Session> {
        within("on_open", self.opens.recv())
            .await
            .expect("the engine dropped its handler")
    }

    /// The open session `sid`, asked of the engine (not of the handler).
    pub(crate) fn session(&self, sid: &str) -> Arc<Session> {
        let parsed = Sid::parse(sid).unwrap_or_else(|| panic!("{sid:?} is not a sid"));
        self.engine
            .session(&parsed)
            .unwrap_or_else(|| panic!("the engine has no session {sid}"))
    }

    pub(crate) async fn expect_message(&mut self) -> Message {
        match self.next_event().await {
            Event::Message(_, message) => message,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    pub(crate) async fn expect_text(&mut self, text: &str) {
        match self.expect_message().await {
            Message::Text(got) => assert_eq!(got.as_str(), text, "text message"),
            other => panic!("expected text message {text:?}, got {other:?}"),
        }
    }

    pub(crate) async fn expect_binary(&mut self, bytes: &[u8]) {
        match self.expect_message().await {
            Message::Binary(got) => assert_eq!(&got[..], bytes, "binary message"),
            other => panic!("expected binary message {bytes:?}, got {other:?}"),
        }
    }

    pub(crate) async fn expect_close(&mut self) -> CloseReason {
        match self.next_event().await {
            Event::Close(_, reason) => reason,
            other => panic!("expected the session to close, got {other:?}"),
        }
    }

    /// Opens a polling session; its `Session` is looked up in the engine.
    pub(crate) async fn open_polling(&mut self) -> Polling {
        let handshake = self.http().get(HANDSHAKE).await;
        assert_eq!(handshake.status, 200, "polling handshake: {handshake:?}");
        let sid = open_sid(handshake.text());
        let session = self.session(&sid);
        Polling {
            sid,
            session,
            http: self.http(),
        }
    }

    /// Opens a session directly over WebSocket, returning the open packet's text.
    pub(crate) async fn open_websocket(&mut self) -> (Ws, Arc<Session>, String) {
        let mut ws = ws_connect(self.addr, "EIO=4&transport=websocket").await;
        let open = ws_expect_text(&mut ws).await;
        let session = self.session(&open_sid(&open));
        (ws, session, open)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A polling session opened by [`TestServer::open_polling`].
pub(crate) struct Polling {
    pub(crate) sid: String,
    pub(crate) session: Arc<Session>,
    pub(crate) http: Http,
}

impl Polling {
    pub(crate) fn target(&self) -> String {
        polling_target(&self.sid)
    }

    pub(crate) async fn poll(&self) -> RawResponse {
        self.http.get(&self.target()).await
    }

    /// A GET left pending in the background (after [`settle`]).
    pub(crate) async fn pending_poll(&self) -> JoinHandle<RawResponse> {
        let (http, target) = (self.http, self.target());
        let handle = tokio::spawn(async move { http.get(&target).await });
        settle().await;
        assert!(!handle.is_finished(), "the poll did not wait");
        handle
    }

    pub(crate) async fn post(&self, body: &[u8]) -> RawResponse {
        self.http.post(&self.target(), body).await
    }

    /// POSTs `body`, asserting the reference's `ok`.
    pub(crate) async fn post_ok(&self, body: &[u8]) {
        let reply = self.post(body).await;
        assert_eq!(reply.status, 200, "POST {:?}: {reply:?}", lossy(body));
        assert_eq!(reply.body, b"ok");
    }

    /// Polls until `n` records other than noops came back.
    pub(crate) async fn poll_records(&self, n: usize) -> Vec<String> {
        let mut records = Vec::new();
        while records.len() < n {
            let reply = self.poll().await;
            assert_eq!(reply.status, 200, "poll: {reply:?}");
            records.extend(reply.records().into_iter().filter(|r| r != "6"));
        }
        records
    }

    /// Asserts that the server no longer knows this session.
    pub(crate) async fn assert_gone(&self) {
        self.poll().await.assert_error(400, 1, "Session ID unknown");
    }
}

/// Waits for a background request to complete.
pub(crate) async fn finish(handle: JoinHandle<RawResponse>) -> RawResponse {
    within("a pending request to complete", handle)
        .await
        .expect("the request task panicked")
}

/// The target of a polling request for `sid`.
pub(crate) fn polling_target(sid: &str) -> String {
    format!("/engine.io/?EIO=4&transport=polling&sid={sid}")
}

/// The `sid` of an open packet (`0{"sid":"...",...}`).
pub(crate) fn open_sid(open: &str) -> String {
    let start = open
        .find(r#""sid":""#)
        .unwrap_or_else(|| panic!("no sid in {open:?}"))
        + 7;
    let len = open[start..]
        .find('"')
        .unwrap_or_else(|| panic!("unterminated sid in {open:?}"));
    open[start..start + len].to_owned()
}

/// The open packet the reference sends, byte for byte.
pub(crate) fn expected_open(
    sid: &str,
    upgrades: &str,
    interval: u64,
    timeout: u64,
    max: u64,
) -> String {
    format!(
        r#"0{{"sid":"{sid}","upgrades":{upgrades},"pingInterval":{interval},"pingTimeout":{timeout},"maxPayload":{max}}}"#
    )
}

/// Whether `sid` has the reference's shape: 20 characters of base64url.
pub(crate) fn is_reference_sid(sid: &str) -> bool {
    sid.len() == 20
        && sid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(crate) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---------------------------------------------------------------------------
// A raw HTTP/1.1 client

/// Makes raw HTTP/1.1 requests, one connection each.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Http {
    pub(crate) addr: SocketAddr,
}

impl Http {
    pub(crate) async fn connect(self) -> RawConn {
        let stream = within("a TCP connection", TcpStream::connect(self.addr))
            .await
            .expect("connect to the test server");
        RawConn {
            stream: BufReader::new(stream),
        }
    }

    pub(crate) async fn request(
        self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> RawResponse {
        let mut conn = self.connect().await;
        conn.send(method, target, headers, body).await;
        conn.read_response().await
    }

    pub(crate) async fn get(self, target: &str) -> RawResponse {
        self.request("GET", target, &[], b"").await
    }

    pub(crate) async fn post(self, target: &str, body: &[u8]) -> RawResponse {
        self.request(
            "POST",
            target,
            &[("Content-Type", "text/plain;charset=UTF-8")],
            body,
        )
        .await
    }

    /// A WebSocket upgrade request whose reply is read raw.
    pub(crate) async fn upgrade(self, target: &str, headers: &[(&str, &str)]) -> RawConn {
        let mut all = vec![
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", WS_KEY),
            ("Sec-WebSocket-Version", "13"),
        ];
        all.extend_from_slice(headers);
        let mut conn = self.connect().await;
        conn.send_head("GET", target, &all).await;
        conn
    }
}

/// The key of raw upgrade requests, and the accept value it calls for.
pub(crate) const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub(crate) const WS_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// One HTTP connection, written and read by hand.
pub(crate) struct RawConn {
    stream: BufReader<TcpStream>,
}

impl RawConn {
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.stream.get_ref().local_addr().expect("local address")
    }

    pub(crate) async fn write_all(&mut self, bytes: &[u8]) {
        within("a write", self.stream.write_all(bytes))
            .await
            .expect("write to the test server");
    }

    /// Writes a request line and headers, and nothing else.
    pub(crate) async fn send_head(&mut self, method: &str, target: &str, headers: &[(&str, &str)]) {
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        self.write_all(head.as_bytes()).await;
    }

    /// Writes a whole request; a `Content-Length` is added for a body.
    pub(crate) async fn send(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) {
        let length = body.len().to_string();
        let mut all = headers.to_vec();
        if !body.is_empty() || method == "POST" {
            all.push(("Content-Length", &length));
        }
        self.send_head(method, target, &all).await;
        self.write_all(body).await;
    }

    /// Reads one reply, failing on a closed connection.
    pub(crate) async fn read_response(&mut self) -> RawResponse {
        self.try_read_response()
            .await
            .expect("the server closed the connection without a reply")
    }

    /// Reads one reply; `None` when the connection ends before one.
    pub(crate) async fn try_read_response(&mut self) -> Option<RawResponse> {
        within("an HTTP reply", read_response(&mut self.stream)).await
    }

    /// Reads exactly `n` bytes.
    pub(crate) async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let mut out = vec![0; n];
        within("raw bytes", self.stream.read_exact(&mut out))
            .await
            .expect("read from the test server");
        out
    }

    /// Reads one short unmasked server frame (after a raw 101): its first
    /// byte (FIN and opcode) and its payload.
    pub(crate) async fn read_short_frame(&mut self) -> (u8, Vec<u8>) {
        let head = self.read_exact(2).await;
        let len = usize::from(head[1]);
        assert!(len < 126, "not a short unmasked frame: {head:?}");
        (head[0], self.read_exact(len).await)
    }

    /// Reads whatever comes until the server closes the connection.
    pub(crate) async fn read_to_end(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = within("the connection to close", self.stream.read_to_end(&mut out)).await;
        out
    }
}

/// An HTTP reply as it came over the wire.
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    /// Header names and values in the order sent.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// Whether the body came with `Transfer-Encoding: chunked`.
    pub(crate) chunked: bool,
}

impl std::fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &lossy(&self.body))
            .field("chunked", &self.chunked)
            .finish()
    }
}

impl RawResponse {
    /// The first value of header `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`, split at commas, trimmed.
    pub(crate) fn header_tokens(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }

    pub(crate) fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    pub(crate) fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }

    /// The records of a polling body.
    pub(crate) fn records(&self) -> Vec<String> {
        self.text().split('\x1e').map(str::to_owned).collect()
    }

    /// Asserts the reference's JSON error reply.
    pub(crate) fn assert_error(&self, status: u16, code: u8, message: &str) {
        assert_eq!(self.status, status, "status of {self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "content type of {self:?}"
        );
        assert_eq!(
            self.text(),
            format!(r#"{{"code":{code},"message":"{message}"}}"#),
            "error body"
        );
        assert!(
            !self.has_header("cache-control"),
            "an error reply has no cache-control: {self:?}"
        );
    }

    /// Asserts a reply with `status`, an empty body and no content type.
    pub(crate) fn assert_empty(&self, status: u16) {
        assert_eq!(self.status, status, "status of {self:?}");
        assert!(self.body.is_empty(), "body of {self:?}");
        assert!(
            !self.has_header("content-type"),
            "an empty reply has no content type: {self:?}"
        );
    }

    /// Asserts a 200 polling reply (GET) and returns its body as text.
    pub(crate) fn assert_poll(&self) -> &str {
        assert_eq!(self.status, 200, "poll reply {self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("text/plain; charset=UTF-8"),
            "content type of {self:?}"
        );
        assert_eq!(self.header("cache-control"), Some("no-store"));
        assert_eq!(
            self.header("content-length"),
            Some(self.body.len().to_string().as_str()),
            "content length of {self:?}"
        );
        self.text()
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
        chunked: false,
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
        response.chunked = true;
        loop {
            let size_line = read_line(stream).await?;
            let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16)
                .unwrap_or_else(|_| panic!("bad chunk size {size_line:?}"));
            if size == 0 {
                // Trailers, up to the empty line.
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

// ---------------------------------------------------------------------------
// A WebSocket client

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a WebSocket to `/engine.io/?{query}`.
pub(crate) async fn ws_connect(addr: SocketAddr, query: &str) -> Ws {
    let uri = format!("ws://{addr}/engine.io/?{query}");
    let builder = ClientBuilder::new().uri(&uri).expect("a valid ws URI");
    let (ws, _) = within("a WebSocket handshake", builder.connect())
        .await
        .unwrap_or_else(|e| panic!("WebSocket handshake to {uri} failed: {e}"));
    ws
}

/// The next message (data or close frame); `None` once the stream ended.
pub(crate) async fn ws_next(ws: &mut Ws) -> Option<WsMessage> {
    match within("a WebSocket frame", ws.next()).await {
        Some(Ok(message)) => Some(message),
        Some(Err(_)) | None => None,
    }
}

pub(crate) async fn ws_expect_text(ws: &mut Ws) -> String {
    let message = ws_next(ws).await.expect("a text frame, got the end");
    message
        .as_text()
        .unwrap_or_else(|| panic!("expected a text frame, got {message:?}"))
        .to_owned()
}

pub(crate) async fn ws_expect_binary(ws: &mut Ws) -> Vec<u8> {
    let message = ws_next(ws).await.expect("a binary frame, got the end");
    assert!(
        message.is_binary(),
        "expected a binary frame, got {message:?}"
    );
    message.as_payload().to_vec()
}

/// The next frame must be a close frame: returns its code (1005 when the
/// payload is empty) and reason.
pub(crate) async fn ws_expect_close(ws: &mut Ws) -> (u16, String) {
    let message = ws_next(ws).await.expect("a close frame, got the end");
    let (code, reason) = message
        .as_close()
        .unwrap_or_else(|| panic!("expected a close frame, got {message:?}"));
    (u16::from(code), reason.to_owned())
}

/// Skips pings (`2`) until a close frame arrives; returns as [`ws_expect_close`].
pub(crate) async fn ws_close_after_pings(ws: &mut Ws) -> (u16, String) {
    loop {
        let message = ws_next(ws).await.expect("a close frame, got the end");
        if message.as_text() == Some("2") {
            continue;
        }
        let (code, reason) = message
            .as_close()
            .unwrap_or_else(|| panic!("expected a close frame, got {message:?}"));
        return (u16::from(code), reason.to_owned());
    }
}

pub(crate) async fn ws_send_text(ws: &mut Ws, text: &str) {
    within(
        "a WebSocket send",
        ws.send(WsMessage::text(text.to_owned())),
    )
    .await
    .expect("send a text frame");
}

pub(crate) async fn ws_send_binary(ws: &mut Ws, bytes: &[u8]) {
    within(
        "a WebSocket send",
        ws.send(WsMessage::binary(bytes.to_vec())),
    )
    .await
    .expect("send a binary frame");
}

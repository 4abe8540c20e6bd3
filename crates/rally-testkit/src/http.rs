//! A raw HTTP/1.1 client that shows the exact bytes of each reply (one
//! connection per request unless a test holds a [`RawConn`]), and a
//! long-polling session driven by hand ([`Polling`]).

use std::net::SocketAddr;

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    task::JoinHandle,
};

use crate::{field, lossy, settle, within};

/// The key of raw upgrade requests, and the accept value it calls for.
pub const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The `Sec-WebSocket-Accept` answer to [`WS_KEY`].
pub const WS_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Makes raw HTTP/1.1 requests to `addr`, one connection each.
#[derive(Debug, Clone, Copy)]
pub struct Http {
    /// The server's address.
    pub addr: SocketAddr,
}

impl Http {
    /// A client for the server at `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr }
    }

    /// A new connection, to write and read by hand.
    pub async fn connect(self) -> RawConn {
        let stream = within("a TCP connection", TcpStream::connect(self.addr))
            .await
            .expect("connect to the test server");
        RawConn {
            stream: BufReader::new(stream),
        }
    }

    /// One request on a connection of its own; a `Content-Length` is added
    /// for a body (and for every POST).
    pub async fn request(
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

    /// A GET of `target`.
    pub async fn get(self, target: &str) -> RawResponse {
        self.request("GET", target, &[], b"").await
    }

    /// A POST of `body` to `target`, typed as the official client types it.
    pub async fn post(self, target: &str, body: &[u8]) -> RawResponse {
        self.request(
            "POST",
            target,
            &[("Content-Type", "text/plain;charset=UTF-8")],
            body,
        )
        .await
    }

    /// A WebSocket upgrade request whose reply is read raw.
    pub async fn upgrade(self, target: &str, headers: &[(&str, &str)]) -> RawConn {
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

    /// Opens a long-polling session under `path` (such as `/socket.io/`).
    pub async fn open_polling(self, path: &str) -> Polling {
        let reply = self.get(&format!("{path}?EIO=4&transport=polling")).await;
        assert_eq!(reply.status, 200, "polling handshake {reply:?}");
        let text = reply.text();
        assert!(text.starts_with("0{"), "open packet {text:?}");
        Polling {
            http: self,
            path: path.to_owned(),
            sid: field(text, "sid"),
        }
    }
}

/// A long-polling session: GETs and POSTs with its `sid`.
#[derive(Debug, Clone)]
pub struct Polling {
    /// Where the requests go.
    pub http: Http,
    /// The path of the Engine.IO endpoint (`/socket.io/`, `/engine.io/`).
    pub path: String,
    /// The session id from the open packet.
    pub sid: String,
}

impl Polling {
    /// The target of this session's requests.
    pub fn target(&self) -> String {
        format!("{}?EIO=4&transport=polling&sid={}", self.path, self.sid)
    }

    /// One poll.
    pub async fn get(&self) -> RawResponse {
        self.http.get(&self.target()).await
    }

    /// POSTs `body`.
    pub async fn post(&self, body: &[u8]) -> RawResponse {
        self.http.post(&self.target(), body).await
    }

    /// POSTs `body`, asserting the reference's `200 ok`.
    pub async fn post_ok(&self, body: &[u8]) {
        let reply = self.post(body).await;
        assert_eq!(reply.status, 200, "POST {:?}: {reply:?}", lossy(body));
        assert_eq!(reply.body, b"ok", "POST reply body");
    }

    /// A GET left pending in the background (checked after [`settle`]).
    pub async fn pending_get(&self) -> JoinHandle<RawResponse> {
        let (http, target) = (self.http, self.target());
        let handle = tokio::spawn(async move { http.get(&target).await });
        settle().await;
        assert!(!handle.is_finished(), "the poll did not wait");
        handle
    }

    /// Polls until `n` records other than noops (`6`) and pings (`2`) came.
    pub async fn records(&self, n: usize) -> Vec<String> {
        let mut records = Vec::new();
        while records.len() < n {
            let reply = self.get().await;
            assert_eq!(reply.status, 200, "poll {reply:?}");
            records.extend(reply.records().into_iter().filter(|r| r != "6" && r != "2"));
        }
        records
    }

    /// Asserts that the server no longer knows this session.
    pub async fn assert_gone(&self) {
        self.get().await.assert_error(400, 1, "Session ID unknown");
    }
}

/// Waits for a background request.
pub async fn finish(handle: JoinHandle<RawResponse>) -> RawResponse {
    within("a pending request to complete", handle)
        .await
        .expect("the request task panicked")
}

/// One HTTP connection, written and read by hand.
#[derive(Debug)]
pub struct RawConn {
    stream: BufReader<TcpStream>,
}

impl RawConn {
    /// The client side's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.stream.get_ref().local_addr().expect("local address")
    }

    /// Writes raw bytes.
    pub async fn write_all(&mut self, bytes: &[u8]) {
        within("a write", self.stream.write_all(bytes))
            .await
            .expect("write to the test server");
    }

    /// Writes a request line and headers, and nothing else.
    pub async fn send_head(&mut self, method: &str, target: &str, headers: &[(&str, &str)]) {
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        self.write_all(head.as_bytes()).await;
    }

    /// Writes a whole request; a `Content-Length` is added for a body.
    pub async fn send(
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
    pub async fn read_response(&mut self) -> RawResponse {
        self.try_read_response()
            .await
            .expect("the server closed the connection without a reply")
    }

    /// Reads one reply; `None` when the connection ends before one.
    pub async fn try_read_response(&mut self) -> Option<RawResponse> {
        within("an HTTP reply", read_response(&mut self.stream)).await
    }

    /// Reads exactly `n` bytes.
    pub async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let mut out = vec![0; n];
        within("raw bytes", self.stream.read_exact(&mut out))
            .await
            .expect("read from the test server");
        out
    }

    /// Reads one short unmasked server frame (after a raw 101): its first
    /// byte (FIN and opcode) and its payload.
    pub async fn read_short_frame(&mut self) -> (u8, Vec<u8>) {
        let head = self.read_exact(2).await;
        let len = usize::from(head[1]);
        assert!(len < 126, "not a short unmasked frame: {head:?}");
        (head[0], self.read_exact(len).await)
    }

    /// Reads whatever comes until the server closes the connection.
    pub async fn read_to_end(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = within("the connection to close", self.stream.read_to_end(&mut out)).await;
        out
    }
}

/// An HTTP reply as it came over the wire.
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// Header names and values in the order sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Whether the body came with `Transfer-Encoding: chunked`.
    pub chunked: bool,
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
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`, split at commas, trimmed.
    pub fn header_tokens(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Whether header `name` was sent.
    pub fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    /// The body as text.
    ///
    /// # Panics
    ///
    /// When it is not UTF-8.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }

    /// The value of the Prometheus sample `sample` (name and labels as
    /// written) in a metrics body.
    ///
    /// # Panics
    ///
    /// When the body has no such sample.
    pub fn metric(&self, sample: &str) -> u64 {
        self.text()
            .lines()
            .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no sample {sample} in\n{}", self.text()))
    }

    /// The records of a polling body.
    pub fn records(&self) -> Vec<String> {
        self.text().split('\x1e').map(str::to_owned).collect()
    }

    /// Asserts the reference's JSON error reply.
    pub fn assert_error(&self, status: u16, code: u8, message: &str) {
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
    pub fn assert_empty(&self, status: u16) {
        assert_eq!(self.status, status, "status of {self:?}");
        assert!(self.body.is_empty(), "body of {self:?}");
        assert!(
            !self.has_header("content-type"),
            "an empty reply has no content type: {self:?}"
        );
    }

    /// Asserts a 200 polling reply (GET) and returns its body as text.
    pub fn assert_poll(&self) -> &str {
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

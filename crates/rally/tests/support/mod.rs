//! Helpers shared by the Socket.IO integration tests: a `rally::Server`
//! served on a free port, a raw WebSocket client speaking Engine.IO and
//! Socket.IO frames by hand, a raw HTTP/1.1 client for long-polling, and
//! channels that handlers report into.
//!
//! Every wait is bounded by [`DEADLINE`]. Nothing here sleeps to decide an
//! outcome: "nothing else was sent" is checked with [`Client::sync`], a
//! CONNECT to an unknown namespace that the server answers in order with
//! `44/__sync,{"message":"Invalid namespace"}` (a packet-level barrier).

#![allow(dead_code, unreachable_pub, unused_imports)]

use std::{net::SocketAddr, sync::Arc, time::Duration};

use rally::{Server, ServerBuilder, Sid, Socket};
use tokio::{net::TcpListener, sync::mpsc, task::JoinHandle};

pub use rally_testkit::{
    DEADLINE, field,
    http::{Http, Polling, RawResponse, finish},
    is_reference_sid, lossy, settle, within,
    ws::{self, Frame, Ws},
};

/// The namespace the barrier connects to; no test may accept it.
pub const SYNC_NSP: &str = "/__sync";

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
        Http::new(self.addr)
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
        let ws = ws::connect(&uri, headers).await;
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

    /// Sends a text frame.
    pub async fn send(&mut self, text: &str) {
        ws::send_text(&mut self.ws, text).await;
    }

    /// Sends a binary frame.
    pub async fn send_binary(&mut self, bytes: &[u8]) {
        ws::send_binary(&mut self.ws, bytes).await;
    }

    /// Sends a text frame, tolerating a connection the server already closed.
    pub async fn try_send(&mut self, text: &str) -> bool {
        ws::try_send_text(&mut self.ws, text).await
    }

    /// The next frame from the server.
    pub async fn recv(&mut self) -> Frame {
        ws::frame(&mut self.ws).await
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
        ws::close(&mut self.ws).await;
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

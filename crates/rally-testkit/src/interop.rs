//! The interop test server: the protocol of `interop/README.md` (which the
//! Node.js scripts and `interop/ref-socket-server.mjs` share), served by
//! Rally in-process ([`start`]) or on a thread and runtime of its own that a
//! test can stop and start again on the same port ([`ThreadServer`]); and
//! the recovery server with the official client that drives it
//! ([`recovery_server`], [`RecoveryClient`]).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    thread::JoinHandle,
    time::Duration,
};

use rally::{Args, ConnectError, Parser, Server, ServerBuilder};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot};

use crate::node::{JsonLines, NodeServer};

/// The interop server with a heartbeat lenient enough for a loaded machine
/// (pingInterval 1000 ms, pingTimeout 2000 ms: the official client drops a
/// connection whose pings stop for their sum).
pub fn server() -> Server {
    serve_protocol(lenient())
}

/// The options of [`server`]: pingInterval 1000 ms, pingTimeout 2000 ms,
/// connectTimeout 1000 ms.
pub fn lenient() -> ServerBuilder {
    Server::builder()
        .ping_interval(Duration::from_millis(1000))
        .ping_timeout(Duration::from_millis(2000))
        .connect_timeout(Duration::from_millis(1000))
}

/// The interop server with the given heartbeat: namespaces `/`, `/custom`
/// and `/mw` (whose middleware wants `{"token":"secret"}`), `auth` echoed on
/// connection, `message` → `message-back`, `message-with-ack` answered with
/// its arguments; on `/`: `join`, `leave`, `to`, `to-except`, `broadcast`,
/// `volatile`, `request-ack`, `fetch`, `server-disconnect`, `server-close`
/// (disconnects and closes the connection), `drop-transport`.
pub fn server_with(ping_interval: Duration, ping_timeout: Duration) -> Server {
    serve_protocol(
        Server::builder()
            .ping_interval(ping_interval)
            .ping_timeout(ping_timeout)
            .connect_timeout(Duration::from_millis(1000)),
    )
}

/// A server built from `builder` with the interop protocol's handlers (see
/// [`server_with`]).
pub fn serve_protocol(builder: ServerBuilder) -> Server {
    let io = builder.build();
    for name in ["/", "/custom", "/mw"] {
        io.of(name).on_connection(|socket| async move {
            let _ = socket.emit("auth", Args::raw_json(socket.raw_auth()));
        });
        io.of(name).on("message", |socket, event| async move {
            let _ = socket.emit("message-back", event.to_args());
        });
        io.of(name)
            .on("message-with-ack", |_socket, mut event| async move {
                let args = event.to_args();
                let _ = event.ack(args);
            });
    }
    io.of("/mw").use_middleware(|socket| async move {
        let token = socket
            .auth::<serde_json::Value>()
            .ok()
            .and_then(|a| a["token"].as_str().map(str::to_owned));
        if token.as_deref() == Some("secret") {
            Ok(())
        } else {
            Err(ConnectError::new("not authorized")
                .with_data(&serde_json::json!({"reason": "token"})))
        }
    });
    root_handlers(&io);
    io
}

/// The interop protocol's commands on `/` (see [`server_with`]).
fn root_handlers(io: &Server) {
    let root = io.of("/");
    root.on("join", |socket, mut event| async move {
        let room: String = event.arg(0).unwrap_or_default();
        socket.join(room.as_str());
        let _ = event.ack(&room);
    });
    root.on("leave", |socket, mut event| async move {
        let room: String = event.arg(0).unwrap_or_default();
        socket.leave(&room);
        let _ = event.ack(&room);
    });
    let io2 = io.clone();
    root.on("to", move |_socket, event| {
        let io = io2.clone();
        async move {
            let rooms = rooms_arg(&event, 0);
            let (name, args) = event_and_args(&event, 1);
            let _ = io.to(rooms).emit(&name, args);
        }
    });
    let io2 = io.clone();
    root.on("to-except", move |_socket, event| {
        let io = io2.clone();
        async move {
            let room: String = event.arg(0).unwrap_or_default();
            let except: String = event.arg(1).unwrap_or_default();
            let (name, args) = event_and_args(&event, 2);
            let _ = io.to(room).except(except).emit(&name, args);
        }
    });
    root.on("broadcast", |socket, event| async move {
        let (name, args) = event_and_args(&event, 0);
        let _ = socket.broadcast().emit(&name, args);
    });
    let io2 = io.clone();
    root.on("volatile", move |_socket, event| {
        let io = io2.clone();
        async move {
            let (name, args) = event_and_args(&event, 0);
            let _ = io.broadcast().volatile().emit(&name, args);
        }
    });
    root.on("request-ack", |socket, mut event| async move {
        let name: String = event.arg(0).unwrap_or_default();
        // The argument and the answer keep their binary attachments.
        let arg = Args::raw_relay(
            event.raw_arg(1).unwrap_or("null"),
            1,
            event.binary().to_vec(),
        );
        let answer = match socket
            .timeout(Duration::from_millis(1000))
            .emit_with_ack(&name, arg)
            .await
        {
            Ok(reply) => {
                let json = format!(
                    r#"{{"ok":true,"reply":{}}}"#,
                    reply.raw_arg(0).unwrap_or("null")
                );
                Args::raw_relay(&json, 1, reply.binary().to_vec())
            }
            Err(e) => Args::from(&serde_json::json!({"ok": false, "error": e.to_string()})),
        };
        let _ = event.ack(answer);
    });
    let io2 = io.clone();
    root.on("fetch", move |_socket, mut event| {
        let io = io2.clone();
        async move {
            let room: String = event.arg(0).unwrap_or_default();
            let mut ids: Vec<String> = io
                .to(room)
                .fetch_sockets()
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.id().to_string())
                .collect();
            ids.sort();
            let _ = event.ack(&ids);
        }
    });
    root.on("server-disconnect", |socket, _event| async move {
        socket.disconnect(false);
    });
    root.on("server-close", |socket, _event| async move {
        socket.disconnect(true);
    });
    root.on("drop-transport", |socket, _event| async move {
        if let Some(session) = socket.session() {
            session.close();
        }
    });
}

/// Serves [`server`] on a free port of 127.0.0.1; its base URL and the server.
pub async fn start() -> (String, Server) {
    start_server(server()).await
}

/// Serves `io` on a free port of 127.0.0.1; its base URL and the server.
pub async fn start_server(io: Server) -> (String, Server) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let port = listener.local_addr().expect("a local address").port();
    tokio::spawn(rally::serve(listener, io.clone()));
    (format!("http://127.0.0.1:{port}"), io)
}

/// What `interop/ref-recovery-server.mjs` does on the official server, on
/// Rally: recovery on (maxDisconnectionDuration 10 s), the
/// [`recovery_handlers`], `broadcast` to everyone, and
/// `drop-then-broadcast`: the connection closed, then, once the server has
/// seen the socket go, a broadcast the client misses.
pub fn recovery_server() -> Server {
    let io = Server::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .connect_timeout(Duration::from_millis(1000))
        .connection_state_recovery(
            rally::ConnectionStateRecovery::default()
                .max_disconnection_duration(Duration::from_secs(10)),
        )
        .build();
    let root = io.of("/");
    recovery_handlers(&root);
    let io2 = io.clone();
    root.on("broadcast", move |_socket, event| {
        let io = io2.clone();
        async move {
            let (name, args) = event_and_args(&event, 0);
            let _ = io.emit(&name, args);
        }
    });
    let pending: Arc<Mutex<HashMap<rally::Sid, (String, Args)>>> = Arc::default();
    let waiting = pending.clone();
    root.on("drop-then-broadcast", move |socket, event| {
        let waiting = waiting.clone();
        async move {
            waiting
                .lock()
                .expect("the pending lock")
                .insert(socket.id(), event_and_args(&event, 0));
            if let Some(session) = socket.session() {
                session.close();
            }
        }
    });
    let io2 = io.clone();
    root.on_disconnect(move |socket, _reason| {
        let due = pending
            .lock()
            .expect("the pending lock")
            .remove(&socket.id());
        let io = io2.clone();
        async move {
            if let Some((name, args)) = due {
                let _ = io.emit(&name, args);
            }
        }
    });
    io
}

/// The handlers every recovery test's server has on `root`: `welcome` with
/// `{id, recovered}` on connection; `join` (room, name): joins the room and
/// keeps `{name}` as the socket's data, acked with the room; `whoami`: acked
/// with `{id, rooms (sorted), data, recovered}`.
pub fn recovery_handlers(root: &rally::Namespace) {
    root.on_connection(|socket| async move {
        let _ = socket.emit(
            "welcome",
            &json!({"id": socket.id().as_str(), "recovered": socket.recovered()}),
        );
    });
    root.on("join", |socket, mut event| async move {
        let room: String = event.arg(0).unwrap_or_default();
        let name: String = event.arg(1).unwrap_or_default();
        socket.join(room.as_str());
        let _ = socket.set_data(&json!({ "name": name }));
        let _ = event.ack(&room);
    });
    root.on("whoami", |socket, mut event| async move {
        let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
        rooms.sort();
        let _ = event.ack(&json!({
            "id": socket.id().as_str(),
            "rooms": rooms,
            "data": socket.raw_data(),
            "recovered": socket.recovered(),
        }));
    });
}

/// Argument `index` as a list of rooms (a string or an array of strings).
fn rooms_arg(event: &rally::Event, index: usize) -> Vec<String> {
    match event.arg::<Value>(index) {
        Ok(Value::String(room)) => vec![room],
        Ok(Value::Array(rooms)) => rooms
            .into_iter()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The event name at `index` and the arguments after it, as they came.
fn event_and_args(event: &rally::Event, index: usize) -> (String, Args) {
    let name: String = event.arg(index).unwrap_or_default();
    let rest: Vec<&str> = (index + 1..event.len())
        .filter_map(|i| event.raw_arg(i))
        .collect();
    (
        name,
        Args::raw_relay(&rest.join(","), rest.len(), event.binary().to_vec()),
    )
}

/// A Rally server on a thread and runtime of its own, so that a test can
/// stop it (every connection dropped at once, as when a process dies) and
/// start it again on the same port. Stopped when dropped.
#[derive(Debug)]
pub struct ThreadServer {
    /// The port it listens on.
    pub port: u16,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ThreadServer {
    /// Serves the server `make` builds on `port` (0: a free one). Blocks
    /// until it listens: call it from `spawn_blocking` in an async test.
    pub fn start(port: u16, make: impl FnOnce() -> Server + Send + 'static) -> Self {
        Self::start_with(port, None, make)
    }

    /// As [`start`](Self::start), over TLS: HTTPS and WSS through
    /// [`rally::serve_tls`], as `rally serve --tls-cert` serves them.
    pub fn start_tls(
        port: u16,
        tls: rally::tls::Tls,
        make: impl FnOnce() -> Server + Send + 'static,
    ) -> Self {
        Self::start_with(port, Some(tls), make)
    }

    fn start_with(
        port: u16,
        tls: Option<rally::tls::Tls>,
        make: impl FnOnce() -> Server + Send + 'static,
    ) -> Self {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let listener = bind(port).await;
                let port = listener.local_addr().expect("a local address").port();
                match tls {
                    Some(tls) => tokio::spawn(rally::serve_tls(listener, tls, make())),
                    None => tokio::spawn(rally::serve(listener, make())),
                };
                let _ = ready_tx.send(port);
                let _ = stopped.await;
            });
            runtime.shutdown_timeout(Duration::from_millis(200));
        });
        let port = ready_rx
            .recv_timeout(crate::DEADLINE)
            .expect("the Rally server starts");
        Self {
            port,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops the server: the listener and every connection close. Blocks
    /// until its thread is gone.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ThreadServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binds `port`, retrying while the previous server's socket lets go.
async fn bind(port: u16) -> TcpListener {
    crate::within(&format!("127.0.0.1:{port} to be free"), async {
        loop {
            match TcpListener::bind(("127.0.0.1", port)).await {
                Ok(listener) => return listener,
                Err(e) => {
                    tracing::debug!(%e, "bind retry");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    })
    .await
}

/// The interop test server on Rally as [`Kind::Rally`] runs it, for
/// clients using `parser`.
pub fn protocol_server(parser: Parser) -> Server {
    serve_protocol(
        Server::builder()
            .ping_interval(Duration::from_millis(300))
            .ping_timeout(Duration::from_millis(200))
            .connect_timeout(Duration::from_millis(1000))
            .parser(parser),
    )
}

/// Which implementation serves the interop test protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Rally ([`serve_protocol`] on a [`ThreadServer`], with the heartbeat
    /// the reference was probed with: pingInterval 300 ms, pingTimeout
    /// 200 ms).
    Rally,
    /// The official Node.js server (`interop/ref-socket-server.mjs`).
    Node,
}

/// A server speaking the interop test protocol, Rally or Node.js, that a
/// test can stop and start again on the same port; stopped when dropped.
#[derive(Debug)]
pub struct InteropServer {
    /// Which implementation it is.
    pub kind: Kind,
    /// The port it listens on.
    pub port: u16,
    /// The parser its clients must use.
    pub parser: Parser,
    rally: Option<ThreadServer>,
    node: Option<NodeServer>,
}

impl InteropServer {
    /// Starts a server of `kind` on a free port.
    pub async fn start(kind: Kind) -> Self {
        Self::start_on(kind, 0).await
    }

    /// The recovery server: interop/ref-recovery-server.mjs on Node, its
    /// twin on Rally.
    pub async fn start_recovery(kind: Kind) -> Self {
        match kind {
            Kind::Rally => {
                let server =
                    tokio::task::spawn_blocking(|| ThreadServer::start(0, recovery_server))
                        .await
                        .expect("the server thread starts");
                Self {
                    kind,
                    port: server.port,
                    parser: Parser::Json,
                    rally: Some(server),
                    node: None,
                }
            }
            Kind::Node => {
                let server = NodeServer::start("ref-recovery-server.mjs", 0).await;
                Self {
                    kind,
                    port: server.port,
                    parser: Parser::Json,
                    rally: None,
                    node: Some(server),
                }
            }
        }
    }

    /// Starts a server of `kind` on `port` (0: a free one).
    pub async fn start_on(kind: Kind, port: u16) -> Self {
        Self::start_parsed_on(kind, port, Parser::Json).await
    }

    /// Starts a server of `kind` whose clients use `parser`, on a free port.
    pub async fn start_parsed(kind: Kind, parser: Parser) -> Self {
        Self::start_parsed_on(kind, 0, parser).await
    }

    /// Starts a server of `kind` whose clients use `parser`, on `port` (0:
    /// a free one).
    pub async fn start_parsed_on(kind: Kind, port: u16, parser: Parser) -> Self {
        let (rally, node, port) = match kind {
            Kind::Rally => {
                let make = move || protocol_server(parser);
                let server = tokio::task::spawn_blocking(move || ThreadServer::start(port, make))
                    .await
                    .expect("the server thread starts");
                let port = server.port;
                (Some(server), None, port)
            }
            Kind::Node => {
                let server =
                    NodeServer::start_with("ref-socket-server.mjs", port, &[parser.as_str()]).await;
                let port = server.port;
                (None, Some(server), port)
            }
        };
        Self {
            kind,
            port,
            parser,
            rally,
            node,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the server: every connection drops, nothing listens.
    pub async fn stop(&mut self) {
        if let Some(mut server) = self.rally.take() {
            tokio::task::spawn_blocking(move || server.stop())
                .await
                .expect("the server thread stops");
        }
        if let Some(mut server) = self.node.take() {
            server.stop().await;
        }
    }

    /// Starts the server again on the same port.
    pub async fn restart(&mut self) {
        self.stop().await;
        *self = Self::start_parsed_on(self.kind, self.port, self.parser).await;
    }
}

/// The official client that reconnects (`interop/recovery-client.mjs`),
/// one JSON line per happening (`connect`, `event`, `ack`, ...).
#[derive(Debug)]
pub struct RecoveryClient {
    lines: JsonLines,
    /// Every line the client printed, in order.
    pub history: Vec<Value>,
    next_ack: u64,
}

impl RecoveryClient {
    /// Connects to `url` with transport mode `mode` (`websocket`,
    /// `polling`, `upgrade`).
    pub fn start(url: &str, mode: &str) -> Self {
        Self {
            lines: JsonLines::start("recovery-client.mjs", &[url, mode]),
            history: Vec::new(),
            next_ack: 0,
        }
    }

    /// Connects as [`start`](Self::start) does, with `auth` in the
    /// handshake.
    pub fn start_with_auth(url: &str, mode: &str, auth: &Value) -> Self {
        Self {
            lines: JsonLines::start("recovery-client.mjs", &[url, mode, &auth.to_string()]),
            history: Vec::new(),
            next_ack: 0,
        }
    }

    /// The next line the client prints.
    pub async fn next(&mut self) -> Value {
        let line = self.lines.next().await;
        self.history.push(line.clone());
        line
    }

    /// Lines up to the first of type `kind`: (those before, that one).
    pub async fn until(&mut self, kind: &str) -> (Vec<Value>, Value) {
        let mut before = Vec::new();
        loop {
            let line = self.next().await;
            if line["type"] == kind {
                return (before, line);
            }
            before.push(line);
        }
    }

    /// The arguments of the next event `name` (skipping other lines).
    pub async fn event(&mut self, name: &str) -> Vec<Value> {
        loop {
            let line = self.next().await;
            if line["type"] == "event" && line["event"] == name {
                return line["args"].as_array().cloned().unwrap_or_default();
            }
        }
    }

    /// Emits `event` with `args` and an ack; the answer's arguments and the
    /// lines before it.
    pub async fn ask(&mut self, event: &str, args: Value) -> (Vec<Value>, Vec<Value>) {
        let id = self.next_ack;
        self.next_ack += 1;
        self.lines
            .send(&json!({"cmd": "emit", "event": event, "args": args, "id": id}))
            .await;
        let (before, ack) = self.until("ack").await;
        assert_eq!(ack["id"], id, "{ack}");
        (before, ack["args"].as_array().cloned().unwrap_or_default())
    }
}

//! The interop test servers `rally connect` is checked against: Rally
//! in-process and the official Node.js server
//! (interop/ref-socket-server.mjs) as a child process, both speaking the
//! part of the interop test protocol (interop/README.md) the connect tests
//! use.
//!
//! Copied from crates/rally-client/tests/common/ (only what these tests
//! need) until the shared test kit holds one copy.

use std::{path::PathBuf, process::Stdio, thread::JoinHandle, time::Duration};

use rally::{Args, ConnectError, Server};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    net::TcpListener,
    process::{Child, Command},
    sync::oneshot,
};

/// How long any single wait in a test may take.
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

/// Fails the test unless `future` completes within [`DEADLINE`].
pub(crate) async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// Which server a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Rally,
    Node,
}

/// A server speaking the interop test protocol, stopped on drop.
pub(crate) struct TestServer {
    port: u16,
    _rally: Option<RallyServer>,
    _node: Option<NodeServer>,
}

impl TestServer {
    /// Starts a server of `kind` on a free port.
    pub(crate) async fn start(kind: Kind) -> Self {
        match kind {
            Kind::Rally => {
                let server = tokio::task::spawn_blocking(RallyServer::start)
                    .await
                    .expect("the server thread starts");
                Self {
                    port: server.port,
                    _rally: Some(server),
                    _node: None,
                }
            }
            Kind::Node => {
                let server = NodeServer::start("ref-socket-server.mjs").await;
                Self {
                    port: server.port,
                    _rally: None,
                    _node: Some(server),
                }
            }
        }
    }

    /// The server's URL.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A Node.js server started from a script of interop/, killed on drop.
struct NodeServer {
    port: u16,
    _child: Child,
}

impl NodeServer {
    /// Runs `node interop/<script> 0` and waits for its `listening <port>`
    /// line.
    async fn start(script: &str) -> Self {
        let interop = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop");
        assert!(
            interop.join("node_modules").is_dir(),
            "interop/node_modules is missing: run `cd interop && npm ci`"
        );
        let mut child = Command::new("node")
            .arg(interop.join(script))
            .arg("0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(DEADLINE, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = line.strip_prefix("listening ") {
                    return port.trim().parse::<u16>().ok();
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("node {script} did not start listening"));
        // Keep reading its log so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            port,
            _child: child,
        }
    }
}

/// A Rally server on a thread and runtime of its own, stopped on drop.
struct RallyServer {
    port: u16,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl RallyServer {
    fn start() -> Self {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let port = listener.local_addr().expect("local address").port();
                tokio::spawn(rally::serve(listener, interop_server()));
                let _ = ready_tx.send(port);
                let _ = stopped.await;
            });
            runtime.shutdown_timeout(Duration::from_millis(200));
        });
        let port = ready_rx
            .recv_timeout(DEADLINE)
            .expect("the Rally server starts");
        Self {
            port,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for RallyServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The part of the interop test protocol these tests use: `auth` echoed on
/// connection, `message` / `message-with-ack` echoed, and `/mw` refusing a
/// CONNECT without the token `secret`.
fn interop_server() -> Server {
    let io = Server::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .connect_timeout(Duration::from_millis(1000))
        .build();
    for name in ["/", "/custom", "/mw"] {
        io.of(name).on_connection(|socket| async move {
            let _ = socket.emit("auth", Args::raw_json(socket.raw_auth()));
        });
    }
    for name in ["/", "/custom"] {
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
    io
}

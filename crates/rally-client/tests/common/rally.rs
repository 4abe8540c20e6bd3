//! The interop test protocol (interop/README.md) served by Rally, as
//! crates/rally/tests/common/mod.rs serves it, on a thread and runtime of
//! its own so that a test can stop it (every connection dropped at once, as
//! when a process dies) and start it again on the same port.

use std::{thread::JoinHandle, time::Duration};

use rally::{Args, ConnectError, Server};
use tokio::{net::TcpListener, sync::oneshot};

/// A Rally server running the interop test protocol.
pub struct RallyServer {
    pub port: u16,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl RallyServer {
    /// Starts a server on `port` (0: a free one).
    pub fn start(port: u16) -> Self {
        Self::start_with(port, interop_server)
    }

    /// Starts the server `make` builds on `port` (0: a free one).
    pub fn start_with(port: u16, make: fn() -> Server) -> Self {
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
                let port = listener.local_addr().expect("local address").port();
                tokio::spawn(rally::serve(listener, make()));
                let _ = ready_tx.send(port);
                let _ = stopped.await;
            });
            runtime.shutdown_timeout(Duration::from_millis(200));
        });
        let port = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the Rally server starts");
        Self {
            port,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops the server: the listener and every connection close.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RallyServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binds `port`, retrying briefly while the previous server's socket lets go.
async fn bind(port: u16) -> TcpListener {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => return listener,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(%e, "bind retry");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("bind 127.0.0.1:{port}: {e}"),
        }
    }
}

/// The interop test protocol.
pub fn interop_server() -> Server {
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
    let root = io.of("/");
    root.on("join", |socket, mut event| async move {
        let room: String = event.arg(0).unwrap_or_default();
        socket.join(room.as_str());
        let _ = event.ack(&room);
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
    root.on("server-disconnect", |socket, _event| async move {
        socket.disconnect(false);
    });
    root.on("drop-transport", |socket, _event| async move {
        if let Some(session) = socket.session() {
            session.close();
        }
    });
    io
}

/// What interop/ref-recovery-server.mjs does on the official server, on
/// Rally: recovery on (maxDisconnectionDuration 10 s), "welcome" with
/// `{id, recovered}` on connection, "broadcast" to everyone, and
/// "drop-then-broadcast": the connection closed, then once the server has
/// seen the socket go, a broadcast the client misses.
pub fn recovery_server() -> Server {
    use std::{
        collections::HashMap,
        sync::{Arc, Mutex},
    };

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
    root.on_connection(|socket| async move {
        let _ = socket.emit(
            "welcome",
            &serde_json::json!({"id": socket.id().as_str(), "recovered": socket.recovered()}),
        );
    });
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
                .unwrap()
                .insert(socket.id(), event_and_args(&event, 0));
            if let Some(session) = socket.session() {
                session.close();
            }
        }
    });
    let io2 = io.clone();
    root.on_disconnect(move |socket, _reason| {
        let due = pending.lock().unwrap().remove(&socket.id());
        let io = io2.clone();
        async move {
            if let Some((name, args)) = due {
                let _ = io.emit(&name, args);
            }
        }
    });
    io
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

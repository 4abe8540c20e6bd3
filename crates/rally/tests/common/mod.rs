//! The interop test protocol (see interop/README.md), served by Rally on a
//! free port, and a runner for the official clients' scripts.

#![allow(dead_code, unreachable_pub)]

use std::{path::PathBuf, process::Stdio, time::Duration};

use rally::{Args, ConnectError, Server};
use tokio::net::TcpListener;

/// Starts the interop test server; returns its base URL and the server.
pub async fn start() -> (String, Server) {
    // A heartbeat lenient enough for a loaded machine (the official client
    // drops a connection whose pings stop for pingInterval + pingTimeout).
    let io = Server::builder()
        .ping_interval(Duration::from_millis(1000))
        .ping_timeout(Duration::from_millis(2000))
        .connect_timeout(Duration::from_millis(1000))
        .build();
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
    root.on("drop-transport", |socket, _event| async move {
        if let Some(session) = socket.session() {
            session.close();
        }
    });

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    tokio::spawn(rally::serve(listener, io.clone()));
    (format!("http://127.0.0.1:{port}"), io)
}

/// Argument `index` as a list of rooms (a string or an array of strings).
fn rooms_arg(event: &rally::Event, index: usize) -> Vec<String> {
    match event.arg::<serde_json::Value>(index) {
        Ok(serde_json::Value::String(room)) => vec![room],
        Ok(serde_json::Value::Array(rooms)) => rooms
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

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `node interop/<script> <args...>` and fails the test with its
/// output unless it exits 0.
pub async fn run_node(script: &str, args: &[&str]) {
    let interop = repo_root().join("interop");
    assert!(
        interop.join("node_modules").is_dir(),
        "interop/node_modules is missing: run `bash scripts/test.sh` (or `cd interop && npm ci`)"
    );
    let child = tokio::process::Command::new("node")
        .arg(interop.join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the script finishes within 60 s")
        .expect("the script's output");
    assert!(
        output.status.success(),
        "node {script} {args:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

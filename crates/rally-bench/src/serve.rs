//! The peer servers that live in this binary: Rally and the bare WebSocket
//! echo server (the ceiling). Each runs on tokio's default multi-threaded
//! runtime, as `#[tokio::main]` would build it (under `taskset` to one core
//! that is one worker), like the socketioxide peer.

use futures_util::{FutureExt, SinkExt, StreamExt};
use rally::{Args, Server};
use tokio::net::TcpListener;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The Rally peer: namespace `/`; `echo` acked with its arguments; `join(room)`
/// acked with the room; `bcast(room, payload)` emits `bcast(payload)` to the
/// room (the sender included), relaying the payload's JSON untouched.
pub(crate) fn rally_peer(port: u16) {
    runtime().block_on(async move {
        let mut builder = Server::builder();
        // The slow-consumer mix may shrink the outgoing queue bound (default
        // 4096 frames) so that slow clients fill it sooner.
        if let Some(frames) = max_buffered_frames() {
            builder = builder.max_buffered_frames(frames);
        }
        let io = builder.build();
        let root = io.of("/");
        root.on("echo", |_socket, mut event| async move {
            let args = event.to_args();
            let _ = event.ack(args);
        });
        root.on("join", |socket, mut event| async move {
            if let Ok(room) = event.arg::<String>(0) {
                socket.join(room);
            }
            let args = event.to_args();
            let _ = event.ack(args);
        });
        root.on("bcast", |socket, event| async move {
            let (Ok(room), Some(payload)) = (event.arg::<String>(0), event.raw_arg(1)) else {
                return;
            };
            let _ = socket
                .ns()
                .to(room)
                .emit("bcast", Args::raw_relay(payload, 1, Vec::new()));
        });
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the Rally peer");
        println!("listening {port}");
        let _ = rally::serve(listener, io).await;
    });
}

/// `RALLY_BENCH_MAX_BUFFERED_FRAMES`, when set: the Rally peer's bound on
/// each connection's outgoing queue.
pub(crate) fn max_buffered_frames() -> Option<usize> {
    std::env::var("RALLY_BENCH_MAX_BUFFERED_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
}

/// The ceiling: a WebSocket echo server on tokio-websockets, no Socket.IO.
/// Every message comes back as it is; whatever is ready is written, then
/// flushed once.
pub(crate) fn ws_peer(port: u16) {
    runtime().block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the WebSocket peer");
        println!("listening {port}");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let Ok((_req, mut ws)) =
                    tokio_websockets::ServerBuilder::new().accept(stream).await
                else {
                    return;
                };
                while let Some(Ok(msg)) = ws.next().await {
                    if !(msg.is_text() || msg.is_binary()) || ws.feed(msg).await.is_err() {
                        return;
                    }
                    while let Some(Some(Ok(msg))) = ws.next().now_or_never() {
                        if (msg.is_text() || msg.is_binary()) && ws.feed(msg).await.is_err() {
                            return;
                        }
                    }
                    if ws.flush().await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}

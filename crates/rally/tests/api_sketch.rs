//! The Node-shaped API sketch (the call shapes programs outside the repo
//! are written against), compiled as written and run once without
//! clients.

// The sketch binds results it does not look at (`answers`, `sockets`) and
// clones what it could move, as written.
#![allow(unused_variables, clippy::redundant_clone)]

use rally::{ConnectError, Server};

#[rustfmt::skip]
#[derive(Clone)]
struct App { greeting: String }

#[rustfmt::skip]
async fn sketch() {
let io = Server::builder().state(App { greeting: "hi".into() }).build();
let root = io.of("/");

// Namespace listeners add up: both run, in registration order.
root.on("shout", |socket, _event| async move { let _ = socket.emit("heard", "first"); });
root.on("shout", |socket, _event| async move { let _ = socket.emit("heard", "second"); });

root.on_connection(|socket| async move {
    // Per-connection state, captured by this socket's own listeners (Node: the `let`s in the connection handler).
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));

    let c = count.clone();
    socket.on("tick", move |socket, mut event| {
        let c = c.clone();
        async move {
            let n = c.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            let _ = event.ack(&n);
            let _ = socket.emit("pair", (1, "two")); // a tuple is two arguments, as emit("pair", 1, "two") in Node
        }
    });
    socket.once("hello", |socket, _event| async move { let _ = socket.emit("hi-once", ()); });
    socket.on("untick", |socket, _event| async move { socket.off("tick"); });

    socket.on_any(|_socket, event| async move { tracing::debug!(name = event.name(), "in"); });
    socket.on_any_outgoing(|_socket, event_name, _args| { tracing::debug!(event_name, "out"); });

    // socket.use: let the packet through (possibly changed) or refuse it; a refusal reaches the error listeners.
    socket.use_middleware(|_socket, event| async move {
        if event.name() == "forbidden" {
            Err(ConnectError::new("not allowed"))
        } else {
            Ok(event)
        }
    });
    socket.on_error(|socket, err| async move { let _ = socket.emit("error-seen", &err.to_string()); });

    socket.join(["a", "b", "c"]);
    socket.leave(["a", "b"]);
    let _ = socket.volatile().emit("position", (3, 4)); // two arguments, may be dropped

    let app = socket.state::<App>().expect("set on the builder");
    let _ = socket.emit("welcome", &app.greeting);
});

// Shortcuts on the server and the namespace, as in Node.
let answers = io.timeout(std::time::Duration::from_secs(3)).emit_with_ack("survey", ()).await;
let sockets = root.fetch_sockets().await;
io.close().await; // io.close(): stop accepting, disconnect everyone, resolve when the connections are gone
}

/// With no client connected, every step of the sketch completes at once.
#[tokio::test]
async fn the_sketch_runs() {
    tokio::time::timeout(std::time::Duration::from_secs(10), sketch())
        .await
        .expect("the sketch finishes");
}

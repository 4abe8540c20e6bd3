//! `Server::close` with the official `socket.io-client` 4.8.4, in each
//! transport mode (interop/close-client.mjs): the client sees `transport
//! close`, and a new connection gets a `connect_error`.

use std::sync::Arc;

use rally::Server;
use rally_testkit::{interop, node};
use tokio::sync::Notify;

/// Asked for by a client's `close-server` event; the test closes the server.
struct CloseRequested(Arc<Notify>);

async fn scenario(mode: &str) {
    let requested = Arc::new(Notify::new());
    let io: Server = interop::lenient()
        .state(CloseRequested(requested.clone()))
        .build();
    io.of("/").on("close-server", |socket, _event| async move {
        if let Some(close) = socket.state::<CloseRequested>() {
            close.0.notify_one();
        }
    });
    let (url, io) = interop::start_server(io).await;
    let closing = tokio::spawn(async move {
        requested.notified().await;
        io.close().await;
        io
    });
    node::run("close-client.mjs", &[mode, &url]).await;
    let io = closing.await.expect("the closing task");
    assert_eq!(io.connection_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling() {
    scenario("polling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket() {
    scenario("websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade() {
    scenario("upgrade").await;
}

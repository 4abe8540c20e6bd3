//! WebSocket compression with the official `socket.io-client` 4.8.4 in
//! Node.js (interop/deflate-client.mjs): events, acks, binary and a
//! broadcast to several clients, around the 1024-byte threshold and at
//! 500 KB, with `perMessageDeflate` on and off on each side; the extension
//! agreed exactly when both want it, and the bytes on the wire counted.

use rally::PerMessageDeflate;
use rally_testkit::{interop, node};

/// Serves the interop protocol, with compression when `deflate`, and runs
/// the script against it in `mode`, the client offering when `offer`.
async fn run(deflate: bool, mode: &str, offer: bool) {
    let builder = interop::lenient().per_message_deflate(deflate.then(PerMessageDeflate::default));
    let (url, _io) = interop::start_server(interop::serve_protocol(builder)).await;
    let server = if deflate { "on" } else { "off" };
    let offer = if offer { "offer" } else { "no-offer" };
    let out = node::run("deflate-client.mjs", &[&url, mode, server, offer]).await;
    // The bytes counted on the wire, for `--nocapture`.
    print!("{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_with_deflate() {
    run(true, "websocket", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_with_deflate() {
    run(true, "upgrade", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_with_deflate_off_on_the_server() {
    run(false, "websocket", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_with_a_client_that_does_not_offer() {
    run(true, "websocket", false).await;
}

//! The Rust client, as `socket.io-client` is used from Node: connect,
//! listen, emit, ask with a timeout, reconnect on its own.
//!
//! ```text
//! cargo run --example acks                  # a server (crates/rally/examples/acks.rs)
//! cargo run -p rally-client --example client -- http://127.0.0.1:3000
//! ```

use std::time::Duration;

use rally_client::Manager;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:3000".into());
    let socket = Manager::builder(&url)
        .reconnection_delay(Duration::from_millis(500))
        .build()?
        .socket("/");
    // The server asks: answer (Node: socket.on("ping", (ack) => ack("pong"))).
    socket.on("ping", |_socket, mut event| async move {
        let _ = event.ack("pong");
    });
    socket.on_any(|_socket, event| async move {
        println!("got {} {:?}", event.name(), event.raw_arg(0));
    });
    socket.on_disconnect(|_socket, reason| async move {
        println!("disconnected: {reason} (reconnecting)");
    });
    socket.connect().await?;
    println!("connected as {:?}", socket.id());
    // Ask, with a timeout (Node: socket.timeout(2000).emitWithAck("add", 2, 3)).
    let sum = socket
        .timeout(Duration::from_secs(2))
        .emit_with_ack("add", (2, 3))
        .await?;
    println!("2 + 3 = {}", sum.arg::<i64>(0)?);
    // Listen until the process is stopped (Ctrl-C).
    std::future::pending::<()>().await;
    Ok(())
}

//! State, the way a Node.js app keeps it: what every handler shares lives
//! on the server (`Server::builder().state(..)`, read with
//! `socket.state::<T>()`, the axum way), what one connection keeps lives in
//! its listeners' closures (Node: the `let`s of the connection handler), and
//! what others must see of a socket goes in `socket.data`.
//!
//! ```text
//! cargo run --example state
//! cargo run -p rally-cli -- connect http://127.0.0.1:3000 --emit visit '[]' --emit visit '[]' --ack
//! ```

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use rally::Server;

/// Shared by every handler of the server.
struct App {
    name: &'static str,
    visits: AtomicU64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = Server::builder()
        .state(App {
            name: "rally demo",
            visits: AtomicU64::new(0),
        })
        .build();
    io.of("/").on_connection(|socket| async move {
        // This connection's own counter.
        let mine = Arc::new(AtomicU64::new(0));
        socket.on("visit", move |socket, mut event| {
            let mine = mine.clone();
            async move {
                let app = socket.state::<App>().expect("set on the builder");
                let all = app.visits.fetch_add(1, Ordering::Relaxed) + 1;
                let yours = mine.fetch_add(1, Ordering::Relaxed) + 1;
                // Visible to fetch_sockets, on any node of a cluster.
                let _ = socket.set_data(&serde_json::json!({ "visits": yours }));
                let _ = event.ack((app.name, all, yours));
            }
        });
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://127.0.0.1:3000");
    rally::serve(listener, io).await
}

//! Rally mounted in an axum application, beside ordinary routes.
//!
//! ```text
//! cargo run --example axum -- 3000
//! ```
//!
//! `GET /` answers from axum; everything under `/socket.io/` is Socket.IO.

use axum::{Router, routing::get};
use rally::Server;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);

    let io = Server::new();
    io.of("/").on_connection(|socket| async move {
        let _ = socket.emit("hello", "from rally inside axum");
    });
    io.of("/").on("echo", |socket, event| async move {
        let _ = socket.emit("echo", event.to_args());
    });

    let app = Router::new()
        .route("/", get(|| async { "an ordinary axum route" }))
        .route("/health", get(|| async { "ok" }))
        .layer(io.layer());

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}

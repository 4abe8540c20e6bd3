//! Authentication with a connect middleware, as `io.use((socket, next) =>
//! ...)` does it in Node: a client without the right token gets a
//! `connect_error` with a message and data; an accepted one keeps who it
//! is in `socket.data`.
//!
//! ```text
//! cargo run --example auth
//! # then, from another terminal:
//! cargo run -p rally-cli -- connect http://127.0.0.1:3000 --auth '{"token":"wrong"}' --expect welcome
//! cargo run -p rally-cli -- connect http://127.0.0.1:3000 --auth '{"token":"ada-secret"}' --expect welcome
//! ```

use rally::{ConnectError, Server};
use serde::Deserialize;

#[derive(Deserialize)]
struct Auth {
    token: String,
}

/// Who a token belongs to (a real app asks its session store).
fn user_of(token: &str) -> Option<&'static str> {
    match token {
        "ada-secret" => Some("ada"),
        "grace-secret" => Some("grace"),
        _ => None,
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = Server::new();
    let root = io.of("/");
    root.use_middleware(|socket| async move {
        let token = socket.auth::<Auth>().map(|a| a.token).unwrap_or_default();
        match user_of(&token) {
            Some(user) => {
                let _ = socket.set_data(&serde_json::json!({ "user": user }));
                Ok(())
            }
            None => Err(ConnectError::new("not authorized")
                .with_data(&serde_json::json!({ "hint": "send {\"token\": ...} as auth" }))),
        }
    });
    root.on_connection(|socket| async move {
        let data: serde_json::Value = socket.data().unwrap_or_default();
        let _ = socket.emit(
            "welcome",
            &format!("hello, {}", data["user"].as_str().unwrap_or("?")),
        );
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://127.0.0.1:3000");
    rally::serve(listener, io).await
}

//! Compressed long-polling bodies: the client asks for gzip or deflate and
//! reads what a Rally server with `httpCompression` (on by default) sends.

mod common;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use common::{Client, Mode, within};
use rally::Server;
use serde_json::json;

/// A Rally server that answers `history` with `count` chat messages and
/// counts the gzip poll replies it sends.
async fn chat_server(count: usize) -> (String, Arc<AtomicUsize>) {
    let gzipped = Arc::new(AtomicUsize::new(0));
    let seen = gzipped.clone();
    let io = Server::builder()
        .on_headers(move |headers, _req| {
            if headers
                .get(http::header::CONTENT_ENCODING)
                .is_some_and(|v| v == "gzip")
            {
                seen.fetch_add(1, Ordering::Relaxed);
            }
        })
        .build();
    io.of("/").on("history", move |socket, _event| async move {
        let history: Vec<_> = (0..count)
            .map(|i| json!({"from": "ada", "text": format!("message number {i}"), "at": 1_700_000_000 + i}))
            .collect();
        let _ = socket.emit("history", &history);
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("an address").port();
    tokio::spawn(rally::serve(listener, io));
    (format!("http://127.0.0.1:{port}"), gzipped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_message_arrives_gzipped_over_polling() {
    let (url, gzipped) = chat_server(2000).await;
    let mut client = Client::new(&url, Mode::Polling);
    let (socket, mut rec) = client.socket("/");
    within("connect", socket.connect()).await.expect("connects");
    socket.emit("history", ()).expect("emits");
    let history = rec.event("history").await;
    let messages = history[0].as_array().expect("an array");
    assert_eq!(messages.len(), 2000);
    assert_eq!(messages[1999]["text"], json!("message number 1999"));
    assert!(
        gzipped.load(Ordering::Relaxed) >= 1,
        "no poll reply was gzipped"
    );
    client.settle().await;
}

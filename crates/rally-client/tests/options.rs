//! The manager's options (path, query, extra headers, transports), POSTs
//! split at the server's maxPayload, closing, and what types are Send and
//! Sync.

mod common;

use common::{Client, Mode, fake::FakeServer, within};
use rally::{DisconnectReason as ServerReason, Server};
use rally_client::{
    AckError, AckFuture, AckReply, AckSender, DisconnectReason, Emitter, Error, Event, Manager,
    Socket, Transport,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// A Rally server on `/custom-path/` that tells each socket its handshake
/// and reports disconnection reasons.
async fn handshake_server() -> (String, mpsc::UnboundedReceiver<ServerReason>) {
    let io = Server::builder().path("/custom-path/").build();
    io.of("/").on_connection(|socket| async move {
        let handshake = socket.handshake();
        let header = handshake
            .headers
            .get("x-test")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let query: serde_json::Map<String, Value> = handshake
            .query
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let _ = socket.emit("handshake", &json!({"header": header, "query": query}));
    });
    io.of("/").on("message", |socket, event| async move {
        let _ = socket.emit("message-back", event.to_args());
    });
    let (tx, reasons) = mpsc::unbounded_channel();
    io.of("/").on_disconnect(move |_socket, reason| {
        let _ = tx.send(reason);
        async {}
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("an address").port();
    tokio::spawn(rally::serve(listener, io));
    (format!("http://127.0.0.1:{port}"), reasons)
}

async fn path_query_and_headers(mode: Mode) {
    let (url, _) = handshake_server().await;
    let mut client = Client::with(&format!("{url}/?from=url"), mode, |b| {
        b.path("/custom-path")
            .query("token", "a b&c")
            .extra_header("x-test", "hello")
    });
    let (socket, mut rec) = client.socket("/");
    within("connect", socket.connect()).await.expect("connects");
    let handshake = rec.event("handshake").await;
    assert_eq!(handshake[0]["header"], json!("hello"));
    let query = &handshake[0]["query"];
    assert_eq!(query["from"], json!("url"));
    // Sent percent-encoded; the server decodes it, as the reference does.
    assert_eq!(query["token"], json!("a b&c"), "sent percent-encoded");
    assert_eq!(query["EIO"], json!("4"));
    client.settle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_query_and_headers_polling() {
    path_query_and_headers(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_query_and_headers_websocket() {
    path_query_and_headers(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_query_and_headers_upgrade() {
    path_query_and_headers(Mode::Upgrade).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_request_carries_query_and_headers() {
    let mut server = FakeServer::start().await;
    let manager = Manager::builder(&format!("{}/?a=1", server.url()))
        .transports([Transport::WebSocket])
        .extra_header("x-test", "ws")
        .build()
        .expect("a manager");
    let socket = manager.socket("/");
    let connecting = tokio::spawn(async move { socket.connect().await });
    let conn = server.accept("sid", 1000, 1000).await;
    assert_eq!(
        conn.request.uri().to_string(),
        "/socket.io/?a=1&EIO=4&transport=websocket"
    );
    assert_eq!(
        conn.request.headers().get("x-test").map(|v| v.as_bytes()),
        Some(&b"ws"[..])
    );
    drop(conn);
    connecting.abort();
}

async fn large_buffer_is_split(kind: common::Kind) {
    let server = common::TestServer::start(kind).await;
    let client = Client::new(&server.url(), Mode::Polling);
    let (socket, mut rec) = client.socket("/");
    // 1.5 MB buffered before connecting: over the 1 MB maxPayload, so it
    // must go out in several POSTs.
    let chunk = "x".repeat(50_000);
    for i in 0..30 {
        socket
            .emit("message", rally_client::Args::new().arg(&i).arg(&chunk))
            .expect("emits");
    }
    within("connect", socket.connect()).await.expect("connects");
    for i in 0..30 {
        let back = rec.event("message-back").await;
        assert_eq!(back[0], json!(i));
        assert_eq!(back[1].as_str().map(str::len), Some(50_000));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_buffer_is_split_rally() {
    large_buffer_is_split(common::Kind::Rally).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_buffer_is_split_node() {
    large_buffer_is_split(common::Kind::Node).await;
}

async fn close(mode: Mode) {
    let (url, mut reasons) = handshake_server().await;
    let mut client = Client::with(&url, mode, |b| b.path("/custom-path/"));
    let (socket, mut rec) = client.socket("/");
    within("connect", socket.connect()).await.expect("connects");
    rec.event("handshake").await;
    client.settle().await;
    socket.emit("message", "last words").expect("emits");
    within("close", client.manager.close()).await;
    assert_eq!(
        within("the server's side", reasons.recv()).await,
        Some(ServerReason::ClientNamespaceDisconnect)
    );
    assert_eq!(
        rec.disconnected().await,
        DisconnectReason::IoClientDisconnect
    );
    assert!(!socket.active());
    assert!(
        socket.emit("message", "after").is_ok(),
        "buffered, not an error"
    );

    // Dropping every handle closes the connection too.
    let client = Client::with(&url, mode, |b| b.path("/custom-path/"));
    let (socket, mut rec) = client.socket("/");
    within("connect", socket.connect()).await.expect("connects");
    rec.event("handshake").await;
    drop((client, socket, rec));
    let reason = within("the server's side", reasons.recv())
        .await
        .expect("a reason");
    assert_eq!(reason, ServerReason::TransportClose);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_polling() {
    close(Mode::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_websocket() {
    close(Mode::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_upgrade() {
    close(Mode::Upgrade).await;
}

#[tokio::test]
async fn reserved_names_and_bad_args_are_refused() {
    let socket = Manager::new("http://127.0.0.1:9")
        .expect("a manager")
        .socket("/");
    for name in [
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    ] {
        assert!(matches!(
            socket.emit(name, ()),
            Err(rally_client::EmitError::Reserved(n)) if n == name
        ));
    }
    let mut bad = std::collections::HashMap::new();
    bad.insert(vec![1u8], 1);
    assert!(matches!(
        socket.emit("x", &bad),
        Err(rally_client::EmitError::Serialize(_))
    ));
    assert!(matches!(
        socket.emit_with_ack("connect", ()).await,
        Err(AckError::Emit(rally_client::EmitError::Reserved(_)))
    ));
    assert!(socket.set_auth(&json!([1])).is_err());
    assert!(matches!(
        Manager::new("ftp://example.invalid"),
        Err(Error::InvalidUrl(_))
    ));
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Manager>();
    send_sync::<Socket>();
    send_sync::<Event>();
    send_sync::<AckSender>();
    send_sync::<AckReply>();
    send_sync::<rally_client::Args>();
    send_sync::<Error>();
    send_sync::<AckError>();
    send_sync::<Emitter<'static>>();
    send::<AckFuture>();
}

//! The heartbeat the server drives: pongs keep the connection, a silent
//! server is detected (`ping timeout`), and a parse error drops the
//! connection. Real servers for the positive control, a scripted one for
//! the rest.

mod common;

use std::time::Duration;

use common::{Client, Kind, Mode, Rec, TestServer, fake::FakeServer, within};
use rally_client::{DisconnectReason, Manager, Transport};
use serde_json::json;

/// The servers ping every 300 ms and give 200 ms for the pong: a client that
/// did not answer would be gone after 500 ms.
async fn pongs_keep_the_connection(kind: Kind, mode: Mode) {
    let server = TestServer::start(kind).await;
    let mut client = Client::new(&server.url(), mode);
    let (socket, mut rec) = client.socket("/");
    within("connect", socket.connect()).await.expect("connects");
    rec.event("auth").await;
    client.settle().await;
    let engine_id = client.manager.engine_id();
    tokio::time::sleep(Duration::from_millis(800)).await;
    socket.emit("message", "alive").expect("emits");
    assert_eq!(rec.event("message-back").await, [json!("alive")]);
    assert_eq!(client.manager.engine_id(), engine_id);
    assert!(
        !rec.take_all()
            .iter()
            .any(|r| matches!(r, Rec::Disconnect(_))),
        "the connection held"
    );
}

each_server_and_mode!(pongs_keep_the_connection);

fn fast_manager(url: &str) -> Manager {
    Manager::builder(url)
        .transports([Transport::WebSocket])
        .reconnection_delay(Duration::from_millis(20))
        .reconnection_delay_max(Duration::from_millis(40))
        .build()
        .expect("a manager")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_a_ping_timeout() {
    let mut server = FakeServer::start().await;
    let manager = fast_manager(&server.url());
    let socket = manager.socket("/");
    let mut rec = common::Recorder::attach(&socket);
    let connecting = tokio::spawn({
        let socket = socket.clone();
        async move { socket.connect().await }
    });
    let mut first = server.accept("one", 100, 100).await;
    first.accept_namespace("socket-one").await;
    within("connect", connecting)
        .await
        .expect("joins")
        .expect("connects");

    // Pings are answered, and each one pushes the deadline back.
    let started = tokio::time::Instant::now();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(120)).await;
        first.send("2").await;
        assert_eq!(first.recv().await, "3");
    }
    assert!(started.elapsed() > Duration::from_millis(300));
    assert!(socket.connected());

    // Then silence: the client gives up after pingInterval + pingTimeout.
    let silent = tokio::time::Instant::now();
    assert_eq!(rec.disconnected().await, DisconnectReason::PingTimeout);
    let waited = silent.elapsed();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_millis(1000),
        "{waited:?}"
    );
    // And reconnects.
    let mut second = server.accept("two", 1000, 1000).await;
    second.accept_namespace("socket-two").await;
    rec.connected().await;
    rec.connected().await;
    assert_eq!(socket.id().as_deref(), Some("socket-two"));
    assert_eq!(manager.engine_id().as_deref(), Some("two"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parse_error_drops_the_connection() {
    let mut server = FakeServer::start().await;
    let manager = fast_manager(&server.url());
    let socket = manager.socket("/");
    let mut rec = common::Recorder::attach(&socket);
    let connecting = tokio::spawn({
        let socket = socket.clone();
        async move { socket.connect().await }
    });
    let mut first = server.accept("one", 1000, 1000).await;
    first.accept_namespace("socket-one").await;
    within("connect", connecting)
        .await
        .expect("joins")
        .expect("connects");
    first.send(r#"42["fine",1]"#).await;
    assert_eq!(rec.event("fine").await, [json!(1)]);
    first.send(r#"42["broken""#).await;
    assert_eq!(rec.disconnected().await, DisconnectReason::ParseError);
    let mut second = server.accept("two", 1000, 1000).await;
    second.accept_namespace("socket-two").await;
    second.send(r#"42["again"]"#).await;
    assert_eq!(rec.event("again").await, Vec::<serde_json::Value>::new());
}

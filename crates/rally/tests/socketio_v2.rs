//! Socket.IO protocol 4 (socket.io-client 2.x) on Engine.IO protocol 3
//! sessions, by hand over WebSocket, as socket.io 4.8.4 with `allowEIO3`
//! answers it: `/` joined without asking, a namespace's query string as its
//! auth, CONNECT replies without payload, refusals as bare data or message,
//! the socket id in `/` the session's. The official v2 client is in
//! `interop_v2.rs`.

mod support;

use rally::{ConnectError, Server};
use rally_testkit::ws::{self, Frame, Ws};
use support::{TestServer, field, quiet};

async fn server() -> TestServer {
    let io = quiet().allow_eio3(true).build();
    for nsp in ["/", "/custom"] {
        io.of(nsp).on_connection(|socket| async move {
            let _ = socket.emit("auth", rally::Args::raw_json(socket.raw_auth()));
            let _ = socket.emit("id", socket.id().as_str());
        });
    }
    io.of("/plain")
        .use_middleware(|_socket| async move { Err(ConnectError::new("go away")) });
    io.of("/data").use_middleware(|_socket| async move {
        Err(ConnectError::new("go away").with_data(&serde_json::json!({"code": 7})))
    });
    TestServer::start(io).await
}

/// A protocol 3 WebSocket session: its open packet's sid.
async fn open_v3(server: &TestServer) -> (Ws, String) {
    let mut socket = ws::connect(
        &format!("ws://{}/socket.io/?EIO=3&transport=websocket", server.addr),
        &[],
    )
    .await;
    let open = ws::expect_text(&mut socket).await;
    assert!(open.starts_with("0{"), "{open}");
    (socket, field(&open, "sid"))
}

/// The next text frame, pings skipped.
async fn text(socket: &mut Ws) -> String {
    loop {
        match ws::frame(socket).await {
            Frame::Text(t) if t == "3" => {}
            Frame::Text(t) => return t,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_root_namespace_is_joined_without_asking() {
    let server = server().await;
    let (mut socket, sid) = open_v3(&server).await;
    // No payload in the CONNECT reply.
    assert_eq!(text(&mut socket).await, "40");
    assert_eq!(text(&mut socket).await, r#"42["auth",{}]"#);
    // The socket's id in `/` is the Engine.IO session's.
    assert_eq!(text(&mut socket).await, format!(r#"42["id","{sid}"]"#));
}

#[tokio::test]
async fn a_namespace_query_is_its_auth() {
    let server = server().await;
    let (mut socket, sid) = open_v3(&server).await;
    assert_eq!(text(&mut socket).await, "40");
    text(&mut socket).await;
    text(&mut socket).await;
    ws::send_text(&mut socket, "40/custom?token=a%20b&n=1,").await;
    assert_eq!(text(&mut socket).await, "40/custom,");
    let auth = text(&mut socket).await;
    let auth: serde_json::Value = serde_json::from_str(
        auth.strip_prefix(r#"42/custom,["auth","#)
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or_else(|| panic!("{auth}")),
    )
    .expect("json");
    assert_eq!(auth, serde_json::json!({"token": "a b", "n": "1"}));
    // A fresh id in a custom namespace (the reference's is `/custom#<sid>`:
    // Rally's socket ids have one shape).
    let id = text(&mut socket).await;
    assert!(!id.contains(&sid), "{id}");
    // Later packets name the namespace without the query.
    ws::send_text(&mut socket, "41/custom,").await;
    ws::send_text(&mut socket, "40/custom,").await;
    assert_eq!(text(&mut socket).await, "40/custom,");
}

#[tokio::test]
async fn refusals_are_the_data_or_the_message() {
    let server = server().await;
    let (mut socket, _) = open_v3(&server).await;
    for _ in 0..3 {
        text(&mut socket).await;
    }
    ws::send_text(&mut socket, "40/plain,").await;
    assert_eq!(text(&mut socket).await, r#"44/plain,"go away""#);
    ws::send_text(&mut socket, "40/data,").await;
    assert_eq!(text(&mut socket).await, r#"44/data,{"code":7}"#);
    // An unknown namespace: an object, as the reference sends it to v2
    // clients too.
    ws::send_text(&mut socket, "40/nowhere,").await;
    assert_eq!(
        text(&mut socket).await,
        r#"44/nowhere,{"message":"Invalid namespace"}"#
    );
}

#[tokio::test]
async fn v2_and_v4_clients_share_a_broadcast() {
    let server = server().await;
    let (mut v3, _) = open_v3(&server).await;
    for _ in 0..3 {
        text(&mut v3).await;
    }
    let mut v4 = server.client().await;
    v4.connect("/").await;
    // Its own `auth` and `id`, then nothing else.
    assert_eq!(v4.until_sync().await.len(), 2);
    // Both get the same text frame.
    let io: &Server = &server.io;
    io.emit("all", &1).expect("emits");
    assert_eq!(text(&mut v3).await, r#"42["all",1]"#);
    v4.expect(r#"42["all",1]"#).await;
}

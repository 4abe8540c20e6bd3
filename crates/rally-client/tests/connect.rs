//! Connecting: auth, ids, the transports and the upgrade, refusals, a clean
//! close. Against Rally and the official Node.js server, on each transport.

mod common;

use common::{Client, Kind, Mode, Rec, TestServer, within};
use rally_client::{Args, DisconnectReason, Error};
use serde_json::json;

async fn connect(kind: Kind, mode: Mode) {
    let server = TestServer::start(kind).await;
    let mut client = Client::new(&server.url(), mode);
    let (socket, mut rec) = client.socket("/");
    socket
        .set_auth(&json!({"token": "abc"}))
        .expect("an object");
    within("connect", socket.connect()).await.expect("connects");
    assert_eq!(rec.event("auth").await, [json!({"token": "abc"})]);
    let id = socket.id().expect("an id");
    let engine_id = client.manager.engine_id().expect("an engine id");
    assert_eq!(id.len(), 20);
    assert_ne!(id, engine_id);
    assert!(socket.connected() && socket.active() && !socket.recovered());

    client.settle().await;
    assert_eq!(socket.id(), Some(id));
    assert_eq!(client.manager.engine_id(), Some(engine_id));
    socket
        .emit("message", Args::new().arg(&"hi").arg(&1))
        .expect("emits");
    assert_eq!(rec.event("message-back").await, [json!("hi"), json!(1)]);

    // Without auth, the server sees `{}`.
    let other = Client::new(&server.url(), mode);
    let (bare, mut bare_rec) = other.socket("/");
    within("connect", bare.connect()).await.expect("connects");
    assert_eq!(bare_rec.event("auth").await, [json!({})]);

    client.assert_settled();
    within("close", client.manager.close()).await;
    assert!(!socket.connected() && !socket.active());
    assert_eq!(
        rec.disconnected().await,
        DisconnectReason::IoClientDisconnect
    );
    assert_eq!(client.manager.transport(), None);
}

async fn auth_function(kind: Kind, mode: Mode) {
    let server = TestServer::start(kind).await;
    let client = Client::new(&server.url(), mode);
    let (socket, mut rec) = client.socket("/mw");
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = calls.clone();
    socket.set_auth_with(move || {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move { json!({"token": "secret", "call": n}) }
    });
    within("connect", socket.connect()).await.expect("connects");
    assert_eq!(
        rec.event("auth").await,
        [json!({"token": "secret", "call": 0})]
    );
}

async fn refused(kind: Kind, mode: Mode) {
    let server = TestServer::start(kind).await;
    let client = Client::new(&server.url(), mode);
    let (root, mut root_rec) = client.socket("/");
    within("connect", root.connect()).await.expect("connects");
    root_rec.event("auth").await;

    let (mw, mut mw_rec) = client.socket("/mw");
    match within("refusal", mw.connect()).await {
        Err(Error::Refused { message, data }) => {
            assert_eq!(message, "not authorized");
            assert_eq!(data, Some(json!({"reason": "token"})));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(!mw.active() && !mw.connected());
    assert_eq!(
        mw_rec
            .wait("connect_error", |r| matches!(r, Rec::ConnectError(..)))
            .await,
        Rec::ConnectError("not authorized".into(), Some(json!({"reason": "token"})))
    );

    let (unknown, _) = client.socket("/unknown");
    match within("refusal", unknown.connect()).await {
        Err(Error::Refused { message, data }) => {
            assert_eq!((message.as_str(), data), ("Invalid namespace", None));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // The engine and `/` are unharmed; `/mw` connects with the token.
    root.emit("message", "still").expect("emits");
    assert_eq!(root_rec.event("message-back").await, [json!("still")]);
    let engine_id = client.manager.engine_id();
    mw.set_auth(&json!({"token": "secret"})).expect("an object");
    within("connect", mw.connect()).await.expect("connects");
    assert_eq!(mw_rec.event("auth").await, [json!({"token": "secret"})]);
    assert_eq!(client.manager.engine_id(), engine_id);
}

async fn refused_alone_closes_the_connection(kind: Kind, mode: Mode) {
    let server = TestServer::start(kind).await;
    let client = Client::new(&server.url(), mode);
    let (mw, _) = client.socket("/mw");
    assert!(within("refusal", mw.connect()).await.is_err());
    // No socket wants the connection any more: it closes, nothing reconnects.
    within("the close", async {
        while client.manager.transport().is_some() {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

each_server_and_mode!(
    connect,
    auth_function,
    refused,
    refused_alone_closes_the_connection
);

//! The engine's hooks and options as a Socket.IO server passes them on
//! (`io.engine.on("initial_headers" | "headers" | "connection_error")`,
//! an async `allowRequest`, `addTrailingSlash`), and async dynamic
//! namespace predicates.

mod support;

use http::HeaderValue;
use rally::Refusal;
use support::{TestServer, channel, quiet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_hooks_and_connection_error_pass_through_the_builder() {
    let (tx, mut rx) = channel();
    let io = quiet()
        .on_initial_headers(|headers, _| {
            headers.insert("x-initial", HeaderValue::from_static("1"));
        })
        .on_headers(|headers, _| {
            headers.insert("x-every", HeaderValue::from_static("1"));
        })
        .on_connection_error(move |err| {
            let _ = tx.send((err.code, err.reason, err.message.to_owned()));
        })
        .build();
    let server = TestServer::start(io).await;
    let handshake = server
        .http()
        .get("/socket.io/?EIO=4&transport=polling")
        .await;
    assert_eq!(handshake.status, 200);
    assert_eq!(handshake.header("x-initial"), Some("1"), "{handshake:?}");
    assert_eq!(handshake.header("x-every"), Some("1"));
    let mut conn = server
        .http()
        .upgrade("/socket.io/?EIO=4&transport=websocket", &[])
        .await;
    let reply = conn.read_response().await;
    assert_eq!(reply.status, 101);
    assert_eq!(reply.header("x-initial"), Some("1"), "{reply:?}");

    let refused = server
        .http()
        .get("/socket.io/?EIO=4&transport=polling&sid=nope")
        .await;
    refused.assert_error(400, 1, "Session ID unknown");
    assert!(!refused.has_header("x-every"));
    assert_eq!(
        rx.recv().await,
        (1, Refusal::UnknownSid, "Session ID unknown".to_owned())
    );
    rx.assert_empty();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_allow_request_and_trailing_slash_pass_through_the_builder() {
    let io = quiet()
        .path("/rt")
        .add_trailing_slash(false)
        .allow_request_async(|req| {
            let query = req.uri.query().unwrap_or_default().to_owned();
            async move {
                tokio::task::yield_now().await;
                if query.contains("token=ok") {
                    Ok(())
                } else {
                    Err("no".into())
                }
            }
        })
        .build();
    let server = TestServer::start(io).await;
    server
        .http()
        .get("/rt?EIO=4&transport=polling")
        .await
        .assert_error(403, 4, "no");
    let ok = server
        .http()
        .get("/rt?EIO=4&transport=polling&token=ok")
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_dynamic_namespaces_accept_and_refuse() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    // A sync predicate asked first, then an async one.
    let sync = io.dynamic(|name, _| name == "/sync");
    sync.on_connection(|socket| async move {
        let _ = socket.emit("via", "sync");
    });
    let parent = io.dynamic_async(move |name, auth| {
        let (name, vip) = (name.to_owned(), auth["vip"] == true);
        let tx = tx.clone();
        async move {
            tokio::task::yield_now().await;
            if name != support::SYNC_NSP {
                let _ = tx.send(name.clone());
            }
            name.starts_with("/room-") && vip
        }
    });
    parent.on_connection(|socket| async move {
        let _ = socket.emit("hello", socket.ns().name());
    });
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    client.connect_auth("/room-1", r#"{"vip":true}"#).await;
    client.expect(r#"42/room-1,["hello","/room-1"]"#).await;
    assert_eq!(rx.recv().await, "/room-1");
    client.send(r#"40/room-2,{"vip":false}"#).await;
    client
        .expect(r#"44/room-2,{"message":"Invalid namespace"}"#)
        .await;
    assert_eq!(rx.recv().await, "/room-2");
    // The sync predicate before it answers without it.
    client.connect("/sync").await;
    client.expect(r#"42/sync,["via","sync"]"#).await;
    client.sync().await;
    rx.assert_empty();
}

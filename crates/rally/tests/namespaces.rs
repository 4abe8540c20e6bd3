//! Namespaces: static ones side by side, and dynamic ones created on
//! demand by `io.dynamic(...)`.

mod support;

use std::time::Duration;

use rally::{ConnectError, DisconnectReason};
use serde_json::json;
use support::{TestServer, channel, quiet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_namespaces_are_created_by_name() {
    let io = quiet().build();
    let parent = io.dynamic(|name, _auth| name.starts_with("/dyn-"));
    parent.on_connection(|socket| async move {
        let _ = socket.emit("hello", socket.ns().name());
    });
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    let one = client.connect("/dyn-1").await;
    client.expect(r#"42/dyn-1,["hello","/dyn-1"]"#).await;
    let two = client.connect("/dyn-2").await;
    client.expect(r#"42/dyn-2,["hello","/dyn-2"]"#).await;
    assert_eq!(server.socket("/dyn-1", one).ns().name(), "/dyn-1");
    assert_eq!(server.socket("/dyn-2", two).ns().name(), "/dyn-2");
    // A name the predicate refuses is an unknown namespace.
    client.send("40/other,").await;
    client
        .expect(r#"44/other,{"message":"Invalid namespace"}"#)
        .await;
    // `/` stays a namespace of its own.
    client.connect("/").await;
    client.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_namespaces_may_decide_on_the_auth_payload() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    let _parent = io.dynamic(move |name, auth| {
        if name != support::SYNC_NSP {
            let _ = tx.send((name.to_owned(), auth.clone()));
        }
        name == "/vip" && auth["vip"] == json!(true)
    });
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    client.send("40/vip,{}").await;
    client
        .expect(r#"44/vip,{"message":"Invalid namespace"}"#)
        .await;
    assert_eq!(rx.recv().await, ("/vip".to_owned(), json!({})));
    client.connect_auth("/vip", r#"{"vip":true}"#).await;
    assert_eq!(rx.recv().await.1, json!({"vip": true}));
    // Once created, the child is a namespace like the others (as in the
    // reference, the predicate is not asked again).
    let mut other = server.client().await;
    other.connect_auth("/vip", "{}").await;
    client.sync().await;
    rx.assert_empty();
}

/// Without an auth payload the reference's `Client.connect(name, auth = {})`
/// hands the dynamic namespace check `{}` (as Rally's `raw_auth` says).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dynamic_predicate_sees_an_empty_object_without_auth() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    let _parent = io.dynamic(move |name, auth| {
        if name == "/x" {
            let _ = tx.send(auth.clone());
        }
        false
    });
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    client.send("40/x,").await;
    client
        .expect(r#"44/x,{"message":"Invalid namespace"}"#)
        .await;
    assert_eq!(rx.recv().await, json!({}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_handlers_apply_to_every_child() {
    let io = quiet().build();
    let parent = io.dynamic(|name, _auth| name.starts_with("/room-"));
    parent.use_middleware(|socket| async move {
        match socket.auth::<serde_json::Value>() {
            Ok(auth) if auth["token"] == "ok" => Ok(()),
            _ => Err(ConnectError::new("no token")),
        }
    });
    parent.on("where", |socket, mut event| async move {
        let _ = event.ack(socket.ns().name());
    });
    let (tx, mut rx) = channel();
    parent.on_disconnect(move |socket, reason| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((socket.ns().name().to_owned(), reason));
        }
    });
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    client.send("40/room-a,{}").await;
    client.expect(r#"44/room-a,{"message":"no token"}"#).await;
    client.connect_auth("/room-a", r#"{"token":"ok"}"#).await;
    client.send(r#"42/room-a,1["where"]"#).await;
    client.expect(r#"43/room-a,1["/room-a"]"#).await;

    // Handlers registered after a child exists apply to it too.
    parent.on("late", |_socket, mut event| async move {
        let _ = event.ack("late handler");
    });
    client.send(r#"42/room-a,2["late"]"#).await;
    client.expect(r#"43/room-a,2["late handler"]"#).await;
    client.connect_auth("/room-b", r#"{"token":"ok"}"#).await;
    client.send(r#"42/room-b,3["late"]"#).await;
    client.expect(r#"43/room-b,3["late handler"]"#).await;

    client.send("41/room-b,").await;
    assert_eq!(
        rx.recv().await,
        (
            "/room-b".to_owned(),
            DisconnectReason::ClientNamespaceDisconnect
        )
    );
    client.sync().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emitting_on_the_parent_reaches_every_child() {
    let io = quiet().build();
    let parent = io.dynamic(|name, _auth| name.starts_with("/dyn-"));
    let server = TestServer::start(io).await;
    let (mut one, one_id) = server.joined("/dyn-1").await;
    let (mut two, _) = server.joined("/dyn-2").await;
    let (mut root, _) = server.joined("/").await;

    parent.emit("news", &1).unwrap();
    one.expect(r#"42/dyn-1,["news",1]"#).await;
    two.expect(r#"42/dyn-2,["news",1]"#).await;
    root.sync().await;

    // Rooms through the parent: per child, reached from the parent.
    server.socket("/dyn-1", one_id).join("r");
    parent.to("r").emit("in-r", ()).unwrap();
    one.expect(r#"42/dyn-1,["in-r"]"#).await;
    two.sync().await;
    let mut ids: Vec<_> = parent
        .broadcast()
        .fetch_sockets()
        .await
        .unwrap()
        .iter()
        .map(|s| s.id())
        .collect();
    ids.sort();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&one_id));

    // A child's own emit stays in the child.
    server.io.of("/dyn-2").emit("only-two", ()).unwrap();
    two.expect(r#"42/dyn-2,["only-two"]"#).await;
    one.sync().await;

    // Broadcast acks across children, each with its namespace's id.
    let pending = {
        let parent = parent.clone();
        tokio::spawn(async move {
            parent
                .broadcast()
                .timeout(Duration::from_secs(5))
                .emit_with_ack("q", ())
                .await
        })
    };
    one.expect(r#"42/dyn-1,0["q"]"#).await;
    two.expect(r#"42/dyn-2,0["q"]"#).await;
    one.send(r#"43/dyn-1,0[1]"#).await;
    two.send(r#"43/dyn-2,0[2]"#).await;
    let responses = support::within("the answers", pending)
        .await
        .unwrap()
        .unwrap();
    assert!(responses.all_answered());
    assert_eq!(responses.replies.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_namespace_wins_over_a_dynamic_one() {
    let io = quiet().build();
    let parent = io.dynamic(|_name, _auth| name_ok());
    parent.on_connection(|socket| async move {
        let _ = socket.emit("from", "dynamic");
    });
    io.of("/fixed").on_connection(|socket| async move {
        let _ = socket.emit("from", "static");
    });
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    client.connect("/fixed").await;
    client.expect(r#"42/fixed,["from","static"]"#).await;
    client.connect("/anything").await;
    client.expect(r#"42/anything,["from","dynamic"]"#).await;
}

fn name_ok() -> bool {
    true
}

/// With `cleanup_empty_child_namespaces`, a child whose last socket left
/// is forgotten: the predicate decides again on the next CONNECT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_children_are_cleaned_up_when_the_connection_closes() {
    let io = quiet().cleanup_empty_child_namespaces(true).build();
    let _parent = io.dynamic(|name, auth| name == "/vip" && auth["vip"] == json!(true));
    let server = TestServer::start(io).await;
    let mut vip = server.client().await;
    vip.connect_auth("/vip", r#"{"vip":true}"#).await;
    vip.close().await;
    server.wait_no_connections().await;
    let mut client = server.client().await;
    client.send("40/vip,{}").await;
    client
        .expect(r#"44/vip,{"message":"Invalid namespace"}"#)
        .await;
}

/// The reference removes an emptied child as soon as its last socket is
/// removed (socket.io 4.8.4 `ParentNamespace.createChild` wraps
/// `namespace._remove`), whatever the reason: a `41` is enough.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_children_are_cleaned_up_when_the_last_socket_leaves() {
    let io = quiet().cleanup_empty_child_namespaces(true).build();
    let _parent = io.dynamic(|name, auth| name == "/vip" && auth["vip"] == json!(true));
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    client.connect_auth("/vip", r#"{"vip":true}"#).await;
    client.send("41/vip,").await;
    client.sync().await;
    client.send("40/vip,{}").await;
    client
        .expect(r#"44/vip,{"message":"Invalid namespace"}"#)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cleanup_children_stay() {
    let io = quiet().build();
    let _parent = io.dynamic(|name, auth| name == "/vip" && auth["vip"] == json!(true));
    let server = TestServer::start(io).await;
    let mut vip = server.client().await;
    vip.connect_auth("/vip", r#"{"vip":true}"#).await;
    vip.close().await;
    server.wait_no_connections().await;
    let mut client = server.client().await;
    client.connect_auth("/vip", "{}").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_normalizes_names_and_returns_the_same_namespace() {
    let io = quiet().build();
    let a = io.of("chat");
    let b = io.of("/chat");
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert_eq!(a.name(), "/chat");
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    client.connect("/chat").await;
    client.sync().await;
}

//! Several namespaces multiplexed on one connection, and the server
//! disconnecting one of them. Against Rally and the official Node.js server,
//! on each transport.

mod common;

use common::{Client, Kind, Mode, Rec, TestServer, within};
use rally_client::{Args, DisconnectReason};
use serde_json::json;

async fn multiplexed(kind: Kind, mode: Mode) {
    let server = TestServer::start(kind).await;
    let mut client = Client::new(&server.url(), mode);
    let (root, mut root_rec) = client.socket("/");
    let (custom, mut custom_rec) = client.socket("/custom");
    custom
        .set_auth(&json!({"ns": "custom"}))
        .expect("an object");
    within("connect /", root.connect()).await.expect("connects");
    within("connect /custom", custom.connect())
        .await
        .expect("connects");
    assert_eq!(root_rec.event("auth").await, [json!({})]);
    assert_eq!(custom_rec.event("auth").await, [json!({"ns": "custom"})]);
    client.settle().await;
    let engine_id = client.manager.engine_id();
    assert!(engine_id.is_some());
    assert_ne!(root.id(), custom.id());

    root.emit("message", "for root").expect("emits");
    custom.emit("message", "for custom").expect("emits");
    assert_eq!(root_rec.event("message-back").await, [json!("for root")]);
    assert_eq!(
        custom_rec.event("message-back").await,
        [json!("for custom")]
    );
    let (a, b) = tokio::join!(
        root.emit_with_ack("message-with-ack", Args::new().arg(&"r")),
        custom.emit_with_ack("message-with-ack", Args::new().arg(&"c")),
    );
    assert_eq!(a.expect("acked").arg::<String>(0).expect("a string"), "r");
    assert_eq!(b.expect("acked").arg::<String>(0).expect("a string"), "c");
    // Nothing reached the wrong namespace.
    let events = |rec: &mut common::Recorder| {
        rec.take_all()
            .into_iter()
            .filter(|r| matches!(r, Rec::Event(..)))
            .collect::<Vec<_>>()
    };
    assert_eq!(events(&mut root_rec), []);
    assert_eq!(events(&mut custom_rec), []);

    // Leaving /custom keeps / and the engine.
    let custom_id = custom.id();
    custom.disconnect();
    assert_eq!(
        custom_rec.disconnected().await,
        DisconnectReason::IoClientDisconnect
    );
    root.emit("message", "alone").expect("emits");
    assert_eq!(root_rec.event("message-back").await, [json!("alone")]);
    assert_eq!(client.manager.engine_id(), engine_id);

    // /custom comes back on the same engine, with a new id.
    within("reconnect /custom", custom.connect())
        .await
        .expect("connects");
    assert_eq!(custom_rec.event("auth").await, [json!({"ns": "custom"})]);
    assert_ne!(custom.id(), custom_id);
    assert_eq!(client.manager.engine_id(), engine_id);
    client.assert_settled();
}

async fn server_disconnect(kind: Kind, mode: Mode) {
    let server = TestServer::start(kind).await;
    let mut client = Client::new(&server.url(), mode);
    let (root, mut root_rec) = client.socket("/");
    let (custom, mut custom_rec) = client.socket("/custom");
    within("connect /", root.connect()).await.expect("connects");
    within("connect /custom", custom.connect())
        .await
        .expect("connects");
    root_rec.event("auth").await;
    custom_rec.event("auth").await;
    root_rec.connected().await;
    client.settle().await;
    let engine_id = client.manager.engine_id();
    let root_id = root.id();

    root.emit("server-disconnect", ()).expect("emits");
    assert_eq!(
        root_rec.disconnected().await,
        DisconnectReason::IoServerDisconnect
    );
    assert!(!root.active() && !root.connected());
    // /custom goes on, on the same engine; / does not come back by itself.
    for i in 0..3 {
        custom.emit("message", &i).expect("emits");
        assert_eq!(custom_rec.event("message-back").await, [json!(i)]);
    }
    assert_eq!(client.manager.engine_id(), engine_id);
    assert!(!root.connected());
    assert!(
        !root_rec.take_all().contains(&Rec::Connect),
        "nothing reconnects after a server disconnect"
    );

    within("manual reconnect", root.connect())
        .await
        .expect("connects");
    root_rec.event("auth").await;
    assert_ne!(root.id(), root_id);
    client.assert_settled();
}

each_server_and_mode!(multiplexed, server_disconnect);

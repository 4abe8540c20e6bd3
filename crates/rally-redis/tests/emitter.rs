//! @socket.io/redis-emitter 5.1 (a Node.js process with no server) reaching
//! Rally clients through Redis.

mod support;

use std::time::Duration;

use rally_redis::Mode;
use serde_json::{Value, json};
use support::{DEADLINE, Driver, RallyNode, RedisServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emitter_reaches_rally_clients() {
    let redis = RedisServer::start().await;
    let rally = RallyNode::start(&redis.url(), Mode::Classic).await;
    rally.wait_for_nodes(1).await;
    let mut node = Driver::start(&redis.url()).await;
    node.client("r1", &rally.url(), &["room1"]).await;
    node.client("r2", &rally.url(), &[]).await;

    let args = json!(["hi", {"bin": [3, 4]}]);
    node.emitter(json!({"op": "emit", "rooms": ["room1"], "ev": "from-emitter", "args": args}))
        .await;
    node.emitter(json!({"op": "emit", "ev": "to-all", "args": [1]}))
        .await;
    assert_eq!(node.event("r1", "from-emitter").await, args);
    node.event("r1", "to-all").await;
    node.event("r2", "to-all").await;
    node.none_yet("from-emitter");

    node.emitter(json!({"op": "serverSideEmit", "ev": "hello", "args": ["from emitter"]}))
        .await;
    assert_eq!(
        node.event("r2", "got-hello").await,
        json!([["from emitter"]])
    );

    node.emitter(json!({"op": "socketsJoin", "rooms": ["room1"], "join": "vip"}))
        .await;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let vip = rally.io.to("vip").fetch_sockets().await.unwrap();
        if vip.len() == 1 {
            assert_eq!(vip[0].data::<Value>().unwrap()["name"], "r1");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "r1 never joined vip"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    node.emitter(json!({"op": "disconnectSockets", "rooms": ["vip"]}))
        .await;
    let line = node
        .expect("r1 disconnected", |l| {
            l["event"] == "disconnect" && l["client"] == "r1"
        })
        .await;
    assert_eq!(line["reason"], "io server disconnect");
    node.none_yet("disconnect");
}

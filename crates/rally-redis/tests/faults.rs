//! Redis killed and restarted under a running cluster: local delivery goes
//! on, nothing panics, the nodes reconnect, resubscribe and deliver again,
//! and the outage is counted.

mod support;

use rally_redis::Mode;
use serde_json::json;
use support::{Driver, RallyNode, RedisServer, eventually};

async fn restart(mode: Mode) {
    let mut redis = RedisServer::start().await;
    let a = RallyNode::start(&redis.url(), mode).await;
    let b = RallyNode::start(&redis.url(), mode).await;
    a.wait_for_nodes(2).await;
    let mut clients = Driver::start(&redis.url()).await;
    clients.client("a", &a.url(), &["room1"]).await;
    clients.client("b", &b.url(), &["room1"]).await;
    a.io.emit("before", &1).unwrap();
    clients.event("b", "before").await;

    redis.kill().await;
    eventually("both nodes notice the outage", || {
        std::future::ready(a.redis.is_down() && b.redis.is_down())
    })
    .await;
    // Local delivery goes on; what was meant for the other node is lost.
    a.io.emit("during", &2).unwrap();
    a.io.to("room1").emit("during-room", &3).unwrap();
    assert_eq!(clients.event("a", "during").await, json!([2]));
    assert_eq!(clients.event("a", "during-room").await, json!([3]));
    // Requests do not hang: without Redis, this node answers for itself.
    assert_eq!(a.io.broadcast().fetch_sockets().await.unwrap().len(), 1);

    redis.restart().await;
    eventually("both nodes resubscribe", || {
        std::future::ready(!a.redis.is_down() && !b.redis.is_down())
    })
    .await;
    a.wait_for_nodes(2).await;
    b.wait_for_nodes(2).await;
    a.io.to("room1").emit("after", &4).unwrap();
    b.io.emit("after-b", &5).unwrap();
    assert_eq!(clients.event("b", "after").await, json!([4]));
    assert_eq!(clients.event("a", "after-b").await, json!([5]));
    assert_eq!(a.io.broadcast().fetch_sockets().await.unwrap().len(), 2);
    assert!(a.redis.outages() >= 1 && b.redis.outages() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_classic() {
    restart(Mode::Classic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_sharded() {
    restart(Mode::Sharded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_streams() {
    restart(Mode::Streams).await;
}

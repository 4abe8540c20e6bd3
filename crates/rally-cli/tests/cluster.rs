//! `rally serve --redis`: two standalone servers joined through a real
//! Redis, the chat demo's broadcasts crossing from one to the other, and the
//! adapter's health in `/metrics` through a Redis restart.

mod support;

use rally_testkit::{cluster::Driver, eventually, redis::RedisServer};
use serde_json::json;
use support::Rally;

async fn metric_becomes(rally: &Rally, sample: &str, want: impl Fn(u64) -> bool) {
    eventually(&format!("{sample} as wanted"), || async {
        want(rally.get("/metrics").await.metric(sample))
    })
    .await;
}

async fn two_servers(mode: &str) {
    let mut redis = RedisServer::start().await;
    let url = redis.url();
    let a = Rally::start(&["--redis", &url, "--redis-mode", mode]);
    let b = Rally::start(&["--redis", &url, "--redis-mode", mode]);
    metric_becomes(&a, "rally_cluster_nodes", |n| n == 2).await;
    assert_eq!(a.get("/metrics").await.metric("rally_adapter_up"), 1);

    // A member joining on b is announced to the room's members on a.
    let mut clients = Driver::start(&url).await;
    clients
        .client("ann", &format!("http://127.0.0.1:{}", a.port), &[])
        .await;
    clients
        .client("bob", &format!("http://127.0.0.1:{}", b.port), &[])
        .await;
    clients
        .send(json!({"cmd": "emit", "client": "ann", "ev": "join", "args": ["lobby"]}))
        .await;
    clients.event("ann", "ack").await;
    // Sharded mode subscribes to the room's channel when it is created.
    metric_becomes(&a, "rally_rooms", |n| n == 1).await;
    clients
        .send(json!({"cmd": "emit", "client": "bob", "ev": "join", "args": ["lobby"]}))
        .await;
    assert_eq!(
        clients.event("ann", "user joined").await,
        json!([{"name": "bob", "room": "lobby"}])
    );

    // Redis restarts: counted, and back up.
    redis.restart().await;
    metric_becomes(&a, "rally_adapter_outages_total", |n| n >= 1).await;
    metric_becomes(&a, "rally_adapter_up", |n| n == 1).await;
    metric_becomes(&b, "rally_adapter_up", |n| n == 1).await;
    metric_becomes(&a, "rally_cluster_nodes", |n| n == 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_classic() {
    two_servers("classic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_sharded() {
    two_servers("sharded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_streams() {
    two_servers("streams").await;
}

//! Connection state recovery across nodes, in streams mode: the official
//! client (interop/recovery-client.mjs) in a room drops on one node, 50
//! broadcasts go out meanwhile from both nodes, and it comes back on the
//! other node (through a TCP proxy the test switches): every broadcast
//! arrives, in order, once, with its offset; its id, rooms and data are
//! back. Between two Rally nodes, and between Rally and a Node.js node
//! with @socket.io/redis-streams-adapter 0.3.1, both ways.

mod support;

use std::time::Duration;

use rally::ConnectionStateRecovery;
use serde_json::json;
use support::{
    RedisServer,
    recovery::{Proxy, RecoveryClient, RecoveryNode, redis_int, wait_for_entries, within},
};

/// 50 ticks to "news", ten at a time from `a` then `b` and so on (each ten
/// in the stream before the next: two nodes' broadcasts have no order but
/// the stream's), and broadcasts the client must not get.
async fn broadcast_50(port: u16, a: &RecoveryNode, b: &RecoveryNode) {
    let mut entries = redis_int(port, &["XLEN", "socket.io"]).await;
    for i in 0..50 {
        let node = if (i / 10) % 2 == 0 { a } else { b };
        node.io.to("news").emit("tick", &i).unwrap();
        if i % 10 == 0 {
            node.io.to("elsewhere").emit("not-for-you", &i).unwrap();
            node.io.except("news").emit("not-for-you", &i).unwrap();
        }
        if i % 10 == 9 {
            entries += 12;
            wait_for_entries(port, entries).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_recovers_on_another_rally_node() {
    let redis = RedisServer::start().await;
    let recovery = ConnectionStateRecovery::default();
    let mut a = RecoveryNode::start(&redis.url(), recovery.clone()).await;
    let b = RecoveryNode::start(&redis.url(), recovery).await;
    a.wait_for_nodes(2).await;
    let proxy = Proxy::start(a.addr).await;
    let mut client = RecoveryClient::start(&proxy.url());
    let id = client.join_news().await;

    proxy.set_down(true);
    proxy.switch(b.addr);
    proxy.kill();
    assert!(a.disconnected().await.is_recoverable());
    let (_, gone) = client.until("disconnect").await;
    assert_eq!(gone["reason"], "transport close", "{gone}");
    broadcast_50(redis.port, &a, &b).await;

    proxy.set_down(false);
    client.check_recovered(&id).await;
    let sid = rally::Sid::parse(&id).unwrap();
    assert!(b.io.of("/").get_socket(sid).is_some(), "on node b now");
    assert!(a.io.of("/").get_socket(sid).is_none());
    assert_eq!(b.io.recovery_stats().recovered, 1);

    // Live broadcasts from both nodes reach it once, in order, afterwards.
    let before = redis_int(redis.port, &["XLEN", "socket.io"]).await;
    a.io.to("news").emit("live", &1).unwrap();
    wait_for_entries(redis.port, before + 1).await;
    b.io.to("news").emit("live", &2).unwrap();
    assert_eq!(client.event("live").await[0], json!(1));
    assert_eq!(client.event("live").await[0], json!(2));
}

/// Back after `maxDisconnectionDuration`: the session expired in Redis,
/// the client gets a fresh one on the other node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_disconnection_duration_the_session_is_fresh() {
    let redis = RedisServer::start().await;
    let recovery =
        ConnectionStateRecovery::default().max_disconnection_duration(Duration::from_millis(300));
    let mut a = RecoveryNode::start(&redis.url(), recovery.clone()).await;
    let b = RecoveryNode::start(&redis.url(), recovery).await;
    a.wait_for_nodes(2).await;
    let proxy = Proxy::start(a.addr).await;
    let mut client = RecoveryClient::start(&proxy.url());
    let id = client.join_news().await;

    proxy.set_down(true);
    proxy.switch(b.addr);
    proxy.kill();
    assert!(a.disconnected().await.is_recoverable());
    // The session is in Redis (beside the stream), then expires.
    for (keys, what) in [(2, "the session kept"), (1, "the session expired")] {
        within(what, async {
            while redis_int(redis.port, &["DBSIZE"]).await != keys {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    }
    proxy.set_down(false);
    let (_, connect) = client.until("connect").await;
    assert_eq!(connect["recovered"], false, "{connect}");
    assert_ne!(connect["id"], id);
    assert_eq!(b.io.recovery_stats().unrecovered, 1);
}

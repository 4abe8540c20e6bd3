//! Connection state recovery across nodes, in streams mode: the official
//! client (interop/recovery-client.mjs) in a room drops on one node, 50
//! broadcasts go out meanwhile from both nodes, and it comes back on the
//! other node (through a TCP proxy the test switches): every broadcast
//! arrives, in order, once, with its offset; its id, rooms and data are
//! back. Between two Rally nodes, and between Rally and a Node.js node
//! with @socket.io/redis-streams-adapter 0.3.1, both ways.

mod support;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use rally::ConnectionStateRecovery;
use serde_json::json;
use support::{
    Driver, RedisServer, int_reply,
    recovery::{Proxy, RecoveryChecks, RecoveryClient, RecoveryNode, wait_for_entries},
    within,
};

/// 50 ticks to "news", ten at a time from `a` then `b` and so on (each ten
/// in the stream before the next: two nodes' broadcasts have no order but
/// the stream's), and broadcasts the client must not get.
async fn broadcast_50(port: u16, a: &RecoveryNode, b: &RecoveryNode) {
    let mut entries = int_reply(port, &["XLEN", "socket.io"]).await;
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
    let mut client = RecoveryClient::start(&proxy.url(), "websocket");
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
    let before = int_reply(redis.port, &["XLEN", "socket.io"]).await;
    a.io.to("news").emit("live", &1).unwrap();
    wait_for_entries(redis.port, before + 1).await;
    b.io.to("news").emit("live", &2).unwrap();
    assert_eq!(client.event("live").await[0], json!(1));
    assert_eq!(client.event("live").await[0], json!(2));
}

/// What is broadcast while the recovered socket's middlewares run on the
/// new node (after its replay was read, before it is admitted) comes after
/// the replay, once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_during_the_middlewares_come_after_the_replay() {
    let redis = RedisServer::start().await;
    let recovery = ConnectionStateRecovery::default();
    let mut a = RecoveryNode::start(&redis.url(), recovery.clone()).await;
    let b = RecoveryNode::start(&redis.url(), recovery.skip_middlewares(false)).await;
    let gate = Arc::new(tokio::sync::Notify::new());
    let (held_tx, mut held) = tokio::sync::mpsc::unbounded_channel();
    let g = gate.clone();
    b.io.of("/").use_middleware(move |socket| {
        let (gate, held_tx) = (g.clone(), held_tx.clone());
        async move {
            if socket.recovered() {
                let _ = held_tx.send(());
                gate.notified().await;
            }
            Ok(())
        }
    });
    a.wait_for_nodes(2).await;
    let proxy = Proxy::start(a.addr).await;
    let mut client = RecoveryClient::start(&proxy.url(), "websocket");
    let id = client.join_news().await;

    proxy.set_down(true);
    proxy.switch(b.addr);
    proxy.kill();
    assert!(a.disconnected().await.is_recoverable());
    broadcast_50(redis.port, &a, &b).await;
    proxy.set_down(false);
    within("the middleware", held.recv()).await.unwrap();
    // Restored, not admitted yet: ten more, from both nodes.
    let mut entries = int_reply(redis.port, &["XLEN", "socket.io"]).await;
    for i in 50..60 {
        let node = if i % 2 == 0 { &a } else { &b };
        node.io.to("news").emit("tick", &i).unwrap();
        entries += 1;
        wait_for_entries(redis.port, entries).await;
    }
    gate.notify_one();
    client.check_recovered_ticks(&id, 60).await;
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
    let mut client = RecoveryClient::start(&proxy.url(), "websocket");
    let id = client.join_news().await;

    proxy.set_down(true);
    proxy.switch(b.addr);
    proxy.kill();
    assert!(a.disconnected().await.is_recoverable());
    // The session is in Redis (beside the stream), then expires.
    for (keys, what) in [(2, "the session kept"), (1, "the session expired")] {
        within(what, async {
            while int_reply(redis.port, &["DBSIZE"]).await != keys {
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

/// A Node.js node with @socket.io/redis-streams-adapter and recovery on
/// (interop/redis-cluster.mjs); its address.
async fn node_node(node: &mut Driver) -> SocketAddr {
    node.send(json!({"cmd": "serve", "port": 0, "mode": "streams", "recovery": true}))
        .await;
    let line = node
        .expect("the node.js node", |l| l["ok"] == "serve")
        .await;
    let port = u16::try_from(line["port"].as_u64().unwrap()).unwrap();
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The 50 ticks and the others, ten at a time from the Rally node then the
/// Node.js node and so on.
async fn broadcast_50_mixed(port: u16, rally: &RecoveryNode, node: &mut Driver) {
    let mut entries = int_reply(port, &["XLEN", "socket.io"]).await;
    for i in 0..50 {
        let from_rally = (i / 10) % 2 == 0;
        if from_rally {
            rally.io.to("news").emit("tick", &i).unwrap();
        } else {
            node.op(json!({"op": "emit", "rooms": ["news"], "ev": "tick", "args": [i]}))
                .await;
        }
        if i % 10 == 0 {
            if from_rally {
                rally.io.to("elsewhere").emit("not-for-you", &i).unwrap();
                rally.io.except("news").emit("not-for-you", &i).unwrap();
            } else {
                node.op(
                    json!({"op": "emit", "rooms": ["elsewhere"], "ev": "not-for-you", "args": [i]}),
                )
                .await;
                node.op(
                    json!({"op": "emit", "except": ["news"], "ev": "not-for-you", "args": [i]}),
                )
                .await;
            }
        }
        if i % 10 == 9 {
            entries += 12;
            wait_for_entries(port, entries).await;
        }
    }
}

/// A client of the Rally node drops and comes back on the Node.js node,
/// which restores the session Rally kept and replays the stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_a_rally_node_onto_a_node_js_node() {
    let redis = RedisServer::start().await;
    let mut rally = RecoveryNode::start(&redis.url(), ConnectionStateRecovery::default()).await;
    let mut node = Driver::start(&redis.url()).await;
    let node_addr = node_node(&mut node).await;
    rally.wait_for_nodes(2).await;
    let proxy = Proxy::start(rally.addr).await;
    let mut client = RecoveryClient::start(&proxy.url(), "websocket");
    let id = client.join_news().await;

    proxy.set_down(true);
    proxy.switch(node_addr);
    proxy.kill();
    assert!(rally.disconnected().await.is_recoverable());
    client.until("disconnect").await;
    broadcast_50_mixed(redis.port, &rally, &mut node).await;

    proxy.set_down(false);
    client.check_recovered(&id).await;
}

/// A client of the Node.js node drops and comes back on the Rally node,
/// which restores the session Node.js kept and replays the stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_a_node_js_node_onto_a_rally_node() {
    let redis = RedisServer::start().await;
    let rally = RecoveryNode::start(&redis.url(), ConnectionStateRecovery::default()).await;
    let mut node = Driver::start(&redis.url()).await;
    let node_addr = node_node(&mut node).await;
    rally.wait_for_nodes(2).await;
    let proxy = Proxy::start(node_addr).await;
    let mut client = RecoveryClient::start(&proxy.url(), "websocket");
    let id = client.join_news().await;

    proxy.set_down(true);
    proxy.switch(rally.addr);
    proxy.kill();
    client.until("disconnect").await;
    // The Node.js node keeps the session.
    within("the session kept", async {
        while int_reply(redis.port, &["DBSIZE"]).await != 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    broadcast_50_mixed(redis.port, &rally, &mut node).await;

    proxy.set_down(false);
    client.check_recovered(&id).await;
    assert_eq!(rally.io.recovery_stats().recovered, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_returns_once_every_queued_message_is_in_redis() {
    let redis = RedisServer::start().await;
    let adapter = rally_redis::RedisAdapter::connect(
        &redis.url(),
        rally_redis::RedisConfig::new().mode(rally_redis::Mode::Streams),
    )
    .await
    .expect("redis");
    let io = rally::Server::builder().adapter(adapter.factory()).build();
    let before = int_reply(redis.port, &["XLEN", "socket.io"]).await;
    // Redis holds writes back for a while (reads go on): the broadcasts
    // wait in the adapter's queue or in Redis, and flush waits for them.
    let mut pause = tokio::net::TcpStream::connect(("127.0.0.1", redis.port))
        .await
        .expect("connect");
    let command = "*4\r\n$6\r\nCLIENT\r\n$5\r\nPAUSE\r\n$3\r\n300\r\n$5\r\nWRITE\r\n";
    tokio::io::AsyncWriteExt::write_all(&mut pause, command.as_bytes())
        .await
        .expect("CLIENT PAUSE");
    let mut ok = [0; 5];
    within(
        "CLIENT PAUSE",
        tokio::io::AsyncReadExt::read_exact(&mut pause, &mut ok),
    )
    .await
    .expect("a reply");
    assert_eq!(&ok, b"+OK\r\n");
    for i in 0..500 {
        io.emit("tick", &i).unwrap();
    }
    within("a flush", adapter.flush()).await;
    // No waiting: every broadcast is in the stream when flush returns.
    assert_eq!(
        int_reply(redis.port, &["XLEN", "socket.io"]).await,
        before + 500
    );
}

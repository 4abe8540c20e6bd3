//! The Socket.IO Admin UI on a cluster: one UI (played by
//! interop/admin-client.mjs with socket.io-client 4.8.4) connected to any
//! node lists the sockets of every node and hears every node's statistics,
//! and its commands reach sockets on other nodes; on two Rally nodes, and on
//! a Rally node beside a Node.js node instrumented with
//! `@socket.io/admin-ui`'s own `instrument` (interop/ref-admin-server.mjs).

use std::time::Duration;

use rally::{Server, admin::AdminUi};
use rally_redis::{RedisAdapter, RedisConfig};
use rally_testkit::{eventually, node, redis::RedisServer};
use tokio::net::TcpListener;

/// A Rally node on the Redis at `url` (classic mode), instrumented as
/// `server_id`, whose `/` sockets join the rooms of their auth
/// (`{name, rooms}`) and keep `{name}` as data; its URL and server.
async fn rally_node(url: &str, server_id: &str) -> (String, Server) {
    let redis = RedisAdapter::connect(url, RedisConfig::new())
        .await
        .expect("the adapter connects");
    let io = Server::builder()
        .adapter(redis.factory())
        .admin_ui(
            AdminUi::new()
                .server_id(server_id)
                .server_stats_interval(Duration::from_millis(300)),
        )
        .build();
    io.of("/").on_connection(|socket| async move {
        let auth: serde_json::Value = socket.auth().unwrap_or_default();
        let _ = socket.set_data(&serde_json::json!({ "name": auth["name"] }));
        for room in auth["rooms"].as_array().into_iter().flatten() {
            if let Some(room) = room.as_str() {
                socket.join(room);
            }
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("a local address");
    tokio::spawn(rally::serve(listener, io.clone()));
    (format!("http://{addr}"), io)
}

/// Waits until `io` counts `n` nodes on `/` and on `/admin`.
async fn nodes(io: &Server, n: usize) {
    for nsp in ["/", "/admin"] {
        eventually(&format!("{n} nodes on {nsp}"), || async move {
            io.of(nsp).adapter().server_count().await == n
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ui_sees_and_drives_two_rally_nodes() {
    let redis = RedisServer::start().await;
    let (one, io) = rally_node(&redis.url(), "rally-one").await;
    let (two, _io2) = rally_node(&redis.url(), "rally-two").await;
    nodes(&io, 2).await;
    node::run("admin-client.mjs", &["cluster", &one, &two]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ui_sees_and_drives_a_rally_node_and_a_node_js_node() {
    let redis = RedisServer::start().await;
    let (rally, io) = rally_node(&redis.url(), "rally").await;
    let node_js =
        node::NodeServer::start_with("ref-admin-server.mjs", 0, &[&redis.url(), "node"]).await;
    nodes(&io, 2).await;
    node::run("admin-client.mjs", &["cluster", &rally, &node_js.url()]).await;
    // And with the UI's first node the Node.js one.
    node::run("admin-client.mjs", &["cluster", &node_js.url(), &rally]).await;
}

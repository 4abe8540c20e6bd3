//! The Socket.IO Admin UI on a cluster: one UI (played by
//! interop/admin-client.mjs with socket.io-client 4.8.4) connected to any
//! node lists the sockets of every node and hears every node's statistics,
//! and its commands reach sockets on other nodes; on two Rally nodes, and on
//! a Rally node beside a Node.js node instrumented with
//! `@socket.io/admin-ui`'s own `instrument` (interop/ref-admin-server.mjs).

use std::time::Duration;

use rally::{Server, admin::AdminUi};
use rally_redis::{Mode, RedisAdapter, RedisConfig};
use rally_testkit::{eventually, node, redis::RedisServer};
use tokio::net::TcpListener;

/// A Rally node on the Redis at `url` in adapter mode `mode`, instrumented
/// as `server_id`, whose `/` sockets join the rooms of their auth
/// (`{name, rooms}`) and keep `{name}` as data; its URL and server.
async fn rally_node(url: &str, mode: Mode, server_id: &str) -> (String, Server) {
    let redis = RedisAdapter::connect(url, RedisConfig::new().mode(mode))
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

/// Two Rally nodes in adapter mode `mode`.
async fn two_rally_nodes(mode: Mode) {
    let redis = RedisServer::start().await;
    let (one, io) = rally_node(&redis.url(), mode, "rally-one").await;
    let (two, _io2) = rally_node(&redis.url(), mode, "rally-two").await;
    nodes(&io, 2).await;
    node::run("admin-client.mjs", &["cluster", &one, &two]).await;
}

/// A Rally node and a Node.js node in adapter mode `mode` (`mode_name` for
/// the Node.js side); the UI on either.
async fn rally_and_node_js(mode: Mode, mode_name: &str) {
    let redis = RedisServer::start().await;
    let (rally, io) = rally_node(&redis.url(), mode, "rally").await;
    let node_js = node::NodeServer::start_with(
        "ref-admin-server.mjs",
        0,
        &[&redis.url(), "node", mode_name],
    )
    .await;
    nodes(&io, 2).await;
    node::run("admin-client.mjs", &["cluster", &rally, &node_js.url()]).await;
    node::run("admin-client.mjs", &["cluster", &node_js.url(), &rally]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ui_sees_and_drives_two_rally_nodes() {
    two_rally_nodes(Mode::Classic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ui_sees_and_drives_two_rally_nodes_sharded() {
    two_rally_nodes(Mode::Sharded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ui_sees_and_drives_two_rally_nodes_streams() {
    two_rally_nodes(Mode::Streams).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ui_sees_and_drives_a_rally_node_and_a_node_js_node() {
    rally_and_node_js(Mode::Classic, "classic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ui_sees_and_drives_a_rally_node_and_a_node_js_node_sharded() {
    rally_and_node_js(Mode::Sharded, "sharded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ui_sees_and_drives_a_rally_node_and_a_node_js_node_streams() {
    rally_and_node_js(Mode::Streams, "streams").await;
}

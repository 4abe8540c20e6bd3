//! The Socket.IO Admin UI's protocol as the UI speaks it, played by the
//! official `socket.io-client` 4.8.4 (interop/admin-client.mjs) against a
//! Rally server instrumented with `rally::admin`: every event while other
//! clients connect, join, emit, upgrade and leave; every command; the
//! login, the session restore and the reference's `invalid credentials`;
//! read-only and production modes.

use std::time::Duration;

use rally::{
    Server,
    admin::{AdminUi, Auth, Mode},
};
use rally_testkit::{interop, node};

/// Statistics often enough for the scripts' waits to be short.
const STATS_EVERY: Duration = Duration::from_millis(200);

/// A server with `options` whose `/` answers `hello` as the script expects:
/// joins `lobby`, sets its data, emits `welcome`, acknowledges `hi`.
fn server(options: AdminUi) -> Server {
    let io = Server::builder()
        .admin_ui(options.server_stats_interval(STATS_EVERY))
        .build();
    io.of("/").on("hello", |socket, mut event| async move {
        socket.join("lobby");
        let _ = socket.set_data(&serde_json::json!({ "name": "a" }));
        let _ = socket.emit("welcome", "to the lobby");
        let _ = event.ack("hi");
    });
    io
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_sees_every_event_and_its_commands_take_effect() {
    let (url, _io) = interop::start_server(server(AdminUi::new())).await;
    node::run("admin-client.mjs", &["watch", &url]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_and_a_session_restores_the_login() {
    // The lowest cost bcrypt allows keeps the test fast.
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let auth = Auth::basic("admin", &hash).unwrap();
    let (url, _io) = interop::start_server(server(AdminUi::new().auth(auth))).await;
    node::run("admin-client.mjs", &["auth", &url, "admin", "s3cret"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_ui_cannot_act() {
    let (url, _io) = interop::start_server(server(AdminUi::new().read_only(true))).await;
    node::run("admin-client.mjs", &["readonly", &url]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_mode_sends_only_figures() {
    let (url, _io) = interop::start_server(server(AdminUi::new().mode(Mode::Production))).await;
    node::run("admin-client.mjs", &["production", &url]).await;
}

#[test]
fn a_hash_that_is_not_bcrypt_is_refused() {
    assert!(Auth::basic("admin", "plain").is_err());
    assert!(Auth::basic("admin", &bcrypt::hash("x", 4).unwrap()).is_ok());
}

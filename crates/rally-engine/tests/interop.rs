//! The official `engine.io-client` (Node) against an in-process echo server:
//! each scenario of `interop/engine-client.mjs` must exit with status 0.

mod common;

use std::time::Duration;

use common::TestServer;
use rally_engine::Config;

/// The settings `engine-client.mjs` expects of the server.
fn interop_config() -> Config {
    Config::default()
        .path("/engine.io/")
        .ping_interval(Duration::from_millis(1000))
        .ping_timeout(Duration::from_millis(1000))
        .max_http_buffer_size(1_000_000)
}

/// Runs one scenario of `engine-client.mjs` against a fresh server; it must
/// exit 0 and say `ok <scenario>`.
async fn run_scenario(scenario: &str) {
    let server = TestServer::start(interop_config()).await;
    let base_url = format!("http://{}", server.addr);
    let stdout = rally_testkit::node::run("engine-client.mjs", &[scenario, &base_url]).await;
    assert!(
        stdout.lines().any(|line| line == format!("ok {scenario}")),
        "no `ok {scenario}` line\n--- stdout\n{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_over_polling() {
    run_scenario("polling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_over_websocket() {
    run_scenario("websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_upgrades_without_losing_messages() {
    run_scenario("upgrade").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_echoes_large_messages() {
    run_scenario("large").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_is_closed_on_ping_timeout() {
    run_scenario("ping-timeout").await;
}

//! The official `engine.io-client` (Node) against an in-process echo server:
//! each scenario of `interop/engine-client.mjs` must exit with status 0.

mod common;

use std::{path::PathBuf, process::Stdio, time::Duration};

use common::TestServer;
use rally_engine::Config;

/// Longer than the script's own deadlines for any one scenario.
const SCENARIO_DEADLINE: Duration = Duration::from_secs(60);

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

/// The settings `engine-client.mjs` expects of the server.
fn interop_config() -> Config {
    Config::default()
        .path("/engine.io/")
        .ping_interval(Duration::from_millis(1000))
        .ping_timeout(Duration::from_millis(1000))
        .max_http_buffer_size(1_000_000)
}

async fn run_scenario(scenario: &str) {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules/engine.io-client").is_dir(),
        "the interop tests need the official JavaScript clients in {}: \
         run `bash scripts/test.sh` (or `cd interop && npm ci`) first",
        dir.join("node_modules").display()
    );
    let server = TestServer::start(interop_config()).await;
    let base_url = format!("http://{}", server.addr);
    let child = tokio::process::Command::new("node")
        .arg(dir.join("engine-client.mjs"))
        .arg(scenario)
        .arg(&base_url)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node (is Node.js 20+ installed?): {e}"));
    let output = tokio::time::timeout(SCENARIO_DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("scenario {scenario} did not finish in {SCENARIO_DEADLINE:?}"))
        .expect("wait for node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "engine-client.mjs {scenario} {base_url} failed ({})\n--- stdout\n{stdout}--- stderr\n{stderr}",
        output.status
    );
    assert!(
        stdout.lines().any(|line| line == format!("ok {scenario}")),
        "no `ok {scenario}` line\n--- stdout\n{stdout}--- stderr\n{stderr}"
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

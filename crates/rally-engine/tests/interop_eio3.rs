//! The official `engine.io-client` 3.x (Engine.IO protocol 3, as used by
//! socket.io-client 2.x) against an in-process echo server with
//! `allow_eio3`: each scenario of `interop/engine-client-v3.mjs` must exit
//! with status 0.

mod common;

use std::time::Duration;

use common::{Event, TestServer};
use rally_engine::{Config, Message, Protocol};

/// The settings `engine-client-v3.mjs` expects of the server.
fn interop_config() -> Config {
    Config::default()
        .path("/engine.io/")
        .ping_interval(Duration::from_millis(1000))
        .ping_timeout(Duration::from_millis(1000))
        .max_http_buffer_size(1_000_000)
        .allow_eio3(true)
}

/// Runs one scenario of `engine-client-v3.mjs` against a fresh echo server
/// that closes the session of a client sending `close-me`; it must exit 0
/// and say `ok <scenario>`. Every session it opens must be protocol 3.
async fn run_scenario(scenario: &str) {
    let mut server = TestServer::start(interop_config()).await;
    let base_url = format!("http://{}", server.addr);
    let args = [scenario, base_url.as_str()];
    let script = rally_testkit::node::run("engine-client-v3.mjs", &args);
    tokio::pin!(script);
    let stdout = loop {
        tokio::select! {
            stdout = &mut script => break stdout,
            Some(event) = server.recv_event() => {
                if let Event::Message(sid, Message::Text(text)) = event {
                    let session = server.engine.session(&sid);
                    if let Some(session) = session.filter(|_| text == "close-me") {
                        assert_eq!(session.protocol(), Protocol::V3);
                        session.close();
                    }
                }
            }
        }
    };
    assert!(
        stdout.lines().any(|line| line == format!("ok {scenario}")),
        "no `ok {scenario}` line\n--- stdout\n{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_v3_client_over_polling() {
    run_scenario("polling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_v3_client_over_polling_with_base64() {
    run_scenario("polling-b64").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_v3_client_over_websocket() {
    run_scenario("websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_v3_client_upgrades_without_losing_messages() {
    run_scenario("upgrade").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_v3_client_is_closed_when_it_stops_pinging() {
    run_scenario("ping-timeout").await;
}

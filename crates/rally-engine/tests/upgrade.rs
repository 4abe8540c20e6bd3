//! The upgrade of a polling session to WebSocket, step by step as the reference does it.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rally_engine::{CloseReason, Transport};

/// Opens the WebSocket that upgrades `polling`.
async fn upgrade_socket(server: &TestServer, polling: &Polling) -> Ws {
    ws_connect(
        server.addr,
        &format!("EIO=4&transport=websocket&sid={}", polling.sid),
    )
    .await
}

/// `2probe` → `3probe`; nothing (no open packet) comes before.
async fn probe(ws: &mut Ws) {
    ws_send_text(ws, "2probe").await;
    assert_eq!(ws_expect_text(ws).await, "3probe");
}

/// Asserts that the session lives on `ws`: a message goes through both ways.
async fn assert_carried_by(server: &mut TestServer, ws: &mut Ws, polling: &Polling) {
    ws_send_text(ws, "4over ws").await;
    server.expect_text("over ws").await;
    assert_eq!(ws_expect_text(ws).await, "4over ws");
    assert_eq!(polling.session.transport(), Transport::WebSocket);
}

/// Asserts that the session still polls: a POSTed message is echoed to a GET.
async fn assert_still_polling(server: &mut TestServer, polling: &Polling) {
    polling.post_ok(b"4still polling").await;
    server.expect_text("still polling").await;
    assert_eq!(polling.records(1).await, ["4still polling"]);
    assert_eq!(polling.session.transport(), Transport::Polling);
    assert!(!polling.session.is_closed());
}

#[tokio::test]
async fn probe_and_upgrade_move_the_session_to_websocket() {
    let mut server = TestServer::start(quiet_config()).await;
    let polling = server.open_polling().await;
    let mut ws = upgrade_socket(&server, &polling).await;
    probe(&mut ws).await;
    ws_send_text(&mut ws, "5").await;
    assert_carried_by(&mut server, &mut ws, &polling).await;
    polling.session.send("after upgrade").unwrap();
    assert_eq!(ws_expect_text(&mut ws).await, "4after upgrade");
    server.assert_no_event();
}

#[tokio::test]
async fn pending_poll_gets_noops_while_the_upgrade_is_probed() {
    let mut server = TestServer::start(quiet_config()).await;
    let polling = server.open_polling().await;
    let pending = polling.pending_get().await;
    let mut ws = upgrade_socket(&server, &polling).await;
    probe(&mut ws).await;
    assert_eq!(finish(pending).await.assert_poll(), "6");
    // Every poll re-issued while the upgrade is pending gets a noop soon.
    for _ in 0..3 {
        let started = Instant::now();
        assert_eq!(polling.get().await.assert_poll(), "6");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "the noop took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn messages_sent_during_the_probe_still_go_to_polling() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let polling = server.open_polling().await;
    let mut ws = upgrade_socket(&server, &polling).await;
    probe(&mut ws).await;
    polling.session.send("queued during upgrade").unwrap();
    assert_eq!(polling.records(1).await, ["4queued during upgrade"]);
}

#[tokio::test]
async fn messages_queued_before_the_upgrade_packet_go_on_the_websocket() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let polling = server.open_polling().await;
    let mut ws = upgrade_socket(&server, &polling).await;
    probe(&mut ws).await;
    polling.session.send("buffered").unwrap();
    ws_send_text(&mut ws, "5").await;
    assert_eq!(ws_expect_text(&mut ws).await, "4buffered");
}

#[tokio::test]
async fn poll_pending_at_the_upgrade_gets_a_close_packet() {
    let mut server = TestServer::start(quiet_config()).await;
    let polling = server.open_polling().await;
    let pending = polling.pending_get().await;
    let mut ws = upgrade_socket(&server, &polling).await;
    // `5` without `2probe` is taken too.
    ws_send_text(&mut ws, "5").await;
    assert_eq!(finish(pending).await.assert_poll(), "1");
    assert_carried_by(&mut server, &mut ws, &polling).await;
}

#[tokio::test]
async fn polling_requests_after_the_upgrade_are_bad_requests() {
    let mut server = TestServer::start(quiet_config()).await;
    let polling = server.open_polling().await;
    let mut ws = upgrade_socket(&server, &polling).await;
    probe(&mut ws).await;
    ws_send_text(&mut ws, "5").await;
    assert_carried_by(&mut server, &mut ws, &polling).await;
    polling.get().await.assert_error(400, 3, "Bad request");
    polling
        .post(b"4x")
        .await
        .assert_error(400, 3, "Bad request");
    // The session is not affected.
    assert_carried_by(&mut server, &mut ws, &polling).await;
    server.assert_no_event();
}

#[tokio::test]
async fn second_websocket_for_an_upgraded_session_is_closed() {
    let mut server = TestServer::start(quiet_config()).await;
    let polling = server.open_polling().await;
    let mut ws = upgrade_socket(&server, &polling).await;
    probe(&mut ws).await;
    ws_send_text(&mut ws, "5").await;
    assert_carried_by(&mut server, &mut ws, &polling).await;

    let mut second = upgrade_socket(&server, &polling).await;
    assert_eq!(ws_expect_close(&mut second).await, (1005, String::new()));
    assert_carried_by(&mut server, &mut ws, &polling).await;
}

#[tokio::test]
async fn second_websocket_during_an_upgrade_is_closed_and_the_first_finishes() {
    let mut server = TestServer::start(quiet_config()).await;
    let polling = server.open_polling().await;
    let mut ws = upgrade_socket(&server, &polling).await;
    probe(&mut ws).await;

    let mut second = upgrade_socket(&server, &polling).await;
    assert_eq!(ws_expect_close(&mut second).await, (1005, String::new()));

    ws_send_text(&mut ws, "5").await;
    assert_carried_by(&mut server, &mut ws, &polling).await;
}

#[tokio::test]
async fn upgrade_timeout_closes_the_probe_and_polling_goes_on() {
    let config = quiet_config().upgrade_timeout(Duration::from_millis(300));
    let mut server = TestServer::start(config).await;
    let polling = server.open_polling().await;
    let started = Instant::now();
    let mut ws = upgrade_socket(&server, &polling).await;
    probe(&mut ws).await;
    assert_eq!(ws_expect_close(&mut ws).await, (1005, String::new()));
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "closed after {:?}, before upgradeTimeout",
        started.elapsed()
    );
    assert_still_polling(&mut server, &polling).await;
}

#[tokio::test]
async fn upgrade_timeout_without_a_probe_closes_the_websocket() {
    let config = quiet_config().upgrade_timeout(Duration::from_millis(300));
    let mut server = TestServer::start(config).await;
    let polling = server.open_polling().await;
    let mut ws = upgrade_socket(&server, &polling).await;
    assert_eq!(ws_expect_close(&mut ws).await, (1005, String::new()));
    assert_still_polling(&mut server, &polling).await;
}

#[tokio::test]
async fn other_packet_on_the_probe_closes_it_and_polling_goes_on() {
    for probed in [false, true] {
        let mut server = TestServer::start(quiet_config()).await;
        let polling = server.open_polling().await;
        let mut ws = upgrade_socket(&server, &polling).await;
        if probed {
            probe(&mut ws).await;
        }
        let started = Instant::now();
        ws_send_text(&mut ws, "4hi").await;
        assert_eq!(ws_expect_close(&mut ws).await, (1005, String::new()));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "closed after {:?}: the upgrade timed out instead",
            started.elapsed()
        );
        // `hi` was not delivered; the session polls on.
        assert_still_polling(&mut server, &polling).await;
    }
}

#[tokio::test]
async fn server_close_during_the_upgrade_ends_poll_and_probe() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let polling = server.open_polling().await;
    let pending = polling.pending_get().await;
    let mut ws = upgrade_socket(&server, &polling).await;
    settle().await;
    polling.session.close();
    assert_eq!(finish(pending).await.assert_poll(), "1");
    assert_eq!(ws_expect_close(&mut ws).await, (1005, String::new()));
    assert_eq!(server.expect_close().await, CloseReason::ForcedClose);
    polling.assert_gone().await;
}

#[tokio::test]
async fn server_close_after_the_probe_closes_the_probe_websocket() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let polling = server.open_polling().await;
    let mut ws = upgrade_socket(&server, &polling).await;
    probe(&mut ws).await;
    polling.session.close();
    assert_eq!(ws_expect_close(&mut ws).await, (1005, String::new()));
    assert_eq!(server.expect_close().await, CloseReason::ForcedClose);
}

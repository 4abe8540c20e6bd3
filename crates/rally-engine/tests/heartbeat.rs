//! The server-driven heartbeat: pings every pingInterval, a
//! close with `ping timeout` when a pong is late.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rally_engine::{CloseReason, Config, Transport};

const INTERVAL: Duration = Duration::from_millis(200);
const TIMEOUT: Duration = Duration::from_millis(150);
/// Timers may fire a little early on a loaded machine; never this early.
const SLACK: Duration = Duration::from_millis(50);

fn heartbeat_config() -> Config {
    Config::default()
        .ping_interval(INTERVAL)
        .ping_timeout(TIMEOUT)
}

#[tokio::test]
async fn polling_session_with_pongs_stays_open_across_intervals() {
    let mut server = TestServer::start(heartbeat_config()).await;
    let polling = server.open_polling().await;
    let mut last = Instant::now();
    for n in 0..4 {
        assert_eq!(polling.get().await.assert_poll(), "2", "ping #{n}");
        assert!(
            last.elapsed() >= INTERVAL - SLACK,
            "ping #{n} came {:?} after the previous one",
            last.elapsed()
        );
        last = Instant::now();
        polling.post_ok(b"3").await;
    }
    assert!(!polling.session.is_closed());
    polling.post_ok(b"4alive").await;
    server.expect_text("alive").await;
    server.assert_no_event();
}

#[tokio::test]
async fn polling_ping_timeout_answers_the_pending_poll_with_close() {
    let mut server = TestServer::start(heartbeat_config()).await;
    let opened = Instant::now();
    let polling = server.open_polling().await;
    assert_eq!(polling.get().await.assert_poll(), "2");
    // No pong: the next poll is ended by the timeout.
    let reply = polling.get().await;
    assert_eq!(reply.assert_poll(), "1");
    assert!(
        opened.elapsed() >= INTERVAL + TIMEOUT - SLACK,
        "closed after {:?}",
        opened.elapsed()
    );
    assert_eq!(server.expect_close().await, CloseReason::PingTimeout);
    polling.assert_gone().await;
}

#[tokio::test]
async fn polling_ping_timeout_without_pending_poll_forgets_the_session() {
    let mut server = TestServer::start(heartbeat_config()).await;
    let opened = Instant::now();
    let polling = server.open_polling().await;
    assert_eq!(server.expect_close().await, CloseReason::PingTimeout);
    assert!(
        opened.elapsed() >= INTERVAL + TIMEOUT - SLACK,
        "closed after {:?}",
        opened.elapsed()
    );
    polling.assert_gone().await;
}

#[tokio::test]
async fn websocket_session_with_pongs_stays_open_across_intervals() {
    let mut server = TestServer::start(heartbeat_config()).await;
    let (mut ws, session, _) = server.open_websocket().await;
    let mut last = Instant::now();
    for n in 0..4 {
        assert_eq!(ws_expect_text(&mut ws).await, "2", "ping #{n}");
        assert!(
            last.elapsed() >= INTERVAL - SLACK,
            "ping #{n} came {:?} after the previous one",
            last.elapsed()
        );
        last = Instant::now();
        ws_send_text(&mut ws, "3").await;
    }
    assert!(!session.is_closed());
    ws_send_text(&mut ws, "4alive").await;
    server.expect_text("alive").await;
    server.assert_no_event();
}

#[tokio::test]
async fn websocket_ping_timeout_sends_an_empty_close_frame() {
    let mut server = TestServer::start(heartbeat_config()).await;
    let opened = Instant::now();
    let (mut ws, _session, _) = server.open_websocket().await;
    assert_eq!(ws_expect_text(&mut ws).await, "2");
    // No `1` packet: the close frame comes next, with no status.
    assert_eq!(ws_expect_close(&mut ws).await, (1005, String::new()));
    assert!(
        opened.elapsed() >= INTERVAL + TIMEOUT - SLACK,
        "closed after {:?}",
        opened.elapsed()
    );
    assert_eq!(server.expect_close().await, CloseReason::PingTimeout);
    assert_eq!(server.engine.session_count(), 0);
}

#[tokio::test]
async fn upgraded_session_keeps_the_heartbeat_and_times_out_on_websocket() {
    let mut server = TestServer::start(heartbeat_config()).await;
    let polling = server.open_polling().await;
    let mut ws = ws_connect(
        server.addr,
        &format!("EIO=4&transport=websocket&sid={}", polling.sid),
    )
    .await;
    ws_send_text(&mut ws, "2probe").await;
    assert_eq!(ws_expect_text(&mut ws).await, "3probe");
    ws_send_text(&mut ws, "5").await;
    // Pings now come over the WebSocket; answered ones keep the session.
    for n in 0..3 {
        assert_eq!(ws_expect_text(&mut ws).await, "2", "ping #{n}");
        ws_send_text(&mut ws, "3").await;
    }
    assert_eq!(polling.session.transport(), Transport::WebSocket);
    assert!(!polling.session.is_closed());
    // Then silence: ping timeout.
    assert_eq!(ws_close_after_pings(&mut ws).await, (1005, String::new()));
    assert_eq!(server.expect_close().await, CloseReason::PingTimeout);
}

/// `Session::expire_after` shorter than the heartbeat interval: the
/// heartbeat timer wakes for it and closes the session (`forced close`).
#[tokio::test]
async fn an_expiry_closes_a_websocket_session_before_its_first_ping() {
    let mut server = TestServer::start(Config::default()).await;
    let (mut ws, session, _) = server.open_websocket().await;
    let set = Instant::now();
    session.expire_after(Duration::from_millis(100));
    assert_eq!(server.expect_close().await, CloseReason::ForcedClose);
    assert!(
        set.elapsed() >= Duration::from_millis(100) - SLACK,
        "closed after {:?}",
        set.elapsed()
    );
    assert_eq!(ws_expect_close(&mut ws).await.0, 1005);
}

#[tokio::test]
async fn an_expiry_closes_a_polling_session_and_ends_its_pending_poll() {
    let mut server = TestServer::start(Config::default()).await;
    let polling = server.open_polling().await;
    let set = Instant::now();
    polling.session.expire_after(Duration::from_millis(100));
    assert_eq!(polling.get().await.assert_poll(), "1");
    assert!(
        set.elapsed() >= Duration::from_millis(100) - SLACK,
        "closed after {:?}",
        set.elapsed()
    );
    assert_eq!(server.expect_close().await, CloseReason::ForcedClose);
}

/// A cancelled expiry never fires: the session outlives it and keeps its
/// heartbeat (the pings are the clock of this test).
#[tokio::test]
async fn a_cancelled_expiry_leaves_the_session_open() {
    let mut server = TestServer::start(heartbeat_config()).await;
    let (mut ws, session, _) = server.open_websocket().await;
    session.expire_after(Duration::from_millis(20));
    session.cancel_expiry();
    let polling = server.open_polling().await;
    polling.session.expire_after(Duration::from_millis(20));
    polling.session.cancel_expiry();
    for n in 0..2 {
        assert_eq!(ws_expect_text(&mut ws).await, "2", "ping #{n}");
        ws_send_text(&mut ws, "3").await;
        assert_eq!(polling.get().await.assert_poll(), "2", "ping #{n}");
        polling.post_ok(b"3").await;
    }
    assert!(!session.is_closed() && !polling.session.is_closed());
    server.assert_no_event();
}

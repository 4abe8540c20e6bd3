//! The engine against hostile clients (SECURITY.md): the session bound,
//! abandoned sessions, header floods, lying `Content-Length`s, invalid
//! UTF-8. Each expectation is what the reference (engine.io 6.6 on Node's
//! HTTP server and `ws`) does.

mod common;

use std::time::Duration;

use common::{HANDSHAKE, TestServer, open_sid, quiet_config, within};
use rally_engine::{CloseReason, Config};

#[tokio::test]
async fn handshakes_past_max_sessions_get_503_until_a_session_ends() {
    let mut server = TestServer::start_silent(quiet_config().max_sessions(2)).await;
    let first = server.open_polling().await;
    let (_ws, _, _) = server.open_websocket().await;
    assert_eq!(server.engine.session_count(), 2);

    let refused = server.http().get(HANDSHAKE).await;
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(
        refused.text(),
        r#"{"code":3,"message":"Too many sessions"}"#
    );
    assert_eq!(refused.header("content-type"), Some("application/json"));
    let mut upgrade = server
        .http()
        .upgrade("/engine.io/?EIO=4&transport=websocket", &[])
        .await;
    let refused = upgrade.read_response().await;
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.text(), "Too many sessions");
    // Requests of open sessions go on.
    first.session.send("still").unwrap();
    assert_eq!(first.get().await.assert_poll(), "4still");
    assert_eq!(server.engine.session_count(), 2);

    first.session.close();
    let last = first.get().await.records();
    assert_eq!(last.last().map(String::as_str), Some("1"), "{last:?}");
    assert_eq!(server.expect_close().await, CloseReason::ForcedClose);
    let reply = server.http().get(HANDSHAKE).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(server.engine.session_count(), 2);
}

#[tokio::test]
async fn handshakes_past_the_rate_per_ip_get_429() {
    let config = quiet_config().max_handshakes_per_ip(3, Duration::from_secs(60));
    let mut server = TestServer::start_silent(config).await;
    let polling = server.open_polling().await;
    let (_ws, _, _) = server.open_websocket().await;
    server.open_polling().await;
    let refused = server.http().get(HANDSHAKE).await;
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(
        refused.text(),
        r#"{"code":3,"message":"Too many handshakes"}"#
    );
    let mut upgrade = server
        .http()
        .upgrade("/engine.io/?EIO=4&transport=websocket", &[])
        .await;
    let refused = upgrade.read_response().await;
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(refused.text(), "Too many handshakes");
    // Requests of open sessions do not count.
    for i in 0..5 {
        polling.post_ok(format!("4m{i}").as_bytes()).await;
        server.expect_text(&format!("m{i}")).await;
    }
    assert_eq!(server.engine.session_count(), 3);
    assert_eq!(Config::default().handshake_rate, None);
}

#[tokio::test]
async fn the_default_max_sessions_is_100_000() {
    assert_eq!(Config::default().max_sessions, 100_000);
}

/// Thousands of sessions opened and never used again (polling sessions
/// that never poll, WebSocket sessions whose client never answers a ping)
/// all end with `ping timeout`, and the engine holds no session after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_sessions_expire_and_the_count_returns_to_zero() {
    const POLLING: usize = 2000;
    const WEBSOCKET: usize = 200;
    let config = Config::default()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(300));
    let mut server = TestServer::start_silent(config).await;
    let http = server.http();
    let mut tasks = tokio::task::JoinSet::new();
    for batch in 0..POLLING / 100 {
        tasks.spawn(async move {
            for _ in 0..100 {
                let reply = http.get(HANDSHAKE).await;
                assert_eq!(reply.status, 200, "handshake {batch}: {reply:?}");
                open_sid(reply.text());
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    // WebSocket clients that read the open packet, then never again.
    let mut sockets = Vec::new();
    for _ in 0..WEBSOCKET {
        sockets.push(server.open_websocket().await.0);
    }
    let stats = server.engine.stats();
    assert!(
        server.engine.session_count() <= POLLING + WEBSOCKET,
        "{stats:?}"
    );
    assert_eq!(stats.handshakes_polling, POLLING as u64);
    assert_eq!(stats.handshakes_websocket, WEBSOCKET as u64);

    let mut reasons = 0;
    while reasons < POLLING + WEBSOCKET {
        assert_eq!(server.expect_close().await, CloseReason::PingTimeout);
        reasons += 1;
    }
    assert_eq!(server.engine.session_count(), 0);
    let stats = server.engine.stats();
    assert_eq!(
        (stats.open_polling, stats.open_websocket),
        (0, 0),
        "{stats:?}"
    );
    drop(sockets);
    // The engine still opens sessions.
    let reply = http.get(HANDSHAKE).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

/// Like Node's HTTP server, a request whose head is too large (too many
/// headers, or one huge header) is refused with 431 before the engine sees
/// it; the server goes on serving.
#[tokio::test]
async fn header_floods_get_431() {
    let server = TestServer::start_silent(quiet_config()).await;
    let many: Vec<(String, String)> = (0..500)
        .map(|i| (format!("x-flood-{i}"), "y".repeat(20)))
        .collect();
    let headers: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let reply = server.http().request("GET", HANDSHAKE, &headers, b"").await;
    assert_eq!(reply.status, 431, "{reply:?}");

    let huge = "z".repeat(1 << 20);
    let mut conn = server.http().connect().await;
    let head = format!("GET {HANDSHAKE} HTTP/1.1\r\nHost: x\r\nX-Huge: {huge}\r\n\r\n");
    conn.write_all(head.as_bytes()).await;
    let reply = conn.read_response().await;
    assert_eq!(reply.status, 431, "{reply:?}");
    assert_eq!(server.engine.session_count(), 0);

    let reply = server.http().get(HANDSHAKE).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

/// A POST whose body runs past its `Content-Length`: the body is what was
/// announced; the bytes after it are a malformed next request, answered
/// 400 by the HTTP layer (as Node does) without harming the session.
#[tokio::test]
async fn a_post_longer_than_its_content_length_delivers_what_was_announced() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let polling = server.open_polling().await;
    let mut conn = server.http().connect().await;
    let body = "4hello4 and then some garbage";
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 6\r\n\r\n{body}",
        polling.target()
    );
    conn.write_all(request.as_bytes()).await;
    let reply = conn.read_response().await;
    assert_eq!((reply.status, reply.text()), (200, "ok"), "{reply:?}");
    server.expect_text("hello").await;
    let garbage = conn.read_response().await;
    assert_eq!(garbage.status, 400, "{garbage:?}");
    // The session goes on.
    polling.post_ok(b"4next").await;
    server.expect_text("next").await;
    server.assert_no_event();
}

/// A `Content-Length` over `maxHttpBufferSize` is refused with 413 at
/// once, before any of the body is sent, and the session stays.
#[tokio::test]
async fn a_post_announcing_more_than_max_http_buffer_size_gets_413_before_its_body() {
    let mut server = TestServer::start_silent(quiet_config().max_http_buffer_size(1000)).await;
    let polling = server.open_polling().await;
    let mut conn = server.http().connect().await;
    conn.send_head(
        "POST",
        &polling.target(),
        &[
            ("Content-Type", "text/plain;charset=UTF-8"),
            ("Content-Length", "4000000000"),
        ],
    )
    .await;
    let reply = within("the 413", conn.read_response()).await;
    assert_eq!(reply.status, 413, "{reply:?}");
    polling.post_ok(b"4fine").await;
    server.expect_text("fine").await;
}

/// Node reads a polling body as UTF-8, turning what does not decode into
/// U+FFFD: the message arrives so, and the session goes on.
#[tokio::test]
async fn invalid_utf8_in_a_polling_body_becomes_replacement_characters() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let polling = server.open_polling().await;
    polling.post_ok(b"4a\xff\xfeb\x1e4\xc3").await;
    server.expect_text("a\u{fffd}\u{fffd}b").await;
    server.expect_text("\u{fffd}").await;
    polling.post_ok(b"4fine").await;
    server.expect_text("fine").await;
    server.assert_no_event();
}

/// A WebSocket text frame that is not UTF-8 is closed with 1007, as `ws`
/// does; the session ends with `transport error`.
#[tokio::test]
async fn invalid_utf8_in_a_websocket_text_frame_closes_with_1007() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let mut conn = server
        .http()
        .upgrade("/engine.io/?EIO=4&transport=websocket", &[])
        .await;
    let reply = conn.read_response().await;
    assert_eq!(reply.status, 101, "{reply:?}");
    let (head, open) = conn.read_short_frame().await;
    assert_eq!(head, 0x81);
    assert!(open.starts_with(b"0{"), "{:?}", common::lossy(&open));
    // A masked text frame `4a\xff`.
    let mask = [1, 2, 3, 4];
    let payload: Vec<u8> = b"4a\xff"
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect();
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend_from_slice(&payload);
    conn.write_all(&frame).await;
    let (head, close) = conn.read_short_frame().await;
    assert_eq!(head, 0x88, "a close frame");
    assert_eq!(close[..2], [0x03, 0xef], "close code 1007");
    assert_eq!(server.expect_close().await, CloseReason::TransportError);
    server.assert_no_event();
}

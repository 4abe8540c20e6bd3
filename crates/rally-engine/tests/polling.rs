//! HTTP long-polling: held GETs, POSTed records, bad bodies, overlapping and
//! aborted requests, closes, each answered as the reference (engine.io 6.6) answers it.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rally_engine::{CloseReason, Config, Message};

/// A session whose handler does not echo, for exact GET bodies.
async fn silent_session(config: Config) -> (TestServer, Polling) {
    let mut server = TestServer::start_silent(config).await;
    let polling = server.open_polling().await;
    (server, polling)
}

#[tokio::test]
async fn first_poll_waits_for_the_ping() {
    let mut server = TestServer::start(probed_config()).await;
    let polling = server.open_polling().await;
    let started = Instant::now();
    let reply = polling.get().await;
    assert_eq!(reply.assert_poll(), "2");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "the poll returned after {:?}, before pingInterval",
        started.elapsed()
    );
}

#[tokio::test]
async fn post_answers_ok_as_text_html() {
    let mut server = TestServer::start(quiet_config()).await;
    let polling = server.open_polling().await;
    let reply = polling.post(b"4hello").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/html"));
    assert_eq!(reply.header("content-length"), Some("2"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.body, b"ok");
    assert!(!reply.has_header("x-xss-protection"));
}

#[tokio::test]
async fn records_of_one_post_are_delivered_in_order() {
    let mut server = TestServer::start(quiet_config()).await;
    let polling = server.open_polling().await;
    polling.post_ok(b"4hello\x1e4world").await;
    server.expect_text("hello").await;
    server.expect_text("world").await;
    // The echoes come back in order, whatever polls carry them.
    assert_eq!(polling.records(2).await, ["4hello", "4world"]);
}

#[tokio::test]
async fn echo_completes_a_pending_poll() {
    let mut server = TestServer::start(quiet_config()).await;
    let polling = server.open_polling().await;
    let pending = polling.pending_get().await;
    polling.post_ok(b"4hello").await;
    server.expect_text("hello").await;
    assert_eq!(finish(pending).await.assert_poll(), "4hello");
}

#[tokio::test]
async fn binary_records_are_decoded_from_base64() {
    let mut server = TestServer::start(quiet_config()).await;
    let polling = server.open_polling().await;
    polling.post_ok(b"bAQID").await;
    server.expect_binary(&[1, 2, 3]).await;
    assert_eq!(polling.records(1).await, ["bAQID"]);

    // Unpadded base64 is read; the echo is padded.
    polling.post_ok(b"bAQ").await;
    server.expect_binary(&[1]).await;
    assert_eq!(polling.records(1).await, ["bAQ=="]);

    // Characters outside the alphabet are skipped: an empty buffer.
    polling.post_ok(b"b!!!").await;
    server.expect_binary(&[]).await;
    assert_eq!(polling.records(1).await, ["b"]);
    assert!(!polling.session.is_closed());
}

#[tokio::test]
async fn server_messages_are_batched_into_one_poll() {
    let (_server, polling) = silent_session(quiet_config()).await;
    let session = &polling.session;
    session.send(Message::from(vec![1, 2, 3])).unwrap();
    session.send("text").unwrap();
    session.send(Message::from(vec![0xff, 0])).unwrap();
    session.send(Message::from(Vec::new())).unwrap();
    let reply = polling.get().await;
    assert_eq!(reply.assert_poll(), "bAQID\x1e4text\x1eb/wA=\x1eb");
}

#[tokio::test]
async fn empty_message_record_is_an_empty_text() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let polling = server.open_polling().await;
    polling.post_ok(b"4").await;
    server.expect_text("").await;
    assert!(!polling.session.is_closed());
}

#[tokio::test]
async fn noop_upgrade_open_and_pong_records_are_ignored() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let polling = server.open_polling().await;
    for record in ["6", "5", "0", "3", "0{}"] {
        polling.post_ok(record.as_bytes()).await;
    }
    polling.post_ok(b"4after").await;
    // Nothing but the message: no close came first.
    server.expect_text("after").await;
    assert!(!polling.session.is_closed());
}

/// POSTs `body` with a poll pending: `ok`, the poll gets `1`, the session
/// closes with `parse error` and is then unknown.
async fn assert_body_is_a_parse_error(body: &[u8]) {
    let (mut server, polling) = silent_session(quiet_config()).await;
    let pending = polling.pending_get().await;
    polling.post_ok(body).await;
    assert_eq!(server.expect_close().await, CloseReason::ParseError);
    assert_eq!(finish(pending).await.assert_poll(), "1");
    polling.assert_gone().await;
}

#[tokio::test]
async fn unknown_packet_type_is_a_parse_error() {
    assert_body_is_a_parse_error(b"zzz").await;
}

#[tokio::test]
async fn empty_body_is_a_parse_error() {
    assert_body_is_a_parse_error(b"").await;
}

#[tokio::test]
async fn lone_separator_is_a_parse_error() {
    assert_body_is_a_parse_error(b"\x1e").await;
}

#[tokio::test]
async fn out_of_range_packet_type_is_a_parse_error() {
    assert_body_is_a_parse_error(b"8x").await;
}

#[tokio::test]
async fn records_before_a_trailing_separator_are_delivered_then_parse_error() {
    let (mut server, polling) = silent_session(quiet_config()).await;
    polling.post_ok(b"4abc\x1e").await;
    server.expect_text("abc").await;
    assert_eq!(server.expect_close().await, CloseReason::ParseError);
    polling.assert_gone().await;
}

#[tokio::test]
async fn records_after_a_bad_record_are_dropped() {
    let (mut server, polling) = silent_session(quiet_config()).await;
    polling.post_ok(b"4a\x1ezzz\x1e4b").await;
    server.expect_text("a").await;
    assert_eq!(server.expect_close().await, CloseReason::ParseError);
    server.assert_no_event();
}

#[tokio::test]
async fn client_ping_is_a_transport_error() {
    for body in [&b"2"[..], b"2probe"] {
        let (mut server, polling) = silent_session(quiet_config()).await;
        let pending = polling.pending_get().await;
        polling.post_ok(body).await;
        assert_eq!(server.expect_close().await, CloseReason::TransportError);
        assert_eq!(finish(pending).await.assert_poll(), "1");
        polling.assert_gone().await;
    }
}

#[tokio::test]
async fn client_close_gives_the_pending_poll_a_noop() {
    let (mut server, polling) = silent_session(quiet_config()).await;
    let pending = polling.pending_get().await;
    polling.post_ok(b"1").await;
    assert_eq!(server.expect_close().await, CloseReason::TransportClose);
    assert_eq!(finish(pending).await.assert_poll(), "6");
    polling.assert_gone().await;
}

#[tokio::test]
async fn client_close_without_pending_poll_forgets_the_session_at_once() {
    let (mut server, polling) = silent_session(quiet_config()).await;
    polling.post_ok(b"1").await;
    // Gone as soon as the POST is answered.
    polling.assert_gone().await;
    assert_eq!(server.expect_close().await, CloseReason::TransportClose);
}

#[tokio::test]
async fn records_after_a_close_record_are_dropped() {
    let (mut server, polling) = silent_session(quiet_config()).await;
    polling.post_ok(b"4a\x1e1\x1e4b").await;
    server.expect_text("a").await;
    assert_eq!(server.expect_close().await, CloseReason::TransportClose);
    server.assert_no_event();
}

#[tokio::test]
async fn body_of_max_http_buffer_size_is_accepted() {
    let mut server = TestServer::start_silent(quiet_config().max_http_buffer_size(1000)).await;
    let polling = server.open_polling().await;
    let body = format!("4{}", "a".repeat(999));
    polling.post_ok(body.as_bytes()).await;
    server.expect_text(&body[1..]).await;
}

#[tokio::test]
async fn body_over_max_http_buffer_size_is_refused_with_413_and_the_session_stays() {
    let mut server = TestServer::start_silent(quiet_config().max_http_buffer_size(1000)).await;
    let polling = server.open_polling().await;
    for size in [1001, 5000] {
        let body = format!("4{}", "a".repeat(size - 1));
        let reply = polling.post(body.as_bytes()).await;
        reply.assert_empty(413);
    }
    polling.post_ok(b"4still open").await;
    server.expect_text("still open").await;
    assert!(!polling.session.is_closed());
}

#[tokio::test]
async fn octet_stream_post_is_refused_and_closes_the_session() {
    let (mut server, polling) = silent_session(quiet_config()).await;
    let pending = polling.pending_get().await;
    let reply = polling
        .http
        .request(
            "POST",
            &polling.target(),
            &[("Content-Type", "application/octet-stream")],
            b"4hello",
        )
        .await;
    reply.assert_empty(400);
    assert_eq!(server.expect_close().await, CloseReason::TransportError);
    assert_eq!(finish(pending).await.assert_poll(), "1");
    polling.assert_gone().await;
    server.assert_no_event();
}

#[tokio::test]
async fn second_concurrent_poll_is_refused_and_closes_the_session() {
    let (mut server, polling) = silent_session(quiet_config()).await;
    let first = polling.pending_get().await;
    let second = polling.get().await;
    second.assert_empty(400);
    assert_eq!(server.expect_close().await, CloseReason::TransportError);
    assert_eq!(finish(first).await.assert_poll(), "1");
    polling.assert_gone().await;
}

/// Starts a POST that promises 100 bytes and sends `sent` of them.
async fn unfinished_post(polling: &Polling, sent: &[u8]) -> RawConn {
    let mut conn = polling.http.connect().await;
    conn.send_head(
        "POST",
        &polling.target(),
        &[
            ("Content-Type", "text/plain;charset=UTF-8"),
            ("Content-Length", "100"),
        ],
    )
    .await;
    conn.write_all(sent).await;
    settle().await;
    conn
}

#[tokio::test]
async fn second_concurrent_post_is_refused_and_closes_the_session() {
    let (mut server, polling) = silent_session(quiet_config()).await;
    let pending = polling.pending_get().await;
    let _first = unfinished_post(&polling, b"4hello").await;
    let second = polling.post(b"4second").await;
    second.assert_empty(400);
    assert_eq!(server.expect_close().await, CloseReason::TransportError);
    assert_eq!(finish(pending).await.assert_poll(), "1");
    polling.assert_gone().await;
    server.assert_no_event();
}

#[tokio::test]
async fn first_post_is_dropped_when_a_second_post_overlaps() {
    let (mut server, polling) = silent_session(quiet_config()).await;
    let mut first = unfinished_post(&polling, b"4hello").await;
    polling.post(b"4second").await.assert_empty(400);
    assert_eq!(server.expect_close().await, CloseReason::TransportError);
    // The reference destroys the first POST; Rally refuses it (400,
    // connection closed): either way it is never taken as `ok`, and
    // nothing of it reaches the application.
    first.write_all(&[b'x'; 94]).await;
    if let Some(reply) = first.try_read_response().await {
        assert_eq!(reply.status, 400, "the first POST was answered: {reply:?}");
    }
    server.assert_no_event();
}

#[tokio::test]
async fn aborted_poll_closes_the_session() {
    let (mut server, polling) = silent_session(quiet_config()).await;
    let mut conn = polling.http.connect().await;
    conn.send("GET", &polling.target(), &[], b"").await;
    settle().await;
    drop(conn);
    assert_eq!(server.expect_close().await, CloseReason::TransportError);
    polling.assert_gone().await;
}

#[tokio::test]
async fn post_shorter_than_its_content_length_then_aborted_closes_the_session() {
    let (mut server, polling) = silent_session(quiet_config()).await;
    let pending = polling.pending_get().await;
    let conn = unfinished_post(&polling, b"4hello").await;
    drop(conn);
    assert_eq!(server.expect_close().await, CloseReason::TransportError);
    assert_eq!(finish(pending).await.assert_poll(), "1");
    polling.assert_gone().await;
    server.assert_no_event();
}

#[tokio::test]
async fn server_close_answers_the_pending_poll_with_close() {
    let (mut server, polling) = silent_session(quiet_config()).await;
    let pending = polling.pending_get().await;
    polling.session.close();
    assert_eq!(finish(pending).await.assert_poll(), "1");
    assert_eq!(server.expect_close().await, CloseReason::ForcedClose);
    polling.assert_gone().await;
}

#[tokio::test]
async fn server_close_flushes_queued_messages_before_the_close_packet() {
    let (mut server, polling) = silent_session(quiet_config()).await;
    let pending = polling.pending_get().await;
    polling.session.send("x").unwrap();
    polling.session.close();
    let mut records = finish(pending).await.records();
    if records == ["4x"] {
        // The message went out alone; the close follows on the next poll.
        records.extend(polling.get().await.records());
    }
    records.retain(|r| r != "6");
    assert_eq!(records, ["4x", "1"]);
    assert_eq!(server.expect_close().await, CloseReason::ForcedClose);
}

#[tokio::test]
async fn server_close_without_pending_poll_waits_for_the_queue_to_drain() {
    let (mut server, polling) = silent_session(quiet_config()).await;
    polling.session.send("x").unwrap();
    polling.session.close();
    // Reference: the next poll gets `4x`, the one after `6\x1e1`, then the
    // session is gone.
    let mut records = Vec::new();
    while !records.iter().any(|r| r == "1") {
        let reply = polling.get().await;
        assert_eq!(
            reply.status, 200,
            "poll after a server close, having read {records:?}: {reply:?}"
        );
        records.extend(reply.records().into_iter().filter(|r| r != "6"));
    }
    assert_eq!(records, ["4x", "1"]);
    polling.assert_gone().await;
    assert_eq!(server.expect_close().await, CloseReason::ForcedClose);
}

#[tokio::test]
async fn old_internet_explorer_gets_x_xss_protection() {
    let mut server = TestServer::start(quiet_config()).await;
    let polling = server.open_polling().await;
    for agent in [
        "Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko",
        "Mozilla/4.0 (compatible;MSIE 7.0)",
    ] {
        let post = polling
            .http
            .request("POST", &polling.target(), &[("User-Agent", agent)], b"4ie")
            .await;
        assert_eq!(post.status, 200);
        assert_eq!(post.header("x-xss-protection"), Some("0"), "{agent}");
        let get = polling
            .http
            .request("GET", &polling.target(), &[("User-Agent", agent)], b"")
            .await;
        assert_eq!(get.assert_poll(), "4ie");
        assert_eq!(get.header("x-xss-protection"), Some("0"), "{agent}");
    }
    let reply = polling
        .http
        .request(
            "POST",
            &polling.target(),
            &[("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)")],
            b"4x",
        )
        .await;
    assert!(!reply.has_header("x-xss-protection"));
}

#[tokio::test]
async fn small_poll_bodies_are_not_compressed() {
    let (_server, polling) = silent_session(quiet_config()).await;
    polling.session.send("a".repeat(500)).unwrap();
    let reply = polling
        .http
        .request(
            "GET",
            &polling.target(),
            &[("Accept-Encoding", "gzip, deflate")],
            b"",
        )
        .await;
    assert_eq!(reply.assert_poll(), format!("4{}", "a".repeat(500)));
    assert!(!reply.has_header("content-encoding"), "{reply:?}");
}

#[tokio::test]
async fn large_poll_bodies_are_gzipped_when_the_client_accepts_it() {
    let (_server, polling) = silent_session(quiet_config()).await;
    polling.session.send("a".repeat(2000)).unwrap();
    let reply = polling
        .http
        .request(
            "GET",
            &polling.target(),
            &[("Accept-Encoding", "gzip, deflate")],
            b"",
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-encoding"),
        Some("gzip"),
        "headers {:?}",
        reply.headers
    );
    assert!(reply.body.starts_with(&[0x1f, 0x8b]), "not a gzip stream");
}

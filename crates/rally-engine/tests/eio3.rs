//! Engine.IO protocol 3 (`allow_eio3`): the handshake, both polling payload
//! forms both ways, `b64`, the client-driven heartbeat, WebSocket binary
//! frames with their type byte, the upgrade, bad payloads, and protocol 3
//! and 4 sessions side by side, each reply as the reference (engine.io 6.6
//! with `allowEIO3: true`) makes it.

mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use common::*;
use rally_engine::{CloseReason, Config, Message, Protocol, Session, Transport};

const INTERVAL: Duration = Duration::from_millis(200);
const TIMEOUT: Duration = Duration::from_millis(150);
/// Timers may fire a little early on a loaded machine; never this early.
const SLACK: Duration = Duration::from_millis(50);

const OCTET_STREAM: &str = "application/octet-stream";

/// Protocol 3 allowed, a heartbeat out of the way.
fn v3_config() -> Config {
    quiet_config().allow_eio3(true)
}

/// Protocol 3 allowed, a short heartbeat.
fn v3_heartbeat_config() -> Config {
    Config::default()
        .ping_interval(INTERVAL)
        .ping_timeout(TIMEOUT)
        .allow_eio3(true)
}

/// A text payload of one record per packet: `<UTF-16 length>:<packet>`.
fn text_payload(packets: &[&str]) -> String {
    packets
        .iter()
        .map(|p| format!("{}:{p}", p.encode_utf16().count()))
        .collect()
}

/// A protocol 3 polling session, driven by hand.
struct V3Polling {
    http: Http,
    sid: String,
    session: Arc<Session>,
    /// The handshake reply's body.
    open: Vec<u8>,
}

impl V3Polling {
    /// Opens a session with `query` after `/engine.io/?` (`EIO=3&transport=polling`, ...).
    async fn open(server: &TestServer, query: &str) -> Self {
        let http = server.http();
        let reply = http.get(&format!("/engine.io/?{query}")).await;
        let text = reply.assert_poll();
        let sid = open_sid(text);
        Self {
            http,
            session: server.session(&sid),
            sid,
            open: reply.body.clone(),
        }
    }

    fn target(&self) -> String {
        format!("/engine.io/?EIO=3&transport=polling&sid={}", self.sid)
    }

    async fn get(&self) -> RawResponse {
        self.http.get(&self.target()).await
    }

    /// POSTs a text payload, typed as engine.io-client 3.x types it.
    async fn post(&self, body: &[u8]) -> RawResponse {
        self.http.post(&self.target(), body).await
    }

    async fn post_ok(&self, body: &[u8]) {
        let reply = self.post(body).await;
        assert_eq!((reply.status, reply.text()), (200, "ok"), "{reply:?}");
    }

    /// POSTs a binary payload (`application/octet-stream`).
    async fn post_binary(&self, body: &[u8]) -> RawResponse {
        let headers = [("Content-Type", OCTET_STREAM)];
        (self.http)
            .request("POST", &self.target(), &headers, body)
            .await
    }

    /// A GET left pending in the background.
    async fn pending_get(&self) -> tokio::task::JoinHandle<RawResponse> {
        let (http, target) = (self.http, self.target());
        let handle = tokio::spawn(async move { http.get(&target).await });
        settle().await;
        assert!(!handle.is_finished(), "the poll did not wait");
        handle
    }
}

/// Asserts a binary-form poll reply and returns its body.
fn assert_binary_poll(reply: &RawResponse) -> &[u8] {
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some(OCTET_STREAM));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(
        reply.header("content-length"),
        Some(reply.body.len().to_string().as_str())
    );
    &reply.body
}

// ---------------------------------------------------------------------------
// Refusal and handshake

#[tokio::test]
async fn protocol_3_is_refused_without_allow_eio3() {
    let server = TestServer::start(quiet_config()).await;
    let http = server.http();
    for target in [
        "/engine.io/?EIO=3&transport=polling",
        "/engine.io/?transport=polling",
        "/engine.io/?EIO=2&transport=polling",
    ] {
        http.get(target)
            .await
            .assert_error(400, 5, "Unsupported protocol version");
    }
    let mut conn = http
        .upgrade("/engine.io/?EIO=3&transport=websocket", &[])
        .await;
    let reply = conn.read_response().await;
    assert_eq!(
        (reply.status, reply.text()),
        (400, "Unsupported protocol version")
    );
    assert_eq!(server.engine.session_count(), 0);
}

#[tokio::test]
async fn polling_handshake_is_a_v3_text_payload() {
    let mut server = TestServer::start(v3_config().max_http_buffer_size(5000)).await;
    let polling = V3Polling::open(&server, "EIO=3&transport=polling").await;
    let open = expected_open(&polling.sid, r#"["websocket"]"#, 20000, 20000, 5000);
    assert_eq!(
        lossy(&polling.open),
        format!("{}:{open}", open.len()),
        "the open packet, keys in the reference's order"
    );
    assert!(is_reference_sid(&polling.sid));
    let session = server.expect_open().await;
    assert_eq!(session.sid(), polling.session.sid());
    assert_eq!(session.protocol(), Protocol::V3);
    assert_eq!(session.transport(), Transport::Polling);
}

#[tokio::test]
async fn a_request_without_eio_is_protocol_3() {
    let server = TestServer::start(v3_config()).await;
    let polling = V3Polling::open(&server, "transport=polling").await;
    assert_eq!(polling.session.protocol(), Protocol::V3);
    assert!(lossy(&polling.open).starts_with(&format!("{}:0{{", polling.open.len() - 4)));
}

#[tokio::test]
async fn websocket_handshake_sends_the_open_packet_as_text() {
    let server = TestServer::start(v3_config()).await;
    let mut ws = ws_connect(server.addr, "EIO=3&transport=websocket").await;
    let open = ws_expect_text(&mut ws).await;
    let sid = open_sid(&open);
    assert_eq!(open, expected_open(&sid, "[]", 20000, 20000, 1_000_000));
    assert_eq!(server.session(&sid).protocol(), Protocol::V3);
}

#[tokio::test]
async fn what_the_handler_queues_at_open_follows_the_open_packet() {
    struct Greeter;
    impl rally_engine::Handler for Greeter {
        fn on_open(&self, session: &Arc<Session>) {
            let _ = session.send("hi");
        }
        fn on_message(&self, _: &Arc<Session>, _: Message) {}
    }
    let engine = rally_engine::EngineIo::new(v3_config(), Greeter);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = Http::new(listener.local_addr().unwrap());
    let task = tokio::spawn(rally_engine::serve(listener, engine));
    let reply = http.get("/engine.io/?EIO=3&transport=polling").await;
    let body = reply.assert_poll();
    let open = &body[body.find(':').unwrap() + 1..body.find('}').unwrap() + 1];
    assert_eq!(body, text_payload(&[open, "4hi"]));
    task.abort();
}

#[tokio::test]
async fn jsonp_polling_is_refused() {
    let server = TestServer::start(v3_config()).await;
    server
        .http()
        .get("/engine.io/?EIO=3&transport=polling&j=0")
        .await
        .assert_error(400, 3, "Bad request");
    assert_eq!(server.engine.session_count(), 0);
}

// ---------------------------------------------------------------------------
// Polling payloads

#[tokio::test]
async fn text_records_both_ways_with_utf16_lengths() {
    let mut server = TestServer::start(v3_config()).await;
    let polling = V3Polling::open(&server, "EIO=3&transport=polling").await;
    let body = text_payload(&["4hello", "4é😀", "4"]);
    assert_eq!(body, "6:4hello4:4é😀1:4");
    polling.post_ok(body.as_bytes()).await;
    server.expect_text("hello").await;
    server.expect_text("é😀").await;
    server.expect_text("").await;
    assert_eq!(polling.get().await.assert_poll(), body);
}

#[tokio::test]
async fn base64_records_are_binary_messages_echoed_in_the_binary_form() {
    let mut server = TestServer::start(v3_config()).await;
    let polling = V3Polling::open(&server, "EIO=3&transport=polling").await;
    polling.post_ok(b"6:b4AQID").await;
    server.expect_binary(&[1, 2, 3]).await;
    // The client takes binary: `1`, the length digits of `\x04` + data, 0xFF.
    let reply = polling.get().await;
    assert_eq!(assert_binary_poll(&reply), b"\x01\x04\xff\x04\x01\x02\x03");
}

#[tokio::test]
async fn a_b64_client_gets_binary_as_base64_text() {
    let mut server = TestServer::start(v3_config()).await;
    let polling = V3Polling::open(&server, "EIO=3&transport=polling&b64=1").await;
    polling.post_ok("6:b4AQID8:4textééé".as_bytes()).await;
    server.expect_binary(&[1, 2, 3]).await;
    server.expect_text("textééé").await;
    let reply = polling.get().await;
    assert_eq!(reply.assert_poll(), "6:b4AQID8:4textééé");
}

#[tokio::test]
async fn binary_form_bodies_are_decoded() {
    let mut server = TestServer::start(v3_config()).await;
    let polling = V3Polling::open(&server, "EIO=3&transport=polling").await;
    // A text record (its UTF-8 length, 11, in digit bytes) and a binary one.
    let mut body = vec![0, 1, 1, 0xff];
    body.extend_from_slice("4héllo😀".as_bytes());
    body.extend_from_slice(&[1, 4, 0xff, 4, 9, 8, 7]);
    let reply = polling.post_binary(&body).await;
    assert_eq!((reply.status, reply.text()), (200, "ok"), "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("text/html"));
    server.expect_text("héllo😀").await;
    server.expect_binary(&[9, 8, 7]).await;
    // The echo has a binary frame: the binary form, the same bytes.
    assert_eq!(assert_binary_poll(&polling.get().await), &body[..]);
}

#[tokio::test]
async fn server_frames_are_batched_in_one_payload() {
    let server = TestServer::start_silent(v3_config()).await;
    let polling = V3Polling::open(&server, "EIO=3&transport=polling").await;
    let session = &polling.session;
    session.send("a").unwrap();
    session.send(Message::from(vec![0xff, 0])).unwrap();
    session.send(Message::from(Vec::new())).unwrap();
    assert_eq!(
        assert_binary_poll(&polling.get().await),
        b"\x00\x02\xff4a\x01\x03\xff\x04\xff\x00\x01\x01\xff\x04"
    );
    // Text only: the text form, whatever the client takes.
    session.send("b").unwrap();
    session.send("c").unwrap();
    assert_eq!(polling.get().await.assert_poll(), "2:4b2:4c");
}

#[tokio::test]
async fn a_protocol_3_session_refuses_protocol_4_requests_and_back() {
    let server = TestServer::start(v3_config()).await;
    let v3 = V3Polling::open(&server, "EIO=3&transport=polling").await;
    let http = server.http();
    http.get(&polling_target(&v3.sid))
        .await
        .assert_error(400, 3, "Bad request");
    let mut conn = http
        .upgrade(
            &format!("/engine.io/?EIO=4&transport=websocket&sid={}", v3.sid),
            &[],
        )
        .await;
    let reply = conn.read_response().await;
    assert_eq!((reply.status, reply.text()), (400, "Bad request"));

    let v4 = http.open_polling("/engine.io/").await;
    http.get(&format!(
        "/engine.io/?EIO=3&transport=polling&sid={}",
        v4.sid
    ))
    .await
    .assert_error(400, 3, "Bad request");
    http.get(&format!("/engine.io/?transport=polling&sid={}", v4.sid))
        .await
        .assert_error(400, 3, "Bad request");
    assert!(!v3.session.is_closed());
}

#[tokio::test]
async fn protocol_3_and_4_sessions_live_side_by_side() {
    let mut server = TestServer::start(v3_config()).await;
    let v3 = V3Polling::open(&server, "EIO=3&transport=polling").await;
    let v4 = server.open_polling().await;
    v3.post_ok(b"6:4three6:b4AQID").await;
    server.expect_text("three").await;
    server.expect_binary(&[1, 2, 3]).await;
    v4.post_ok(b"4four\x1ebAQID").await;
    server.expect_text("four").await;
    server.expect_binary(&[1, 2, 3]).await;
    assert_eq!(
        assert_binary_poll(&v3.get().await),
        b"\x00\x06\xff4three\x01\x04\xff\x04\x01\x02\x03"
    );
    assert_eq!(v4.get().await.assert_poll(), "4four\x1ebAQID");
    assert_eq!(v4.session.protocol(), Protocol::V4);
    assert_eq!(v3.session.protocol(), Protocol::V3);
}

// ---------------------------------------------------------------------------
// Bad payloads and limits

/// POSTs `body` (text form, or binary form when `binary`) with a poll
/// pending: `ok` as the reference answers (it reads the whole body first),
/// the poll gets the close packet, the session closes with `parse error`
/// and is then unknown.
async fn assert_parse_error(body: &[u8], binary: bool) {
    let mut server = TestServer::start_silent(v3_config()).await;
    let polling = V3Polling::open(&server, "EIO=3&transport=polling").await;
    let pending = polling.pending_get().await;
    let reply = if binary {
        polling.post_binary(body).await
    } else {
        polling.post(body).await
    };
    assert_eq!((reply.status, reply.text()), (200, "ok"), "{reply:?}");
    assert_eq!(server.expect_close().await, CloseReason::ParseError);
    assert_eq!(finish(pending).await.assert_poll(), "1:1");
    polling
        .get()
        .await
        .assert_error(400, 1, "Session ID unknown");
}

#[tokio::test]
async fn a_length_prefix_longer_than_the_record_is_a_parse_error() {
    assert_parse_error(b"7:4hello", false).await;
}

#[tokio::test]
async fn a_length_prefix_that_is_no_number_is_a_parse_error() {
    assert_parse_error(b"x:4hello", false).await;
    assert_parse_error(b":4hello", false).await;
}

#[tokio::test]
async fn a_body_without_records_is_a_parse_error() {
    assert_parse_error(b"", false).await;
    assert_parse_error(b"4hello", false).await;
    assert_parse_error(b"1:9", false).await;
}

#[tokio::test]
async fn bad_binary_framing_is_a_parse_error() {
    assert_parse_error(b"\x00\x09\xff4hi", true).await;
    assert_parse_error(b"\x00\x01", true).await;
}

#[tokio::test]
async fn huge_declared_lengths_are_a_parse_error_without_allocating() {
    assert_parse_error(b"99999999999999999999999:4x", false).await;
    let mut digits = vec![0];
    digits.extend_from_slice(&[9; 400]);
    digits.extend_from_slice(&[0xff, b'4']);
    assert_parse_error(&digits, true).await;
}

#[tokio::test]
async fn records_before_a_bad_one_are_delivered() {
    let mut server = TestServer::start_silent(v3_config()).await;
    let polling = V3Polling::open(&server, "EIO=3&transport=polling").await;
    polling.post_ok(b"2:4a9:4b").await;
    server.expect_text("a").await;
    assert_eq!(server.expect_close().await, CloseReason::ParseError);
    server.assert_no_event();
}

#[tokio::test]
async fn an_oversize_body_gets_413_and_the_session_lives_on() {
    let mut server = TestServer::start(v3_config().max_http_buffer_size(100)).await;
    let polling = V3Polling::open(&server, "EIO=3&transport=polling").await;
    let big = text_payload(&[&format!("4{}", "x".repeat(200))]);
    polling.post(big.as_bytes()).await.assert_empty(413);
    let mut binary = vec![1, 2, 0, 1, 0xff, 4];
    binary.extend_from_slice(&[7; 200]);
    polling.post_binary(&binary).await.assert_empty(413);
    assert!(!polling.session.is_closed());
    polling.post_ok(b"3:4ok").await;
    server.expect_text("ok").await;
}

// ---------------------------------------------------------------------------
// Heartbeat

#[tokio::test]
async fn client_pings_are_answered_with_pongs() {
    let server = TestServer::start_silent(v3_config()).await;
    let polling = V3Polling::open(&server, "EIO=3&transport=polling").await;
    polling.post_ok(b"1:2").await;
    assert_eq!(polling.get().await.assert_poll(), "1:3");
    // Whatever the ping carries, the pong carries nothing.
    polling.post_ok(b"6:2hello").await;
    assert_eq!(polling.get().await.assert_poll(), "1:3");
}

#[tokio::test]
async fn a_pinging_session_outlives_several_windows_and_gets_no_server_ping() {
    let mut server = TestServer::start(v3_heartbeat_config()).await;
    let polling = V3Polling::open(&server, "EIO=3&transport=polling").await;
    let started = Instant::now();
    // Each round trip pings; the window is pingInterval + pingTimeout.
    while started.elapsed() < 3 * (INTERVAL + TIMEOUT) {
        polling.post_ok(b"1:2").await;
        assert_eq!(polling.get().await.assert_poll(), "1:3");
    }
    assert!(!polling.session.is_closed());
    polling.post_ok(b"6:4alive").await;
    server.expect_text("alive").await;
    assert_eq!(polling.get().await.assert_poll(), "6:4alive");
}

#[tokio::test]
async fn a_silent_polling_session_times_out_after_interval_plus_timeout() {
    let mut server = TestServer::start(v3_heartbeat_config()).await;
    let opened = Instant::now();
    let polling = V3Polling::open(&server, "EIO=3&transport=polling").await;
    // Messages do not count as pings.
    polling.post_ok(b"2:4x").await;
    // The one poll waits for the close: no ping comes from the server.
    assert_eq!(polling.get().await.assert_poll(), "2:4x");
    assert_eq!(polling.get().await.assert_poll(), "1:1");
    assert!(
        opened.elapsed() >= INTERVAL + TIMEOUT - SLACK,
        "closed after {:?}",
        opened.elapsed()
    );
    server.expect_text("x").await;
    assert_eq!(server.expect_close().await, CloseReason::PingTimeout);
}

#[tokio::test]
async fn a_silent_websocket_session_times_out_without_a_server_ping() {
    let mut server = TestServer::start(v3_heartbeat_config()).await;
    let opened = Instant::now();
    let mut ws = ws_connect(server.addr, "EIO=3&transport=websocket").await;
    ws_expect_text(&mut ws).await;
    // The first thing after the open packet is the close frame.
    let (code, _) = ws_expect_close(&mut ws).await;
    assert_eq!(code, 1005);
    assert!(opened.elapsed() >= INTERVAL + TIMEOUT - SLACK);
    assert_eq!(server.expect_close().await, CloseReason::PingTimeout);
}

#[tokio::test]
async fn a_close_record_ends_the_session_and_the_pending_poll() {
    let mut server = TestServer::start_silent(v3_config()).await;
    let polling = V3Polling::open(&server, "EIO=3&transport=polling").await;
    let pending = polling.pending_get().await;
    polling.post_ok(b"1:1").await;
    assert_eq!(server.expect_close().await, CloseReason::TransportClose);
    assert_eq!(finish(pending).await.assert_poll(), "1:6");
}

#[tokio::test]
async fn a_client_pong_breaks_the_protocol() {
    let mut server = TestServer::start_silent(v3_config()).await;
    let polling = V3Polling::open(&server, "EIO=3&transport=polling").await;
    polling.post_ok(b"1:3").await;
    assert_eq!(server.expect_close().await, CloseReason::TransportError);
}

// ---------------------------------------------------------------------------
// WebSocket

#[tokio::test]
async fn websocket_binary_frames_carry_a_type_byte() {
    let mut server = TestServer::start(v3_heartbeat_config()).await;
    let mut ws = ws_connect(server.addr, "EIO=3&transport=websocket").await;
    ws_expect_text(&mut ws).await;
    ws_send_binary(&mut ws, &[4, 1, 2, 3]).await;
    server.expect_binary(&[1, 2, 3]).await;
    assert_eq!(ws_expect_binary(&mut ws).await, [4, 1, 2, 3]);
    // A base64 packet in a text frame is binary too.
    ws_send_text(&mut ws, "b4AQID").await;
    server.expect_binary(&[1, 2, 3]).await;
    assert_eq!(ws_expect_binary(&mut ws).await, [4, 1, 2, 3]);
    ws_send_text(&mut ws, "4text").await;
    server.expect_text("text").await;
    assert_eq!(ws_expect_text(&mut ws).await, "4text");
    // The client pings, the server answers; past several windows.
    let started = Instant::now();
    while started.elapsed() < 3 * (INTERVAL + TIMEOUT) {
        ws_send_text(&mut ws, "2").await;
        assert_eq!(ws_expect_text(&mut ws).await, "3");
    }
    ws_send_binary(&mut ws, &[4]).await;
    server.expect_binary(&[]).await;
    assert_eq!(ws_expect_binary(&mut ws).await, [4]);
}

#[tokio::test]
async fn a_b64_websocket_gets_binary_as_base64_text() {
    let mut server = TestServer::start(v3_config()).await;
    let mut ws = ws_connect(server.addr, "EIO=3&transport=websocket&b64=1").await;
    ws_expect_text(&mut ws).await;
    ws_send_binary(&mut ws, &[4, 0xff, 0]).await;
    server.expect_binary(&[0xff, 0]).await;
    assert_eq!(ws_expect_text(&mut ws).await, "b4/wA=");
}

#[tokio::test]
async fn upgrade_probes_noops_the_pending_poll_then_moves_to_websocket() {
    let mut server = TestServer::start(v3_config()).await;
    let polling = V3Polling::open(&server, "EIO=3&transport=polling").await;
    let pending = polling.pending_get().await;
    let mut ws = ws_connect(
        server.addr,
        &format!("EIO=3&transport=websocket&sid={}", polling.sid),
    )
    .await;
    ws_send_text(&mut ws, "2probe").await;
    assert_eq!(ws_expect_text(&mut ws).await, "3probe");
    assert_eq!(finish(pending).await.assert_poll(), "1:6");
    ws_send_text(&mut ws, "5").await;
    ws_send_binary(&mut ws, &[4, 5, 6]).await;
    server.expect_binary(&[5, 6]).await;
    assert_eq!(ws_expect_binary(&mut ws).await, [4, 5, 6]);
    assert_eq!(polling.session.transport(), Transport::WebSocket);
    ws_send_text(&mut ws, "2").await;
    assert_eq!(ws_expect_text(&mut ws).await, "3");
}

#[tokio::test]
async fn an_upgrade_asking_b64_gets_binary_as_base64_text() {
    let mut server = TestServer::start(v3_config()).await;
    let polling = V3Polling::open(&server, "EIO=3&transport=polling").await;
    let target = format!("EIO=3&transport=websocket&sid={}&b64=1", polling.sid);
    let mut ws = ws_connect(server.addr, &target).await;
    ws_send_text(&mut ws, "2probe").await;
    assert_eq!(ws_expect_text(&mut ws).await, "3probe");
    ws_send_text(&mut ws, "5").await;
    ws_send_text(&mut ws, "b4AQID").await;
    server.expect_binary(&[1, 2, 3]).await;
    assert_eq!(ws_expect_text(&mut ws).await, "b4AQID");
}

#[tokio::test]
async fn the_heartbeat_deadline_survives_the_upgrade() {
    let mut server = TestServer::start(v3_heartbeat_config()).await;
    let polling = V3Polling::open(&server, "EIO=3&transport=polling").await;
    let mut ws = ws_connect(
        server.addr,
        &format!("EIO=3&transport=websocket&sid={}", polling.sid),
    )
    .await;
    ws_send_text(&mut ws, "2probe").await;
    assert_eq!(ws_expect_text(&mut ws).await, "3probe");
    ws_send_text(&mut ws, "5").await;
    let upgraded = Instant::now();
    // No ping after the upgrade: the WebSocket ends the session in time.
    let (code, _) = ws_expect_close(&mut ws).await;
    assert_eq!(code, 1005);
    assert!(upgraded.elapsed() < INTERVAL + TIMEOUT + Duration::from_secs(1));
    assert_eq!(server.expect_close().await, CloseReason::PingTimeout);
}

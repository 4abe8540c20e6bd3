//! Opening sessions, and every request the engine refuses (with the reference's codes).

mod common;

use common::*;
use rally_engine::{Config, Transport};

#[tokio::test]
async fn polling_handshake_sends_the_exact_open_packet() {
    let server = TestServer::start(probed_config()).await;
    let reply = server.http().get(HANDSHAKE).await;
    let body = reply.assert_poll().to_owned();
    let sid = open_sid(&body);
    assert!(is_reference_sid(&sid), "sid {sid:?}");
    assert_eq!(
        body,
        expected_open(&sid, r#"["websocket"]"#, 300, 200, 1_000_000)
    );
    let session = server.session(&sid);
    assert_eq!(session.transport(), Transport::Polling);
    assert_eq!(session.handshake().transport, Transport::Polling);
}

#[tokio::test]
async fn handler_is_told_when_a_session_opens() {
    let mut server = TestServer::start(quiet_config()).await;
    let reply = server.http().get(HANDSHAKE).await;
    let sid = open_sid(reply.text());
    let opened = server.expect_open().await;
    assert_eq!(opened.sid().as_str(), sid);
    assert_eq!(opened.transport(), Transport::Polling);

    let mut ws = ws_connect(server.addr, "EIO=4&transport=websocket").await;
    let sid = open_sid(&ws_expect_text(&mut ws).await);
    let opened = server.expect_open().await;
    assert_eq!(opened.sid().as_str(), sid);
    assert_eq!(opened.transport(), Transport::WebSocket);
}

#[tokio::test]
async fn session_ids_differ_between_sessions() {
    let mut server = TestServer::start(quiet_config()).await;
    let first = server.open_polling().await;
    let second = server.open_polling().await;
    assert_ne!(first.sid, second.sid);
    assert!(is_reference_sid(&second.sid));
    assert_eq!(server.engine.session_count(), 2);
}

#[tokio::test]
async fn max_payload_follows_max_http_buffer_size() {
    let server = TestServer::start(probed_config().max_http_buffer_size(1000)).await;
    let reply = server.http().get(HANDSHAKE).await;
    let body = reply.assert_poll();
    assert_eq!(
        body,
        expected_open(&open_sid(body), r#"["websocket"]"#, 300, 200, 1000)
    );
}

#[tokio::test]
async fn websocket_handshake_sends_open_frame_without_upgrades() {
    let mut server = TestServer::start(probed_config()).await;
    let (_ws, session, open) = server.open_websocket().await;
    let sid = open_sid(&open);
    assert!(is_reference_sid(&sid), "sid {sid:?}");
    assert_eq!(open, expected_open(&sid, "[]", 300, 200, 1_000_000));
    assert_eq!(session.transport(), Transport::WebSocket);
}

#[tokio::test]
async fn websocket_handshake_answers_101_with_only_the_upgrade_headers() {
    let server = TestServer::start(quiet_config()).await;
    let mut conn = server
        .http()
        .upgrade("/engine.io/?EIO=4&transport=websocket", &[])
        .await;
    let reply = conn.read_response().await;
    assert_eq!(reply.status, 101, "{reply:?}");
    assert_eq!(reply.header("upgrade"), Some("websocket"));
    assert!(
        reply
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("upgrade"))
    );
    assert_eq!(reply.header("sec-websocket-accept"), Some(WS_ACCEPT));
    let others: Vec<_> = reply
        .headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .filter(|name| {
            !matches!(
                name.as_str(),
                "upgrade" | "connection" | "sec-websocket-accept" | "date"
            )
        })
        .collect();
    assert!(others.is_empty(), "unexpected headers {others:?}");
}

#[tokio::test]
async fn non_get_handshakes_are_refused_with_code_2() {
    let server = TestServer::start(quiet_config()).await;
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let reply = server.http().request(method, HANDSHAKE, &[], b"").await;
        reply.assert_error(400, 2, "Bad handshake method");
    }
    assert_eq!(server.engine.session_count(), 0);
}

#[tokio::test]
async fn handshake_method_is_checked_before_protocol_version() {
    let server = TestServer::start(quiet_config()).await;
    let reply = server
        .http()
        .post("/engine.io/?transport=polling", b"")
        .await;
    reply.assert_error(400, 2, "Bad handshake method");
}

#[tokio::test]
async fn unsupported_protocol_versions_are_refused_with_code_5() {
    let server = TestServer::start(quiet_config()).await;
    for query in ["", "EIO=3&", "EIO=5&", "EIO=abc&"] {
        let reply = server
            .http()
            .get(&format!("/engine.io/?{query}transport=polling"))
            .await;
        reply.assert_error(400, 5, "Unsupported protocol version");
    }
    assert_eq!(server.engine.session_count(), 0);
}

#[tokio::test]
async fn unknown_or_missing_transport_is_refused_with_code_0() {
    let server = TestServer::start(quiet_config()).await;
    for target in [
        "/engine.io/?EIO=4&transport=foo",
        "/engine.io/?EIO=4",
        // The transport is checked before the protocol version.
        "/engine.io/?EIO=3&transport=foo",
    ] {
        let reply = server.http().get(target).await;
        reply.assert_error(400, 0, "Transport unknown");
    }
}

#[tokio::test]
async fn websocket_transport_without_upgrade_is_a_bad_request() {
    let server = TestServer::start(quiet_config()).await;
    let reply = server
        .http()
        .get("/engine.io/?EIO=4&transport=websocket")
        .await;
    reply.assert_error(400, 3, "Bad request");
    // Checked before the protocol version.
    let reply = server
        .http()
        .get("/engine.io/?EIO=3&transport=websocket")
        .await;
    reply.assert_error(400, 3, "Bad request");
    assert_eq!(server.engine.session_count(), 0);
}

#[tokio::test]
async fn websocket_transport_without_upgrade_on_a_polling_session_is_a_bad_request() {
    let mut server = TestServer::start(quiet_config()).await;
    let polling = server.open_polling().await;
    let reply = server
        .http()
        .get(&format!(
            "/engine.io/?EIO=4&transport=websocket&sid={}",
            polling.sid
        ))
        .await;
    reply.assert_error(400, 3, "Bad request");
    assert!(!polling.session.is_closed());
}

#[tokio::test]
async fn unknown_sid_is_refused_with_code_1() {
    let server = TestServer::start(quiet_config()).await;
    let http = server.http();
    for sid in ["AAAAAAAAAAAAAAAAAAAA", "nope"] {
        let target = polling_target(sid);
        http.get(&target)
            .await
            .assert_error(400, 1, "Session ID unknown");
        http.post(&target, b"4hello")
            .await
            .assert_error(400, 1, "Session ID unknown");
    }
}

#[tokio::test]
async fn websocket_with_unknown_sid_gets_a_raw_400() {
    let server = TestServer::start(quiet_config()).await;
    let mut conn = server
        .http()
        .upgrade(
            "/engine.io/?EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA",
            &[],
        )
        .await;
    let reply = conn.read_response().await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("text/html"));
    assert_eq!(reply.header("connection"), Some("close"));
    assert_eq!(reply.header("content-length"), Some("18"));
    assert_eq!(reply.text(), "Session ID unknown");
    // Then the connection is closed.
    assert_eq!(conn.read_to_end().await, b"");
}

#[tokio::test]
async fn websocket_with_unknown_transport_gets_a_raw_400() {
    let server = TestServer::start(quiet_config()).await;
    let mut conn = server
        .http()
        .upgrade("/engine.io/?EIO=4&transport=foo", &[])
        .await;
    let reply = conn.read_response().await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("text/html"));
    assert_eq!(reply.text(), "Transport unknown");
}

#[tokio::test]
async fn websocket_with_polling_transport_is_accepted_then_closed() {
    let server = TestServer::start(quiet_config()).await;
    let mut ws = ws_connect(server.addr, "EIO=4&transport=polling").await;
    assert_eq!(ws_expect_close(&mut ws).await, (1005, String::new()));
    assert_eq!(server.engine.session_count(), 0);

    // With a sid, too: the session is not touched.
    let mut server = TestServer::start(quiet_config()).await;
    let polling = server.open_polling().await;
    let mut ws = ws_connect(
        server.addr,
        &format!("EIO=4&transport=polling&sid={}", polling.sid),
    )
    .await;
    assert_eq!(ws_expect_close(&mut ws).await, (1005, String::new()));
    polling.post_ok(b"4still").await;
    server.expect_text("still").await;
}

#[tokio::test]
async fn websocket_with_unsupported_protocol_opens_no_session() {
    // The reference answers 101 and then writes a raw 400 into the upgraded
    // stream; either way the client reads "Unsupported protocol version" and
    // no session exists.
    let server = TestServer::start(quiet_config()).await;
    let mut conn = server
        .http()
        .upgrade("/engine.io/?EIO=3&transport=websocket", &[])
        .await;
    let bytes = conn.read_to_end().await;
    assert!(
        lossy(&bytes).contains("Unsupported protocol version"),
        "got {:?}",
        lossy(&bytes)
    );
    assert_eq!(server.engine.session_count(), 0);
}

#[tokio::test]
async fn other_methods_on_a_session_answer_500_and_keep_it_open() {
    let mut server = TestServer::start(quiet_config()).await;
    let polling = server.open_polling().await;
    for method in ["PUT", "DELETE", "OPTIONS"] {
        let reply = server
            .http()
            .request(method, &polling.target(), &[], b"")
            .await;
        reply.assert_empty(500);
    }
    polling.post_ok(b"4still open").await;
    server.expect_text("still open").await;
    assert!(!polling.session.is_closed());
}

#[tokio::test]
async fn polling_on_a_websocket_session_is_a_bad_request() {
    let mut server = TestServer::start(quiet_config()).await;
    let (_ws, session, _) = server.open_websocket().await;
    let target = polling_target(session.sid().as_str());
    server
        .http()
        .get(&target)
        .await
        .assert_error(400, 3, "Bad request");
    server
        .http()
        .post(&target, b"4x")
        .await
        .assert_error(400, 3, "Bad request");
    assert!(!session.is_closed());
}

#[tokio::test]
async fn poll_with_another_protocol_version_is_a_bad_request() {
    let mut server = TestServer::start(quiet_config()).await;
    let polling = server.open_polling().await;
    let reply = server
        .http()
        .get(&format!(
            "/engine.io/?EIO=3&transport=polling&sid={}",
            polling.sid
        ))
        .await;
    reply.assert_error(400, 3, "Bad request");
}

#[tokio::test]
async fn path_is_matched_by_prefix() {
    let server = TestServer::start(probed_config()).await;
    let reply = server
        .http()
        .get("/engine.io/x?EIO=4&transport=polling")
        .await;
    let body = reply.assert_poll();
    assert_eq!(
        body,
        expected_open(&open_sid(body), r#"["websocket"]"#, 300, 200, 1_000_000)
    );
}

#[tokio::test]
async fn requests_outside_the_path_get_404() {
    let server = TestServer::start(quiet_config()).await;
    for target in [
        "/other/?EIO=4&transport=polling",
        "/engine.io?EIO=4&transport=polling",
        "/?EIO=4&transport=polling",
    ] {
        let reply = server.http().get(target).await;
        assert_eq!(reply.status, 404, "{target}: {reply:?}");
    }
    assert_eq!(server.engine.session_count(), 0);
}

#[tokio::test]
async fn custom_path_is_served_instead_of_the_default() {
    let server = TestServer::start(quiet_config().path("/custom")).await;
    let reply = server.http().get("/custom/?EIO=4&transport=polling").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.text().starts_with(r#"0{"sid":""#));
    let reply = server.http().get(HANDSHAKE).await;
    assert_eq!(reply.status, 404);
}

#[tokio::test]
async fn default_config_matches_the_reference_defaults() {
    let server = TestServer::start(Config::default()).await;
    let reply = server.http().get(HANDSHAKE).await;
    let body = reply.assert_poll();
    assert_eq!(
        body,
        expected_open(
            &open_sid(body),
            r#"["websocket"]"#,
            25_000,
            20_000,
            1_000_000
        )
    );
}

/// An inner service for the layer: answers `hello` to everything.
#[derive(Clone)]
struct Hello;

impl<B> tower_service::Service<http::Request<B>> for Hello {
    type Response = http::Response<http_body_util::Full<bytes::Bytes>>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: http::Request<B>) -> Self::Future {
        let body = http_body_util::Full::new(bytes::Bytes::from_static(b"hello"));
        std::future::ready(Ok(http::Response::new(body)))
    }
}

#[tokio::test]
async fn layer_passes_other_paths_to_the_inner_service() {
    use tower_layer::Layer;

    let server = TestServer::start(quiet_config()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = Http {
        addr: listener.local_addr().unwrap(),
    };
    let service = rally_engine::EngineIoLayer::new(server.engine.clone()).layer(Hello);
    let task = tokio::spawn(rally_engine::serve(listener, service));

    let other = http.get("/app?EIO=4&transport=polling").await;
    assert_eq!(other.status, 200);
    assert_eq!(other.text(), "hello");
    let handshake = http.get(HANDSHAKE).await;
    let sid = open_sid(handshake.assert_poll());
    assert_eq!(server.session(&sid).transport(), Transport::Polling);
    task.abort();
}

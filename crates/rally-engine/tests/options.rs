//! Server options: transports, allowUpgrades, cors, cookie, allowRequest,
//! and what the application learns of the handshake.

mod common;

use common::*;
use rally_engine::{CloseReason, Cookie, Cors, SameSite, SendError, Transport};

const ORIGIN: &str = "http://example.com";

// ---------------------------------------------------------------------------
// transports, allowUpgrades

#[tokio::test]
async fn websocket_only_server_refuses_polling_with_code_0() {
    let mut server = TestServer::start(quiet_config().transports([Transport::WebSocket])).await;
    server
        .http()
        .get(HANDSHAKE)
        .await
        .assert_error(400, 0, "Transport unknown");
    let (_ws, _session, open) = server.open_websocket().await;
    assert!(open.contains(r#""upgrades":[]"#), "{open}");
}

#[tokio::test]
async fn polling_only_server_offers_no_upgrade_and_refuses_websocket() {
    let mut server = TestServer::start(quiet_config().transports([Transport::Polling])).await;
    let polling = server.open_polling().await;
    let handshake = server.http().get(HANDSHAKE).await;
    assert!(
        handshake.text().contains(r#""upgrades":[]"#),
        "{handshake:?}"
    );
    for target in [
        "/engine.io/?EIO=4&transport=websocket".to_owned(),
        format!("/engine.io/?EIO=4&transport=websocket&sid={}", polling.sid),
    ] {
        let mut conn = server.http().upgrade(&target, &[]).await;
        let reply = conn.read_response().await;
        assert_eq!(reply.status, 400, "{target}: {reply:?}");
        assert_eq!(reply.header("content-type"), Some("text/html"));
        assert_eq!(reply.text(), "Transport unknown");
    }
    assert_eq!(polling.session.transport(), Transport::Polling);
}

#[tokio::test]
async fn disallowed_upgrades_are_not_advertised() {
    let server = TestServer::start(probed_config().allow_upgrades(false)).await;
    let reply = server.http().get(HANDSHAKE).await;
    let body = reply.assert_poll();
    assert_eq!(
        body,
        expected_open(&open_sid(body), "[]", 300, 200, 1_000_000)
    );
}

// ---------------------------------------------------------------------------
// cors

fn example_cors() -> Cors {
    Cors::origins([ORIGIN]).credentials(true)
}

/// Asserts the headers every non-preflight reply gets with [`example_cors`].
fn assert_example_cors(reply: &RawResponse) {
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(ORIGIN),
        "{reply:?}"
    );
    assert!(
        reply.header_tokens("vary").contains(&"Origin".to_owned()),
        "{reply:?}"
    );
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true"),
        "{reply:?}"
    );
}

#[tokio::test]
async fn cors_preflight_answers_204_with_methods_and_requested_headers() {
    let mut server = TestServer::start(quiet_config().cors(example_cors())).await;
    let polling = server.open_polling().await;
    for target in [HANDSHAKE.to_owned(), polling.target()] {
        let reply = server
            .http()
            .request(
                "OPTIONS",
                &target,
                &[
                    ("Origin", ORIGIN),
                    ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "content-type"),
                ],
                b"",
            )
            .await;
        assert_eq!(reply.status, 204, "{reply:?}");
        assert_example_cors(&reply);
        assert_eq!(
            reply.header("access-control-allow-methods"),
            Some("GET,HEAD,PUT,PATCH,POST,DELETE")
        );
        assert_eq!(
            reply.header("access-control-allow-headers"),
            Some("content-type")
        );
        // One `Vary: Origin, Access-Control-Request-Headers` in the reference.
        assert_eq!(
            reply.header_tokens("vary"),
            ["Origin", "Access-Control-Request-Headers"],
            "{reply:?}"
        );
        assert!(reply.body.is_empty());
    }
    assert!(!polling.session.is_closed());
}

#[tokio::test]
async fn cors_preflight_varies_on_request_headers_even_when_none_were_asked() {
    for cors in [example_cors(), Cors::any()] {
        let server = TestServer::start(quiet_config().cors(cors.clone())).await;
        let reply = server
            .http()
            .request("OPTIONS", HANDSHAKE, &[("Origin", ORIGIN)], b"")
            .await;
        assert_eq!(reply.status, 204, "{reply:?}");
        assert!(!reply.has_header("access-control-allow-headers"));
        assert!(
            reply
                .header_tokens("vary")
                .contains(&"Access-Control-Request-Headers".to_owned()),
            "{cors:?}: {reply:?}"
        );
    }
}

#[tokio::test]
async fn cors_headers_are_added_to_every_polling_reply() {
    let config = quiet_config()
        .cors(example_cors())
        .max_http_buffer_size(100);
    let server = TestServer::start(config).await;
    let http = server.http();
    let origin = [("Origin", ORIGIN)];

    let handshake = http.request("GET", HANDSHAKE, &origin, b"").await;
    assert_eq!(handshake.status, 200);
    assert_example_cors(&handshake);
    let target = polling_target(&open_sid(handshake.text()));

    let post = http.request("POST", &target, &origin, b"4x").await;
    assert_eq!(post.body, b"ok");
    assert_example_cors(&post);

    let get = http.request("GET", &target, &origin, b"").await;
    assert_eq!(get.assert_poll(), "4x");
    assert_example_cors(&get);

    let too_large = http.request("POST", &target, &origin, &[b'4'; 101]).await;
    assert_eq!(too_large.status, 413);
    assert_example_cors(&too_large);

    let bad_method = http.request("PUT", &target, &origin, b"").await;
    assert_eq!(bad_method.status, 500);
    assert_example_cors(&bad_method);

    let error = http
        .request("GET", &polling_target("AAAAAAAAAAAAAAAAAAAA"), &origin, b"")
        .await;
    error.assert_error(400, 1, "Session ID unknown");
    assert_example_cors(&error);
}

#[tokio::test]
async fn cors_any_origin_allows_star_without_credentials() {
    let server = TestServer::start(quiet_config().cors(Cors::any())).await;
    let preflight = server
        .http()
        .request(
            "OPTIONS",
            HANDSHAKE,
            &[
                ("Origin", ORIGIN),
                ("Access-Control-Request-Headers", "content-type"),
            ],
            b"",
        )
        .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("GET,HEAD,PUT,PATCH,POST,DELETE")
    );
    assert_eq!(
        preflight.header_tokens("vary"),
        ["Access-Control-Request-Headers"]
    );
    assert!(!preflight.has_header("access-control-allow-credentials"));
    assert!(preflight.body.is_empty());

    let get = server
        .http()
        .request("GET", HANDSHAKE, &[("Origin", ORIGIN)], b"")
        .await;
    assert_eq!(get.status, 200);
    assert_eq!(get.header("access-control-allow-origin"), Some("*"));
    assert!(!get.has_header("vary"), "{get:?}");
    assert!(!get.has_header("access-control-allow-credentials"));
}

#[tokio::test]
async fn websocket_101_carries_cors_headers() {
    let server = TestServer::start(quiet_config().cors(example_cors())).await;
    let mut conn = server
        .http()
        .upgrade(
            "/engine.io/?EIO=4&transport=websocket",
            &[("Origin", ORIGIN)],
        )
        .await;
    let reply = conn.read_response().await;
    assert_eq!(reply.status, 101, "{reply:?}");
    assert_example_cors(&reply);
}

#[tokio::test]
async fn without_cors_no_access_control_headers_are_sent() {
    let mut server = TestServer::start(quiet_config()).await;
    let http = server.http();
    let origin = [("Origin", ORIGIN)];
    let handshake = http.request("GET", HANDSHAKE, &origin, b"").await;
    let target = polling_target(&open_sid(handshake.text()));
    let post = http.request("POST", &target, &origin, b"4x").await;
    server.expect_text("x").await;
    let preflight = http
        .request(
            "OPTIONS",
            HANDSHAKE,
            &[
                ("Origin", ORIGIN),
                ("Access-Control-Request-Method", "POST"),
            ],
            b"",
        )
        .await;
    preflight.assert_error(400, 2, "Bad handshake method");
    for reply in [&handshake, &post, &preflight] {
        let cors: Vec<_> = reply
            .headers
            .iter()
            .filter(|(name, _)| name.to_ascii_lowercase().starts_with("access-control-"))
            .collect();
        assert!(cors.is_empty(), "{reply:?}");
    }
}

// ---------------------------------------------------------------------------
// cookie

#[tokio::test]
async fn cookie_is_set_on_the_polling_handshake_only() {
    let mut server = TestServer::start(quiet_config().cookie(Cookie::default())).await;
    let handshake = server.http().get(HANDSHAKE).await;
    let sid = open_sid(handshake.text());
    assert_eq!(
        handshake.header("set-cookie"),
        Some(format!("io={sid}; Path=/; HttpOnly; SameSite=Lax").as_str())
    );
    let target = polling_target(&sid);
    let post = server.http().post(&target, b"4x").await;
    assert!(!post.has_header("set-cookie"), "{post:?}");
    let get = server.http().get(&target).await;
    assert_eq!(get.assert_poll(), "4x");
    assert!(!get.has_header("set-cookie"), "{get:?}");

    // Neither on the 101 of an upgrade...
    let mut upgrade = server
        .http()
        .upgrade(
            &format!("/engine.io/?EIO=4&transport=websocket&sid={sid}"),
            &[],
        )
        .await;
    let reply = upgrade.read_response().await;
    assert_eq!(reply.status, 101);
    assert!(!reply.has_header("set-cookie"), "{reply:?}");

    // ...nor on the 101 of a session that starts on WebSocket.
    let mut direct = server
        .http()
        .upgrade("/engine.io/?EIO=4&transport=websocket", &[])
        .await;
    let reply = direct.read_response().await;
    assert_eq!(reply.status, 101);
    assert!(!reply.has_header("set-cookie"), "{reply:?}");
    server.expect_text("x").await;
}

#[tokio::test]
async fn cookie_attributes_follow_the_options() {
    let mut cookie = Cookie::default().name("sticky");
    cookie.path = None;
    cookie.http_only = false;
    cookie.same_site = Some(SameSite::Strict);
    let server = TestServer::start(quiet_config().cookie(cookie)).await;
    let handshake = server.http().get(HANDSHAKE).await;
    let sid = open_sid(handshake.text());
    assert_eq!(
        handshake.header("set-cookie"),
        Some(format!("sticky={sid}; SameSite=Strict").as_str())
    );
}

#[tokio::test]
async fn no_cookie_by_default() {
    let server = TestServer::start(quiet_config()).await;
    let handshake = server.http().get(HANDSHAKE).await;
    assert_eq!(handshake.status, 200);
    assert!(!handshake.has_header("set-cookie"));
}

// ---------------------------------------------------------------------------
// allowRequest

#[tokio::test]
async fn allow_request_refusal_is_403_with_its_message() {
    let config = quiet_config().allow_request(|_| Err("custom refusal".into()));
    let server = TestServer::start(config).await;
    server
        .http()
        .get(HANDSHAKE)
        .await
        .assert_error(403, 4, "custom refusal");
    assert_eq!(server.engine.session_count(), 0);
}

#[tokio::test]
async fn allow_request_runs_before_the_protocol_check() {
    let config = quiet_config().allow_request(|_| Err("custom refusal".into()));
    let server = TestServer::start(config).await;
    server
        .http()
        .get("/engine.io/?EIO=3&transport=polling")
        .await
        .assert_error(403, 4, "custom refusal");
}

#[tokio::test]
async fn allow_request_refusal_without_a_message_says_forbidden() {
    let config = quiet_config().allow_request(|_| Err(String::new()));
    let server = TestServer::start(config).await;
    server
        .http()
        .get(HANDSHAKE)
        .await
        .assert_error(403, 4, "Forbidden");
}

#[tokio::test]
async fn allow_request_refusal_of_a_websocket_is_a_raw_400() {
    let config = quiet_config().allow_request(|_| Err("custom refusal".into()));
    let server = TestServer::start(config).await;
    let mut conn = server
        .http()
        .upgrade("/engine.io/?EIO=4&transport=websocket", &[])
        .await;
    let reply = conn.read_response().await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("text/html"));
    assert_eq!(reply.text(), "custom refusal");
    assert_eq!(server.engine.session_count(), 0);
}

#[tokio::test]
async fn allow_request_runs_for_handshakes_only() {
    let config = quiet_config().allow_request(|req| {
        if req.headers.contains_key("x-token") {
            Ok(())
        } else {
            Err("no token".into())
        }
    });
    let mut server = TestServer::start(config).await;
    let http = server.http();
    http.get(HANDSHAKE).await.assert_error(403, 4, "no token");
    let handshake = http
        .request("GET", HANDSHAKE, &[("X-Token", "t")], b"")
        .await;
    assert_eq!(handshake.status, 200, "{handshake:?}");
    let sid = open_sid(handshake.text());
    let target = polling_target(&sid);
    // Requests of the session need no token.
    assert_eq!(http.post(&target, b"4hi").await.body, b"ok");
    server.expect_text("hi").await;
    assert_eq!(http.get(&target).await.assert_poll(), "4hi");
    // Nor does its upgrade.
    let mut ws = ws_connect(server.addr, &format!("EIO=4&transport=websocket&sid={sid}")).await;
    ws_send_text(&mut ws, "2probe").await;
    assert_eq!(ws_expect_text(&mut ws).await, "3probe");
}

#[tokio::test]
async fn allow_request_sees_the_query() {
    let config = quiet_config().allow_request(|req| {
        match req.uri.query().is_some_and(|q| q.contains("token=good")) {
            true => Ok(()),
            false => Err("bad token".into()),
        }
    });
    let server = TestServer::start(config).await;
    let http = server.http();
    let ok = http.get(&format!("{HANDSHAKE}&token=good")).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    http.get(&format!("{HANDSHAKE}&token=bad"))
        .await
        .assert_error(403, 4, "bad token");
}

// ---------------------------------------------------------------------------
// What the application sees of the handshake

#[tokio::test]
async fn polling_handshake_details_reach_the_session() {
    let server = TestServer::start(quiet_config()).await;
    let mut conn = server.http().connect().await;
    let client_addr = conn.local_addr();
    conn.send(
        "GET",
        &format!("{HANDSHAKE}&token=abc%20def&flag"),
        &[("X-Custom", "yes")],
        b"",
    )
    .await;
    let reply = conn.read_response().await;
    let session = server.session(&open_sid(reply.text()));
    let handshake = session.handshake();
    assert_eq!(handshake.query("token").as_deref(), Some("abc def"));
    assert_eq!(handshake.query("flag").as_deref(), Some(""));
    assert_eq!(handshake.query("EIO").as_deref(), Some("4"));
    assert_eq!(handshake.query("missing"), None);
    assert_eq!(
        handshake.headers.get("x-custom").map(str::as_bytes),
        Some(&b"yes"[..])
    );
    assert_eq!(handshake.remote_addr, Some(client_addr));
    assert_eq!(handshake.transport, Transport::Polling);
}

#[tokio::test]
async fn websocket_handshake_details_reach_the_session() {
    let server = TestServer::start(quiet_config()).await;
    let mut conn = server
        .http()
        .upgrade(
            "/engine.io/?EIO=4&transport=websocket&token=ws",
            &[("X-Custom", "ws")],
        )
        .await;
    let client_addr = conn.local_addr();
    assert_eq!(conn.read_response().await.status, 101);
    let (first_byte, open) = conn.read_short_frame().await;
    assert_eq!(first_byte, 0x81, "a final text frame");
    let session = server.session(&open_sid(&lossy(&open)));
    let handshake = session.handshake();
    assert_eq!(handshake.query("token").as_deref(), Some("ws"));
    assert_eq!(
        handshake.headers.get("x-custom").map(str::as_bytes),
        Some(&b"ws"[..])
    );
    assert_eq!(handshake.remote_addr, Some(client_addr));
    assert_eq!(handshake.transport, Transport::WebSocket);
}

// ---------------------------------------------------------------------------
// Rally's own API: bounded queues, closing every session

#[tokio::test]
async fn send_refuses_frames_past_max_buffered_frames() {
    let mut server = TestServer::start_silent(quiet_config().max_buffered_frames(2)).await;
    let polling = server.open_polling().await;
    let session = &polling.session;
    session.send("a").unwrap();
    session.send("b").unwrap();
    assert_eq!(session.send("c"), Err(SendError::Full));
    assert_eq!(polling.get().await.assert_poll(), "4a\x1e4b");
    session.send("d").unwrap();
    session.close();
    assert_eq!(session.send("e"), Err(SendError::Closed));
    // What was queued before the close still goes out, then the close in
    // a poll of its own (a noop first, as the reference's).
    assert_eq!(polling.get().await.assert_poll(), "4d");
    assert_eq!(polling.get().await.assert_poll(), "6\x1e1");
    assert_eq!(server.expect_close().await, CloseReason::ForcedClose);
}

#[tokio::test]
async fn a_closing_session_takes_posts_until_its_close_is_fetched() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let polling = server.open_polling().await;
    polling.session.send("last").unwrap();
    polling.session.close();
    // Until the client fetched what was left, its posts get `ok` (their
    // packets dropped), as the reference's: a 400 there would make the
    // official client give up with `transport error` before it reads them.
    for _ in 0..20 {
        polling.post_ok(b"4dropped").await;
    }
    assert_eq!(polling.get().await.assert_poll(), "4last");
    assert_eq!(polling.get().await.assert_poll(), "6\x1e1");
    assert_eq!(server.expect_close().await, CloseReason::ForcedClose);
    server.assert_no_event();
}

#[tokio::test]
async fn close_all_ends_every_session_with_its_reason() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let polling = server.open_polling().await;
    let pending = polling.pending_get().await;
    let (mut ws, ws_session, _) = server.open_websocket().await;
    ws_session.send("last words").unwrap();
    server.engine.close_all(CloseReason::ServerShuttingDown);
    assert_eq!(finish(pending).await.assert_poll(), "1");
    assert_eq!(ws_expect_text(&mut ws).await, "4last words");
    assert_eq!(ws_expect_close(&mut ws).await, (1005, String::new()));
    for _ in 0..2 {
        assert_eq!(server.expect_close().await, CloseReason::ServerShuttingDown);
    }
    within("the session to report its end", polling.session.closed()).await;
    assert_eq!(
        polling.session.close_reason(),
        Some(CloseReason::ServerShuttingDown)
    );
    assert_eq!(server.engine.session_count(), 0);
}

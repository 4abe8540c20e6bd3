//! The engine's hooks and the options a Node.js port expects:
//! `initial_headers`, `headers`, `connection_error`, an async
//! `allowRequest`, `initialPacket`, the full `cors` and `cookie` options and
//! `addTrailingSlash`.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use common::*;
use http::HeaderValue;
use rally_engine::{Config, Cookie, Cors, Message, Refusal, SameSite};

const ORIGIN: &str = "http://example.com";

// ---------------------------------------------------------------------------
// initial_headers, headers

/// A config whose hooks stamp `x-initial` on the replies that open a
/// session, and `x-every` (with the request's method and query) on every
/// successful one.
fn stamping() -> Config {
    quiet_config()
        .on_initial_headers(|headers, req| {
            assert!(
                headers.contains_key("content-type")
                    || req.uri.query().unwrap().contains("websocket")
            );
            headers.insert("x-initial", HeaderValue::from_static("yes"));
        })
        .on_headers(|headers, req| {
            let seen = format!("{} {}", req.method, req.uri.query().unwrap_or_default());
            headers.insert("x-every", HeaderValue::from_str(&seen).unwrap());
        })
}

#[tokio::test]
async fn polling_handshake_gets_both_hooks_and_later_replies_only_headers() {
    let server = TestServer::start(stamping()).await;
    let http = server.http();
    let handshake = http.get(HANDSHAKE).await;
    assert_eq!(handshake.status, 200);
    assert_eq!(handshake.header("x-initial"), Some("yes"), "{handshake:?}");
    assert_eq!(
        handshake.header("x-every"),
        Some("GET EIO=4&transport=polling")
    );
    let sid = open_sid(handshake.text());
    let target = polling_target(&sid);

    let post = server.http().post(&target, b"4hi").await;
    assert_eq!(post.body, b"ok");
    assert!(!post.has_header("x-initial"), "{post:?}");
    assert_eq!(
        post.header("x-every"),
        Some(format!("POST EIO=4&transport=polling&sid={sid}").as_str())
    );
    let poll = server.http().get(&target).await;
    assert_eq!(poll.assert_poll(), "4hi");
    assert!(!poll.has_header("x-initial"), "{poll:?}");
    assert_eq!(
        poll.header("x-every"),
        Some(format!("GET EIO=4&transport=polling&sid={sid}").as_str())
    );

    // A refusal gets neither.
    let refused = server.http().get("/engine.io/?EIO=4&transport=nope").await;
    refused.assert_error(400, 0, "Transport unknown");
    assert!(!refused.has_header("x-initial") && !refused.has_header("x-every"));
}

#[tokio::test]
async fn websocket_101s_get_the_hooks_initial_only_when_opening() {
    let mut server = TestServer::start(stamping()).await;
    let mut conn = server
        .http()
        .upgrade("/engine.io/?EIO=4&transport=websocket", &[])
        .await;
    let reply = conn.read_response().await;
    assert_eq!(reply.status, 101, "{reply:?}");
    assert_eq!(reply.header("x-initial"), Some("yes"), "{reply:?}");
    assert_eq!(
        reply.header("x-every"),
        Some("GET EIO=4&transport=websocket")
    );

    let polling = server.open_polling().await;
    let mut conn = server
        .http()
        .upgrade(
            &format!("/engine.io/?EIO=4&transport=websocket&sid={}", polling.sid),
            &[],
        )
        .await;
    let reply = conn.read_response().await;
    assert_eq!(reply.status, 101, "{reply:?}");
    assert!(!reply.has_header("x-initial"), "{reply:?}");
    assert_eq!(
        reply.header("x-every"),
        Some(format!("GET EIO=4&transport=websocket&sid={}", polling.sid).as_str())
    );
}

#[tokio::test]
async fn initial_headers_may_change_the_cookie() {
    let config = quiet_config()
        .cookie(Cookie::default())
        .on_initial_headers(|headers, _| {
            let cookie = headers["set-cookie"].to_str().unwrap().to_owned();
            headers.insert(
                "set-cookie",
                HeaderValue::from_str(&format!("{cookie}; Secure")).unwrap(),
            );
        });
    let server = TestServer::start(config).await;
    let handshake = server.http().get(HANDSHAKE).await;
    let sid = open_sid(handshake.text());
    assert_eq!(
        handshake.header("set-cookie"),
        Some(format!("io={sid}; Path=/; HttpOnly; SameSite=Lax; Secure").as_str())
    );
}

#[tokio::test]
async fn a_panicking_hook_leaves_the_reply_alone() {
    let config = quiet_config()
        .on_initial_headers(|_, _| panic!("a bug in a hook"))
        .on_headers(|headers, _| {
            headers.insert("x-every", HeaderValue::from_static("1"));
        });
    let server = TestServer::start(config).await;
    let handshake = server.http().get(HANDSHAKE).await;
    assert_eq!(handshake.status, 200, "{handshake:?}");
    assert_eq!(handshake.header("x-every"), Some("1"));
    let sid = open_sid(handshake.text());
    assert_eq!(
        server.http().post(&polling_target(&sid), b"4x").await.body,
        b"ok"
    );
}

// ---------------------------------------------------------------------------
// connection_error

type Seen = Arc<Mutex<Vec<(u8, String, Refusal, String)>>>;

/// A config recording every `connection_error` as (code, message, reason,
/// request target).
fn recording(config: Config) -> (Config, Seen) {
    let seen = Seen::default();
    let log = seen.clone();
    let config = config.on_connection_error(move |err| {
        log.lock().unwrap().push((
            err.code,
            err.message.to_owned(),
            err.reason,
            err.request.uri.to_string(),
        ));
    });
    (config, seen)
}

fn take(seen: &Seen) -> Vec<(u8, String, Refusal, String)> {
    std::mem::take(&mut *seen.lock().unwrap())
}

#[tokio::test]
async fn connection_error_tells_each_refusal_of_a_session_request() {
    let (config, seen) = recording(quiet_config());
    let mut server = TestServer::start(config).await;
    let polling = server.open_polling().await;
    let sid = polling.sid.clone();
    assert!(take(&seen).is_empty(), "a success is no connection error");

    let unknown_transport = "/engine.io/?EIO=4&transport=carrier-pigeon";
    server
        .http()
        .get(unknown_transport)
        .await
        .assert_error(400, 0, "Transport unknown");
    let unknown_sid = "/engine.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA";
    server
        .http()
        .get(unknown_sid)
        .await
        .assert_error(400, 1, "Session ID unknown");
    let bad_method = "/engine.io/?EIO=4&transport=polling";
    server
        .http()
        .post(bad_method, b"")
        .await
        .assert_error(400, 2, "Bad handshake method");
    let mismatch = format!("/engine.io/?EIO=4&transport=websocket&sid={sid}");
    server
        .http()
        .get(&mismatch)
        .await
        .assert_error(400, 3, "Bad request");
    let protocol = format!("/engine.io/?EIO=3&transport=polling&sid={sid}");
    server
        .http()
        .get(&protocol)
        .await
        .assert_error(400, 3, "Bad request");
    let no_upgrade = "/engine.io/?EIO=4&transport=websocket";
    server
        .http()
        .get(no_upgrade)
        .await
        .assert_error(400, 3, "Bad request");
    let eio3 = "/engine.io/?EIO=3&transport=polling";
    server
        .http()
        .get(eio3)
        .await
        .assert_error(400, 5, "Unsupported protocol version");

    let message = |s: &str| s.to_owned();
    assert_eq!(
        take(&seen),
        [
            (
                0,
                message("Transport unknown"),
                Refusal::UnknownTransport,
                unknown_transport.to_owned()
            ),
            (
                1,
                message("Session ID unknown"),
                Refusal::UnknownSid,
                unknown_sid.to_owned()
            ),
            (
                2,
                message("Bad handshake method"),
                Refusal::BadHandshakeMethod,
                bad_method.to_owned()
            ),
            (
                3,
                message("Bad request"),
                Refusal::TransportMismatch,
                mismatch
            ),
            (
                3,
                message("Bad request"),
                Refusal::ProtocolMismatch,
                protocol
            ),
            (
                3,
                message("Bad request"),
                Refusal::TransportHandshakeError,
                no_upgrade.to_owned()
            ),
            (
                5,
                message("Unsupported protocol version"),
                Refusal::UnsupportedProtocolVersion,
                eio3.to_owned()
            ),
        ]
    );
    assert!(!polling.session.is_closed());
}

#[tokio::test]
async fn connection_error_tells_refusals_of_websocket_requests() {
    let (config, seen) = recording(quiet_config());
    let server = TestServer::start(config).await;
    let target = "/engine.io/?EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA";
    let mut conn = server.http().upgrade(target, &[]).await;
    let reply = conn.read_response().await;
    assert_eq!((reply.status, reply.text()), (400, "Session ID unknown"));
    assert_eq!(
        take(&seen),
        [(
            1,
            "Session ID unknown".to_owned(),
            Refusal::UnknownSid,
            target.to_owned()
        )]
    );
}

#[tokio::test]
async fn connection_error_tells_forbidden_with_the_hooks_message() {
    let (config, seen) = recording(quiet_config().allow_request(|_| Err("go away".into())));
    let server = TestServer::start(config).await;
    server
        .http()
        .get(HANDSHAKE)
        .await
        .assert_error(403, 4, "go away");
    assert_eq!(
        take(&seen),
        [(
            4,
            "go away".to_owned(),
            Refusal::Forbidden,
            HANDSHAKE.to_owned()
        )]
    );
}

#[tokio::test]
async fn connection_error_tells_jsonp_and_the_limits() {
    let (config, seen) = recording(
        quiet_config()
            .allow_eio3(true)
            .max_sessions(0)
            .max_handshakes_per_ip(2, Duration::from_secs(3600)),
    );
    let server = TestServer::start(config).await;
    let jsonp = "/engine.io/?EIO=3&transport=polling&j=0";
    server
        .http()
        .get(jsonp)
        .await
        .assert_error(400, 3, "Bad request");
    // The JSONP handshake was the address's first; its second passes the
    // rate, and finds no room.
    let sessions = server.http().get(HANDSHAKE).await;
    assert_eq!(sessions.status, 503, "{sessions:?}");
    let rate = server.http().get(HANDSHAKE).await;
    assert_eq!(rate.status, 429, "{rate:?}");
    assert_eq!(
        take(&seen),
        [
            (
                3,
                "Bad request".to_owned(),
                Refusal::Jsonp,
                jsonp.to_owned()
            ),
            (
                3,
                "Too many sessions".to_owned(),
                Refusal::TooManySessions,
                HANDSHAKE.to_owned()
            ),
            (
                3,
                "Too many handshakes".to_owned(),
                Refusal::TooManyHandshakes,
                HANDSHAKE.to_owned()
            ),
        ]
    );
}

// ---------------------------------------------------------------------------
// async allowRequest

#[tokio::test]
async fn async_allow_request_refuses_and_accepts() {
    let calls = Arc::new(Mutex::new(0));
    let counted = calls.clone();
    let config = quiet_config().allow_request_async(move |req| {
        *counted.lock().unwrap() += 1;
        let token = req.headers.get("x-token").cloned();
        async move {
            // Decides after yielding, as a lookup elsewhere would.
            tokio::task::yield_now().await;
            match token {
                Some(token) if token == "good" => Ok(()),
                _ => Err("bad token".into()),
            }
        }
    });
    let mut server = TestServer::start(config).await;
    server
        .http()
        .get(HANDSHAKE)
        .await
        .assert_error(403, 4, "bad token");
    let mut conn = server
        .http()
        .upgrade(
            "/engine.io/?EIO=4&transport=websocket",
            &[("X-Token", "bad")],
        )
        .await;
    let reply = conn.read_response().await;
    assert_eq!((reply.status, reply.text()), (400, "bad token"));
    assert_eq!(server.engine.session_count(), 0);

    let ok = server
        .http()
        .request("GET", HANDSHAKE, &[("X-Token", "good")], b"")
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    let session = server.expect_open().await;
    assert_eq!(session.sid().to_string(), open_sid(ok.text()));
    let mut conn = server
        .http()
        .upgrade(
            "/engine.io/?EIO=4&transport=websocket",
            &[("X-Token", "good")],
        )
        .await;
    assert_eq!(conn.read_response().await.status, 101);
    assert_eq!(*calls.lock().unwrap(), 4);
}

// ---------------------------------------------------------------------------
// initialPacket

#[tokio::test]
async fn initial_packet_follows_the_open_packet_on_both_transports() {
    let config = quiet_config().initial_packet(Message::Text("welcome".into()));
    let mut server = TestServer::start(config).await;
    let handshake = server.http().get(HANDSHAKE).await;
    let records = handshake.records();
    assert_eq!(records.len(), 2, "{handshake:?}");
    assert!(records[0].starts_with("0{"), "{records:?}");
    assert_eq!(records[1], "4welcome");

    let (mut ws, _session, open) = server.open_websocket().await;
    assert!(open.starts_with("0{"), "{open}");
    assert_eq!(ws_expect_text(&mut ws).await, "4welcome");
}

// ---------------------------------------------------------------------------
// cors

#[tokio::test]
async fn cors_preflight_answers_with_every_option() {
    let cors = Cors::origins([ORIGIN])
        .credentials(true)
        .methods(["GET", "POST"])
        .allowed_headers(["authorization", "x-custom"])
        .exposed_headers(["x-request-id", "x-other"])
        .max_age(Duration::from_millis(600_500));
    let server = TestServer::start(quiet_config().cors(cors)).await;
    let reply = server
        .http()
        .request(
            "OPTIONS",
            HANDSHAKE,
            &[
                ("Origin", ORIGIN),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
            b"",
        )
        .await;
    assert_eq!(reply.status, 204, "{reply:?}");
    assert_eq!(reply.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        reply.header("access-control-allow-methods"),
        Some("GET,POST")
    );
    assert_eq!(
        reply.header("access-control-allow-headers"),
        Some("authorization,x-custom")
    );
    assert_eq!(reply.header("access-control-max-age"), Some("600"));
    assert_eq!(
        reply.header("access-control-expose-headers"),
        Some("x-request-id,x-other")
    );
    // Configured headers do not vary with the request's.
    assert_eq!(reply.header_tokens("vary"), ["Origin"], "{reply:?}");
    assert!(reply.body.is_empty());

    // An actual request gets the origin, credentials and exposed headers.
    let actual = server
        .http()
        .request("GET", HANDSHAKE, &[("Origin", ORIGIN)], b"")
        .await;
    assert_eq!(actual.status, 200);
    assert_eq!(actual.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(
        actual.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        actual.header("access-control-expose-headers"),
        Some("x-request-id,x-other")
    );
    assert!(!actual.has_header("access-control-max-age"));
    assert!(!actual.has_header("access-control-allow-methods"));
}

#[tokio::test]
async fn cors_predicate_echoes_the_origins_it_accepts() {
    let cors = Cors::predicate(|origin| origin.ends_with(".example.com"));
    let server = TestServer::start(quiet_config().cors(cors)).await;
    for (origin, allowed) in [
        ("https://app.example.com", true),
        ("https://example.org", false),
    ] {
        for method in ["OPTIONS", "GET"] {
            let reply = server
                .http()
                .request(method, HANDSHAKE, &[("Origin", origin)], b"")
                .await;
            assert!(reply.status == 204 || reply.status == 200, "{reply:?}");
            assert_eq!(
                reply.header("access-control-allow-origin"),
                allowed.then_some(origin),
                "{method} {origin}: {reply:?}"
            );
            assert!(reply.header_tokens("vary").contains(&"Origin".to_owned()));
        }
    }
}

// ---------------------------------------------------------------------------
// cookie

#[tokio::test]
async fn cookie_carries_secure_domain_max_age_and_expires() {
    let cookie = Cookie::default()
        .secure(true)
        .domain("example.com")
        .max_age(Duration::from_secs(3600))
        .expires(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        .same_site(Some(SameSite::Strict));
    let server = TestServer::start(quiet_config().cookie(cookie)).await;
    let handshake = server.http().get(HANDSHAKE).await;
    let sid = open_sid(handshake.text());
    assert_eq!(
        handshake.header("set-cookie"),
        Some(
            format!(
                "io={sid}; Max-Age=3600; Domain=example.com; Path=/; \
                 Expires=Tue, 14 Nov 2023 22:13:20 GMT; HttpOnly; Secure; SameSite=Strict"
            )
            .as_str()
        )
    );
}

// ---------------------------------------------------------------------------
// addTrailingSlash

#[tokio::test]
async fn add_trailing_slash_on_serves_only_below_the_slash() {
    let server = TestServer::start(quiet_config()).await;
    assert_eq!(server.http().get(HANDSHAKE).await.status, 200);
    let bare = server
        .http()
        .get("/engine.io?EIO=4&transport=polling")
        .await;
    assert_eq!(bare.status, 404, "{bare:?}");
}

#[tokio::test]
async fn add_trailing_slash_off_serves_the_path_without_it() {
    let server = TestServer::start(quiet_config().add_trailing_slash(false)).await;
    let bare = server
        .http()
        .get("/engine.io?EIO=4&transport=polling")
        .await;
    assert_eq!(bare.status, 200, "{bare:?}");
    let sid = open_sid(bare.text());
    // The slashed form is still under the path, as in the reference.
    let post = server
        .http()
        .post(
            &format!("/engine.io/?EIO=4&transport=polling&sid={sid}"),
            b"4x",
        )
        .await;
    assert_eq!(post.body, b"ok");
    assert_eq!(
        server
            .http()
            .get("/other?EIO=4&transport=polling")
            .await
            .status,
        404
    );
}

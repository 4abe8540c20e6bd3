//! HTTP compression of long-polling bodies (`httpCompression`): the coding
//! chosen from `Accept-Encoding`, the threshold, compression off, what a
//! compressed poll inflates to, and compressed POST bodies (accepted,
//! refused, bounded by `maxHttpBufferSize` once inflated).

mod common;

use std::io::{Read, Write};

use common::*;
use flate2::{
    Compression,
    read::{GzDecoder, ZlibDecoder},
    write::{GzEncoder, ZlibEncoder},
};
use rally_engine::{Config, HttpCompression, Message};

/// A session whose handler does not echo, for exact GET bodies.
async fn silent_session(config: Config) -> (TestServer, Polling) {
    let mut server = TestServer::start_silent(config).await;
    let polling = server.open_polling().await;
    (server, polling)
}

/// A poll sent with `Accept-Encoding: accept` (none when `None`).
async fn poll_accepting(polling: &Polling, accept: Option<&str>) -> RawResponse {
    let headers: Vec<_> = accept.map(|a| ("Accept-Encoding", a)).into_iter().collect();
    polling
        .http
        .request("GET", &polling.target(), &headers, b"")
        .await
}

/// The body of a poll reply, inflated as its `Content-Encoding` says.
fn inflated(reply: &RawResponse) -> String {
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.header("content-length"),
        Some(reply.body.len().to_string().as_str()),
        "the content length is the compressed body's: {reply:?}"
    );
    let mut text = String::new();
    match reply.header("content-encoding") {
        Some("gzip") => GzDecoder::new(&reply.body[..]).read_to_string(&mut text),
        Some("deflate") => ZlibDecoder::new(&reply.body[..]).read_to_string(&mut text),
        None => return reply.text().to_owned(),
        Some(other) => panic!("unexpected content-encoding {other}"),
    }
    .expect("a valid compressed body");
    text
}

fn gzip(bytes: &[u8], level: Compression) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), level);
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A POST of `body` sent with `Content-Encoding: coding`.
async fn post_encoded(polling: &Polling, coding: &str, body: &[u8]) -> RawResponse {
    polling
        .http
        .request(
            "POST",
            &polling.target(),
            &[
                ("Content-Type", "text/plain;charset=UTF-8"),
                ("Content-Encoding", coding),
            ],
            body,
        )
        .await
}

#[tokio::test]
async fn a_gzipped_poll_inflates_to_the_payload() {
    let (_server, polling) = silent_session(quiet_config()).await;
    let text = "x".repeat(1500);
    polling.session.send(text.as_str()).unwrap();
    polling.session.send("second").unwrap();
    let reply = poll_accepting(&polling, Some("gzip, deflate, br, zstd")).await;
    assert_eq!(reply.header("content-encoding"), Some("gzip"));
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(
        reply
            .header_tokens("vary")
            .contains(&"Accept-Encoding".to_owned()),
        "{reply:?}"
    );
    assert!(reply.body.len() < 200, "{} bytes", reply.body.len());
    assert_eq!(inflated(&reply), format!("4{text}\x1e4second"));
}

#[tokio::test]
async fn binary_packets_go_in_a_compressed_poll_as_base64() {
    let (_server, polling) = silent_session(quiet_config()).await;
    let bytes: Vec<u8> = (0..2000u32).map(|i| (i % 7) as u8).collect();
    polling.session.send(Message::from(bytes.clone())).unwrap();
    polling.session.send("after").unwrap();
    let reply = poll_accepting(&polling, Some("gzip")).await;
    assert_eq!(reply.header("content-encoding"), Some("gzip"));
    let body = inflated(&reply);
    let records: Vec<&str> = body.split('\x1e').collect();
    assert_eq!(records.len(), 2, "{body:?}");
    assert_eq!(records[1], "4after");
    let encoded = records[0].strip_prefix('b').expect("a binary record");
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(decoded, bytes);
}

#[tokio::test]
async fn deflate_is_chosen_when_the_client_prefers_it() {
    let (_server, polling) = silent_session(quiet_config()).await;
    let text = "d".repeat(2000);
    for accept in [
        "deflate",
        "gzip;q=0.5, deflate",
        "deflate, gzip",
        "gzip;q=0, *",
    ] {
        polling.session.send(text.as_str()).unwrap();
        let reply = poll_accepting(&polling, Some(accept)).await;
        assert_eq!(
            reply.header("content-encoding"),
            Some("deflate"),
            "{accept}"
        );
        assert_eq!(inflated(&reply), format!("4{text}"), "{accept}");
    }
    // Gzip when it weighs more, is named first, or both come from `*`.
    for accept in [
        "gzip, deflate",
        "*",
        "*, deflate;q=0.5",
        "deflate;q=0.4, gzip;q=0.6",
    ] {
        polling.session.send(text.as_str()).unwrap();
        let reply = poll_accepting(&polling, Some(accept)).await;
        assert_eq!(reply.header("content-encoding"), Some("gzip"), "{accept}");
        assert_eq!(inflated(&reply), format!("4{text}"), "{accept}");
    }
}

#[tokio::test]
async fn codings_refused_or_unknown_leave_the_body_as_it_is() {
    let (_server, polling) = silent_session(quiet_config()).await;
    let text = "r".repeat(2000);
    for accept in [
        Some("gzip;q=0, deflate;q=0"),
        Some("*;q=0"),
        Some("br, zstd"),
        Some("identity"),
        Some("identity, gzip;q=0.5"),
        Some(""),
        None,
    ] {
        polling.session.send(text.as_str()).unwrap();
        let reply = poll_accepting(&polling, accept).await;
        assert!(
            !reply.has_header("content-encoding"),
            "{accept:?}: {reply:?}"
        );
        assert_eq!(reply.assert_poll(), format!("4{text}"), "{accept:?}");
    }
}

#[tokio::test]
async fn bodies_from_the_threshold_up_are_compressed() {
    let (_server, polling) = silent_session(quiet_config()).await;
    for (size, compressed) in [(1023, false), (1024, true), (1025, true)] {
        // `4` and the text: a body of `size` bytes.
        let text = "t".repeat(size - 1);
        polling.session.send(text.as_str()).unwrap();
        let reply = poll_accepting(&polling, Some("gzip, deflate")).await;
        assert_eq!(
            reply.header("content-encoding"),
            compressed.then_some("gzip"),
            "a body of {size} bytes: {reply:?}"
        );
        // Below the threshold the reply does not depend on Accept-Encoding.
        assert_eq!(reply.has_header("vary"), compressed, "{size}: {reply:?}");
        assert_eq!(inflated(&reply), format!("4{text}"), "{size}");
    }
}

#[tokio::test]
async fn the_threshold_is_configurable() {
    let config = quiet_config().http_compression(Some(HttpCompression::default().threshold(100)));
    let (_server, polling) = silent_session(config).await;
    polling.session.send("s".repeat(99).as_str()).unwrap();
    let reply = poll_accepting(&polling, Some("gzip")).await;
    assert_eq!(reply.header("content-encoding"), Some("gzip"));
    assert_eq!(inflated(&reply), format!("4{}", "s".repeat(99)));
}

#[tokio::test]
async fn compression_off_sends_every_body_as_it_is() {
    let (_server, polling) = silent_session(quiet_config().http_compression(None)).await;
    let text = "o".repeat(5000);
    polling.session.send(text.as_str()).unwrap();
    let reply = poll_accepting(&polling, Some("gzip, deflate")).await;
    assert!(!reply.has_header("content-encoding"), "{reply:?}");
    assert!(!reply.has_header("vary"), "{reply:?}");
    assert_eq!(reply.assert_poll(), format!("4{text}"));
}

#[tokio::test]
async fn a_large_handshake_reply_is_compressed_too() {
    let welcome = "w".repeat(3000);
    let config = quiet_config().initial_packet(Message::Text(welcome.as_str().into()));
    let server = TestServer::start_silent(config).await;
    let reply = server
        .http()
        .request("GET", HANDSHAKE, &[("Accept-Encoding", "gzip")], b"")
        .await;
    assert_eq!(reply.header("content-encoding"), Some("gzip"), "{reply:?}");
    let body = inflated(&reply);
    let records: Vec<&str> = body.split('\x1e').collect();
    assert!(records[0].starts_with("0{\"sid\":"), "{body:?}");
    assert_eq!(records[1], format!("4{welcome}"));
}

#[tokio::test]
async fn gzipped_and_deflated_posts_are_read() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let polling = server.open_polling().await;
    let body = gzip(b"4hello\x1e4world", Compression::fast());
    let reply = post_encoded(&polling, "gzip", &body).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, b"ok");
    server.expect_text("hello").await;
    server.expect_text("world").await;

    let text = "é".repeat(600);
    let reply = post_encoded(&polling, "deflate", &zlib(format!("4{text}").as_bytes())).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body, b"ok");
    server.expect_text(&text).await;

    // `identity` is no coding at all.
    let reply = post_encoded(&polling, "identity", b"4plain").await;
    assert_eq!(reply.body, b"ok");
    server.expect_text("plain").await;
    assert!(!polling.session.is_closed());
}

#[tokio::test]
async fn max_http_buffer_size_bounds_the_inflated_body() {
    let config = quiet_config().max_http_buffer_size(1000);
    let mut server = TestServer::start_silent(config).await;
    let polling = server.open_polling().await;
    let fits = format!("4{}", "a".repeat(999));
    let reply = post_encoded(
        &polling,
        "gzip",
        &gzip(fits.as_bytes(), Compression::best()),
    )
    .await;
    assert_eq!(reply.body, b"ok", "{reply:?}");
    server.expect_text(&fits[1..]).await;

    let over = format!("4{}", "a".repeat(1000));
    let reply = post_encoded(
        &polling,
        "gzip",
        &gzip(over.as_bytes(), Compression::best()),
    )
    .await;
    reply.assert_empty(413);
    polling.post_ok(b"4still open").await;
    server.expect_text("still open").await;
}

#[tokio::test]
async fn a_decompression_bomb_gets_413_and_the_session_stays() {
    let config = quiet_config().max_http_buffer_size(1_000_000);
    let mut server = TestServer::start_silent(config).await;
    let polling = server.open_polling().await;
    // 10 MB of zeros in about 10 KB.
    let bomb = gzip(&vec![0; 10_000_000], Compression::best());
    assert!(bomb.len() < 20_000, "{} bytes", bomb.len());
    for coding in ["gzip", "x-gzip"] {
        let reply = post_encoded(&polling, coding, &bomb).await;
        reply.assert_empty(413);
    }
    let reply = post_encoded(&polling, "deflate", &zlib(&vec![0; 10_000_000])).await;
    reply.assert_empty(413);
    polling.post_ok(b"4still open").await;
    server.expect_text("still open").await;
    assert!(!polling.session.is_closed());
}

#[tokio::test]
async fn an_unsupported_content_encoding_is_refused_with_415() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let polling = server.open_polling().await;
    for coding in ["br", "zstd", "gzip, gzip", "compress"] {
        let reply = post_encoded(&polling, coding, b"4hello").await;
        reply.assert_error(415, 3, "Unsupported Content-Encoding");
    }
    server.assert_no_event();
    polling.post_ok(b"4still open").await;
    server.expect_text("still open").await;
    assert!(!polling.session.is_closed());
}

#[tokio::test]
async fn a_body_that_does_not_inflate_is_a_bad_request() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let polling = server.open_polling().await;
    for (coding, body) in [("gzip", &b"4not gzip"[..]), ("deflate", b"\xff\xff\xff")] {
        let reply = post_encoded(&polling, coding, body).await;
        reply.assert_error(400, 3, "Bad request");
    }
    server.assert_no_event();
    polling.post_ok(b"4still open").await;
    server.expect_text("still open").await;
}

#[tokio::test]
async fn vary_names_both_origin_and_accept_encoding_under_cors() {
    let config = quiet_config().cors(rally_engine::Cors::mirror());
    let (_server, polling) = silent_session(config).await;
    polling.session.send("c".repeat(2000).as_str()).unwrap();
    let reply = polling
        .http
        .request(
            "GET",
            &polling.target(),
            &[
                ("Accept-Encoding", "gzip"),
                ("Origin", "https://app.example"),
            ],
            b"",
        )
        .await;
    assert_eq!(reply.header("content-encoding"), Some("gzip"));
    let vary = reply.header_tokens("vary");
    assert!(vary.contains(&"Origin".to_owned()), "{reply:?}");
    assert!(vary.contains(&"Accept-Encoding".to_owned()), "{reply:?}");
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://app.example")
    );
}

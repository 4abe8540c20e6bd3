//! Rally's own HTTP/1.1 (what `serve` speaks on plain TCP): pipelining,
//! chunked bodies, keep-alive and `Connection: close`, HEAD, the client
//! leaving a held poll, the reply head as hyper wrote it.

mod common;

use common::{HANDSHAKE, TestServer, quiet_config};
use rally_engine::CloseReason;

/// Two POSTs and a poll written at once are answered in order, each on
/// the same connection.
#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let polling = server.open_polling().await;
    let target = polling.target();
    let mut conn = server.http().connect().await;
    let mut all = String::new();
    for body in ["4one", "4two"] {
        all.push_str(&format!(
            "POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    }
    conn.write_all(all.as_bytes()).await;
    for _ in 0..2 {
        let reply = conn.read_response().await;
        assert_eq!((reply.status, reply.text()), (200, "ok"), "{reply:?}");
    }
    server.expect_text("one").await;
    server.expect_text("two").await;
}

/// A chunked POST body, split across writes, arrives whole.
#[tokio::test]
async fn chunked_request_bodies_are_read() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let polling = server.open_polling().await;
    let mut conn = server.http().connect().await;
    conn.send_head(
        "POST",
        &polling.target(),
        &[
            ("Content-Type", "text/plain;charset=UTF-8"),
            ("Transfer-Encoding", "chunked"),
        ],
    )
    .await;
    conn.write_all(b"3\r\n4ch\r\n").await;
    conn.write_all(b"5;x=y\r\nunked\r\n0\r\n\r\n").await;
    let reply = conn.read_response().await;
    assert_eq!((reply.status, reply.text()), (200, "ok"), "{reply:?}");
    server.expect_text("chunked").await;
    // The connection goes on.
    conn.send("POST", &polling.target(), &[], b"4next").await;
    assert_eq!(conn.read_response().await.status, 200);
    server.expect_text("next").await;
}

/// `Connection: close` gets the reply with `connection: close`, then the
/// end of the connection; a reply head is hyper's: lower-case names in
/// the order set, then the length and the date.
#[tokio::test]
async fn connection_close_ends_the_connection_after_the_reply() {
    let server = TestServer::start_silent(quiet_config()).await;
    let mut conn = server.http().connect().await;
    conn.send_head("GET", HANDSHAKE, &[("Connection", "close")])
        .await;
    let raw = String::from_utf8(conn.read_to_end().await).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    assert_eq!(lines.next(), Some("HTTP/1.1 200 OK"));
    let names: Vec<&str> = lines.map(|l| l.split_once(": ").unwrap().0).collect();
    assert_eq!(
        names,
        [
            "content-type",
            "cache-control",
            "connection",
            "content-length",
            "date"
        ],
        "{raw}"
    );
    assert!(head.contains("connection: close\r\n"), "{raw}");
    assert!(
        head.contains(&format!("content-length: {}\r\n", body.len())),
        "{raw}"
    );
}

/// HEAD gets the length of the reply, and no body.
#[tokio::test]
async fn head_requests_get_no_body() {
    let server = TestServer::start_silent(quiet_config()).await;
    let mut conn = server.http().connect().await;
    conn.send_head("HEAD", HANDSHAKE, &[("Connection", "close")])
        .await;
    let raw = String::from_utf8(conn.read_to_end().await).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert_eq!(body, "", "{raw}");
    assert!(head.contains("content-length: "), "{raw}");
}

/// A client that leaves while its poll is held ends the session, as the
/// reference does when the request closes.
#[tokio::test]
async fn a_client_leaving_a_held_poll_ends_the_session() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let polling = server.open_polling().await;
    let mut conn = server.http().connect().await;
    conn.send_head("GET", &polling.target(), &[]).await;
    drop(conn);
    assert_eq!(server.expect_close().await, CloseReason::TransportError);
}

/// Malformed heads get 400 and the end of the connection.
#[tokio::test]
async fn malformed_heads_get_400() {
    let server = TestServer::start_silent(quiet_config()).await;
    for bad in [
        &b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    ] {
        let mut conn = server.http().connect().await;
        conn.write_all(bad).await;
        let raw = String::from_utf8(conn.read_to_end().await).unwrap();
        assert!(
            raw.starts_with(
                "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: "
            ),
            "{raw}"
        );
    }
}

/// `serve_hyper` (hyper's HTTP/1.1, for services that need its request
/// body) still serves polling and the WebSocket, on hyper's upgraded
/// stream.
#[tokio::test]
async fn serve_hyper_serves_polling_and_websocket() {
    struct Nop;
    impl rally_engine::Handler for Nop {
        fn on_open(&self, _: &std::sync::Arc<rally_engine::Session>) {}
        fn on_message(&self, _: &std::sync::Arc<rally_engine::Session>, _: rally_engine::Message) {}
    }
    let engine = rally_engine::EngineIo::new(quiet_config(), Nop);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(rally_engine::serve_hyper(listener, engine));
    let reply = rally_testkit::http::Http::new(addr).get(HANDSHAKE).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.text().starts_with("0{"), "{reply:?}");
    let uri = format!("ws://{addr}/engine.io/?EIO=4&transport=websocket");
    let mut ws = rally_testkit::ws::connect(&uri, &[]).await;
    match rally_testkit::ws::frame(&mut ws).await {
        rally_testkit::ws::Frame::Text(open) => assert!(open.starts_with("0{"), "{open}"),
        other => panic!("not the open packet: {other:?}"),
    }
    task.abort();
}

/// `Expect: 100-continue` gets `100 Continue` once the engine reads the
/// body, and none when the body is refused at once (as hyper does).
#[tokio::test]
async fn expect_continue_is_answered_when_the_body_is_read() {
    let mut server = TestServer::start_silent(quiet_config().max_http_buffer_size(1000)).await;
    let polling = server.open_polling().await;
    let mut conn = server.http().connect().await;
    let headers = [
        ("Content-Type", "text/plain;charset=UTF-8"),
        ("Content-Length", "6"),
        ("Expect", "100-continue"),
    ];
    conn.send_head("POST", &polling.target(), &headers).await;
    assert_eq!(conn.read_exact(25).await, b"HTTP/1.1 100 Continue\r\n\r\n");
    conn.write_all(b"4hello").await;
    let reply = conn.read_response().await;
    assert_eq!((reply.status, reply.text()), (200, "ok"), "{reply:?}");
    server.expect_text("hello").await;

    let mut conn = server.http().connect().await;
    let headers = [("Content-Length", "5000"), ("Expect", "100-continue")];
    conn.send_head("POST", &polling.target(), &headers).await;
    let reply = conn.read_response().await;
    assert_eq!(reply.status, 413, "{reply:?}");
}

//! Sessions that start on WebSocket, answered as the reference (engine.io 6.6) answers them.

mod common;

use common::*;
use rally_engine::{CloseReason, Message};

#[tokio::test]
async fn text_and_binary_messages_are_echoed() {
    let mut server = TestServer::start(quiet_config()).await;
    let (mut ws, _session, _) = server.open_websocket().await;

    ws_send_text(&mut ws, "4hello").await;
    server.expect_text("hello").await;
    assert_eq!(ws_expect_text(&mut ws).await, "4hello");

    // A binary frame is the raw bytes, both ways: no type byte.
    ws_send_binary(&mut ws, &[1, 2, 3]).await;
    server.expect_binary(&[1, 2, 3]).await;
    assert_eq!(ws_expect_binary(&mut ws).await, [1, 2, 3]);

    ws_send_text(&mut ws, "4").await;
    server.expect_text("").await;
    assert_eq!(ws_expect_text(&mut ws).await, "4");

    ws_send_text(&mut ws, "4héllo ✓").await;
    server.expect_text("héllo ✓").await;
    assert_eq!(ws_expect_text(&mut ws).await, "4héllo ✓");
}

#[tokio::test]
async fn server_messages_are_text_and_binary_frames() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let (mut ws, session, _) = server.open_websocket().await;
    session.send("text").unwrap();
    session.send(Message::from(vec![1, 2, 3])).unwrap();
    session.send(Message::from(Vec::new())).unwrap();
    assert_eq!(ws_expect_text(&mut ws).await, "4text");
    assert_eq!(ws_expect_binary(&mut ws).await, [1, 2, 3]);
    assert_eq!(ws_expect_binary(&mut ws).await, b"");
}

#[tokio::test]
async fn message_of_max_http_buffer_size_is_accepted() {
    let mut server = TestServer::start_silent(quiet_config().max_http_buffer_size(1000)).await;
    let (mut ws, session, _) = server.open_websocket().await;
    let text = format!("4{}", "a".repeat(999));
    ws_send_text(&mut ws, &text).await;
    server.expect_text(&text[1..]).await;
    ws_send_binary(&mut ws, &[7; 1000]).await;
    server.expect_binary(&[7; 1000]).await;
    assert!(!session.is_closed());
}

#[tokio::test]
async fn oversized_text_message_closes_with_1009() {
    let mut server = TestServer::start_silent(quiet_config().max_http_buffer_size(1000)).await;
    let (mut ws, _session, _) = server.open_websocket().await;
    ws_send_text(&mut ws, &format!("4{}", "a".repeat(1000))).await;
    let (code, _) = ws_expect_close(&mut ws).await;
    assert_eq!(code, 1009);
    assert_eq!(server.expect_close().await, CloseReason::TransportError);
    server.assert_no_event();
}

#[tokio::test]
async fn oversized_binary_message_closes_with_1009() {
    let mut server = TestServer::start_silent(quiet_config().max_http_buffer_size(1000)).await;
    let (mut ws, _session, _) = server.open_websocket().await;
    ws_send_binary(&mut ws, &[0; 1001]).await;
    let (code, _) = ws_expect_close(&mut ws).await;
    assert_eq!(code, 1009);
    assert_eq!(server.expect_close().await, CloseReason::TransportError);
    server.assert_no_event();
}

#[tokio::test]
async fn undecodable_text_is_a_parse_error_with_an_empty_close_frame() {
    for text in ["zzz", ""] {
        let mut server = TestServer::start_silent(quiet_config()).await;
        let (mut ws, _session, _) = server.open_websocket().await;
        ws_send_text(&mut ws, text).await;
        assert_eq!(
            ws_expect_close(&mut ws).await,
            (1005, String::new()),
            "{text:?}"
        );
        assert_eq!(server.expect_close().await, CloseReason::ParseError);
    }
}

#[tokio::test]
async fn client_close_packet_is_ignored() {
    let mut server = TestServer::start(quiet_config()).await;
    let (mut ws, session, _) = server.open_websocket().await;
    ws_send_text(&mut ws, "1").await;
    ws_send_text(&mut ws, "4after").await;
    server.expect_text("after").await;
    assert_eq!(ws_expect_text(&mut ws).await, "4after");
    assert!(!session.is_closed());
}

#[tokio::test]
async fn noop_and_pong_packets_are_ignored() {
    let mut server = TestServer::start(quiet_config()).await;
    let (mut ws, session, _) = server.open_websocket().await;
    for text in ["6", "3", "5"] {
        ws_send_text(&mut ws, text).await;
    }
    ws_send_text(&mut ws, "4after").await;
    server.expect_text("after").await;
    assert_eq!(ws_expect_text(&mut ws).await, "4after");
    assert!(!session.is_closed());
}

#[tokio::test]
async fn client_ping_is_a_transport_error() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let (mut ws, _session, _) = server.open_websocket().await;
    ws_send_text(&mut ws, "2").await;
    assert_eq!(ws_expect_close(&mut ws).await, (1005, String::new()));
    assert_eq!(server.expect_close().await, CloseReason::TransportError);
}

#[tokio::test]
async fn client_close_frame_is_a_transport_close() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let (mut ws, session, _) = server.open_websocket().await;
    within(
        "closing the websocket",
        futures_util::SinkExt::close(&mut ws),
    )
    .await
    .expect("send a close frame");
    assert_eq!(server.expect_close().await, CloseReason::TransportClose);
    server
        .http()
        .get(&polling_target(session.sid().as_str()))
        .await
        .assert_error(400, 1, "Session ID unknown");
}

#[tokio::test]
async fn dropped_connection_is_a_transport_close() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let (ws, _session, _) = server.open_websocket().await;
    drop(ws);
    assert_eq!(server.expect_close().await, CloseReason::TransportClose);
    assert_eq!(server.engine.session_count(), 0);
}

#[tokio::test]
async fn server_close_sends_an_empty_close_frame() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let (mut ws, session, _) = server.open_websocket().await;
    session.close();
    // No `1` packet on a WebSocket: only the close frame.
    assert_eq!(ws_expect_close(&mut ws).await, (1005, String::new()));
    assert_eq!(server.expect_close().await, CloseReason::ForcedClose);
    assert_eq!(server.engine.session_count(), 0);
}

#[tokio::test]
async fn server_close_flushes_queued_messages_first() {
    let mut server = TestServer::start_silent(quiet_config()).await;
    let (mut ws, session, _) = server.open_websocket().await;
    session.send("bye").unwrap();
    session.send(Message::from(vec![9])).unwrap();
    session.close();
    assert_eq!(ws_expect_text(&mut ws).await, "4bye");
    assert_eq!(ws_expect_binary(&mut ws).await, [9]);
    assert_eq!(ws_expect_close(&mut ws).await, (1005, String::new()));
    assert_eq!(server.expect_close().await, CloseReason::ForcedClose);
}

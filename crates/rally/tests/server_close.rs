//! `Server::close` (the reference's `io.close()`): every socket leaves with
//! `server shutting down`, the connections close on both transports, new
//! ones are refused, and it resolves once they are gone.

mod support;

use rally::{DisconnectReason, Sid};
use support::{Frame, TestServer, channel, quiet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_disconnects_everyone_and_refuses_new_connections() {
    let io = quiet().build();
    let (tx, mut left) = channel();
    for nsp in ["/", "/chat"] {
        let tx = tx.clone();
        io.of(nsp).on_disconnect(move |socket, reason| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((socket.ns().name().to_owned(), socket.id(), reason));
            }
        });
    }
    let server = TestServer::start(io).await;

    // A WebSocket client in two namespaces.
    let (mut ws, ws_root) = server.joined("/").await;
    let ws_chat = ws.connect("/chat").await;
    ws.sync().await;
    // A polling client with a poll pending.
    let polling = server.http().open_polling("/socket.io/").await;
    polling.post_ok(b"40").await;
    let connect = polling.records(1).await;
    let polling_root = Sid::parse(&support::field(&connect[0], "sid")).unwrap();
    let pending = polling.pending_get().await;
    assert_eq!(server.io.connection_count(), 2);

    let io = server.io.clone();
    let closing = tokio::spawn(async move { io.close().await });

    // The polling client's pending poll carries the close packet.
    let reply = support::finish(pending).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.text(), "1");
    // The WebSocket client sees its connection close.
    loop {
        match ws.recv().await {
            Frame::Text(t) if t == "2" => {}
            Frame::Close(..) | Frame::End => break,
            other => panic!("expected the close, got {other:?}"),
        }
    }
    support::within("Server::close to resolve", closing)
        .await
        .unwrap();
    assert_eq!(server.io.connection_count(), 0);

    let mut gone = left.take(3).await;
    gone.sort_by_key(|(ns, id, _)| (ns.clone(), *id));
    let mut expected = vec![
        (
            "/".to_owned(),
            ws_root,
            DisconnectReason::ServerShuttingDown,
        ),
        (
            "/chat".to_owned(),
            ws_chat,
            DisconnectReason::ServerShuttingDown,
        ),
        (
            "/".to_owned(),
            polling_root,
            DisconnectReason::ServerShuttingDown,
        ),
    ];
    expected.sort_by_key(|(ns, id, _)| (ns.clone(), *id));
    assert_eq!(gone, expected);
    assert!(server.io.of("/").sockets().is_empty());
    polling.assert_gone().await;

    // New connections are refused, on both transports.
    let reply = server
        .http()
        .get("/socket.io/?EIO=4&transport=polling")
        .await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(
        reply.text().contains("Server is shutting down"),
        "{reply:?}"
    );
    let mut upgrade = server
        .http()
        .upgrade("/socket.io/?EIO=4&transport=websocket", &[])
        .await;
    let reply = upgrade.read_response().await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(server.io.connection_count(), 0);
    left.assert_empty();
}

/// Closing a server with no connection resolves at once, and twice is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_without_connections_resolves() {
    let server = TestServer::start(quiet().build()).await;
    support::within("Server::close", server.io.close()).await;
    support::within("Server::close again", server.io.close()).await;
    let reply = server
        .http()
        .get("/socket.io/?EIO=4&transport=polling")
        .await;
    assert_eq!(reply.status, 503, "{reply:?}");
}

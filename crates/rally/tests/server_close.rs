//! `Server::close` (the reference's `io.close()`): every socket leaves with
//! `server shutting down`, the connections close on both transports, new
//! ones are refused, and it resolves once they are gone.

mod support;

use std::{future::Future, pin::Pin, sync::Arc};

use rally::{
    DisconnectReason, Room, Sid,
    adapter::{
        AckStream, Adapter, AdapterContext, AdapterError, BroadcastOptions, BroadcastPacket,
        LocalAdapter, SocketInfo,
    },
};
use support::{Frame, TestServer, channel, quiet};
use tokio::sync::Notify;

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

/// The local adapter, whose [`flush`](Adapter::flush) waits for the test.
struct Gated {
    local: LocalAdapter,
    flushing: Arc<Notify>,
    release: Arc<Notify>,
}

type Fut<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Adapter for Gated {
    fn local(&self) -> &LocalAdapter {
        &self.local
    }
    fn broadcast(&self, packet: &BroadcastPacket, opts: &BroadcastOptions) {
        self.local.broadcast(packet, opts);
    }
    fn fetch_sockets(&self, opts: BroadcastOptions) -> Fut<Result<Vec<SocketInfo>, AdapterError>> {
        self.local.fetch_sockets(opts)
    }
    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.local.add_sockets(opts, rooms);
    }
    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.local.del_sockets(opts, rooms);
    }
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        self.local.disconnect_sockets(opts, close);
    }
    fn rooms(&self) -> Fut<Result<Vec<Room>, AdapterError>> {
        self.local.rooms()
    }
    fn server_count(&self) -> Fut<usize> {
        self.local.server_count()
    }
    fn broadcast_with_ack(&self, packet: &BroadcastPacket, opts: &BroadcastOptions) -> AckStream {
        self.local.broadcast_with_ack(packet, opts)
    }
    fn flush(&self) -> Fut<()> {
        let (flushing, release) = (self.flushing.clone(), self.release.clone());
        Box::pin(async move {
            let released = release.notified();
            flushing.notify_one();
            released.await;
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_flushes_the_adapter_before_the_connections_close() {
    let flushing = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let io = quiet()
        .adapter({
            let (flushing, release) = (flushing.clone(), release.clone());
            move |ctx: AdapterContext| -> Arc<dyn Adapter> {
                Arc::new(Gated {
                    local: LocalAdapter::new(ctx.namespace()),
                    flushing: flushing.clone(),
                    release: release.clone(),
                })
            }
        })
        .build();
    let (tx, mut left) = channel();
    io.of("/").on_disconnect(move |socket, reason| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((socket.id(), reason));
        }
    });
    let server = TestServer::start(io).await;
    let (mut ws, id) = server.joined("/").await;
    let io = server.io.clone();
    let closing = tokio::spawn(async move { io.close().await });
    // The socket left (its session records queued for the cluster), but
    // the connection stays open until the adapter flushed them.
    support::within("the adapter's flush", flushing.notified()).await;
    assert_eq!(
        left.take(1).await,
        [(id, DisconnectReason::ServerShuttingDown)]
    );
    assert_eq!(server.io.connection_count(), 1);
    assert!(!closing.is_finished());
    release.notify_one();
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
}

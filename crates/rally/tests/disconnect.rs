//! Leaving: `disconnecting` then `disconnect`, and every reason the server
//! can report (the reference's disconnect reasons).

mod support;

use std::time::{Duration, Instant};

use rally::{CloseReason, DisconnectReason, Server, Sid};
use support::{Frame, Rx, TestServer, channel, quiet};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Disconnecting(Sid, String, DisconnectReason, Vec<String>),
    Disconnect(Sid, String, DisconnectReason, Vec<String>, bool),
}

/// A server whose namespaces `/` and `/custom` report their sockets'
/// `disconnecting` and `disconnect` (with the rooms seen then).
fn recording(io: Server) -> (Server, Rx<Seen>) {
    let (tx, rx) = channel();
    for nsp in ["/", "/custom"] {
        let ns = io.of(nsp);
        let t = tx.clone();
        ns.on_disconnecting(move |socket, reason| {
            let tx = t.clone();
            async move {
                let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
                rooms.sort();
                let _ = tx.send(Seen::Disconnecting(
                    socket.id(),
                    socket.ns().name().to_owned(),
                    reason,
                    rooms,
                ));
            }
        });
        let t = tx.clone();
        ns.on_disconnect(move |socket, reason| {
            let tx = t.clone();
            async move {
                let rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
                let _ = tx.send(Seen::Disconnect(
                    socket.id(),
                    socket.ns().name().to_owned(),
                    reason,
                    rooms,
                    socket.connected(),
                ));
            }
        });
    }
    (io, rx)
}

/// Expects `disconnecting` (rooms still filled) then `disconnect` (rooms
/// empty, socket no longer connected) for socket `id`, with `reason`.
async fn expect_left(
    rx: &mut Rx<Seen>,
    id: Sid,
    nsp: &str,
    reason: DisconnectReason,
    rooms: &[&str],
) {
    let mut expected_rooms: Vec<String> = rooms.iter().map(|r| (*r).to_owned()).collect();
    expected_rooms.push(id.to_string());
    expected_rooms.sort();
    assert_eq!(
        rx.recv().await,
        Seen::Disconnecting(id, nsp.to_owned(), reason, expected_rooms)
    );
    assert_eq!(
        rx.recv().await,
        Seen::Disconnect(id, nsp.to_owned(), reason, Vec::new(), false)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_namespace_disconnect() {
    let (io, mut rx) = recording(quiet().build());
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    let root = client.connect("/").await;
    let custom = client.connect("/custom").await;
    server.socket("/", root).join("r");

    client.send("41").await;
    expect_left(
        &mut rx,
        root,
        "/",
        DisconnectReason::ClientNamespaceDisconnect,
        &["r"],
    )
    .await;
    assert!(server.io.of("/").get_socket(root).is_none());
    assert!(server.io.to("r").fetch_sockets().await.unwrap().is_empty());
    // The connection and the other namespace stay.
    client.sync().await;
    assert!(server.socket("/custom", custom).connected());
    server.socket("/custom", custom).emit("still", ()).unwrap();
    client.expect(r#"42/custom,["still"]"#).await;
    client.send("41/custom,").await;
    expect_left(
        &mut rx,
        custom,
        "/custom",
        DisconnectReason::ClientNamespaceDisconnect,
        &[],
    )
    .await;
    // As in the reference: the engine connection stays open with no namespace left.
    client.sync().await;
    assert_eq!(server.io.connection_count(), 1);
    client.connect("/").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_namespace_disconnect_sends_41() {
    let (io, mut rx) = recording(quiet().build());
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    let root = client.connect("/").await;
    let custom = client.connect("/custom").await;

    let custom_socket = server.socket("/custom", custom);
    custom_socket.join("c");
    custom_socket.disconnect(false);
    client.expect("41/custom,").await;
    expect_left(
        &mut rx,
        custom,
        "/custom",
        DisconnectReason::ServerNamespaceDisconnect,
        &["c"],
    )
    .await;
    assert!(!custom_socket.connected());
    // Disconnecting again does nothing.
    custom_socket.disconnect(false);
    client.sync().await;

    server.socket("/", root).disconnect(false);
    client.expect("41").await;
    expect_left(
        &mut rx,
        root,
        "/",
        DisconnectReason::ServerNamespaceDisconnect,
        &[],
    )
    .await;
    client.sync().await;
    assert_eq!(
        server.io.connection_count(),
        1,
        "the engine connection stays open"
    );
    rx.assert_empty();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_with_close_leaves_every_namespace_then_closes() {
    let (io, mut rx) = recording(quiet().build());
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    let root = client.connect("/").await;
    let custom = client.connect("/custom").await;
    let (mut bystander, _) = server.joined("/").await;

    server.socket("/", root).disconnect(true);
    let mut got = Vec::new();
    loop {
        match client.recv().await {
            Frame::Text(t) => got.push(t),
            Frame::Close(code, reason) => {
                assert_eq!((code, reason.as_str()), (1005, ""), "empty close frame");
                break;
            }
            other => panic!("unexpected {other:?} after {got:?}"),
        }
    }
    got.sort();
    assert_eq!(got, ["41", "41/custom,"]);
    let mut left = Vec::new();
    for _ in 0..4 {
        if let Seen::Disconnect(id, _, reason, ..) = rx.recv().await {
            left.push((id, reason));
        }
    }
    left.sort_by_key(|(id, _)| *id);
    let mut expected = vec![
        (root, DisconnectReason::ServerNamespaceDisconnect),
        (custom, DisconnectReason::ServerNamespaceDisconnect),
    ];
    expected.sort_by_key(|(id, _)| *id);
    assert_eq!(left, expected);
    bystander.sync().await;
    server.io.emit("after", ()).expect("the server goes on");
    bystander.expect(r#"42["after"]"#).await;
}

/// `socket.disconnect(true)` sends `41` for every namespace in
/// the order the client joined them (`41` then `41/custom,`): the
/// reference keeps its sockets in a `Map` (insertion order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_with_close_sends_41_in_join_order() {
    let io = quiet().build();
    let names = ["/", "/n1", "/n2", "/n3", "/n4", "/n5"];
    for name in names {
        let _ = io.of(name);
    }
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    let mut first = None;
    for name in names {
        let id = client.connect(name).await;
        first.get_or_insert(id);
    }
    server.socket("/", first.unwrap()).disconnect(true);
    let mut got = Vec::new();
    while let Frame::Text(t) = client.recv().await {
        got.push(t);
    }
    let expected: Vec<String> = names
        .iter()
        .map(|n| format!("41{}", support::nsp_prefix(n)))
        .collect();
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_close() {
    let (io, mut rx) = recording(quiet().build());
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    let root = client.connect("/").await;
    let custom = client.connect("/custom").await;
    server.socket("/", root).session().unwrap().close();
    client.expect_closed().await;
    let mut reasons = Vec::new();
    for _ in 0..4 {
        if let Seen::Disconnect(id, _, reason, ..) = rx.recv().await {
            reasons.push((id, reason));
        }
    }
    reasons.sort_by_key(|(id, _)| *id);
    let mut expected = vec![
        (root, DisconnectReason::ForcedClose),
        (custom, DisconnectReason::ForcedClose),
    ];
    expected.sort_by_key(|(id, _)| *id);
    assert_eq!(reasons, expected);
    server.wait_no_connections().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_close_when_the_client_closes() {
    let (io, mut rx) = recording(quiet().build());
    let server = TestServer::start(io).await;
    let (client, id) = server.joined("/").await;
    server.socket("/", id).join("r");
    client.close().await;
    expect_left(&mut rx, id, "/", DisconnectReason::TransportClose, &["r"]).await;
    server.wait_no_connections().await;
}

/// The client's TCP connection ends without a close frame: the reference's
/// `ws` reports a `close` (1006), which engine.io calls `transport close`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_close_when_the_connection_drops() {
    let (io, mut rx) = recording(quiet().build());
    let server = TestServer::start(io).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    // A masked text frame `40` (mask key 0: the payload reads as it is).
    tcp.write_all(&[0x81, 0x82, 0, 0, 0, 0, b'4', b'0'])
        .await
        .unwrap();
    // Read until the CONNECT reply has come.
    let mut seen = Vec::new();
    support::within("the CONNECT reply", async {
        let mut buf = [0; 1024];
        while !String::from_utf8_lossy(&seen).contains(r#"40{"sid""#) {
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "connection closed: {}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    let text = String::from_utf8_lossy(&seen).into_owned();
    let start = text.find(r#"40{"sid":""#).unwrap() + r#"40{"sid":""#.len();
    let id = Sid::parse(&text[start..start + 20]).unwrap();
    drop(tcp);
    expect_left(&mut rx, id, "/", DisconnectReason::TransportClose, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_timeout() {
    let builder = quiet()
        .ping_interval(Duration::from_millis(100))
        .ping_timeout(Duration::from_millis(100));
    let (io, mut rx) = recording(builder.build());
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    assert!(
        client
            .open
            .contains(r#""pingInterval":100,"pingTimeout":100"#),
        "{}",
        client.open
    );
    let started = Instant::now();
    let id = client.connect("/").await;
    // The client never answers the ping.
    client.expect("2").await;
    client.expect_closed().await;
    expect_left(&mut rx, id, "/", DisconnectReason::PingTimeout, &[]).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(150) && elapsed < Duration::from_secs(3),
        "closed after {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_pings_keep_the_socket() {
    // A pong must come before the next ping goes out, so six pings prove
    // the pongs count; the timeout is wide for a loaded machine.
    let builder = quiet()
        .ping_interval(Duration::from_millis(50))
        .ping_timeout(Duration::from_millis(1000));
    let (io, mut rx) = recording(builder.build());
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    let id = client.connect("/").await;
    for _ in 0..6 {
        client.expect("2").await;
        client.send("3").await;
    }
    assert!(server.socket("/", id).connected());
    rx.assert_empty();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parse_error_on_engine_level_garbage() {
    let (io, mut rx) = recording(quiet().build());
    let server = TestServer::start(io).await;
    for garbage in ["zzz", ""] {
        let mut client = server.client().await;
        let id = client.connect("/").await;
        client.send(garbage).await;
        client.expect_closed().await;
        expect_left(&mut rx, id, "/", DisconnectReason::ParseError, &[]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_shutting_down() {
    let (io, mut rx) = recording(quiet().build());
    let server = TestServer::start(io).await;
    let mut a = server.client().await;
    let a_root = a.connect("/").await;
    let a_custom = a.connect("/custom").await;
    let (mut b, b_root) = server.joined("/").await;
    let mut idle = server.client().await;

    server.io.close_all(CloseReason::ServerShuttingDown);
    for client in [&mut a, &mut b, &mut idle] {
        client.expect_closed().await;
    }
    let mut reasons = Vec::new();
    for _ in 0..6 {
        if let Seen::Disconnect(id, _, reason, ..) = rx.recv().await {
            reasons.push((id, reason));
        }
    }
    reasons.sort_by_key(|(id, _)| *id);
    let mut expected = vec![
        (a_root, DisconnectReason::ServerShuttingDown),
        (a_custom, DisconnectReason::ServerShuttingDown),
        (b_root, DisconnectReason::ServerShuttingDown),
    ];
    expected.sort_by_key(|(id, _)| *id);
    assert_eq!(reasons, expected);
    assert_eq!(
        DisconnectReason::ServerShuttingDown.to_string(),
        "server shutting down"
    );
    server.wait_no_connections().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_handlers_may_wait_and_see_the_socket() {
    let io = quiet().build();
    let (tx, mut rx) = channel();
    io.of("/").on_disconnect(move |socket, reason| {
        let tx = tx.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let _ = tx.send((socket.id(), reason.as_str(), socket.emit("x", ()).is_err()));
        }
    });
    let server = TestServer::start(io).await;
    let (mut client, id) = server.joined("/").await;
    client.send("41").await;
    assert_eq!(rx.recv().await, (id, "client namespace disconnect", true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasons_are_spelled_like_the_reference() {
    let all = [
        (DisconnectReason::TransportError, "transport error", true),
        (DisconnectReason::TransportClose, "transport close", true),
        (DisconnectReason::ForcedClose, "forced close", true),
        (DisconnectReason::PingTimeout, "ping timeout", true),
        // As socket.io 4.8.4's RECOVERABLE_DISCONNECT_REASONS.
        (DisconnectReason::ParseError, "parse error", false),
        (
            DisconnectReason::ServerShuttingDown,
            "server shutting down",
            true,
        ),
        (
            DisconnectReason::ForcedServerClose,
            "forced server close",
            true,
        ),
        (
            DisconnectReason::ClientNamespaceDisconnect,
            "client namespace disconnect",
            false,
        ),
        (
            DisconnectReason::ServerNamespaceDisconnect,
            "server namespace disconnect",
            false,
        ),
    ];
    for (reason, text, recoverable) in all {
        assert_eq!(reason.as_str(), text);
        assert_eq!(reason.is_recoverable(), recoverable, "{text}");
    }
}

/// The usual pattern: tell each room a socket was in that it left, from
/// `disconnecting`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnecting_handlers_can_tell_the_rooms() {
    let io = quiet().build();
    io.of("/").on_disconnecting(|socket, reason| async move {
        for room in socket.rooms() {
            let _ = socket.to(room.to_string()).emit(
                "left",
                rally::Args::new()
                    .arg(&socket.id().as_str())
                    .arg(&reason.as_str()),
            );
        }
    });
    let server = TestServer::start(io).await;
    let (mut a, a_id) = server.joined("/").await;
    let (mut b, b_id) = server.joined("/").await;
    let (mut c, c_id) = server.joined("/").await;
    for id in [a_id, b_id, c_id] {
        server.socket("/", id).join("r");
    }
    server.socket("/", a_id).join("s");
    server.socket("/", b_id).join("s");

    a.send("41").await;
    let left = format!(r#"42["left","{a_id}","client namespace disconnect"]"#);
    // B shares two rooms with A: one packet per room, as the reference.
    b.expect(&left).await;
    b.expect(&left).await;
    c.expect(&left).await;
    b.sync().await;
    c.sync().await;

    b.close().await;
    let left = format!(r#"42["left","{b_id}","transport close"]"#);
    c.expect(&left).await;
    c.sync().await;
    a.sync().await;
}

/// Over polling, a server-side close with no GET pending and nothing
/// queued is still delivered: the client's next GET gets `6\x1e1` (engine.io
/// 6.6.12 `Polling.doClose` buffers an orderly close for the next poll,
/// within `closeTimeout`). Ending the session at once makes that GET a
/// 400 `Session ID unknown`, which the official client reports as
/// `transport error` instead of `transport close` (seen in the interop
/// test `polling::reconnect`, which fails now and then).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_close_over_polling_reaches_the_next_poll() {
    let (io, mut rx) = recording(quiet().build());
    let server = TestServer::start(io).await;
    let polling = server.http().open_polling("/socket.io/").await;
    polling.post_ok(b"40").await;
    let records = polling.records(1).await;
    let id = Sid::parse(&support::field(&records[0], "sid")).unwrap();
    // No GET pending, nothing queued.
    server.socket("/", id).session().unwrap().close();
    // The reference's next GET: a noop to carry the close (it sends the
    // same `6\x1e1` after a drained buffer).
    let reply = polling.get().await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.text(), "6\x1e1");
    expect_left(&mut rx, id, "/", DisconnectReason::ForcedClose, &[]).await;
}

/// The same close with a GET pending answers that GET with `1`, as the reference does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_close_over_polling_answers_the_pending_poll() {
    let (io, mut rx) = recording(quiet().build());
    let server = TestServer::start(io).await;
    let polling = server.http().open_polling("/socket.io/").await;
    polling.post_ok(b"40").await;
    let records = polling.records(1).await;
    let id = Sid::parse(&support::field(&records[0], "sid")).unwrap();
    let pending = polling.pending_get().await;
    server.socket("/", id).session().unwrap().close();
    let reply = support::finish(pending).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.text(), "1");
    expect_left(&mut rx, id, "/", DisconnectReason::ForcedClose, &[]).await;
}

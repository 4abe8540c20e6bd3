//! Limits: message size, attachments, the connect
//! timeout, the per-socket outgoing queue bound (slow
//! consumers), namespaces per connection, pending acks and rooms per
//! socket (SECURITY.md).

mod support;

use std::time::{Duration, Instant};

use rally::{AckError, Args, ConnectError, DisconnectReason, EmitError, Server};
use support::{Frame, TestServer, channel, quiet};

/// `42["x","aaa…"]` of exactly `len` bytes, Engine.IO `4` included.
fn event_of_len(len: usize) -> String {
    let overhead = r#"42["x",""]"#.len();
    format!(r#"42["x","{}"]"#, "a".repeat(len - overhead))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_messages_over_max_http_buffer_size_close_with_1009() {
    let io = quiet().max_http_buffer_size(1000).build();
    let (tx, mut rx) = channel();
    io.of("/").on("x", move |_socket, event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(event.arg::<String>(0).unwrap().len());
        }
    });
    let (left_tx, mut left) = channel();
    io.of("/").on_disconnect(move |socket, reason| {
        let tx = left_tx.clone();
        async move {
            let _ = tx.send((socket.id(), reason));
        }
    });
    let server = TestServer::start(io).await;
    let (mut client, id) = server.joined("/").await;
    assert!(
        client.open.contains(r#""maxPayload":1000"#),
        "{}",
        client.open
    );
    client.send(&event_of_len(1000)).await;
    assert_eq!(rx.recv().await, 1000 - r#"42["x",""]"#.len());
    client.sync().await;

    client.send(&event_of_len(1001)).await;
    match client.recv().await {
        Frame::Close(code, _) => assert_eq!(code, 1009),
        other => panic!("expected close 1009, got {other:?}"),
    }
    assert_eq!(left.recv().await, (id, DisconnectReason::TransportError));

    // Binary frames count too.
    let (mut client, id) = server.joined("/").await;
    client.send_binary(&[0; 1001]).await;
    match client.recv().await {
        Frame::Close(code, _) => assert_eq!(code, 1009),
        other => panic!("expected close 1009, got {other:?}"),
    }
    assert_eq!(left.recv().await, (id, DisconnectReason::TransportError));
    rx.assert_empty();
}

/// The reference's 1009 close frame has an empty reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_1009_close_frame_has_an_empty_reason() {
    let server = TestServer::start(quiet().max_http_buffer_size(1000).build()).await;
    let (mut client, _) = server.joined("/").await;
    client.send(&event_of_len(1001)).await;
    match client.recv().await {
        Frame::Close(code, reason) => assert_eq!((code, reason.as_str()), (1009, "")),
        other => panic!("expected close 1009, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_bodies_over_max_http_buffer_size_get_413_and_the_session_stays() {
    let io = quiet().max_http_buffer_size(1000).build();
    let (tx, mut rx) = channel();
    io.of("/").on("x", move |_socket, event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(event.arg::<String>(0).unwrap().len());
        }
    });
    let server = TestServer::start(io).await;
    let polling = server.http().open_polling("/socket.io/").await;
    polling.post_ok(b"40").await;
    let connect = polling.records(1).await;
    let id = rally::Sid::parse(&support::field(&connect[0], "sid")).unwrap();

    polling.post_ok(event_of_len(1000).as_bytes()).await;
    assert_eq!(rx.recv().await, 1000 - r#"42["x",""]"#.len());
    let reply = polling.post(event_of_len(1001).as_bytes()).await;
    assert_eq!(reply.status, 413, "{reply:?}");
    assert!(reply.body.is_empty(), "{reply:?}");
    // As in the reference: the session stays open.
    polling.post_ok(event_of_len(20).as_bytes()).await;
    assert_eq!(rx.recv().await, 20 - r#"42["x",""]"#.len());
    assert!(server.socket("/", id).connected());
    server.socket("/", id).emit("y", ()).unwrap();
    assert_eq!(polling.records(1).await, [r#"42["y"]"#]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_attachments_is_configurable() {
    let io = quiet().max_attachments(2).build();
    let (tx, mut rx) = channel();
    io.of("/").on("two", move |_socket, event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(event.binary().len());
        }
    });
    let server = TestServer::start(io).await;
    let p = |n: usize| format!(r#"{{"_placeholder":true,"num":{n}}}"#);
    let (mut client, _) = server.joined("/").await;
    client
        .send(&format!(r#"452-["two",{},{}]"#, p(0), p(1)))
        .await;
    client.send_binary(&[1]).await;
    client.send_binary(&[2]).await;
    assert_eq!(rx.recv().await, 2);
    client.sync().await;
    client
        .send(&format!(r#"453-["two",{},{},{}]"#, p(0), p(1), p(2)))
        .await;
    client.expect_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_joins_no_namespace_is_closed_after_connect_timeout() {
    let io = quiet().connect_timeout(Duration::from_millis(300)).build();
    let server = TestServer::start(io).await;
    let started = Instant::now();
    let mut client = server.client().await;
    // An unknown namespace does not count as joining.
    client.send("40/nope,").await;
    client
        .expect(r#"44/nope,{"message":"Invalid namespace"}"#)
        .await;
    client.expect_closed().await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(3),
        "closed after {elapsed:?}"
    );
    server.wait_no_connections().await;

    // Over polling the pending GET gets `1` (as in the reference).
    let polling = server.http().open_polling("/socket.io/").await;
    let reply = polling.get().await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.text(), "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_a_namespace_cancels_the_connect_timeout_for_good() {
    let io = quiet().connect_timeout(Duration::from_millis(200)).build();
    let server = TestServer::start(io).await;
    let (mut stays, _) = server.joined("/").await;
    // As in the reference: after `41` the timeout is not re-armed.
    let (mut left, _) = server.joined("/").await;
    left.send("41").await;
    left.sync().await;
    // Several connect timeouts later (this wait is the point of the test).
    tokio::time::sleep(Duration::from_millis(700)).await;
    stays.sync().await;
    left.sync().await;
    assert_eq!(server.io.connection_count(), 2);
}

/// The reference clears its connect timer only once a namespace admitted
/// the client (socket.io 4.8.4 `Client.doConnect`, in `_add`'s callback, and
/// the timer itself checks `nsps.size === 0`): a client that every
/// middleware refuses is still closed after `connectTimeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_refused_by_middleware_is_still_closed_after_connect_timeout() {
    let io = quiet().connect_timeout(Duration::from_millis(300)).build();
    io.of("/")
        .use_middleware(|_socket| async move { Err(ConnectError::new("no")) });
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    client.send("40").await;
    client.expect(r#"44{"message":"no"}"#).await;
    client.expect_closed().await;
}

/// A client that stops reading while the server keeps emitting fills its
/// queue (`max_buffered_frames`) and is disconnected with `transport
/// error`; a client reading normally on the same server gets every message
/// promptly throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_disconnected_without_hurting_others() {
    const CHUNK: usize = 256 * 1024;
    const MAX_EMITS: usize = 400; // 100 MiB: far beyond any socket buffer
    let io = quiet().max_buffered_frames(8).build();
    let (tx, mut left) = channel();
    io.of("/").on_disconnect(move |socket, reason| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((socket.id(), reason));
        }
    });
    let server = TestServer::start(io).await;
    // The slow one never reads again after joining.
    let (_slow, slow_id) = server.joined("/").await;
    let (mut fast, fast_id) = server.joined("/").await;
    let slow = server.socket("/", slow_id);
    let big = "x".repeat(CHUNK);

    let mut emits = 0;
    while slow.connected() {
        assert!(emits < MAX_EMITS, "the slow client was never disconnected");
        server
            .io
            .emit("big", Args::new().arg(&emits).arg(&big))
            .unwrap();
        // The fast client gets each one promptly.
        let sent = Instant::now();
        let frame = fast.text().await;
        assert!(
            frame.starts_with(&format!(r#"42["big",{emits},"#)),
            "fast client got {}…",
            &frame[..frame.len().min(40)]
        );
        assert!(
            sent.elapsed() < Duration::from_secs(2),
            "the fast client waited {:?}",
            sent.elapsed()
        );
        emits += 1;
    }
    assert_eq!(
        left.recv().await,
        (slow_id, DisconnectReason::TransportError)
    );
    assert_eq!(slow.emit("more", ()), Err(EmitError::Disconnected));
    // The fast one goes on.
    server.io.emit("after", ()).unwrap();
    fast.expect(r#"42["after"]"#).await;
    fast.sync().await;
    assert!(server.socket("/", fast_id).connected());
    left.assert_empty();
}

/// Volatile packets to a client whose queue is full are dropped; the
/// client is not disconnected and gets what was not dropped once it reads
/// again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volatile_emits_to_a_full_client_are_dropped() {
    const CHUNK: usize = 64 * 1024;
    const EMITS: usize = 400; // 25 MiB: more than the socket buffers hold
    let io = quiet().max_buffered_frames(8).build();
    let (tx, mut left) = channel();
    io.of("/").on_disconnect(move |socket, reason| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((socket.id(), reason));
        }
    });
    let server = TestServer::start(io).await;
    let (mut slow, slow_id) = server.joined("/").await;
    let socket = server.socket("/", slow_id);
    let big = "v".repeat(CHUNK);
    for i in 0..EMITS {
        server
            .io
            .broadcast()
            .volatile()
            .emit("v", Args::new().arg(&i).arg(&big))
            .unwrap();
        if i % 50 == 0 {
            tokio::task::yield_now().await;
        }
    }
    assert!(socket.connected(), "volatile emits must not disconnect");
    left.assert_empty();

    // Read again: some came, some were dropped, in order, then the barrier.
    let frames = slow.until_sync().await;
    let mut last = None;
    for frame in &frames {
        let Frame::Text(t) = frame else {
            panic!("unexpected {frame:?}")
        };
        let i: usize = t[r#"42["v","#.len()..]
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            last.is_none_or(|l| i > l),
            "out of order: {i} after {last:?}"
        );
        last = Some(i);
    }
    assert!(!frames.is_empty(), "nothing came through");
    assert!(
        frames.len() < EMITS,
        "all {EMITS} volatile packets came: none was dropped"
    );
    socket.emit("after", ()).unwrap();
    slow.expect(r#"42["after"]"#).await;
    left.assert_empty();
}

/// The queue bound holds for polling too: a client that does not poll
/// loses volatile packets beyond it and is disconnected by any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_bound_applies_to_polling_clients() {
    let io = quiet().max_buffered_frames(4).build();
    let (tx, mut left) = channel();
    io.of("/").on_disconnect(move |socket, reason| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((socket.id(), reason));
        }
    });
    let server = TestServer::start(io).await;
    let polling = server.http().open_polling("/socket.io/").await;
    polling.post_ok(b"40").await;
    let connect = polling.records(1).await;
    let id = rally::Sid::parse(&support::field(&connect[0], "sid")).unwrap();
    let socket = server.socket("/", id);
    for i in 0..10 {
        server.io.broadcast().volatile().emit("v", &i).unwrap();
    }
    assert!(socket.connected(), "volatile packets must not disconnect");
    let reply = polling.get().await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let records = reply.records();
    assert!(
        !records.is_empty() && records.len() <= 4,
        "between 1 and 4 of the 10 volatile packets: {records:?}"
    );
    assert_eq!(records[0], r#"42["v",0]"#);
    left.assert_empty();

    for i in 0..5 {
        let _ = socket.emit("n", &i);
    }
    assert_eq!(left.recv().await, (id, DisconnectReason::TransportError));
}

#[test]
fn the_default_limits_are_those_of_security_md() {
    let debug = format!("{:?}", Server::builder());
    for limit in [
        "max_namespaces: 64",
        "max_pending_acks: 1024",
        "max_rooms: 1024",
        "max_attachments: 10",
        "max_buffered_frames: 4096",
        "max_sessions: 100000",
        "max_http_buffer_size: 1000000",
    ] {
        assert!(debug.contains(limit), "{limit} not in {debug}");
    }
}

/// A CONNECT past `max_namespaces` gets a CONNECT_ERROR; the connection
/// and its namespaces stay, and a namespace left makes room for another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_past_max_namespaces_get_connect_error() {
    let io = quiet().max_namespaces(2).build();
    for nsp in ["/a", "/b"] {
        let _ = io.of(nsp);
    }
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    let root = client.connect("/").await;
    client.connect("/a").await;
    client.send("40/b,").await;
    client
        .expect(r#"44/b,{"message":"Too many namespaces"}"#)
        .await;
    // Unknown namespaces count for nothing, but are refused by the limit first.
    client.send("40/nowhere,").await;
    client
        .expect(r#"44/nowhere,{"message":"Too many namespaces"}"#)
        .await;
    assert!(server.socket("/", root).connected());
    server.socket("/", root).emit("still", ()).unwrap();
    client.expect(r#"42["still"]"#).await;

    client.send("41/a,").await;
    client.connect("/b").await;
    client.send("41/b,").await;
    client.sync().await;
}

/// An emit with an ack past `max_pending_acks` fails at once and sends
/// nothing; an answer makes room again. Broadcasts report it per socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emits_with_ack_past_max_pending_acks_fail_at_once() {
    let io = quiet().max_pending_acks(2).build();
    let server = TestServer::start(io).await;
    let (mut client, id) = server.joined("/").await;
    let socket = server.socket("/", id);
    let mut waiting = Vec::new();
    for i in 0..2 {
        let socket = socket.clone();
        waiting.push(tokio::spawn(
            async move { socket.emit_with_ack("q", &i).await },
        ));
        client.expect(&format!(r#"42{i}["q",{i}]"#)).await;
    }
    assert_eq!(
        socket.emit_with_ack("q", &2).await.unwrap_err(),
        AckError::TooManyPending
    );
    let refused = server
        .io
        .broadcast()
        .timeout(Duration::from_secs(5))
        .emit_with_ack("b", ())
        .await
        .unwrap();
    assert_eq!(refused.replies.len(), 1);
    assert_eq!(refused.replies[0].0, id);
    assert_eq!(
        refused.replies[0].1.as_ref().unwrap_err(),
        &AckError::TooManyPending
    );
    client.sync().await;

    client.send("430[\"zero\"]").await;
    let reply = support::within("the ack", waiting.remove(0)).await.unwrap();
    assert!(reply.is_ok(), "{reply:?}");
    let third = {
        let socket = socket.clone();
        tokio::spawn(async move { socket.emit_with_ack("q", &3).await })
    };
    client.expect(r#"424["q",3]"#).await;
    client.send("434[]").await;
    client.send("431[]").await;
    assert!(support::within("the ack", third).await.unwrap().is_ok());
    assert!(
        support::within("the ack", waiting.remove(0))
            .await
            .unwrap()
            .is_ok()
    );
}

/// `join` past `max_rooms` (its own room aside) joins only what fits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_past_max_rooms_are_not_made() {
    let io = quiet().max_rooms(3).build();
    let server = TestServer::start(io).await;
    let (_client, id) = server.joined("/").await;
    let socket = server.socket("/", id);
    socket.join(["a", "b"]);
    socket.join("a");
    socket.join(["c", "d", "e"]);
    let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
    rooms.sort();
    let mut expected = vec!["a".to_owned(), "b".into(), "c".into(), id.to_string()];
    expected.sort();
    assert_eq!(rooms, expected);
    socket.leave("a");
    socket.join(["e", "f"]);
    assert!(socket.rooms().iter().any(|r| &**r == "e"));
    assert!(!socket.rooms().iter().any(|r| &**r == "f"));
    assert_eq!(socket.rooms().len(), 4);
}

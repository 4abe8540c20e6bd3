//! Hostile clients against a running server, the rows of the bad-input
//! matrix (SECURITY.md) that `bad_input.rs` and `limits.rs` do not cover:
//! wrong ACK payloads, attachments announced and never sent, deep JSON
//! nesting, a client that answers pings but never reads, a write blocked on
//! a client that stopped reading. Each expectation
//! is the reference's (socket.io 4.8.4), checked by running it.

mod support;

use std::time::{Duration, Instant};

use rally::{Args, DisconnectReason, Server, Sid};
use support::{Client, Frame, TestServer, channel, quiet};

const P: &str = r#"{"_placeholder":true,"num":0}"#;

fn reporting_server(io: Server) -> (Server, support::Rx<(Sid, DisconnectReason)>) {
    let (tx, left) = channel();
    io.of("/").on_disconnect(move |socket, reason| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((socket.id(), reason));
        }
    });
    (io, left)
}

/// socket.io-parser refuses an ACK whose payload is not an array: the
/// connection closes (`forced close` on the server), whatever the id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_with_a_payload_that_is_not_an_array_close_the_connection() {
    let (io, mut left) = reporting_server(quiet().build());
    let server = TestServer::start(io).await;
    for bad in [
        "430{}",
        r#"430"x""#,
        "4301x",
        "430null",
        "430true",
        r#"43/,0{"a":1}"#,
        "43x[]",
        "43-1[]",
    ] {
        let (mut client, id) = server.joined("/").await;
        client.try_send(bad).await;
        match client.recv().await {
            Frame::Close(1005, reason) if reason.is_empty() => {}
            other => panic!("{bad}: expected an empty close frame, got {other:?}"),
        }
        assert_eq!(
            left.recv().await,
            (id, DisconnectReason::ForcedClose),
            "{bad}"
        );
    }
}

/// A binary event whose attachments never come is held (one packet, its
/// announced attachments at most 10): no handler runs, the connection
/// stays and answers, and text before the attachment closes it, as
/// socket.io-parser's reconstructor does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_announced_but_never_sent_hold_nothing_else() {
    let (io, mut left) = reporting_server(quiet().build());
    let (etx, mut events) = channel();
    io.of("/").on_any(move |_socket, event| {
        let tx = etx.clone();
        async move {
            let _ = tx.send(event.name().to_owned());
        }
    });
    let server = TestServer::start(io).await;
    let (mut client, id) = server.joined("/").await;
    client.send(&format!(r#"452-["half",{P},{P}]"#)).await;
    client.send_binary(&[1]).await;
    // The second attachment never comes; the connection goes on.
    let socket = server.socket("/", id);
    socket.emit("still", ()).unwrap();
    client.expect(r#"42["still"]"#).await;
    assert!(socket.connected());
    events.assert_empty();
    // A text packet instead of the attachment: closed.
    client.try_send(r#"42["next"]"#).await;
    client.expect_closed().await;
    assert_eq!(left.recv().await, (id, DisconnectReason::ForcedClose));
    events.assert_empty();
}

/// Arguments stay raw, checked by an iterative validator: 100,000 levels
/// of nesting reach the handler and relay unchanged (the reference's
/// `JSON.parse` takes them too). Typed access fails with an error, never a
/// stack overflow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_json_is_relayed_raw_and_typed_access_fails_cleanly() {
    const DEPTH: usize = 100_000;
    let io = quiet().build();
    let (tx, mut typed) = channel();
    io.of("/").on("deep", move |socket, event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(event.arg::<serde_json::Value>(0).is_ok());
            socket.emit("deep", event.to_args()).unwrap();
        }
    });
    let server = TestServer::start(io).await;
    let (mut client, _) = server.joined("/").await;
    let deep = format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH));
    let packet = format!(r#"42["deep",{deep}]"#);
    client.send(&packet).await;
    assert!(!typed.recv().await, "serde_json refuses 100,000 levels");
    client.expect(&packet).await;
    // Unbalanced, just as deep: a parse error, the connection closes.
    client
        .try_send(&format!(r#"42["deep",{}]"#, "[".repeat(DEPTH)))
        .await;
    client.expect_closed().await;
    typed.assert_empty();
    // The server goes on.
    let (mut fresh, _) = server.joined("/").await;
    fresh.send(r#"42["deep",[[1]]]"#).await;
    assert!(typed.recv().await);
    fresh.expect(r#"42["deep",[[1]]]"#).await;
}

/// Reads frames, answering pings, until `done` says stop; returns what
/// `done` returned.
async fn read_answering_pings<T>(
    client: &mut Client,
    mut done: impl FnMut(&str) -> Option<T>,
) -> T {
    loop {
        match client.recv().await {
            Frame::Text(t) if t == "2" => client.send("3").await,
            Frame::Text(t) => {
                if let Some(out) = done(&t) {
                    return out;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// A client that answers every ping (blindly, every 50 ms) but never reads
/// keeps its session alive, so only the outgoing queue bound can stop it:
/// its queue fills and it is dropped with `transport error`. A healthy
/// client on the same server meanwhile gets every broadcast and has every
/// ack answered within the stated bound (1 s per round trip, on a debug
/// build of a 2-core machine), through several ping intervals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_answering_pings_but_never_reading_is_dropped_and_others_see_no_delay() {
    const CHUNK: usize = 64 * 1024;
    const MAX_ROUNDS: usize = 2000; // 125 MiB: far beyond any socket buffer
    const BOUND: Duration = Duration::from_secs(1);
    let io = Server::builder()
        .ping_interval(Duration::from_millis(200))
        .ping_timeout(Duration::from_millis(300))
        .max_buffered_frames(16)
        .build();
    io.of("/").on("echo", |_socket, mut event| async move {
        let args = event.to_args();
        let _ = event.ack(args);
    });
    let (io, mut left) = reporting_server(io);
    let server = TestServer::start(io).await;
    let (mut slow, slow_id) = server.joined("/").await;
    let (mut healthy, healthy_id) = server.joined("/").await;
    let pongs = tokio::spawn(async move {
        let mut sent = 0u32;
        while slow.try_send("3").await {
            sent += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        sent
    });

    let big = "x".repeat(CHUNK);
    let slow_socket = server.socket("/", slow_id);
    let started = Instant::now();
    let mut worst = Duration::ZERO;
    let mut round = 0;
    // Until the slow one is dropped, then on for five more ping intervals.
    let mut dropped_at = None;
    while dropped_at.is_none_or(|at: Instant| at.elapsed() < Duration::from_secs(1)) {
        assert!(round < MAX_ROUNDS, "the slow client was never dropped");
        server
            .io
            .emit("big", Args::new().arg(&round).arg(&big))
            .unwrap();
        let prefix = format!(r#"42["big",{round},"#);
        let sent = Instant::now();
        read_answering_pings(&mut healthy, |t| t.starts_with(&prefix).then_some(())).await;
        healthy.send(&format!(r#"42{round}["echo",{round}]"#)).await;
        let ack = format!("43{round}[{round}]");
        read_answering_pings(&mut healthy, |t| (t == ack).then_some(())).await;
        worst = worst.max(sent.elapsed());
        round += 1;
        if dropped_at.is_none() && !slow_socket.connected() {
            dropped_at = Some(Instant::now());
        }
    }
    assert_eq!(
        left.recv().await,
        (slow_id, DisconnectReason::TransportError),
        "dropped by the queue bound, not by the heartbeat"
    );
    assert!(
        worst < BOUND,
        "the healthy client waited up to {worst:?} for a broadcast and an ack"
    );
    assert!(
        started.elapsed() > Duration::from_millis(600),
        "the test spanned several ping intervals"
    );
    assert!(server.socket("/", healthy_id).connected());
    left.assert_empty();
    let pongs_sent = support::within("the pong task", pongs).await.unwrap();
    assert!(
        pongs_sent > 3,
        "the slow client answered pings ({pongs_sent} pongs)"
    );
}

/// Once a client that does not read is dropped for its full queue, its
/// TCP connection goes at once: the server does not sit on a blocked write
/// until the write timeout (pingInterval + pingTimeout, 40 s here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_slow_client_loses_its_connection_at_once() {
    const CHUNK: usize = 256 * 1024;
    let (io, mut left) = reporting_server(quiet().max_buffered_frames(8).build());
    let server = TestServer::start(io).await;
    let (mut slow, slow_id) = server.joined("/").await;
    let socket = server.socket("/", slow_id);
    let big = "x".repeat(CHUNK);
    for i in 0..400 {
        if !socket.connected() {
            break;
        }
        let _ = socket.emit("big", Args::new().arg(&i).arg(&big));
        tokio::task::yield_now().await;
    }
    assert_eq!(
        left.recv().await,
        (slow_id, DisconnectReason::TransportError)
    );
    // Writes (never reads) until the server's end is gone.
    support::within("the server to drop the connection", async {
        while slow.try_send("3").await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// A client that stops reading while what the server writes fits its
/// queue (so the queue bound never trips) still cannot hold its session:
/// the blocked write gives up after pingInterval + pingTimeout (2 s here),
/// and the session ends with `transport error` (the heartbeat waits behind
/// the write, so the client's silence cannot end it sooner).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_blocked_on_a_client_that_stops_reading_times_out() {
    const CHUNK: usize = 2 * 1024 * 1024;
    let io = Server::builder()
        .ping_interval(Duration::from_secs(1))
        .ping_timeout(Duration::from_secs(1))
        .build();
    let (io, mut left) = reporting_server(io);
    let server = TestServer::start(io).await;
    let (_slow, slow_id) = server.joined("/").await;
    let socket = server.socket("/", slow_id);
    let big = "x".repeat(CHUNK);
    // 8 MiB: more than the socket buffers of both ends take. Encoded before
    // the first goes out, so that a loaded machine cannot stretch the
    // emits past the write timeout.
    let chunks: Vec<Args> = (0..4).map(|i| Args::new().arg(&i).arg(&big)).collect();
    let started = Instant::now();
    for chunk in chunks {
        socket.emit("big", chunk).unwrap();
    }
    assert_eq!(
        support::within("the blocked write to time out", left.recv()).await,
        (slow_id, DisconnectReason::TransportError)
    );
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "ended by the write timeout, not before it ({:?})",
        started.elapsed()
    );
}

/// Clients that join, get a room, owe an ack and go away (closed or just
/// dropped) leave nothing behind: no task, socket, room or session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_disconnect_cycles_leave_nothing_behind() {
    let io = quiet().build();
    io.of("/").on("join", |socket, _event| async move {
        socket.join(["room-a", "room-b"]);
    });
    let server = TestServer::start(io).await;
    // One client first, so that the server's own tasks (the accept loop)
    // are all up before the count is taken.
    let (client, _) = server.joined("/").await;
    client.close().await;
    server.wait_no_connections().await;
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    for i in 0..500 {
        let (mut client, id) = server.joined("/").await;
        client.send(r#"42["join"]"#).await;
        let socket = server.socket("/", id);
        let owed = tokio::spawn(async move { socket.emit_with_ack("q", ()).await });
        let asked = client.text().await;
        assert_eq!(asked, format!(r#"42{i}["q"]"#));
        if i % 2 == 0 {
            client.close().await;
        } else {
            drop(client);
        }
        assert!(
            support::within("the ack to fail", owed)
                .await
                .unwrap()
                .is_err()
        );
    }
    server.wait_no_connections().await;
    support::within("every task to end", async {
        while metrics.num_alive_tasks() > baseline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(server.io.of("/").sockets().is_empty());
    assert!(
        server
            .io
            .of("/")
            .adapter()
            .rooms()
            .await
            .expect("local rooms")
            .is_empty()
    );
}

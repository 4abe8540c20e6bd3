//! Connection state recovery, frame by frame: the CONNECT reply's `pid`,
//! offsets on what is logged, the replay before the CONNECT reply on a
//! restore, which disconnections keep a session, the middlewares of a
//! recovered socket, and binary packets replayed whole.

mod support;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use rally::{ConnectError, ConnectionStateRecovery, DisconnectReason};
use support::{TestServer, channel, field, is_reference_sid, quiet};

fn server(recovery: ConnectionStateRecovery) -> rally::Server {
    quiet().connection_state_recovery(recovery).build()
}

/// Joins `/` and checks the reply is exactly `40{"sid":"…","pid":"…"}`;
/// returns (sid, pid).
async fn join(client: &mut support::Client, auth: Option<&str>) -> (String, String) {
    client.send(&support::connect_packet("/", auth)).await;
    connected(client).await
}

async fn connected(client: &mut support::Client) -> (String, String) {
    let reply = client.text().await;
    let (sid, pid) = (field(&reply, "sid"), field(&reply, "pid"));
    assert_eq!(reply, format!(r#"40{{"sid":"{sid}","pid":"{pid}"}}"#));
    assert!(is_reference_sid(&sid) && is_reference_sid(&pid), "{reply}");
    assert_ne!(sid, pid);
    (sid, pid)
}

/// The last argument of an event frame: its offset.
fn offset(frame: &str) -> String {
    let args: serde_json::Value = serde_json::from_str(&frame[2..]).expect("an event array");
    args.as_array()
        .and_then(|a| a.last())
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("no offset in {frame}"))
        .to_owned()
}

#[tokio::test]
async fn offsets_on_logged_packets_only() {
    let server = TestServer::start(server(ConnectionStateRecovery::default())).await;
    let mut client = server.client().await;
    let (sid, _) = join(&mut client, None).await;
    let io = server.io.clone();
    let socket = server.socket("/", rally::Sid::parse(&sid).expect("a sid"));

    io.emit("b", &1).expect("emits");
    let first = client.text().await;
    assert!(first.starts_with(r#"42["b",1,""#), "{first}");
    socket.emit("direct", ()).expect("emits");
    let second = client.text().await;
    assert!(second.starts_with(r#"42["direct",""#), "{second}");
    assert_ne!(offset(&first), offset(&second));
    io.broadcast().volatile().emit("v", &2).expect("emits");
    client.expect(r#"42["v",2]"#).await;
    let ack = tokio::spawn({
        let socket = socket.clone();
        async move { socket.emit_with_ack("q", &3).await }
    });
    client.expect(r#"420["q",3]"#).await;
    client.send("430[4]").await;
    assert!(ack.await.expect("joins").is_ok());
    client.sync().await;
}

#[tokio::test]
async fn restore_replays_before_the_connect_reply() {
    let server = TestServer::start(server(ConnectionStateRecovery::default())).await;
    let (tx, mut disconnects) = channel();
    server.io.of("/").on_disconnect(move |_s, reason| {
        let _ = tx.send(reason);
        async {}
    });
    let mut client = server.client().await;
    let (sid, pid) = join(&mut client, None).await;
    let socket = server.socket("/", rally::Sid::parse(&sid).expect("a sid"));
    socket.join("r");
    socket.set_data(&serde_json::json!({"n": 1})).expect("data");
    server.io.to("r").emit("seen", ()).expect("emits");
    let seen = client.text().await;
    // The TCP connection drops without a close.
    drop(client);
    assert_eq!(disconnects.recv().await, DisconnectReason::TransportClose);

    server.io.to("r").emit("missed", &1).expect("emits");
    server.io.to("other").emit("not-for-it", ()).expect("emits");
    server
        .io
        .to("r")
        .emit("missed-binary", rally::Args::new().binary(vec![1, 2, 3]))
        .expect("emits");
    server.io.emit("missed", &2).expect("emits");

    let mut back = server.client().await;
    let auth = format!(r#"{{"pid":"{pid}","offset":"{}"}}"#, offset(&seen));
    back.send(&support::connect_packet("/", Some(&auth))).await;
    let one = back.text().await;
    assert!(one.starts_with(r#"42["missed",1,""#), "{one}");
    let bin = back.text().await;
    assert!(
        bin.starts_with(r#"451-["missed-binary",{"_placeholder":true,"num":0},""#),
        "{bin}"
    );
    back.expect_binary(&[1, 2, 3]).await;
    let two = back.text().await;
    assert!(two.starts_with(r#"42["missed",2,""#), "{two}");
    assert_eq!(connected(&mut back).await, (sid.clone(), pid));
    back.sync().await;

    let socket = server.socket("/", rally::Sid::parse(&sid).expect("a sid"));
    assert!(socket.recovered());
    let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
    rooms.sort();
    let mut expected = vec![sid.clone(), "r".to_owned()];
    expected.sort();
    assert_eq!(rooms, expected);
    assert_eq!(socket.raw_data(), serde_json::json!({"n": 1}));
    let stats = server.io.recovery_stats();
    assert_eq!(
        (stats.recovered, stats.unrecovered, stats.sessions),
        (1, 0, 0)
    );

    // A session is given back once.
    let mut third = server.client().await;
    third.send(&support::connect_packet("/", Some(&auth))).await;
    let (other, _) = connected(&mut third).await;
    assert_ne!(other, sid);
    assert_eq!(server.io.recovery_stats().unrecovered, 1);
}

#[tokio::test]
async fn namespace_disconnects_keep_no_session() {
    let server = TestServer::start(server(ConnectionStateRecovery::default())).await;
    let mut client = server.client().await;
    join(&mut client, None).await;
    client.send("41").await;
    let (sid, _) = join(&mut client, None).await;
    server
        .socket("/", rally::Sid::parse(&sid).expect("a sid"))
        .disconnect(false);
    client.expect("41").await;
    client.sync().await;
    assert_eq!(server.io.recovery_stats().sessions, 0);
    // A transport close does keep one.
    let (sid, _) = join(&mut client, None).await;
    drop(client);
    let socket = server.socket("/", rally::Sid::parse(&sid).expect("a sid"));
    support::within("the session", async {
        while socket.connected() || server.io.recovery_stats().sessions == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn recovered_sockets_skip_middlewares_unless_told() {
    for skip in [true, false] {
        let io = server(ConnectionStateRecovery::default().skip_middlewares(skip));
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        io.of("/").use_middleware(move |_socket| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok::<(), ConnectError>(()) }
        });
        let server = TestServer::start(io).await;
        let mut client = server.client().await;
        let (sid, pid) = join(&mut client, None).await;
        server.io.emit("e", ()).expect("emits");
        let seen = client.text().await;
        let socket = server.socket("/", rally::Sid::parse(&sid).expect("a sid"));
        drop(client);
        support::within("the disconnection", async {
            while server.io.recovery_stats().sessions == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(!socket.connected());
        let mut back = server.client().await;
        let auth = format!(r#"{{"pid":"{pid}","offset":"{}"}}"#, offset(&seen));
        let (again, _) = join(&mut back, Some(&auth)).await;
        assert_eq!(again, sid);
        assert_eq!(runs.load(Ordering::SeqCst), if skip { 1 } else { 2 });
    }
}

#[tokio::test]
async fn no_offset_means_a_fresh_session() {
    let server = TestServer::start(server(ConnectionStateRecovery::default())).await;
    let mut client = server.client().await;
    let (sid, pid) = join(&mut client, None).await;
    drop(client);
    support::within("the disconnection", async {
        while server.io.recovery_stats().sessions == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    // As the reference: recovery needs both `pid` and `offset` strings.
    let mut back = server.client().await;
    let (other, _) = join(&mut back, Some(&format!(r#"{{"pid":"{pid}"}}"#))).await;
    assert_ne!(other, sid);
    let stats = server.io.recovery_stats();
    assert_eq!((stats.recovered, stats.unrecovered), (0, 1));
    back.sync().await;
}

/// Nothing that calls back into the adapter runs under the log's lock: an
/// `on_any_outgoing` handler that emits, and a client too slow for its
/// queue (disconnected, its session kept) do not deadlock a broadcast.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_and_slow_clients_under_the_log() {
    let io = quiet()
        .max_buffered_frames(4)
        .connection_state_recovery(ConnectionStateRecovery::default())
        .build();
    io.of("/").on_any_outgoing(|socket, event, _args| {
        if event == "out" {
            let _ = socket.emit("echo", ());
        }
    });
    let (tx, mut disconnects) = channel();
    io.of("/").on_disconnect(move |_s, reason| {
        let _ = tx.send(reason);
        async {}
    });
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    join(&mut client, None).await;
    server.io.emit("out", ()).expect("emits");
    let out = client.text().await;
    assert!(out.starts_with(r#"42["out",""#), "{out}");
    let echo = client.text().await;
    assert!(echo.starts_with(r#"42["echo",""#), "{echo}");

    // Neither client reads on: their queues fill up.
    let mut slow = server.client().await;
    join(&mut slow, None).await;
    let io = server.io.clone();
    support::within(
        "the broadcasts",
        tokio::task::spawn_blocking(move || {
            for i in 0..2000 {
                io.emit("flood", &i).expect("emits");
            }
        }),
    )
    .await
    .expect("no deadlock");
    for _ in 0..2 {
        assert_eq!(disconnects.recv().await, DisconnectReason::TransportError);
    }
    assert_eq!(server.io.recovery_stats().sessions, 2);
    drop((client, slow));
}

/// What is broadcast while a recovered socket's middlewares run (after its
/// restore, before its admission) reaches it after the CONNECT reply, in
/// order and once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_during_the_middlewares_come_after_the_replay() {
    let io = server(ConnectionStateRecovery::default().skip_middlewares(false));
    let gate = Arc::new(tokio::sync::Semaphore::new(1));
    let (entered_tx, mut entered) = channel();
    let g = gate.clone();
    io.of("/").use_middleware(move |_socket| {
        let (gate, entered) = (g.clone(), entered_tx.clone());
        async move {
            let _ = entered.send(());
            let _permit = gate.acquire().await;
            Ok::<(), ConnectError>(())
        }
    });
    let server = TestServer::start(io).await;
    let mut client = server.client().await;
    let first = {
        client.send(&support::connect_packet("/", None)).await;
        entered.recv().await;
        connected(&mut client).await
    };
    let (sid, pid) = first;
    server
        .socket("/", rally::Sid::parse(&sid).expect("a sid"))
        .join("r");
    server.io.to("r").emit("seen", ()).expect("emits");
    let seen = client.text().await;
    drop(client);
    support::within("the disconnection", async {
        while server.io.recovery_stats().sessions == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    server.io.to("r").emit("missed", ()).expect("emits");

    // The middleware holds the recovered socket while more is broadcast.
    let permit = gate.clone().acquire_owned().await.expect("the gate");
    let mut back = server.client().await;
    let auth = format!(r#"{{"pid":"{pid}","offset":"{}"}}"#, offset(&seen));
    back.send(&support::connect_packet("/", Some(&auth))).await;
    entered.recv().await;
    for i in 0..3 {
        server.io.to("r").emit("during", &i).expect("emits");
    }
    drop(permit);
    let missed = back.text().await;
    assert!(missed.starts_with(r#"42["missed",""#), "{missed}");
    assert_eq!(connected(&mut back).await, (sid, pid));
    for i in 0..3 {
        let during = back.text().await;
        assert!(
            during.starts_with(&format!(r#"42["during",{i},""#)),
            "{during}"
        );
    }
    back.sync().await;
    server.io.to("r").emit("live", ()).expect("emits");
    let live = back.text().await;
    assert!(live.starts_with(r#"42["live",""#), "{live}");
}

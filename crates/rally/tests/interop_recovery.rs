//! Connection state recovery with the official `socket.io-client` (4.8.4,
//! interop/recovery-client.mjs): a client in a room loses its connection
//! (the TCP connection killed, or stalled until the ping timeout), 50
//! broadcasts go out meanwhile, and it comes back through a small TCP
//! proxy the test controls: every broadcast arrives, in order, once, with
//! its id, rooms and data intact. Past `maxDisconnectionDuration`, or when
//! the log's byte cap dropped what it missed, it gets a fresh session.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use rally::{ConnectionStateRecovery, DisconnectReason, Server};
use rally_testkit::{interop::RecoveryClient as NodeClient, proxy::Proxy, within};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::mpsc};

// ---------------------------------------------------------------------------
// The server under test

struct Setup {
    io: Server,
    disconnects: mpsc::UnboundedReceiver<DisconnectReason>,
    proxy: Proxy,
    _task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn setup(recovery: ConnectionStateRecovery) -> Setup {
    let io = Server::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .connection_state_recovery(recovery)
        .build();
    let root = io.of("/");
    rally_testkit::interop::recovery_handlers(&root);
    // Emits that must not carry an offset: with an ack, volatile.
    root.on("unlogged", |socket, mut event| async move {
        let _ = socket
            .timeout(Duration::from_secs(5))
            .emit_with_ack("with-ack", &1)
            .await;
        let _ = socket.ns().broadcast().volatile().emit("volatile", &2);
        let _ = event.ack("done");
    });
    let (tx, disconnects) = mpsc::unbounded_channel();
    root.on_disconnect(move |_socket, reason| {
        let _ = tx.send(reason);
        async {}
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let task = tokio::spawn(rally::serve(listener, io.clone()));
    let proxy = Proxy::start(addr).await;
    Setup {
        io,
        disconnects,
        proxy,
        _task: task,
    }
}

impl Setup {
    /// A client of `mode` connected through the proxy, in room "news" with
    /// the name "ada" in its data; returns it with its socket id.
    async fn client(&self, mode: &str) -> (NodeClient, String) {
        let mut client = NodeClient::start(&self.proxy.url(), mode);
        let (_, connect) = client.until("connect").await;
        assert_eq!(connect["recovered"], false, "{connect}");
        let id = connect["id"].as_str().expect("an id").to_owned();
        let welcome = client.event("welcome").await;
        assert_eq!(welcome[0], json!({"id": id, "recovered": false}));
        assert!(
            welcome[1].is_string(),
            "a direct emit ends with an offset: {welcome:?}"
        );
        let (_, room) = client.ask("join", json!(["news", "ada"])).await;
        assert_eq!(room, [json!("news")]);
        if mode == "upgrade" {
            // Cut the connection once it has settled on WebSocket.
            let sid = rally::Sid::parse(&id).expect("a socket id");
            within("the upgrade", async {
                loop {
                    let socket = self.io.of("/").get_socket(sid);
                    if socket.and_then(|s| s.transport()) == Some(rally::Transport::WebSocket) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await;
        }
        (client, id)
    }

    async fn server_disconnect(&mut self) -> DisconnectReason {
        within("the server's disconnect", self.disconnects.recv())
            .await
            .expect("a reason")
    }

    /// 50 broadcasts to "news", and others the client must not get.
    fn broadcast_50(&self) {
        for i in 0..50 {
            self.io.to("news").emit("tick", &i).expect("emits");
            if i % 10 == 0 {
                self.io
                    .to("elsewhere")
                    .emit("not-for-you", &i)
                    .expect("emits");
                self.io
                    .except("news")
                    .emit("not-for-you", &i)
                    .expect("emits");
            }
        }
    }
}

/// After a recovered reconnection: the 50 ticks came before the CONNECT
/// (as the reference sends them), in order, once each, with their offsets;
/// the id, rooms and data are back.
async fn check_recovered(client: &mut NodeClient, id: &str) {
    let (before, connect) = client.until("connect").await;
    assert_eq!(connect["recovered"], true, "{connect}; before: {before:#?}");
    assert_eq!(connect["id"], id);
    let (after, me) = client.ask("whoami", json!([])).await;
    let events: Vec<&Value> = before
        .iter()
        .chain(&after)
        .filter(|l| l["type"] == "event")
        .collect();
    let ticks: Vec<i64> = events
        .iter()
        .filter(|e| e["event"] == "tick")
        .map(|e| e["args"][0].as_i64().expect("a number"))
        .collect();
    assert_eq!(ticks, (0..50).collect::<Vec<_>>(), "{events:#?}");
    for tick in events.iter().filter(|e| e["event"] == "tick") {
        assert!(tick["args"][1].is_string(), "an offset: {tick}");
    }
    // The connection handler runs again, and knows.
    let welcome: Vec<&&Value> = events.iter().filter(|e| e["event"] == "welcome").collect();
    assert_eq!(welcome.len(), 1, "{events:#?}");
    assert_eq!(welcome[0]["args"][0], json!({"id": id, "recovered": true}));
    assert_eq!(
        events.len(),
        51,
        "nothing else came (not the other rooms' packets): {events:#?}"
    );
    assert_eq!(
        me[0],
        json!({
            "id": id,
            "rooms": sorted([id, "news"]),
            "data": {"name": "ada"},
            "recovered": true,
        })
    );
}

fn sorted<const N: usize>(rooms: [&str; N]) -> Vec<String> {
    let mut rooms: Vec<String> = rooms.iter().map(|r| (*r).to_owned()).collect();
    rooms.sort();
    rooms
}

async fn killed(mode: &str) {
    let mut setup = setup(ConnectionStateRecovery::default()).await;
    let (mut client, id) = setup.client(mode).await;

    setup.proxy.set_down(true);
    setup.proxy.kill();
    let reason = setup.server_disconnect().await;
    assert!(reason.is_recoverable(), "{reason}");
    let (_, gone) = client.until("disconnect").await;
    assert!(
        gone["reason"] == "transport close" || gone["reason"] == "transport error",
        "{gone}"
    );
    setup.broadcast_50();
    assert_eq!(setup.io.recovery_stats().sessions, 1);

    setup.proxy.set_down(false);
    check_recovered(&mut client, &id).await;
    let stats = setup.io.recovery_stats();
    assert_eq!((stats.recovered, stats.unrecovered), (1, 0), "{stats:?}");
}

async fn stalled(mode: &str) {
    let mut setup = setup(ConnectionStateRecovery::default()).await;
    let (mut client, id) = setup.client(mode).await;

    setup.proxy.set_down(true);
    setup.proxy.stall();
    // Neither end hears the other: the server misses its pong.
    assert_eq!(
        setup.server_disconnect().await,
        DisconnectReason::PingTimeout
    );
    let (_, gone) = client.until("disconnect").await;
    assert_eq!(gone["reason"], "ping timeout");
    setup.broadcast_50();

    setup.proxy.set_down(false);
    check_recovered(&mut client, &id).await;
}

mod killed {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn websocket() {
        super::killed("websocket").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn polling() {
        super::killed("polling").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn upgrade() {
        super::killed("upgrade").await;
    }
}

mod stalled {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn websocket() {
        super::stalled("websocket").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn upgrade() {
        super::stalled("upgrade").await;
    }
}

/// Emits with an ack and volatile ones get no offset (the reference does
/// not log them), and a client that was not away past an unlogged packet
/// still recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_and_volatile_emits_have_no_offset() {
    let setup = setup(ConnectionStateRecovery::default()).await;
    let (mut client, _id) = setup.client("websocket").await;
    let (before, done) = client.ask("unlogged", json!([])).await;
    assert_eq!(done, [json!("done")]);
    let events: Vec<&Value> = before.iter().filter(|l| l["type"] == "event").collect();
    assert_eq!(
        events,
        [
            &json!({"type": "event", "event": "with-ack", "args": [1], "ack": true}),
            &json!({"type": "event", "event": "volatile", "args": [2]}),
        ]
    );
}

/// Back after `maxDisconnectionDuration`: the session was pruned (without
/// any reconnection asking), the client gets a fresh one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_disconnection_duration() {
    let mut setup = setup(
        ConnectionStateRecovery::default().max_disconnection_duration(Duration::from_millis(300)),
    )
    .await;
    let (mut client, id) = setup.client("websocket").await;

    setup.proxy.set_down(true);
    setup.proxy.kill();
    setup.server_disconnect().await;
    setup.broadcast_50();
    // The store prunes on its own: wait for the session and log to go.
    within("the session's expiry", async {
        loop {
            let stats = setup.io.recovery_stats();
            if stats.sessions == 0 && stats.log_entries == 0 {
                assert_eq!(stats.log_bytes, 0, "{stats:?}");
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    setup.proxy.set_down(false);
    fresh_session(&mut client, &id).await;
    let stats = setup.io.recovery_stats();
    assert_eq!((stats.recovered, stats.unrecovered), (0, 1), "{stats:?}");
}

/// A reconnection that got a new session: new id, nothing replayed, the
/// old rooms and data gone.
async fn fresh_session(client: &mut NodeClient, id: &str) {
    let (before, connect) = client.until("connect").await;
    assert_eq!(connect["recovered"], false, "{connect}");
    let new_id = connect["id"].as_str().expect("an id").to_owned();
    assert_ne!(new_id, id);
    let (after, me) = client.ask("whoami", json!([])).await;
    assert!(
        before
            .iter()
            .chain(&after)
            .all(|l| l["type"] != "event" || l["event"] == "welcome"),
        "nothing replayed: {before:#?} {after:#?}"
    );
    assert_eq!(
        me[0],
        json!({"id": new_id, "rooms": [new_id], "data": null, "recovered": false})
    );
}

/// The byte cap: far more is broadcast during the disconnection than the
/// log may hold. Memory stays under the cap at every step, the oldest
/// packets go, and the client, having missed some of them, is refused
/// recovery cleanly: a fresh session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_cap_refuses_recovery() {
    let cap = 32 * 1024;
    let mut setup = setup(ConnectionStateRecovery::default().max_log_bytes(cap)).await;
    let (mut client, id) = setup.client("websocket").await;

    setup.proxy.set_down(true);
    setup.proxy.kill();
    setup.server_disconnect().await;
    let payload = "x".repeat(1000);
    for i in 0..500 {
        setup
            .io
            .to("news")
            .emit("big", &json!([i, payload]))
            .expect("emits");
        let stats = setup.io.recovery_stats();
        assert!(stats.log_bytes <= cap, "over the cap: {stats:?}");
    }
    let stats = setup.io.recovery_stats();
    assert!(
        stats.log_entries > 10 && stats.log_entries < 40,
        "{stats:?}"
    );
    assert_eq!(stats.sessions, 0, "the session lost a packet: {stats:?}");

    setup.proxy.set_down(false);
    fresh_session(&mut client, &id).await;
    assert_eq!(setup.io.recovery_stats().unrecovered, 1);
}

/// Under a steady broadcast: packets keep going out before, during and
/// after the disconnection, the restore and the admission; the client ends
/// up with every one of them exactly once, in order.
async fn steady_broadcast(mode: &str) {
    let mut setup = setup(ConnectionStateRecovery::default()).await;
    let (mut client, id) = setup.client(mode).await;
    let io = setup.io.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let broadcaster = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        let mut sent = 0i64;
        while !stopped.load(Ordering::SeqCst) {
            tick.tick().await;
            io.to("news").emit("tick", &sent).expect("emits");
            sent += 1;
        }
        sent
    });
    client.event("tick").await;

    setup.proxy.set_down(true);
    setup.proxy.kill();
    setup.server_disconnect().await;
    setup.proxy.set_down(false);
    let (_, connect) = client.until("connect").await;
    assert_eq!(connect["recovered"], true, "{connect}");
    assert_eq!(connect["id"], id.as_str());
    // Live ticks flow again.
    client.event("tick").await;
    stop.store(true, Ordering::SeqCst);
    let sent = within("the broadcaster", broadcaster).await.expect("runs");
    setup.io.to("news").emit("end", ()).expect("emits");
    client.event("end").await;
    let ticks: Vec<i64> = client
        .history
        .iter()
        .filter(|l| l["type"] == "event" && l["event"] == "tick")
        .map(|l| l["args"][0].as_i64().expect("a number"))
        .collect();
    assert_eq!(ticks, (0..sent).collect::<Vec<_>>());
}

mod steady_broadcast {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn websocket() {
        super::steady_broadcast("websocket").await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn polling() {
        super::steady_broadcast("polling").await;
    }
}

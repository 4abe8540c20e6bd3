//! What the recovery tests share: a TCP proxy whose target can change (a
//! client that drops on one node comes back on another through it), the
//! official client driven by `interop/recovery-client.mjs`, and Rally nodes
//! in streams mode with connection state recovery.

use std::{net::SocketAddr, time::Duration};

use rally::{ConnectionStateRecovery, DisconnectReason, Server};
use rally_redis::{Mode, RedisAdapter, RedisConfig};
pub use rally_testkit::{interop::RecoveryClient, proxy::Proxy};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::mpsc};

use super::{int_reply, within};

/// The checks of the recovery tests on the official client.
pub trait RecoveryChecks {
    /// Connects (fresh), checks the welcome carries an offset, joins room
    /// "news" as "ada"; the socket id.
    async fn join_news(&mut self) -> String;

    /// After a recovered reconnection: the 50 ticks came, in order, once
    /// each, with their offsets; the id, rooms and data are back.
    async fn check_recovered(&mut self, id: &str) {
        self.check_recovered_ticks(id, 50).await;
    }

    /// The same with `ticks` ticks.
    async fn check_recovered_ticks(&mut self, id: &str, ticks: i64);
}

impl RecoveryChecks for RecoveryClient {
    /// Connects (fresh), checks the welcome carries an offset, joins room
    /// "news" as "ada"; the socket id.
    async fn join_news(&mut self) -> String {
        let (_, connect) = self.until("connect").await;
        assert_eq!(connect["recovered"], false, "{connect}");
        let id = connect["id"].as_str().unwrap().to_owned();
        let welcome = self.event("welcome").await;
        assert_eq!(welcome[0], json!({"id": id, "recovered": false}));
        assert!(welcome[1].is_string(), "an offset: {welcome:?}");
        let (_, room) = self.ask("join", json!(["news", "ada"])).await;
        assert_eq!(room, [json!("news")]);
        id
    }

    /// The same with `ticks` ticks.
    async fn check_recovered_ticks(&mut self, id: &str, ticks: i64) {
        let (before, connect) = self.until("connect").await;
        assert_eq!(connect["recovered"], true, "{connect}; before: {before:#?}");
        assert_eq!(connect["id"], id);
        let (mut after, me) = self.ask("whoami", json!([])).await;
        // The welcome of the connection handler goes through the stream
        // (it carries an offset): it may come after the direct answer.
        if !after.iter().any(|l| l["event"] == "welcome") {
            let (more, welcome) = self.until("event").await;
            after.extend(more);
            after.push(welcome);
        }
        let events: Vec<&Value> = before
            .iter()
            .chain(&after)
            .filter(|l| l["type"] == "event")
            .collect();
        let got: Vec<i64> = events
            .iter()
            .filter(|e| e["event"] == "tick")
            .map(|e| e["args"][0].as_i64().unwrap())
            .collect();
        assert_eq!(got, (0..ticks).collect::<Vec<_>>(), "{events:#?}");
        // Each with its offset (a stream entry id), in stream order.
        let offsets: Vec<(u64, u64)> = events
            .iter()
            .filter(|e| e["event"] == "tick")
            .map(|e| {
                let offset = e["args"][1].as_str().expect("an offset");
                let (ms, seq) = offset.split_once('-').expect("an entry id");
                (ms.parse().unwrap(), seq.parse().unwrap())
            })
            .collect();
        assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
        let welcome: Vec<&&Value> = events.iter().filter(|e| e["event"] == "welcome").collect();
        assert_eq!(welcome.len(), 1, "{events:#?}");
        assert_eq!(welcome[0]["args"][0], json!({"id": id, "recovered": true}));
        assert_eq!(
            events.len(),
            usize::try_from(ticks + 1).unwrap(),
            "nothing else came: {events:#?}"
        );
        let mut rooms = vec![id.to_owned(), "news".to_owned()];
        rooms.sort();
        assert_eq!(
            me[0],
            json!({"id": id, "rooms": rooms, "data": {"name": "ada"}, "recovered": true})
        );
    }
}

/// A Rally node in streams mode with connection state recovery (ping every
/// 300 ms, timeout 200 ms), serving the recovery tests' events as the
/// Node.js node of `interop/redis-cluster.mjs` does.
pub struct RecoveryNode {
    pub io: Server,
    pub addr: SocketAddr,
    pub disconnects: mpsc::UnboundedReceiver<DisconnectReason>,
}

impl RecoveryNode {
    pub async fn start(url: &str, recovery: ConnectionStateRecovery) -> Self {
        let config = RedisConfig::new().mode(Mode::Streams);
        let redis = RedisAdapter::connect(url, config).await.unwrap();
        let io = Server::builder()
            .ping_interval(Duration::from_millis(300))
            .ping_timeout(Duration::from_millis(200))
            .connection_state_recovery(recovery)
            .adapter(redis.factory())
            .build();
        let root = io.of("/");
        rally_testkit::interop::recovery_handlers(&root);
        let (tx, disconnects) = mpsc::unbounded_channel();
        root.on_disconnect(move |_socket, reason| {
            let _ = tx.send(reason);
            async {}
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(rally::serve(listener, io.clone()));
        Self {
            io,
            addr,
            disconnects,
        }
    }

    pub async fn disconnected(&mut self) -> DisconnectReason {
        within("the node's disconnect", self.disconnects.recv())
            .await
            .unwrap()
    }

    /// Waits until Redis counts `n` nodes.
    pub async fn wait_for_nodes(&self, n: usize) {
        within(&format!("{n} nodes"), async {
            while self.io.of("/").adapter().server_count().await != n {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    }
}

/// Waits until the stream holds at least `n` entries (everything sent has
/// reached Redis).
pub async fn wait_for_entries(port: u16, n: i64) {
    within(&format!("{n} stream entries"), async {
        while int_reply(port, &["XLEN", "socket.io"]).await < n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

//! `rally serve --redis ... --forward-sessions`: three nodes behind Debian's
//! nginx balancing every request round robin (no `ip_hash`, no keep-alive
//! to the nodes), a redis-server, and socket.io-client 4.8.4 clients of the
//! chat demo in each transport mode; the same cluster without forwarding
//! shows the reference's `Session ID unknown`.

mod support;

use std::net::SocketAddr;

use rally_testkit::{
    cluster::Driver, eventually, http::Http, nginx::Nginx, node, postgres::PostgresServer,
    redis::RedisServer, repo_root,
};
use serde_json::{Value, json};
use support::Rally;

/// A short heartbeat, so that clients live through several in a test.
const HEARTBEAT: [&str; 4] = ["--ping-interval", "1000", "--ping-timeout", "2000"];

/// Three nodes on one Redis, with `extra` flags, behind nginx.
async fn cluster(redis: &RedisServer, extra: &[&str]) -> (Vec<Rally>, Nginx) {
    cluster_on(&["--redis", &redis.url()], extra).await
}

/// Three nodes joined by `link` (`--redis URL`, `--postgres URL`), with
/// `extra` flags, behind nginx.
async fn cluster_on(link: &[&str], extra: &[&str]) -> (Vec<Rally>, Nginx) {
    let mut args = link.to_vec();
    args.extend_from_slice(&HEARTBEAT);
    args.extend_from_slice(extra);
    let nodes: Vec<Rally> = (0..3).map(|_| Rally::start(&args)).collect();
    let nginx = Nginx::start(&nodes.iter().map(|n| n.port).collect::<Vec<_>>()).await;
    (nodes, nginx)
}

fn through(nginx: &Nginx) -> Http {
    Http::new(SocketAddr::from(([127, 0, 0, 1], nginx.port)))
}

async fn metric(node: &Rally, sample: &str) -> u64 {
    node.get("/metrics").await.metric(sample)
}

/// Waits until requests landed on every node and crossed between them:
/// each node forwarded requests or served some for others (a node may own
/// every session, and then only serves), and polls and posts were both
/// forwarded.
async fn every_node_forwards(nodes: &[Rally]) {
    eventually("polls and posts landing on every node", || async {
        let (mut polls, mut posts, mut every) = (0, 0, true);
        for node in nodes {
            let p = metric(node, "rally_forwarded_requests_total{kind=\"poll\"}").await;
            let q = metric(node, "rally_forwarded_requests_total{kind=\"post\"}").await;
            let served = metric(node, "rally_forward_served_total").await;
            (polls, posts) = (polls + p, posts + q);
            every &= p + q + served > 0;
        }
        every && polls > 10 && posts > 10
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_forwarding_round_robin_finds_no_session() {
    let redis = RedisServer::start().await;
    let (_nodes, nginx) = cluster(&redis, &[]).await;
    let session = through(&nginx).open_polling("/socket.io/").await;
    // The next requests go to the other nodes, which do not know it.
    let mut unknown = 0;
    for _ in 0..2 {
        let reply = session.get().await;
        if reply.status == 400 {
            reply.assert_error(400, 1, "Session ID unknown");
            unknown += 1;
        }
    }
    assert!(unknown > 0, "every poll found its session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_polling_moves_between_nodes() {
    let redis = RedisServer::start().await;
    let (nodes, nginx) = cluster(&redis, &["--forward-sessions"]).await;
    let session = through(&nginx).open_polling("/socket.io/").await;
    // Socket.IO CONNECT, with the chat's auth, then its answer: whichever
    // node each request lands on.
    session.post_ok(br#"40{"name":"raw"}"#).await;
    let reply = session.get().await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.text().starts_with("40{\"sid\":"), "{}", reply.text());
    // Pings come and pongs go, on every node, for several heartbeats.
    for _ in 0..6 {
        let reply = session.get().await;
        assert_eq!(reply.status, 200, "{reply:?}");
        if reply.text() == "2" {
            session.post_ok(b"3").await;
        }
    }
    // An id of a node that does not exist is refused at once.
    let stranger = Http::new(SocketAddr::from(([127, 0, 0, 1], nginx.port)))
        .get("/socket.io/?EIO=4&transport=polling&sid=ZZZZxxxxxxxxxxxxxxxx")
        .await;
    stranger.assert_error(400, 1, "Session ID unknown");
    let refused: u64 = {
        let mut sum = 0;
        for node in &nodes {
            sum += metric(node, "rally_forward_refused_total").await;
        }
        sum
    };
    assert!(refused >= 1);
}

/// The chat's clients in one transport mode through the balancer: acks,
/// room broadcasts reaching every node's clients, binary from the
/// emitter, a server-initiated disconnect.
async fn chat_through_balancer(transports: &[&str], upgrade: bool) {
    chat_through_balancer_in(transports, upgrade, "classic").await;
}

async fn chat_through_balancer_in(transports: &[&str], upgrade: bool, mode: &str) {
    let redis = RedisServer::start().await;
    let flags = ["--forward-sessions", "--redis-mode", mode];
    let (nodes, nginx) = cluster(&redis, &flags).await;
    let driver = Driver::start(&redis.url()).await;
    chat_with(
        driver,
        &nodes,
        &nginx,
        transports,
        upgrade,
        mode == "classic",
    )
    .await;
}

/// The chat's clients through `nginx`; `emitter` when the driver's emitter
/// reaches the nodes.
async fn chat_with(
    mut driver: Driver,
    nodes: &[Rally],
    nginx: &Nginx,
    transports: &[&str],
    upgrade: bool,
    emitter: bool,
) {
    let names = ["ann", "bob", "cat", "dan"];
    for name in names {
        driver
            .send(json!({"cmd": "client", "name": name, "url": nginx.url(),
                "transports": transports, "upgrade": upgrade}))
            .await;
        driver
            .expect(&format!("{name} connected"), |l| {
                l["ok"] == "client" && l["name"] == name
            })
            .await;
        driver
            .send(json!({"cmd": "emit", "client": name, "ev": "join", "args": ["lobby"]}))
            .await;
        let ack = driver.event(name, "ack").await;
        assert_eq!(ack[0]["room"], "lobby", "{ack}");
    }
    if upgrade {
        // Each upgrade reaches the session's node, relayed or not.
        for name in names {
            driver
                .expect(&format!("{name} upgraded"), |l| {
                    l["event"] == "upgraded" && l["client"] == name
                })
                .await;
        }
    }
    // A message reaches everyone else, acked to its sender.
    driver
        .send(json!({"cmd": "emit", "client": "ann", "ev": "chat message",
            "args": [{"room": "lobby", "text": "hello"}]}))
        .await;
    assert_eq!(driver.event("ann", "ack").await, json!([{"ok": true}]));
    for name in &names[1..] {
        let message = driver.event(name, "chat message").await;
        assert_eq!(message[0]["text"], "hello", "{message}");
    }
    // Binary from outside the cluster reaches every client.
    if emitter {
        emitter_binary(&mut driver, &names).await;
    }
    // Clients live through several heartbeats, then still talk.
    if transports.contains(&"polling") && !upgrade {
        every_node_forwards(nodes).await;
        driver
            .send(json!({"cmd": "emit", "client": "dan", "ev": "chat message",
                "args": [{"room": "lobby", "text": "still here"}]}))
            .await;
        assert_eq!(driver.event("dan", "ack").await, json!([{"ok": true}]));
    }
    if emitter {
        emitter_disconnects(&mut driver, &names).await;
    }
    let seen: Vec<Value> = driver.seen_events();
    assert!(
        seen.iter().all(|l| l["event"] != "connect_error"),
        "{seen:?}\n{}",
        nginx.error_log()
    );
}

/// Binary from the redis-emitter reaches every client.
async fn emitter_binary(driver: &mut Driver, names: &[&str]) {
    driver
        .emitter(json!({"op": "emit", "rooms": ["lobby"], "ev": "bytes",
            "args": [{"bin": [0, 1, 2, 255]}]}))
        .await;
    for &name in names {
        assert_eq!(
            driver.event(name, "bytes").await,
            json!([{"bin": [0, 1, 2, 255]}])
        );
    }
}

/// The server ends every client's session (through the redis-emitter).
async fn emitter_disconnects(driver: &mut Driver, names: &[&str]) {
    // The server ends them all.
    driver
        .emitter(json!({"op": "disconnectSockets", "rooms": ["lobby"], "close": true}))
        .await;
    for &name in names {
        driver
            .expect(&format!("{name} disconnected"), |l| {
                l["event"] == "disconnect" && l["client"] == name
            })
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_through_round_robin() {
    chat_through_balancer(&["polling"], false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_and_upgrades_in_sharded_and_streams_modes() {
    for mode in ["sharded", "streams"] {
        chat_through_balancer_in(&["polling"], false, mode).await;
        chat_through_balancer_in(&["polling", "websocket"], true, mode).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_and_upgrades_on_postgres() {
    let pg = PostgresServer::start().await;
    let url = pg.url();
    let (nodes, nginx) = cluster_on(&["--postgres", &url], &["--forward-sessions"]).await;
    for (transports, upgrade) in [
        (&["polling"][..], false),
        (&["polling", "websocket"][..], true),
    ] {
        let driver = Driver::start(&url).await;
        chat_with(driver, &nodes, &nginx, transports, upgrade, true).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_only_through_round_robin() {
    chat_through_balancer(&["websocket"], false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_then_upgrade_through_round_robin() {
    chat_through_balancer(&["polling", "websocket"], true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_s_clients_reconnect_and_the_others_stay() {
    let redis = RedisServer::start().await;
    let (nodes, nginx) = cluster(&redis, &["--forward-sessions"]).await;
    let mut driver = Driver::start(&redis.url()).await;
    // WebSocket clients open one connection each: one per node, in turn.
    let names = ["w0", "w1", "w2", "w3", "w4", "w5"];
    for name in names {
        driver
            .send(json!({"cmd": "client", "name": name, "url": nginx.url(),
                "transports": ["websocket"], "reconnection": true}))
            .await;
        driver
            .expect(&format!("{name} connected"), |l| {
                l["ok"] == "client" && l["name"] == name
            })
            .await;
    }
    let held = metric(&nodes[2], "rally_sockets").await;
    assert!(held >= 1, "node 2 holds no client");
    nodes[2].signal("KILL");
    // Its clients, and only they, lose their connection and come back
    // through the balancer.
    let mut lost = Vec::new();
    for _ in 0..held {
        let line = driver
            .expect("a client of the killed node to disconnect", |l| {
                l["event"] == "disconnect"
            })
            .await;
        lost.push(line["client"].as_str().unwrap_or_default().to_owned());
    }
    for name in &lost {
        driver
            .expect(&format!("{name} to reconnect"), |l| {
                l["ok"] == "client" && l["name"] == name.as_str()
            })
            .await;
    }
    // Everyone talks: a message from each reaches an acknowledgement.
    for name in names {
        driver
            .send(json!({"cmd": "emit", "client": name, "ev": "join", "args": ["after"]}))
            .await;
        driver.event(name, "ack").await;
    }
    let again: Vec<Value> = driver
        .seen_events()
        .into_iter()
        .filter(|l| l["event"] == "disconnect")
        .collect();
    assert!(again.is_empty(), "more clients lost: {again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_demo_in_two_browser_pages_through_the_balancer() {
    let redis = RedisServer::start().await;
    let (_nodes, nginx) = cluster(&redis, &["--forward-sessions"]).await;
    let artifacts = repo_root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifact folder");
    let shot = artifacts.join("chat-demo-balanced.png");
    node::run(
        "chat-browser.mjs",
        &[&nginx.url(), &shot.display().to_string()],
    )
    .await;
}

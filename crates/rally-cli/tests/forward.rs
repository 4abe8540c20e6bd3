//! `rally serve --redis ... --forward-sessions`: three nodes behind Debian's
//! nginx balancing every request round robin (no `ip_hash`, no keep-alive
//! to the nodes), a redis-server, socket.io-client 4.8.4 clients of the
//! chat demo in each transport mode, and a Node.js socket.io node in the
//! cluster that asks them for acks, sends them binary and disconnects them;
//! requests sent to chosen nodes check each kind of forwarding by the
//! metrics; the same cluster without forwarding shows the reference's
//! `Session ID unknown`.

mod support;

use std::{net::SocketAddr, time::Duration};

use rally_testkit::{
    cluster::Driver,
    eventually,
    http::{Http, Polling, finish},
    interop::RecoveryClient,
    nginx::Nginx,
    node,
    postgres::PostgresServer,
    redis::RedisServer,
    repo_root, within, ws,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_on_another_node_reaches_the_owner() {
    let redis = RedisServer::start().await;
    let (nodes, _nginx) = cluster(&redis, &["--forward-sessions"]).await;
    let at = |i: usize| Http::new(SocketAddr::from(([127, 0, 0, 1], nodes[i].port)));
    // The session opens on node 0; it connects through node 1 and hears
    // its answer through node 2.
    let session = at(0).open_polling("/socket.io/").await;
    let on = |i: usize| Polling {
        http: at(i),
        ..session.clone()
    };
    on(1).post_ok(br#"40{"name":"relayed"}"#).await;
    let reply = on(2).get().await;
    assert!(reply.text().starts_with("40{\"sid\":"), "{reply:?}");
    // A poll waits on node 0 while the WebSocket upgrade goes to node 1,
    // which relays it to node 0: the probe, then the switch, which ends
    // the waiting poll with a noop.
    let poll = on(0).pending_get().await;
    let uri = format!(
        "ws://127.0.0.1:{}/socket.io/?EIO=4&transport=websocket&sid={}",
        nodes[1].port, session.sid
    );
    let mut socket = ws::connect(&uri, &[]).await;
    ws::send_text(&mut socket, "2probe").await;
    assert_eq!(ws::expect_text(&mut socket).await, "3probe");
    ws::send_text(&mut socket, "5").await;
    assert_eq!(finish(poll).await.text(), "6");
    // The chat answers over the relayed WebSocket, acks included.
    ws::send_text(&mut socket, r#"421["join","lobby"]"#).await;
    let ack = ws::expect_text(&mut socket).await;
    assert!(ack.starts_with(r#"431[{"#), "{ack}");
    assert!(ack.contains(r#""room":"lobby""#), "{ack}");
    // Polls and posts went from nodes 1 and 2 to node 0, which served
    // them; the WebSocket is a relay on node 1 and the session stays on
    // node 0.
    assert!(metric(&nodes[1], "rally_forwarded_requests_total{kind=\"post\"}").await >= 1);
    assert!(metric(&nodes[2], "rally_forwarded_requests_total{kind=\"poll\"}").await >= 1);
    assert_eq!(metric(&nodes[1], "rally_forward_relays_total").await, 1);
    assert!(metric(&nodes[0], "rally_forward_served_total").await >= 3);
    assert_eq!(metric(&nodes[0], "rally_sockets").await, 1);
    assert_eq!(metric(&nodes[1], "rally_sockets").await, 0);
    // Ending the socket ends the session on its owner.
    ws::close(&mut socket).await;
    eventually("the owner to drop the session", || async {
        metric(&nodes[0], "rally_sockets").await == 0
    })
    .await;
}

/// The chat's clients in one transport mode through the balancer: acks
/// both ways, room broadcasts reaching every node's clients, binary, a
/// server-initiated disconnect.
async fn chat_through_balancer(transports: &[&str], upgrade: bool) {
    chat_through_balancer_in(transports, upgrade, "classic").await;
}

async fn chat_through_balancer_in(transports: &[&str], upgrade: bool, mode: &str) {
    let redis = RedisServer::start().await;
    let flags = ["--forward-sessions", "--redis-mode", mode];
    let (nodes, nginx) = cluster(&redis, &flags).await;
    let driver = Driver::start(&redis.url()).await;
    chat_with(driver, &nodes, &nginx, transports, upgrade, mode).await;
}

/// Connects chat clients through `nginx` until every node holds at least
/// one (and there are at least four), each in room "lobby"; their names.
async fn clients_on_every_node(
    driver: &mut Driver,
    nodes: &[Rally],
    nginx: &Nginx,
    transports: &[&str],
    upgrade: bool,
) -> Vec<String> {
    eventually("no sockets left from before", || async {
        for node in nodes {
            if metric(node, "rally_sockets").await > 0 {
                return false;
            }
        }
        true
    })
    .await;
    let mut names = Vec::new();
    loop {
        // Each client makes about as many requests as the one before, and
        // the balancer takes the nodes in turn: a random number of other
        // requests first, so that handshakes do not keep landing on the
        // same node.
        for _ in 0..random_below(3) {
            through(nginx).get("/").await;
        }
        let name = format!("c{}", names.len());
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
        let ack = driver.event(&name, "ack").await;
        assert_eq!(ack[0]["room"], "lobby", "{ack}");
        names.push(name);
        let mut everywhere = true;
        for node in nodes {
            everywhere &= metric(node, "rally_sockets").await > 0;
        }
        if everywhere && names.len() >= 4 {
            return names;
        }
        assert!(names.len() < 30, "a node got no client in 30 connections");
    }
}

/// A random number below `n`.
fn random_below(n: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        % n
}

/// The chat's clients through `nginx`, with a Node.js socket.io node in
/// the cluster (adapter `mode`: a Redis mode or `postgres`) that asks
/// them for acknowledgements, sends them binary and ends their sessions.
async fn chat_with(
    mut driver: Driver,
    nodes: &[Rally],
    nginx: &Nginx,
    transports: &[&str],
    upgrade: bool,
    mode: &str,
) {
    driver.serve(mode).await;
    within("the Node.js node to count the Rally nodes", async {
        while driver.op(json!({"op": "serverCount"})).await != json!(4) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let names = clients_on_every_node(&mut driver, nodes, nginx, transports, upgrade).await;
    if upgrade {
        // Each upgrade reaches the session's node, relayed or not.
        for name in &names {
            driver
                .expect(&format!("{name} upgraded"), |l| {
                    l["event"] == "upgraded" && l["client"] == name.as_str()
                })
                .await;
        }
    }
    // A message reaches everyone else, acked to its sender.
    driver
        .send(json!({"cmd": "emit", "client": "c0", "ev": "chat message",
            "args": [{"room": "lobby", "text": "hello"}]}))
        .await;
    assert_eq!(driver.event("c0", "ack").await, json!([{"ok": true}]));
    for name in &names[1..] {
        let message = driver.event(name, "chat message").await;
        assert_eq!(message[0]["text"], "hello", "{message}");
    }
    server_asks_for_acks(&mut driver, &names).await;
    binary_reaches_everyone(&mut driver, &names).await;
    // Clients live through several heartbeats, then still talk.
    if transports.contains(&"polling") && !upgrade {
        every_node_forwards(nodes).await;
        let last = names.last().expect("clients");
        driver
            .send(json!({"cmd": "emit", "client": last, "ev": "chat message",
                "args": [{"room": "lobby", "text": "still here"}]}))
            .await;
        assert_eq!(driver.event(last, "ack").await, json!([{"ok": true}]));
        server_asks_for_acks(&mut driver, &names).await;
    }
    server_disconnects(&mut driver, &names, nginx).await;
    let seen: Vec<Value> = driver.seen_events();
    assert!(
        seen.iter().all(|l| l["event"] != "connect_error"),
        "{seen:?}\n{}",
        nginx.error_log()
    );
}

/// A broadcast with acknowledgements from the Node.js node: every client,
/// wherever its requests land, answers, and every answer comes back.
async fn server_asks_for_acks(driver: &mut Driver, names: &[String]) {
    let answers = driver
        .op(
            json!({"op": "emitWithAck", "rooms": ["lobby"], "ev": "question",
            "args": ["ready?"], "timeout": 10000}),
        )
        .await;
    let mut expected: Vec<String> = names.iter().map(|n| format!("{n}-ack")).collect();
    expected.sort();
    assert_eq!(answers, json!(expected));
    for name in names {
        assert_eq!(driver.event(name, "question").await, json!(["ready?"]));
    }
}

/// Binary from the Node.js node reaches every client.
async fn binary_reaches_everyone(driver: &mut Driver, names: &[String]) {
    driver
        .op(json!({"op": "emit", "rooms": ["lobby"], "ev": "bytes",
            "args": [{"bin": [0, 1, 2, 255]}, "tail"]}))
        .await;
    for name in names {
        assert_eq!(
            driver.event(name, "bytes").await,
            json!([{"bin": [0, 1, 2, 255]}, "tail"])
        );
    }
}

/// The server ends every client's session.
async fn server_disconnects(driver: &mut Driver, names: &[String], nginx: &Nginx) {
    driver
        .op(json!({"op": "disconnectSockets", "rooms": ["lobby"], "close": true}))
        .await;
    for name in names {
        let line = driver
            .expect(&format!("{name} disconnected"), |l| {
                l["event"] == "disconnect" && l["client"] == name.as_str()
            })
            .await;
        assert_eq!(
            line["reason"],
            "io server disconnect",
            "{line}\n{}\n{}",
            nginx.error_log(),
            nginx.recent_requests(40)
        );
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
        chat_with(driver, &nodes, &nginx, transports, upgrade, "postgres").await;
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
async fn a_stopped_node_s_clients_recover_their_state_on_another_node() {
    let redis = RedisServer::start().await;
    let flags = [
        "--forward-sessions",
        "--redis-mode",
        "streams",
        "--recovery",
    ];
    let (nodes, nginx) = cluster(&redis, &flags).await;
    // Clients in each transport mode through the balancer, in "lobby".
    let mut clients = Vec::new();
    for (i, mode) in [
        "polling",
        "websocket",
        "upgrade",
        "polling",
        "websocket",
        "upgrade",
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("r{i}");
        let mut client =
            RecoveryClient::start_with_auth(&nginx.url(), mode, &json!({"name": name}));
        let (_, connect) = client.until("connect").await;
        assert_eq!(connect["recovered"], false, "{connect}");
        let (_, ack) = client.ask("join", json!(["lobby"])).await;
        assert_eq!(ack[0]["room"], "lobby", "{ack:?}");
        clients.push((client, connect["id"].clone()));
    }
    // The node holding the most sessions stops; a client of another node,
    // reached directly, stays to talk to the room.
    let mut held = Vec::new();
    for node in &nodes {
        held.push(metric(node, "rally_sockets").await);
    }
    let stopped = (0..3).max_by_key(|&i| held[i]).expect("three nodes");
    assert!(held[stopped] > 0);
    let mut speaker = RecoveryClient::start_with_auth(
        &format!("http://127.0.0.1:{}", nodes[(stopped + 1) % 3].port),
        "websocket",
        &json!({"name": "speaker"}),
    );
    speaker.until("connect").await;
    speaker.ask("join", json!(["lobby"])).await;
    let mut nodes = nodes;
    let node = nodes.remove(stopped);
    let (status, log) =
        tokio::task::spawn_blocking(move || node.terminate(Duration::from_secs(20)))
            .await
            .expect("the node stops");
    assert!(status.success(), "{status:?}\n{log}");
    // Its clients come back through the balancer on other nodes, with
    // their ids and rooms (and anything said meanwhile).
    speaker
        .ask(
            "chat message",
            json!([{"room": "lobby", "text": "welcome back"}]),
        )
        .await;
    let mut moved = 0;
    for (client, id) in &mut clients {
        let message = client.event("chat message").await;
        assert_eq!(message[0]["text"], "welcome back", "{message:?}");
        let Some(gone) = client
            .history
            .iter()
            .position(|l| l["type"] == "disconnect")
        else {
            continue;
        };
        moved += 1;
        // A recovered client hears what it missed before its `connect`.
        let back = match client.history[gone..]
            .iter()
            .find(|l| l["type"] == "connect")
        {
            Some(back) => back.clone(),
            None => client.until("connect").await.1,
        };
        let history = &client.history;
        assert_eq!(back["recovered"], true, "{history:?}");
        assert_eq!(&back["id"], id, "{history:?}");
    }
    // Clients whose WebSocket was relayed through the stopped node, or
    // whose poll waited there, reconnect too.
    assert!(moved >= held[stopped], "{moved} clients moved");
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

//! A mixed cluster: one Rally node and one Node.js socket.io 4.8.4 node with
//! @socket.io/redis-adapter 8.3.0 (or @socket.io/redis-streams-adapter
//! 0.3.1) on one Redis, in every mode. Every operation is started from
//! either side, with official clients on both; with the default parser, and
//! with socket.io-msgpack-parser on every client and both nodes.

mod support;

use std::time::Duration;

use rally::{Args, Parser};
use rally_redis::{Mode, RedisConfig};
use serde_json::{Value, json};
use support::{Driver, RallyNode, RedisServer, eventually};

fn node_names(fetched: &Value) -> Vec<String> {
    fetched
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn mixed(mode: Mode, mode_name: &str) {
    mixed_parsed(mode, mode_name, Parser::Json).await;
}

/// Every operation started from either side, the clients and both nodes
/// using `parser`.
async fn mixed_parsed(mode: Mode, mode_name: &str, parser: Parser) {
    let redis = RedisServer::start().await;
    let rally = RallyNode::start_parsed(&redis.url(), RedisConfig::new().mode(mode), parser).await;
    let mut node = Driver::start_parsed(&redis.url(), parser).await;
    let node_url = node.serve(mode_name).await;
    rally.wait_for_nodes(2).await;
    assert_eq!(node.op(json!({"op": "serverCount"})).await, json!(2));

    node.client("r1", &rally.url(), &["room1"]).await;
    node.client("r2", &rally.url(), &[]).await;
    node.client("n1", &node_url, &["room1"]).await;
    node.client("n2", &node_url, &[]).await;
    eventually("every socket seen from Rally", || async {
        rally.names(None).await == ["n1", "n2", "r1", "r2"]
    })
    .await;

    // Broadcasts to a room, with binary, from either side.
    let binary = json!(["hi", 1, {"bin": [1, 2]}]);
    rally
        .io
        .to("room1")
        .emit(
            "from-rally",
            Args::new().arg(&"hi").arg(&1).binary(vec![1, 2]),
        )
        .unwrap();
    node.op(json!({"op": "emit", "rooms": ["room1"], "ev": "from-node", "args": binary}))
        .await;
    for name in ["r1", "n1"] {
        assert_eq!(node.event(name, "from-rally").await, binary);
        assert_eq!(node.event(name, "from-node").await, binary);
    }
    // To all, except a room.
    rally.io.except("room1").emit("not-room1", &1).unwrap();
    node.op(json!({"op": "emit", "except": ["room1"], "ev": "not-room1-node", "args": [2]}))
        .await;
    for name in ["r2", "n2"] {
        node.event(name, "not-room1").await;
        node.event(name, "not-room1-node").await;
    }
    node.none_yet("from-rally");
    node.none_yet("from-node");
    node.none_yet("not-room1");

    // fetchSockets from either side: ids, rooms, data, handshake.
    let fetched = node.op(json!({"op": "fetch", "rooms": ["room1"]})).await;
    assert_eq!(node_names(&fetched), ["n1", "r1"]);
    for socket in fetched.as_array().unwrap() {
        assert!(socket["hasHandshake"].as_bool().unwrap());
        let rooms = socket["rooms"].as_array().unwrap();
        assert!(rooms.contains(&json!("room1")) && rooms.contains(&socket["id"]));
    }
    let all = rally.io.broadcast().fetch_sockets().await.unwrap();
    let n2 = all
        .iter()
        .find(|s| s.data::<Value>().unwrap()["name"] == "n2")
        .unwrap();
    assert_eq!(n2.handshake()["query"]["EIO"], "4");
    // A remote socket acted on from either side.
    n2.emit("direct", "from rally").unwrap();
    assert_eq!(node.event("n2", "direct").await, json!(["from rally"]));
    node.op(json!({"op": "remoteEmit", "name": "r2", "ev": "direct", "args": ["from node"]}))
        .await;
    assert_eq!(node.event("r2", "direct").await, json!(["from node"]));

    // serverSideEmit with acks, from either side.
    let answers = rally
        .io
        .of("/")
        .server_side_emit_with_ack("hello", "world")
        .await
        .unwrap();
    assert_eq!(answers, [json!("ack-from-node")]);
    assert_eq!(node.event("node", "server-event").await, json!(["world"]));
    let answers = node
        .op(json!({"op": "serverSideEmitWithAck", "ev": "hello", "args": ["x"]}))
        .await;
    assert_eq!(answers, json!([format!("ack-from-{}", rally.addr.port())]));
    // And without acks.
    rally
        .io
        .of("/")
        .server_side_emit("hello", "no ack")
        .unwrap();
    assert_eq!(node.event("node", "server-event").await, json!(["no ack"]));
    node.op(json!({"op": "serverSideEmit", "ev": "hello", "args": ["plain"]}))
        .await;
    assert_eq!(node.event("r1", "got-hello").await, json!([["plain"]]));

    // Broadcasts with acks, from either side: every client answers.
    let responses = rally
        .io
        .broadcast()
        .timeout(Duration::from_secs(5))
        .emit_with_ack("needack", ())
        .await
        .unwrap();
    assert!(responses.all_answered(), "{responses:?}");
    let mut acks: Vec<String> = responses.answers().map(|r| r.arg(0).unwrap()).collect();
    acks.sort();
    assert_eq!(acks, ["n1-ack", "n2-ack", "r1-ack", "r2-ack"]);
    let acks = node
        .op(json!({"op": "emitWithAck", "ev": "needack2", "timeout": 5000}))
        .await;
    assert_eq!(acks, json!(["n1-ack", "n2-ack", "r1-ack", "r2-ack"]));

    // socketsJoin / socketsLeave from either side.
    rally.io.to("room1").sockets_join("room2");
    node.op(json!({"op": "socketsJoin", "rooms": ["room1"], "join": "room3"}))
        .await;
    eventually("room1 joins room2 and room3", || async {
        rally.names(Some("room2")).await == ["n1", "r1"]
            && rally.names(Some("room3")).await == ["n1", "r1"]
    })
    .await;
    let fetched = node.op(json!({"op": "fetch", "rooms": ["room2"]})).await;
    assert_eq!(node_names(&fetched), ["n1", "r1"]);
    node.op(json!({"op": "socketsLeave", "rooms": ["room2"], "leave": "room2"}))
        .await;
    rally.io.broadcast().sockets_leave("room3");
    eventually("everyone leaves room2 and room3", || async {
        rally.names(Some("room2")).await.is_empty() && rally.names(Some("room3")).await.is_empty()
    })
    .await;

    // Another namespace: its own channels, both ways.
    node.client("ra", &format!("{}/admin", rally.url()), &[])
        .await;
    node.client("na", &format!("{node_url}/admin"), &[]).await;
    eventually("the /admin sockets seen from Rally", || async {
        rally
            .io
            .of("/admin")
            .broadcast()
            .fetch_sockets()
            .await
            .unwrap()
            .len()
            == 2
    })
    .await;
    rally.io.of("/admin").emit("admin-rally", &1).unwrap();
    node.op(json!({"op": "emit", "nsp": "/admin", "ev": "admin-node", "args": [2]}))
        .await;
    for name in ["ra", "na"] {
        assert_eq!(node.event(name, "admin-rally").await, json!([1]));
        assert_eq!(node.event(name, "admin-node").await, json!([2]));
    }
    node.none_yet("admin-rally");

    // disconnectSockets from either side.
    node.op(json!({"op": "disconnectSockets", "rooms": ["room1"]}))
        .await;
    for name in ["r1", "n1"] {
        let line = node
            .expect("disconnect", |l| {
                l["event"] == "disconnect" && l["client"] == name
            })
            .await;
        assert_eq!(line["reason"], "io server disconnect");
    }
    rally.io.broadcast().disconnect_sockets(true);
    for name in ["r2", "n2"] {
        let line = node
            .expect("disconnect", |l| {
                l["event"] == "disconnect" && l["client"] == name
            })
            .await;
        assert_eq!(line["reason"], "io server disconnect");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rally_and_node_classic() {
    mixed(Mode::Classic, "classic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rally_and_node_classic_with_the_msgpack_parser() {
    mixed_parsed(Mode::Classic, "classic", Parser::MsgPack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rally_and_node_streams_with_the_msgpack_parser() {
    mixed_parsed(Mode::Streams, "streams", Parser::MsgPack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rally_and_node_sharded() {
    mixed(Mode::Sharded, "sharded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rally_and_node_streams() {
    mixed(Mode::Streams, "streams").await;
}

/// With `streamCount` 3 on both sides, the main namespace's stream is
/// `socket.io-2` (as the reference picks it), and broadcasts cross both
/// ways through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rally_and_node_streams_with_three_streams() {
    let redis = RedisServer::start().await;
    let config = RedisConfig::new().mode(Mode::Streams).stream_count(3);
    let rally = RallyNode::start_with(&redis.url(), config).await;
    let mut node = Driver::start(&redis.url()).await;
    node.send(json!({"cmd": "serve", "port": 0, "mode": "streams", "streamCount": 3}))
        .await;
    let line = node
        .expect("the node.js node", |l| l["ok"] == "serve")
        .await;
    let node_url = format!("http://127.0.0.1:{}", line["port"]);
    rally.wait_for_nodes(2).await;
    node.client("r1", &rally.url(), &["room1"]).await;
    node.client("n1", &node_url, &["room1"]).await;

    rally.io.to("room1").emit("from-rally", &1).unwrap();
    node.op(json!({"op": "emit", "rooms": ["room1"], "ev": "from-node", "args": [2]}))
        .await;
    for name in ["r1", "n1"] {
        assert_eq!(node.event(name, "from-rally").await, json!([1]));
        assert_eq!(node.event(name, "from-node").await, json!([2]));
    }
    let len = |stream: &'static str| async move {
        support::int_reply(redis.port, &["XLEN", stream]).await
    };
    assert_eq!(len("socket.io-2").await, 2);
    assert_eq!(len("socket.io").await, 0);
}

//! Three Rally nodes on one Postgres: every cluster operation, through
//! official `socket.io-client` connections spread over the nodes, with a
//! payload over NOTIFY's 8000 bytes and a binary one (both through the
//! attachments table).

use std::time::Duration;

use rally::Args;
use rally_postgres::PostgresConfig;
use rally_testkit::{
    cluster::Driver, eventually, postgres::PostgresNode, postgres::PostgresServer,
};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_rally_nodes() {
    let pg = PostgresServer::start().await;
    let nodes = [
        PostgresNode::start(&pg.url(), PostgresConfig::new()).await,
        PostgresNode::start(&pg.url(), PostgresConfig::new()).await,
        PostgresNode::start(&pg.url(), PostgresConfig::new()).await,
    ];
    for node in &nodes {
        node.wait_for_nodes(3).await;
    }
    let mut clients = Driver::start(&pg.url()).await;
    clients.client("a", &nodes[0].url(), &["room1"]).await;
    clients.client("b", &nodes[1].url(), &["room1"]).await;
    clients.client("c", &nodes[2].url(), &[]).await;
    for node in &nodes {
        eventually("all sockets visible", || async {
            node.names(None).await == ["a", "b", "c"]
        })
        .await;
    }

    // A broadcast to a room, with binary (through the table), from node 0.
    let args = Args::new().arg(&"hi").arg(&1).binary(vec![1, 2]);
    nodes[0].io.to("room1").emit("ev", args).unwrap();
    let expected = json!(["hi", 1, {"bin": [1, 2]}]);
    assert_eq!(clients.event("a", "ev").await, expected);
    assert_eq!(clients.event("b", "ev").await, expected);
    // Over 8000 bytes of JSON: through the table too.
    let big = "x".repeat(20_000);
    nodes[2].io.to("room1").emit("big", &big).unwrap();
    assert_eq!(clients.event("b", "big").await, json!([big]));
    assert_eq!(clients.event("a", "big").await, json!([big]));
    // To everyone, except a room, and local only.
    nodes[1].io.except("room1").emit("ex", &1).unwrap();
    nodes[0].io.broadcast().local().emit("loc", &2).unwrap();
    nodes[2].io.emit("all", &3).unwrap();
    for name in ["a", "b", "c"] {
        clients.event(name, "all").await;
    }
    clients.event("c", "ex").await;
    clients.event("a", "loc").await;
    clients.none_yet("ev");
    clients.none_yet("ex");
    clients.none_yet("loc");

    // fetch_sockets from every node: ids, rooms, data, handshake.
    let all = nodes[2].io.broadcast().fetch_sockets().await.unwrap();
    assert_eq!(all.len(), 3);
    for socket in &all {
        assert!(socket.handshake()["headers"]["host"].is_string());
    }
    assert_eq!(nodes[2].names(Some("room1")).await, ["a", "b"]);
    let a = all
        .iter()
        .find(|s| s.data::<Value>().unwrap()["name"] == "a")
        .unwrap();
    a.emit("direct", "to a").unwrap();
    assert_eq!(clients.event("a", "direct").await, json!(["to a"]));

    // sockets_join / sockets_leave across nodes.
    nodes[0].io.to("room1").sockets_join("room2");
    eventually("room1 joins room2", || async {
        nodes[2].names(Some("room2")).await == ["a", "b"]
    })
    .await;
    let rooms = nodes[2].io.of("/").adapter().rooms().await.unwrap();
    assert!(rooms.iter().any(|r| &**r == "room2"), "{rooms:?}");
    nodes[1].io.broadcast().sockets_leave("room2");
    eventually("everyone leaves room2", || async {
        nodes[0].names(Some("room2")).await.is_empty()
    })
    .await;

    // Server-side events with answers from every other node.
    let mut answers = nodes[0]
        .io
        .of("/")
        .server_side_emit_with_ack("hello", "world")
        .await
        .unwrap();
    answers.sort_by_key(|v| v.to_string());
    let mut expected = vec![
        json!(format!("ack-from-{}", nodes[1].addr.port())),
        json!(format!("ack-from-{}", nodes[2].addr.port())),
    ];
    expected.sort_by_key(|v| v.to_string());
    assert_eq!(answers, expected);
    nodes[1]
        .io
        .of("/")
        .server_side_emit("hello", "plain")
        .unwrap();
    assert_eq!(clients.event("a", "got-hello").await, json!([["plain"]]));

    // A broadcast with acks: every client on every node answers.
    let responses = nodes[1]
        .io
        .broadcast()
        .timeout(Duration::from_secs(5))
        .emit_with_ack("needack", ())
        .await
        .unwrap();
    assert!(responses.all_answered(), "{responses:?}");
    let mut acks: Vec<String> = responses.answers().map(|r| r.arg(0).unwrap()).collect();
    acks.sort();
    assert_eq!(acks, ["a-ack", "b-ack", "c-ack"]);

    // disconnect_sockets across nodes.
    nodes[2].io.to("room1").disconnect_sockets(false);
    for name in ["a", "b"] {
        let line = clients
            .expect("disconnect", |l| {
                l["event"] == "disconnect" && l["client"] == name
            })
            .await;
        assert_eq!(line["reason"], "io server disconnect");
    }
    eventually("only c is left", || async {
        nodes[0].names(None).await == ["c"]
    })
    .await;
}

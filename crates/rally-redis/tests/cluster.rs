//! Three Rally nodes on one Redis, in each mode: every cluster operation,
//! through official `socket.io-client` connections spread over the nodes.

mod support;

use std::time::Duration;

use rally::{AdapterError, Args};
use rally_redis::{Mode, RedisConfig};
use serde_json::{Value, json};
use support::{Driver, RallyNode, RedisServer, eventually};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn three_nodes(mode: Mode) {
    let redis = RedisServer::start().await;
    let nodes = [
        RallyNode::start(&redis.url(), mode).await,
        RallyNode::start(&redis.url(), mode).await,
        RallyNode::start(&redis.url(), mode).await,
    ];
    nodes[0].wait_for_nodes(3).await;
    let mut clients = Driver::start(&redis.url()).await;
    clients.client("a", &nodes[0].url(), &["room1"]).await;
    clients.client("b", &nodes[1].url(), &["room1"]).await;
    clients.client("c", &nodes[2].url(), &[]).await;
    // Sharded mode subscribes per room: wait until every node sees them all.
    for node in &nodes {
        eventually("all sockets visible", || async {
            node.names(None).await == ["a", "b", "c"]
        })
        .await;
    }

    // A broadcast to a room, with binary, from node 0.
    let args = Args::new().arg(&"hi").arg(&1).binary(vec![1, 2]);
    nodes[0].io.to("room1").emit("ev", args).unwrap();
    let expected = json!(["hi", 1, {"bin": [1, 2]}]);
    assert_eq!(clients.event("a", "ev").await, expected);
    assert_eq!(clients.event("b", "ev").await, expected);
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
        assert!(socket.rooms().iter().any(|r| **r == *socket.id().as_str()));
    }
    assert_eq!(nodes[2].names(Some("room1")).await, ["a", "b"]);

    // A remote socket can be emitted to, made to join and leave.
    let a = all
        .iter()
        .find(|s| s.data::<Value>().unwrap()["name"] == "a")
        .unwrap();
    a.emit("direct", "to a").unwrap();
    assert_eq!(clients.event("a", "direct").await, json!(["to a"]));
    a.join("room9");
    eventually("a joins room9", || async {
        nodes[1].names(Some("room9")).await == ["a"]
    })
    .await;
    a.leave("room9");
    eventually("a leaves room9", || async {
        nodes[1].names(Some("room9")).await.is_empty()
    })
    .await;

    // sockets_join / sockets_leave across nodes.
    nodes[0].io.to("room1").sockets_join("room2");
    eventually("room1 joins room2", || async {
        nodes[2].names(Some("room2")).await == ["a", "b"]
    })
    .await;
    let mut rooms = nodes[2].io.of("/").adapter().rooms().await.unwrap();
    rooms.sort();
    assert!(rooms.iter().any(|r| &**r == "room2"), "{rooms:?}");
    nodes[2].io.emit("sync", ()).unwrap();
    nodes[2].io.to("room2").emit("in-room2", ()).unwrap();
    clients.event("a", "in-room2").await;
    clients.event("b", "in-room2").await;
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
    assert_eq!(responses.replies.len(), 1);

    assert_eq!(nodes[1].io.of("/").adapter().server_count().await, 3);

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
    // A remote socket can be disconnected.
    let c = nodes[0].io.broadcast().fetch_sockets().await.unwrap();
    c[0].disconnect(false);
    let line = clients
        .expect("c disconnected", |l| {
            l["event"] == "disconnect" && l["client"] == "c"
        })
        .await;
    assert_eq!(line["reason"], "io server disconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_rally_nodes_classic() {
    three_nodes(Mode::Classic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_rally_nodes_sharded() {
    three_nodes(Mode::Sharded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_rally_nodes_streams() {
    three_nodes(Mode::Streams).await;
}

/// Each namespace's broadcasts reach that namespace only, on every node
/// (in streams mode, with three streams: `/` on `socket.io-2`, `/chat` on
/// `socket.io-1`, as the reference spreads them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_are_kept_apart_streams() {
    let redis = RedisServer::start().await;
    let config = || RedisConfig::new().mode(Mode::Streams).stream_count(3);
    let a = RallyNode::start_with(&redis.url(), config()).await;
    let b = RallyNode::start_with(&redis.url(), config()).await;
    let (chat_a, chat_b) = (a.io.of("/chat"), b.io.of("/chat"));
    a.wait_for_nodes(2).await;
    eventually("two nodes on /chat", || async {
        chat_a.adapter().server_count().await == 2
    })
    .await;
    let mut clients = Driver::start(&redis.url()).await;
    clients.client("root", &a.url(), &[]).await;
    clients
        .client("chat", &format!("{}/chat", a.url()), &[])
        .await;
    chat_b.emit("in-chat", &1).unwrap();
    b.io.emit("in-root", &2).unwrap();
    assert_eq!(clients.event("chat", "in-chat").await, json!([1]));
    assert_eq!(clients.event("root", "in-root").await, json!([2]));
    let fetched = chat_b.broadcast().fetch_sockets().await.unwrap();
    assert_eq!(fetched.len(), 1);
    let lines: Vec<_> = clients
        .seen_events()
        .into_iter()
        .filter(|l| {
            l["client"] == "root" && l["event"] == "in-chat"
                || l["client"] == "chat" && l["event"] == "in-root"
        })
        .collect();
    assert!(lines.is_empty(), "crossed namespaces: {lines:?}");
    let len = |stream: &'static str| async move {
        support::int_reply(redis.port, &["XLEN", stream]).await
    };
    assert_eq!((len("socket.io-1").await, len("socket.io-2").await), (1, 1));
}

/// A raw connection that subscribes to `channel` and never answers: a node
/// that hangs.
async fn silent_subscriber(port: u16, command: &str, channel: &str) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let line = format!(
        "*2\r\n${}\r\n{command}\r\n${}\r\n{channel}\r\n",
        command.len(),
        channel.len()
    );
    stream.write_all(line.as_bytes()).await.unwrap();
    let mut buf = [0u8; 16];
    let _ = stream.read(&mut buf).await.unwrap();
    stream
}

async fn requests_time_out(mode: Mode, command: &str, channel: &str) {
    let redis = RedisServer::start().await;
    let config = RedisConfig::new()
        .mode(mode)
        .requests_timeout(Duration::from_millis(300));
    let node = RallyNode::start_with(&redis.url(), config).await;
    node.wait_for_nodes(1).await;
    let hung = silent_subscriber(redis.port, command, channel).await;
    node.wait_for_nodes(2).await;

    let err = node.io.broadcast().fetch_sockets().await.unwrap_err();
    assert_eq!(
        err,
        AdapterError::Timeout {
            operation: "fetchSockets",
            missing: 1,
            expected: 1
        }
    );
    assert_eq!(
        err.to_string(),
        "timeout reached while waiting for fetchSockets: 1 of 1 answers missing"
    );
    let err = node
        .io
        .of("/")
        .server_side_emit_with_ack("hello", ())
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Timeout { missing: 1, .. }));

    // A node that is gone is no longer waited for.
    drop(hung);
    node.wait_for_nodes(1).await;
    assert!(
        node.io
            .broadcast()
            .fetch_sockets()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_time_out_saying_what_is_missing_classic() {
    requests_time_out(Mode::Classic, "SUBSCRIBE", "socket.io-request#/#").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_time_out_saying_what_is_missing_sharded() {
    requests_time_out(Mode::Sharded, "SSUBSCRIBE", "socket.io#/#").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_time_out_saying_what_is_missing_streams() {
    requests_time_out(Mode::Streams, "SUBSCRIBE", "socket.io#/#").await;
}

/// Sends one command on a fresh raw connection and reads its reply.
async fn raw_command(port: u16, args: &[&[u8]]) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut line = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        line.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        line.extend_from_slice(arg);
        line.extend_from_slice(b"\r\n");
    }
    stream.write_all(&line).await.unwrap();
    let mut buf = [0u8; 64];
    let _ = stream.read(&mut buf).await.unwrap();
}

/// Malformed messages on every channel a node listens to: ignored, and the
/// cluster goes on.
async fn garbage_is_ignored(mode: Mode, publish: &str, channels: &[&str]) {
    let redis = RedisServer::start().await;
    let a = RallyNode::start(&redis.url(), mode).await;
    let b = RallyNode::start(&redis.url(), mode).await;
    a.wait_for_nodes(2).await;
    garbage_is_ignored_by(&redis, &a, &b, publish, channels).await;
}

async fn garbage_is_ignored_by(
    redis: &RedisServer,
    a: &RallyNode,
    b: &RallyNode,
    publish: &str,
    channels: &[&str],
) {
    let garbage: [&[u8]; 8] = [
        b"",
        b"{",
        b"{\"type\":5,\"requestId\":7}",
        b"{\"type\":7,\"uid\":1,\"data\":{\"packet\":[]}}",
        b"\x93\xa1x\xc0\xc0",
        b"\x93\xa1x\x83\xa4type\x02\xa4data\x90\xa3nsp\xa1/\x80",
        b"\xdd\xff\xff\xff\xff",
        b"\xc1\xc1\xc1",
    ];
    for channel in channels {
        for payload in garbage {
            raw_command(
                redis.port,
                &[publish.as_bytes(), channel.as_bytes(), payload],
            )
            .await;
        }
    }
    // Both nodes still serve the cluster.
    let mut clients = Driver::start(&redis.url()).await;
    clients.client("b", &b.url(), &[]).await;
    a.io.emit("still-here", &1).unwrap();
    assert_eq!(clients.event("b", "still-here").await, json!([1]));
    assert_eq!(a.io.broadcast().fetch_sockets().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_channels_is_ignored_classic() {
    let channels = [
        "socket.io#/#",
        "socket.io#/#room#",
        "socket.io-request#/#",
        "socket.io-response#/#",
    ];
    garbage_is_ignored(Mode::Classic, "PUBLISH", &channels).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_channels_is_ignored_streams() {
    let redis = RedisServer::start().await;
    let a = RallyNode::start(&redis.url(), Mode::Streams).await;
    // Malformed entries on the stream, before node b starts and after.
    let entries: [&[&[u8]]; 7] = [
        &[b"uid", b"x"],
        &[b"nsp", b"/", b"type", b"3"],
        &[b"uid", b"x", b"nsp", b"/", b"type", b"3", b"data", b"{"],
        &[b"uid", b"x", b"nsp", b"/", b"type", b"3", b"data", b"%%%"],
        &[b"uid", b"x", b"nsp", b"/", b"type", b"3", b"data", b"kw=="],
        &[b"uid", b"x", b"nsp", b"/", b"type", b"zz", b"data", b"{}"],
        &[
            b"uid",
            b"x",
            b"nsp",
            b"/",
            b"type",
            b"4",
            b"data",
            b"{\"rooms\":7}",
        ],
    ];
    let xadd = |fields: &[&[u8]]| {
        let mut args: Vec<&[u8]> = vec![b"XADD", b"socket.io", b"*"];
        args.extend_from_slice(fields);
        args.iter().map(|a| a.to_vec()).collect::<Vec<_>>()
    };
    for fields in entries {
        let args = xadd(fields);
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        raw_command(redis.port, &args).await;
    }
    let b = RallyNode::start(&redis.url(), Mode::Streams).await;
    a.wait_for_nodes(2).await;
    for fields in entries {
        let args = xadd(fields);
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        raw_command(redis.port, &args).await;
    }
    // And on the pub/sub channels.
    garbage_is_ignored_by(&redis, &a, &b, "PUBLISH", &["socket.io#/#"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_channels_is_ignored_sharded() {
    garbage_is_ignored(Mode::Sharded, "SPUBLISH", &["socket.io#/#"]).await;
}

/// `PUBSUB <sub> <channel>` on a raw connection: the count.
async fn subscribers(port: u16, sub: &str, channel: &str) -> u64 {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let line = format!(
        "*3\r\n$6\r\nPUBSUB\r\n${}\r\n{sub}\r\n${}\r\n{channel}\r\n",
        sub.len(),
        channel.len()
    );
    stream.write_all(line.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 256];
    // `*2 $<n> <channel> :<count>`: complete once the count's line ends.
    while !reply.ends_with(b"\r\n") || !reply.contains(&b':') {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "redis closed the connection");
        reply.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8(reply).unwrap();
    text.rsplit(':').next().unwrap().trim().parse().unwrap()
}

/// A dynamic namespace left empty and cleaned up stops listening; a new one
/// of the same name listens again.
async fn dynamic_namespaces_come_and_go(mode: Mode, sub: &str, channel: &str) {
    let redis = RedisServer::start().await;
    let redis_adapter =
        rally_redis::RedisAdapter::connect(&redis.url(), RedisConfig::new().mode(mode))
            .await
            .unwrap();
    let io = rally::Server::builder()
        .adapter(redis_adapter.factory())
        .cleanup_empty_child_namespaces(true)
        .build();
    io.dynamic(|name, _auth| name.starts_with("/dyn-"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/dyn-1", listener.local_addr().unwrap());
    tokio::spawn(rally::serve(listener, io.clone()));

    for round in 0..2 {
        let mut clients = Driver::start(&redis.url()).await;
        clients.client("c", &url, &[]).await;
        eventually(&format!("round {round}: the namespace listens"), || async {
            subscribers(redis.port, sub, channel).await == 1
        })
        .await;
        drop(clients);
        eventually(&format!("round {round}: it stops listening"), || async {
            subscribers(redis.port, sub, channel).await == 0
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_namespaces_come_and_go_classic() {
    dynamic_namespaces_come_and_go(Mode::Classic, "NUMSUB", "socket.io-request#/dyn-1#").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_namespaces_come_and_go_sharded() {
    dynamic_namespaces_come_and_go(Mode::Sharded, "SHARDNUMSUB", "socket.io#/dyn-1#").await;
}

//! Redis over TLS (`rediss://`): two Rally nodes clustering through a
//! `redis-server` that speaks TLS only, in each adapter mode, trusting the
//! test CA; and an adapter refusing a Redis whose certificate it does not
//! trust, with an error naming the problem.

mod support;

use rally_redis::{Error, Mode, RedisAdapter, RedisConfig};
use rally_testkit::{tls::TestCa, ws};
use serde_json::json;
use support::{RallyNode, RedisServer, eventually};

/// A client of the interop server's WebSocket on `node`, in namespace `/`
/// with auth `{name, rooms}`.
async fn client(node: &RallyNode, name: &str, rooms: &[&str]) -> ws::Ws {
    let uri = format!("ws://{}/socket.io/?EIO=4&transport=websocket", node.addr);
    let mut socket = ws::connect(&uri, &[]).await;
    assert!(ws::expect_text(&mut socket).await.starts_with("0{"));
    let auth = json!({"name": name, "rooms": rooms});
    ws::send_text(&mut socket, &format!("40{auth}")).await;
    assert!(ws::expect_text(&mut socket).await.starts_with("40{"));
    socket
}

async fn two_nodes(mode: Mode) {
    let ca = TestCa::new("redis");
    let redis = RedisServer::start_tls(&ca.server_cert("redis"), ca.ca_path()).await;
    assert!(redis.url().starts_with("rediss://"));
    let config = || RedisConfig::new().mode(mode).ca_certificates(ca.pem());
    let nodes = [
        RallyNode::start_with(&redis.url(), config()).await,
        RallyNode::start_with(&redis.url(), config()).await,
    ];
    nodes[0].wait_for_nodes(2).await;

    // A socket on node 1, seen from node 0, and reached by its broadcast.
    let mut a = client(&nodes[1], "a", &["room1"]).await;
    eventually("the socket visible from the other node", || async {
        nodes[0].names(Some("room1")).await == ["a"]
    })
    .await;
    nodes[0].io.to("room1").emit("ev", "over tls").unwrap();
    loop {
        let text = ws::expect_text(&mut a).await;
        if text == "2" {
            ws::send_text(&mut a, "3").await;
            continue;
        }
        assert_eq!(text, r#"42["ev","over tls"]"#);
        break;
    }

    // A server-side event answered by the other node.
    let answers = nodes[0]
        .io
        .of("/")
        .server_side_emit_with_ack("hello", "world")
        .await
        .unwrap();
    assert_eq!(
        answers,
        [json!(format!("ack-from-{}", nodes[1].addr.port()))]
    );
}

#[tokio::test]
async fn classic_over_tls() {
    two_nodes(Mode::Classic).await;
}

#[tokio::test]
async fn sharded_over_tls() {
    two_nodes(Mode::Sharded).await;
}

#[tokio::test]
async fn streams_over_tls() {
    two_nodes(Mode::Streams).await;
}

#[tokio::test]
async fn untrusted_certificate_is_refused() {
    let ca = TestCa::new("redis-server");
    let other = TestCa::new("redis-other");
    let redis = RedisServer::start_tls(&ca.server_cert("redis"), ca.ca_path()).await;
    let refused = RedisAdapter::connect(
        &redis.url(),
        RedisConfig::new().ca_certificates(other.pem()),
    )
    .await
    .expect_err("an untrusted certificate is refused");
    match &refused {
        Error::Connect(message) => assert!(
            message.contains("invalid peer certificate: UnknownIssuer"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    // A CA for a plain redis:// URL is a configuration mistake.
    let plain = RedisAdapter::connect(
        "redis://127.0.0.1:1",
        RedisConfig::new().ca_certificates(ca.pem()),
    )
    .await
    .expect_err("refused");
    assert!(matches!(plain, Error::Url(_)), "{plain:?}");
}

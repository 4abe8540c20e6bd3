//! Postgres stopped and started under a running cluster: local delivery
//! goes on, messages for the other node are dropped and counted, and the
//! nodes reconnect, listen again and deliver again by themselves.

use std::time::Duration;

use rally_postgres::{Heartbeat, PostgresConfig};
use rally_testkit::{
    cluster::Driver, eventually, postgres::PostgresNode, postgres::PostgresServer,
};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart() {
    let pg = PostgresServer::start().await;
    let config = || {
        PostgresConfig::new()
            .heartbeat(Heartbeat::new(
                Duration::from_millis(200),
                Duration::from_secs(1),
            ))
            .requests_timeout(Duration::from_secs(2))
    };
    let a = PostgresNode::start(&pg.url(), config()).await;
    let b = PostgresNode::start(&pg.url(), config()).await;
    a.wait_for_nodes(2).await;
    b.wait_for_nodes(2).await;
    let mut clients = Driver::start(&pg.url()).await;
    clients.client("a", &a.url(), &["room1"]).await;
    clients.client("b", &b.url(), &["room1"]).await;
    a.io.emit("before", &1).unwrap();
    clients.event("b", "before").await;

    pg.stop();
    eventually("both nodes notice the outage", || {
        std::future::ready(a.pg.is_down() && b.pg.is_down())
    })
    .await;
    // Local delivery goes on; what was meant for the other node is lost,
    // and counted.
    a.io.emit("during", &2).unwrap();
    a.io.to("room1").emit("during-room", &3).unwrap();
    assert_eq!(clients.event("a", "during").await, json!([2]));
    assert_eq!(clients.event("a", "during-room").await, json!([3]));
    eventually("the lost messages are counted", || {
        std::future::ready(a.pg.dropped() >= 2)
    })
    .await;
    // Without heartbeats, the other node is forgotten: requests do not hang.
    a.wait_for_nodes(1).await;
    assert_eq!(a.io.broadcast().fetch_sockets().await.unwrap().len(), 1);

    pg.start_again().await;
    eventually("both nodes listen again", || {
        std::future::ready(!a.pg.is_down() && !b.pg.is_down())
    })
    .await;
    a.wait_for_nodes(2).await;
    b.wait_for_nodes(2).await;
    a.io.to("room1").emit("after", &4).unwrap();
    b.io.emit("after-b", &5).unwrap();
    assert_eq!(clients.event("b", "after").await, json!([4]));
    assert_eq!(clients.event("a", "after-b").await, json!([5]));
    assert_eq!(a.io.broadcast().fetch_sockets().await.unwrap().len(), 2);
    assert!(a.pg.outages() >= 1 && b.pg.outages() >= 1);
    clients.none_yet("during");
}

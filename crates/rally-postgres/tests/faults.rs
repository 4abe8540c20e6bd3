//! Postgres stopped and started under a running cluster: local delivery
//! goes on, messages for the other node are dropped and counted, and the
//! nodes reconnect, listen again and deliver again by themselves.

use std::time::Duration;

use rally_postgres::{Heartbeat, PostgresConfig};
use rally_testkit::{
    cluster::Driver, eventually, postgres::PostgresNode, postgres::PostgresServer, within,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_waits_for_every_queued_message() {
    let pg = PostgresServer::start().await;
    let node = PostgresNode::start(&pg.url(), PostgresConfig::new()).await;
    let (sql, connection) = tokio_postgres::connect(&pg.url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let count = "SELECT count(*) FROM socket_io_attachments";
    let before: i64 = sql.query_one(count, &[]).await.unwrap().get(0);
    // The attachments table is locked: the big broadcasts wait in Postgres.
    sql.batch_execute("BEGIN; LOCK TABLE socket_io_attachments IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let big = "x".repeat(10_000);
    for _ in 0..20 {
        node.io.emit("big", &big).unwrap();
    }
    let flush = tokio::spawn({
        let pg = node.pg.clone();
        async move { pg.flush().await }
    });
    eventually("the adapter's insert to wait for the lock", || async {
        let waiting: i64 = sql
            .query_one("SELECT count(*) FROM pg_locks WHERE NOT granted", &[])
            .await
            .unwrap()
            .get(0);
        waiting > 0
    })
    .await;
    assert!(!flush.is_finished(), "flush returned with messages queued");
    sql.batch_execute("COMMIT").await.unwrap();
    within("a flush", flush).await.unwrap();
    // No waiting: every broadcast is stored when flush returns.
    let after: i64 = sql.query_one(count, &[]).await.unwrap().get(0);
    assert_eq!(after, before + 20);
}

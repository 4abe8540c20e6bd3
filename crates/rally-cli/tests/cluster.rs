//! `rally serve --redis` (and `--postgres`): two standalone servers joined
//! through a real Redis (or Postgres), the chat demo's broadcasts crossing
//! from one to the other, the adapter's health in `/metrics` through a
//! restart, and scrapes that do not wait for a stalled Redis.

mod support;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use rally_testkit::{
    DEADLINE, cluster::Driver, eventually, postgres::PostgresServer, redis::RedisServer,
};
use serde_json::json;
use support::Rally;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

async fn metric_becomes(rally: &Rally, sample: &str, want: impl Fn(u64) -> bool) {
    eventually(&format!("{sample} as wanted"), || async {
        want(rally.get("/metrics").await.metric(sample))
    })
    .await;
}

async fn two_servers(mode: &str) {
    let mut redis = RedisServer::start().await;
    let url = redis.url();
    let a = Rally::start(&["--redis", &url, "--redis-mode", mode]);
    let b = Rally::start(&["--redis", &url, "--redis-mode", mode]);
    metric_becomes(&a, "rally_cluster_nodes", |n| n == 2).await;
    assert_eq!(a.get("/metrics").await.metric("rally_adapter_up"), 1);

    // A member joining on b is announced to the room's members on a.
    let mut clients = Driver::start(&url).await;
    clients
        .client("ann", &format!("http://127.0.0.1:{}", a.port), &[])
        .await;
    clients
        .client("bob", &format!("http://127.0.0.1:{}", b.port), &[])
        .await;
    clients
        .send(json!({"cmd": "emit", "client": "ann", "ev": "join", "args": ["lobby"]}))
        .await;
    clients.event("ann", "ack").await;
    // Sharded mode subscribes to the room's channel when it is created.
    metric_becomes(&a, "rally_rooms", |n| n == 1).await;
    clients
        .send(json!({"cmd": "emit", "client": "bob", "ev": "join", "args": ["lobby"]}))
        .await;
    assert_eq!(
        clients.event("ann", "user joined").await,
        json!([{"name": "bob", "room": "lobby"}])
    );

    // Redis restarts: counted, and back up.
    redis.restart().await;
    metric_becomes(&a, "rally_adapter_outages_total", |n| n >= 1).await;
    metric_becomes(&a, "rally_adapter_up", |n| n == 1).await;
    metric_becomes(&b, "rally_adapter_up", |n| n == 1).await;
    metric_becomes(&a, "rally_cluster_nodes", |n| n == 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_postgres() {
    let pg = PostgresServer::start().await;
    let url = pg.url();
    let a = Rally::start(&["--postgres", &url]);
    let b = Rally::start(&["--postgres", &url]);
    metric_becomes(&a, "rally_cluster_nodes", |n| n == 2).await;
    metric_becomes(&b, "rally_cluster_nodes", |n| n == 2).await;
    assert_eq!(a.get("/metrics").await.metric("rally_adapter_up"), 1);

    // A member joining on b is announced to the room's members on a.
    let mut clients = Driver::start(&url).await;
    clients
        .client("ann", &format!("http://127.0.0.1:{}", a.port), &[])
        .await;
    clients
        .client("bob", &format!("http://127.0.0.1:{}", b.port), &[])
        .await;
    clients
        .send(json!({"cmd": "emit", "client": "ann", "ev": "join", "args": ["lobby"]}))
        .await;
    clients.event("ann", "ack").await;
    clients
        .send(json!({"cmd": "emit", "client": "bob", "ev": "join", "args": ["lobby"]}))
        .await;
    assert_eq!(
        clients.event("ann", "user joined").await,
        json!([{"name": "bob", "room": "lobby"}])
    );

    // Postgres restarts: counted, and back up.
    pg.stop();
    metric_becomes(&a, "rally_adapter_up", |n| n == 0).await;
    pg.start_again().await;
    metric_becomes(&a, "rally_adapter_outages_total", |n| n >= 1).await;
    metric_becomes(&a, "rally_adapter_up", |n| n == 1).await;
    metric_becomes(&b, "rally_adapter_up", |n| n == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_classic() {
    two_servers("classic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_sharded() {
    two_servers("sharded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_streams() {
    two_servers("streams").await;
}

/// The process id of the Redis at `url`, from its `INFO server`.
async fn redis_pid(url: &str) -> u32 {
    let addr = url.trim_start_matches("redis://").trim_end_matches('/');
    let mut stream = TcpStream::connect(addr).await.expect("redis answers");
    stream.write_all(b"INFO server\r\n").await.expect("write");
    let mut info = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let text = String::from_utf8_lossy(&info);
        if let Some((pid, _)) = text
            .split("process_id:")
            .nth(1)
            .and_then(|rest| rest.split_once("\r\n"))
        {
            return pid.trim().parse().expect("a process id");
        }
        let n = tokio::time::timeout_at(deadline, stream.read(&mut chunk))
            .await
            .expect("INFO within the deadline")
            .expect("read");
        assert!(n > 0, "redis closed the connection");
        info.extend_from_slice(&chunk[..n]);
    }
}

/// A process stopped with SIGSTOP, continued when dropped.
struct Stopped(u32);

impl Stopped {
    fn new(pid: u32) -> Self {
        signal("-STOP", pid);
        Self(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        signal("-CONT", self.0);
    }
}

fn signal(which: &str, pid: u32) {
    let status = Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {which} {pid}");
}

/// The value of the sample `name` (a float) in a scrape.
async fn gauge(rally: &Rally, name: &str) -> f64 {
    let body = rally.get("/metrics").await.text().to_owned();
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in\n{body}"))
}

/// Redis stops answering (SIGSTOP: its connections stay open, requests
/// hang): a scrape still answers at once, from the figures the background
/// task read last, whose age grows until Redis is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_does_not_wait_for_a_stalled_redis() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let rally = Rally::start(&["--redis", &url]);
    metric_becomes(&rally, "rally_cluster_nodes", |n| n == 1).await;
    let stopped = Stopped::new(redis_pid(&url).await);
    for _ in 0..3 {
        let started = Instant::now();
        let scrape = rally.get("/metrics").await;
        assert_eq!(scrape.status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a scrape took {:?}",
            started.elapsed()
        );
        assert_eq!(scrape.metric("rally_cluster_nodes"), 1);
    }
    // The background read is the one that waits, and gives up.
    metric_becomes(&rally, "rally_cluster_read_failures_total", |n| n >= 1).await;
    let stale = gauge(&rally, "rally_cluster_read_age_seconds").await;
    assert!(stale >= 1.0, "the figures are {stale} s old");
    drop(stopped);
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while gauge(&rally, "rally_cluster_read_age_seconds").await >= stale {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cluster figures were never read again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

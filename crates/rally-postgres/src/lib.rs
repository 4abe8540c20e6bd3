#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod bus;
mod client;
mod transport;

use std::{
    fmt,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use rally::adapter::{Adapter, AdapterContext};
pub use rally_cluster::Heartbeat;
use thiserror::Error;

use crate::client::Client;

/// Settings of the Postgres adapter, with the reference's defaults.
///
/// ```
/// use std::time::Duration;
/// use rally_postgres::PostgresConfig;
///
/// let config = PostgresConfig::new()
///     .channel_prefix("myapp")
///     .requests_timeout(Duration::from_secs(2));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct PostgresConfig {
    channel_prefix: String,
    table_name: String,
    payload_threshold: usize,
    cleanup_interval: Duration,
    heartbeat: Heartbeat,
    requests_timeout: Duration,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl PostgresConfig {
    /// Channel prefix `socket.io`, table `socket_io_attachments`, payload
    /// threshold 8000 bytes, cleanup every 30 s, heartbeats every 5 s (a
    /// node gone after 10 s), requests time out after 5 s.
    pub fn new() -> Self {
        Self {
            channel_prefix: "socket.io".to_owned(),
            table_name: "socket_io_attachments".to_owned(),
            payload_threshold: 8000,
            cleanup_interval: Duration::from_secs(30),
            heartbeat: Heartbeat::default(),
            requests_timeout: Duration::from_secs(5),
        }
    }

    /// The prefix of every channel: a namespace's is `<prefix>#<nsp>`
    /// (`channelPrefix`, default `socket.io`).
    pub fn channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.channel_prefix = prefix.into();
        self
    }

    /// The table that holds big and binary messages (`tableName`, default
    /// `socket_io_attachments`), created if missing. Letters, digits and
    /// `_` only (a schema may be named first, with a dot); anything else
    /// leaves the default.
    pub fn table_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        let valid = |part: &str| {
            !part.is_empty()
                && !part.starts_with(|c: char| c.is_ascii_digit())
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if name.split('.').count() <= 2 && name.split('.').all(valid) {
            self.table_name = name;
        }
        self
    }

    /// Messages whose JSON is longer go through the table
    /// (`payloadThreshold`, default 8000 bytes: NOTIFY takes at most 8000).
    pub fn payload_threshold(mut self, bytes: usize) -> Self {
        self.payload_threshold = bytes;
        self
    }

    /// How often the table is cleaned of what is older than this
    /// (`cleanupInterval`, default 30 s).
    pub fn cleanup_interval(mut self, interval: Duration) -> Self {
        self.cleanup_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Heartbeats (`heartbeatInterval` 5 s, `heartbeatTimeout` 10 s).
    pub fn heartbeat(mut self, heartbeat: Heartbeat) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    /// How long requests to other nodes wait for answers
    /// (`requestsTimeout`, default 5 s).
    pub fn requests_timeout(mut self, timeout: Duration) -> Self {
        self.requests_timeout = timeout;
        self
    }
}

/// Why the adapter could not start.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The Postgres address is not valid.
    #[error("invalid postgres url: {0}")]
    Url(String),
    /// Postgres could not be reached, or the attachments table not made.
    #[error("cannot connect to postgres: {0}")]
    Connect(String),
}

/// A node's link to the cluster through Postgres (LISTEN/NOTIFY), shared by
/// the adapters of all its namespaces, wire-compatible with
/// @socket.io/postgres-adapter 0.5.0.
///
/// Connect once per node, then give the server its
/// [`factory`](Self::factory). Cloning it is cheap, and clones share the
/// connections.
///
/// ```no_run
/// use rally_postgres::{PostgresAdapter, PostgresConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let pg = PostgresAdapter::connect("postgres://app@127.0.0.1/app", PostgresConfig::new()).await?;
/// let io = rally::Server::builder().adapter(pg.factory()).build();
/// // Reaches the sockets in "lobby" on every node.
/// io.to("lobby").emit("hello", &"everyone")?;
/// println!("Postgres down: {}", pg.is_down());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresAdapter {
    client: Arc<Client>,
}

impl PostgresAdapter {
    /// Connects to Postgres at `url` (`postgres://user:password@host/db`,
    /// or `host=... user=...`), and makes the attachments table if missing.
    ///
    /// # Errors
    ///
    /// [`Error::Url`] or [`Error::Connect`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the connection.
    pub async fn connect(url: &str, config: PostgresConfig) -> Result<Self, Error> {
        Ok(Self {
            client: Client::connect(url, config).await?,
        })
    }

    /// The adapter of the namespace of `ctx`, for
    /// [`ServerBuilder::adapter`](rally::ServerBuilder::adapter) (see
    /// [`factory`](Self::factory)).
    pub fn adapter(&self, ctx: AdapterContext) -> Arc<dyn Adapter> {
        transport::adapter(&ctx, self.client.clone())
    }

    /// What [`ServerBuilder::adapter`](rally::ServerBuilder::adapter) takes.
    pub fn factory(&self) -> impl Fn(AdapterContext) -> Arc<dyn Adapter> + Send + Sync + 'static {
        let this = self.clone();
        move |ctx| this.adapter(ctx)
    }

    /// The node-to-node bus of session forwarding on these connections,
    /// for [`ServerBuilder::bus`](rally::ServerBuilder::bus) (with
    /// [`forward_sessions`](rally::ServerBuilder::forward_sessions)): a
    /// NOTIFY channel per node (`<prefix>-forward#<tag>#`) and one for all
    /// (`<prefix>-forward#`); payloads past the notification limit go
    /// through the attachments table. One bus serves one server.
    ///
    /// ```no_run
    /// use rally_postgres::{PostgresAdapter, PostgresConfig};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let pg = PostgresAdapter::connect("postgres://app@127.0.0.1/app", PostgresConfig::new()).await?;
    /// let io = rally::Server::builder()
    ///     .adapter(pg.factory())
    ///     .bus(pg.bus())
    ///     .forward_sessions(true)
    ///     .build();
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn bus(&self) -> Arc<dyn rally::Bus> {
        Arc::new(bus::PostgresBus::new(self.client.clone()))
    }

    /// Resolves once every message queued for Postgres before the call
    /// (the broadcasts and requests for the other nodes) has been sent, or
    /// has failed to be. Call it after closing the server, before the
    /// process exits, so that what the last disconnections sent is not
    /// lost.
    ///
    /// ```no_run
    /// # async fn run(pg: rally_postgres::PostgresAdapter, io: rally::Server) {
    /// io.close().await;
    /// pg.flush().await;
    /// # }
    /// ```
    pub async fn flush(&self) {
        self.client.flush().await;
    }

    /// How many times the LISTEN connection was lost.
    #[must_use]
    pub fn outages(&self) -> u64 {
        self.client.health.outages.load(Ordering::Relaxed)
    }

    /// Whether the LISTEN connection is down now.
    #[must_use]
    pub fn is_down(&self) -> bool {
        self.client.health.down.load(Ordering::Relaxed)
    }

    /// How many messages for other nodes were lost (Postgres unreachable,
    /// or the outgoing queue full).
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.client.health.dropped.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for PostgresAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresAdapter")
            .field("config", &self.client.config)
            .field("outages", &self.outages())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        send_sync::<PostgresAdapter>();
        send_sync::<PostgresConfig>();
        send_sync::<Error>();
    }

    #[test]
    fn table_names_are_identifiers() {
        assert_eq!(PostgresConfig::new().table_name("t_1").table_name, "t_1");
        assert_eq!(
            PostgresConfig::new().table_name("app.t").table_name,
            "app.t"
        );
        for bad in ["", "t; DROP TABLE x", "1t", "a.b.c", "t-1", "\"t\""] {
            assert_eq!(
                PostgresConfig::new().table_name(bad).table_name,
                "socket_io_attachments",
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn bad_urls_and_unreachable_servers_are_errors() {
        let err = PostgresAdapter::connect("http://nowhere", PostgresConfig::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Url(_)), "{err}");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        let err = PostgresAdapter::connect(&url, PostgresConfig::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Connect(_)), "{err}");
    }
}

#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod bus;
mod classic;
mod connection;
mod sharded;
mod streams;

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, atomic::Ordering},
    time::Duration,
};

use rally::adapter::{Adapter, AdapterContext};
use thiserror::Error;

use crate::connection::Connection;

/// Which of the reference's Redis adapters to speak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// PUBLISH / PSUBSCRIBE (`createAdapter`).
    #[default]
    Classic,
    /// SPUBLISH / SSUBSCRIBE, Redis 7 (`createShardedAdapter`).
    Sharded,
    /// XADD / XREAD on the stream `socket.io`, requests over pub/sub
    /// (@socket.io/redis-streams-adapter): supports connection state
    /// recovery across nodes, when the server has it on
    /// ([`ServerBuilder::connection_state_recovery`](rally::ServerBuilder::connection_state_recovery)).
    Streams,
}

impl std::str::FromStr for Mode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "classic" => Ok(Mode::Classic),
            "sharded" => Ok(Mode::Sharded),
            "streams" => Ok(Mode::Streams),
            other => Err(Error::Mode(other.to_owned())),
        }
    }
}

/// Settings of the Redis adapter, with the reference's defaults.
///
/// ```
/// use std::time::Duration;
/// use rally_redis::{Mode, RedisConfig};
///
/// let config = RedisConfig::new()
///     .mode(Mode::Sharded)
///     .key("myapp")
///     .requests_timeout(Duration::from_secs(2));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisConfig {
    mode: Mode,
    key: String,
    requests_timeout: Duration,
    stream_name: String,
    stream_count: usize,
    ca_certificates: Option<Vec<u8>>,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl RedisConfig {
    /// Classic mode, key `socket.io`, requests time out after 5 s.
    pub fn new() -> Self {
        Self {
            mode: Mode::Classic,
            key: "socket.io".to_owned(),
            requests_timeout: Duration::from_secs(5),
            stream_name: "socket.io".to_owned(),
            stream_count: 1,
            ca_certificates: None,
        }
    }

    /// The mode (default: [`Mode::Classic`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The prefix of every channel (the reference's `key`, default
    /// `socket.io`; the sharded adapter's `channelPrefix`).
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// How long requests to other nodes wait for answers
    /// (`requestsTimeout`, default 5 s).
    pub fn requests_timeout(mut self, timeout: Duration) -> Self {
        self.requests_timeout = timeout;
        self
    }

    /// The stream, in [`Mode::Streams`] (`streamName`, default
    /// `socket.io`).
    pub fn stream_name(mut self, name: impl Into<String>) -> Self {
        self.stream_name = name.into();
        self
    }

    /// How many streams, in [`Mode::Streams`] (`streamCount`, default 1):
    /// with more than one, each namespace has its stream among
    /// `<stream_name>-<i>`, chosen as the reference chooses it, and each is
    /// read on a connection of its own.
    pub fn stream_count(mut self, count: usize) -> Self {
        self.stream_count = count.max(1);
        self
    }

    /// The root certificates (PEM, one or more) a `rediss://` server's
    /// certificate must chain to, for a Redis whose certificate a private
    /// CA signed. They replace the platform's roots, which a `rediss://`
    /// URL is checked against by default. A `redis://` URL with this set is
    /// refused ([`Error::Url`]).
    ///
    /// ```no_run
    /// use rally_redis::{RedisAdapter, RedisConfig};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = RedisConfig::new().ca_certificates(std::fs::read("redis-ca.pem")?);
    /// let redis = RedisAdapter::connect("rediss://redis.internal:6380", config).await?;
    /// # Ok(()) }
    /// ```
    pub fn ca_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_certificates = Some(pem.into());
        self
    }
}

/// Why the adapter could not start.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The Redis address is not valid.
    #[error("invalid redis url: {0}")]
    Url(String),
    /// Redis could not be reached.
    #[error("cannot connect to redis: {0}")]
    Connect(String),
    /// The mode is not `classic`, `sharded` or `streams`.
    #[error("unknown redis mode {0:?} (expected classic, sharded or streams)")]
    Mode(String),
}

/// A node's link to the cluster: one Redis connection, shared by the
/// adapters of all its namespaces.
///
/// Connect once per node, then give the server its
/// [`factory`](Self::factory): every namespace gets an adapter on the same
/// connection. Cloning it is cheap, and clones share the connection.
///
/// ```no_run
/// use std::time::Duration;
/// use rally_redis::{Mode, RedisAdapter, RedisConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = RedisConfig::new()
///     .mode(Mode::Sharded)
///     .requests_timeout(Duration::from_secs(2));
/// let redis = RedisAdapter::connect("redis://127.0.0.1:6379", config).await?;
/// let io = rally::Server::builder().adapter(redis.factory()).build();
/// io.of("/").on_server_event("reload", |mut event| async move {
///     event.ack(&"done"); // answers another node's server_side_emit_with_ack
/// });
/// // The sockets of every node, wherever they are connected.
/// let everyone = io.broadcast().fetch_sockets().await?;
/// println!("{} sockets in the cluster, Redis down: {}", everyone.len(), redis.is_down());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisAdapter {
    conn: Arc<Connection>,
    config: RedisConfig,
    /// The stream readers, by stream, in streams mode.
    hubs: Arc<Mutex<HashMap<String, Arc<streams::Hub>>>>,
}

impl RedisAdapter {
    /// Connects to Redis at `url`: `redis://host:port`, or
    /// `rediss://host:port` for TLS (the server's certificate checked
    /// against the platform's roots, or those of
    /// [`RedisConfig::ca_certificates`]). Credentials and the database go
    /// in the URL as usual (`rediss://user:password@host:port/0`).
    ///
    /// # Errors
    ///
    /// [`Error::Url`] or [`Error::Connect`] (a TLS server whose
    /// certificate is not trusted among them: its message names the
    /// problem, as `invalid peer certificate: UnknownIssuer`).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the connection.
    pub async fn connect(url: &str, config: RedisConfig) -> Result<Self, Error> {
        let conn = Connection::open(url, config.ca_certificates.as_deref()).await?;
        let mut hubs = HashMap::new();
        if config.mode == Mode::Streams {
            // As the reference: a reader for each stream from the start.
            let (name, count) = (&config.stream_name, config.stream_count);
            let names: Vec<String> = if count == 1 {
                vec![name.clone()]
            } else {
                (0..count).map(|i| format!("{name}-{i}")).collect()
            };
            for name in names {
                let (hub, started) = streams::Hub::start(&conn, name.clone());
                let _ = started.await;
                hubs.insert(name, hub);
            }
        }
        Ok(Self {
            conn,
            config,
            hubs: Arc::new(Mutex::new(hubs)),
        })
    }

    /// The adapter of the namespace of `ctx`, for
    /// [`ServerBuilder::adapter`](rally::ServerBuilder::adapter) (see
    /// [`factory`](Self::factory)). In [`Mode::Streams`], connection state
    /// recovery follows the server's settings.
    pub fn adapter(&self, ctx: AdapterContext) -> Arc<dyn Adapter> {
        let (key, timeout) = (&self.config.key, self.config.requests_timeout);
        let conn = self.conn.clone();
        match self.config.mode {
            Mode::Classic => classic::adapter(&ctx, conn, key, timeout),
            Mode::Sharded => sharded::adapter(&ctx, conn, key, timeout),
            Mode::Streams => {
                let streams = streams::Streams {
                    hubs: self.hubs.clone(),
                    name: self.config.stream_name.clone(),
                    count: self.config.stream_count,
                };
                streams::adapter(&ctx, conn, &streams, key, timeout)
            }
        }
    }

    /// What [`ServerBuilder::adapter`](rally::ServerBuilder::adapter) takes.
    pub fn factory(&self) -> impl Fn(AdapterContext) -> Arc<dyn Adapter> + Send + Sync + 'static {
        let this = self.clone();
        move |ns| this.adapter(ns)
    }

    /// The node-to-node bus of session forwarding on this connection, for
    /// [`ServerBuilder::bus`](rally::ServerBuilder::bus) (with
    /// [`forward_sessions`](rally::ServerBuilder::forward_sessions)): a
    /// channel per node under the key (`<key>-forward#<tag>#`) and one for
    /// all (`<key>-forward#`), sharded pub/sub in [`Mode::Sharded`]. One
    /// bus serves one server.
    ///
    /// ```no_run
    /// use rally_redis::{RedisAdapter, RedisConfig};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let redis = RedisAdapter::connect("redis://127.0.0.1:6379", RedisConfig::new()).await?;
    /// let io = rally::Server::builder()
    ///     .adapter(redis.factory())
    ///     .bus(redis.bus())
    ///     .forward_sessions(true)
    ///     .build();
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn bus(&self) -> Arc<dyn rally::Bus> {
        let sharded = self.config.mode == Mode::Sharded;
        Arc::new(bus::RedisBus::new(
            self.conn.clone(),
            &self.config.key,
            sharded,
        ))
    }

    /// Resolves once every message queued for Redis before the call (the
    /// broadcasts and requests for the other nodes, and, in streams mode,
    /// the records of disconnected sessions that another node may recover)
    /// has been sent, or has failed to be. Call it after closing the
    /// server, before the process exits, so that what the last
    /// disconnections wrote is not lost.
    ///
    /// ```no_run
    /// # async fn run(redis: rally_redis::RedisAdapter, io: rally::Server) {
    /// io.close().await;
    /// redis.flush().await;
    /// # }
    /// ```
    pub async fn flush(&self) {
        self.conn.flush().await;
    }

    /// How many times the connection to Redis was lost.
    #[must_use]
    pub fn outages(&self) -> u64 {
        self.conn.health.outages.load(Ordering::Relaxed)
    }

    /// Whether the connection is down now.
    #[must_use]
    pub fn is_down(&self) -> bool {
        self.conn.health.down.load(Ordering::Relaxed)
    }

    /// How many messages for other nodes were lost (Redis unreachable, or
    /// the outgoing queue full).
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.conn.health.dropped.load(Ordering::Relaxed)
    }
}

impl fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("config", &self.config)
            .field("outages", &self.outages())
            .finish_non_exhaustive()
    }
}

/// How many subscribers `channel` has (`PUBSUB NUMSUB` or `SHARDNUMSUB`);
/// 1 (this node alone) when Redis cannot say.
async fn numsub(conn: &Connection, sub: &str, channel: &str) -> usize {
    let mut manager = conn.manager();
    let reply: Result<Vec<(String, usize)>, _> = redis::cmd("PUBSUB")
        .arg(sub)
        .arg(channel)
        .query_async(&mut manager)
        .await;
    match reply {
        Ok(counts) => counts.first().map_or(1, |(_, n)| (*n).max(1)),
        Err(e) => {
            tracing::debug!(error = %e, "cannot count the nodes");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        send_sync::<RedisAdapter>();
        send_sync::<RedisConfig>();
        send_sync::<Mode>();
        send_sync::<Error>();
    }

    #[test]
    fn modes_by_name() {
        assert_eq!("classic".parse::<Mode>(), Ok(Mode::Classic));
        assert_eq!("sharded".parse::<Mode>(), Ok(Mode::Sharded));
        assert_eq!("streams".parse::<Mode>(), Ok(Mode::Streams));
        let err = "ring".parse::<Mode>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown redis mode \"ring\" (expected classic, sharded or streams)"
        );
    }

    #[tokio::test]
    async fn bad_urls_and_unreachable_servers_are_errors() {
        let err = RedisAdapter::connect("http://nowhere", RedisConfig::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Url(_)), "{err}");
        // A port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = RedisAdapter::connect(&format!("redis://127.0.0.1:{port}"), RedisConfig::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Connect(_)), "{err}");
    }
}

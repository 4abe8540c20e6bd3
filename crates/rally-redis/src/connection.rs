//! The one Redis connection a node shares between its namespaces: RESP3,
//! so it both publishes and receives; reconnected by the `redis` crate and
//! resubscribed here; publishes go out in order, pipelined, through a
//! bounded queue.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, RwLock, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use redis::{
    IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use tokio::sync::{mpsc, oneshot};

use crate::Error;

/// How many publishes may wait for Redis; past that they are dropped (and
/// counted), so an outage never grows memory without bound.
const QUEUE: usize = 16_384;
/// How many queued publishes go out in one pipeline.
const BATCH: usize = 256;

/// Where a message for some channels goes: a namespace's adapter.
pub(crate) trait Route: Send + Sync {
    /// Whether messages on `channel` are for this route.
    fn owns(&self, channel: &str) -> bool;
    /// Handles a message on `channel`.
    fn on_message(&self, channel: &str, payload: Bytes);
}

/// A subscription, kept to be made again after a reconnection.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Sub {
    Channel(String),
    Pattern(String),
    Shard(String),
}

impl Sub {
    fn command(&self) -> redis::Cmd {
        let (name, arg) = match self {
            Sub::Channel(c) => ("SUBSCRIBE", c),
            Sub::Pattern(p) => ("PSUBSCRIBE", p),
            Sub::Shard(s) => ("SSUBSCRIBE", s),
        };
        let mut cmd = redis::cmd(name);
        cmd.arg(arg);
        cmd
    }

    fn undo(&self) -> redis::Cmd {
        let (name, arg) = match self {
            Sub::Channel(c) => ("UNSUBSCRIBE", c),
            Sub::Pattern(p) => ("PUNSUBSCRIBE", p),
            Sub::Shard(s) => ("SUNSUBSCRIBE", s),
        };
        let mut cmd = redis::cmd(name);
        cmd.arg(arg);
        cmd
    }
}

/// What to do instead when a command could not reach Redis.
pub(crate) type Fallback = Box<dyn FnOnce() + Send>;

/// What the publisher takes, in order: a command for the other nodes
/// (PUBLISH, SPUBLISH, XADD, SET), or a mark answered once everything
/// queued before it went out (or failed).
pub(crate) enum Outgoing {
    Cmd(redis::Cmd, Option<Fallback>),
    Flushed(oneshot::Sender<()>),
}

/// Counters of the connection's health.
#[derive(Debug, Default)]
pub(crate) struct Health {
    pub(crate) outages: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) down: AtomicBool,
}

pub(crate) struct Connection {
    /// For connections of their own (the streams reader blocks on XREAD).
    pub(crate) client: redis::Client,
    manager: ConnectionManager,
    queue: mpsc::Sender<Outgoing>,
    /// Every subscription, with how many adapters asked for it.
    subs: Mutex<BTreeMap<Sub, usize>>,
    routes: RwLock<Vec<Weak<dyn Route>>>,
    pub(crate) health: Health,
    pub(crate) runtime: tokio::runtime::Handle,
}

impl Connection {
    /// Connects to `url`; over TLS, with `ca` (PEM) as the only roots when
    /// given.
    pub(crate) async fn open(url: &str, ca: Option<&[u8]>) -> Result<Arc<Self>, Error> {
        let info = url
            .into_connection_info()
            .map_err(|e| Error::Url(e.to_string()))?;
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let info = info.set_redis_settings(settings);
        let client = match ca {
            None => redis::Client::open(info),
            Some(pem) => redis::Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.to_vec()),
                },
            ),
        }
        .map_err(|e| Error::Url(e.to_string()))?;
        let (push_tx, push_rx) = mpsc::unbounded_channel::<PushInfo>();
        let config = ConnectionManagerConfig::new()
            .set_push_sender(push_tx)
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let manager = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| Error::Connect(e.to_string()))?;
        let (queue, outgoing) = mpsc::channel(QUEUE);
        let conn = Arc::new(Self {
            client,
            manager,
            queue,
            subs: Mutex::default(),
            routes: RwLock::default(),
            health: Health::default(),
            runtime: tokio::runtime::Handle::current(),
        });
        tokio::spawn(publisher(Arc::downgrade(&conn), outgoing));
        tokio::spawn(receiver(Arc::downgrade(&conn), push_rx));
        Ok(conn)
    }

    /// A handle for commands of its own (requests, counts).
    pub(crate) fn manager(&self) -> ConnectionManager {
        self.manager.clone()
    }

    pub(crate) fn add_route(&self, route: Weak<dyn Route>) {
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        routes.retain(|r| r.strong_count() > 0);
        routes.push(route);
    }

    /// Queues a message; when the queue is full (Redis unreachable for a
    /// while), it is dropped and counted.
    pub(crate) fn publish(&self, sharded: bool, channel: String, payload: Vec<u8>) {
        let mut cmd = redis::cmd(if sharded { "SPUBLISH" } else { "PUBLISH" });
        cmd.arg(channel).arg(payload);
        self.send(cmd, None);
    }

    /// Queues any command for the other nodes, in order with the publishes
    /// (dropped and counted as they are when the queue is full); `fallback`
    /// runs instead when it cannot reach Redis.
    pub(crate) fn send(&self, cmd: redis::Cmd, fallback: Option<Fallback>) {
        if let Err(e) = self.queue.try_send(Outgoing::Cmd(cmd, fallback)) {
            self.health.dropped.fetch_add(1, Ordering::Relaxed);
            if let Outgoing::Cmd(_, Some(fallback)) = e.into_inner() {
                fallback();
            }
        }
    }

    /// Resolves once every command queued before the call went out to Redis
    /// (or failed to).
    pub(crate) async fn flush(&self) {
        let (done, sent) = oneshot::channel();
        if self.queue.send(Outgoing::Flushed(done)).await.is_ok() {
            let _ = sent.await;
        }
    }

    /// Subscribes (now, in the background, and again after every
    /// reconnection). Subscriptions are counted: Redis hears of the first
    /// one only.
    pub(crate) fn subscribe(self: &Arc<Self>, subs: Vec<Sub>) {
        let fresh: Vec<Sub> = {
            let mut all = self.subs.lock().unwrap_or_else(|e| e.into_inner());
            subs.into_iter()
                .filter(|s| {
                    let count = all.entry(s.clone()).or_insert(0);
                    *count += 1;
                    *count == 1
                })
                .collect()
        };
        if fresh.is_empty() {
            return;
        }
        let mut manager = self.manager();
        self.runtime.spawn(async move {
            for sub in fresh {
                if let Err(e) = sub.command().exec_async(&mut manager).await {
                    tracing::debug!(error = %e, "subscribe failed; retried on reconnection");
                }
            }
        });
    }

    /// Forgets subscriptions (in the background); Redis hears of the last
    /// one only.
    pub(crate) fn unsubscribe(self: &Arc<Self>, subs: Vec<Sub>) {
        let gone: Vec<Sub> = {
            let mut all = self.subs.lock().unwrap_or_else(|e| e.into_inner());
            subs.into_iter()
                .filter(|s| match all.get_mut(s) {
                    Some(1) => {
                        all.remove(s);
                        true
                    }
                    Some(count) => {
                        *count -= 1;
                        false
                    }
                    None => false,
                })
                .collect()
        };
        if gone.is_empty() {
            return;
        }
        let mut manager = self.manager();
        self.runtime.spawn(async move {
            for sub in gone {
                let _ = sub.undo().exec_async(&mut manager).await;
            }
        });
    }

    /// After a reconnection: subscribes to everything again, retrying until
    /// Redis answers.
    async fn resubscribe(self: Arc<Self>) {
        let mut delay = Duration::from_millis(50);
        loop {
            let subs: Vec<Sub> = self
                .subs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .keys()
                .cloned()
                .collect();
            let mut pipe = redis::pipe();
            for sub in &subs {
                pipe.add_command(sub.command());
            }
            let mut manager = self.manager();
            let done = if subs.is_empty() {
                redis::cmd("PING").exec_async(&mut manager).await
            } else {
                pipe.exec_async(&mut manager).await
            };
            match done {
                Ok(()) => {
                    self.health.down.store(false, Ordering::Relaxed);
                    tracing::info!(subscriptions = subs.len(), "redis adapter reconnected");
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "redis still unreachable");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    fn route(&self, channel: &str, payload: Bytes) {
        let routes: Vec<Arc<dyn Route>> = self
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        if let Some(route) = routes.iter().find(|r| r.owns(channel)) {
            route.on_message(channel, payload);
        }
    }
}

/// Sends queued commands in order, as many as are waiting in one pipeline.
async fn publisher(conn: Weak<Connection>, mut outgoing: mpsc::Receiver<Outgoing>) {
    let mut batch = Vec::with_capacity(BATCH);
    while outgoing.recv_many(&mut batch, BATCH).await > 0 {
        let Some(conn) = conn.upgrade() else { return };
        let mut pipe = redis::pipe();
        let (mut fallbacks, mut flushed) = (Vec::new(), Vec::new());
        for out in batch.drain(..) {
            match out {
                Outgoing::Cmd(cmd, fallback) => {
                    pipe.add_command(cmd).ignore();
                    fallbacks.extend(fallback);
                }
                Outgoing::Flushed(done) => flushed.push(done),
            }
        }
        let mut manager = conn.manager();
        let sent = if pipe.is_empty() {
            Ok(())
        } else {
            pipe.exec_async(&mut manager).await
        };
        for done in flushed {
            let _ = done.send(());
        }
        if let Err(e) = sent {
            let lost = pipe.len() as u64;
            conn.health.dropped.fetch_add(lost, Ordering::Relaxed);
            tracing::warn!(error = %e, lost, "redis adapter could not publish");
            for fallback in fallbacks {
                fallback();
            }
        }
    }
}

/// Hands each received message to its namespace, and notices outages.
async fn receiver(conn: Weak<Connection>, mut pushes: mpsc::UnboundedReceiver<PushInfo>) {
    while let Some(push) = pushes.recv().await {
        let Some(conn) = conn.upgrade() else { return };
        match push.kind {
            PushKind::Disconnection => {
                conn.health.outages.fetch_add(1, Ordering::Relaxed);
                if !conn.health.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!("redis adapter lost its connection; local delivery goes on");
                    tokio::spawn(conn.clone().resubscribe());
                }
            }
            PushKind::Message | PushKind::PMessage | PushKind::SMessage => {
                let mut data = push.data.into_iter();
                if push.kind == PushKind::PMessage {
                    data.next();
                }
                let (Some(channel), Some(payload)) = (data.next(), data.next()) else {
                    continue;
                };
                let (Ok(channel), Ok(payload)) = (
                    redis::from_redis_value::<String>(channel),
                    redis::from_redis_value::<Vec<u8>>(payload),
                ) else {
                    continue;
                };
                conn.route(&channel, Bytes::from(payload));
            }
            _ => {}
        }
    }
}

//! A node's connections to Postgres, shared by the adapters of all its
//! namespaces: one that publishes (NOTIFY, and INSERT into the attachments
//! table), in order, through a bounded queue; one that LISTENs and hands
//! notifications to their namespace; one for the rest (reading attachments,
//! cleaning the table). Each reconnects by itself.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        Arc, Mutex, RwLock, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use futures_util::future::join_all;
use rally_cluster::wire::Incoming;
use serde_json::Value;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_postgres::{AsyncMessage, NoTls, Notification, Statement};

use crate::{Error, PostgresConfig, transport::PostgresNode};

/// How many messages may wait for Postgres; past that they are dropped (and
/// counted), so an outage never grows memory without bound.
const QUEUE: usize = 16_384;
/// How many queued messages go out in one pipeline.
const BATCH: usize = 256;
/// The longest wait between two reconnection attempts.
const MAX_DELAY: Duration = Duration::from_secs(2);

/// A message for the other nodes, or a mark.
pub(crate) enum Outgoing {
    /// Answered once everything queued before it went out (or failed).
    Flushed(oneshot::Sender<()>),
    /// `pg_notify(channel, payload)`.
    Notify { channel: String, payload: String },
    /// The message (MessagePack) goes into the attachments table, and a
    /// notification `{uid, type, attachmentId}` says where.
    Attachment {
        channel: String,
        uid: String,
        kind: i64,
        body: Vec<u8>,
    },
}

/// Counters of the connections' health.
#[derive(Debug, Default)]
pub(crate) struct Health {
    pub(crate) outages: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) down: AtomicBool,
}

pub(crate) struct Client {
    pg: tokio_postgres::Config,
    pub(crate) config: PostgresConfig,
    queue: mpsc::Sender<Outgoing>,
    /// The channels to LISTEN on, and a wake-up for the listener when one
    /// is added.
    channels: Mutex<BTreeSet<String>>,
    new_channel: Arc<Notify>,
    /// The adapter of each channel (one per namespace).
    routes: RwLock<HashMap<String, Weak<PostgresNode>>>,
    /// The session forwarding bus's channels (see `bus.rs`).
    bus_routes: RwLock<HashMap<String, rally::Inbox>>,
    /// The connection for reading attachments and cleaning the table.
    other: tokio::sync::Mutex<Option<tokio_postgres::Client>>,
    pub(crate) health: Health,
    pub(crate) runtime: tokio::runtime::Handle,
}

/// Opens a connection, driven by a task of its own; `notifications`, when
/// given, receives what the server sends unasked.
async fn open(
    pg: &tokio_postgres::Config,
    notifications: Option<mpsc::UnboundedSender<Notification>>,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, mut connection) = pg.connect(NoTls).await?;
    tokio::spawn(async move {
        loop {
            let message = std::future::poll_fn(|cx| connection.poll_message(cx)).await;
            match message {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if let Some(tx) = &notifications {
                        let _ = tx.send(n);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "postgres connection ended");
                    return;
                }
                None => return,
            }
        }
    });
    Ok(client)
}

/// `name` quoted as an SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Client {
    /// Connects (once, to check the address and make the attachments
    /// table), then starts the publisher, the listener and the cleaner.
    pub(crate) async fn connect(url: &str, config: PostgresConfig) -> Result<Arc<Self>, Error> {
        let mut pg: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| Error::Url(e.to_string()))?;
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(Duration::from_secs(2));
        }
        let other = open(&pg, None)
            .await
            .map_err(|e| Error::Connect(e.to_string()))?;
        other
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {} (id bigserial UNIQUE, created_at timestamptz DEFAULT NOW(), payload bytea)",
                config.table_name
            ))
            .await
            .map_err(|e| Error::Connect(e.to_string()))?;
        let (queue, outgoing) = mpsc::channel(QUEUE);
        let client = Arc::new(Self {
            pg,
            config,
            queue,
            channels: Mutex::default(),
            new_channel: Arc::default(),
            routes: RwLock::default(),
            bus_routes: RwLock::default(),
            other: tokio::sync::Mutex::new(Some(other)),
            health: Health::default(),
            runtime: tokio::runtime::Handle::current(),
        });
        tokio::spawn(publisher(Arc::downgrade(&client), outgoing));
        tokio::spawn(listener(Arc::downgrade(&client)));
        tokio::spawn(cleaner(Arc::downgrade(&client)));
        Ok(client)
    }

    /// Queues a message; when the queue is full (Postgres unreachable for a
    /// while), it is dropped and counted.
    pub(crate) fn send(&self, message: Outgoing) {
        if self.queue.try_send(message).is_err() {
            self.health.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Resolves once every message queued before the call went out to
    /// Postgres (or failed to).
    pub(crate) async fn flush(&self) {
        let (done, sent) = oneshot::channel();
        if self.queue.send(Outgoing::Flushed(done)).await.is_ok() {
            let _ = sent.await;
        }
    }

    /// Hands the notifications of `channel` to `node`, and LISTENs on it.
    pub(crate) fn add_route(&self, channel: String, node: Weak<PostgresNode>) {
        self.routes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(channel.clone(), node);
        let fresh = self
            .channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(channel);
        if fresh {
            self.new_channel.notify_one();
        }
    }

    /// Hands the notifications of `channel` to the forwarding bus's
    /// `inbox`, and LISTENs on it.
    pub(crate) fn add_bus_route(&self, channel: String, inbox: rally::Inbox) {
        self.bus_routes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(channel.clone(), inbox);
        let fresh = self
            .channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(channel);
        if fresh {
            self.new_channel.notify_one();
        }
    }

    /// A notification of the forwarding bus: its bytes, read from the
    /// attachments table when it names a row.
    async fn on_bus_notification(&self, inbox: rally::Inbox, payload: &str) {
        let bytes = if payload.starts_with('{') {
            let Some(message) = Incoming::parse(payload.as_bytes()) else {
                return;
            };
            let id = match message.get("attachmentId") {
                Some(Value::String(s)) => s.parse().ok(),
                Some(other) => other.as_i64(),
                None => None,
            };
            let Some(body) = (match id {
                Some(id) => self.attachment(id).await,
                None => None,
            }) else {
                return;
            };
            bytes::Bytes::from(body)
        } else {
            let Some(bytes) = crate::bus::decode(payload) else {
                return;
            };
            bytes
        };
        inbox(bytes);
    }

    fn route(&self, channel: &str) -> Option<Arc<PostgresNode>> {
        self.routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(channel)
            .and_then(Weak::upgrade)
    }

    /// The connection for reading attachments and cleaning, opened again
    /// when it was lost; `None` when Postgres is unreachable.
    async fn other(&self) -> Option<tokio::sync::MutexGuard<'_, Option<tokio_postgres::Client>>> {
        let mut other = self.other.lock().await;
        if other.as_ref().is_none_or(tokio_postgres::Client::is_closed) {
            *other = open(&self.pg, None)
                .await
                .map_err(|e| tracing::debug!(error = %e, "postgres unreachable"))
                .ok();
        }
        other.is_some().then_some(other)
    }

    /// The message stored as attachment `id`.
    async fn attachment(&self, id: i64) -> Option<Vec<u8>> {
        let other = self.other().await?;
        let query = format!(
            "SELECT payload FROM {} WHERE id = $1",
            self.config.table_name
        );
        let row = other
            .as_ref()?
            .query_opt(&query, &[&id])
            .await
            .map_err(|e| tracing::debug!(error = %e, "cannot read an attachment"))
            .ok()??;
        row.try_get(0).ok()
    }

    /// A notification: the message it carries (read from the attachments
    /// table when it says so), to its namespace's adapter.
    async fn on_notification(&self, notification: Notification) {
        let bus = self
            .bus_routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(notification.channel())
            .cloned();
        if let Some(inbox) = bus {
            self.on_bus_notification(inbox, notification.payload())
                .await;
            return;
        }
        let Some(node) = self.route(notification.channel()) else {
            return;
        };
        let Some(mut message) = Incoming::parse(notification.payload().as_bytes()) else {
            return;
        };
        if message.str("uid") == Some(node.uid()) {
            return;
        }
        if let Some(id) = message.get("attachmentId") {
            // A string from Node.js (its driver reads bigint as text).
            let id = match id {
                Value::String(s) => s.parse().ok(),
                other => other.as_i64(),
            };
            let Some(body) = (match id {
                Some(id) => self.attachment(id).await,
                None => None,
            }) else {
                return;
            };
            let Some(full) = Incoming::parse(&body) else {
                return;
            };
            message = full;
        }
        // The emitter names no namespace: the channel does.
        if let Value::Object(map) = &mut message.json {
            map.entry("nsp").or_insert_with(|| Value::from(node.nsp()));
        }
        node.on_message(message, None);
    }
}

impl Drop for Client {
    /// Wakes the listener, which then sees the client gone and closes its
    /// connection.
    fn drop(&mut self) {
        self.new_channel.notify_one();
    }
}

/// Sends queued messages in order: notifications pipelined on one
/// connection, each attachment stored before its notification.
async fn publisher(client: Weak<Client>, mut outgoing: mpsc::Receiver<Outgoing>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut conn: Option<(tokio_postgres::Client, Statement)> = None;
    while outgoing.recv_many(&mut batch, BATCH).await > 0 {
        let Some(client) = client.upgrade() else {
            return;
        };
        let mut flushed = Vec::new();
        if batch.iter().any(|m| matches!(m, Outgoing::Flushed(_))) {
            let messages;
            (flushed, messages) = batch
                .drain(..)
                .partition(|m| matches!(m, Outgoing::Flushed(_)));
            batch.extend(messages);
        }
        if batch.is_empty() {
            answer(flushed);
            continue;
        }
        if conn.as_ref().is_none_or(|(c, _)| c.is_closed()) {
            conn = match open(&client.pg, None).await {
                Ok(c) => c
                    .prepare("SELECT pg_notify($1, $2)")
                    .await
                    .ok()
                    .map(|notify| (c, notify)),
                Err(_) => None,
            };
        }
        let sent = match &conn {
            Some((conn, notify)) => {
                publish(conn, notify, &client.config.table_name, &mut batch).await
            }
            None => Err(String::from("postgres unreachable")),
        };
        if let Err(e) = sent {
            let lost = batch.len() as u64;
            client.health.dropped.fetch_add(lost, Ordering::Relaxed);
            tracing::warn!(error = %e, lost, "postgres adapter could not publish");
            conn = None;
        }
        batch.clear();
        answer(flushed);
    }
}

/// Answers flush marks.
fn answer(marks: Vec<Outgoing>) {
    for mark in marks {
        if let Outgoing::Flushed(done) = mark {
            let _ = done.send(());
        }
    }
}

/// Publishes `batch` in order, draining what went out.
async fn publish(
    conn: &tokio_postgres::Client,
    notify: &Statement,
    table: &str,
    batch: &mut Vec<Outgoing>,
) -> Result<(), String> {
    let insert = format!("INSERT INTO {table} (payload) VALUES ($1) RETURNING id");
    while !batch.is_empty() {
        // The notifications before the next attachment, pipelined.
        let plain = batch
            .iter()
            .position(|m| matches!(m, Outgoing::Attachment { .. }))
            .unwrap_or(batch.len());
        if plain > 0 {
            let sent = join_all(batch[..plain].iter().map(|m| async {
                let Outgoing::Notify { channel, payload } = m else {
                    return Ok(0);
                };
                conn.execute(notify, &[channel, payload]).await
            }))
            .await;
            if let Some(Err(e)) = sent.into_iter().find(Result::is_err) {
                return Err(e.to_string());
            }
            batch.drain(..plain);
            continue;
        }
        let Outgoing::Attachment {
            channel,
            uid,
            kind,
            body,
        } = batch.remove(0)
        else {
            continue;
        };
        let row = conn
            .query_one(&insert, &[&body])
            .await
            .map_err(|e| e.to_string())?;
        let id: i64 = row.try_get(0).map_err(|e| e.to_string())?;
        // As the reference writes it; the id as text, as Node.js reads it.
        let header = serde_json::json!({"uid": uid, "type": kind, "attachmentId": id.to_string()});
        conn.execute(notify, &[&channel, &header.to_string()])
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The LISTEN connection: listens on every namespace's channel, hands each
/// notification to its adapter in order, and when the connection is lost,
/// connects and listens again.
async fn listener(client: Weak<Client>) {
    let mut delay = Duration::from_millis(50);
    loop {
        let Some(strong) = client.upgrade() else {
            return;
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let conn = match open(&strong.pg, Some(tx)).await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::debug!(error = %e, "postgres still unreachable");
                strong.health.down.store(true, Ordering::Relaxed);
                drop(strong);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_DELAY);
                continue;
            }
        };
        drop(strong);
        let mut listening = BTreeSet::new();
        'connected: loop {
            let Some(strong) = client.upgrade() else {
                return;
            };
            let wanted = strong
                .channels
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            for channel in wanted.difference(&listening).cloned().collect::<Vec<_>>() {
                if let Err(e) = conn
                    .batch_execute(&format!("LISTEN {}", quoted(&channel)))
                    .await
                {
                    tracing::debug!(error = %e, "cannot listen");
                    break 'connected;
                }
                // Listening now: the namespace's adapter announces itself,
                // so the other nodes' answers are heard.
                if let Some(node) = strong.route(&channel) {
                    node.announce();
                }
                listening.insert(channel);
            }
            if strong.health.down.swap(false, Ordering::Relaxed) {
                tracing::info!(
                    channels = listening.len(),
                    "postgres adapter listening again"
                );
            }
            delay = Duration::from_millis(50);
            let new_channel = strong.new_channel.clone();
            let wake = new_channel.notified();
            drop(strong);
            tokio::select! {
                notification = rx.recv() => match notification {
                    Some(n) => {
                        let Some(strong) = client.upgrade() else { return };
                        strong.on_notification(n).await;
                    }
                    None => break 'connected,
                },
                () = wake => {}
            }
        }
        let Some(strong) = client.upgrade() else {
            return;
        };
        strong.health.outages.fetch_add(1, Ordering::Relaxed);
        strong.health.down.store(true, Ordering::Relaxed);
        tracing::warn!("postgres adapter lost its connection; local delivery goes on");
    }
}

/// Deletes the attachments older than `cleanupInterval`, every
/// `cleanupInterval`.
async fn cleaner(client: Weak<Client>) {
    let Some(every) = client.upgrade().map(|c| c.config.cleanup_interval) else {
        return;
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(client) = client.upgrade() else {
            return;
        };
        let query = format!(
            "DELETE FROM {} WHERE created_at < now() - interval '{} milliseconds'",
            client.config.table_name,
            every.as_millis()
        );
        if let Some(other) = client.other().await {
            if let Some(conn) = other.as_ref() {
                if let Err(e) = conn.batch_execute(&query).await {
                    tracing::debug!(error = %e, "cannot clean the attachments");
                }
            }
        }
    }
}

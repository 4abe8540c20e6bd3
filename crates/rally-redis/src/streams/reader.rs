//! Reading the stream: one reader per stream and node, on a connection of
//! its own (XREAD blocks it), handing each entry to the adapter of its
//! namespace, in stream order.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock, Weak},
    time::Duration,
};

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use redis::Value as RedisValue;
use tokio::sync::oneshot;

use super::StreamsAdapter;
use rally_cluster::wire::Incoming;

use crate::connection::Connection;

/// Entries per XREAD (`readCount`).
const READ_COUNT: u32 = 100;
/// How long one XREAD blocks, in ms (`blockTimeInMs`).
const BLOCK_MS: u32 = 5_000;

/// The stream of namespace `nsp` among `count` (the reference's
/// `computeStreamName`: `<name>` alone, or `<name>-<i>` with `i` the
/// JavaScript string hash of the name modulo `count`, sign included).
pub(crate) fn stream_name(name: &str, count: usize, nsp: &str) -> String {
    if count <= 1 {
        return name.to_owned();
    }
    let hash = nsp.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    });
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    format!("{name}-{}", i64::from(hash) % count)
}

/// A stream entry id, `<ms>-<seq>`, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct EntryId(u64, u64);

impl EntryId {
    /// The reference accepts offsets of digits only (`^[0-9]+-[0-9]+$`).
    pub(super) fn parse(id: &str) -> Option<Self> {
        let (ms, seq) = id.split_once('-')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(Self(ms.parse().ok()?, seq.parse().ok()?))
    }
}

/// One entry read from the stream.
pub(super) struct Entry {
    pub(super) id: String,
    fields: Vec<(String, String)>,
}

impl Entry {
    pub(super) fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Its `data`: JSON when it starts with `{`, base64 MessagePack
    /// otherwise.
    pub(super) fn data(&self) -> Option<Incoming> {
        let data = self.field("data")?;
        if data.starts_with('{') {
            return Incoming::parse(data.as_bytes());
        }
        Incoming::parse(&BASE64.decode(data).ok()?)
    }
}

/// The node's side of one stream: one reader, handing entries to the
/// adapter of their namespace.
pub(crate) struct Hub {
    stream: String,
    pub(super) adapters: RwLock<HashMap<String, Weak<StreamsAdapter>>>,
}

impl Hub {
    /// Starts reading `stream` after its current last entry; the receiver
    /// answers once the reader knows where that is.
    pub(crate) fn start(
        conn: &Arc<Connection>,
        stream: String,
    ) -> (Arc<Self>, oneshot::Receiver<()>) {
        let hub = Arc::new(Self {
            stream,
            adapters: RwLock::default(),
        });
        let (ready, started) = oneshot::channel();
        // The runtime the node connected in: this may run outside of it.
        conn.runtime.spawn(read(
            Arc::downgrade(&hub),
            conn.manager(),
            conn.client.clone(),
            ready,
        ));
        (hub, started)
    }

    /// The stream it reads.
    pub(crate) fn stream(&self) -> &str {
        &self.stream
    }

    fn dispatch(&self, entry: &Entry) {
        let Some(nsp) = entry.field("nsp") else {
            return;
        };
        let adapter = self
            .adapters
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(nsp)
            .and_then(Weak::upgrade);
        if let Some(adapter) = adapter {
            super::incoming::on_entry(&adapter, entry);
        }
    }
}

/// The id of the last entry of `stream` ("0-0" when it is empty or
/// unreadable).
async fn last_entry(manager: &mut redis::aio::ConnectionManager, stream: &str) -> String {
    let last: Result<RedisValue, _> = redis::cmd("XREVRANGE")
        .arg(stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(manager)
        .await;
    last.ok()
        .and_then(|reply| entries(reply).pop())
        .map_or_else(|| "0-0".to_owned(), |e| e.id)
}

/// The XREAD loop, on a connection of its own (XREAD blocks it), from the
/// stream's last entry until the hub is gone; after an error it reconnects
/// and goes on from the last entry it read.
async fn read(
    hub: Weak<Hub>,
    mut manager: redis::aio::ConnectionManager,
    client: redis::Client,
    ready: oneshot::Sender<()>,
) {
    let Some(stream) = hub.upgrade().map(|hub| hub.stream.clone()) else {
        return;
    };
    let mut from = last_entry(&mut manager, &stream).await;
    drop(manager);
    let _ = ready.send(());
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_millis(u64::from(BLOCK_MS) + 5_000)));
    let mut conn = None;
    let mut delay = Duration::from_millis(50);
    loop {
        if hub.strong_count() == 0 {
            return;
        }
        if conn.is_none() {
            match client
                .get_multiplexed_async_connection_with_config(&config)
                .await
            {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::debug!(error = %e, "stream reader cannot connect");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let reply: Result<RedisValue, _> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(BLOCK_MS)
            .arg("STREAMS")
            .arg(&stream)
            .arg(&from)
            .query_async(c)
            .await;
        match reply {
            Ok(reply) => {
                delay = Duration::from_millis(50);
                let Some(hub) = hub.upgrade() else { return };
                for entry in stream_entries(reply) {
                    hub.dispatch(&entry);
                    from = entry.id;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "stream reader lost redis; reading on after reconnection");
                conn = None;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// The entries of an XREAD reply (RESP2 array or RESP3 map, one stream).
fn stream_entries(reply: RedisValue) -> Vec<Entry> {
    match reply {
        RedisValue::Map(streams) => streams.into_iter().flat_map(|(_, e)| entries(e)).collect(),
        RedisValue::Array(streams) => streams
            .into_iter()
            .flat_map(|stream| match stream {
                RedisValue::Array(mut pair) if pair.len() == 2 => pair.pop().map(entries),
                _ => None,
            })
            .flatten()
            .collect(),
        _ => Vec::new(),
    }
}

/// The entries of an XRANGE reply (`[[id, [field, value, ...]], ...]`).
pub(super) fn entries(reply: RedisValue) -> Vec<Entry> {
    let RedisValue::Array(items) = reply else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let RedisValue::Array(mut pair) = item else {
                return None;
            };
            if pair.len() != 2 {
                return None;
            }
            let values = pair.pop()?;
            let id: String = redis::from_redis_value(pair.pop()?).ok()?;
            let flat: Vec<String> = match values {
                RedisValue::Map(map) => map
                    .into_iter()
                    .flat_map(|(k, v)| [k, v])
                    .filter_map(|v| redis::from_redis_value(v).ok())
                    .collect(),
                other => redis::from_redis_value(other).ok()?,
            };
            let mut fields = Vec::with_capacity(flat.len() / 2);
            let mut flat = flat.into_iter();
            while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                fields.push((k, v));
            }
            Some(Entry { id, fields })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_named_as_the_reference_names_them() {
        // Hashes computed by the reference's `hashCode`.
        assert_eq!(stream_name("socket.io", 1, "/notifications"), "socket.io");
        assert_eq!(stream_name("socket.io", 3, "/"), "socket.io-2");
        assert_eq!(stream_name("socket.io", 3, "/chat"), "socket.io-1");
        assert_eq!(stream_name("s", 3, "/admin-namespace-long"), "s-2");
        assert_eq!(stream_name("s", 3, "/\u{e9}"), "s-1");
        assert_eq!(stream_name("s", 3, "/notifications"), "s--2");
    }

    #[test]
    fn entry_ids_as_the_reference_accepts_them() {
        assert_eq!(
            EntryId::parse("1795298437659-0"),
            Some(EntryId(1795298437659, 0))
        );
        assert!(EntryId::parse("1-2") < EntryId::parse("1-10"));
        assert!(EntryId::parse("2-0") > EntryId::parse("1-10"));
        for bad in ["", "1", "1-", "-1", "a-1", "1-2-3", "1.2", "+1-2"] {
            assert_eq!(EntryId::parse(bad), None, "{bad}");
        }
    }
}

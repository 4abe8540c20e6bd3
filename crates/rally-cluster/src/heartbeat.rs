//! Counting nodes by their messages, as socket.io-adapter's
//! `ClusterAdapterWithHeartbeat`: a transport that cannot ask its engine how
//! many nodes listen (Postgres) has each node announce itself, send a
//! heartbeat when it has been quiet for a while, and say goodbye.

use std::{
    collections::{HashMap, HashSet},
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

/// The uid of @socket.io's emitters, which are not nodes.
const EMITTER_UID: &str = "emitter";

/// Heartbeat settings, with the reference's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Heartbeat {
    /// A node that published nothing for this long sends a heartbeat
    /// (`heartbeatInterval`, 5 s).
    pub interval: Duration,
    /// A node not heard of for this long is gone (`heartbeatTimeout`, 10 s).
    pub timeout: Duration,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Heartbeat {
    /// Heartbeats every `interval` at most, nodes gone after `timeout`.
    #[must_use]
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        Self { interval, timeout }
    }

    /// How often a transport should call
    /// [`ClusterAdapter::heartbeat_tick`](crate::ClusterAdapter::heartbeat_tick).
    #[must_use]
    pub fn tick(&self) -> Duration {
        (self.interval.min(self.timeout) / 5)
            .clamp(Duration::from_millis(10), Duration::from_secs(1))
    }
}

/// The other nodes, by uid, with when each was last heard of.
#[derive(Debug)]
pub(crate) struct Nodes {
    settings: Heartbeat,
    seen: Mutex<HashMap<String, Instant>>,
    last_publish: Mutex<Instant>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Nodes {
    pub(crate) fn new(settings: Heartbeat) -> Self {
        Self {
            settings,
            seen: Mutex::default(),
            last_publish: Mutex::new(Instant::now()),
        }
    }

    /// Node `uid` sent something.
    pub(crate) fn seen(&self, uid: &str) {
        if uid != EMITTER_UID {
            lock(&self.seen).insert(uid.to_owned(), Instant::now());
        }
    }

    /// Node `uid` left.
    pub(crate) fn remove(&self, uid: &str) {
        lock(&self.seen).remove(uid);
    }

    /// How many other nodes there are.
    pub(crate) fn count(&self) -> usize {
        lock(&self.seen).len()
    }

    /// The other nodes' uids.
    pub(crate) fn uids(&self) -> HashSet<String> {
        lock(&self.seen).keys().cloned().collect()
    }

    /// Whether node `uid` is known (heard of within the timeout).
    pub(crate) fn knows(&self, uid: &str) -> bool {
        lock(&self.seen).contains_key(uid)
    }

    /// This node published something.
    pub(crate) fn published(&self) {
        *lock(&self.last_publish) = Instant::now();
    }

    /// Forgets the nodes not heard of for the timeout; true when this node
    /// has been quiet for the interval (a heartbeat is due).
    pub(crate) fn tick(&self) -> bool {
        let timeout = self.settings.timeout;
        lock(&self.seen).retain(|_, at| at.elapsed() < timeout);
        lock(&self.last_publish).elapsed() >= self.settings.interval
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_come_and_go() {
        let nodes = Nodes::new(Heartbeat::new(Duration::ZERO, Duration::from_secs(60)));
        nodes.seen("a");
        nodes.seen("b");
        nodes.seen("a");
        nodes.seen(EMITTER_UID);
        assert_eq!(nodes.count(), 2);
        nodes.remove("a");
        assert_eq!(nodes.count(), 1);
        assert!(
            nodes.tick(),
            "a heartbeat is due at once with a zero interval"
        );
        let gone = Nodes::new(Heartbeat::new(Duration::from_secs(60), Duration::ZERO));
        gone.seen("a");
        assert!(!gone.tick());
        assert_eq!(gone.count(), 0);
    }
}

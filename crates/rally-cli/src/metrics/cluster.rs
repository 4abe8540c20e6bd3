//! The cluster-wide figures (nodes, rooms on every node), read from the
//! cluster by a background task every few seconds, so that a scrape of
//! `/metrics` never waits for the cluster (a request through Redis waits up
//! to 5 s for the nodes that do not answer).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use rally::{Server, Sid};
use tokio::{task::JoinSet, time::Instant};

/// How often the figures are read from the cluster.
const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// The cluster's figures as last read.
#[derive(Debug, Clone, Copy)]
pub(super) struct Snapshot {
    /// Nodes sharing the cluster (this one included).
    pub(super) nodes: usize,
    /// Rooms with at least one member, on every node.
    pub(super) rooms: usize,
    /// When they were read (the start, until they first are).
    pub(super) read_at: Instant,
    /// Reads that failed or timed out.
    pub(super) failures: u64,
}

/// The last cluster figures, kept up to date by a background task that
/// stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub(super) struct ClusterGauges {
    last: Arc<Mutex<Snapshot>>,
    _task: Arc<AbortOnDrop>,
}

impl ClusterGauges {
    /// Starts reading the figures of `io`'s cluster: now, then every few
    /// seconds.
    pub(super) fn spawn(io: Server) -> Self {
        let last = Arc::new(Mutex::new(Snapshot {
            nodes: 1,
            rooms: 0,
            read_at: Instant::now(),
            failures: 0,
        }));
        let task = tokio::spawn(refresh(io, last.clone()));
        Self {
            last,
            _task: Arc::new(AbortOnDrop(task)),
        }
    }

    /// The figures as last read.
    pub(super) fn snapshot(&self) -> Snapshot {
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Reads the figures every [`REFRESH_EVERY`]; a read that fails or takes
/// longer than that leaves the last figures (and their age grows).
async fn refresh(io: Server, last: Arc<Mutex<Snapshot>>) {
    let mut ticks = tokio::time::interval(REFRESH_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let read = tokio::time::timeout(REFRESH_EVERY, read(&io)).await;
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        match read {
            Ok(Some((nodes, rooms))) => {
                last.nodes = nodes;
                last.rooms = rooms;
                last.read_at = Instant::now();
            }
            Ok(None) | Err(_) => last.failures += 1,
        }
    }
}

/// The number of nodes and of rooms on every node (`None` when a node did
/// not answer).
async fn read(io: &Server) -> Option<(usize, usize)> {
    let nodes = io.of("/").adapter().server_count();
    let mut rooms = JoinSet::new();
    for ns in io.namespaces() {
        rooms.spawn(ns.adapter().rooms());
    }
    let mut count = 0;
    while let Some(answer) = rooms.join_next().await {
        count += app_rooms(&answer.ok()?.ok()?);
    }
    Some((nodes.await, count))
}

/// The rooms of an application among `rooms`: a socket's own room (named
/// by its id) does not count.
pub(super) fn app_rooms(rooms: &[rally::Room]) -> usize {
    rooms
        .iter()
        .filter(|room| Sid::parse(room).is_none())
        .count()
}

/// Aborts the task when dropped.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

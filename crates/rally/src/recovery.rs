//! Connection state recovery: its options and its counters.
//!
//! With recovery on, a client that loses its connection for a short while
//! (a tunnel, a sleeping laptop, a load balancer dropping an idle
//! connection) comes back with its socket id, rooms and data, and receives
//! the events broadcast meanwhile, in order, exactly once. The adapter keeps
//! what that takes: the in-memory [`LocalAdapter`](crate::adapter::LocalAdapter)
//! keeps sessions and a packet log bounded by time and by bytes.

use std::{
    fmt,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// The reference's `connectionStateRecovery` option, plus the memory cap of
/// the in-memory log.
///
/// ```
/// use std::time::Duration;
/// use rally::{ConnectionStateRecovery, Server};
///
/// let io = Server::builder()
///     .connection_state_recovery(
///         ConnectionStateRecovery::default()
///             .max_disconnection_duration(Duration::from_secs(30))
///             .max_log_bytes(16 << 20),
///     )
///     .build();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ConnectionStateRecovery {
    pub(crate) max_disconnection_duration: Duration,
    pub(crate) skip_middlewares: bool,
    pub(crate) max_log_bytes: usize,
}

impl Default for ConnectionStateRecovery {
    fn default() -> Self {
        Self {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_log_bytes: 64 << 20,
        }
    }
}

impl ConnectionStateRecovery {
    /// Sets `maxDisconnectionDuration`: how long a session and the packets
    /// it may miss are kept after a disconnection (default 2 minutes).
    pub fn max_disconnection_duration(mut self, duration: Duration) -> Self {
        self.max_disconnection_duration = duration;
        self
    }

    /// Sets `skipMiddlewares`: whether a recovered socket skips the connect
    /// middlewares (default true).
    pub fn skip_middlewares(mut self, skip: bool) -> Self {
        self.skip_middlewares = skip;
        self
    }

    /// Sets how many bytes the in-memory adapter may hold per namespace for
    /// recovery, the packet log and the disconnected sessions together
    /// (default 64 MiB; not an option of the reference, whose log is bounded
    /// by time only).
    ///
    /// At the cap, the oldest packets leave the log to make room: a client
    /// that missed one of them is refused recovery and gets a fresh
    /// session (`recovered` false), as for an offset too old. A session
    /// that does not fit is not kept. Memory never grows past the cap.
    pub fn max_log_bytes(mut self, bytes: usize) -> Self {
        self.max_log_bytes = bytes;
        self
    }

    /// The `maxDisconnectionDuration` set.
    #[must_use]
    pub fn get_max_disconnection_duration(&self) -> Duration {
        self.max_disconnection_duration
    }

    /// The byte cap set.
    #[must_use]
    pub fn get_max_log_bytes(&self) -> usize {
        self.max_log_bytes
    }
}

/// What connection state recovery has done, for metrics
/// ([`Server::recovery_stats`](crate::Server::recovery_stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryStats {
    /// Reconnections (a CONNECT carrying a `pid`) that got their session back.
    pub recovered: u64,
    /// Reconnections that could not (expired, unknown, offset too old or
    /// lost to the byte cap): they got a fresh session.
    pub unrecovered: u64,
    /// Packets in the logs of every namespace.
    pub log_entries: usize,
    /// Disconnected sessions kept for recovery.
    pub sessions: usize,
    /// Bytes the logs and sessions hold (as counted against the cap).
    pub log_bytes: usize,
}

/// The size of one adapter's recovery store, as
/// [`Adapter::recovery_log_size`](crate::adapter::Adapter::recovery_log_size)
/// reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryLogSize {
    /// Packets in the log.
    pub entries: usize,
    /// Disconnected sessions kept.
    pub sessions: usize,
    /// Bytes held, as counted against the cap.
    pub bytes: usize,
}

impl RecoveryLogSize {
    /// A size.
    #[must_use]
    pub fn new(entries: usize, sessions: usize, bytes: usize) -> Self {
        Self {
            entries,
            sessions,
            bytes,
        }
    }
}

/// The server's reconnection counters.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) recovered: AtomicU64,
    pub(crate) unrecovered: AtomicU64,
}

impl Counters {
    pub(crate) fn count(&self, recovered: bool) {
        let counter = if recovered {
            &self.recovered
        } else {
            &self.unrecovered
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counters")
            .field("recovered", &self.recovered.load(Ordering::Relaxed))
            .field("unrecovered", &self.unrecovered.load(Ordering::Relaxed))
            .finish()
    }
}

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::{CloseReason, Transport};

const REASONS: [CloseReason; 6] = [
    CloseReason::TransportClose,
    CloseReason::TransportError,
    CloseReason::PingTimeout,
    CloseReason::ForcedClose,
    CloseReason::ServerShuttingDown,
    CloseReason::ParseError,
];

/// The engine's running counters; cheap relaxed increments on the hot path.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    handshakes: [AtomicU64; 2],
    upgrades: AtomicU64,
    opened: [AtomicU64; 2],
    closed: [AtomicU64; 2],
    packets_in: AtomicU64,
    packets_out: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    closes: [AtomicU64; REASONS.len()],
}

fn slot(transport: Transport) -> usize {
    // Transport is non-exhaustive: polling counts every other one.
    match transport {
        Transport::WebSocket => 1,
        _ => 0,
    }
}

impl Counters {
    pub(crate) fn opened(&self, transport: Transport) {
        self.handshakes[slot(transport)].fetch_add(1, Relaxed);
        self.opened[slot(transport)].fetch_add(1, Relaxed);
    }

    pub(crate) fn upgraded(&self) {
        self.upgrades.fetch_add(1, Relaxed);
        self.closed[slot(Transport::Polling)].fetch_add(1, Relaxed);
        self.opened[slot(Transport::WebSocket)].fetch_add(1, Relaxed);
    }

    pub(crate) fn closed(&self, transport: Transport, reason: CloseReason) {
        self.closed[slot(transport)].fetch_add(1, Relaxed);
        if let Some(i) = REASONS.iter().position(|r| *r == reason) {
            self.closes[i].fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn received(&self, bytes: usize) {
        self.packets_in.fetch_add(1, Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Relaxed);
    }

    pub(crate) fn sent(&self, bytes: usize) {
        self.packets_out.fetch_add(1, Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let open = |t| {
            let i = slot(t);
            self.opened[i]
                .load(Relaxed)
                .saturating_sub(self.closed[i].load(Relaxed))
        };
        Stats {
            handshakes_polling: self.handshakes[0].load(Relaxed),
            handshakes_websocket: self.handshakes[1].load(Relaxed),
            upgrades: self.upgrades.load(Relaxed),
            open_polling: open(Transport::Polling),
            open_websocket: open(Transport::WebSocket),
            packets_in: self.packets_in.load(Relaxed),
            packets_out: self.packets_out.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            closes: REASONS
                .iter()
                .zip(&self.closes)
                .map(|(r, n)| (*r, n.load(Relaxed)))
                .collect(),
        }
    }
}

/// What an engine has done so far: a snapshot of its counters, for metrics.
///
/// ```
/// # fn f<H: rally_engine::Handler>(engine: &rally_engine::EngineIo<H>) {
/// let stats = engine.stats();
/// println!("{} open over WebSocket, {} bytes in", stats.open_websocket, stats.bytes_in);
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Sessions opened over polling.
    pub handshakes_polling: u64,
    /// Sessions opened directly over WebSocket.
    pub handshakes_websocket: u64,
    /// Polling sessions upgraded to WebSocket.
    pub upgrades: u64,
    /// Sessions open on polling now.
    pub open_polling: u64,
    /// Sessions open on WebSocket now.
    pub open_websocket: u64,
    /// Messages received from clients.
    pub packets_in: u64,
    /// Frames queued for clients.
    pub packets_out: u64,
    /// Bytes of the messages received.
    pub bytes_in: u64,
    /// Bytes of the frames queued.
    pub bytes_out: u64,
    /// Sessions ended, by reason.
    pub closes: Vec<(CloseReason, u64)>,
}

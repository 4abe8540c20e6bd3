//! `GET /metrics`: the server's figures in the Prometheus text format.
//!
//! A scrape reads local state only: the engine's counters, the namespaces
//! and sockets of this node, the recovery log, the health of the cluster
//! adapter's connection (Redis or Postgres). The cluster-wide figures (nodes, rooms on every node) are read
//! from the cluster in the background (cluster.rs), and a scrape shows them
//! as last read, with their age.

mod cluster;
mod text;

use rally::{Server, Stats, tls::Tls};
use rally_postgres::PostgresAdapter;
use rally_redis::RedisAdapter;

use self::{
    cluster::ClusterGauges,
    text::{Exposition, Kind},
};

/// A node's link to its cluster.
#[derive(Debug, Clone)]
pub(crate) enum ClusterLink {
    Redis(RedisAdapter),
    Postgres(PostgresAdapter),
}

impl ClusterLink {
    /// Waits until what was queued for the other nodes went out.
    pub(crate) async fn flush(&self) {
        match self {
            ClusterLink::Redis(redis) => redis.flush().await,
            ClusterLink::Postgres(pg) => pg.flush().await,
        }
    }

    fn is_down(&self) -> bool {
        match self {
            ClusterLink::Redis(redis) => redis.is_down(),
            ClusterLink::Postgres(pg) => pg.is_down(),
        }
    }

    fn outages(&self) -> u64 {
        match self {
            ClusterLink::Redis(redis) => redis.outages(),
            ClusterLink::Postgres(pg) => pg.outages(),
        }
    }

    fn dropped(&self) -> u64 {
        match self {
            ClusterLink::Redis(redis) => redis.dropped(),
            ClusterLink::Postgres(pg) => pg.dropped(),
        }
    }
}

/// What `/metrics` shows: this server's figures and, on a cluster, those of
/// its adapter.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    io: Server,
    cluster: Option<(ClusterLink, ClusterGauges)>,
    /// The TLS settings, when the server terminates TLS.
    tls: Option<Tls>,
}

impl Metrics {
    /// The metrics of `io`; on the cluster of `link`, the cluster-wide
    /// figures start being read in the background (on the current runtime);
    /// with `tls`, its handshake failures are shown.
    pub(crate) fn new(io: Server, link: Option<ClusterLink>, tls: Option<Tls>) -> Self {
        let cluster = link.map(|link| (link, ClusterGauges::spawn(io.clone())));
        Self { io, cluster, tls }
    }

    /// The exposition text, from local state only.
    pub(crate) async fn render(&self) -> String {
        let mut text = Exposition::default();
        let stats = self.io.engine_stats();
        connections(&mut text, &stats);
        self.sockets(&mut text).await;
        traffic(&mut text, &stats);
        if let Some(tls) = &self.tls {
            text.single(
                "rally_tls_handshake_failures_total",
                Kind::Counter,
                "Connections that ended before completing their TLS handshake.",
                tls.handshake_failures(),
            );
        }
        if let Some((link, gauges)) = &self.cluster {
            cluster(&mut text, link, gauges);
        }
        self.recovery(&mut text);
        if let Some(stats) = self.io.forward_stats() {
            forwarding(&mut text, &stats);
        }
        text.finish()
    }

    /// Namespaces, sockets and rooms. Without a cluster the rooms are this
    /// node's, counted now (the in-memory adapter answers at once); on a
    /// cluster they are every node's, as last read.
    async fn sockets(&self, text: &mut Exposition) {
        let namespaces = self.io.namespaces();
        let sockets: usize = namespaces.iter().map(|ns| ns.sockets().len()).sum();
        let rooms = match &self.cluster {
            Some((_, gauges)) => gauges.snapshot().rooms,
            None => {
                let mut rooms = 0;
                for ns in &namespaces {
                    rooms += cluster::app_rooms(&ns.adapter().rooms().await.unwrap_or_default());
                }
                rooms
            }
        };
        text.single(
            "rally_namespaces",
            Kind::Gauge,
            "Namespaces.",
            namespaces.len(),
        );
        text.single(
            "rally_sockets",
            Kind::Gauge,
            "Sockets connected, over all namespaces.",
            sockets,
        );
        text.single(
            "rally_rooms",
            Kind::Gauge,
            "Rooms with at least one member, on every node of a cluster (sockets' own rooms left out).",
            rooms,
        );
    }

    /// Connection state recovery.
    fn recovery(&self, text: &mut Exposition) {
        let recovery = self.io.recovery_stats();
        text.family(
            "rally_reconnections_total",
            Kind::Counter,
            "Reconnections asking for connection state recovery, by outcome.",
            [
                ("recovered=\"true\"", recovery.recovered),
                ("recovered=\"false\"", recovery.unrecovered),
            ],
        );
        text.single(
            "rally_recovery_log_packets",
            Kind::Gauge,
            "Packets kept for connection state recovery.",
            recovery.log_entries,
        );
        text.single(
            "rally_recovery_sessions",
            Kind::Gauge,
            "Disconnected sessions kept for connection state recovery.",
            recovery.sessions,
        );
        text.single(
            "rally_recovery_log_bytes",
            Kind::Gauge,
            "Bytes kept for connection state recovery (packets and sessions).",
            recovery.log_bytes,
        );
    }
}

/// The cluster: its nodes as last read, and the health of the adapter's
/// connection (to Redis or Postgres).
fn cluster(text: &mut Exposition, link: &ClusterLink, gauges: &ClusterGauges) {
    let last = gauges.snapshot();
    text.single(
        "rally_cluster_nodes",
        Kind::Gauge,
        "Nodes of the cluster (this one included), as Redis counts them (Postgres: by heartbeats).",
        last.nodes,
    );
    text.single(
        "rally_cluster_read_age_seconds",
        Kind::Gauge,
        "Seconds since rally_cluster_nodes and rally_rooms were read from the cluster \
         (read in the background every few seconds; since the start until the first read).",
        format!("{:.3}", last.read_at.elapsed().as_secs_f64()),
    );
    text.single(
        "rally_cluster_read_failures_total",
        Kind::Counter,
        "Background reads of the cluster-wide figures that failed or timed out.",
        last.failures,
    );
    text.single(
        "rally_adapter_up",
        Kind::Gauge,
        "Whether the connection to Redis (or Postgres) is up.",
        u8::from(!link.is_down()),
    );
    text.single(
        "rally_adapter_outages_total",
        Kind::Counter,
        "Times the connection to Redis (or Postgres) was lost.",
        link.outages(),
    );
    text.single(
        "rally_adapter_dropped_total",
        Kind::Counter,
        "Messages for other nodes lost while Redis (or Postgres) was unreachable.",
        link.dropped(),
    );
}

/// Connections, handshakes and upgrades.
fn connections(text: &mut Exposition, stats: &Stats) {
    text.family(
        "rally_connections",
        Kind::Gauge,
        "Open connections by transport.",
        [
            ("transport=\"polling\"", stats.open_polling),
            ("transport=\"websocket\"", stats.open_websocket),
        ],
    );
    text.family(
        "rally_handshakes_total",
        Kind::Counter,
        "Connections opened, by the transport they started on.",
        [
            ("transport=\"polling\"", stats.handshakes_polling),
            ("transport=\"websocket\"", stats.handshakes_websocket),
        ],
    );
    text.single(
        "rally_upgrades_total",
        Kind::Counter,
        "Polling connections upgraded to WebSocket.",
        stats.upgrades,
    );
}

/// Packets, bytes and disconnections.
fn traffic(text: &mut Exposition, stats: &Stats) {
    text.family(
        "rally_packets_total",
        Kind::Counter,
        "Engine.IO packets received from and queued for clients.",
        [
            ("direction=\"in\"", stats.packets_in),
            ("direction=\"out\"", stats.packets_out),
        ],
    );
    text.family(
        "rally_bytes_total",
        Kind::Counter,
        "Bytes received from and queued for clients.",
        [
            ("direction=\"in\"", stats.bytes_in),
            ("direction=\"out\"", stats.bytes_out),
        ],
    );
    text.family(
        "rally_disconnections_total",
        Kind::Counter,
        "Connections closed, by reason.",
        stats
            .closes
            .iter()
            .map(|(reason, n)| (format!("reason=\"{}\"", reason.as_str()), *n)),
    );
}

/// Session forwarding (`--forward-sessions`).
fn forwarding(text: &mut Exposition, stats: &rally::ForwardStats) {
    text.family(
        "rally_forwarded_requests_total",
        Kind::Counter,
        "Polling requests of other nodes' sessions sent to their node, by kind.",
        [
            ("kind=\"poll\"", stats.polls),
            ("kind=\"post\"", stats.posts),
        ],
    );
    text.single(
        "rally_forward_relays_total",
        Kind::Counter,
        "WebSockets of other nodes' sessions relayed to their node (upgrades of a session held elsewhere).",
        stats.relays,
    );
    text.single(
        "rally_forward_served_total",
        Kind::Counter,
        "Requests (and relayed WebSockets) served for other nodes.",
        stats.served,
    );
    text.single(
        "rally_forward_failures_total",
        Kind::Counter,
        "Forwarded requests that got no reply from their node (timeout, node gone, bounds).",
        stats.failed,
    );
    text.single(
        "rally_forward_refused_total",
        Kind::Counter,
        "Requests for sessions of no live node, refused without forwarding.",
        stats.refused,
    );
    text.single(
        "rally_forward_latency_seconds_sum",
        Kind::Counter,
        "Sum of the round trips of answered forwarded requests (held polls included).",
        format_args!("{:.6}", stats.latency_micros as f64 / 1e6),
    );
    text.single(
        "rally_forward_latency_seconds_count",
        Kind::Counter,
        "Answered forwarded requests.",
        stats.answered,
    );
}

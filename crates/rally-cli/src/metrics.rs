//! `GET /metrics`: Prometheus text.

use std::fmt::Write;

use rally::{Server, Sid};
use rally_redis::RedisAdapter;

/// The server's figures in the Prometheus text format (and, on a cluster,
/// those of its Redis adapter).
pub(crate) async fn render(io: &Server, redis: Option<&RedisAdapter>) -> String {
    let stats = io.engine_stats();
    let namespaces = io.namespaces();
    let mut rooms = 0;
    let mut sockets = 0;
    for ns in &namespaces {
        sockets += ns.sockets().len();
        // A socket's own room is not counted as a room of the application
        // (on a cluster, other nodes' sockets are known by their id's shape
        // only).
        rooms += ns
            .adapter()
            .rooms()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|room| Sid::parse(room).is_none())
            .count();
    }
    let mut out = String::with_capacity(2048);
    let mut metric = |name: &str, kind: &str, help: &str, values: &[(&str, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in values {
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {value}");
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        }
    };
    metric(
        "rally_connections",
        "gauge",
        "Open connections by transport.",
        &[
            ("transport=\"polling\"", stats.open_polling),
            ("transport=\"websocket\"", stats.open_websocket),
        ],
    );
    metric(
        "rally_handshakes_total",
        "counter",
        "Connections opened, by the transport they started on.",
        &[
            ("transport=\"polling\"", stats.handshakes_polling),
            ("transport=\"websocket\"", stats.handshakes_websocket),
        ],
    );
    metric(
        "rally_upgrades_total",
        "counter",
        "Polling connections upgraded to WebSocket.",
        &[("", stats.upgrades)],
    );
    metric(
        "rally_namespaces",
        "gauge",
        "Namespaces.",
        &[("", namespaces.len() as u64)],
    );
    metric(
        "rally_sockets",
        "gauge",
        "Sockets connected, over all namespaces.",
        &[("", sockets as u64)],
    );
    metric(
        "rally_rooms",
        "gauge",
        "Rooms with at least one member, on every node of a cluster (sockets' own rooms left out).",
        &[("", rooms as u64)],
    );
    metric(
        "rally_packets_total",
        "counter",
        "Engine.IO packets received from and queued for clients.",
        &[
            ("direction=\"in\"", stats.packets_in),
            ("direction=\"out\"", stats.packets_out),
        ],
    );
    metric(
        "rally_bytes_total",
        "counter",
        "Bytes received from and queued for clients.",
        &[
            ("direction=\"in\"", stats.bytes_in),
            ("direction=\"out\"", stats.bytes_out),
        ],
    );
    let labels: Vec<(String, u64)> = stats
        .closes
        .iter()
        .map(|(reason, n)| (format!("reason=\"{}\"", reason.as_str()), *n))
        .collect();
    let labels: Vec<(&str, u64)> = labels.iter().map(|(l, n)| (l.as_str(), *n)).collect();
    metric(
        "rally_disconnections_total",
        "counter",
        "Connections closed, by reason.",
        &labels,
    );
    if let Some(redis) = redis {
        let nodes = io.of("/").adapter().server_count().await;
        metric(
            "rally_cluster_nodes",
            "gauge",
            "Nodes of the cluster (this one included), as Redis counts them.",
            &[("", nodes as u64)],
        );
        metric(
            "rally_adapter_up",
            "gauge",
            "Whether the connection to Redis is up.",
            &[("", u64::from(!redis.is_down()))],
        );
        metric(
            "rally_adapter_outages_total",
            "counter",
            "Times the connection to Redis was lost.",
            &[("", redis.outages())],
        );
        metric(
            "rally_adapter_dropped_total",
            "counter",
            "Messages for other nodes lost while Redis was unreachable.",
            &[("", redis.dropped())],
        );
    }
    let recovery = io.recovery_stats();
    metric(
        "rally_reconnections_total",
        "counter",
        "Reconnections asking for connection state recovery, by outcome.",
        &[
            ("recovered=\"true\"", recovery.recovered),
            ("recovered=\"false\"", recovery.unrecovered),
        ],
    );
    metric(
        "rally_recovery_log_packets",
        "gauge",
        "Packets kept for connection state recovery.",
        &[("", recovery.log_entries as u64)],
    );
    metric(
        "rally_recovery_sessions",
        "gauge",
        "Disconnected sessions kept for connection state recovery.",
        &[("", recovery.sessions as u64)],
    );
    metric(
        "rally_recovery_log_bytes",
        "gauge",
        "Bytes kept for connection state recovery (packets and sessions).",
        &[("", recovery.log_bytes as u64)],
    );
    out
}

//! `server_stats`: this node's figures, sent to every UI of the cluster at
//! a steady pace.
//!
//! The aggregated events (connections, disconnections by reason, packets
//! and bytes in and out) are the changes of the Engine.IO counters since
//! the last report, so gathering them costs nothing per packet.

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use serde_json::{Value, json};

use crate::{Args, Namespace, Server, Stats};

/// What does not change between reports.
pub(super) struct Identity {
    pub(super) server_id: String,
    pub(super) hostname: String,
}

impl Identity {
    /// The server's id (`server_id`, else the host name).
    pub(super) fn new(server_id: Option<String>) -> Self {
        let hostname = hostname();
        Self {
            server_id: server_id.unwrap_or_else(|| hostname.clone()),
            hostname,
        }
    }
}

/// Sends `server_stats` every `every`, the first at once, for as long as
/// the runtime runs.
pub(super) async fn report(io: Server, admin: Arc<Namespace>, identity: Identity, every: Duration) {
    let started = Instant::now();
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = Stats::default();
    loop {
        ticker.tick().await;
        let now = io.engine_stats();
        let stats = figures(&io, &identity, started, &last, &now);
        last = now;
        let _ = admin.emit("server_stats", Args::raw_json(&stats.to_string()));
    }
}

/// One report.
fn figures(io: &Server, identity: &Identity, started: Instant, last: &Stats, now: &Stats) -> Value {
    let mut namespaces: Vec<Value> = io
        .namespaces()
        .iter()
        .map(|ns| json!({ "name": ns.name(), "socketsCount": ns.socket_count() }))
        .collect();
    namespaces.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    json!({
        "serverId": identity.server_id,
        "hostname": identity.hostname,
        "pid": std::process::id(),
        "uptime": started.elapsed().as_secs_f64(),
        "clientsCount": io.connection_count(),
        "pollingClientsCount": now.open_polling,
        "aggregatedEvents": aggregated(last, now, SystemTime::now()),
        "namespaces": namespaces,
    })
}

/// The events since `last`, counted in the second of `at` (as the
/// reference buckets them: `timestamp` in milliseconds, a whole second).
fn aggregated(last: &Stats, now: &Stats, at: SystemTime) -> Vec<Value> {
    let second = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() * 1000)
        .unwrap_or_default();
    let mut events = Vec::new();
    let mut push = |kind: &str, sub: Option<&str>, count: u64| {
        if count > 0 {
            let mut event = json!({ "timestamp": second, "type": kind, "count": count });
            if let Some(sub) = sub {
                event["subType"] = json!(sub);
            }
            events.push(event);
        }
    };
    let handshakes = |s: &Stats| s.handshakes_polling + s.handshakes_websocket;
    push(
        "rawConnection",
        None,
        handshakes(now).saturating_sub(handshakes(last)),
    );
    for (reason, count) in &now.closes {
        let before = last
            .closes
            .iter()
            .find(|(r, _)| r == reason)
            .map_or(0, |(_, n)| *n);
        push(
            "rawDisconnection",
            Some(reason.as_str()),
            count.saturating_sub(before),
        );
    }
    push(
        "packetsIn",
        None,
        now.packets_in.saturating_sub(last.packets_in),
    );
    push(
        "packetsOut",
        None,
        now.packets_out.saturating_sub(last.packets_out),
    );
    push("bytesIn", None, now.bytes_in.saturating_sub(last.bytes_in));
    push(
        "bytesOut",
        None,
        now.bytes_out.saturating_sub(last.bytes_out),
    );
    events
}

/// The machine's host name, as Node's `os.hostname()`.
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|file| {
            let name = std::fs::read_to_string(file).ok()?;
            let name = name.trim();
            (!name.is_empty()).then(|| name.to_owned())
        })
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|n| !n.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn aggregated_events_are_the_changes_in_one_second() {
        let mut last = Stats::default();
        last.handshakes_polling = 1;
        last.packets_in = 10;
        let mut now = Stats::default();
        now.handshakes_polling = 2;
        now.handshakes_websocket = 1;
        now.packets_in = 15;
        now.bytes_out = 7;
        now.closes = vec![(crate::CloseReason::TransportClose, 2)];
        let at = UNIX_EPOCH + Duration::from_millis(5_250);
        let events = aggregated(&last, &now, at);
        assert_eq!(
            events,
            [
                json!({"timestamp": 5000, "type": "rawConnection", "count": 2}),
                json!({"timestamp": 5000, "type": "rawDisconnection", "subType": "transport close", "count": 2}),
                json!({"timestamp": 5000, "type": "packetsIn", "count": 5}),
                json!({"timestamp": 5000, "type": "bytesOut", "count": 7}),
            ]
        );
        assert!(aggregated(&now, &now, at).is_empty());
    }
}

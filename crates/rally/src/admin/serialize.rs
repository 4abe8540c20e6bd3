//! Sockets and times in the shapes the Admin UI reads.

use std::time::SystemTime;

use serde_json::{Map, Value, json};

use crate::{RemoteSocket, Socket};

/// The key of the socket data under which the reference keeps what the UI
/// shows of a socket's connection (its client id and transport), so that
/// other nodes of a cluster can tell it too.
const ADMIN_KEY: &str = "_admin";

/// `socket`'s data as `fetch_sockets` describes it (to this node or
/// another): the application's data; while the Admin UI watches in
/// development mode, with the connection's client id and transport under
/// `_admin` when the data is an object (or unset), as the reference keeps
/// them.
pub(crate) fn described_data(socket: &Socket) -> Value {
    let data = socket.raw_data();
    if socket.client.server().admin_hooks().is_none() {
        return data;
    }
    let fields = match data {
        Value::Object(fields) => fields,
        Value::Null => Map::new(),
        other => return other,
    };
    let mut fields = fields;
    fields.insert(
        ADMIN_KEY.to_owned(),
        json!({ "clientId": client_id(socket), "transport": transport(socket) }),
    );
    Value::Object(fields)
}

/// A socket of this node, as `socket_connected` sends it.
pub(crate) fn local(socket: &Socket) -> Value {
    json!({
        "id": socket.id().as_str(),
        "clientId": client_id(socket),
        "transport": transport(socket),
        "nsp": socket.ns().name(),
        "data": without_admin(socket.raw_data()),
        "handshake": handshake(&crate::operators::handshake_json(socket)),
        "rooms": socket.rooms().iter().map(|r| &**r).collect::<Vec<_>>(),
    })
}

/// A socket found by `fetch_sockets`, on this node or another (a Rally
/// node or a Node.js one), as `all_sockets` lists it.
pub(crate) fn found(socket: &RemoteSocket, nsp: &str) -> Value {
    let data: Value = socket.data().unwrap_or(Value::Null);
    let admin = data.get(ADMIN_KEY);
    let field = |name: &str| admin.and_then(|a| a.get(name)).cloned();
    json!({
        "id": socket.id().as_str(),
        "clientId": field("clientId"),
        "transport": field("transport"),
        "nsp": nsp,
        "data": without_admin(data.clone()),
        "handshake": handshake(socket.handshake()),
        "rooms": socket.rooms().iter().map(|r| &**r).collect::<Vec<_>>(),
    })
}

/// The first 12 characters of the connection's id, as the reference shows
/// it.
pub(crate) fn client_id(socket: &Socket) -> String {
    socket.client.sid().as_str().chars().take(12).collect()
}

/// The name of the socket's transport now (`polling`, `websocket`).
pub(crate) fn transport(socket: &Socket) -> Option<&'static str> {
    socket.transport().map(|t| t.as_str())
}

/// The data without the reference's `_admin` entry.
pub(crate) fn without_admin(data: Value) -> Value {
    match data {
        Value::Object(mut fields) => {
            fields.remove(ADMIN_KEY);
            Value::Object(fields)
        }
        Value::Null => Value::Object(Map::new()),
        other => other,
    }
}

/// The handshake fields the reference shows: never the auth payload (the
/// UI's own credentials travel in it). The address is the proxy's client
/// address when a proxy tells it.
fn handshake(h: &Value) -> Value {
    let headers = h.get("headers").cloned().unwrap_or_else(|| json!({}));
    let forwarded = ["cf-connecting-ip", "x-forwarded-for"]
        .iter()
        .find_map(|name| headers.get(*name).filter(|v| v.is_string()).cloned());
    let field = |name: &str| h.get(name).cloned().unwrap_or(Value::Null);
    json!({
        "address": forwarded.unwrap_or_else(|| field("address")),
        "headers": headers,
        "query": field("query"),
        "issued": field("issued"),
        "secure": field("secure"),
        "time": field("time"),
        "url": field("url"),
        "xdomain": field("xdomain"),
    })
}

/// `t` as JavaScript's `Date` serializes to JSON
/// (`2026-01-02T03:04:05.678Z`).
pub(crate) fn date(t: SystemTime) -> String {
    let millis = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_millis())
        .unwrap_or_default();
    let seconds = crate::operators::httpdate(t);
    format!("{}.{millis:03}Z", seconds.trim_end_matches('Z'))
}

/// Now, as [`date`] writes it.
pub(crate) fn now() -> String {
    date(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::json;

    use super::*;

    #[test]
    fn dates_are_javascript_json_dates() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_042);
        assert_eq!(date(t), "2023-11-14T22:13:20.042Z");
    }

    #[test]
    fn the_admin_entry_is_hidden_and_auth_never_shown() {
        assert_eq!(
            without_admin(json!({"_admin": {"clientId": "x"}, "name": "a"})),
            json!({"name": "a"})
        );
        assert_eq!(without_admin(Value::Null), json!({}));
        let shown = handshake(&json!({
            "headers": {"x-forwarded-for": "10.0.0.1"},
            "address": "127.0.0.1",
            "auth": {"password": "secret"},
            "url": "/socket.io/?EIO=4",
        }));
        assert_eq!(shown["address"], "10.0.0.1");
        assert!(shown.get("auth").is_none());
        assert_eq!(shown["url"], "/socket.io/?EIO=4");
    }
}

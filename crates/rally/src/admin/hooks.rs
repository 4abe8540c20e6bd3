//! Development mode: what happens to sockets and rooms, told to the Admin
//! UI as it happens.
//!
//! The server calls these hooks only once they are set (one `OnceLock`
//! read per connection, disconnection, upgrade and `set_data`); events are
//! watched through each socket's own catch-alls, so a server without the
//! Admin UI, or in production mode, does no work per event for it.

use std::sync::{Arc, Weak};

use serde_json::json;

use super::serialize;
use crate::{Args, DisconnectReason, Namespace, Socket, adapter::RoomEvent};

/// The hooks of development mode, kept by the server.
pub(crate) struct Hooks {
    admin: Weak<Namespace>,
}

impl Hooks {
    pub(super) fn new(admin: &Arc<Namespace>) -> Self {
        Self {
            admin: Arc::downgrade(admin),
        }
    }

    /// A socket joined its namespace (its own room joined, its connection
    /// handlers not run yet): `socket_connected`, and catch-alls for its
    /// events unless it is a UI.
    pub(crate) fn connected(&self, socket: &Arc<Socket>) {
        let args = [
            serialize::local(socket).to_string(),
            json!(serialize::now()).to_string(),
        ]
        .join(",");
        emit(&self.admin, "socket_connected", &args, 2);
        if self
            .admin
            .upgrade()
            .is_some_and(|admin| Arc::ptr_eq(&admin, socket.ns()))
        {
            return;
        }
        let admin = self.admin.clone();
        socket.on_any(move |socket, event| {
            let mut list = json!(event.name()).to_string();
            for arg in event.raw_args() {
                list.push(',');
                list.push_str(arg);
            }
            event_args(&admin, "event_received", &socket, &list);
            std::future::ready(())
        });
        let admin = self.admin.clone();
        socket.on_any_outgoing(move |socket, event, args| {
            let mut list = json!(event).to_string();
            if !args.is_empty() {
                list.push(',');
                list.push_str(args.json());
            }
            event_args(&admin, "event_sent", socket, &list);
        });
    }

    /// A socket left its namespace: `socket_disconnected`.
    pub(crate) fn disconnected(&self, socket: &Socket, reason: DisconnectReason) {
        let args = json!([
            socket.ns().name(),
            socket.id().as_str(),
            reason.as_str(),
            serialize::now()
        ]);
        self.emit_array("socket_disconnected", &args);
    }

    /// A socket's connection moved to WebSocket: `socket_updated`.
    pub(crate) fn upgraded(&self, socket: &Socket) {
        let update = json!([{
            "id": socket.id().as_str(),
            "nsp": socket.ns().name(),
            "transport": serialize::transport(socket),
        }]);
        self.emit_array("socket_updated", &update);
    }

    /// A socket's data was set: `socket_updated`.
    pub(crate) fn data_changed(&self, socket: &Socket) {
        let update = json!([{
            "id": socket.id().as_str(),
            "nsp": socket.ns().name(),
            "data": serialize::without_admin(socket.raw_data()),
        }]);
        self.emit_array("socket_updated", &update);
    }

    /// Tells the UI of the room changes of `ns` on this node from now on:
    /// `room_joined`, `room_left`.
    pub(crate) fn watch(&self, ns: &Namespace) {
        let admin = self.admin.clone();
        let name = ns.name().to_owned();
        ns.on_room_event(move |event| {
            let (event, room, id) = match event {
                RoomEvent::JoinRoom(room, id) => ("room_joined", room, id),
                RoomEvent::LeaveRoom(room, id) => ("room_left", room, id),
                _ => return,
            };
            let args = json!([name, &**room, id.as_str(), serialize::now()]);
            emit_array(&admin, event, &args);
        });
    }

    /// Sends `event` with the items of the JSON array `args`.
    fn emit_array(&self, event: &str, args: &serde_json::Value) {
        emit_array(&self.admin, event, args);
    }
}

/// Sends `event` with `args` (raw JSON, `count` values) to every UI of the
/// cluster.
fn emit(admin: &Weak<Namespace>, event: &str, args: &str, count: usize) {
    if let Some(admin) = admin.upgrade() {
        let _ = admin.emit(event, Args::raw_relay(args, count, Vec::new()));
    }
}

/// Sends `event` with the items of the JSON array `args`.
fn emit_array(admin: &Weak<Namespace>, event: &str, args: &serde_json::Value) {
    let items = args.as_array().map_or(&[][..], Vec::as_slice);
    let text: Vec<String> = items.iter().map(ToString::to_string).collect();
    emit(admin, event, &text.join(","), items.len());
}

/// `event_received` or `event_sent` for `socket`: its namespace, its id,
/// the event (`list`: the name then the arguments, as JSON without the
/// brackets) and the time.
fn event_args(admin: &Weak<Namespace>, event: &str, socket: &Socket, list: &str) {
    let args = format!(
        "{},{},[{list}],{}",
        json!(socket.ns().name()),
        json!(socket.id().as_str()),
        json!(serialize::now())
    );
    emit(admin, event, &args, 4);
}

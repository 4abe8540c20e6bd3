//! What reaches the adapter: stream entries, delivered in stream order, and
//! the requests other nodes send over pub/sub.

use rally::{
    Room,
    adapter::{Adapter, BroadcastOptions, BroadcastPacket},
};
use serde_json::Value;

use super::{
    MAX_HELD, RESTORE_WATCH, StreamsAdapter, includes,
    reader::{Entry, EntryId},
};
use crate::{
    serve,
    wire::{self, Incoming, cluster_kind as kind},
};

impl StreamsAdapter {
    pub(super) fn on_entry(&self, entry: &Entry) {
        let Some(from) = entry.field("uid") else {
            return;
        };
        let kind = entry.field("type").and_then(|t| t.parse::<i64>().ok());
        // This node's own broadcasts are delivered here too, in stream
        // order; its other operations were done when they were made.
        if from == self.uid && kind != Some(kind::BROADCAST) {
            return;
        }
        let Some(message) = entry.data() else {
            return;
        };
        let opts = wire::opts_from(message.get("opts"));
        match kind {
            Some(kind::BROADCAST) => {
                let Some(raw) = message.get("packet") else {
                    return;
                };
                let Some(mut packet) = self.packet_from(raw, &message.attachments) else {
                    return;
                };
                let with_ack = raw.get("id").is_some_and(|id| !id.is_null());
                let event = raw.get("type").and_then(Value::as_u64) == Some(2);
                if self.recovery.is_some() && event && !with_ack && !opts.volatile {
                    packet = packet.with_offset(&entry.id);
                }
                if let Some(id) = EntryId::parse(&entry.id) {
                    self.deliver(id, &packet, opts);
                }
            }
            Some(kind::SOCKETS_JOIN) => {
                self.local
                    .add_sockets(&opts, &wire::rooms_from(message.get("rooms")));
            }
            Some(kind::SOCKETS_LEAVE) => {
                self.local
                    .del_sockets(&opts, &wire::rooms_from(message.get("rooms")));
            }
            Some(kind::DISCONNECT_SOCKETS) => {
                let close = message
                    .get("close")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                self.local.disconnect_sockets(&opts, close);
            }
            _ => {}
        }
    }

    /// Delivers entry `id` to this node's sockets; a restored socket gets
    /// it from its replay, when it is admitted, or live, never twice.
    fn deliver(&self, id: EntryId, packet: &BroadcastPacket, mut opts: BroadcastOptions) {
        let mut restoring = self.restoring();
        if !restoring.is_empty() {
            let targeted = opts.clone();
            restoring.retain(|sid, socket| {
                if socket.upto.is_some_and(|upto| id <= upto) {
                    // In its replay already.
                    opts.except.push(Room::from(sid.as_str()));
                    return true;
                }
                if socket.admitted {
                    // The reader has passed its replay: it is like any other.
                    return false;
                }
                if includes(&socket.rooms, &targeted) {
                    if socket.held.len() < MAX_HELD {
                        socket.held.push((id, packet.clone()));
                    } else {
                        socket.held.clear();
                        socket.overflowed = true;
                    }
                }
                opts.except.push(Room::from(sid.as_str()));
                socket.at.elapsed() < RESTORE_WATCH
            });
        }
        // Under the lock: an admission never slips between two entries.
        self.local.broadcast(packet, &opts);
    }

    pub(super) fn on_message(&self, message: Incoming) {
        let Some(from) = message.str("uid").map(str::to_owned) else {
            return;
        };
        if from == self.uid || message.str("nsp").unwrap_or("/") != self.names().nsp {
            return;
        }
        let Some(data) = message.get("data") else {
            return;
        };
        let request_id = data
            .get("requestId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let kind = message.kind().and_then(|k| i64::try_from(k).ok());
        match kind {
            Some(kind::BROADCAST) => {
                let (Some(id), Some(packet)) = (request_id, data.get("packet")) else {
                    return;
                };
                let opts = wire::opts_from(data.get("opts"));
                self.on_broadcast_with_ack(&from, id, packet, &message, &opts);
            }
            Some(kind::FETCH_SOCKETS) => {
                if let (Some(id), Some(me)) = (request_id, self.me.upgrade()) {
                    let opts = wire::opts_from(data.get("opts"));
                    serve::answer_fetch_sockets(me, &self.local, opts, from, id);
                }
            }
            Some(kind::SERVER_SIDE_EMIT) => {
                if let (Some(ns), Some(me), Some(Value::Array(packet))) =
                    (self.ns.upgrade(), self.me.upgrade(), data.get("packet"))
                {
                    serve::answer_server_event(me, &ns, packet.clone(), from, request_id);
                }
            }
            Some(
                kind::FETCH_SOCKETS_RESPONSE
                | kind::SERVER_SIDE_EMIT_RESPONSE
                | kind::BROADCAST_CLIENT_COUNT
                | kind::BROADCAST_ACK,
            ) => self.pending.answer_response(message),
            _ => {}
        }
    }

    fn on_broadcast_with_ack(
        &self,
        from: &str,
        id: String,
        packet: &Value,
        message: &Incoming,
        opts: &BroadcastOptions,
    ) {
        let (Some(ns), Some(me)) = (self.ns.upgrade(), self.me.upgrade()) else {
            return;
        };
        let mut packet = packet.clone();
        if let Some(object) = packet.as_object_mut() {
            object.insert("nsp".to_owned(), Value::from(self.names().nsp.as_str()));
        }
        serve::answer_broadcast_with_ack(
            me,
            &self.local,
            &ns,
            &packet,
            ns.name(),
            &message.attachments,
            opts,
            from.to_owned(),
            id,
        );
    }
}

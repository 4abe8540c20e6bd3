//! What reaches the adapter from the stream: entries, delivered in stream
//! order (the requests other nodes send over pub/sub go to the cluster
//! core directly).

use rally::{
    Room,
    adapter::{Adapter, BroadcastOptions, BroadcastPacket},
};
use rally_cluster::wire::Incoming;
use serde_json::{Map, Value};

use super::{
    MAX_HELD, RESTORE_WATCH, StreamsAdapter, StreamsTransport, includes,
    reader::{Entry, EntryId},
};

/// Hands entry `entry` of the stream to the adapter of its namespace, as a
/// message of the cluster protocol whose offset is the entry's id.
pub(super) fn on_entry(node: &StreamsAdapter, entry: &Entry) {
    let (Some(uid), Some(nsp)) = (entry.field("uid"), entry.field("nsp")) else {
        return;
    };
    let Some(kind) = entry.field("type").and_then(|t| t.parse::<u64>().ok()) else {
        return;
    };
    let Some(data) = entry.data() else {
        return;
    };
    let mut message = Map::with_capacity(4);
    message.insert("type".to_owned(), Value::from(kind));
    message.insert("data".to_owned(), data.json);
    message.insert("uid".to_owned(), Value::from(uid));
    message.insert("nsp".to_owned(), Value::from(nsp));
    let message = Incoming {
        json: Value::Object(message),
        attachments: data.attachments,
    };
    node.on_message(message, Some(&entry.id));
}

impl StreamsTransport {
    /// Delivers entry `id` to this node's sockets; a restored socket gets
    /// it from its replay, when it is admitted, or live, never twice.
    pub(super) fn deliver_entry(
        &self,
        node: &StreamsAdapter,
        id: EntryId,
        packet: &BroadcastPacket,
        mut opts: BroadcastOptions,
    ) {
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
        node.local().broadcast(packet, &opts);
    }
}

//! Connection state recovery across nodes: a session given back, and what
//! its rooms missed, read from the stream.

use std::time::Instant;

use rally::{
    Room, Sid,
    adapter::{Adapter, BroadcastOptions, MissedPacket, RestoredSession},
};
use redis::Value as RedisValue;

use rally_cluster::wire;

use super::{
    MAX_RANGES, RANGE_COUNT, Restoring, SESSION_PREFIX, StreamsAdapter, StreamsTransport,
    decode_session, includes, packet_from,
    reader::{Entry, EntryId, entries},
};

impl StreamsTransport {
    pub(super) async fn restore(
        &self,
        node: &StreamsAdapter,
        pid: &str,
        offset: &str,
    ) -> Option<RestoredSession> {
        node.recovery()?;
        let from = EntryId::parse(offset)?;
        let mut manager = self.conn.manager();
        let (raw, found): (Option<String>, RedisValue) = redis::pipe()
            .cmd("GETDEL")
            .arg(format!("{SESSION_PREFIX}{pid}"))
            .cmd("XRANGE")
            .arg(self.hub.stream())
            .arg(offset)
            .arg(offset)
            .query_async(&mut manager)
            .await
            .map_err(|e| tracing::debug!(error = %e, "cannot restore a session"))
            .ok()?;
        if entries(found).is_empty() {
            // The offset left the stream: something may be lost.
            return None;
        }
        let session = decode_session(&raw?)?;
        let sid = session.sid;
        self.restoring().insert(
            sid,
            Restoring {
                rooms: session.rooms.clone(),
                at: Instant::now(),
                upto: None,
                admitted: false,
                held: Vec::new(),
                overflowed: false,
            },
        );
        let replay = self.missed(node, &session.rooms, offset, from).await;
        let mut restoring = self.restoring();
        let Some((missed, upto)) = replay else {
            restoring.remove(&sid);
            return None;
        };
        if let Some(socket) = restoring.get_mut(&sid) {
            socket.upto = Some(upto);
            socket.held.retain(|(id, _)| *id > upto);
        }
        drop(restoring);
        Some(RestoredSession::new(session, missed))
    }

    /// What a session in `rooms` missed after `offset`, in order, and the
    /// last entry read.
    async fn missed(
        &self,
        node: &StreamsAdapter,
        rooms: &[Room],
        offset: &str,
        mut last: EntryId,
    ) -> Option<(Vec<MissedPacket>, EntryId)> {
        let mut manager = self.conn.manager();
        let mut cursor = offset.to_owned();
        let mut missed = Vec::new();
        for _ in 0..MAX_RANGES {
            let reply: RedisValue = redis::cmd("XRANGE")
                .arg(self.hub.stream())
                .arg(format!("({cursor}"))
                .arg("+")
                .arg("COUNT")
                .arg(RANGE_COUNT)
                .query_async(&mut manager)
                .await
                .ok()?;
            let batch = entries(reply);
            if batch.is_empty() {
                break;
            }
            for entry in batch {
                last = EntryId::parse(&entry.id)?.max(last);
                if entry.field("nsp") == Some(node.nsp()) && entry.field("type") == Some("3") {
                    if let Some(packet) = missed_packet(node, &entry, rooms) {
                        missed.push(packet);
                    }
                }
                cursor = entry.id;
            }
        }
        Some((missed, last))
    }

    /// Admits a socket given back by [`restore`](Self::restore): it joins
    /// `rooms` and its session's rooms, and gets what came since its replay.
    /// False when `id` is not such a socket (it was not joined).
    pub(super) fn admit_restored(&self, node: &StreamsAdapter, id: Sid, rooms: &[Room]) -> bool {
        let mut restoring = self.restoring();
        let Some(socket) = restoring
            .get_mut(&id)
            .filter(|s| !s.admitted && s.upto.is_some())
        else {
            return false;
        };
        // A restored socket is admitted: it joins its rooms and gets what
        // came since its replay, before the reader's next entry.
        socket.admitted = true;
        let held = std::mem::take(&mut socket.held);
        let overflowed = socket.overflowed;
        let session_rooms = socket.rooms.clone();
        node.local().add_all(id, rooms);
        node.local().add_all(id, &session_rooms);
        if overflowed {
            drop(restoring);
            let socket = node.namespace().and_then(|ns| ns.get_socket(id));
            if let Some(socket) = socket {
                tracing::debug!(sid = %id.as_str(), "too much came before its admission");
                socket.disconnect(true);
            }
            return true;
        }
        let mut own = BroadcastOptions::default();
        own.rooms = vec![Room::from(id.as_str())];
        for (_, packet) in &held {
            node.local().broadcast(packet, &own);
        }
        true
    }
}

fn missed_packet(node: &StreamsAdapter, entry: &Entry, rooms: &[Room]) -> Option<MissedPacket> {
    let message = entry.data()?;
    let opts = wire::opts_from(message.get("opts"));
    if !includes(rooms, &opts) {
        return None;
    }
    let packet = packet_from(node, message.get("packet")?, &message.attachments)?;
    Some(packet.with_offset(&entry.id).to_missed())
}

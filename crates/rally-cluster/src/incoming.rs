//! What a node does with other nodes' messages: the cluster protocol's
//! dispatch, and the typed entry points a transport with a protocol of its
//! own (classic Redis) calls directly.

use bytes::Bytes;
use rally::{
    ServerEvent,
    adapter::{AckEvent, Adapter, BroadcastOptions},
};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::{
    Answer, ClusterAdapter, Response, Transport,
    wire::{self, Incoming, cluster_kind as kind},
};

impl<T: Transport> ClusterAdapter<T> {
    /// A message of the cluster protocol, `{type, data, uid, nsp}`, from
    /// another node (or this one's own broadcast coming back, for a
    /// transport that [echoes](Transport::echoes_broadcasts) them), with
    /// its position in the transport's log (`offset`) if it has one.
    pub fn on_message(&self, mut message: Incoming, offset: Option<&str>) {
        let Some(from) = message.str("uid").map(str::to_owned) else {
            return;
        };
        let Some(kind) = message.kind().and_then(|k| i64::try_from(k).ok()) else {
            return;
        };
        if message.str("nsp").unwrap_or("/") != self.nsp() {
            return;
        }
        if from == self.uid() && !(kind == kind::BROADCAST && self.transport().echoes_broadcasts())
        {
            return;
        }
        if self.on_heartbeat(&from, kind) {
            return;
        }
        let Some(data) = message.json.get_mut("data").map(Value::take) else {
            return;
        };
        let request_id = data
            .get("requestId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let opts = wire::opts_from(data.get("opts"));
        match kind {
            kind::BROADCAST => {
                let Some(packet) = data.get("packet") else {
                    return;
                };
                match request_id {
                    Some(id) => {
                        self.serve_broadcast_with_ack(
                            packet,
                            &message.attachments,
                            &opts,
                            from,
                            id,
                        );
                    }
                    None => self.deliver_broadcast(packet, &message.attachments, &opts, offset),
                }
            }
            kind::SOCKETS_JOIN => {
                self.local()
                    .add_sockets(&opts, &wire::rooms_from(data.get("rooms")));
            }
            kind::SOCKETS_LEAVE => {
                self.local()
                    .del_sockets(&opts, &wire::rooms_from(data.get("rooms")));
            }
            kind::DISCONNECT_SOCKETS => {
                let close = data.get("close").and_then(Value::as_bool).unwrap_or(false);
                self.local().disconnect_sockets(&opts, close);
            }
            kind::FETCH_SOCKETS => {
                if let Some(id) = request_id {
                    self.serve_fetch_sockets(opts, from, id);
                }
            }
            kind::SERVER_SIDE_EMIT => {
                if let Some(Value::Array(packet)) = data.get("packet") {
                    self.serve_server_side_emit(packet.clone(), from, request_id);
                }
            }
            kind::FETCH_SOCKETS_RESPONSE
            | kind::SERVER_SIDE_EMIT_RESPONSE
            | kind::BROADCAST_CLIENT_COUNT
            | kind::BROADCAST_ACK => {
                self.on_response(&from, kind, data, message.attachments);
            }
            _ => {}
        }
    }

    /// A response of the cluster protocol (type `kind`, its `data`) from
    /// node `from`, for one of this node's requests.
    fn on_response(&self, from: &str, kind: i64, mut data: Value, attachments: Vec<Bytes>) {
        let Some(id) = data
            .get("requestId")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return;
        };
        let answer = match kind {
            kind::FETCH_SOCKETS_RESPONSE => Answer::Sockets(
                data.get("sockets")
                    .and_then(Value::as_array)
                    .map(|s| s.iter().filter_map(wire::socket_from).collect())
                    .unwrap_or_default(),
            ),
            kind::SERVER_SIDE_EMIT_RESPONSE => {
                Answer::Value(data.get_mut("packet").map(Value::take).unwrap_or_default())
            }
            kind::BROADCAST_CLIENT_COUNT => Answer::ClientCount(
                data.get("clientCount")
                    .and_then(Value::as_u64)
                    .and_then(|n| usize::try_from(n).ok())
                    .unwrap_or(0),
            ),
            kind::BROADCAST_ACK => Answer::Ack(wire::ack_reply(data.get("packet"), attachments)),
            _ => return,
        };
        self.answer_from(&id, from, answer);
    }

    /// Delivers another node's broadcast (`packet` as the reference writes
    /// it) to this node's sockets; with connection state recovery on and an
    /// `offset`, a recoverable event carries it as its last argument.
    pub fn deliver_broadcast(
        &self,
        packet: &Value,
        attachments: &[Bytes],
        opts: &BroadcastOptions,
        offset: Option<&str>,
    ) {
        let Some(mut broadcast) = wire::packet_in(packet, attachments, self.nsp(), None) else {
            return;
        };
        if let Some(offset) = offset {
            let with_ack = packet.get("id").is_some_and(|id| !id.is_null());
            let event = packet.get("type").and_then(Value::as_u64) == Some(2);
            if self.recovery().is_some() && event && !with_ack && !opts.volatile {
                broadcast = broadcast.with_offset(offset);
            }
        }
        self.transport().deliver(self, &broadcast, opts, offset);
    }

    /// Describes this node's sockets that `opts` reaches to node `from`,
    /// which asked in request `request_id`.
    pub fn serve_fetch_sockets(&self, opts: BroadcastOptions, from: String, request_id: String) {
        let Some(me) = self.weak().upgrade() else {
            return;
        };
        let sockets = self.local().fetch_sockets(opts);
        tokio::spawn(async move {
            let sockets = sockets.await.unwrap_or_default();
            let sockets = wire::mp(&Value::Array(
                sockets.iter().map(wire::socket_json).collect(),
            ));
            me.transport().publish_response(
                &me,
                &from,
                Response::FetchSockets {
                    request_id,
                    sockets,
                },
            );
        });
    }

    /// Runs node `from`'s server-side event (`data`: its name, then its
    /// arguments); with a request id, sends the handler's answer back.
    pub fn serve_server_side_emit(
        &self,
        data: Vec<Value>,
        from: String,
        request_id: Option<String>,
    ) {
        let Some(ns) = self.namespace() else { return };
        let Some(request_id) = request_id else {
            if let Some(event) = ServerEvent::new(data, None) {
                ns.dispatch_server_event(event);
            }
            return;
        };
        let Some(me) = self.weak().upgrade() else {
            return;
        };
        let (tx, rx) = oneshot::channel();
        let Some(event) = ServerEvent::new(data, Some(tx)) else {
            return;
        };
        tokio::spawn(async move {
            if let Ok(value) = rx.await {
                let packet = wire::mp(&value);
                let response = Response::ServerSideEmit { request_id, packet };
                me.transport().publish_response(&me, &from, response);
            }
        });
        ns.dispatch_server_event(event);
    }

    /// Delivers node `from`'s broadcast with acks (request `request_id`) to
    /// this node's sockets, and sends it the client count and every answer.
    pub fn serve_broadcast_with_ack(
        &self,
        packet: &Value,
        attachments: &[Bytes],
        opts: &BroadcastOptions,
        from: String,
        request_id: String,
    ) {
        let (Some(ns), Some(me)) = (self.namespace(), self.weak().upgrade()) else {
            return;
        };
        let ack_id = Some(ns.next_ack_id());
        let Some(packet) = wire::packet_in(packet, attachments, self.nsp(), ack_id) else {
            return;
        };
        let mut stream = self.local().broadcast_with_ack(&packet, opts);
        tokio::spawn(async move {
            while let Some(event) = stream.recv().await {
                let request_id = request_id.clone();
                let response = match event {
                    AckEvent::Targeted(count) => {
                        Response::BroadcastClientCount { request_id, count }
                    }
                    AckEvent::Reply(_, Ok(reply)) => Response::BroadcastAck {
                        request_id,
                        packet: wire::ack_value(&reply),
                    },
                    _ => continue,
                };
                me.transport().publish_response(&me, &from, response);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use rally_proto::msgpack::Value as Mp;

    use super::*;

    #[test]
    fn responses_as_the_reference_writes_them() {
        let response = Response::BroadcastClientCount {
            request_id: "25467e474a5623c0".to_owned(),
            count: 3,
        };
        assert_eq!(response.kind(), kind::BROADCAST_CLIENT_COUNT);
        assert_eq!(
            String::from_utf8(wire::json_text(&response.into_data())).unwrap(),
            r#"{"requestId":"25467e474a5623c0","clientCount":3}"#
        );
        let response = Response::ServerSideEmit {
            request_id: "1".to_owned(),
            packet: Mp::from("ok"),
        };
        assert_eq!(
            String::from_utf8(wire::json_text(&response.into_data())).unwrap(),
            r#"{"requestId":"1","packet":"ok"}"#
        );
    }
}

//! What a node does for another node's request, in every mode; the
//! `answer_*` functions also send the response as the cluster protocol of
//! the sharded and streams modes writes it.

use std::sync::Arc;

use bytes::Bytes;
use rally::{
    AckReply, Namespace, ServerEvent,
    adapter::{AckEvent, Adapter, BroadcastOptions, LocalAdapter},
};
use rally_proto::msgpack::{self, Value as Mp};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::wire::{self, cluster_kind as kind};

/// Runs a server-side event from another node; when it asks for an answer,
/// `answer` sends the handler's.
pub(crate) fn server_event(
    ns: &Namespace,
    data: Vec<Value>,
    answer: Option<impl FnOnce(Value) + Send + 'static>,
) {
    let Some(answer) = answer else {
        if let Some(event) = ServerEvent::new(data, None) {
            ns.dispatch_server_event(event);
        }
        return;
    };
    let (tx, rx) = oneshot::channel();
    let Some(event) = ServerEvent::new(data, Some(tx)) else {
        return;
    };
    tokio::spawn(async move {
        if let Ok(value) = rx.await {
            answer(value);
        }
    });
    ns.dispatch_server_event(event);
}

/// Describes this node's sockets that `opts` reaches to another node:
/// `answer` gets them as the reference's `sockets` list.
pub(crate) fn fetch_sockets(
    local: &LocalAdapter,
    opts: BroadcastOptions,
    answer: impl FnOnce(msgpack::Value) + Send + 'static,
) {
    let sockets = local.fetch_sockets(opts);
    tokio::spawn(async move {
        let sockets = sockets.await.unwrap_or_default();
        answer(wire::mp(&Value::Array(
            sockets.iter().map(wire::socket_json).collect(),
        )));
    });
}

/// Delivers another node's broadcast with acks to this node's sockets,
/// reporting how many it reached (`count`) and each answer (`ack`); a
/// packet without `nsp` is taken as one of `unnamed`.
#[allow(clippy::too_many_arguments)] // one call per mode
pub(crate) fn broadcast_with_ack(
    local: &LocalAdapter,
    ns: &Namespace,
    packet: &Value,
    unnamed: &str,
    attachments: &[Bytes],
    opts: &BroadcastOptions,
    count: impl Fn(usize) + Send + 'static,
    ack: impl Fn(&AckReply) + Send + 'static,
) {
    let ack_id = Some(ns.next_ack_id());
    let Some(packet) = wire::packet_from(packet, attachments, ns.name(), unnamed, ack_id) else {
        return;
    };
    let mut stream = local.broadcast_with_ack(&packet, opts);
    tokio::spawn(async move {
        while let Some(event) = stream.recv().await {
            match event {
                AckEvent::Targeted(n) => count(n),
                AckEvent::Reply(_, Ok(reply)) => ack(&reply),
                _ => {}
            }
        }
    });
}

/// A node of the cluster protocol (the sharded and streams modes): it can
/// send a response to one other node.
pub(crate) trait Responder: Send + Sync + 'static {
    /// Sends `data`, a response of type `kind`, to node `to` alone.
    fn respond(&self, to: &str, kind: i64, data: msgpack::Value);
}

/// Answers node `from`'s fetch-sockets request `id` (cluster protocol).
pub(crate) fn answer_fetch_sockets(
    me: Arc<impl Responder>,
    local: &LocalAdapter,
    opts: BroadcastOptions,
    from: String,
    id: String,
) {
    fetch_sockets(local, opts, move |sockets| {
        me.respond(
            &from,
            kind::FETCH_SOCKETS_RESPONSE,
            Mp::map([("requestId", Mp::from(id)), ("sockets", sockets)]),
        );
    });
}

/// Runs node `from`'s server-side event; with a request id, sends the
/// handler's answer back (cluster protocol).
pub(crate) fn answer_server_event(
    me: Arc<impl Responder>,
    ns: &Namespace,
    data: Vec<Value>,
    from: String,
    request_id: Option<String>,
) {
    let answer = request_id.map(|id| {
        move |value: Value| {
            me.respond(
                &from,
                kind::SERVER_SIDE_EMIT_RESPONSE,
                Mp::map([("requestId", Mp::from(id)), ("packet", wire::mp(&value))]),
            );
        }
    });
    server_event(ns, data, answer);
}

/// Delivers node `from`'s broadcast with acks (request `id`) and sends it
/// the client count and every answer (cluster protocol).
#[allow(clippy::too_many_arguments)] // one call per mode
pub(crate) fn answer_broadcast_with_ack<R: Responder>(
    me: Arc<R>,
    local: &LocalAdapter,
    ns: &Namespace,
    packet: &Value,
    unnamed: &str,
    attachments: &[Bytes],
    opts: &BroadcastOptions,
    from: String,
    id: String,
) {
    let (counter, count_to, count_id) = (me.clone(), from.clone(), id.clone());
    broadcast_with_ack(
        local,
        ns,
        packet,
        unnamed,
        attachments,
        opts,
        move |n| {
            counter.respond(
                &count_to,
                kind::BROADCAST_CLIENT_COUNT,
                Mp::map([
                    ("requestId", Mp::from(count_id.as_str())),
                    ("clientCount", Mp::Int(n as i64)),
                ]),
            );
        },
        move |reply| {
            me.respond(
                &from,
                kind::BROADCAST_ACK,
                Mp::map([
                    ("requestId", Mp::from(id.as_str())),
                    ("packet", wire::ack_value(reply)),
                ]),
            );
        },
    );
}

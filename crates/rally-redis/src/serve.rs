//! What a node does for another node's request, in both modes.

use bytes::Bytes;
use rally::{
    AckReply, Namespace, ServerEvent,
    adapter::{AckEvent, Adapter, BroadcastOptions, LocalAdapter},
};
use rally_proto::msgpack;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::wire;

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

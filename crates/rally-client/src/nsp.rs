//! One namespace as the manager's task sees it: connection state, buffered
//! emits, awaited acknowledgements, the recovery session.

use std::sync::Arc;

use bytes::Bytes;
use rally_proto::{
    Str,
    socket::{BinaryPacket, Packet, event_name, split_array},
};
use serde::Deserialize;
use tokio::{sync::oneshot, time::Instant};

use crate::{Error, ack::Acks, queue::Queue, socket::SocketShared};

/// A namespace's state in the manager's task.
pub(crate) struct Nsp {
    pub(crate) shared: Arc<SocketShared>,
    pub(crate) active: bool,
    pub(crate) connected: bool,
    /// The private session id (connection state recovery), once given.
    pid: Option<String>,
    /// The offset of the last event received while `pid` is set.
    offset: Option<String>,
    pub(crate) acks: Acks,
    /// Emits waiting for the connection, with their ack ids.
    buffer: Vec<(Option<u64>, BinaryPacket)>,
    /// Emits delivered one at a time, with retries (the `retries` option).
    pub(crate) queue: Queue,
    waiters: Vec<oneshot::Sender<Result<(), Error>>>,
    /// Events that came before the CONNECT reply.
    held: Vec<(Packet, Vec<Bytes>)>,
}

impl Nsp {
    pub(crate) fn new(shared: Arc<SocketShared>, retries: u32) -> Self {
        Self {
            shared,
            active: false,
            connected: false,
            pid: None,
            offset: None,
            acks: Acks::default(),
            buffer: Vec::new(),
            queue: Queue::new(retries),
            waiters: Vec::new(),
            held: Vec::new(),
        }
    }

    pub(crate) fn set_active(&mut self, active: bool) {
        self.active = active;
        self.shared.update(|s| s.active = active);
    }

    pub(crate) fn add_waiter(&mut self, waiter: oneshot::Sender<Result<(), Error>>) {
        self.waiters.push(waiter);
    }

    /// Tells everyone waiting in [`Socket::connect`](crate::Socket::connect).
    pub(crate) fn resolve_waiters(&mut self, result: &Result<(), Error>) {
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(result.clone());
        }
    }

    /// Keeps an emit until the socket connects.
    pub(crate) fn buffer(&mut self, id: Option<u64>, packet: BinaryPacket) {
        self.buffer.push((id, packet));
    }

    /// Keeps an event that came before the CONNECT reply (a recovered
    /// session's missed events do).
    pub(crate) fn hold(&mut self, packet: Packet, attachments: Vec<Bytes>) {
        self.held.push((packet, attachments));
    }

    /// The events that came before the CONNECT reply.
    pub(crate) fn take_held(&mut self) -> Vec<(Packet, Vec<Bytes>)> {
        std::mem::take(&mut self.held)
    }

    /// The CONNECT payload: `pid` and `offset` when a session can be
    /// recovered, then the auth's keys (which win, as in the official
    /// client).
    pub(crate) fn connect_payload(
        &self,
        auth: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> Option<String> {
        let mut payload = serde_json::Map::new();
        if let Some(pid) = &self.pid {
            payload.insert("pid".into(), pid.clone().into());
            if let Some(offset) = &self.offset {
                payload.insert("offset".into(), offset.clone().into());
            }
        }
        if auth.is_none() && self.pid.is_none() {
            return None;
        }
        payload.extend(auth.unwrap_or_default());
        serde_json::to_string(&payload).ok()
    }

    /// The namespace accepted us: records the ids and gives the frames of
    /// the buffered emits.
    pub(crate) fn on_connected(&mut self, sid: String, pid: Option<String>) -> Vec<BinaryPacket> {
        let recovered = pid.is_some() && pid == self.pid;
        self.pid = pid;
        self.connected = true;
        self.shared.update(|s| {
            s.id = Some(sid);
            s.connected = true;
            s.recovered = recovered;
        });
        self.buffer.drain(..).map(|(_, packet)| packet).collect()
    }

    /// The next try of the retry queue, if it can go out now.
    pub(crate) fn next_try(&mut self, now: Instant) -> Option<BinaryPacket> {
        if !self.connected {
            return None;
        }
        self.queue.next_try(&mut self.acks, now)
    }

    /// The connection to the namespace is lost: the acknowledgements of
    /// events sent fail, those of buffered ones wait, and the retry queue
    /// waits for the next connection.
    pub(crate) fn on_closed(&mut self) {
        self.connected = false;
        self.shared.update(|s| {
            s.id = None;
            s.connected = false;
        });
        self.queue.disconnected(&mut self.acks);
        let buffer = &self.buffer;
        self.acks
            .disconnect(|id| buffer.iter().any(|(b, _)| *b == Some(id)));
    }

    /// Remembers the last argument of an event as the recovery offset, when
    /// the server gave a `pid` and it is a string (as the official client
    /// does).
    pub(crate) fn track_offset(&mut self, args: &[Str]) {
        if self.pid.is_none() {
            return;
        }
        if let Some(offset) = args
            .last()
            .and_then(|raw| serde_json::from_str::<String>(raw).ok())
        {
            self.offset = Some(offset);
        }
    }

    /// Fails the acknowledgements past their deadline, dropping their
    /// events if still buffered (a try of the retry queue fails).
    pub(crate) fn expire(&mut self, now: Instant) {
        let expired = self.acks.expire(now);
        if !expired.is_empty() {
            self.queue.expired(&expired);
            self.buffer
                .retain(|(id, _)| id.is_none_or(|id| !expired.contains(&id)));
        }
    }
}

/// The payload of a CONNECT from the server: the socket id and, with
/// connection state recovery, the private session id.
pub(crate) fn parse_connect(data: Option<&Str>) -> Option<(String, Option<String>)> {
    #[derive(Deserialize)]
    struct Accepted {
        sid: String,
        pid: Option<String>,
    }
    let accepted: Accepted = serde_json::from_str(data?).ok()?;
    Some((accepted.sid, accepted.pid))
}

/// The error a CONNECT_ERROR stands for: `{message, data}`, or a bare
/// string from older servers.
pub(crate) fn parse_refusal(data: Option<&Str>) -> Error {
    let value = data
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .unwrap_or_default();
    match value {
        serde_json::Value::String(message) => Error::Refused {
            message,
            data: None,
        },
        serde_json::Value::Object(mut map) => Error::Refused {
            message: map
                .remove("message")
                .and_then(|m| m.as_str().map(str::to_owned))
                .unwrap_or_default(),
            data: map.remove("data"),
        },
        _ => Error::Refused {
            message: String::new(),
            data: None,
        },
    }
}

/// The name and arguments of an EVENT payload.
pub(crate) fn parse_event(data: Option<&Str>) -> Option<(String, Vec<Str>)> {
    let data = data?;
    let name = event_name(data).ok()?;
    let mut items = split_array(data).ok()?;
    if items.is_empty() {
        return None;
    }
    items.remove(0);
    Some((name.to_string(), items))
}

/// The arguments of an ACK payload.
pub(crate) fn parse_ack(data: Option<&Str>) -> Vec<Str> {
    data.and_then(|d| split_array(d).ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::SocketShared;

    fn nsp() -> Nsp {
        Nsp::new(Arc::new(SocketShared::new("/".into())), 0)
    }

    #[test]
    fn connect_payloads() {
        let mut n = nsp();
        assert_eq!(n.connect_payload(None), None);
        let mut auth = serde_json::Map::new();
        auth.insert("token".into(), "x".into());
        assert_eq!(
            n.connect_payload(Some(auth.clone())).as_deref(),
            Some(r#"{"token":"x"}"#)
        );
        n.on_connected("s1".into(), Some("p1".into()));
        assert!(!n.shared.state.lock().unwrap().recovered);
        assert_eq!(n.connect_payload(None).as_deref(), Some(r#"{"pid":"p1"}"#));
        n.track_offset(&["1".into(), r#""off-1""#.into()]);
        n.track_offset(&["2".into()]);
        // Key order depends on serde_json's `preserve_order`: compare values.
        let payload: serde_json::Value =
            serde_json::from_str(&n.connect_payload(Some(auth)).unwrap()).unwrap();
        assert_eq!(
            payload,
            serde_json::json!({"offset": "off-1", "pid": "p1", "token": "x"})
        );
        n.on_closed();
        n.on_connected("s1".into(), Some("p1".into()));
        assert!(n.shared.state.lock().unwrap().recovered);
    }

    #[test]
    fn parses_server_packets() {
        let s = |t: &str| Str::from(t);
        assert_eq!(
            parse_connect(Some(&s(r#"{"sid":"a","pid":"b"}"#))),
            Some(("a".into(), Some("b".into())))
        );
        assert_eq!(parse_connect(Some(&s(r#"{"x":1}"#))), None);
        assert_eq!(parse_connect(None), None);
        match parse_refusal(Some(&s(r#"{"message":"no","data":{"a":1}}"#))) {
            Error::Refused { message, data } => {
                assert_eq!(message, "no");
                assert_eq!(data, Some(serde_json::json!({"a": 1})));
            }
            e => panic!("{e:?}"),
        }
        assert!(matches!(
            parse_refusal(Some(&s(r#""old""#))),
            Error::Refused { message, data: None } if message == "old"
        ));
        let (name, args) = parse_event(Some(&s(r#"["a\"b",1,{"c":2}]"#))).unwrap();
        assert_eq!(name, "a\"b");
        assert_eq!(args, ["1", r#"{"c":2}"#]);
        assert_eq!(parse_ack(Some(&s("[1,2]"))), ["1", "2"]);
        assert!(parse_ack(None).is_empty());
    }
}

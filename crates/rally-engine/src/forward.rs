//! Session forwarding: a node of a cluster serves the polling requests of
//! sessions another node holds, through that node.
//!
//! Each node gets a random [`NodeTag`] at start and opens sessions whose ids
//! begin with it, so a request names its owner: a node that receives a
//! request for a session it does not hold sends it, whole, to the node the
//! id names, over the cluster's [`Bus`], and answers the client with the
//! owner's reply. The owner runs the request through the session exactly as
//! a request of its own (a held poll waits there; overlapping polls and
//! posts get the usual 400 and close), and checks the session exists: an
//! id is never looked up anywhere else, so nothing is broadcast and a node
//! never serves another's session by mistake.
//!
//! Bounds: one bus message per request (plus one if its client goes away
//! first); requests for a tag no live node has are refused at once, without
//! a message (but for the first seconds of a node, while it learns who is
//! there); at most [`MAX_PENDING`] requests wait on other nodes, and as
//! many are served for them; a forwarded poll gives up after the
//! heartbeat's worth of time, a post after [`POST_TIMEOUT`], and both as
//! soon as the owner stops being heard.

pub(crate) mod relay;
mod wire;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard, Weak,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use tokio::sync::{mpsc, oneshot};

use crate::{
    Handler, NodeTag, Refusal, RemoteAddr,
    engine::{BoxError, Engine},
    response::{self, EngineBody},
};
use wire::{Http, Message};

/// A node-to-node channel of a cluster, for session forwarding: the
/// cluster adapters provide one (a Redis channel per node, a Postgres
/// `NOTIFY` channel per node). Only nodes that forward sessions read it.
///
/// Messages are opaque bytes; delivery is best effort (a lost message
/// costs one request its timeout).
pub trait Bus: Send + Sync + 'static {
    /// Starts delivering to `inbox` the messages sent to `me` and those
    /// sent to every node (this node's own included).
    fn start(&self, me: NodeTag, inbox: Inbox);

    /// Sends `payload` to the node tagged `to`, or to every node (`None`).
    fn send(&self, to: Option<NodeTag>, payload: Bytes);
}

/// Where a [`Bus`] delivers the messages of its node.
pub type Inbox = Arc<dyn Fn(Bytes) + Send + Sync>;

/// How many requests may wait on other nodes at once, and how many a node
/// serves for others at once.
pub const MAX_PENDING: usize = 10_000;
/// How long a forwarded POST waits for the owner.
pub const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a node says it is alive.
const HELLO_EVERY: Duration = Duration::from_secs(2);
/// How long a node counts as alive after it was last heard.
const ALIVE_FOR: Duration = Duration::from_secs(7);
/// How long after its start a node forwards to tags it has not heard yet:
/// its bus may not have been listening when the others first answered its
/// hello, and by the end of it every live node said hello again.
const STARTING_FOR: Duration = Duration::from_secs(3);
/// How long a node silent (or gone) is remembered, so that the nodes a
/// long-running cluster saw come and go do not pile up.
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// Counters of forwarding (see [`EngineIo::forward_stats`](crate::EngineIo::forward_stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForwardStats {
    /// Polls (GET) sent to their session's node.
    pub polls: u64,
    /// Posts sent to their session's node.
    pub posts: u64,
    /// Requests served for other nodes.
    pub served: u64,
    /// Forwarded requests that got no reply (timeout, owner gone, bounds).
    pub failed: u64,
    /// Requests for a tag no live node has, refused without a message.
    pub refused: u64,
    /// The other nodes heard lately (a gauge).
    pub nodes: u64,
    /// The sum of the round trips of answered forwards, in microseconds.
    pub latency_micros: u64,
    /// How many round trips `latency_micros` sums.
    pub answered: u64,
    /// WebSockets of other nodes' sessions relayed to them.
    pub relays: u64,
}

#[derive(Default)]
struct Counters {
    polls: AtomicU64,
    posts: AtomicU64,
    served: AtomicU64,
    failed: AtomicU64,
    refused: AtomicU64,
    latency_micros: AtomicU64,
    answered: AtomicU64,
    relays: AtomicU64,
}

/// When a node was last heard of.
#[derive(Debug, Clone, Copy)]
struct Heard {
    at: tokio::time::Instant,
    /// It said goodbye.
    gone: bool,
}

impl Heard {
    fn is_live(self) -> bool {
        !self.gone && self.at.elapsed() < ALIVE_FOR
    }
}

/// One node's end of forwarding.
pub(crate) struct Forwarder {
    bus: Arc<dyn Bus>,
    pub(crate) me: NodeTag,
    started: tokio::time::Instant,
    /// When each other node was last heard, or said goodbye.
    live: Mutex<HashMap<NodeTag, Heard>>,
    /// The requests waiting on other nodes, by number.
    pending: Mutex<HashMap<u64, oneshot::Sender<Http>>>,
    next_id: AtomicU64,
    /// The requests served for other nodes, to drop when cancelled.
    serving: Mutex<HashMap<(NodeTag, u64), tokio::task::AbortHandle>>,
    /// The relayed WebSockets this node asked for: their bytes from the
    /// owner, by tunnel number.
    asked: Mutex<HashMap<u64, mpsc::Sender<Bytes>>>,
    /// The relayed WebSockets this node owns: their bytes from the client's
    /// node, by node and tunnel number.
    tunnels: Mutex<HashMap<(NodeTag, u64), mpsc::Sender<Bytes>>>,
    counters: Counters,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Forwarder {
    pub(crate) fn new(bus: Arc<dyn Bus>) -> Self {
        Self {
            bus,
            me: NodeTag::random(),
            started: tokio::time::Instant::now(),
            live: Mutex::default(),
            pending: Mutex::default(),
            next_id: AtomicU64::new(0),
            serving: Mutex::default(),
            asked: Mutex::default(),
            tunnels: Mutex::default(),
            counters: Counters::default(),
        }
    }

    /// Starts the bus and the hellos, which stop with the engine.
    pub(crate) fn start<H: Handler>(&self, engine: &Arc<Engine<H>>) {
        let weak = Arc::downgrade(engine);
        let inbox: Inbox = Arc::new(move |payload| {
            if let Some(engine) = weak.upgrade() {
                on_message(&engine, payload);
            }
        });
        self.bus.start(self.me, inbox);
        let weak: Weak<Engine<H>> = Arc::downgrade(engine);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let mut tick = tokio::time::interval(HELLO_EVERY);
                    loop {
                        tick.tick().await;
                        let Some(engine) = weak.upgrade() else { return };
                        // A closed engine said goodbye: no more hellos.
                        if engine.is_closed() {
                            return;
                        }
                        if let Some(fwd) = &engine.forwarder {
                            fwd.send(None, &Message::Hello(fwd.me));
                        }
                    }
                });
            }
            Err(_) => tracing::warn!("no tokio runtime: session forwarding cannot start"),
        }
    }

    fn send(&self, to: Option<NodeTag>, message: &Message) {
        self.bus.send(to, message.encode());
    }

    /// Says goodbye: other nodes stop forwarding here at once.
    pub(crate) fn stop(&self) {
        self.send(None, &Message::Bye(self.me));
    }

    /// Whether `tag` is a node heard lately; in this node's first seconds,
    /// any node not known gone (it may not have been heard yet).
    fn is_live(&self, tag: NodeTag) -> bool {
        match lock(&self.live).get(&tag) {
            Some(heard) => heard.is_live(),
            None => self.started.elapsed() < STARTING_FOR,
        }
    }

    /// How many other nodes were heard lately.
    fn known(&self) -> usize {
        lock(&self.live).values().filter(|h| h.is_live()).count()
    }

    /// Notes that `from` was heard; true when it was not known alive.
    /// Nodes silent for long are forgotten.
    fn heard(&self, from: NodeTag) -> bool {
        let mut live = lock(&self.live);
        live.retain(|_, h| h.at.elapsed() < FORGET_AFTER);
        let now = Heard {
            at: tokio::time::Instant::now(),
            gone: false,
        };
        let known = live.insert(from, now).is_some_and(|h| h.is_live());
        !known
    }

    /// Notes that `from` said goodbye: it is not live, even in this node's
    /// first seconds, until heard again.
    fn gone(&self, from: NodeTag) {
        let at = tokio::time::Instant::now();
        lock(&self.live).insert(from, Heard { at, gone: true });
    }

    /// The counters so far.
    pub(crate) fn stats(&self) -> ForwardStats {
        let c = &self.counters;
        ForwardStats {
            polls: c.polls.load(Relaxed),
            posts: c.posts.load(Relaxed),
            served: c.served.load(Relaxed),
            failed: c.failed.load(Relaxed),
            refused: c.refused.load(Relaxed),
            nodes: self.known() as u64,
            latency_micros: c.latency_micros.load(Relaxed),
            answered: c.answered.load(Relaxed),
            relays: c.relays.load(Relaxed),
        }
    }

    /// Whether a request for a session tagged `tag` (not held here) can be
    /// forwarded: another node's tag, heard lately. Counts the refusal.
    pub(crate) fn takes(&self, tag: NodeTag) -> bool {
        if tag != self.me && self.is_live(tag) {
            return true;
        }
        self.counters.refused.fetch_add(1, Relaxed);
        false
    }
}

/// A request waiting on another node: removed from the pending ones when
/// dropped, and the owner told when it was not answered.
struct Waiting<'a> {
    fwd: &'a Forwarder,
    to: NodeTag,
    id: u64,
    answered: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        lock(&self.fwd.pending).remove(&self.id);
        if !self.answered {
            self.fwd.counters.failed.fetch_add(1, Relaxed);
            self.fwd
                .send(Some(self.to), &Message::Cancel(self.fwd.me, self.id));
        }
    }
}

/// Serves a request for a session of node `to` through it.
pub(crate) async fn forward<H, B>(
    engine: Arc<Engine<H>>,
    req: Request<B>,
    to: NodeTag,
) -> Response<EngineBody>
where
    H: Handler,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let Some(fwd) = &engine.forwarder else {
        return response::error(Refusal::UnknownSid.error_code());
    };
    let unknown = || response::error(Refusal::UnknownSid.error_code());
    let (parts, body) = req.into_parts();
    let (timeout, counter) = if parts.method == Method::POST {
        (POST_TIMEOUT, &fwd.counters.posts)
    } else {
        let c = &engine.config;
        (
            c.ping_interval + c.ping_timeout + Duration::from_secs(5),
            &fwd.counters.polls,
        )
    };
    let limit = crate::compression::compressed_limit(engine.config.max_http_buffer_size);
    let Ok(body) = crate::transport::polling::read_body(body, limit).await else {
        return response::status(StatusCode::PAYLOAD_TOO_LARGE);
    };
    let http = Http {
        head: parts.method.as_str().to_owned(),
        uri: parts
            .uri
            .path_and_query()
            .map_or_else(String::new, ToString::to_string),
        remote: parts
            .extensions
            .get::<RemoteAddr>()
            .map(|a| a.0.to_string()),
        headers: http_of_headers(&parts.headers),
        body,
    };
    let (tx, mut rx) = oneshot::channel();
    let id = fwd.next_id.fetch_add(1, Relaxed);
    {
        let mut pending = lock(&fwd.pending);
        if pending.len() >= MAX_PENDING {
            fwd.counters.failed.fetch_add(1, Relaxed);
            return response::status(StatusCode::SERVICE_UNAVAILABLE);
        }
        pending.insert(id, tx);
    }
    counter.fetch_add(1, Relaxed);
    let mut waiting = Waiting {
        fwd,
        to,
        id,
        answered: false,
    };
    let started = tokio::time::Instant::now();
    fwd.send(Some(to), &Message::Request(fwd.me, id, http));
    let deadline = tokio::time::Instant::now() + timeout;
    let reply = loop {
        tokio::select! {
            reply = &mut rx => break reply.ok(),
            () = tokio::time::sleep(HELLO_EVERY) => {
                if !fwd.is_live(to) || tokio::time::Instant::now() >= deadline {
                    break None;
                }
            }
        }
    };
    let Some(reply) = reply else {
        tracing::debug!(node = %to, "forwarded request got no reply");
        return unknown();
    };
    waiting.answered = true;
    drop(waiting);
    let c = &fwd.counters;
    c.answered.fetch_add(1, Relaxed);
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    c.latency_micros.fetch_add(micros, Relaxed);
    into_response(reply)
}

/// Headers as they cross the bus.
fn http_of_headers(headers: &http::HeaderMap) -> Vec<(String, Bytes)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), Bytes::copy_from_slice(v.as_bytes())))
        .collect()
}

/// A reply of a status alone.
fn status_only(status: StatusCode) -> Http {
    Http {
        head: status.as_u16().to_string(),
        uri: String::new(),
        remote: None,
        headers: Vec::new(),
        body: Bytes::new(),
    }
}

/// The reply the owner sent, as the client gets it.
fn into_response(http: Http) -> Response<EngineBody> {
    let mut response = Response::new(Full::new(http.body));
    *response.status_mut() = http
        .head
        .parse::<u16>()
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = response.headers_mut();
    for (name, value) in http.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_maybe_shared(value),
        ) {
            headers.append(name, value);
        }
    }
    response
}

/// The request another node sent, as this node's engine takes it.
fn into_request(http: Http) -> Option<Request<Full<Bytes>>> {
    let mut builder = Request::builder()
        .method(Method::from_bytes(http.head.as_bytes()).ok()?)
        .uri(http.uri);
    for (name, value) in http.headers {
        builder = builder.header(name, value.as_ref());
    }
    let mut req = builder.body(Full::new(http.body)).ok()?;
    if let Some(addr) = http.remote.and_then(|r| r.parse().ok()) {
        req.extensions_mut().insert(RemoteAddr(addr));
    }
    Some(req)
}

/// A message from the bus.
fn on_message<H: Handler>(engine: &Arc<Engine<H>>, payload: Bytes) {
    let Some(fwd) = &engine.forwarder else { return };
    let Some(message) = Message::decode(payload) else {
        tracing::debug!("undecodable forwarding message");
        return;
    };
    match message {
        Message::Hello(from) => {
            if from != fwd.me && fwd.heard(from) {
                // A node new to us: it learns of us at once.
                fwd.send(Some(from), &Message::Hello(fwd.me));
            }
        }
        Message::Bye(from) => {
            fwd.gone(from);
            // What it asked of us has nobody to answer to any more: its
            // held polls end here as a local one whose client went away
            // (which closes the session, as the reference does), rather
            // than answer nobody and lose their packets.
            lock(&fwd.serving).retain(|(node, _), task| {
                if *node == from {
                    task.abort();
                }
                *node != from
            });
            lock(&fwd.tunnels).retain(|(node, _), _| *node != from);
        }
        Message::Request(from, id, http) => {
            fwd.heard(from);
            serve(engine, from, id, http);
        }
        Message::Response(from, id, http) => {
            fwd.heard(from);
            if let Some(tx) = lock(&fwd.pending).remove(&id) {
                let _ = tx.send(http);
            }
        }
        Message::Cancel(from, id) => {
            if let Some(task) = lock(&fwd.serving).remove(&(from, id)) {
                task.abort();
            }
        }
        Message::TunnelOpen(from, id, http) => {
            fwd.heard(from);
            relay::serve(engine, from, id, http);
        }
        Message::TunnelReply(from, id, http) => {
            fwd.heard(from);
            if let Some(tx) = lock(&fwd.pending).remove(&id) {
                let _ = tx.send(http);
            }
        }
        Message::ToOwner(from, id, bytes) => {
            let mut tunnels = lock(&fwd.tunnels);
            if let Some(queue) = tunnels.get(&(from, id)) {
                if queue.try_send(bytes).is_err() {
                    // Too slow, or gone: the tunnel ends.
                    tunnels.remove(&(from, id));
                }
            }
        }
        Message::ToAsker(_, id, bytes) => {
            let mut asked = lock(&fwd.asked);
            if let Some(queue) = asked.get(&id) {
                if queue.try_send(bytes).is_err() {
                    asked.remove(&id);
                }
            }
        }
        Message::EndToOwner(from, id) => {
            lock(&fwd.tunnels).remove(&(from, id));
        }
        Message::EndToAsker(_, id) => {
            lock(&fwd.asked).remove(&id);
        }
    }
}

/// Serves request `id` of node `from` as a request of this node's own.
fn serve<H: Handler>(engine: &Arc<Engine<H>>, from: NodeTag, id: u64, http: Http) {
    let Some(fwd) = &engine.forwarder else { return };
    let answer = move |fwd: &Forwarder, response: Http| {
        fwd.send(Some(from), &Message::Response(fwd.me, id, response));
    };
    let Some(req) = into_request(http) else {
        answer(fwd, status_only(StatusCode::BAD_REQUEST));
        return;
    };
    let mut serving = lock(&fwd.serving);
    if serving.len() >= MAX_PENDING {
        drop(serving);
        answer(fwd, status_only(StatusCode::SERVICE_UNAVAILABLE));
        return;
    }
    fwd.counters.served.fetch_add(1, Relaxed);
    let task = {
        let engine = engine.clone();
        tokio::spawn(async move {
            let response = engine.route_local(req).await;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let http = Http {
                head: parts.status.as_u16().to_string(),
                uri: String::new(),
                remote: None,
                headers: http_of_headers(&parts.headers),
                body,
            };
            if let Some(fwd) = &engine.forwarder {
                lock(&fwd.serving).remove(&(from, id));
                answer(fwd, http);
            }
        })
    };
    serving.insert((from, id), task.abort_handle());
}

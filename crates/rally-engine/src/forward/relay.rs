//! The WebSocket of a session another node holds, relayed: the node that
//! receives the upgrade sends the request to the owner, and once the owner
//! agrees (101), the bytes of the client's connection cross the bus both
//! ways. The owner serves them on an in-memory connection to its own engine,
//! exactly as a local upgrade (probe, `5`, then the session's frames), so
//! nothing of the WebSocket code knows it is relayed.
//!
//! Each tunnel holds a bounded queue of bytes per direction: a tunnel whose
//! far end cannot keep up is closed, never grown.

use std::{convert::Infallible, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::mpsc,
};

use super::{Forwarder, Http, Message, POST_TIMEOUT, http_of_headers, into_response, lock};
use crate::{
    Handler, NodeTag, Refusal, RemoteAddr,
    engine::Engine,
    response::{self, EngineBody},
};

/// How many chunks of bytes may wait in one direction of a tunnel.
const TUNNEL_QUEUE: usize = 256;
/// The largest chunk read at once.
const CHUNK: usize = 16 * 1024;

/// Relays an upgrade of a session of node `to`.
pub(crate) async fn open<H, B>(
    engine: Arc<Engine<H>>,
    req: Request<B>,
    to: NodeTag,
) -> Response<EngineBody>
where
    H: Handler,
    B: Body + Send + 'static,
{
    let unknown = || response::upgrade_error(Refusal::UnknownSid.error_code().message());
    let Some(fwd) = &engine.forwarder else {
        return unknown();
    };
    let (mut parts, _body) = req.into_parts();
    // The client's socket comes from Rally's own HTTP/1.1, or from hyper's.
    let client = match parts.extensions.remove::<crate::serve::Upgrade>() {
        Some(upgrade) => Client::Tcp(upgrade),
        None => match parts.extensions.remove::<OnUpgrade>() {
            Some(on_upgrade) => Client::Hyper(on_upgrade),
            None => return unknown(),
        },
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
        body: Bytes::new(),
    };
    let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
    let (data_tx, data_rx) = mpsc::channel(TUNNEL_QUEUE);
    let id = fwd
        .next_id
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    {
        let mut pending = lock(&fwd.pending);
        if pending.len() >= super::MAX_PENDING {
            return response::upgrade_error_status(StatusCode::SERVICE_UNAVAILABLE, "busy");
        }
        pending.insert(id, reply_tx);
    }
    lock(&fwd.asked).insert(id, data_tx);
    fwd.counters
        .relays
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    fwd.send(Some(to), &Message::TunnelOpen(fwd.me, id, http));
    let reply = tokio::time::timeout(POST_TIMEOUT, reply_rx).await;
    lock(&fwd.pending).remove(&id);
    let Ok(Ok(reply)) = reply else {
        lock(&fwd.asked).remove(&id);
        fwd.send(Some(to), &Message::EndToOwner(fwd.me, id));
        return unknown();
    };
    let response = into_response(reply);
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        lock(&fwd.asked).remove(&id);
        return response;
    }
    let weak = Arc::downgrade(&engine);
    tokio::spawn(async move {
        let out = |bytes| {
            let engine = weak.upgrade()?;
            let fwd = engine.forwarder.as_ref()?;
            fwd.send(Some(to), &Message::ToOwner(fwd.me, id, bytes));
            Some(())
        };
        match client {
            Client::Tcp(upgrade) => {
                if let Some((stream, early)) = upgrade.socket().await {
                    // What the client sent before the 101 goes first.
                    if early.is_empty() || out(Bytes::from(early)).is_some() {
                        pump(stream, data_rx, out).await;
                    }
                }
            }
            Client::Hyper(on_upgrade) => {
                if let Ok(upgraded) = on_upgrade.await {
                    pump(TokioIo::new(upgraded), data_rx, out).await;
                }
            }
        }
        if let Some(engine) = weak.upgrade() {
            if let Some(fwd) = &engine.forwarder {
                lock(&fwd.asked).remove(&id);
                fwd.send(Some(to), &Message::EndToOwner(fwd.me, id));
            }
        }
    });
    response
}

/// Where the client's socket of a relayed upgrade comes from.
enum Client {
    Tcp(crate::serve::Upgrade),
    Hyper(OnUpgrade),
}

/// Moves bytes between `io` and the bus until either side ends: what `io`
/// reads goes to `out`, what `incoming` brings is written to `io` (an
/// empty chunk ends the tunnel).
async fn pump<I, F>(io: I, mut incoming: mpsc::Receiver<Bytes>, out: F)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    F: Fn(Bytes) -> Option<()>,
{
    let (mut read, mut write) = tokio::io::split(io);
    let mut buf = vec![0u8; CHUNK];
    loop {
        tokio::select! {
            n = read.read(&mut buf) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if out(Bytes::copy_from_slice(&buf[..n])).is_none() {
                        return;
                    }
                }
            },
            chunk = incoming.recv() => match chunk {
                Some(chunk) if !chunk.is_empty() => {
                    if write.write_all(&chunk).await.is_err() || write.flush().await.is_err() {
                        return;
                    }
                }
                _ => {
                    let _ = write.shutdown().await;
                    return;
                }
            },
        }
    }
}

/// Serves tunnel `id` of node `from`: its upgrade request goes to this
/// engine over an in-memory connection, and the reply and then the bytes
/// go back over the bus.
pub(super) fn serve<H: Handler>(engine: &Arc<Engine<H>>, from: NodeTag, id: u64, http: Http) {
    let Some(fwd) = &engine.forwarder else { return };
    let refuse = |fwd: &Forwarder, status: StatusCode| {
        let http = super::status_only(status);
        fwd.send(Some(from), &Message::TunnelReply(fwd.me, id, http));
    };
    let Some(req) = super::into_request(http) else {
        refuse(fwd, StatusCode::BAD_REQUEST);
        return;
    };
    let (tx, rx) = mpsc::channel(TUNNEL_QUEUE);
    {
        let mut served = lock(&fwd.tunnels);
        if served.len() >= super::MAX_PENDING {
            drop(served);
            refuse(fwd, StatusCode::SERVICE_UNAVAILABLE);
            return;
        }
        served.insert((from, id), tx);
    }
    fwd.counters
        .served
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let engine = engine.clone();
    tokio::spawn(async move {
        tunnel(&engine, from, id, req, rx).await;
        if let Some(fwd) = &engine.forwarder {
            lock(&fwd.tunnels).remove(&(from, id));
            fwd.send(Some(from), &Message::EndToAsker(fwd.me, id));
        }
    });
}

/// The largest reply head (and refusal body) read from the engine.
const MAX_HEAD: usize = 64 * 1024;

/// Writes `req` as HTTP/1.1 on `io` and reads the reply: its status,
/// headers and body (the body of a refusal, by its length), and the bytes
/// read past the head of a 101.
async fn exchange(
    io: &mut tokio::io::DuplexStream,
    req: Request<http_body_util::Full<Bytes>>,
) -> Option<(Http, Bytes)> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(req.method().as_str().as_bytes());
    out.push(b' ');
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in req.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    io.write_all(&out).await.ok()?;
    let mut buf = Vec::new();
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 4096];
        let n = io.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.to_owned();
    let mut headers = Vec::new();
    let mut length = 0;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "content-length" {
            length = value.parse().ok()?;
        }
        headers.push((name, Bytes::copy_from_slice(value.as_bytes())));
    }
    let mut rest = buf.split_off(end + 4);
    let body = if status == "101" {
        Bytes::new()
    } else {
        if length > MAX_HEAD {
            return None;
        }
        while rest.len() < length {
            let mut chunk = [0u8; 4096];
            let n = io.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(length);
        Bytes::from(std::mem::take(&mut rest))
    };
    let http = Http {
        head: status,
        uri: String::new(),
        remote: None,
        headers,
        body,
    };
    Some((http, Bytes::from(rest)))
}

async fn tunnel<H: Handler>(
    engine: &Arc<Engine<H>>,
    from: NodeTag,
    id: u64,
    req: Request<http_body_util::Full<Bytes>>,
    rx: mpsc::Receiver<Bytes>,
) {
    let Some(fwd) = &engine.forwarder else { return };
    let (near, far) = tokio::io::duplex(CHUNK);
    let remote = req.extensions().get::<RemoteAddr>().copied();
    {
        let engine = engine.clone();
        let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            if let Some(remote) = remote {
                req.extensions_mut().insert(remote);
            }
            let engine = engine.clone();
            async move { Ok::<_, Infallible>(engine.route_local(req).await) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(near), service)
            .with_upgrades();
        tokio::spawn(conn);
    }
    let mut far = far;
    let exchanged = tokio::time::timeout(Duration::from_secs(10), exchange(&mut far, req)).await;
    let Ok(Some((head, rest))) = exchanged else {
        let refusal = super::status_only(StatusCode::BAD_GATEWAY);
        fwd.send(Some(from), &Message::TunnelReply(fwd.me, id, refusal));
        return;
    };
    let switching = head.head == "101";
    fwd.send(Some(from), &Message::TunnelReply(fwd.me, id, head));
    if !switching {
        return;
    }
    if !rest.is_empty() {
        fwd.send(Some(from), &Message::ToAsker(fwd.me, id, rest));
    }
    let weak = Arc::downgrade(engine);
    pump(far, rx, |bytes| {
        let engine = weak.upgrade()?;
        let fwd = engine.forwarder.as_ref()?;
        fwd.send(Some(from), &Message::ToAsker(fwd.me, id, bytes));
        Some(())
    })
    .await;
}

//! WebSocket: a direct session, or the upgrade of a polling one.
//!
//! The framing is Rally's own (`rally_proto::ws`): reads go into a buffer
//! of the thread on readiness, so an idle connection holds no read buffer
//! (see `conn.rs`), and one task serves each connection (`run.rs`).

mod conn;
mod run;

use std::{sync::Arc, time::Duration};

use http::{HeaderValue, Request, Response, StatusCode, header, request::Parts};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use rally_proto::{
    engine::{Packet, v3},
    ws::{Incoming, accept_key, deflate},
};

use self::conn::{Conn, Deflate, Io};
use crate::{
    CloseReason, Handler, Protocol, Session, Transport,
    engine::Engine,
    error::ErrorCode,
    response::{self, EngineBody},
};

/// How often a pending poll is told to return during an upgrade.
const NOOP_EVERY: Duration = Duration::from_millis(100);
/// How long the closing handshake may take.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How a session's packets travel in WebSocket frames.
///
/// Text frames are the same in both protocols; binary frames differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    /// Protocol 4: a binary frame is a binary message's bytes.
    V4,
    /// Protocol 3: a binary frame is a packet type byte then the data; a
    /// client that asked `b64` gets binary messages as `b4<base64>` text.
    V3 {
        /// Whether the client takes binary frames.
        binary: bool,
    },
}

impl Codec {
    /// The codec of `session` on a WebSocket opened by a request whose
    /// `b64` says whether the client takes binary.
    fn of(session: &Session, binary: bool) -> Self {
        match session.protocol() {
            Protocol::V4 => Self::V4,
            Protocol::V3 => Self::V3 { binary },
        }
    }
}

/// Whether a request asks to switch to WebSocket.
pub(crate) fn is_upgrade_request<B>(req: &Request<B>) -> bool {
    let has = |name, value: &str| {
        req.headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case(value))
    };
    req.method() == http::Method::GET
        && has(header::UPGRADE, "websocket")
        && req.headers().contains_key(header::SEC_WEBSOCKET_KEY)
}

/// The permessage-deflate agreement for a request, when the server offers
/// it and the client's offer can be taken.
fn negotiate<H: Handler>(engine: &Engine<H>, parts: &Parts) -> Option<Deflate> {
    let options = engine.config.per_message_deflate?;
    let offers = parts
        .headers
        .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ");
    let agreed = deflate::accept_offer(&offers)?;
    Some(Deflate {
        options,
        window_bits: agreed.server_window_bits,
    })
}

/// The 101 reply to an upgrade request, or why there can be none.
fn switching_protocols(parts: &Parts, deflate: Option<Deflate>) -> Option<Response<EngineBody>> {
    let key = parts.headers.get(header::SEC_WEBSOCKET_KEY)?;
    if parts.headers.get(header::SEC_WEBSOCKET_VERSION)? != "13" {
        return None;
    }
    let accept = HeaderValue::from_str(&accept_key(key.as_bytes())).ok()?;
    let mut response = response::status(StatusCode::SWITCHING_PROTOCOLS);
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    if let Some(deflate) = deflate {
        let agreed = deflate::Agreed {
            server_window_bits: deflate.window_bits,
        };
        let value = HeaderValue::from_str(&agreed.response()).ok()?;
        headers.insert(header::SEC_WEBSOCKET_EXTENSIONS, value);
    }
    Some(response)
}

/// Takes the connection over once the 101 reply has gone out.
fn on_upgraded<F, Fut>(
    parts: &mut Parts,
    max_message: usize,
    codec: Codec,
    deflate: Option<Deflate>,
    then: F,
) -> Response<EngineBody>
where
    F: FnOnce(Option<Conn>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    // The socket comes from Rally's own HTTP/1.1, or from hyper's.
    let socket = match parts.extensions.remove::<crate::serve::Upgrade>() {
        Some(upgrade) => Some(Socket::Tcp(upgrade)),
        None => parts.extensions.remove::<OnUpgrade>().map(Socket::Hyper),
    };
    let (Some(response), Some(socket)) = (switching_protocols(parts, deflate), socket) else {
        tokio::spawn(then(None));
        return response::error(ErrorCode::BadRequest);
    };
    tokio::spawn(async move {
        // No named local: the connection is moved straight into `then`'s
        // future, not kept twice in this task.
        then(
            socket
                .io()
                .await
                .map(|io| Conn::new(io, max_message, codec, deflate)),
        )
        .await;
    });
    response
}

/// Where the socket of an upgrade comes from.
enum Socket {
    Tcp(crate::serve::Upgrade),
    Hyper(OnUpgrade),
}

impl Socket {
    /// The socket, once the 101 reply went out.
    async fn io(self) -> Option<Io> {
        match self {
            Self::Tcp(upgrade) => {
                let (stream, early) = upgrade.socket().await?;
                Some(Io::Tcp(stream, (!early.is_empty()).then(|| early.into())))
            }
            Self::Hyper(on_upgrade) => match on_upgrade.await {
                Ok(upgraded) => Some(Io::Hyper(TokioIo::new(upgraded))),
                Err(e) => {
                    tracing::debug!(error = %e, "websocket upgrade failed");
                    None
                }
            },
        }
    }
}

/// A WebSocket that cannot carry a session (such as `transport=polling`):
/// accepted, then closed at once, as the reference does.
pub(crate) fn refuse<B>(req: Request<B>) -> Response<EngineBody> {
    let (mut parts, _body) = req.into_parts();
    on_upgraded(&mut parts, 0, Codec::V4, None, |mut conn| async move {
        if let Some(conn) = &mut conn {
            run::close(conn, None).await;
        }
    })
}

/// A session that starts on WebSocket (no polling first).
pub(crate) fn open<H: Handler, B>(
    engine: Arc<Engine<H>>,
    session: Arc<Session>,
    parts: &mut Parts,
    _body: B,
    binary: bool,
) -> Response<EngineBody> {
    let max = engine.config.max_http_buffer_size;
    let codec = Codec::of(&session, binary);
    let deflate = negotiate(&engine, parts);
    on_upgraded(parts, max, codec, deflate, move |mut conn| async move {
        let Some(conn) = &mut conn else {
            session.close_with(CloseReason::TransportError);
            return;
        };
        let open = engine.open_packet(&session.sid(), Transport::WebSocket);
        let open = [rally_proto::engine::Frame::Text(open)];
        if Box::pin(conn.send(open)).await.is_err() {
            session.close_with(CloseReason::TransportError);
            return;
        }
        run::serve(&engine, &session, conn).await;
    })
}

/// A polling session asking to move to WebSocket (`sid` in the query);
/// `binary` tells whether this request asked no `b64`.
pub(crate) fn upgrade<H: Handler, B>(
    engine: Arc<Engine<H>>,
    session: Arc<Session>,
    req: Request<B>,
    binary: bool,
) -> Response<EngineBody> {
    let (mut parts, _body) = req.into_parts();
    let max = engine.config.max_http_buffer_size;
    let allowed = engine.config.allow_upgrades;
    let codec = Codec::of(&session, binary);
    let deflate = negotiate(&engine, &parts);
    on_upgraded(
        &mut parts,
        max,
        codec,
        deflate,
        move |mut conn| async move {
            let Some(conn) = &mut conn else { return };
            if !allowed || !session.begin_upgrade() {
                // Already upgraded, or an upgrade is under way: refuse this one.
                Box::pin(run::close(conn, None)).await;
                return;
            }
            // Boxed: the probe's future takes no room in the task afterwards.
            let timeout = engine.config.upgrade_timeout;
            let probed =
                Box::pin(tokio::time::timeout(timeout, probe(&session, conn, codec))).await;
            if !matches!(probed, Ok(true)) {
                tracing::debug!(sid = %session.sid(), "upgrade failed");
                session.end_upgrade(false);
                Box::pin(run::close(conn, None)).await;
                return;
            }
            // The session is WebSocket's from now on; a poll still pending
            // (a client normally paused polling already) is told to end.
            session.end_upgrade(true);
            session.ask_noop();
            tracing::debug!(sid = %session.sid(), "upgraded to websocket");
            engine.handler.on_upgrade(&session);
            run::serve(&engine, &session, conn).await;
        },
    )
}

/// The probe of an upgrade: `2probe` → `3probe`, then `5`, with a noop to
/// the pending poll every 100 ms meanwhile. True when the client switched.
/// Like the reference, a `5` without a probe is taken too.
async fn probe(session: &Session, conn: &mut Conn, codec: Codec) -> bool {
    let mut noop = tokio::time::interval(NOOP_EVERY);
    let mut probed = false;
    loop {
        let message = tokio::select! {
            () = session.closed() => return false,
            _ = noop.tick(), if probed => {
                session.ask_noop();
                continue;
            }
            message = conn.next() => message,
        };
        let Ok(message) = message else {
            return false;
        };
        let packet = match decode(message, codec) {
            Some(Ok(packet)) => packet,
            _ => return false,
        };
        match packet {
            Packet::Ping(data) if !probed && data == "probe" => {
                let pong = rally_proto::engine::Frame::packet(Packet::Pong(data));
                if conn.send([pong]).await.is_err() {
                    return false;
                }
                session.ask_noop();
                probed = true;
                noop.reset();
            }
            Packet::Upgrade => return true,
            _ => return false,
        }
    }
}

/// The packet a WebSocket message carries; `None` for control frames.
///
/// In protocol 3 a binary frame starts with its packet type, and a text
/// frame may be a binary packet in base64 (`b4...`).
fn decode(message: Incoming, codec: Codec) -> Option<Result<Packet, rally_proto::DecodeError>> {
    use rally_proto::{Str, engine::Message};
    match message {
        Incoming::Binary(bytes) => Some(Ok(match codec {
            Codec::V4 => Packet::Message(Message::Binary(bytes)),
            Codec::V3 { .. } => v3::decode_binary_frame(bytes),
        })),
        Incoming::Text(bytes) => {
            let text = Str::from_utf8(bytes);
            Some(match codec {
                Codec::V4 => text.and_then(Packet::decode_text),
                Codec::V3 { .. } => text.and_then(v3::decode_packet),
            })
        }
        Incoming::Ping(_) | Incoming::Pong(_) | Incoming::Close(..) => None,
    }
}

//! HTTP long-polling: a held GET carries server frames, POSTs carry client packets.

mod heartbeats;

use std::{pin::pin, sync::Arc};

use crate::{
    CloseReason, Handler, HttpCompression, Protocol, Session, Transport,
    compression::{self, InflateError},
    engine::{BoxError, Engine},
    error::ErrorCode,
    queue::Woken,
    response::{self, EngineBody, OCTET_STREAM, TEXT_HTML, TEXT_PLAIN},
};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header, request::Parts};
use http_body::Body;
use http_body_util::BodyExt;
use rally_proto::{
    DecodeError, Str,
    engine::{Frame, Packet, decode_payload, encode_payload, v3},
};

pub(crate) use heartbeats::{Heartbeats, Timed};

/// The most frames one poll returns; the rest wait for the next one.
const MAX_BATCH: usize = 1024;

const NOOP: Frame = Frame::Text(Str::from_static("6"));
const CLOSE: Frame = Frame::Text(Str::from_static("1"));

/// The reply to a polling handshake: the open packet, then whatever the
/// handler queued when the session opened.
pub(crate) fn handshake(
    open: Str,
    session: &Arc<Session>,
    parts: &Parts,
    compression: Option<HttpCompression>,
) -> Response<EngineBody> {
    let mut frames = vec![Frame::Text(open)];
    if let Some(mut rx) = session.try_receiver() {
        rx.drain(&mut frames, MAX_BATCH);
        rx.release();
    }
    reply_frames(ReplyTo::of(&parts.headers), session, compression, &frames)
}

/// What a poll's reply depends on in its request's headers, read before the
/// poll waits: the request's headers are not kept while a poll is held.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReplyTo {
    /// The coding the client accepts best, if any.
    coding: Option<compression::Coding>,
    /// An old Internet Explorer, which gets `X-XSS-Protection: 0`.
    msie: bool,
}

impl ReplyTo {
    pub(crate) fn of(request_headers: &HeaderMap) -> Self {
        let user_agent = request_headers
            .get(header::USER_AGENT)
            .map(HeaderValue::as_bytes);
        Self {
            coding: compression::negotiate(request_headers),
            msie: user_agent.is_some_and(|ua| contains(ua, b";MSIE") || contains(ua, b"Trident/")),
        }
    }
}

/// A GET: waits until something is queued, the session closes, or an
/// upgrade asks for a noop.
pub(crate) async fn poll(
    session: Arc<Session>,
    reply_to: ReplyTo,
    compression: Option<HttpCompression>,
) -> Response<EngineBody> {
    let Some(mut rx) = session.try_receiver() else {
        tracing::debug!(sid = %session.sid(), "overlapping poll");
        session.close_with(CloseReason::TransportError);
        return response::status(StatusCode::BAD_REQUEST);
    };
    // Dropped unfinished when the client goes away mid-poll.
    let mut guard = AbortGuard(Some(&session));
    let closed_before = session.is_closed();
    let mut frames = Vec::new();
    // The close first, then frames, then an upgrade's noop: the close and
    // the noop wake the queue's waiter, so one wait serves the three (a
    // held poll, the state of every idle polling client, keeps no future
    // of each).
    let closed = || session.is_closed();
    let noop = || session.take_noop();
    if rx.recv_many_or(&mut frames, MAX_BATCH, closed, noop).await == Woken::Last {
        frames.push(NOOP);
    }
    match session.close_reason() {
        // A client that closed gets a noop; its session is gone already.
        Some(CloseReason::TransportClose) => frames = vec![NOOP],
        Some(reason) => {
            if reason.flushes() {
                rx.drain(&mut frames, MAX_BATCH);
            } else {
                frames.clear();
            }
            // The close goes alone, in the poll after the last queued
            // frame, as the reference's orderly close: a client handles a
            // close in the same payload before the packets beside it (the
            // official client reports a server's disconnect packet sent
            // with it as `transport close`, and reconnects). A poll that
            // comes after the close gets a noop first, as the reference's.
            if rx.is_empty() && frames.is_empty() {
                if closed_before {
                    frames.push(NOOP);
                }
                frames.push(CLOSE);
                session.finalize();
            }
        }
        // The session moved to WebSocket meanwhile: this poll is its last
        // (whatever it already took still goes out on it).
        None if session.transport() != Transport::Polling => {
            frames.retain(|f| *f != NOOP);
            frames.push(CLOSE);
        }
        None => {
            rx.drain(&mut frames, MAX_BATCH);
        }
    }
    guard.0 = None;
    // The client's next poll most likely finds the queue empty and waits:
    // it waits without the slots of this batch.
    rx.release();
    reply_frames(reply_to, &session, compression, &frames)
}

/// A POST: decodes the body and hands its packets over in order.
///
/// As the reference does: a body over `maxHttpBufferSize` gets 413 and the
/// session goes on; in protocol 4 a binary (`application/octet-stream`)
/// body gets 400 and closes it, in protocol 3 it is the binary payload form;
/// a record that does not decode closes the session with `parse error`
/// after the records before it were handed over, and the POST still gets
/// `ok`.
///
/// A body sent with `Content-Encoding: gzip` or `deflate` is inflated
/// first, and `maxHttpBufferSize` bounds what it inflates to (past it:
/// 413, the session goes on); one that does not inflate gets 400 and the
/// engine's error JSON (code 3). The reference reads no `Content-Encoding`
/// (it takes such a body for text, which fails to parse and closes the
/// session); the engine answers another coding with 415 and the error JSON
/// (code 3, `Unsupported Content-Encoding`), the session going on.
pub(crate) async fn post<H, B>(
    engine: &Arc<Engine<H>>,
    session: Arc<Session>,
    req: Request<B>,
) -> Response<EngineBody>
where
    H: Handler,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (parts, body) = req.into_parts();
    if !session.begin_post() {
        tracing::debug!(sid = %session.sid(), "overlapping post");
        session.close_with(CloseReason::TransportError);
        return response::status(StatusCode::BAD_REQUEST);
    }
    let content_type = parts.headers.get(header::CONTENT_TYPE);
    let v3_form = match session.protocol() {
        Protocol::V4 => None,
        Protocol::V3 => Some(v3::PayloadForm::of_request(
            content_type.map(HeaderValue::as_bytes),
        )),
    };
    if v3_form.is_none() && content_type.is_some_and(|t| t == v3::BINARY_CONTENT_TYPE) {
        session.end_post();
        session.close_with(CloseReason::TransportError);
        return response::status(StatusCode::BAD_REQUEST);
    }
    let max = engine.config.max_http_buffer_size;
    let Ok(coding) = compression::content_coding(&parts.headers) else {
        session.end_post();
        return unsupported_coding();
    };
    let limit = coding.map_or(max, |_| compression::compressed_limit(max));
    // A session closed mid-upload (by an overlapping POST, say) takes
    // nothing more from this one. A body already there is read first: a
    // session closing while its last packets wait for a poll takes POSTs
    // (and drops their packets) with `ok`, as the reference's; a 400 there
    // would be the client's `transport error` before it reads those
    // packets.
    let result = tokio::select! {
        biased;
        result = read_body(body, limit) => result,
        () = session.closed() => Err(BodyError::Abandoned),
    };
    session.end_post();
    let result = match (result, coding) {
        (Ok(body), Some(coding)) => compression::inflate(coding, &body, max).map_err(|e| match e {
            InflateError::TooLarge => BodyError::TooLarge,
            InflateError::Corrupt => BodyError::Corrupt,
        }),
        (result, _) => result,
    };
    let body = match result {
        Ok(body) => body,
        Err(BodyError::Corrupt) => return response::error(ErrorCode::BadRequest),
        Err(BodyError::TooLarge) => return response::status(StatusCode::PAYLOAD_TOO_LARGE),
        Err(BodyError::Abandoned) => {
            let mut response = response::status(StatusCode::BAD_REQUEST);
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
        Err(BodyError::Read) => {
            session.close_with(CloseReason::TransportError);
            return response::status(StatusCode::BAD_REQUEST);
        }
    };
    // Node reads text bodies as UTF-8 with U+FFFD for what does not
    // decode; so does the engine, instead of refusing the body.
    let body = match (v3_form, std::str::from_utf8(&body)) {
        (Some(v3::PayloadForm::Binary), _) | (_, Ok(_)) => body,
        (_, Err(_)) => Bytes::from(String::from_utf8_lossy(&body).into_owned()),
    };
    match v3_form {
        None => deliver(engine, &session, decode_payload(body)),
        Some(form) => deliver(engine, &session, v3::decode_payload(form, body, max)),
    }
    reply(
        ReplyTo::of(&parts.headers),
        TEXT_HTML,
        Bytes::from_static(b"ok"),
    )
}

/// Hands the packets of a decoded body over in order, until the session
/// closes; a record (or a body) that does not decode closes it with
/// `parse error`.
fn deliver<H: Handler>(
    engine: &Engine<H>,
    session: &Arc<Session>,
    packets: Result<impl Iterator<Item = Result<Packet, DecodeError>>, DecodeError>,
) {
    let packets = match packets {
        Ok(packets) => packets,
        Err(e) => {
            tracing::debug!(sid = %session.sid(), error = %e, "undecodable body");
            session.close_with(CloseReason::ParseError);
            return;
        }
    };
    for packet in packets {
        if session.is_closed() {
            break;
        }
        match packet {
            Ok(packet) => super::on_packet(engine, session, packet),
            Err(e) => {
                tracing::debug!(sid = %session.sid(), error = %e, "undecodable record");
                session.close_with(CloseReason::ParseError);
            }
        }
    }
}

/// Closes the session of a poll whose client went away before the reply.
struct AbortGuard<'a>(Option<&'a Arc<Session>>);

impl Drop for AbortGuard<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.0 {
            tracing::debug!(sid = %session.sid(), "poll aborted by the client");
            session.close_with(CloseReason::TransportError);
        }
    }
}

/// A 200 reply to a poll carrying `frames` as a payload of the session's
/// protocol: protocol 4 joins them with `\x1e`; protocol 3 writes the
/// binary form when a frame is binary and the client takes binary, the
/// `<length>:<packet>` text form otherwise. A body of at least the
/// compression threshold is compressed when the client accepts it.
fn reply_frames(
    reply_to: ReplyTo,
    session: &Session,
    compression: Option<HttpCompression>,
    frames: &[Frame],
) -> Response<EngineBody> {
    let (content_type, body) = match session.protocol() {
        Protocol::V4 => (TEXT_PLAIN, encode_payload(frames)),
        Protocol::V3 => {
            let form = v3::PayloadForm::choose(frames, session.polling_binary());
            let content_type = match form {
                v3::PayloadForm::Text => TEXT_PLAIN,
                v3::PayloadForm::Binary => OCTET_STREAM,
            };
            (content_type, form.encode(frames))
        }
    };
    // Below the threshold the reply does not depend on Accept-Encoding:
    // no work, no header.
    if compression.is_none_or(|c| body.len() < c.threshold) {
        return reply(reply_to, content_type, body);
    }
    let compressed =
        (reply_to.coding).and_then(|coding| Some((coding, compression::compress(coding, &body)?)));
    let mut response = match compressed {
        Some((coding, compressed)) => {
            let mut response = reply(reply_to, content_type, compressed);
            (response.headers_mut()).insert(header::CONTENT_ENCODING, coding.header_value());
            response
        }
        None => reply(reply_to, content_type, body),
    };
    (response.headers_mut()).append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    response
}

/// The refusal of a POST whose `Content-Encoding` the engine cannot read.
fn unsupported_coding() -> Response<EngineBody> {
    let mut response =
        response::error_message(ErrorCode::BadRequest, "Unsupported Content-Encoding");
    *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
    response
}

/// A 200 reply to a polling request, with the reference's headers.
fn reply(reply_to: ReplyTo, content_type: HeaderValue, body: Bytes) -> Response<EngineBody> {
    let mut response = response::with_body(StatusCode::OK, content_type, body);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Old Internet Explorer turns its XSS filter off only when asked.
    if reply_to.msie {
        headers.insert("x-xss-protection", HeaderValue::from_static("0"));
    }
    response
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub(crate) enum BodyError {
    TooLarge,
    Read,
    Abandoned,
    /// A compressed body that does not inflate.
    Corrupt,
}

/// Reads a whole request body, refusing it once it passes `limit` bytes.
pub(crate) async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    if body.size_hint().lower() > limit as u64 {
        return Err(BodyError::TooLarge);
    }
    let mut body = pin!(body);
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Read)?;
        if let Ok(mut data) = frame.into_data() {
            if buf.len() + data.remaining() > limit {
                return Err(BodyError::TooLarge);
            }
            while data.has_remaining() {
                let chunk = data.chunk();
                buf.put_slice(chunk);
                let n = chunk.len();
                data.advance(n);
            }
        }
    }
    Ok(buf.freeze())
}

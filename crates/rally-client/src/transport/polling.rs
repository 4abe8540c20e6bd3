//! The long-polling transport: a GET held by the server brings its packets,
//! POSTs carry ours, each on its own kept-alive connection.

use std::{
    collections::VecDeque,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use rally_proto::engine::{Frame, Packet, decode_payload, encode_payload};

use super::http::{self as client, HttpConn, Request, Response};
use crate::{Transport, TransportError, url::Endpoint};

type Exchange =
    Pin<Box<dyn Future<Output = (Option<HttpConn>, Result<Response, TransportError>)> + Send>>;

/// One of the two request lines: idle (with a connection to reuse) or busy.
enum Slot {
    Idle(Option<HttpConn>),
    Busy(Exchange),
}

impl Slot {
    fn is_busy(&self) -> bool {
        matches!(self, Self::Busy(_))
    }

    fn take_conn(&mut self) -> Option<HttpConn> {
        match self {
            Self::Idle(conn) => conn.take(),
            Self::Busy(_) => None,
        }
    }

    /// Polls the request in flight; the slot is idle again once it is done.
    fn poll_done(&mut self, cx: &mut Context<'_>) -> Poll<Result<Response, TransportError>> {
        let Self::Busy(exchange) = self else {
            return Poll::Pending;
        };
        let (conn, result) = ready!(exchange.as_mut().poll(cx));
        *self = Self::Idle(conn);
        Poll::Ready(result)
    }
}

/// A long-polling session with the server.
pub(crate) struct Polling {
    endpoint: Arc<Endpoint>,
    headers: Arc<[(HeaderName, HeaderValue)]>,
    target: String,
    max_payload: usize,
    get: Slot,
    post: Slot,
    paused: bool,
}

impl std::fmt::Debug for Polling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Polling")
            .field("target", &self.target)
            .field("reading", &self.get.is_busy())
            .field("writing", &self.post.is_busy())
            .field("paused", &self.paused)
            .finish()
    }
}

/// The handshake over polling: the packets of the first GET's body (the
/// open packet first) and the connection to reuse.
pub(crate) async fn handshake(
    endpoint: &Endpoint,
    headers: &[(HeaderName, HeaderValue)],
) -> Result<(Vec<Packet>, Option<HttpConn>), TransportError> {
    let request = Request {
        method: "GET",
        target: endpoint.target(Transport::Polling, None),
        body: None,
    };
    let (conn, response) = client::send(None, endpoint, headers, &request).await;
    let packets = decode_body(response?.ok_body()?)?;
    Ok((packets, conn))
}

fn decode_body(body: Bytes) -> Result<Vec<Packet>, TransportError> {
    decode_payload(body)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(TransportError::from)
}

impl Polling {
    /// The transport of the session `sid`, reusing the handshake's connection.
    pub(crate) fn new(
        endpoint: Arc<Endpoint>,
        headers: Arc<[(HeaderName, HeaderValue)]>,
        sid: &str,
        max_payload: usize,
        conn: Option<HttpConn>,
    ) -> Self {
        let target = endpoint.target(Transport::Polling, Some(sid));
        Self {
            endpoint,
            headers,
            target,
            max_payload,
            get: Slot::Idle(conn),
            post: Slot::Idle(None),
            paused: false,
        }
    }

    /// Whether a GET is in flight.
    pub(crate) fn is_reading(&self) -> bool {
        self.get.is_busy()
    }

    /// Whether a POST is in flight.
    pub(crate) fn is_writing(&self) -> bool {
        self.post.is_busy()
    }

    /// Starts no new GET from now on (the upgrade is taking over).
    pub(crate) fn pause(&mut self) {
        self.paused = true;
    }

    fn exchange(&self, conn: Option<HttpConn>, request: Request) -> Exchange {
        let endpoint = self.endpoint.clone();
        let headers = self.headers.clone();
        Box::pin(async move { client::send(conn, &endpoint, &headers, &request).await })
    }

    /// The packets of the next GET's body. Starts a GET when none is in
    /// flight, unless paused.
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Vec<Packet>, TransportError>> {
        if !self.get.is_busy() {
            if self.paused {
                return Poll::Pending;
            }
            let conn = self.get.take_conn();
            let request = Request {
                method: "GET",
                target: self.target.clone(),
                body: None,
            };
            self.get = Slot::Busy(self.exchange(conn, request));
        }
        let response = ready!(self.get.poll_done(cx));
        tracing::trace!(ok = response.is_ok(), "poll done");
        Poll::Ready(response.and_then(Response::ok_body).and_then(decode_body))
    }

    /// Sends what `out` holds, in POSTs no larger than the server's
    /// `maxPayload`, one at a time. Ready once `out` is empty and no POST is
    /// in flight; with `start` false, only finishes the POST in flight.
    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut VecDeque<Frame>,
        start: bool,
    ) -> Poll<Result<(), TransportError>> {
        loop {
            if self.post.is_busy() {
                ready!(self.post.poll_done(cx)).and_then(Response::ok_body)?;
                continue;
            }
            if out.is_empty() || !start {
                return Poll::Ready(Ok(()));
            }
            let body = take_payload(out, self.max_payload);
            tracing::trace!(len = body.len(), "post");
            let conn = self.post.take_conn();
            let request = Request {
                method: "POST",
                target: self.target.clone(),
                body: Some(body),
            };
            self.post = Slot::Busy(self.exchange(conn, request));
        }
    }

    /// Ends the session politely: finishes the POST in flight, then posts
    /// what `out` still holds followed by a close packet. Gives up after a
    /// second.
    pub(crate) async fn close(mut self, mut out: VecDeque<Frame>) {
        let polite = async {
            if let Slot::Busy(exchange) = &mut self.post {
                let _ = exchange.await;
            }
            out.push_back(Frame::packet(Packet::Close));
            let request = Request {
                method: "POST",
                target: self.target.clone(),
                body: Some(encode_payload(out.make_contiguous())),
            };
            let _ = client::send(None, &self.endpoint, &self.headers, &request).await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), polite).await;
    }
}

/// Takes frames from the front of `out` for one POST body: as many as fit
/// in `max_payload` bytes (always at least one), counted the way the
/// official client counts them.
fn take_payload(out: &mut VecDeque<Frame>, max_payload: usize) -> Bytes {
    let mut size = 1;
    let mut count = 0;
    for (i, frame) in out.iter().enumerate() {
        size += match frame {
            Frame::Text(text) => text.len().saturating_sub(1),
            Frame::Binary(bytes) => bytes.len().div_ceil(3) * 4 + 1,
        };
        if i > 0 && max_payload > 0 && size > max_payload {
            break;
        }
        size += 2;
        count = i + 1;
    }
    let frames: Vec<Frame> = out.drain(..count).collect();
    encode_payload(&frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_posts_at_max_payload() {
        let mut out: VecDeque<Frame> = (0..5).map(|_| Frame::message_text("aaaa")).collect();
        // 1 + 4, + 2 + 4, + 2 + 4 = 17 > 12: two fit.
        assert_eq!(&take_payload(&mut out, 12)[..], b"4aaaa\x1e4aaaa");
        assert_eq!(out.len(), 3);
        // One frame always goes, whatever its size.
        assert_eq!(&take_payload(&mut out, 1)[..], b"4aaaa");
        assert_eq!(&take_payload(&mut out, 0)[..], b"4aaaa\x1e4aaaa");
        assert!(out.is_empty());
    }
}

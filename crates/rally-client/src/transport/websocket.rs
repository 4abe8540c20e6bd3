//! The WebSocket transport: one text or binary frame per Engine.IO packet.

use std::{
    collections::VecDeque,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use futures_util::{Sink, SinkExt, Stream};
use http::{HeaderName, HeaderValue};
use rally_proto::{
    Str,
    engine::{Frame, Message, Packet},
};
use tokio::net::TcpStream;
use tokio_websockets::{ClientBuilder, CloseCode, WebSocketStream};

use crate::{TransportError, url::Endpoint};

/// A WebSocket to the server.
pub(crate) struct WebSocket {
    stream: WebSocketStream<TcpStream>,
    unflushed: bool,
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket").finish_non_exhaustive()
    }
}

impl WebSocket {
    /// Opens the WebSocket transport, for session `sid` when upgrading.
    pub(crate) async fn connect(
        endpoint: &Endpoint,
        headers: &[(HeaderName, HeaderValue)],
        sid: Option<&str>,
    ) -> Result<Self, TransportError> {
        let uri = endpoint
            .websocket_uri(sid)
            .map_err(|_| TransportError::InvalidResponse("unusable websocket uri"))?;
        let mut builder = ClientBuilder::from_uri(uri);
        for (name, value) in headers {
            builder = builder.add_header(name.clone(), value.clone())?;
        }
        let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await?;
        let _ = tcp.set_nodelay(true);
        let (stream, _response) = builder.connect_on(tcp).await?;
        Ok(Self {
            stream,
            unflushed: false,
        })
    }

    /// The next packet; `None` once the server closed the WebSocket.
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Packet, TransportError>>> {
        loop {
            let message = match ready!(Pin::new(&mut self.stream).poll_next(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                Some(Ok(message)) => message,
            };
            if message.is_close() {
                return Poll::Ready(None);
            }
            if message.is_binary() {
                let bytes = bytes::Bytes::from(message.into_payload());
                return Poll::Ready(Some(Ok(Packet::Message(Message::Binary(bytes)))));
            }
            if message.is_text() {
                let bytes = bytes::Bytes::from(message.into_payload());
                let packet = Str::from_utf8(bytes).and_then(Packet::decode_text);
                return Poll::Ready(Some(packet.map_err(TransportError::from)));
            }
            // WebSocket pings and pongs: the stream answers pings itself.
        }
    }

    /// Writes every frame of `out`, then flushes; ready once all is sent.
    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut VecDeque<Frame>,
    ) -> Poll<Result<(), TransportError>> {
        while !out.is_empty() {
            ready!(Pin::new(&mut self.stream).poll_ready(cx))?;
            let Some(frame) = out.pop_front() else { break };
            Pin::new(&mut self.stream).start_send(to_message(frame))?;
            self.unflushed = true;
        }
        if self.unflushed {
            ready!(Pin::new(&mut self.stream).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Sends what `out` holds and a close frame. Gives up after a second.
    pub(crate) async fn close(mut self, mut out: VecDeque<Frame>) {
        let polite = async {
            std::future::poll_fn(|cx| self.poll_write(cx, &mut out)).await?;
            self.stream
                .send(tokio_websockets::Message::close(
                    Some(CloseCode::NORMAL_CLOSURE),
                    "",
                ))
                .await?;
            Ok::<_, TransportError>(())
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), polite).await;
    }
}

fn to_message(frame: Frame) -> tokio_websockets::Message {
    match frame {
        Frame::Text(text) => {
            // `Message::text` takes a `Payload`; `Str`'s bytes are UTF-8.
            tokio_websockets::Message::text(tokio_websockets::Payload::from(text.into_bytes()))
        }
        Frame::Binary(bytes) => tokio_websockets::Message::binary(bytes),
    }
}

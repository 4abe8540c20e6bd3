//! A raw WebSocket client (tokio-websockets), every step bounded by the
//! deadline.

use futures_util::{SinkExt, StreamExt};
use http::{HeaderName, HeaderValue};
use tokio::net::TcpStream;
use tokio_websockets::{ClientBuilder, MaybeTlsStream, Message, WebSocketStream};

use crate::{DEADLINE, within};

/// A client WebSocket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the server sent, as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
    /// A close frame: its code (1005 when the payload is empty) and reason.
    Close(u16, String),
    /// The connection ended without a close frame.
    End,
}

/// Opens a WebSocket to `uri` (`ws://…`) with extra request `headers`.
///
/// # Panics
///
/// When the handshake fails or takes longer than the deadline.
pub async fn connect(uri: &str, headers: &[(&str, &str)]) -> Ws {
    let mut builder = ClientBuilder::new().uri(uri).expect("a valid ws URI");
    for (name, value) in headers {
        builder = builder
            .add_header(
                HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                HeaderValue::from_str(value).expect("a header value"),
            )
            .expect("add a header");
    }
    let (ws, _) = within("a WebSocket handshake", builder.connect())
        .await
        .unwrap_or_else(|e| panic!("WebSocket handshake to {uri} failed: {e}"));
    ws
}

/// The next message (data or close frame); `None` once the stream ended.
pub async fn next(ws: &mut Ws) -> Option<Message> {
    match within("a WebSocket frame", ws.next()).await {
        Some(Ok(message)) => Some(message),
        Some(Err(_)) | None => None,
    }
}

/// The next frame, as a [`Frame`].
pub async fn frame(ws: &mut Ws) -> Frame {
    let Some(message) = next(ws).await else {
        return Frame::End;
    };
    if let Some((code, reason)) = message.as_close() {
        Frame::Close(u16::from(code), reason.to_owned())
    } else if message.is_binary() {
        Frame::Binary(message.as_payload().to_vec())
    } else if let Some(text) = message.as_text() {
        Frame::Text(text.to_owned())
    } else {
        Frame::End
    }
}

/// The next frame, which must be text.
pub async fn expect_text(ws: &mut Ws) -> String {
    match frame(ws).await {
        Frame::Text(text) => text,
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// The next frame, which must be binary.
pub async fn expect_binary(ws: &mut Ws) -> Vec<u8> {
    match frame(ws).await {
        Frame::Binary(bytes) => bytes,
        other => panic!("expected a binary frame, got {other:?}"),
    }
}

/// The next frame must be a close frame: its code (1005 when the payload is
/// empty) and reason.
pub async fn expect_close(ws: &mut Ws) -> (u16, String) {
    match frame(ws).await {
        Frame::Close(code, reason) => (code, reason),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

/// Skips Engine.IO pings (`2`) until a close frame arrives; returns as
/// [`expect_close`].
pub async fn close_after_pings(ws: &mut Ws) -> (u16, String) {
    loop {
        match frame(ws).await {
            Frame::Text(ping) if ping == "2" => {}
            Frame::Close(code, reason) => return (code, reason),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// Sends a text frame.
pub async fn send_text(ws: &mut Ws, text: &str) {
    assert!(try_send_text(ws, text).await, "send a text frame");
}

/// Sends a text frame, tolerating a connection the server already closed;
/// whether it went out.
pub async fn try_send_text(ws: &mut Ws, text: &str) -> bool {
    within("a WebSocket send", ws.send(Message::text(text.to_owned())))
        .await
        .is_ok()
}

/// Sends a binary frame.
pub async fn send_binary(ws: &mut Ws, bytes: &[u8]) {
    within("a WebSocket send", ws.send(Message::binary(bytes.to_vec())))
        .await
        .expect("send a binary frame");
}

/// Closes from the client side (close frame 1000) and reads until the
/// server's answer, so that the close completes.
pub async fn close(ws: &mut Ws) {
    let _ = within("a client close", ws.close()).await;
    let _ = tokio::time::timeout(DEADLINE, async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

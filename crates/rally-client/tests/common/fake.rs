//! A scripted Engine.IO server over WebSocket, for what real servers do not
//! do on demand: stop pinging, send garbage, show the upgrade request.

use futures_util::{SinkExt, StreamExt};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tokio_websockets::{Message, ServerBuilder, WebSocketStream};

use super::within;

/// One accepted WebSocket, with the request that opened it.
pub struct FakeConn {
    pub request: http::Request<()>,
    pub ws: WebSocketStream<TcpStream>,
}

/// A listener handing over each WebSocket it accepts.
pub struct FakeServer {
    pub port: u16,
    conns: mpsc::UnboundedReceiver<FakeConn>,
}

impl FakeServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("an address").port();
        let (tx, conns) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                if let Ok((request, ws)) = ServerBuilder::new().accept(stream).await {
                    let _ = tx.send(FakeConn { request, ws });
                }
            }
        });
        Self { port, conns }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The next WebSocket, opened with the handshake `0{...}` sent.
    pub async fn accept(&mut self, sid: &str, ping_interval: u64, ping_timeout: u64) -> FakeConn {
        let mut conn = within("a websocket", self.conns.recv())
            .await
            .expect("the listener lives");
        let open = format!(
            r#"0{{"sid":"{sid}","upgrades":[],"pingInterval":{ping_interval},"pingTimeout":{ping_timeout},"maxPayload":1000000}}"#
        );
        conn.send(&open).await;
        conn
    }
}

impl FakeConn {
    pub async fn send(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_owned()))
            .await
            .expect("the client reads");
    }

    /// The next text message from the client.
    pub async fn recv(&mut self) -> String {
        loop {
            let message = within("a message", self.ws.next())
                .await
                .expect("the client stays")
                .expect("a frame");
            if let Some(text) = message.as_text() {
                return text.to_owned();
            }
        }
    }

    /// Answers the namespace CONNECT the client sends.
    pub async fn accept_namespace(&mut self, socket_id: &str) {
        let connect = self.recv().await;
        assert!(connect.starts_with("40"), "{connect}");
        self.send(&format!(r#"40{{"sid":"{socket_id}"}}"#)).await;
    }
}

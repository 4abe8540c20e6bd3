//! `https://` and `wss://`: the client against Rally behind TLS and against
//! the official Node.js server on https, trusting a throwaway test CA, on
//! each transport; a certificate no trusted root signed is refused with an
//! error naming the problem; `danger_accept_invalid_certificates` takes it.

mod common;

use common::{Client, Kind, Mode, Rec, within};
use rally_client::{Args, Error, Manager, TransportError};
use rally_testkit::{https::HttpsServer, tls::TestCa};
use serde_json::json;

/// The error and its causes, as one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn exchange(kind: Kind, mode: Mode) {
    let ca = TestCa::new("exchange");
    let server = HttpsServer::start(kind, &ca.server_cert("server")).await;
    let mut client = Client::with(&server.url(), mode, |b| b.ca_certificates(ca.pem()));
    let (socket, mut rec) = client.socket("/");
    within("connect", socket.connect()).await.expect("connects");
    client.settle().await;
    socket
        .emit("message", Args::new().arg(&"over tls").arg(&1))
        .expect("emits");
    assert_eq!(
        rec.event("message-back").await,
        [json!("over tls"), json!(1)]
    );
    let reply = within(
        "the ack",
        socket.emit_with_ack("message-with-ack", Args::new().arg(&"ack me")),
    )
    .await
    .expect("acked");
    assert_eq!(reply.arg::<String>(0).expect("a string"), "ack me");
    within("close", client.manager.close()).await;
}

#[tokio::test]
async fn rally_polling() {
    exchange(Kind::Rally, Mode::Polling).await;
}

#[tokio::test]
async fn rally_websocket() {
    exchange(Kind::Rally, Mode::WebSocket).await;
}

#[tokio::test]
async fn rally_upgrade() {
    exchange(Kind::Rally, Mode::Upgrade).await;
}

#[tokio::test]
async fn node_polling() {
    exchange(Kind::Node, Mode::Polling).await;
}

#[tokio::test]
async fn node_websocket() {
    exchange(Kind::Node, Mode::WebSocket).await;
}

#[tokio::test]
async fn node_upgrade() {
    exchange(Kind::Node, Mode::Upgrade).await;
}

/// A server whose certificate another CA signed: the connection fails, on
/// either transport, with rustls' `UnknownIssuer`, also given to
/// `connect_error` handlers.
async fn wrong_ca(kind: Kind, mode: Mode) {
    let ca = TestCa::new("server-ca");
    let other = TestCa::new("other-ca");
    let server = HttpsServer::start(kind, &ca.server_cert("server")).await;
    let client = Client::with(&server.url(), mode, |b| {
        b.ca_certificates(other.pem()).reconnection(false)
    });
    let (socket, mut rec) = client.socket("/");
    let (errors_tx, mut errors) = tokio::sync::mpsc::unbounded_channel();
    socket.on_connect_error(move |_, error| {
        let _ = errors_tx.send(chain(&error));
        async {}
    });
    let error = within("the refusal", socket.connect())
        .await
        .expect_err("an untrusted certificate is refused");
    assert!(
        matches!(&error, Error::Transport(TransportError::Tls(_))),
        "{error:?}"
    );
    let text = chain(&error);
    assert!(
        text.contains("invalid peer certificate: UnknownIssuer"),
        "{text}"
    );
    let seen = within("connect_error", errors.recv())
        .await
        .expect("a connect_error");
    assert!(seen.contains("UnknownIssuer"), "{seen}");
    rec.wait("connect_error", |r| matches!(r, Rec::ConnectError(..)))
        .await;
    assert!(!socket.connected());
    client.manager.close().await;
}

#[tokio::test]
async fn wrong_ca_is_refused_rally_polling() {
    wrong_ca(Kind::Rally, Mode::Polling).await;
}

#[tokio::test]
async fn wrong_ca_is_refused_node_websocket() {
    wrong_ca(Kind::Node, Mode::WebSocket).await;
}

/// A certificate for another name, from a trusted CA: refused, the names
/// given.
#[tokio::test]
async fn wrong_name_is_refused() {
    let ca = TestCa::new("wrong-name");
    let cert = ca.cert_for("elsewhere", &["elsewhere.example"]);
    let server = HttpsServer::start(Kind::Rally, &cert).await;
    let socket = Manager::builder(&server.url())
        .ca_certificates(ca.pem())
        .reconnection(false)
        .socket()
        .expect("a socket");
    let error = within("the refusal", socket.connect())
        .await
        .expect_err("a certificate for another name is refused");
    let text = chain(&error);
    assert!(
        text.contains("invalid peer certificate: certificate not valid for name \"localhost\""),
        "{text}"
    );
    socket.manager().close().await;
}

/// Without the CA, `danger_accept_invalid_certificates` connects all the
/// same, upgrade included.
#[tokio::test]
async fn danger_accept_invalid_certificates_connects() {
    let ca = TestCa::new("untrusted");
    for kind in [Kind::Rally, Kind::Node] {
        let server = HttpsServer::start(kind, &ca.server_cert("server")).await;
        let mut client = Client::with(&server.url(), Mode::Upgrade, |b| {
            b.danger_accept_invalid_certificates(true)
        });
        let (socket, mut rec) = client.socket("/");
        within("connect", socket.connect()).await.expect("connects");
        client.settle().await;
        socket.emit("message", "insecure").expect("emits");
        assert_eq!(rec.event("message-back").await, [json!("insecure")]);
        within("close", client.manager.close()).await;
    }
}

/// `wss://` is `https://` for the client: the same server, the same
/// transports.
#[tokio::test]
async fn wss_urls() {
    let ca = TestCa::new("wss");
    let server = HttpsServer::start(Kind::Node, &ca.server_cert("server")).await;
    let url = format!("wss://localhost:{}", server.port);
    let mut client = Client::with(&url, Mode::WebSocket, |b| b.ca_certificates(ca.pem()));
    let (socket, _rec) = client.socket("/");
    within("connect", socket.connect()).await.expect("connects");
    client.settle().await;
    within("close", client.manager.close()).await;
}

/// A transport the server drops: the client sees the same reason as on
/// plain TCP, and reconnects over TLS with the manager's configuration.
async fn reconnects(mode: Mode) {
    let ca = TestCa::new("reconnect");
    let server = HttpsServer::start(Kind::Node, &ca.server_cert("server")).await;
    let mut client = Client::with(&server.url(), mode, |b| b.ca_certificates(ca.pem()));
    let (socket, mut rec) = client.socket("/");
    within("connect", socket.connect()).await.expect("connects");
    client.settle().await;
    socket.emit("drop-transport", ()).expect("emits");
    assert_eq!(
        rec.disconnected().await,
        rally_client::DisconnectReason::TransportClose
    );
    client.reconnected().await;
    client.settle().await;
    socket.emit("message", "again").expect("emits");
    assert_eq!(rec.event("message-back").await, [json!("again")]);
    within("close", client.manager.close()).await;
}

#[tokio::test]
async fn reconnects_polling() {
    reconnects(Mode::Polling).await;
}

#[tokio::test]
async fn reconnects_websocket() {
    reconnects(Mode::WebSocket).await;
}

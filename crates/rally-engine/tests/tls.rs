//! `serve_tls`: sessions over TLS are `secure`, a plain HTTP request to the
//! TLS port gets a 400 and the server goes on, a stalled handshake is
//! closed after the handshake timeout without a session, and a reloaded
//! certificate is presented to new connections only.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use rally_engine::{
    Config, EngineIo, Handler, Message, Session,
    tls::{ReloadableCert, Tls, rustls},
};
use rally_testkit::{lossy, tls::TestCa, within};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_rustls::TlsConnector;

/// Records whether each session's handshake said `secure`.
#[derive(Default, Clone)]
struct Secure(Arc<Mutex<Vec<bool>>>);

impl Handler for Secure {
    fn on_open(&self, session: &Arc<Session>) {
        self.0.lock().unwrap().push(session.handshake().secure);
    }
    fn on_message(&self, _: &Arc<Session>, _: Message) {}
}

struct Server {
    addr: SocketAddr,
    tls: Tls,
    engine: EngineIo<Secure>,
    secure: Secure,
}

/// `serve_tls` on a free port with the certificate `cert`.
async fn start(cert: Arc<ReloadableCert>, handshake_timeout: Duration) -> Server {
    let secure = Secure::default();
    let engine = EngineIo::new(Config::default(), secure.clone());
    let tls = Tls::from_resolver(cert).handshake_timeout(handshake_timeout);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(rally_engine::serve_tls(
        listener,
        tls.clone(),
        engine.clone(),
    ));
    Server {
        addr,
        tls,
        engine,
        secure,
    }
}

/// A rustls client trusting only `ca`, offering HTTP/1.1.
#[expect(
    deprecated,
    reason = "the server's provider, ring, which rustls deprecates for its lack of post-quantum key exchange"
)]
fn connector(ca: &TestCa) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(ca.ca_path()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsConnector::from(Arc::new(config))
}

/// An Engine.IO polling handshake over TLS trusting `ca`: the response, or
/// the TLS error.
async fn handshake(addr: SocketAddr, ca: &TestCa) -> Result<String, std::io::Error> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = connector(ca).connect(name, tcp).await?;
    tls.write_all(
        b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
    )
    .await?;
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await?;
    Ok(lossy(&response))
}

fn assert_opened(response: &str) {
    assert!(
        response.starts_with("HTTP/1.1 200") && response.contains("\"sid\""),
        "{response}"
    );
}

#[tokio::test]
async fn a_session_over_tls_is_secure() {
    let ca = TestCa::new("secure");
    let files = ca.server_cert("server");
    let server = start(
        ReloadableCert::from_pem_files(&files.cert, &files.key).unwrap(),
        Duration::from_secs(10),
    )
    .await;
    let response = within("a handshake over tls", handshake(server.addr, &ca))
        .await
        .unwrap();
    assert_opened(&response);
    assert_eq!(*server.secure.0.lock().unwrap(), [true]);
}

#[tokio::test]
async fn plain_http_to_the_tls_port_gets_a_400_and_the_server_goes_on() {
    let ca = TestCa::new("plain");
    let files = ca.server_cert("server");
    let server = start(
        ReloadableCert::from_pem_files(&files.cert, &files.key).unwrap(),
        Duration::from_secs(10),
    )
    .await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    within("the 400 and the close", tcp.read_to_end(&mut response))
        .await
        .unwrap();
    let response = lossy(&response);
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains("https://"), "{response}");
    assert_eq!(server.engine.session_count(), 0);
    assert_eq!(server.tls.handshake_failures(), 1);
    let response = within("a handshake over tls", handshake(server.addr, &ca))
        .await
        .unwrap();
    assert_opened(&response);
}

#[tokio::test]
async fn a_stalled_handshake_is_closed_after_the_timeout() {
    let ca = TestCa::new("stall");
    let files = ca.server_cert("server");
    let server = start(
        ReloadableCert::from_pem_files(&files.cert, &files.key).unwrap(),
        Duration::from_millis(300),
    )
    .await;
    // One connection sends nothing, the other the start of a TLS record.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut partial = TcpStream::connect(server.addr).await.unwrap();
    partial.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    for stream in [&mut silent, &mut partial] {
        let mut rest = Vec::new();
        // Closed by the server: end of stream (or a reset).
        let _ = within("the close after the timeout", stream.read_to_end(&mut rest)).await;
        assert!(rest.is_empty(), "{}", lossy(&rest));
    }
    assert_eq!(server.tls.handshake_failures(), 2);
    assert_eq!(server.engine.session_count(), 0);
    assert!(server.secure.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_reloaded_certificate_is_presented_to_new_connections() {
    let old_ca = TestCa::new("old");
    let new_ca = TestCa::new("new");
    let files = old_ca.server_cert("server");
    let cert = ReloadableCert::from_pem_files(&files.cert, &files.key).unwrap();
    let server = start(cert.clone(), Duration::from_secs(10)).await;
    assert_opened(&handshake(server.addr, &old_ca).await.unwrap());

    // A key that is not PEM: the reload fails, the old pair stays.
    std::fs::write(&files.key, "not a key").unwrap();
    let error = cert.reload().unwrap_err().to_string();
    assert!(error.contains("server-key.pem"), "{error}");
    assert_opened(&handshake(server.addr, &old_ca).await.unwrap());

    // The files replaced by a pair of the new CA (as an ACME client renews).
    let renewed = new_ca.server_cert("renewed");
    std::fs::copy(&renewed.cert, &files.cert).unwrap();
    std::fs::copy(&renewed.key, &files.key).unwrap();
    cert.reload().unwrap();
    let refused = handshake(server.addr, &old_ca).await.unwrap_err();
    assert!(refused.to_string().contains("UnknownIssuer"), "{refused}");
    assert_opened(&handshake(server.addr, &new_ca).await.unwrap());
}

#[tokio::test]
async fn shutdown_ends_handshakes_and_idle_connections() {
    let ca = TestCa::new("shutdown");
    let files = ca.server_cert("server");
    let tls = Tls::from_resolver(ReloadableCert::from_pem_files(&files.cert, &files.key).unwrap());
    let engine = EngineIo::new(Config::default(), Secure::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(rally_engine::serve_tls_with_shutdown(
        listener,
        tls,
        engine,
        async move {
            let _ = stopped.await;
        },
    ));
    // A connection in its handshake, and one idle between requests.
    let mut shaking = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut idle = within("a tls connection", connector(&ca).connect(name, tcp))
        .await
        .unwrap();
    idle.write_all(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    stop.send(()).unwrap();
    within("serve_tls_with_shutdown returns", serving)
        .await
        .unwrap()
        .unwrap();
    let mut rest = Vec::new();
    let _ = within(
        "the handshaking connection closed",
        shaking.read_to_end(&mut rest),
    )
    .await;
    let _ = within("the idle connection closed", idle.read_to_end(&mut rest)).await;
}

#[test]
fn a_key_of_another_certificate_is_refused() {
    let ca = TestCa::new("mismatch");
    let one = ca.server_cert("one");
    let two = ca.server_cert("two");
    let error = ReloadableCert::from_pem_files(&one.cert, &two.key)
        .unwrap_err()
        .to_string();
    assert!(error.contains("two-key.pem"), "{error}");
    let error = ReloadableCert::from_pem_files(&one.key, &one.key)
        .unwrap_err()
        .to_string();
    assert!(error.contains("no certificate"), "{error}");
}

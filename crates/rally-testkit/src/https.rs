//! The interop test server over TLS (`https://`, `wss://`), for the tests
//! of TLS clients: the official Node.js server on `https.createServer`, or
//! Rally behind a TLS-terminating proxy of the test's own (rustls, ring).
//!
//! ```no_run
//! # async fn run() {
//! use rally_testkit::{https::HttpsServer, interop::Kind, tls::TestCa};
//!
//! let ca = TestCa::new("doc");
//! let server = HttpsServer::start(Kind::Node, &ca.server_cert("server")).await;
//! assert!(server.url().starts_with("https://localhost:"));
//! # }
//! ```

use std::{net::SocketAddr, sync::Arc};

use rustls::{
    ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
};
use tokio::{
    net::{TcpListener, TcpStream},
    task::AbortHandle,
};
use tokio_rustls::TlsAcceptor;

use crate::{
    interop::{InteropServer, Kind},
    node::NodeServer,
    tls::CertFiles,
};

/// A rustls server configuration serving `cert` (ALPN `http/1.1`).
///
/// # Panics
///
/// When the files cannot be read or do not hold a certificate and a key.
pub fn server_config(cert: &CertFiles) -> Arc<ServerConfig> {
    let chain = CertificateDer::pem_file_iter(&cert.cert)
        .expect("the certificate file")
        .collect::<Result<Vec<_>, _>>()
        .expect("PEM certificates");
    let key = PrivateKeyDer::from_pem_file(&cert.key).expect("a PEM private key");
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("a usable certificate and key");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A TLS-terminating proxy on 127.0.0.1: each connection's TLS handshake
/// is made with the certificate given, and the plaintext goes to `target`.
/// Stops (every connection cut) when dropped.
#[derive(Debug)]
pub struct TlsProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    accept: AbortHandle,
}

impl TlsProxy {
    /// A proxy in front of `target`, on a free port, serving `cert`.
    ///
    /// # Panics
    ///
    /// As [`server_config`], or when no port can be bound.
    pub async fn start(cert: &CertFiles, target: SocketAddr) -> Self {
        let acceptor = TlsAcceptor::from(server_config(cert));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("a local address");
        let accept = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                conns.spawn(async move {
                    let _ = tcp.set_nodelay(true);
                    // A failed handshake (a client refusing the
                    // certificate) just ends this connection.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut upstream) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = upstream.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                });
            }
        })
        .abort_handle();
        Self { addr, accept }
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The interop test server on `https://localhost:<port>`; stopped when
/// dropped.
#[derive(Debug)]
pub struct HttpsServer {
    /// Which implementation it is.
    pub kind: Kind,
    /// The TLS port.
    pub port: u16,
    _rally: Option<(InteropServer, TlsProxy)>,
    _node: Option<NodeServer>,
}

impl HttpsServer {
    /// Starts a server of `kind` serving `cert`: Node.js with
    /// `--cert`/`--key`, or Rally (as [`InteropServer`] starts it) behind a
    /// [`TlsProxy`].
    pub async fn start(kind: Kind, cert: &CertFiles) -> Self {
        match kind {
            Kind::Rally => {
                let rally = InteropServer::start(Kind::Rally).await;
                let proxy =
                    TlsProxy::start(cert, SocketAddr::from(([127, 0, 0, 1], rally.port))).await;
                Self {
                    kind,
                    port: proxy.addr.port(),
                    _rally: Some((rally, proxy)),
                    _node: None,
                }
            }
            Kind::Node => {
                let cert_arg = format!("--cert={}", cert.cert.display());
                let key_arg = format!("--key={}", cert.key.display());
                let node = NodeServer::start_with(
                    "ref-socket-server.mjs",
                    0,
                    &["json", &cert_arg, &key_arg],
                )
                .await;
                Self {
                    kind,
                    port: node.port,
                    _rally: None,
                    _node: Some(node),
                }
            }
        }
    }

    /// `https://localhost:<port>` (the test certificates name `localhost`).
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }
}

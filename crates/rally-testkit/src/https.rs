//! The interop test server over TLS (`https://`, `wss://`), for the tests
//! of TLS clients: the official Node.js server on `https.createServer`, or
//! Rally on [`rally::serve_tls`] (as `rally serve --tls-cert` runs it).
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

use std::sync::Arc;

use rustls::{
    ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
};

use crate::{
    interop::{Kind, ThreadServer, protocol_server},
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

/// The interop test server on `https://localhost:<port>`; stopped when
/// dropped.
#[derive(Debug)]
pub struct HttpsServer {
    /// Which implementation it is.
    pub kind: Kind,
    /// The TLS port.
    pub port: u16,
    _rally: Option<ThreadServer>,
    _node: Option<NodeServer>,
}

impl HttpsServer {
    /// Starts a server of `kind` serving `cert`: Node.js with
    /// `--cert`/`--key`, or Rally (the interop server
    /// [`InteropServer`](crate::interop::InteropServer) starts) on
    /// [`rally::serve_tls`], ALPN `h2` and `http/1.1`.
    pub async fn start(kind: Kind, cert: &CertFiles) -> Self {
        match kind {
            Kind::Rally => {
                let mut config = Arc::unwrap_or_clone(server_config(cert));
                config.alpn_protocols.clear();
                let tls = rally::tls::Tls::new(Arc::new(config));
                let rally = tokio::task::spawn_blocking(move || {
                    ThreadServer::start_tls(0, tls, || protocol_server(rally::Parser::Json))
                })
                .await
                .expect("the server thread starts");
                Self {
                    kind,
                    port: rally.port,
                    _rally: Some(rally),
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

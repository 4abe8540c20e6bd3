//! TLS for [`serve_tls`](crate::serve_tls): HTTPS and WSS on one port, with
//! rustls (on the `ring` crypto provider). Behind the `tls` feature.
//!
//! [`Tls`] carries the rustls [`ServerConfig`] and the handshake's time
//! limit; [`ReloadableCert`] is a certificate and key read from PEM files
//! that can be read again while the server runs (on SIGHUP, after an ACME
//! client renewed them) without dropping a connection.
//!
//! ```no_run
//! use rally_engine::tls::{ReloadableCert, Tls};
//!
//! # async fn run(engine: rally_engine::EngineIo<impl rally_engine::Handler>) -> Result<(), Box<dyn std::error::Error>> {
//! let cert = ReloadableCert::from_pem_files("cert.pem", "key.pem")?;
//! let tls = Tls::from_resolver(cert.clone());
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:443").await?;
//! // Later, from another task: `cert.reload()` picks up renewed files.
//! rally_engine::serve_tls(listener, tls, engine).await?;
//! # Ok(())
//! # }
//! ```

mod reload;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

pub use reload::{ReloadableCert, TlsError};
pub use tokio_rustls::rustls;

use rustls::{ServerConfig, server::ResolvesServerCert};

/// The ALPN names [`Tls`] offers when the given config offers none:
/// HTTP/2 first (long-polling requests share one connection), then
/// HTTP/1.1 (WebSocket upgrades).
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// How [`serve_tls`](crate::serve_tls) terminates TLS: the rustls server
/// config and the time a client has to complete its handshake.
///
/// Cloning is cheap (the config is shared), and clones count handshake
/// failures together.
#[derive(Debug, Clone)]
pub struct Tls {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) handshake_timeout: Duration,
    failures: Arc<AtomicU64>,
}

impl Tls {
    /// Terminates TLS with `config`. When it offers no ALPN protocol, `h2`
    /// and `http/1.1` are offered; a connection that chose `h2` is served
    /// over HTTP/2, any other over HTTP/1.1 with upgrades (WebSocket).
    #[must_use]
    pub fn new(config: Arc<ServerConfig>) -> Self {
        let config = if config.alpn_protocols.is_empty() {
            let mut config = Arc::unwrap_or_clone(config);
            config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
            Arc::new(config)
        } else {
            config
        };
        Self {
            config,
            handshake_timeout: Duration::from_secs(10),
            failures: Arc::default(),
        }
    }

    /// Terminates TLS 1.2 and 1.3 with the certificate `resolver` picks
    /// (a [`ReloadableCert`], or any rustls resolver), no client
    /// certificates, on the `ring` provider, with ALPN as in [`new`](Self::new).
    #[must_use]
    pub fn from_resolver(resolver: Arc<dyn ResolvesServerCert>) -> Self {
        let provider = Arc::new(ring_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions")
            .with_no_client_auth()
            .with_cert_resolver(resolver);
        Self::new(Arc::new(config))
    }

    /// How long a client has, from the moment its connection is accepted,
    /// to complete the TLS handshake; past it, the connection is closed.
    /// Default: 10 s.
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The config connections are accepted with (ALPN included).
    #[must_use]
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// How many connections ended before their TLS handshake completed
    /// (timed out, not TLS, refused by rustls), counted by every clone of
    /// this value since it was made.
    #[must_use]
    pub fn handshake_failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Counts one connection that ended before its handshake completed.
    pub(crate) fn count_failure(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }
}

/// rustls' provider on `ring`: it builds with the C compiler every machine
/// has, where `aws-lc-rs` wants cmake and builds for minutes.
#[expect(
    deprecated,
    reason = "rustls 0.23.48 deprecates ring's provider for its lack of post-quantum key \
              exchange; ring is kept for its build, and classical X25519/P-256 remain"
)]
pub(crate) fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

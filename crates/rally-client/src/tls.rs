//! TLS for `https://` and `wss://` URLs: one rustls configuration per
//! manager (ring as the crypto provider, ALPN `http/1.1`), trusting the
//! platform's roots and the certificates the application adds, or, for
//! development only, any certificate at all.

use std::{
    fmt,
    sync::{Arc, OnceLock},
};

use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature},
    pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject},
};
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, client::TlsStream};

use crate::{Error, TransportError};

/// What the application said about trust, as the builder gathered it.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustOptions {
    /// PEM documents of extra root certificates.
    pub(crate) extra_roots: Vec<Vec<u8>>,
    /// Accept any certificate (development only).
    pub(crate) accept_invalid: bool,
}

/// The TLS side of an endpoint: the manager's configuration and the name the
/// server's certificate must carry (also sent as SNI when it is a DNS name).
#[derive(Clone)]
pub(crate) struct Tls {
    connector: TlsConnector,
    name: ServerName<'static>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// The configuration for a server named `host` (a DNS name or an IP
    /// address), built once: every request of the manager shares it.
    pub(crate) fn new(host: &str, trust: &TrustOptions) -> Result<Self, Error> {
        let name = ServerName::try_from(host)
            .map_err(|_| Error::InvalidUrl(format!("{host}: not a valid tls server name")))?
            .to_owned();
        Ok(Self {
            connector: TlsConnector::from(Arc::new(client_config(trust)?)),
            name,
        })
    }

    /// Runs the TLS handshake on `tcp`.
    pub(crate) async fn handshake(
        &self,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, TransportError> {
        self.connector
            .connect(self.name.clone(), tcp)
            .await
            .map_err(handshake_error)
    }
}

/// A failed handshake as the client reports it: rustls' own error (which
/// names the certificate problem) when it is one, else the i/o error.
fn handshake_error(e: std::io::Error) -> TransportError {
    let kind = e.kind();
    match e.into_inner() {
        Some(inner) => match inner.downcast::<rustls::Error>() {
            Ok(tls) => TransportError::Tls(Arc::new(*tls)),
            Err(other) => std::io::Error::new(kind, other).into(),
        },
        None => std::io::Error::from(kind).into(),
    }
}

/// The crypto provider: ring, named here rather than left to the process
/// default, so that another provider linked into the program changes
/// nothing.
#[expect(
    deprecated,
    reason = "rustls deprecates ring's provider for lacking post-quantum key exchange; ring is \
              the project's choice all the same: it builds with the C compiler every machine \
              has, where aws-lc-rs wants cmake"
)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_config(trust: &TrustOptions) -> Result<ClientConfig, Error> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::InvalidOption(format!("tls: {e}")))?;
    let mut config = if trust.accept_invalid {
        tracing::warn!(
            "TLS certificate verification is disabled (danger_accept_invalid_certificates): \
             the connection can be intercepted; never use this in production"
        );
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(roots(&trust.extra_roots)?)
            .with_no_client_auth()
    };
    // The WebSocket upgrade needs HTTP/1.1, and polling speaks it too.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The platform's roots, read once per process: reading and parsing them
/// takes milliseconds, which a program making many managers should pay
/// once. (Roots added to the system later are seen after a restart.)
fn platform_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            tracing::debug!(%error, "a platform root certificate could not be loaded");
        }
        let (_, unusable) = roots.add_parsable_certificates(native.certs);
        if unusable > 0 {
            tracing::debug!(unusable, "platform root certificates skipped");
        }
        roots
    })
}

/// The platform's roots, and the extra ones.
fn roots(extra: &[Vec<u8>]) -> Result<RootCertStore, Error> {
    let mut roots = platform_roots().clone();
    for pem in extra {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Error::InvalidOption(format!("ca certificates: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| Error::InvalidOption(format!("ca certificate: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(Error::InvalidOption(
                "ca certificates: no PEM certificate found".into(),
            ));
        }
    }
    Ok(roots)
}

/// The verifier of `danger_accept_invalid_certificates`: any certificate
/// chain for any name is taken; the handshake's signatures are still
/// checked (against the certificate offered, whoever it belongs to).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pem_and_names_are_refused() {
        let trust = TrustOptions {
            extra_roots: vec![b"not a certificate".to_vec()],
            accept_invalid: false,
        };
        let e = Tls::new("localhost", &trust).unwrap_err();
        assert!(matches!(e, Error::InvalidOption(_)), "{e}");
        assert!(matches!(
            Tls::new("bad name!", &TrustOptions::default()),
            Err(Error::InvalidUrl(_))
        ));
        let config = client_config(&TrustOptions {
            extra_roots: Vec::new(),
            accept_invalid: true,
        })
        .unwrap();
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
    }
}

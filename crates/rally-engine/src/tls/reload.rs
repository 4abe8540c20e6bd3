//! A certificate and key from PEM files, read again on request.

use std::{
    fmt,
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
};

use super::rustls::{
    self,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};

/// Why a certificate and key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read or is not PEM.
    #[error("{}: {source}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// The certificate file holds no certificate.
    #[error("{}: no certificate in the file", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key is of a kind rustls cannot sign with, or does not match
    /// the certificate.
    #[error("{}: {source}", path.display())]
    Key {
        /// The key's file.
        path: PathBuf,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
}

/// A certificate chain and its private key, read from PEM files, that
/// [`reload`](Self::reload) reads again: the handshakes after a reload
/// present the new certificate, the connections already open are left as
/// they are. A rustls certificate resolver, for
/// [`Tls::from_resolver`](super::Tls::from_resolver).
///
/// ```no_run
/// use rally_engine::tls::ReloadableCert;
///
/// # fn run() -> Result<(), rally_engine::tls::TlsError> {
/// let cert = ReloadableCert::from_pem_files("cert.pem", "key.pem")?;
/// // ... the files are renewed ...
/// cert.reload()?;
/// # Ok(())
/// # }
/// ```
pub struct ReloadableCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for ReloadableCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadableCert")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

impl ReloadableCert {
    /// Reads the certificate chain in `cert` (PEM, the server's certificate
    /// first, then its intermediates, as ACME clients write `fullchain.pem`)
    /// and the private key in `key` (PEM: PKCS#8, PKCS#1 or SEC1).
    ///
    /// # Errors
    ///
    /// When a file cannot be read, holds no certificate or key, or the key
    /// does not match the certificate.
    pub fn from_pem_files(
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Arc<Self>, TlsError> {
        let (cert_path, key_path) = (cert.as_ref().to_owned(), key.as_ref().to_owned());
        let current = load(&cert_path, &key_path)?;
        Ok(Arc::new(Self {
            cert_path,
            key_path,
            current: RwLock::new(current),
        }))
    }

    /// Reads the files again. On success the next handshakes present the
    /// new certificate; on failure the one loaded before stays.
    ///
    /// # Errors
    ///
    /// As [`from_pem_files`](Self::from_pem_files).
    pub fn reload(&self) -> Result<(), TlsError> {
        let loaded = load(&self.cert_path, &self.key_path)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = loaded;
        Ok(())
    }

    /// The certificate and key handshakes present now.
    #[must_use]
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The chain in `cert_path` and the key in `key_path`, checked to match.
fn load(cert_path: &Path, key_path: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let pem = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Pem { path, source }
    };
    let chain = CertificateDer::pem_file_iter(cert_path)
        .map_err(pem(cert_path))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem(cert_path))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert_path.to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(pem(key_path))?;
    let provider = super::ring_provider();
    let certified =
        CertifiedKey::from_der(chain, key, &provider).map_err(|source| TlsError::Key {
            path: key_path.to_owned(),
            source,
        })?;
    Ok(Arc::new(certified))
}

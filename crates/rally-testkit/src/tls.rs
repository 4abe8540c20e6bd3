//! Throwaway certificates for the TLS tests: a certificate authority made
//! for one test, and server certificates it signs for the loopback names
//! (`localhost`, `127.0.0.1`, `::1`), written as PEM files in a temporary
//! folder of their own. Nothing is trusted outside the test that made them.
//!
//! ```
//! let ca = rally_testkit::tls::TestCa::new("doc");
//! let server = ca.server_cert("server");
//! assert!(std::fs::read_to_string(&server.cert).unwrap().contains("BEGIN CERTIFICATE"));
//! assert!(ca.pem().contains("BEGIN CERTIFICATE"));
//! ```

use std::{
    fs,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// A certificate authority of one test, with its folder of PEM files
/// (removed on drop).
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: PathBuf,
    ca_path: PathBuf,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The PEM files of a certificate signed by a [`TestCa`].
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// The certificate (PEM), followed by nothing else: the CA is the root.
    pub cert: PathBuf,
    /// Its private key (PKCS#8 PEM).
    pub key: PathBuf,
}

impl TestCa {
    /// A new authority named `name` (the name shows in its subject, which
    /// helps reading a verification error), with a fresh temporary folder.
    ///
    /// # Panics
    ///
    /// When the key cannot be made or the folder written.
    pub fn new(name: &str) -> TestCa {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rally-tls-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).expect("a temporary folder for the test certificates");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("Rally test CA {name}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("a CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("a self-signed CA");
        let ca_path = dir.join("ca.pem");
        fs::write(&ca_path, issuer.pem()).expect("the CA file");
        TestCa {
            issuer,
            dir,
            ca_path,
        }
    }

    /// The authority's certificate, PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// The file holding [`pem`](Self::pem), for `--ca`-style options.
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// The folder the files live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A server certificate for `localhost`, `127.0.0.1` and `::1`, signed
    /// by this authority, written as `<stem>.pem` and `<stem>-key.pem`.
    ///
    /// # Panics
    ///
    /// When the certificate cannot be made or written.
    pub fn server_cert(&self, stem: &str) -> CertFiles {
        self.cert_for(stem, &["localhost", "127.0.0.1", "::1"])
    }

    /// As [`server_cert`](Self::server_cert), for the given DNS names and
    /// IP addresses.
    ///
    /// # Panics
    ///
    /// When a name is not a valid DNS name or address, or the files cannot
    /// be written.
    pub fn cert_for(&self, stem: &str, names: &[&str]) -> CertFiles {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("valid names");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("Rally test server {stem}"));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().expect("a server key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("a certificate signed by the test CA");
        let files = CertFiles {
            cert: self.dir.join(format!("{stem}.pem")),
            key: self.dir.join(format!("{stem}-key.pem")),
        };
        fs::write(&files.cert, cert.pem()).expect("the certificate file");
        fs::write(&files.key, key.serialize_pem()).expect("the key file");
        files
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

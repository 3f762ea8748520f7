//! The contract API over HTTPS. The bridge refuses a connector URL that is not `https://` unless
//! it is on loopback, so a connector the bridge reaches over a network (from AWS, always) serves
//! TLS: itself, with `server.tls_cert_file` and `server.tls_key_file`, or behind a proxy. The
//! files are read again when they change (checked at most once a minute, on a handshake), so a
//! renewed certificate needs no restart; a renewal that cannot be read keeps the one in use and
//! says why in the log. [`crate::serve`] serves the API with this configuration.

use crate::config::{ConfigError, err as config_err};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio_rustls::rustls::crypto::{CryptoProvider, aws_lc_rs};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{ServerConfig, version};

/// How often a handshake may look whether the files changed.
const RELOAD_CHECK: Duration = Duration::from_secs(60);

/// The PEM files of the API's certificate (chain, leaf first) and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why the certificate cannot be used; names the file and the setting.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("server.tls_cert_file {}: {problem}", path.display())]
    Cert { path: PathBuf, problem: String },
    #[error("server.tls_key_file {}: {problem}", path.display())]
    Key { path: PathBuf, problem: String },
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

/// Reads and checks the files: a chain, a key the provider can use, and a key that matches the
/// certificate.
pub fn load(files: &TlsFiles) -> Result<Arc<CertifiedKey>, TlsError> {
    let cert_err = |problem: String| TlsError::Cert {
        path: files.cert.clone(),
        problem,
    };
    let key_err = |problem: String| TlsError::Key {
        path: files.key.clone(),
        problem,
    };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| cert_err(format!("cannot be read: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(cert_err("holds no certificate".to_string()));
    }
    // The key's own error names neither its bytes nor the passphrase.
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| key_err(format!("no PEM private key in it ({e})")))?;
    let certified = CertifiedKey::from_der(chain, key, &provider())
        .map_err(|e| key_err(format!("cannot be used with the certificate: {e}")))?;
    Ok(Arc::new(certified))
}

/// Both files or neither; read now, so `check-config` finds a wrong path, a key that does not
/// match, or a file that is no PEM before the bridge does.
pub(crate) fn files_of(
    cert: Option<String>,
    key: Option<String>,
    base: &Path,
) -> Result<Option<TlsFiles>, ConfigError> {
    let files = match (cert, key) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => TlsFiles {
            cert: base.join(cert),
            key: base.join(key),
        },
        (Some(_), None) => {
            return Err(config_err(
                "server.tls_key_file",
                "required with server.tls_cert_file",
            ));
        }
        (None, Some(_)) => {
            return Err(config_err(
                "server.tls_cert_file",
                "required with server.tls_key_file",
            ));
        }
    };
    match load(&files) {
        Ok(_) => Ok(Some(files)),
        Err(TlsError::Cert { path, problem }) => Err(config_err(
            "server.tls_cert_file",
            format!("{}: {problem}", path.display()),
        )),
        Err(TlsError::Key { path, problem }) => Err(config_err(
            "server.tls_key_file",
            format!("{}: {problem}", path.display()),
        )),
    }
}

/// The certificate in use, read again when the files change.
#[derive(Debug)]
struct Reloading {
    files: TlsFiles,
    current: Mutex<Current>,
    /// [`RELOAD_CHECK`]; zero in the tests.
    check_every: Duration,
}

#[derive(Debug)]
struct Current {
    key: Arc<CertifiedKey>,
    stamps: (Option<SystemTime>, Option<SystemTime>),
    checked: Instant,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl Reloading {
    fn new(files: &TlsFiles, check_every: Duration) -> Result<Self, TlsError> {
        Ok(Self {
            current: Mutex::new(Current {
                key: load(files)?,
                stamps: (modified(&files.cert), modified(&files.key)),
                checked: Instant::now(),
            }),
            files: files.clone(),
            check_every,
        })
    }

    fn stamps(&self) -> (Option<SystemTime>, Option<SystemTime>) {
        (modified(&self.files.cert), modified(&self.files.key))
    }

    fn key(&self) -> Arc<CertifiedKey> {
        // A poisoned lock only means a panic while swapping an Arc: the value is whole.
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.checked.elapsed() >= self.check_every {
            current.checked = Instant::now();
            let stamps = self.stamps();
            if stamps != current.stamps {
                match load(&self.files) {
                    Ok(key) => {
                        tracing::info!(cert = %self.files.cert.display(), "the API's TLS certificate was renewed: in use from now");
                        current.key = key;
                        current.stamps = stamps;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the API's TLS files changed but cannot be used; the certificate in use stays");
                    }
                }
            }
        }
        current.key.clone()
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.key())
    }
}

/// The API's TLS configuration (TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1), its certificate read now.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let resolver = Reloading::new(files, RELOAD_CHECK)?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&version::TLS13, &version::TLS12])
        .map_err(|e| TlsError::Cert {
            path: files.cert.clone(),
            problem: format!("no usable TLS version: {e}"),
        })?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};

    /// Writes a self-signed certificate for `name` and its key; returns the certificate's DER.
    fn write(files: &TlsFiles, name: &str) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(&files.cert, cert.pem()).unwrap();
        std::fs::write(&files.key, key.serialize_pem()).unwrap();
        cert.der().to_vec()
    }

    fn files(dir: &Path) -> TlsFiles {
        TlsFiles {
            cert: dir.join("api.crt"),
            key: dir.join("api.key"),
        }
    }

    fn served(r: &Reloading) -> Vec<u8> {
        r.key().end_entity_cert().unwrap().to_vec()
    }

    /// Pushes the files' modification time forward: a renewal within the same clock tick as the
    /// first write would otherwise look unchanged.
    fn touch_later(files: &TlsFiles) {
        let later = SystemTime::now() + Duration::from_secs(5);
        for path in [&files.cert, &files.key] {
            let f = std::fs::File::options().write(true).open(path).unwrap();
            f.set_modified(later).unwrap();
        }
    }

    #[test]
    fn a_renewed_certificate_is_served_without_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        let first = write(&files, "connector.example");
        let resolver = Reloading::new(&files, Duration::ZERO).unwrap();
        assert_eq!(served(&resolver), first);

        let renewed = write(&files, "connector.example");
        touch_later(&files);
        assert_eq!(served(&resolver), renewed);
    }

    #[test]
    fn a_renewal_that_cannot_be_used_keeps_the_certificate_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        let first = write(&files, "connector.example");
        let resolver = Reloading::new(&files, Duration::ZERO).unwrap();

        // Half written: the new certificate with the old key.
        let old_key = std::fs::read(&files.key).unwrap();
        write(&files, "connector.example");
        std::fs::write(&files.key, old_key).unwrap();
        touch_later(&files);
        assert_eq!(served(&resolver), first);
    }

    #[test]
    fn files_checked_a_minute_apart_are_not_read_on_every_handshake() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        let first = write(&files, "connector.example");
        let resolver = Reloading::new(&files, RELOAD_CHECK).unwrap();
        write(&files, "connector.example");
        touch_later(&files);
        assert_eq!(
            served(&resolver),
            first,
            "renewed, but the minute has not passed"
        );
    }
}

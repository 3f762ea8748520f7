//! The roots a Lambda function's HTTPS clients trust (AWS, and Graph, Entra and the connector):
//! Mozilla's, compiled in as trust anchors already parsed (`webpki-roots`), so making the root
//! store decodes nothing. The platform's CA bundle took 2.6 ms of CPU to read and parse here
//! (about 37 ms at 128 MB's share of a vCPU), in every process: before its first AWS request, and
//! again on its first handshake with Entra or Graph. Amazon Linux's bundle is Mozilla's list
//! too. A connector behind a private CA, or an egress proxy that inspects TLS, needs its CA
//! trusted: `SSL_CERT_FILE` then names the bundle to trust instead, as it does for OpenSSL and
//! for the platform's roots.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Where the trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootsSource {
    /// Mozilla's roots, compiled in.
    Mozilla,
    /// The PEM bundle `SSL_CERT_FILE` names.
    File(PathBuf),
}

/// Why the bundle `SSL_CERT_FILE` names cannot be trusted: every AWS request fails with this,
/// and a Lambda function's app is not built.
#[derive(Debug, thiserror::Error)]
pub enum RootsError {
    #[error("SSL_CERT_FILE {}: cannot be read", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("SSL_CERT_FILE {}: not a PEM bundle", path.display())]
    NotPem {
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error("SSL_CERT_FILE {}: no certificate in it can be a trusted root", path.display())]
    NoRoot { path: PathBuf },
}

impl RootsSource {
    /// `SSL_CERT_FILE` when set (`var`: the environment), else Mozilla's roots.
    pub fn from_env(var: impl Fn(&str) -> Option<OsString>) -> Self {
        match var("SSL_CERT_FILE") {
            Some(path) if !path.is_empty() => Self::File(path.into()),
            _ => Self::Mozilla,
        }
    }

    /// The root store: Mozilla's anchors, or every certificate of the bundle that can be a root
    /// (one that cannot is skipped, as OpenSSL skips it; none at all is an error).
    pub fn root_store(&self) -> Result<rustls::RootCertStore, RootsError> {
        let path = match self {
            Self::Mozilla => {
                return Ok(rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                });
            }
            Self::File(path) => path,
        };
        let pem = std::fs::read(path).map_err(|source| RootsError::Unreadable {
            path: path.clone(),
            source,
        })?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| RootsError::NotPem {
                path: path.clone(),
                source,
            })?;
        let mut store = rustls::RootCertStore::empty();
        let (_added, _skipped) = store.add_parsable_certificates(certs);
        if store.is_empty() {
            return Err(RootsError::NoRoot { path: path.clone() });
        }
        Ok(store)
    }

    /// [`Self::root_store`], made once per process for each source: a Lambda function's AWS
    /// client and its Graph/connector client share it, so a bundle `SSL_CERT_FILE` names is read
    /// and parsed once, not once per client. A failure is not kept: the next caller tries again.
    pub fn shared_store(&self) -> Result<Arc<rustls::RootCertStore>, RootsError> {
        static MADE: Mutex<Vec<(RootsSource, Arc<rustls::RootCertStore>)>> = Mutex::new(Vec::new());
        // A poisoned lock only means another thread panicked while pushing: the list is whole.
        let mut made = MADE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, store)) = made.iter().find(|(source, _)| source == self) {
            return Ok(Arc::clone(store));
        }
        let store = Arc::new(self.root_store()?);
        made.push((self.clone(), Arc::clone(&store)));
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use std::path::Path;

    /// A test CA's certificate, as PEM.
    fn test_ca_pem() -> String {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap())
            .unwrap()
            .pem()
    }

    #[test]
    fn a_bundle_is_read_once_for_every_client_of_the_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "ca.pem", test_ca_pem().as_bytes());
        let first = RootsSource::File(path.clone()).shared_store().unwrap();
        // Gone from disk: the second client still gets the store made for the first.
        std::fs::remove_file(&path).unwrap();
        let second = RootsSource::File(path.clone()).shared_store().unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(second.len(), 1);
        // A bundle that could not be read is tried again, not remembered as unreadable.
        let missing = dir.path().join("later.pem");
        assert!(RootsSource::File(missing.clone()).shared_store().is_err());
        write_file(dir.path(), "later.pem", test_ca_pem().as_bytes());
        assert_eq!(RootsSource::File(missing).shared_store().unwrap().len(), 1);
    }

    fn write_file(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn without_ssl_cert_file_the_roots_are_mozillas() {
        assert_eq!(RootsSource::from_env(|_| None), RootsSource::Mozilla);
        let empty = RootsSource::from_env(|k| (k == "SSL_CERT_FILE").then(Default::default));
        assert_eq!(
            empty,
            RootsSource::Mozilla,
            "an empty SSL_CERT_FILE is unset"
        );
        let store = RootsSource::Mozilla.root_store().unwrap();
        assert!(store.len() > 100, "{} roots", store.len());
    }

    /// `certs` as one PEM bundle, as an administrator's `SSL_CERT_FILE` holds them.
    fn pem_bundle(certs: &[&[u8]]) -> Vec<u8> {
        use base64::Engine;
        let mut pem = Vec::new();
        for cert in certs {
            pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
            let text = base64::engine::general_purpose::STANDARD.encode(cert);
            for line in text.as_bytes().chunks(64) {
                pem.extend_from_slice(line);
                pem.push(b'\n');
            }
            pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
        }
        pem
    }

    #[test]
    fn a_bundle_keeps_only_certificates_that_can_be_roots() {
        let dir = tempfile::tempdir().unwrap();
        // Not a certificate inside its markers: dropped; the CA beside it kept.
        let junk = pem_bundle(&[b"not a certificate"]);
        let mixed = [junk.as_slice(), test_ca_pem().as_bytes()].concat();
        let path = write_file(dir.path(), "mixed.pem", &mixed);
        let roots = RootsSource::File(path).root_store().unwrap();
        assert_eq!(roots.len(), 1);
        // Nothing usable: refused with the setting's name.
        let path = write_file(dir.path(), "junk.pem", &junk);
        let e = RootsSource::File(path.clone()).root_store().unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "SSL_CERT_FILE {}: no certificate in it can be a trusted root",
                path.display()
            )
        );
        // A key is no certificate either.
        let key = KeyPair::generate().unwrap().serialize_pem();
        let path = write_file(dir.path(), "key.pem", key.as_bytes());
        assert!(matches!(
            RootsSource::File(path).root_store(),
            Err(RootsError::NoRoot { .. })
        ));
        // Broken base64 between the markers.
        let path = write_file(
            dir.path(),
            "broken.pem",
            b"-----BEGIN CERTIFICATE-----\n%%%%\n-----END CERTIFICATE-----\n",
        );
        let e = RootsSource::File(path.clone()).root_store().unwrap_err();
        assert!(matches!(e, RootsError::NotPem { .. }), "{e:?}");
        assert!(e.to_string().starts_with("SSL_CERT_FILE "), "{e}");
    }
}

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
}

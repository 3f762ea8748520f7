//! The roots the Lambda functions' AWS client trusts: Mozilla's, compiled in. The platform's
//! (its CA bundle and certificate directory, some 300 files on Debian) took 2 ms of every cold
//! start to read and parse, before the first AWS request could go out; Mozilla's take a quarter
//! of a millisecond. An egress proxy that inspects TLS signs with its own CA: `SSL_CERT_FILE`
//! then names the bundle to trust instead, as it does for OpenSSL.

use aws_smithy_http_client::tls::TrustStore;
use base64::Engine;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::borrow::Cow;
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

/// Why the bundle `SSL_CERT_FILE` names cannot be trusted: every AWS request fails with this.
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

    /// The trust store for the SDK's client, which takes PEM.
    pub fn trust_store(&self) -> Result<TrustStore, RootsError> {
        Ok(TrustStore::empty().with_pem_certificate(pem_bundle(&self.roots()?)))
    }

    /// The roots. The SDK's client panics on a certificate rustls does not accept as a root, so
    /// a bundle's are checked here and only those kept.
    pub(super) fn roots(&self) -> Result<Cow<'static, [CertificateDer<'static>]>, RootsError> {
        let path = match self {
            Self::Mozilla => return Ok(Cow::Borrowed(webpki_root_certs::TLS_SERVER_ROOT_CERTS)),
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
        let roots: Vec<CertificateDer<'static>> = certs
            .into_iter()
            .filter(|cert| rustls::RootCertStore::empty().add(cert.clone()).is_ok())
            .collect();
        if roots.is_empty() {
            return Err(RootsError::NoRoot { path: path.clone() });
        }
        Ok(Cow::Owned(roots))
    }
}

/// `certs` as one PEM bundle.
pub(super) fn pem_bundle(certs: &[CertificateDer<'_>]) -> Vec<u8> {
    const BASE64_LINE: usize = 64;
    let mut pem = Vec::with_capacity(certs.iter().map(|c| c.len() * 4 / 3 + 80).sum());
    let mut line = String::new();
    for cert in certs {
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        line.clear();
        base64::engine::general_purpose::STANDARD.encode_string(cert.as_ref(), &mut line);
        for chunk in line.as_bytes().chunks(BASE64_LINE) {
            pem.extend_from_slice(chunk);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    pem
}

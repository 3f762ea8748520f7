//! TLS for `sip.transport = "tls"` (SIPS, RFC 3261 §26.2): rustls with the aws-lc-rs provider,
//! trusting the system's roots and, for a SwyxServer certificate from an in-house CA, the PEM
//! file in `sip.tls_ca_file`.

use crate::config::SipConfig;
use std::sync::Arc;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

pub fn connector(cfg: &SipConfig) -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = &cfg.tls_ca_file {
        use rustls_pki_types::pem::PemObject;
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("sip.tls_ca_file {}: {e}", path.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("sip.tls_ca_file {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("sip.tls_ca_file {}: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

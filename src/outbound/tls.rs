//! TLS of the outbound client, trusting one of two sets of roots ([`Trust`]):
//! - **the platform's** (`serve`, the CLI): the platform verifier (the CA bundle and every file of
//!   the certificate directory, some 300 certificates on Debian), loaded on the first handshake,
//!   not when the client is built, so a process that calls no HTTPS host never loads them;
//! - **a root store given** (a Lambda function: Mozilla's trust anchors compiled in, or
//!   `SSL_CERT_FILE`, [`super::trusted_roots`]): nothing to load, so a cold start's first
//!   handshake with Entra or Graph does not parse a bundle first.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::{Arc, OnceLock};

/// Which roots the outbound client trusts.
#[derive(Debug, Clone)]
pub enum Trust {
    /// The platform's, read on the first handshake.
    Platform,
    /// These.
    Roots(Arc<rustls::RootCertStore>),
}

/// The TLS configuration reqwest would build itself (rustls on aws-lc-rs, TLS 1.2 and 1.3,
/// HTTP/1.1), trusting `trust`.
pub fn client_config(trust: Trust) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let mut config = match trust {
        Trust::Platform => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(LazyPlatformVerifier::new(provider))),
        Trust::Roots(roots) => builder.with_root_certificates(roots),
    }
    .with_no_client_auth();
    // reqwest sets ALPN only on a configuration it builds; this crate has no HTTP/2.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// [`rustls_platform_verifier::Verifier`] made on the first certificate it is asked about.
/// The handshake signatures are checked exactly as it does (WebPKI, the provider's algorithms),
/// without the roots.
#[derive(Debug)]
pub struct LazyPlatformVerifier {
    provider: Arc<CryptoProvider>,
    verifier: OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

impl LazyPlatformVerifier {
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        Self {
            provider,
            verifier: OnceLock::new(),
        }
    }

    /// The roots are read once per process; a failure (no trusted root at all) fails every
    /// handshake with the reason rather than the start of a function that may never need TLS.
    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| rustls_platform_verifier::Verifier::new(Arc::clone(&self.provider)))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl ServerCertVerifier for LazyPlatformVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;

    /// A self-signed certificate no system trusts, as a server that is not who it claims to be
    /// would present.
    const UNTRUSTED: &str = include_str!("../../tests/fixtures/crypto/key2048.cert.pem");

    #[test]
    fn a_certificate_no_trusted_root_signed_is_refused() {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = LazyPlatformVerifier::new(provider);
        let cert = CertificateDer::from_pem_slice(UNTRUSTED.as_bytes()).unwrap();
        let name = ServerName::try_from("graph.microsoft.com").unwrap();
        let refused = verifier
            .verify_server_cert(&cert, &[], &name, &[], UnixTime::now())
            .unwrap_err();
        assert!(
            matches!(refused, rustls::Error::InvalidCertificate(_)),
            "{refused:?}"
        );
    }
}

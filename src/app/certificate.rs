//! The encryption certificate as Graph wants it in a subscription (`encryptionCertificate`):
//! base64 of the DER. An operator may give a PEM certificate, a DER file, or base64 DER.

use super::secrets::{SecretError, SecretResolver};
use crate::config::SecretRef;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use std::path::PathBuf;

/// Why `subscriptions.certificate` is not the certificate Graph needs.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("cannot read {}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("not a PEM certificate, DER file or base64 DER")]
    NotBase64(#[source] base64::DecodeError),
    #[error("not an X.509 certificate (DER must start with a SEQUENCE)")]
    NotX509,
}

pub(super) async fn load_certificate(
    r: &SecretRef,
    secrets: &mut SecretResolver,
) -> Result<String, CertificateError> {
    if let SecretRef::File(path) = r {
        let bytes = std::fs::read(path).map_err(|source| CertificateError::Unreadable {
            path: path.clone(),
            source,
        })?;
        if !bytes.starts_with(b"-----") && !bytes.is_empty() && bytes[0] == 0x30 {
            return Ok(B64.encode(bytes)); // DER
        }
    }
    let text = secrets.resolve(r).await?;
    let body: String = if text.contains("-----BEGIN CERTIFICATE-----") {
        text.lines()
            .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .map(str::trim)
            .collect()
    } else {
        text.split_whitespace().collect()
    };
    let der = B64
        .decode(body.as_bytes())
        .map_err(CertificateError::NotBase64)?;
    if der.first() != Some(&0x30) {
        return Err(CertificateError::NotX509);
    }
    Ok(B64.encode(der))
}

//! Loading the RSA private keys that unwrap Graph's `dataKey`s: PEM (PKCS#8 or PKCS#1) into an
//! aws-lc-rs OAEP key. Errors name the problem, never the key material.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{OaepPrivateDecryptingKey, PrivateDecryptingKey};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::{self, PemObject};

/// Graph accepts certificates with these RSA sizes; smaller keys are too weak, larger ones pointless.
pub const MIN_RSA_BITS: usize = 2048;
pub const MAX_RSA_BITS: usize = 4096;
const TOO_SMALL: &str = "smaller than 2048 bits";
const TOO_LARGE: &str = "larger than 4096 bits";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the key file is not valid PEM: {0}")]
    Pem(&'static str),
    #[error(
        "no private key in the PEM (expected a \"PRIVATE KEY\" or \"RSA PRIVATE KEY\" section; a certificate alone is not enough)"
    )]
    NoPrivateKey,
    #[error(
        "the PEM holds a password-protected \"ENCRYPTED PRIVATE KEY\"; store it unencrypted (openssl pkcs8 -in KEY -out PLAIN.pem)"
    )]
    EncryptedPem,
    #[error("the private key is not an RSA key; Graph encryption certificates must be RSA")]
    NotRsa,
    #[error("the private key was rejected by the crypto library ({0})")]
    Rejected(&'static str),
    #[error("the RSA key is {0}; only {MIN_RSA_BITS}–{MAX_RSA_BITS}-bit keys are supported")]
    KeySize(&'static str),
    #[error("a key for encryptionCertificateId {0:?} is already configured")]
    DuplicateCertificateId(String),
    #[error("the public key is not a valid RSA SubjectPublicKeyInfo (DER)")]
    PublicKey,
    #[error("encryption failed: {0}")]
    Encrypt(&'static str),
}

/// Parses one PEM private key and checks it is RSA of a supported size.
pub(crate) fn load_private_key(pem_bytes: &[u8]) -> Result<PrivateDecryptingKey, KeyError> {
    let der = match PrivateKeyDer::from_pem_slice(pem_bytes) {
        Ok(der) => der,
        Err(pem::Error::NoItemsFound) => {
            // The PEM parser skips sections it does not know, so say what we did see.
            return Err(
                if contains(pem_bytes, b"-----BEGIN ENCRYPTED PRIVATE KEY-----") {
                    KeyError::EncryptedPem
                } else {
                    KeyError::NoPrivateKey
                },
            );
        }
        Err(e) => return Err(KeyError::Pem(pem_error_kind(&e))),
    };
    let key = match &der {
        PrivateKeyDer::Pkcs8(p8) => PrivateDecryptingKey::from_pkcs8(p8.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(p1) => {
            let mut wrapped = pkcs1_to_pkcs8(p1.secret_pkcs1_der());
            let key = PrivateDecryptingKey::from_pkcs8(&wrapped);
            wipe(&mut wrapped);
            key
        }
        PrivateKeyDer::Sec1(_) => return Err(KeyError::NotRsa),
        _ => return Err(KeyError::NoPrivateKey),
    }
    .map_err(|rejected| match rejected.description_() {
        "WrongAlgorithm" => KeyError::NotRsa,
        "TooSmall" => KeyError::KeySize(TOO_SMALL),
        "TooLarge" => KeyError::KeySize(TOO_LARGE),
        other => KeyError::Rejected(other),
    })?;
    match key.key_size_bits() {
        bits if bits < MIN_RSA_BITS => Err(KeyError::KeySize(TOO_SMALL)),
        bits if bits > MAX_RSA_BITS => Err(KeyError::KeySize(TOO_LARGE)),
        _ => Ok(key),
    }
}

pub(crate) fn load_oaep_key(pem_bytes: &[u8]) -> Result<OaepPrivateDecryptingKey, KeyError> {
    let key = load_private_key(pem_bytes)?;
    OaepPrivateDecryptingKey::new(key).map_err(|_| KeyError::Rejected("not usable for RSA-OAEP"))
}

/// The public half of a PEM private key as X.509 SubjectPublicKeyInfo DER (what `encrypt_resource`
/// and a certificate need).
pub fn public_key_der_from_private_pem(pem_bytes: &[u8]) -> Result<Vec<u8>, KeyError> {
    let key = load_private_key(pem_bytes)?;
    let der = key
        .public_key()
        .as_der()
        .map_err(|_| KeyError::Rejected("public key could not be encoded"))?;
    Ok(der.as_ref().to_vec())
}

/// The PEM crate's errors carry offending input bytes in their Display; keep only the kind.
fn pem_error_kind(e: &pem::Error) -> &'static str {
    match e {
        pem::Error::MissingSectionEnd { .. } => "a section has no END line",
        pem::Error::IllegalSectionStart { .. } => "a BEGIN line is malformed",
        pem::Error::Base64Decode(_) => "a section's body is not valid base64",
        pem::Error::SectionTooLarge => "a section is too large",
        _ => "unreadable PEM",
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// aws-lc-rs only parses PKCS#8, so wrap the PKCS#1 RSAPrivateKey in a PrivateKeyInfo:
/// SEQUENCE { INTEGER 0, SEQUENCE { OID rsaEncryption, NULL }, OCTET STRING { pkcs1 } }.
fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    const VERSION_AND_ALGORITHM: [u8; 18] = [
        0x02, 0x01, 0x00, // INTEGER 0
        0x30, 0x0d, // SEQUENCE (13 bytes)
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
        0x01, // OID 1.2.840.113549.1.1.1
        0x05, 0x00, // NULL
    ];
    let mut octet_string = vec![0x04];
    push_der_len(&mut octet_string, pkcs1.len());
    let body_len = VERSION_AND_ALGORITHM.len() + octet_string.len() + pkcs1.len();
    let mut out = Vec::with_capacity(body_len + 6);
    out.push(0x30);
    push_der_len(&mut out, body_len);
    out.extend_from_slice(&VERSION_AND_ALGORITHM);
    out.extend_from_slice(&octet_string);
    out.extend_from_slice(pkcs1);
    out
}

fn push_der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.push(0x80 | (bytes.len() - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

/// Overwrites secret bytes before their memory is freed; volatile so the compiler keeps the writes.
pub(crate) fn wipe(bytes: &mut [u8]) {
    for b in bytes.iter_mut() {
        // SAFETY: `b` is a valid, exclusive reference to one byte.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_use_the_short_and_long_forms() {
        let mut v = Vec::new();
        push_der_len(&mut v, 5);
        push_der_len(&mut v, 0x80);
        push_der_len(&mut v, 0x1234);
        assert_eq!(v, [0x05, 0x81, 0x80, 0x82, 0x12, 0x34]);
    }

    #[test]
    fn a_certificate_alone_is_reported_as_missing_the_private_key() {
        let pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(load_private_key(pem), Err(KeyError::NoPrivateKey)));
    }

    #[test]
    fn an_encrypted_pkcs8_pem_is_named_as_such() {
        let pem =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let err = load_private_key(pem).unwrap_err();
        assert!(matches!(err, KeyError::EncryptedPem), "{err}");
    }

    #[test]
    fn garbage_inside_a_key_section_is_rejected_without_echoing_it() {
        let pem = b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----\n";
        let err = load_private_key(pem).unwrap_err();
        assert!(matches!(err, KeyError::Rejected(_)), "{err}");
        assert!(!err.to_string().contains("c2VjcmV0"));
    }

    #[test]
    fn wipe_zeroes_every_byte() {
        let mut secret = [0xa5u8; 40];
        wipe(&mut secret);
        assert_eq!(secret, [0u8; 40]);
    }
}

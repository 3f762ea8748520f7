//! Rich-notification decryption (docs/architecture.md#rich-notification-decryption), with
//! aws-lc-rs only:
//! `dataKey` = RSA-OAEP(SHA-1, MGF1-SHA-1) of a 32-byte key; `dataSignature` = HMAC-SHA256 of the
//! base64-decoded `data` under that key; `data` = AES-256-CBC/PKCS7 with IV = key[..16].
//! The signature is checked (constant time) before anything is decrypted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use aws_lc_rs::cipher::{AES_256, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey};
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

pub use super::keys::{KeyError, public_key_der_from_private_pem};
use super::keys::{load_oaep_key, wipe};
use crate::graph::notification::EncryptedContent;

const DATA_KEY_LEN: usize = 32;
const IV_LEN: usize = 16;
const SIGNATURE_LEN: usize = 32;
const AES_BLOCK: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    #[error("no private key configured for encryptionCertificateId {0:?}")]
    UnknownCertificate(String),
    #[error("malformed encryptedContent: {0}")]
    Malformed(&'static str),
    #[error(
        "the data key could not be decrypted with the key for this encryptionCertificateId (wrong private key, or dataKey not RSA-OAEP-SHA1)"
    )]
    KeyUnwrap,
    #[error(
        "dataSignature does not match data (HMAC-SHA256 signature mismatch): tampered, not decrypted"
    )]
    Signature,
    #[error("data could not be decrypted (AES-256-CBC/PKCS7 padding invalid)")]
    Cipher,
}

/// The private keys that may unwrap `dataKey`s, by `encryptionCertificateId`. Several can be live at
/// once because Graph keeps using the old certificate for a while after a rotation.
pub struct NotificationKeys {
    by_id: BTreeMap<String, OaepPrivateDecryptingKey>,
    /// Tried, in order, for any certificate id not configured explicitly.
    any_id: Vec<OaepPrivateDecryptingKey>,
    /// Ids configured without their key loaded (a process that never decrypts).
    declared: BTreeSet<String>,
}

impl NotificationKeys {
    pub fn new() -> Self {
        Self {
            by_id: BTreeMap::new(),
            any_id: Vec::new(),
            declared: BTreeSet::new(),
        }
    }

    /// PEM RSA private key, PKCS#8 ("PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY"), 2048–4096 bits.
    /// `certificate_id: None` = a key tried for any certificate id not configured explicitly.
    pub fn add_pem(&mut self, certificate_id: Option<&str>, pem: &[u8]) -> Result<(), KeyError> {
        if let Some(id) = certificate_id
            && self.by_id.contains_key(id)
        {
            return Err(KeyError::DuplicateCertificateId(id.to_owned()));
        }
        let key = load_oaep_key(pem)?;
        match certificate_id {
            Some(id) => {
                self.by_id.insert(id.to_owned(), key);
            }
            None => self.any_id.push(key),
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty() && self.any_id.is_empty()
    }

    /// Knows `certificate_id` as configured without loading its key: it is listed by
    /// [`NotificationKeys::certificate_ids`], and decrypts nothing.
    pub fn declare(&mut self, certificate_id: &str) {
        self.declared.insert(certificate_id.to_owned());
    }

    /// The explicitly configured ids (loaded or declared), sorted (keys for "any id" have none).
    pub fn certificate_ids(&self) -> Vec<String> {
        let ids: BTreeSet<&String> = self.by_id.keys().chain(&self.declared).collect();
        ids.into_iter().cloned().collect()
    }

    /// Unwrap the key, verify the signature, then decrypt: the resource bytes exactly as decrypted.
    pub fn decrypt(&self, content: &EncryptedContent) -> Result<Vec<u8>, DecryptError> {
        let key = self.unwrap_data_key(&content.encryption_certificate_id, &content.data_key)?;
        key.open(&content.data, &content.data_signature)
    }

    /// The bare RSA-OAEP unwrap (benchmarked against the whole intake).
    pub fn unwrap_data_key(
        &self,
        certificate_id: &str,
        data_key_b64: &str,
    ) -> Result<DataKey, DecryptError> {
        let candidates: &[OaepPrivateDecryptingKey] = match self.by_id.get(certificate_id) {
            Some(key) => std::slice::from_ref(key),
            None if !self.any_id.is_empty() => &self.any_id,
            None => return Err(DecryptError::UnknownCertificate(certificate_id.to_owned())),
        };
        let wrapped = B64
            .decode(data_key_b64)
            .map_err(|_| DecryptError::Malformed("dataKey is not valid base64"))?;
        if wrapped.is_empty() {
            return Err(DecryptError::Malformed("dataKey is empty"));
        }
        for key in candidates {
            // A ciphertext of another size was made for another key; no need to try it.
            if wrapped.len() != key.key_size_bytes() {
                continue;
            }
            let mut buf = vec![0u8; key.min_output_size()];
            let outcome = key
                .decrypt(&OAEP_SHA1_MGF1SHA1, &wrapped, &mut buf, None)
                .map(|plain| DataKey::from_slice(plain));
            wipe(&mut buf);
            match outcome {
                Ok(Some(data_key)) => return Ok(data_key),
                // OAEP padding checked out, so this was the right key and the sender is at fault.
                Ok(None) => {
                    return Err(DecryptError::Malformed(
                        "dataKey does not decrypt to a 32-byte AES-256 key",
                    ));
                }
                Err(_) => {}
            }
        }
        Err(DecryptError::KeyUnwrap)
    }
}

impl Default for NotificationKeys {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for NotificationKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotificationKeys")
            .field("certificate_ids", &self.by_id.keys().collect::<Vec<_>>())
            .field("keys_for_any_id", &self.any_id.len())
            .finish()
    }
}

/// The 32-byte symmetric key of one notification item. Never printed; wiped on drop.
pub struct DataKey([u8; DATA_KEY_LEN]);

impl DataKey {
    fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; DATA_KEY_LEN]>::try_from(bytes).ok().map(Self)
    }

    /// Verify `dataSignature` over the decoded `data` (constant time), then AES-256-CBC decrypt it.
    pub fn open(&self, data_b64: &str, data_signature_b64: &str) -> Result<Vec<u8>, DecryptError> {
        let mut data = B64
            .decode(data_b64)
            .map_err(|_| DecryptError::Malformed("data is not valid base64"))?;
        let signature = B64
            .decode(data_signature_b64)
            .map_err(|_| DecryptError::Malformed("dataSignature is not valid base64"))?;
        if signature.len() != SIGNATURE_LEN {
            return Err(DecryptError::Malformed(
                "dataSignature is not 32 bytes (HMAC-SHA256)",
            ));
        }
        let mac_key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        hmac::verify(&mac_key, &data, &signature).map_err(|_| DecryptError::Signature)?;
        if data.is_empty() || data.len() % AES_BLOCK != 0 {
            return Err(DecryptError::Malformed(
                "data is not a whole number of AES blocks",
            ));
        }
        let cipher_key =
            UnboundCipherKey::new(&AES_256, &self.0).map_err(|_| DecryptError::Cipher)?;
        let decrypting =
            PaddedBlockDecryptingKey::cbc_pkcs7(cipher_key).map_err(|_| DecryptError::Cipher)?;
        let plain_len = decrypting
            .decrypt(
                &mut data,
                DecryptionContext::Iv128(FixedLength::from(self.iv())),
            )
            .map_err(|_| DecryptError::Cipher)?
            .len();
        data.truncate(plain_len);
        Ok(data)
    }

    fn iv(&self) -> [u8; IV_LEN] {
        let mut iv = [0u8; IV_LEN];
        iv.copy_from_slice(&self.0[..IV_LEN]);
        iv
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

#[cfg(test)]
mod tests;

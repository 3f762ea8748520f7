//! Refresh tokens at rest: AES-256-GCM (aws-lc-rs) under a key the operator controls (a key file
//! self-hosted, a Secrets Manager secret on AWS). The account name is bound as associated data,
//! so a sealed token copied onto another account does not open.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The key text is not base64 of exactly 32 bytes.
    #[error("token key: {0}")]
    BadKey(String),
    /// Wrong key, another account's token, or tampered data. Never says more.
    #[error("sealed refresh token cannot be opened: wrong key, another account's token, or damaged")]
    CannotOpen,
}

/// Seals and opens refresh tokens. No `Debug` output of the key.
pub struct TokenSealer {
    _private: (),
}

impl fmt::Debug for TokenSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSealer(***)")
    }
}

impl TokenSealer {
    /// From the key file's text: base64 (standard) of 32 random bytes, surrounding whitespace ignored.
    pub fn from_key_text(_text: &str) -> Result<Self, SealError> {
        todo!()
    }

    /// A new random key as key-file text (`accounts new-key`).
    pub fn generate_key_text() -> String {
        todo!()
    }

    /// `v1.` + base64(nonce ‖ ciphertext ‖ tag); a fresh random nonce every time.
    pub fn seal(&self, _plaintext: &str, _account: &str) -> String {
        todo!()
    }

    pub fn open(&self, _sealed: &str, _account: &str) -> Result<String, SealError> {
        todo!()
    }
}

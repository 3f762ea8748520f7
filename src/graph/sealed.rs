//! Refresh tokens at rest: AES-256-GCM (aws-lc-rs) under a key the operator controls (a key file
//! self-hosted, a Secrets Manager secret on AWS). The account name is bound as associated data,
//! so a sealed token copied onto another account does not open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use std::fmt;

const KEY_LEN: usize = 32;
const PREFIX: &str = "v1.";
const TAG_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The key text is not base64 of exactly 32 bytes.
    #[error("token key: {0}")]
    BadKey(String),
    /// Wrong key, another account's token, or tampered data. Never says more.
    #[error(
        "sealed refresh token cannot be opened: wrong key, another account's token, or damaged"
    )]
    CannotOpen,
}

/// Seals and opens refresh tokens. No `Debug` output of the key.
pub struct TokenSealer {
    key: LessSafeKey,
}

impl fmt::Debug for TokenSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSealer(***)")
    }
}

/// Random bytes from the system generator. AWS-LC aborts rather than fail, so the fallback (the
/// `rand` crate's OS-seeded CSPRNG) only keeps this function infallible.
fn random<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    if aws_lc_rs::rand::fill(&mut buf).is_err() {
        buf = rand::random();
    }
    buf
}

impl TokenSealer {
    /// From the key file's text: base64 (standard) of 32 random bytes, surrounding whitespace ignored.
    pub fn from_key_text(text: &str) -> Result<Self, SealError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SealError::BadKey(
                "the key text is empty; create one with `accounts new-key`".to_string(),
            ));
        }
        // The decoder's message could quote a character of the key: say only what is wrong.
        let mut bytes = B64.decode(text).map_err(|_| {
            SealError::BadKey(
                "the key text is not valid base64 (standard alphabet, with padding)".to_string(),
            )
        })?;
        if bytes.len() != KEY_LEN {
            let n = bytes.len();
            bytes.fill(0);
            return Err(SealError::BadKey(format!(
                "the key decodes to {n} bytes; AES-256 needs exactly {KEY_LEN}"
            )));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes);
        bytes.fill(0);
        let unbound = unbound.map_err(|_| {
            SealError::BadKey("the key was not accepted by AES-256-GCM".to_string())
        })?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    /// A new random key as key-file text (`accounts new-key`).
    pub fn generate_key_text() -> String {
        B64.encode(random::<KEY_LEN>())
    }

    /// `v1.` + base64(nonce ‖ ciphertext ‖ tag); a fresh random nonce every time.
    pub fn seal(&self, plaintext: &str, account: &str) -> String {
        let nonce = random::<NONCE_LEN>();
        let mut data = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
        data.extend_from_slice(&nonce);
        let mut in_out = plaintext.as_bytes().to_vec();
        let sealed = self.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(account.as_bytes()),
            &mut in_out,
        );
        if sealed.is_err() {
            // Only inputs past AES-GCM's 64 GiB limit fail; a refresh token is a few KB. What
            // comes out then does not open, so the account is asked to sign in again.
            return PREFIX.to_string();
        }
        data.extend_from_slice(&in_out);
        format!("{PREFIX}{}", B64.encode(data))
    }

    pub fn open(&self, sealed: &str, account: &str) -> Result<String, SealError> {
        let encoded = sealed
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(SealError::CannotOpen)?;
        let data = B64.decode(encoded).map_err(|_| SealError::CannotOpen)?;
        if data.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::CannotOpen);
        }
        let (nonce, rest) = data.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::CannotOpen)?;
        let mut in_out = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(account.as_bytes()), &mut in_out)
            .map_err(|_| SealError::CannotOpen)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::CannotOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0.AXoA-refresh-token-of-the-sync-account";

    fn sealer() -> TokenSealer {
        TokenSealer::from_key_text(&TokenSealer::generate_key_text()).unwrap()
    }

    #[test]
    fn round_trip_with_the_same_key_and_account() {
        let key = TokenSealer::generate_key_text();
        let s = TokenSealer::from_key_text(&format!("  {key}\n")).unwrap();
        let sealed = s.seal(TOKEN, "sync1@contoso.com");
        assert!(sealed.starts_with("v1."), "{sealed}");
        assert!(!sealed.contains(TOKEN));
        // A second sealer from the same key file opens it (a restart, another Lambda).
        let again = TokenSealer::from_key_text(&key).unwrap();
        assert_eq!(again.open(&sealed, "sync1@contoso.com").unwrap(), TOKEN);
    }

    #[test]
    fn another_account_cannot_open_it() {
        let s = sealer();
        let sealed = s.seal(TOKEN, "sync1@contoso.com");
        assert_eq!(
            s.open(&sealed, "sync2@contoso.com"),
            Err(SealError::CannotOpen)
        );
    }

    #[test]
    fn another_key_cannot_open_it() {
        let sealed = sealer().seal(TOKEN, "sync1");
        assert_eq!(sealer().open(&sealed, "sync1"), Err(SealError::CannotOpen));
    }

    #[test]
    fn tampered_or_malformed_data_does_not_open() {
        let s = sealer();
        let sealed = s.seal(TOKEN, "sync1");
        let mut raw = B64.decode(&sealed[3..]).unwrap();
        for i in [0, NONCE_LEN, raw.len() - 1] {
            raw[i] ^= 0x01;
            let tampered = format!("v1.{}", B64.encode(&raw));
            assert_eq!(
                s.open(&tampered, "sync1"),
                Err(SealError::CannotOpen),
                "byte {i}"
            );
            raw[i] ^= 0x01;
        }
        let truncated = format!("v1.{}", B64.encode(&raw[..raw.len() - 1]));
        for bad in [
            truncated.as_str(),
            "",
            "v1.",
            "v1.@@@not-base64",
            "v2.AAAA",
            &sealed[3..],
            "v1.AAAA",
        ] {
            let err = s.open(bad, "sync1").unwrap_err();
            assert_eq!(err, SealError::CannotOpen, "{bad:?}");
            assert!(bad.len() < 4 || !err.to_string().contains(bad));
        }
    }

    #[test]
    fn two_seals_of_one_token_differ() {
        let s = sealer();
        let (a, b) = (s.seal(TOKEN, "sync1"), s.seal(TOKEN, "sync1"));
        assert_ne!(a, b, "a fresh nonce every time");
        assert_eq!(s.open(&a, "sync1").unwrap(), s.open(&b, "sync1").unwrap());
    }

    #[test]
    fn debug_shows_no_key() {
        let key = TokenSealer::generate_key_text();
        let shown = format!("{:?}", TokenSealer::from_key_text(&key).unwrap());
        assert_eq!(shown, "TokenSealer(***)");
        assert!(!shown.contains(&key[..8]));
    }

    #[test]
    fn bad_key_texts_are_refused_with_the_reason() {
        let cases = [
            ("", "empty"),
            ("   \n", "empty"),
            ("not base64 at all!", "not valid base64"),
            (&B64.encode([7u8; 16]), "16 bytes"),
            (&B64.encode([7u8; 33]), "33 bytes"),
        ];
        for (text, why) in cases {
            match TokenSealer::from_key_text(text) {
                Err(SealError::BadKey(m)) => {
                    assert!(m.contains(why), "{text:?}: {m}");
                    assert!(text.trim().is_empty() || !m.contains(text.trim()), "{m}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let generated = TokenSealer::generate_key_text();
        assert_eq!(B64.decode(&generated).unwrap().len(), 32);
        assert_ne!(generated, TokenSealer::generate_key_text());
    }
}

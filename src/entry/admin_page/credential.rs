//! The admin page's credential: `server.admin_token`, sent as `Authorization: Bearer TOKEN` or as
//! the password of basic auth (any user name). Compared in constant time, as SHA-256 digests so
//! that not even the token's length shows in the time an answer takes.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, header};
use subtle::ConstantTimeEq;

/// Shorter tokens can be guessed over the network.
const MIN_LEN: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error(
        "server.admin_token: shorter than {MIN_LEN} characters; make one with `openssl rand -hex 32`"
    )]
    TooShort,
    #[error("server.admin_token: a basic-auth password cannot hold a control character")]
    ControlCharacter,
}

/// Never printed: `Debug` shows no part of it.
pub struct AdminCredential {
    digest: [u8; 32],
}

impl std::fmt::Debug for AdminCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminCredential(***)")
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

impl AdminCredential {
    /// The token as read from its secret reference (a trailing newline of a file is dropped).
    pub fn new(token: &str) -> Result<Self, CredentialError> {
        let token = token.trim();
        if token.chars().count() < MIN_LEN {
            return Err(CredentialError::TooShort);
        }
        if token.chars().any(char::is_control) {
            return Err(CredentialError::ControlCharacter);
        }
        Ok(Self {
            digest: sha256(token.as_bytes()),
        })
    }

    fn matches(&self, presented: &[u8]) -> bool {
        sha256(presented).ct_eq(&self.digest).into()
    }

    /// Whether the request carries the token, as a bearer token or a basic-auth password.
    pub fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let Some((scheme, rest)) = value.trim().split_once(' ') else {
            return false;
        };
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            self.matches(rest.as_bytes())
        } else if scheme.eq_ignore_ascii_case("basic") {
            let Ok(decoded) = B64.decode(rest) else {
                return false;
            };
            // user:password; the user name is not checked (there is one credential).
            match decoded.iter().position(|b| *b == b':') {
                Some(colon) => self.matches(&decoded[colon + 1..]),
                None => false,
            }
        } else {
            false
        }
    }
}

//! Test support, compiled only into the tests that include it: plays the Microsoft identity
//! platform with known keys (several kids, for rotations): signs Graph-like validation tokens
//! and publishes the matching JWKS, so tests can exercise `graph::validation_token` end to end.
//! Test keys live in `tests/fixtures/jwt/`. (The sandbox's own signer generates its key.)
#![allow(dead_code)] // each test binary uses a different part of it

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::signature::{KeyPair, RsaKeyPair, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};

use presence_bridge::graph::CHANGE_TRACKING_APP_ID;

/// Why a PEM cannot be a test issuer's key.
#[derive(Debug, thiserror::Error)]
pub enum TestIssuerError {
    #[error("expected a PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)")]
    NotPkcs8(#[source] rustls_pki_types::pem::Error),
    #[error("PKCS#8 key is not a usable RSA key")]
    NotRsa(#[source] aws_lc_rs::error::KeyRejected),
    #[error("RSA key rejected by jsonwebtoken")]
    Rejected(#[source] jsonwebtoken::errors::Error),
    #[error("RSA key cannot sign RS256")]
    CannotSign(#[source] jsonwebtoken::errors::Error),
}

/// Signs tokens as `kid` with one RSA key. No `Debug`: it holds a private key.
pub struct TestIssuer {
    kid: String,
    key: EncodingKey,
    /// JWK modulus and exponent, base64url without padding.
    n: String,
    e: String,
}

impl TestIssuer {
    /// From an RSA private key PEM (PKCS#8) and a kid.
    pub fn from_pem(pem: &[u8], kid: &str) -> Result<Self, TestIssuerError> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem).map_err(TestIssuerError::NotPkcs8)?;
        let pair =
            RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).map_err(TestIssuerError::NotRsa)?;
        let public = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let key = EncodingKey::from_rsa_pem(pem).map_err(TestIssuerError::Rejected)?;
        let issuer = Self {
            kid: kid.to_owned(),
            key,
            n: URL_SAFE_NO_PAD.encode(&public.n),
            e: URL_SAFE_NO_PAD.encode(&public.e),
        };
        // Prove the key signs now, so signing later cannot fail.
        issuer
            .try_sign(&json!({}))
            .map_err(TestIssuerError::CannotSign)?;
        Ok(issuer)
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// This key as one JWK (`kty`, `use`, `kid`, `alg`, `n`, `e`).
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA", "use": "sig", "kid": self.kid, "alg": "RS256",
            "n": self.n, "e": self.e,
        })
    }

    /// `{"keys":[{kty,use:"sig",kid,alg:"RS256",n,e}]}`
    pub fn jwks_json(&self) -> String {
        Self::jwks_json_of(&[self])
    }

    /// One key set publishing several issuers (e.g. old and new key during a rotation).
    pub fn jwks_json_of(issuers: &[&TestIssuer]) -> String {
        let keys: Vec<Value> = issuers.iter().map(|i| i.jwk()).collect();
        json!({ "keys": keys }).to_string()
    }

    /// A Graph-like v2.0 validation token for `app_id` in `tenant_id`, valid for `ttl`.
    pub fn validation_token(&self, app_id: &str, tenant_id: &str, ttl: Duration) -> String {
        self.sign_claims(&v2_claims(app_id, tenant_id, ttl))
    }

    /// Any claims (for negative tests): signs exactly what it is given.
    pub fn sign_claims(&self, claims: &Value) -> String {
        match self.try_sign(claims) {
            Ok(token) => token,
            // from_pem proved this key signs; serialising a JSON value cannot fail.
            Err(e) => unreachable!("TestIssuer signing failed after a successful probe: {e}"),
        }
    }

    fn try_sign(&self, claims: &Value) -> jsonwebtoken::errors::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key)
    }
}

/// The claim set of a Graph v2.0 validation token (docs/architecture.md#validation-tokens): the
/// Change Tracking app (`azp`) asking on behalf of `tenant_id`, addressed to `app_id`.
pub fn v2_claims(app_id: &str, tenant_id: &str, ttl: Duration) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let principal = uuid::Uuid::new_v4().to_string();
    json!({
        "aud": app_id,
        "iss": format!("https://login.microsoftonline.com/{tenant_id}/v2.0"),
        "iat": now,
        "nbf": now,
        "exp": now.saturating_add(ttl.as_secs()),
        "azp": CHANGE_TRACKING_APP_ID,
        "azpacr": "2",
        "oid": principal,
        "sub": principal,
        "tid": tenant_id,
        "ver": "2.0",
    })
}

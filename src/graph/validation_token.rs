//! Graph validation tokens: the Microsoft-signed JWTs (RS256) that rich notifications carry in
//! `validationTokens`, one per app+tenant pair. A notification is only trusted when every one of them
//! verifies (see docs/architecture.md#validation-tokens). One clock decides expiry here and the
//! age of the signing keys ([`jwks`]).

mod claims;
mod jwks;
mod verified;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::CHANGE_TRACKING_APP_ID;
use crate::domain::Clock;
use claims::{Claims, check_caller_and_issuer, check_header, map_jwt_error, unsigned_claims};
use jwks::JwksCache;

/// Real tokens are ~1.5 KB; the cap keeps garbage input from costing us work.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Clone, Debug)]
pub struct TokenSettings {
    /// Where the signing keys are published (Microsoft identity platform JWKS).
    pub jwks_url: String,
    /// Our app (client) id: the `aud` every token must carry.
    pub app_id: String,
    /// The configured sign-in authority (`graph.authority_url`): the issuer host of a national
    /// cloud's v2.0 tokens.
    pub authority_url: String,
    /// Our tenant, when known: a token of another tenant never costs a JWKS refetch.
    pub tenant_id: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// Minimum time between two JWKS refetches triggered by unknown `kid`s.
    pub min_refresh_interval: Duration,
    /// The signing keys are fetched anew this often, whatever tokens arrive.
    pub refresh_every: Duration,
    /// Wall-clock time (tests move it).
    pub clock: Clock,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            jwks_url: "https://login.microsoftonline.com/common/discovery/v2.0/keys".into(),
            app_id: String::new(),
            authority_url: crate::config::DEFAULT_AUTHORITY_URL.into(),
            tenant_id: None,
            leeway: Duration::from_secs(5 * 60),
            min_refresh_interval: Duration::from_secs(5 * 60),
            refresh_every: Duration::from_secs(60 * 60),
            clock: Clock::system(),
        }
    }
}

/// What a valid token vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedToken {
    /// The tenant (`tid`) the token was issued in.
    pub tenant_id: String,
    /// Our app id (the token's `aud`).
    pub app_id: String,
}

/// Why a token (or a token collection) was rejected. Messages never contain the token itself.
/// Graph sends one validation token per app and tenant that has items in the collection; for a
/// bridge (one app, one tenant) that is one. Well above that, nothing Graph sends is refused.
pub const MAX_TOKENS_PER_COLLECTION: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum ValidationTokenError {
    #[error("no validation tokens: the collection is empty")]
    NoTokens,
    #[error("validation token missing (null or empty entry)")]
    Missing,
    #[error(
        "{0} validation tokens in one collection: Graph sends one per app and tenant (at most {MAX_TOKENS_PER_COLLECTION})"
    )]
    TooMany(usize),
    #[error("validation token is malformed: {0}")]
    Malformed(&'static str),
    #[error("validation token names a signing key (kid) that is not in the JWKS")]
    UnknownKey,
    #[error("validation token signature does not verify")]
    BadSignature,
    #[error("validation token has expired")]
    Expired,
    #[error("validation token is not valid yet (nbf in the future)")]
    NotYetValid,
    #[error("validation token audience (aud) is not this app")]
    WrongAudience,
    #[error("validation token was not requested by Graph change tracking (azp/appid)")]
    WrongPublisher,
    #[error("validation token issuer (iss) does not match its version and tenant")]
    WrongIssuer,
    #[error("validation token was issued in another tenant")]
    WrongTenant,
    #[error("validation token uses unsupported algorithm {0} (only RS256 is accepted)")]
    UnsupportedAlgorithm(String),
    #[error("signing keys (JWKS) unavailable: {0}")]
    JwksUnavailable(#[source] JwksError),
    #[error("token validator misconfigured: {0}")]
    Config(&'static str),
}

/// Why the signing keys could not be had.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("fetching them failed: {0}")]
    Fetch(#[source] crate::outbound::Failure),
    #[error("the endpoint answered HTTP {0}")]
    Status(u16),
    #[error("the answer is not a JSON Web Key Set")]
    NotAKeySet(#[source] serde_json::Error),
    #[error("the key set has no usable RSA signing keys")]
    NoUsableKeys,
    #[error("the last fetch failed; not retrying yet")]
    BackingOff,
}

/// Validates Graph validation tokens against a shared, lazily fetched JWKS. Clones share the cache.
#[derive(Clone)]
pub struct TokenValidator {
    inner: Arc<Inner>,
}

// Compile-time check: handlers share one validator across tasks and threads.
const _: fn() = || {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<TokenValidator>();
};

struct Inner {
    settings: TokenSettings,
    validation: Validation,
    jwks: Arc<JwksCache>,
    verified: verified::Verified,
}

impl std::fmt::Debug for TokenValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenValidator")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl TokenValidator {
    pub fn new(settings: TokenSettings, http: reqwest::Client) -> Self {
        let jwks = JwksCache::new(&settings, http);
        Self::with_cache(settings, jwks)
    }

    /// A validator whose signing keys are `jwks` (a JSON Web Key Set), read as a fetched set is,
    /// and that never fetches: for the fuzz targets (`fuzz/`), which must run without a network.
    /// With `refresh_every` and `min_refresh_interval` longer than the run, no fetch is ever due.
    #[doc(hidden)]
    pub fn with_key_set(
        settings: TokenSettings,
        jwks: &[u8],
    ) -> Result<Self, ValidationTokenError> {
        let keys = jwks::parse_jwks(jwks)?;
        let cache = JwksCache::preloaded(&settings, reqwest::Client::new(), keys);
        Ok(Self::with_cache(settings, cache))
    }

    fn with_cache(settings: TokenSettings, jwks: JwksCache) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        // Expiry is checked on our clock (`check_claims`), the same one the key cache runs on.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = true;
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        validation.set_audience(&[settings.app_id.as_str()]);
        let jwks = Arc::new(jwks);
        Self {
            inner: Arc::new(Inner {
                settings,
                validation,
                jwks,
                verified: Default::default(),
            }),
        }
    }

    /// Validates one token; on success returns the tenant it vouches for.
    pub async fn validate(&self, token: &str) -> Result<ValidatedToken, ValidationTokenError> {
        let settings = &self.inner.settings;
        if settings.app_id.trim().is_empty() {
            // An empty audience would accept a token with an empty `aud`.
            return Err(ValidationTokenError::Config("app_id is empty"));
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(ValidationTokenError::Missing);
        }
        let kid = check_header(token)?;
        // Unsigned, so proof of nothing: but a token that would fail anyway must not spend the
        // refetch an unknown kid may cost (a genuine one never fails here).
        let plausible = unsigned_claims(token)
            .and_then(|c| self.check_claims(&c))
            .and_then(|v| match &settings.tenant_id {
                Some(ours) if !ours.eq_ignore_ascii_case(&v.tenant_id) => {
                    Err(ValidationTokenError::WrongTenant)
                }
                _ => Ok(v),
            });
        let key = match self.inner.jwks.key_for(&kid, plausible.is_ok()).await {
            Ok(key) => key,
            // A token whose claims fail is refused for them (a forged request stays a 401); only
            // a plausible one is left waiting for the keys (an outage is ours: 503, Graph retries).
            Err(
                e @ (ValidationTokenError::UnknownKey | ValidationTokenError::JwksUnavailable(_)),
            ) => {
                return Err(plausible.err().unwrap_or(e));
            }
            Err(e) => return Err(e),
        };
        // Looked up after the key: the JWKS keeps its schedule, and a withdrawn key ends it.
        if let Some(claims) = self.inner.verified.get(token) {
            return self.check_claims(&claims);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.inner.validation)
            .map_err(|e| map_jwt_error(e.kind()))?
            .claims;
        let claims = Arc::new(claims);
        self.inner.verified.insert(token, Arc::clone(&claims));
        self.check_claims(&claims)
    }

    /// The claims beyond what `jsonwebtoken` checks (signature, aud, presence of exp and iss).
    fn check_claims(&self, claims: &Claims) -> Result<ValidatedToken, ValidationTokenError> {
        let settings = &self.inner.settings;
        let now = settings.clock.now().millis() / 1000;
        let leeway = i64::try_from(settings.leeway.as_secs()).unwrap_or(i64::MAX);
        let exp = claims.exp.ok_or(ValidationTokenError::Malformed(
            "claim exp is missing or not a number",
        ))?;
        // Saturating: the claims are the sender's, read before the signature is checked, and
        // `exp = i64::MAX` must not overflow (a panic, a 500) where a forged token gets a 401.
        if exp.saturating_add(leeway) < now {
            return Err(ValidationTokenError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf.saturating_sub(leeway) > now)
        {
            return Err(ValidationTokenError::NotYetValid);
        }
        if !claims
            .aud
            .as_ref()
            .is_some_and(|a| a.contains(&settings.app_id))
        {
            return Err(ValidationTokenError::WrongAudience);
        }
        check_caller_and_issuer(claims, &settings.app_id, &settings.authority_url)
    }

    /// Fetches the signing keys now unless they are loaded, so the first token does not wait
    /// for them (a Lambda function's cold start fetches them while it reads its secrets). A
    /// failure is logged and not held against the first token, which then fetches for itself.
    pub async fn fetch_keys_ahead(&self) {
        self.inner.jwks.fetch_ahead().await;
    }

    /// Validates all tokens of a collection; Err on the first invalid one (the whole
    /// collection is then suspicious) or when the list is empty / has a null entry.
    pub async fn validate_all(
        &self,
        tokens: &[Option<String>],
    ) -> Result<Vec<ValidatedToken>, ValidationTokenError> {
        if tokens.is_empty() {
            return Err(ValidationTokenError::NoTokens);
        }
        // Each check is an RSA verification: a sender repeating one captured token, or sending
        // thousands, must not buy that many of them.
        if tokens.len() > MAX_TOKENS_PER_COLLECTION {
            return Err(ValidationTokenError::TooMany(tokens.len()));
        }
        let mut valid = Vec::with_capacity(tokens.len());
        let mut checked = std::collections::HashSet::with_capacity(tokens.len());
        for (index, token) in tokens.iter().enumerate() {
            let token = token.as_deref().ok_or(ValidationTokenError::Missing)?;
            if !checked.insert(token) {
                continue; // the same token twice vouches for nothing more
            }
            match self.validate(token).await {
                Ok(v) => valid.push(v),
                Err(err) => {
                    tracing::warn!(index, error = %err, "validation token rejected");
                    return Err(err);
                }
            }
        }
        Ok(valid)
    }
}

#[cfg(test)]
mod tests;

//! Graph validation tokens: the Microsoft-signed JWTs (RS256) that rich notifications carry in
//! `validationTokens`, one per app+tenant pair. A notification is only trusted when every one of them
//! verifies (see docs/architecture.md#validation-tokens). One clock decides expiry here and the
//! age of the signing keys ([`jwks`]).

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
use jwks::JwksCache;

/// Real tokens are ~1.5 KB; the cap keeps garbage input from costing us work.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Clone, Debug)]
pub struct TokenSettings {
    /// Where the signing keys are published (Microsoft identity platform JWKS).
    pub jwks_url: String,
    /// Our app (client) id: the `aud` every token must carry.
    pub app_id: String,
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
            Err(ValidationTokenError::UnknownKey) => {
                return Err(plausible.err().unwrap_or(ValidationTokenError::UnknownKey));
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
        let leeway = settings.leeway.as_secs() as i64;
        let exp = claims.exp.ok_or(ValidationTokenError::Malformed(
            "claim exp is missing or not a number",
        ))?;
        if exp + leeway < now {
            return Err(ValidationTokenError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf - leeway > now) {
            return Err(ValidationTokenError::NotYetValid);
        }
        if !claims
            .aud
            .as_ref()
            .is_some_and(|a| a.contains(&settings.app_id))
        {
            return Err(ValidationTokenError::WrongAudience);
        }
        check_caller_and_issuer(claims, &settings.app_id)
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

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
}

/// Checks shape and algorithm before any key lookup, so forged `alg`s never reach the JWKS and
/// `none`/`HS*` get a precise error. Returns the `kid`.
fn check_header(token: &str) -> Result<String, ValidationTokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(ValidationTokenError::Malformed(
            "longer than any real token",
        ));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ValidationTokenError::Malformed(
            "not three dot-separated parts",
        ));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| ValidationTokenError::Malformed("header is not base64url"))?;
    let header: Header = serde_json::from_slice(&bytes)
        .map_err(|_| ValidationTokenError::Malformed("header is not a JSON object"))?;
    match header.alg.as_deref() {
        Some("RS256") => {}
        Some(other) => {
            return Err(ValidationTokenError::UnsupportedAlgorithm(printable_alg(
                other,
            )));
        }
        None => return Err(ValidationTokenError::Malformed("header has no alg")),
    }
    header
        .kid
        .filter(|k| !k.is_empty())
        .ok_or(ValidationTokenError::Malformed("header has no kid"))
}

/// The payload of a token whose header passed [`check_header`], read without its signature.
fn unsigned_claims(token: &str) -> Result<Claims, ValidationTokenError> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or(ValidationTokenError::Malformed(
            "not three dot-separated parts",
        ))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| ValidationTokenError::Malformed("payload or signature is not base64url"))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| ValidationTokenError::Malformed("claims are not the expected JSON"))
}

/// The `alg` goes into logs; keep attacker-chosen text short and plain.
fn printable_alg(alg: &str) -> String {
    if !alg.is_empty() && alg.len() <= 16 && alg.chars().all(|c| c.is_ascii_alphanumeric()) {
        alg.to_owned()
    } else {
        "(unprintable)".to_owned()
    }
}

fn map_jwt_error(kind: &ErrorKind) -> ValidationTokenError {
    match kind {
        ErrorKind::InvalidSignature => ValidationTokenError::BadSignature,
        // A JWKS entry that does not work as an RSA key cannot verify anything.
        ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat | ErrorKind::Provider(_) => {
            ValidationTokenError::BadSignature
        }
        ErrorKind::ExpiredSignature => ValidationTokenError::Expired,
        ErrorKind::ImmatureSignature => ValidationTokenError::NotYetValid,
        ErrorKind::InvalidAudience => ValidationTokenError::WrongAudience,
        ErrorKind::InvalidIssuer => ValidationTokenError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(c) if c == "aud" => ValidationTokenError::WrongAudience,
        ErrorKind::MissingRequiredClaim(c) if c == "iss" => ValidationTokenError::WrongIssuer,
        // jsonwebtoken also reports a non-numeric `exp` as missing.
        ErrorKind::MissingRequiredClaim(c) if c == "exp" => {
            ValidationTokenError::Malformed("claim exp is missing or not a number")
        }
        ErrorKind::MissingRequiredClaim(_) => {
            ValidationTokenError::Malformed("a required claim is missing")
        }
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            ValidationTokenError::UnsupportedAlgorithm("(mismatched)".into())
        }
        ErrorKind::InvalidClaimFormat(_) | ErrorKind::Json(_) => {
            ValidationTokenError::Malformed("claims are not the expected JSON")
        }
        ErrorKind::Base64(_) | ErrorKind::Utf8(_) | ErrorKind::InvalidToken => {
            ValidationTokenError::Malformed("payload or signature is not base64url")
        }
        _ => ValidationTokenError::Malformed("rejected by the JWT decoder"),
    }
}

/// The claims the validator checks itself. `exp`/`nbf` that are not whole numbers read as absent
/// (`jsonwebtoken` reports a non-numeric `exp` as missing, too).
#[derive(Deserialize)]
struct Claims {
    ver: Option<String>,
    tid: Option<String>,
    iss: Option<String>,
    azp: Option<String>,
    appid: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    exp: Option<i64>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    nbf: Option<i64>,
}

/// `aud`: one string or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, app_id: &str) -> bool {
        match self {
            Audience::One(a) => a == app_id,
            Audience::Many(list) => list.iter().any(|a| a == app_id),
        }
    }
}

fn lenient_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(serde_json::Value::deserialize(d)?.as_i64())
}

fn check_caller_and_issuer(
    claims: &Claims,
    app_id: &str,
) -> Result<ValidatedToken, ValidationTokenError> {
    let tid = claims
        .tid
        .clone()
        .filter(|t| !t.is_empty())
        .ok_or(ValidationTokenError::Malformed("claim tid is missing"))?;
    // v1 and v2 tokens name the caller and the issuer differently.
    let (caller, expected_iss) = match claims.ver.as_deref() {
        Some("2.0") => (
            claims.azp.as_deref(),
            format!("https://login.microsoftonline.com/{tid}/v2.0"),
        ),
        Some("1.0") => (
            claims.appid.as_deref(),
            format!("https://sts.windows.net/{tid}/"),
        ),
        _ => {
            return Err(ValidationTokenError::Malformed(
                "claim ver is neither 1.0 nor 2.0",
            ));
        }
    };
    if caller != Some(CHANGE_TRACKING_APP_ID) {
        return Err(ValidationTokenError::WrongPublisher);
    }
    if claims.iss.as_deref() != Some(expected_iss.as_str()) {
        return Err(ValidationTokenError::WrongIssuer);
    }
    Ok(ValidatedToken {
        tenant_id: tid,
        app_id: app_id.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn header_must_be_rs256_with_kid() {
        let tok = |h: &str| format!("{}.{}.sig", b64(h), b64("{}"));
        assert_eq!(
            check_header(&tok(r#"{"alg":"RS256","kid":"k1"}"#)).unwrap(),
            "k1"
        );
        for (header, want) in [
            (r#"{"alg":"none","kid":"k1"}"#, "unsupported algorithm none"),
            (
                r#"{"alg":"HS256","kid":"k1"}"#,
                "unsupported algorithm HS256",
            ),
            (r#"{"alg":"RS256\n\u001b[31m","kid":"k1"}"#, "(unprintable)"),
            (r#"{"kid":"k1"}"#, "has no alg"),
            (r#"{"alg":"RS256"}"#, "has no kid"),
            (r#"{"alg":"RS256","kid":""}"#, "has no kid"),
            (r#"[1,2]"#, "not a JSON object"),
        ] {
            let err = check_header(&tok(header)).unwrap_err();
            assert!(err.to_string().contains(want), "{header}: {err}");
        }
    }

    #[test]
    fn malformed_shapes_are_named_without_echoing_input() {
        let secretish = "eyJzZWNyZXQiOiJ0b3Atc2VjcmV0In0";
        for (token, want) in [
            (secretish.to_string(), "three dot-separated parts"),
            (format!("{secretish}.a.b.c"), "three dot-separated parts"),
            (format!("!!{secretish}.a.b"), "not base64url"),
            (
                "x".repeat(MAX_TOKEN_BYTES + 1),
                "longer than any real token",
            ),
        ] {
            let err = check_header(&token).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(want), "{msg}");
            assert!(!msg.contains(secretish), "{msg}");
        }
    }

    fn claims(ver: &str, iss: &str, azp: Option<&str>, appid: Option<&str>) -> Claims {
        Claims {
            ver: Some(ver.into()),
            tid: Some("t1".into()),
            iss: Some(iss.into()),
            azp: azp.map(Into::into),
            appid: appid.map(Into::into),
            aud: Some(Audience::One("me".into())),
            exp: None,
            nbf: None,
        }
    }

    #[test]
    fn caller_and_issuer_follow_the_token_version() {
        let v2_iss = "https://login.microsoftonline.com/t1/v2.0";
        let v1_iss = "https://sts.windows.net/t1/";
        let ok = check_caller_and_issuer(
            &claims("2.0", v2_iss, Some(CHANGE_TRACKING_APP_ID), None),
            "me",
        )
        .unwrap();
        assert_eq!(ok.tenant_id, "t1");
        assert_eq!(ok.app_id, "me");
        assert!(
            check_caller_and_issuer(
                &claims("1.0", v1_iss, None, Some(CHANGE_TRACKING_APP_ID)),
                "me"
            )
            .is_ok()
        );
        // v1 must use appid, not azp; v2 must use azp, not appid.
        assert!(matches!(
            check_caller_and_issuer(
                &claims("1.0", v1_iss, Some(CHANGE_TRACKING_APP_ID), None),
                "me"
            ),
            Err(ValidationTokenError::WrongPublisher)
        ));
        assert!(matches!(
            check_caller_and_issuer(
                &claims("2.0", v2_iss, None, Some(CHANGE_TRACKING_APP_ID)),
                "me"
            ),
            Err(ValidationTokenError::WrongPublisher)
        ));
        assert!(matches!(
            check_caller_and_issuer(
                &claims("2.0", v1_iss, Some(CHANGE_TRACKING_APP_ID), None),
                "me"
            ),
            Err(ValidationTokenError::WrongIssuer)
        ));
        assert!(matches!(
            check_caller_and_issuer(
                &claims("3.0", v2_iss, Some(CHANGE_TRACKING_APP_ID), None),
                "me"
            ),
            Err(ValidationTokenError::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn empty_app_id_is_a_config_error_not_a_pass() {
        let validator = TokenValidator::new(TokenSettings::default(), reqwest::Client::new());
        let err = validator.validate("a.b.c").await.unwrap_err();
        assert!(matches!(err, ValidationTokenError::Config(_)), "{err}");
    }

    #[test]
    fn default_settings_follow_the_brief() {
        let s = TokenSettings::default();
        assert_eq!(s.leeway, Duration::from_secs(300));
        assert_eq!(s.min_refresh_interval, Duration::from_secs(300));
        assert!(s.jwks_url.starts_with("https://login.microsoftonline.com/"));
    }
}

//! Graph validation tokens: the Microsoft-signed JWTs (RS256) that rich notifications carry in
//! `validationTokens`, one per app+tenant pair. A notification is only trusted when every one of them
//! verifies (see docs/architecture.md#validation-tokens).

mod jwks;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::CHANGE_TRACKING_APP_ID;
use jwks::JwksCache;

/// Real tokens are ~1.5 KB; the cap keeps garbage input from costing us work.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Clone, Debug)]
pub struct TokenSettings {
    /// Where the signing keys are published (Microsoft identity platform JWKS).
    pub jwks_url: String,
    /// Our app (client) id: the `aud` every token must carry.
    pub app_id: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// Minimum time between two JWKS refreshes triggered by unknown `kid`s.
    pub min_refresh_interval: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            jwks_url: "https://login.microsoftonline.com/common/discovery/v2.0/keys".into(),
            app_id: String::new(),
            leeway: Duration::from_secs(5 * 60),
            min_refresh_interval: Duration::from_secs(5 * 60),
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
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no validation tokens: the collection is empty")]
    NoTokens,
    #[error("validation token missing (null or empty entry)")]
    Missing,
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
    #[error("validation token uses unsupported algorithm {0} (only RS256 is accepted)")]
    UnsupportedAlgorithm(String),
    #[error("signing keys (JWKS) unavailable: {0}")]
    JwksUnavailable(String),
    #[error("token validator misconfigured: {0}")]
    Config(&'static str),
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
    jwks: JwksCache,
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
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = settings.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        validation.set_audience(&[settings.app_id.as_str()]);
        let jwks = JwksCache::new(&settings, http);
        Self {
            inner: Arc::new(Inner {
                settings,
                validation,
                jwks,
            }),
        }
    }

    /// Validates one token; on success returns the tenant it vouches for.
    pub async fn validate(&self, token: &str) -> Result<ValidatedToken, TokenError> {
        let settings = &self.inner.settings;
        if settings.app_id.trim().is_empty() {
            // An empty audience would accept a token with an empty `aud`.
            return Err(TokenError::Config("app_id is empty"));
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        let kid = check_header(token)?;
        let key = self.inner.jwks.key_for(&kid).await?;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.inner.validation)
            .map_err(|e| map_jwt_error(e.kind()))?
            .claims;
        check_claims(claims, &settings.app_id)
    }

    /// Validates all tokens of a collection; Err on the first invalid one (the whole
    /// collection is then suspicious) or when the list is empty / has a null entry.
    pub async fn validate_all(
        &self,
        tokens: &[Option<String>],
    ) -> Result<Vec<ValidatedToken>, TokenError> {
        if tokens.is_empty() {
            return Err(TokenError::NoTokens);
        }
        let mut valid = Vec::with_capacity(tokens.len());
        for (index, token) in tokens.iter().enumerate() {
            let token = token.as_deref().ok_or(TokenError::Missing)?;
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
fn check_header(token: &str) -> Result<String, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed("longer than any real token"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("not three dot-separated parts"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::Malformed("header is not base64url"))?;
    let header: Header = serde_json::from_slice(&bytes)
        .map_err(|_| TokenError::Malformed("header is not a JSON object"))?;
    match header.alg.as_deref() {
        Some("RS256") => {}
        Some(other) => return Err(TokenError::UnsupportedAlgorithm(printable_alg(other))),
        None => return Err(TokenError::Malformed("header has no alg")),
    }
    header
        .kid
        .filter(|k| !k.is_empty())
        .ok_or(TokenError::Malformed("header has no kid"))
}

/// The `alg` goes into logs; keep attacker-chosen text short and plain.
fn printable_alg(alg: &str) -> String {
    if !alg.is_empty() && alg.len() <= 16 && alg.chars().all(|c| c.is_ascii_alphanumeric()) {
        alg.to_owned()
    } else {
        "(unprintable)".to_owned()
    }
}

fn map_jwt_error(kind: &ErrorKind) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        // A JWKS entry that does not work as an RSA key cannot verify anything.
        ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat | ErrorKind::Provider(_) => {
            TokenError::BadSignature
        }
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(c) if c == "aud" => TokenError::WrongAudience,
        ErrorKind::MissingRequiredClaim(c) if c == "iss" => TokenError::WrongIssuer,
        // jsonwebtoken also reports a non-numeric `exp` as missing.
        ErrorKind::MissingRequiredClaim(c) if c == "exp" => {
            TokenError::Malformed("claim exp is missing or not a number")
        }
        ErrorKind::MissingRequiredClaim(_) => TokenError::Malformed("a required claim is missing"),
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            TokenError::UnsupportedAlgorithm("(mismatched)".into())
        }
        ErrorKind::InvalidClaimFormat(_) | ErrorKind::Json(_) => {
            TokenError::Malformed("claims are not the expected JSON")
        }
        ErrorKind::Base64(_) | ErrorKind::Utf8(_) | ErrorKind::InvalidToken => {
            TokenError::Malformed("payload or signature is not base64url")
        }
        _ => TokenError::Malformed("rejected by the JWT decoder"),
    }
}

/// The claims beyond what `jsonwebtoken` already checked (signature, exp, nbf, aud).
#[derive(Deserialize)]
struct Claims {
    ver: Option<String>,
    tid: Option<String>,
    iss: Option<String>,
    azp: Option<String>,
    appid: Option<String>,
}

fn check_claims(claims: Claims, app_id: &str) -> Result<ValidatedToken, TokenError> {
    let tid = claims
        .tid
        .filter(|t| !t.is_empty())
        .ok_or(TokenError::Malformed("claim tid is missing"))?;
    // v1 and v2 tokens name the caller and the issuer differently.
    let (caller, expected_iss) = match claims.ver.as_deref() {
        Some("2.0") => (
            claims.azp,
            format!("https://login.microsoftonline.com/{tid}/v2.0"),
        ),
        Some("1.0") => (claims.appid, format!("https://sts.windows.net/{tid}/")),
        _ => return Err(TokenError::Malformed("claim ver is neither 1.0 nor 2.0")),
    };
    if caller.as_deref() != Some(CHANGE_TRACKING_APP_ID) {
        return Err(TokenError::WrongPublisher);
    }
    if claims.iss.as_deref() != Some(expected_iss.as_str()) {
        return Err(TokenError::WrongIssuer);
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
        }
    }

    #[test]
    fn caller_and_issuer_follow_the_token_version() {
        let v2_iss = "https://login.microsoftonline.com/t1/v2.0";
        let v1_iss = "https://sts.windows.net/t1/";
        let ok = check_claims(
            claims("2.0", v2_iss, Some(CHANGE_TRACKING_APP_ID), None),
            "me",
        )
        .unwrap();
        assert_eq!(ok.tenant_id, "t1");
        assert_eq!(ok.app_id, "me");
        assert!(
            check_claims(
                claims("1.0", v1_iss, None, Some(CHANGE_TRACKING_APP_ID)),
                "me"
            )
            .is_ok()
        );
        // v1 must use appid, not azp; v2 must use azp, not appid.
        assert!(matches!(
            check_claims(
                claims("1.0", v1_iss, Some(CHANGE_TRACKING_APP_ID), None),
                "me"
            ),
            Err(TokenError::WrongPublisher)
        ));
        assert!(matches!(
            check_claims(
                claims("2.0", v2_iss, None, Some(CHANGE_TRACKING_APP_ID)),
                "me"
            ),
            Err(TokenError::WrongPublisher)
        ));
        assert!(matches!(
            check_claims(
                claims("2.0", v1_iss, Some(CHANGE_TRACKING_APP_ID), None),
                "me"
            ),
            Err(TokenError::WrongIssuer)
        ));
        assert!(matches!(
            check_claims(
                claims("3.0", v2_iss, Some(CHANGE_TRACKING_APP_ID), None),
                "me"
            ),
            Err(TokenError::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn empty_app_id_is_a_config_error_not_a_pass() {
        let validator = TokenValidator::new(TokenSettings::default(), reqwest::Client::new());
        let err = validator.validate("a.b.c").await.unwrap_err();
        assert!(matches!(err, TokenError::Config(_)), "{err}");
    }

    #[test]
    fn default_settings_follow_the_brief() {
        let s = TokenSettings::default();
        assert_eq!(s.leeway, Duration::from_secs(300));
        assert_eq!(s.min_refresh_interval, Duration::from_secs(300));
        assert!(s.jwks_url.starts_with("https://login.microsoftonline.com/"));
    }
}

//! Reading a validation token before its signature is checked: the header (shape, `alg`, `kid`)
//! and the claims the validator checks itself (audience, caller, issuer, times), so a forged
//! token is refused before it can cost a key lookup.

use super::*;

#[derive(Deserialize)]
pub(super) struct Header {
    pub(super) alg: Option<String>,
    pub(super) kid: Option<String>,
}

/// Checks shape and algorithm before any key lookup, so forged `alg`s never reach the JWKS and
/// `none`/`HS*` get a precise error. Returns the `kid`.
pub(super) fn check_header(token: &str) -> Result<String, ValidationTokenError> {
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
pub(super) fn unsigned_claims(token: &str) -> Result<Claims, ValidationTokenError> {
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
pub(super) fn printable_alg(alg: &str) -> String {
    if !alg.is_empty() && alg.len() <= 16 && alg.chars().all(|c| c.is_ascii_alphanumeric()) {
        alg.to_owned()
    } else {
        "(unprintable)".to_owned()
    }
}

pub(super) fn map_jwt_error(kind: &ErrorKind) -> ValidationTokenError {
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
pub(super) struct Claims {
    pub(super) ver: Option<String>,
    pub(super) tid: Option<String>,
    pub(super) iss: Option<String>,
    pub(super) azp: Option<String>,
    pub(super) appid: Option<String>,
    #[serde(default)]
    pub(super) aud: Option<Audience>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    pub(super) exp: Option<i64>,
    #[serde(default, deserialize_with = "lenient_seconds")]
    pub(super) nbf: Option<i64>,
}

/// `aud`: one string or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub(super) fn contains(&self, app_id: &str) -> bool {
        match self {
            Audience::One(a) => a == app_id,
            Audience::Many(list) => list.iter().any(|a| a == app_id),
        }
    }
}

pub(super) fn lenient_seconds<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<i64>, D::Error> {
    Ok(serde_json::Value::deserialize(d)?.as_i64())
}

/// The documented v2.0 issuer host (validation tokens of the global service, the only one with
/// presence change notifications).
const GLOBAL_AUTHORITY: &str = "https://login.microsoftonline.com";

/// `authority_url` is the configured sign-in authority: a national cloud's v2.0 tokens name it as
/// their issuer; the global service's documented issuer is accepted whatever it is.
pub(super) fn check_caller_and_issuer(
    claims: &Claims,
    app_id: &str,
    authority_url: &str,
) -> Result<ValidatedToken, ValidationTokenError> {
    let tid = claims
        .tid
        .clone()
        .filter(|t| !t.is_empty())
        .ok_or(ValidationTokenError::Malformed("claim tid is missing"))?;
    // v1 and v2 tokens name the caller and the issuer differently.
    let authority = authority_url.trim_end_matches('/');
    let (caller, expected_iss) = match claims.ver.as_deref() {
        Some("2.0") => (
            claims.azp.as_deref(),
            vec![
                format!("{authority}/{tid}/v2.0"),
                format!("{GLOBAL_AUTHORITY}/{tid}/v2.0"),
            ],
        ),
        Some("1.0") => (
            claims.appid.as_deref(),
            vec![format!("https://sts.windows.net/{tid}/")],
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
    if !claims
        .iss
        .as_deref()
        .is_some_and(|iss| expected_iss.iter().any(|e| e == iss))
    {
        return Err(ValidationTokenError::WrongIssuer);
    }
    Ok(ValidatedToken {
        tenant_id: tid,
        app_id: app_id.to_owned(),
    })
}

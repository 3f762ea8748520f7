//! Requests to the Microsoft identity platform's OAuth endpoints (token, devicecode), shared by
//! the app-only token ([`super::token`]) and the sync accounts' delegated sign-in
//! ([`super::delegated`]): one request shape, one retry policy, one error type. Entra's error
//! descriptions name the problem and never echo secrets or tokens; no secret or token ever
//! appears in an [`EntraError`].

use crate::outbound::http::{Answer, exchange};
use crate::outbound::{GaveUp, Idempotency, RetryPolicy};
use std::time::Duration;

/// Longest wait for one request to Entra.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Token answers are a few KiB (three tokens at most).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Why a request to Entra's sign-in endpoints did not bring what was asked for.
#[derive(Debug, thiserror::Error)]
pub enum EntraError {
    /// No answer (timeouts, 5xx, 429, no connection) within the attempts and the budget: worth
    /// another try later.
    #[error("Entra sign-in endpoint unavailable: {0}")]
    Unavailable(#[source] GaveUp),
    /// Entra refused the request (4xx, or a redirect, which is never followed): a wrong secret,
    /// an app without consent, a bad request. Asking again will not help.
    #[error("Entra refused the request: HTTP {status}: {reason}")]
    Refused { status: u16, reason: String },
    /// A 2xx without what the grant returns.
    #[error("Entra's {endpoint} endpoint answered 2xx without {missing}")]
    BadAnswer {
        endpoint: &'static str,
        missing: &'static str,
    },
    /// Someone declined the device-code sign-in.
    #[error("the sign-in was declined")]
    Declined,
    /// Nobody signed in before the device code expired.
    #[error("the code expired before anyone signed in; run the command again")]
    CodeExpired,
    /// The refresh token is expired, revoked or superseded (or a policy now demands MFA or
    /// consent): only a new interactive sign-in helps.
    #[error("the account's sign-in is no longer valid ({0}); run `accounts add` for it again")]
    SignInNeeded(String),
}

impl EntraError {
    /// Entra's own refusal of an answer that is not 2xx.
    pub(crate) fn refused(answer: &Answer) -> Self {
        let err = OAuthError::parse(&answer.body);
        let reason = if answer.status.is_redirection() {
            "a redirect, which is never followed".to_string()
        } else if err.error.is_none() && err.error_description.is_none() {
            "no error description".to_string()
        } else {
            format!(
                "{}: {}",
                err.code(),
                err.error_description.as_deref().unwrap_or_default()
            )
        };
        EntraError::Refused {
            status: answer.status.as_u16(),
            reason,
        }
    }
}

/// Entra's OAuth error answer (`error`, `error_description`); empty when the body is not one.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct OAuthError {
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}

impl OAuthError {
    pub fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    pub fn code(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }

    /// The description's first line (`AADSTS…: what is wrong`, without Entra's trace and
    /// correlation ids), else the error name.
    pub fn summary(&self) -> String {
        let d = self.error_description.as_deref().unwrap_or("");
        let line: String = d
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .chars()
            .take(300)
            .collect();
        match (line.is_empty(), self.code()) {
            (false, _) => line,
            (true, "") => "no error description".to_string(),
            (true, code) => code.to_string(),
        }
    }
}

/// POSTs a form to an Entra endpoint under `policy` within `budget`: Entra's answer (2xx, 4xx or
/// a redirect), or `Unavailable`. `idempotency` says whether a failed attempt may be repeated: a
/// refresh-token redemption or a device-code poll that may have succeeded is not.
pub(crate) async fn post_form(
    http: &reqwest::Client,
    url: &str,
    pairs: &[(&str, &str)],
    policy: &RetryPolicy,
    idempotency: Idempotency,
    budget: Duration,
) -> Result<Answer, EntraError> {
    let attempt = |left: Duration| {
        let request = http.post(url).form(pairs);
        exchange(request, ATTEMPT_TIMEOUT.min(left), MAX_ANSWER_BYTES)
    };
    policy
        .run("Entra token endpoint", idempotency, budget, attempt)
        .await
        .map_err(EntraError::Unavailable)
}

/// The longest access-token life Entra can be configured to issue (token lifetime policies).
pub(crate) const MAX_TOKEN_LIFE: Duration = Duration::from_secs(24 * 60 * 60);

/// The fields of a successful token answer. No `Debug`: it holds tokens.
#[derive(serde::Deserialize)]
pub(crate) struct TokenAnswer {
    pub access_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<Seconds>,
}

/// `expires_in` as a number (v2.0 endpoint) or a numeric string (v1.0 endpoint, AD FS).
#[derive(serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum Seconds {
    Number(u64),
    Text(String),
    /// Anything else (negative, fractional, not a number): named in the error, not a parse
    /// failure that would blame the access token.
    Other(serde::de::IgnoredAny),
}

impl Seconds {
    fn value(&self) -> Option<u64> {
        match self {
            Seconds::Number(n) => Some(*n),
            Seconds::Text(t) => t.parse().ok(),
            Seconds::Other(_) => None,
        }
    }
}

impl TokenAnswer {
    /// The access token (never empty), the refresh token if any, and the access token's life.
    pub fn parse(body: &[u8]) -> Result<(String, Option<String>, Duration), EntraError> {
        let bad = |missing| EntraError::BadAnswer {
            endpoint: "token",
            missing,
        };
        let Ok(TokenAnswer {
            access_token: Some(access_token),
            refresh_token,
            expires_in,
        }) = serde_json::from_slice::<TokenAnswer>(body)
        else {
            return Err(bad("an access_token"));
        };
        if access_token.is_empty() {
            return Err(bad("an access_token"));
        }
        let seconds = match expires_in {
            // Entra's usual life when it does not say.
            None => 3599,
            Some(s) => s.value().ok_or(bad("a numeric expires_in"))?,
        };
        Ok((
            access_token,
            refresh_token.filter(|t| !t.is_empty()),
            // A longer life than any Entra issues is not believed (an unbounded one would
            // overflow the refresh deadline).
            Duration::from_secs(seconds).min(MAX_TOKEN_LIFE),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::{HeaderMap, StatusCode};

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn a_refusal_names_entras_reason_and_a_redirect_is_named_as_such() {
        let e = EntraError::refused(&answer(
            400,
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x"}"#,
        ));
        let text = e.to_string();
        assert!(
            text.contains("HTTP 400: invalid_client: AADSTS7000215"),
            "{text}"
        );
        let e = EntraError::refused(&answer(302, ""));
        assert!(e.to_string().contains("redirect"), "{e}");
        let e = EntraError::refused(&answer(404, "<html>"));
        assert!(e.to_string().contains("no error description"), "{e}");
    }

    #[test]
    fn a_token_life_longer_than_entra_issues_is_capped() {
        // u64::MAX seconds once overflowed the refresh deadline (`Instant + life`): a panic on
        // the token endpoint's answer. Found writing the graph_responses fuzz target.
        let (_, _, life) =
            TokenAnswer::parse(br#"{"access_token":"a","expires_in":18446744073709551615}"#)
                .unwrap();
        assert_eq!(life, MAX_TOKEN_LIFE);
        assert!(std::time::Instant::now().checked_add(life).is_some());
    }

    #[test]
    fn a_token_answer_needs_an_access_token() {
        let (token, refresh, life) =
            TokenAnswer::parse(br#"{"access_token":"a","refresh_token":"","expires_in":60}"#)
                .unwrap();
        assert_eq!((token.as_str(), refresh, life.as_secs()), ("a", None, 60));
        for bad in [&br#"{"access_token":""}"#[..], b"{}", b"not json"] {
            assert!(matches!(
                TokenAnswer::parse(bad),
                Err(EntraError::BadAnswer { .. })
            ));
        }
    }

    #[test]
    fn expires_in_may_be_a_number_or_a_numeric_string() {
        // The v1.0 endpoint and AD FS send "3599" as a string; the v2.0 endpoint a number.
        for body in [
            &br#"{"access_token":"a","expires_in":"3599"}"#[..],
            br#"{"access_token":"a","expires_in":3599}"#,
        ] {
            let (_, _, life) = TokenAnswer::parse(body).unwrap();
            assert_eq!(life.as_secs(), 3599);
        }
        for bad in [
            &br#"{"access_token":"a","expires_in":"soon"}"#[..],
            br#"{"access_token":"a","expires_in":"-5"}"#,
            br#"{"access_token":"a","expires_in":-5}"#,
            br#"{"access_token":"a","expires_in":true}"#,
        ] {
            let err = TokenAnswer::parse(bad).err().map(|e| e.to_string());
            assert_eq!(
                err.as_deref(),
                Some("Entra's token endpoint answered 2xx without a numeric expires_in")
            );
        }
    }

    #[test]
    fn the_summary_is_the_first_line_of_the_description() {
        let e = OAuthError::parse(
            br#"{"error":"invalid_grant","error_description":"AADSTS70008: expired.\r\nTrace ID: 1"}"#,
        );
        assert_eq!(e.summary(), "AADSTS70008: expired.");
        assert_eq!(
            OAuthError::parse(br#"{"error":"invalid_grant"}"#).summary(),
            "invalid_grant"
        );
        assert_eq!(OAuthError::parse(b"").summary(), "no error description");
    }
}

//! Delegated sign-in of a sync account: the device-code flow (once, by the administrator) and the
//! refresh-token grant (on every use, rotating the refresh token). Entra's error names are mapped
//! to what the operator must do; no token ever appears in an error.

use super::token::{OAuthError, TokenError, failure, post_form};
use http::StatusCode;
use std::time::{Duration, Instant};

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Longest wait for one request to the login endpoints.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Tries of one request while Entra is unavailable, with backoff from `RETRY_BASE` doubling.
const ATTEMPTS: u32 = 4;
const RETRY_BASE: Duration = Duration::from_millis(500);
/// RFC 8628: after `slow_down` the interval grows by 5 s for good.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// The pause when the answer says `"interval": 0` (only the sandbox does).
const ZERO_INTERVAL_POLL: Duration = Duration::from_millis(100);

/// The delegated scope a sync account consents to: presence subscriptions need it, and
/// `offline_access` gives the refresh token.
pub const SYNC_ACCOUNT_SCOPE: &str = "https://graph.microsoft.com/Presence.Read.All offline_access";

/// What a successful delegated token request returned. No `Debug`: it holds tokens.
pub struct DelegatedTokens {
    pub access_token: String,
    /// Entra rotates it: the new one replaces the one presented.
    pub refresh_token: Option<String>,
    pub expires_in: Duration,
}

/// What the administrator must be shown to sign in.
#[derive(Debug, Clone)]
pub struct DeviceCodePrompt {
    pub user_code: String,
    pub verification_uri: String,
    /// Entra's sentence with the URL and the code.
    pub message: String,
    pub expires_in: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceLoginError {
    #[error("the sign-in was declined")]
    Declined,
    #[error("the code expired before anyone signed in; run the command again")]
    Expired,
    #[error("{0}")]
    Token(#[from] TokenError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshError {
    /// `invalid_grant`: expired, revoked, or already superseded — the account must sign in again
    /// (unless a newer stored token exists).
    #[error("the account's sign-in is no longer valid ({0}); run `accounts add` for it again")]
    Invalid(String),
    #[error("{0}")]
    Token(#[from] TokenError),
}

/// The tenant's login endpoints for one app (public client flows: no client secret sent).
#[derive(Clone, Debug)]
pub struct LoginEndpoint {
    http: reqwest::Client,
    /// `{authority}/{tenant}/oauth2/v2.0`
    base: String,
    client_id: String,
}

impl LoginEndpoint {
    pub fn new(
        http: reqwest::Client,
        authority_url: &str,
        tenant_id: &str,
        client_id: &str,
    ) -> Self {
        Self {
            http,
            base: format!(
                "{}/{tenant_id}/oauth2/v2.0",
                authority_url.trim_end_matches('/')
            ),
            client_id: client_id.to_string(),
        }
    }

    /// The whole device-code flow: asks for a code, hands the prompt to `show`, then polls at
    /// Entra's interval (slower after `slow_down`) until the sign-in completes, is declined or
    /// the code expires.
    pub async fn device_login(
        &self,
        scope: &str,
        show: impl FnOnce(&DeviceCodePrompt),
    ) -> Result<DelegatedTokens, DeviceLoginError> {
        let code_pairs = [("client_id", self.client_id.as_str()), ("scope", scope)];
        let (status, text) = self.post_retrying("devicecode", &code_pairs).await?;
        if !status.is_success() {
            return Err(failure(status, &OAuthError::parse(&text)).into());
        }
        let code: DeviceCodeAnswer = serde_json::from_str(&text).map_err(|_| {
            TokenError::Refused(
                "the devicecode endpoint answered 2xx without user_code, device_code, verification_uri and expires_in"
                    .to_string(),
            )
        })?;
        let prompt = DeviceCodePrompt {
            message: code.message.clone().unwrap_or_else(|| {
                format!(
                    "To sign in, open {} and enter the code {}.",
                    code.verification_uri, code.user_code
                )
            }),
            user_code: code.user_code,
            verification_uri: code.verification_uri,
            expires_in: Duration::from_secs(code.expires_in),
        };
        let deadline = Instant::now() + prompt.expires_in;
        show(&prompt);

        // RFC 8628: 5 s when Entra names no interval.
        let mut interval = Duration::from_secs(code.interval.unwrap_or(5));
        let poll_pairs = [
            ("grant_type", DEVICE_CODE_GRANT),
            ("client_id", self.client_id.as_str()),
            ("device_code", code.device_code.as_str()),
        ];
        loop {
            // Entra never sends 0; the sandbox does, to let tests sign in quickly.
            let wait = if interval.is_zero() {
                ZERO_INTERVAL_POLL
            } else {
                interval
            };
            tokio::time::sleep(wait).await;
            if Instant::now() >= deadline {
                return Err(DeviceLoginError::Expired);
            }
            let (status, text) = self.post_retrying("token", &poll_pairs).await?;
            if status.is_success() {
                let tokens = parse_tokens(&text)?;
                if tokens.refresh_token.is_none() {
                    return Err(TokenError::Refused(
                        "no refresh token: the scope must include offline_access".to_string(),
                    )
                    .into());
                }
                return Ok(tokens);
            }
            let err = OAuthError::parse(&text);
            match err.code() {
                "authorization_pending" => {}
                "slow_down" => interval += SLOW_DOWN_STEP,
                "authorization_declined" | "access_denied" => {
                    return Err(DeviceLoginError::Declined);
                }
                "expired_token" | "code_expired" => return Err(DeviceLoginError::Expired),
                _ => return Err(failure(status, &err).into()),
            }
        }
    }

    /// Redeems `refresh_token` for an access token and a new refresh token.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        scope: &str,
        timeout: Duration,
    ) -> Result<DelegatedTokens, RefreshError> {
        let pairs = [
            ("grant_type", "refresh_token"),
            ("client_id", self.client_id.as_str()),
            ("refresh_token", refresh_token),
            ("scope", scope),
        ];
        let url = format!("{}/token", self.base);
        let (status, text) = post_form(&self.http, &url, timeout, &pairs).await?;
        if status.is_success() {
            return Ok(parse_tokens(&text)?);
        }
        let err = OAuthError::parse(&text);
        let retryable = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
        // All of these mean: only a new interactive sign-in helps (expired, revoked, superseded,
        // or a policy that now demands MFA/consent).
        let sign_in_again = matches!(
            err.code(),
            "invalid_grant" | "interaction_required" | "consent_required"
        );
        if sign_in_again && !retryable {
            return Err(RefreshError::Invalid(err.summary()));
        }
        Err(failure(status, &err).into())
    }

    /// POSTs to `{base}/{endpoint}`, trying again with backoff while Entra is unavailable (5xx,
    /// 429, no answer). Any other answer comes back as it is.
    async fn post_retrying(
        &self,
        endpoint: &str,
        pairs: &[(&str, &str)],
    ) -> Result<(StatusCode, String), TokenError> {
        let url = format!("{}/{endpoint}", self.base);
        let mut failures = 0u32;
        loop {
            let err = match post_form(&self.http, &url, REQUEST_TIMEOUT, pairs).await {
                Ok((status, text))
                    if !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) =>
                {
                    return Ok((status, text));
                }
                Ok((status, text)) => failure(status, &OAuthError::parse(&text)),
                Err(e) => e,
            };
            failures += 1;
            if failures >= ATTEMPTS {
                return Err(err);
            }
            tokio::time::sleep(RETRY_BASE * (1 << (failures - 1))).await;
        }
    }
}

/// The devicecode answer. No `Debug`: the device code redeems the sign-in.
#[derive(serde::Deserialize)]
struct DeviceCodeAnswer {
    user_code: String,
    device_code: String,
    verification_uri: String,
    expires_in: u64,
    #[serde(default)]
    interval: Option<u64>,
    #[serde(default)]
    message: Option<String>,
}

fn parse_tokens(text: &str) -> Result<DelegatedTokens, TokenError> {
    #[derive(serde::Deserialize)]
    struct Answer {
        access_token: Option<String>,
        #[serde(default)]
        refresh_token: Option<String>,
        #[serde(default)]
        expires_in: Option<u64>,
    }
    match serde_json::from_str::<Answer>(text) {
        Ok(Answer {
            access_token: Some(access_token),
            refresh_token,
            expires_in,
        }) if !access_token.is_empty() => Ok(DelegatedTokens {
            access_token,
            refresh_token: refresh_token.filter(|t| !t.is_empty()),
            expires_in: Duration::from_secs(expires_in.unwrap_or(3599)),
        }),
        _ => Err(TokenError::Refused(
            "the token endpoint answered 2xx without an access_token".to_string(),
        )),
    }
}

//! Delegated sign-in of a sync account: the device-code flow (once, by the administrator) and the
//! refresh-token grant (on every use, rotating the refresh token). Entra's error names are mapped
//! to what the operator must do; no token ever appears in an error.
//!
//! Redeeming a refresh token (or polling a device code that may just have been approved) is not
//! repeated after a timeout or a 5xx: Entra may have redeemed it, and the token it rotated to
//! would then be lost. Such a failure is reported; the caller tries again on its next run.

use super::entra::{EntraError, OAuthError, TokenAnswer, post_form};
use crate::outbound::{Idempotency, RetryPolicy};
use std::time::{Duration, Instant};

/// The global service's sync-account scope (the sandbox's, too); the bridge derives its own from
/// `graph.base_url` ([`super::cloud::sync_account_scope`]).
pub const SYNC_ACCOUNT_SCOPE: &str = "https://graph.microsoft.com/Presence.Read.All offline_access";

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Four attempts while Entra is unavailable, backoff from 0.5 s doubling.
const RETRY: RetryPolicy = RetryPolicy::new(4, Duration::from_millis(500), Duration::from_secs(8));
/// One request of the device-code flow, its retries included (the administrator is waiting).
const DEVICE_FLOW_REQUEST_BUDGET: Duration = Duration::from_secs(60);
/// RFC 8628: after `slow_down` the interval grows by 5 s for good.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Entra's device codes live 15 minutes; a longer life in an answer is not believed (an
/// unbounded one would overflow the deadline).
const MAX_DEVICE_CODE_LIFE: Duration = Duration::from_secs(60 * 60);
/// Entra asks for 5 s; a longer interval in an answer (or grown by `slow_down`) stops here.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(60);
/// The pause when the answer says `"interval": 0` (only the sandbox does).
const ZERO_INTERVAL_POLL: Duration = Duration::from_millis(100);

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
    ) -> Result<DelegatedTokens, EntraError> {
        let code_pairs = [("client_id", self.client_id.as_str()), ("scope", scope)];
        // Asking for a code twice only makes a second code: safe to repeat.
        let answer = self
            .post(
                "devicecode",
                &code_pairs,
                Idempotency::Idempotent,
                DEVICE_FLOW_REQUEST_BUDGET,
            )
            .await?;
        if !answer.status.is_success() {
            return Err(EntraError::refused(&answer));
        }
        let (prompt, code) = device_code(&answer.body)?;
        let deadline = Instant::now() + prompt.expires_in;
        show(&prompt);

        let mut interval = code.interval;
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
                return Err(EntraError::CodeExpired);
            }
            // A poll that may have redeemed the approved code is not repeated at once; the next
            // poll at the interval asks again, and Entra says so if the code was redeemed.
            let answer = match self
                .post(
                    "token",
                    &poll_pairs,
                    Idempotency::NotIdempotent,
                    DEVICE_FLOW_REQUEST_BUDGET,
                )
                .await
            {
                Ok(answer) => answer,
                Err(EntraError::Unavailable(e)) => {
                    tracing::warn!(error = %e, "device-code poll failed; polling again");
                    continue;
                }
                Err(e) => return Err(e),
            };
            if answer.status.is_success() {
                let tokens = parse_tokens(&answer.body)?;
                if tokens.refresh_token.is_none() {
                    return Err(EntraError::BadAnswer {
                        endpoint: "token",
                        missing: "a refresh token (the scope must include offline_access)",
                    });
                }
                return Ok(tokens);
            }
            match OAuthError::parse(&answer.body).code() {
                "authorization_pending" => {}
                "slow_down" => interval = (interval + SLOW_DOWN_STEP).min(MAX_POLL_INTERVAL),
                "authorization_declined" | "access_denied" => return Err(EntraError::Declined),
                "expired_token" | "code_expired" => return Err(EntraError::CodeExpired),
                _ => return Err(EntraError::refused(&answer)),
            }
        }
    }

    /// Redeems `refresh_token` for an access token and a new refresh token, within `budget`.
    /// `SignInNeeded` when only a new interactive sign-in helps.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        scope: &str,
        budget: Duration,
    ) -> Result<DelegatedTokens, EntraError> {
        let pairs = [
            ("grant_type", "refresh_token"),
            ("client_id", self.client_id.as_str()),
            ("refresh_token", refresh_token),
            ("scope", scope),
        ];
        let answer = self
            .post("token", &pairs, Idempotency::NotIdempotent, budget)
            .await?;
        if answer.status.is_success() {
            return parse_tokens(&answer.body);
        }
        let err = OAuthError::parse(&answer.body);
        // All of these mean: only a new interactive sign-in helps (expired, revoked, superseded,
        // or a policy that now demands MFA/consent).
        let sign_in_again = matches!(
            err.code(),
            "invalid_grant" | "interaction_required" | "consent_required"
        );
        if sign_in_again {
            return Err(EntraError::SignInNeeded(err.summary()));
        }
        Err(EntraError::refused(&answer))
    }

    /// POSTs a form to `{base}/{endpoint}` under the sign-in retry policy.
    async fn post(
        &self,
        endpoint: &str,
        pairs: &[(&str, &str)],
        idempotency: Idempotency,
        budget: Duration,
    ) -> Result<crate::outbound::Answer, EntraError> {
        let url = format!("{}/{endpoint}", self.base);
        post_form(&self.http, &url, pairs, &RETRY, idempotency, budget).await
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

/// What polling needs of the devicecode answer. No `Debug`: the device code redeems the sign-in.
pub(crate) struct DeviceCode {
    pub device_code: String,
    pub interval: Duration,
}

/// The devicecode answer: what the administrator is shown and what polling needs, lives capped.
pub(crate) fn device_code(body: &[u8]) -> Result<(DeviceCodePrompt, DeviceCode), EntraError> {
    let code: DeviceCodeAnswer =
        serde_json::from_slice(body).map_err(|_| EntraError::BadAnswer {
            endpoint: "devicecode",
            missing: "user_code, device_code, verification_uri and expires_in",
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
        expires_in: Duration::from_secs(code.expires_in).min(MAX_DEVICE_CODE_LIFE),
    };
    let polling = DeviceCode {
        device_code: code.device_code,
        // RFC 8628: 5 s when Entra names no interval.
        interval: Duration::from_secs(code.interval.unwrap_or(5)).min(MAX_POLL_INTERVAL),
    };
    Ok((prompt, polling))
}

fn parse_tokens(body: &[u8]) -> Result<DelegatedTokens, EntraError> {
    let (access_token, refresh_token, expires_in) = TokenAnswer::parse(body)?;
    Ok(DelegatedTokens {
        access_token,
        refresh_token,
        expires_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_code_lives_and_intervals_beyond_entras_are_capped() {
        // u64::MAX seconds once overflowed the sign-in deadline (`Instant + expires_in`), and a
        // `slow_down` on a huge interval the interval itself: panics on Entra's answer.
        let (prompt, code) = device_code(
            br#"{"user_code":"U","device_code":"D","verification_uri":"https://microsoft.com/devicelogin",
                 "expires_in":18446744073709551615,"interval":18446744073709551615}"#,
        )
        .unwrap();
        assert_eq!(prompt.expires_in, MAX_DEVICE_CODE_LIFE);
        assert_eq!(code.interval, MAX_POLL_INTERVAL);
        assert!(Instant::now().checked_add(prompt.expires_in).is_some());
        let (prompt, code) = device_code(
            br#"{"user_code":"U","device_code":"D","verification_uri":"https://x","expires_in":900}"#,
        )
        .unwrap();
        assert_eq!(prompt.expires_in, Duration::from_secs(900));
        assert_eq!(code.interval, Duration::from_secs(5));
        assert!(prompt.message.contains("https://x") && prompt.message.contains('U'));
    }
}

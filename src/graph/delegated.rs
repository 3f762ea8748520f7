//! Delegated sign-in of a sync account: the device-code flow (once, by the administrator) and the
//! refresh-token grant (on every use, rotating the refresh token). Entra's error names are mapped
//! to what the operator must do; no token ever appears in an error.

use super::token::TokenError;
use std::time::Duration;

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
    pub fn new(http: reqwest::Client, authority_url: &str, tenant_id: &str, client_id: &str) -> Self {
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
        _scope: &str,
        _show: impl FnOnce(&DeviceCodePrompt),
    ) -> Result<DelegatedTokens, DeviceLoginError> {
        let _ = (&self.http, &self.base, &self.client_id);
        todo!()
    }

    /// Redeems `refresh_token` for an access token and a new refresh token.
    pub async fn refresh(
        &self,
        _refresh_token: &str,
        _scope: &str,
        _timeout: Duration,
    ) -> Result<DelegatedTokens, RefreshError> {
        todo!()
    }
}

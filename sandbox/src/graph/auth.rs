//! The emulated Entra login: client credentials (app-only), device code (a delegated sync account)
//! and refresh-token rotation. Access tokens are opaque random strings remembered here. Errors use
//! Entra's OAuth names (`authorization_pending`, `authorization_declined`, `expired_token`,
//! `invalid_grant`, …) with an AADSTS code in `error_description`.

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderMap, StatusCode, header};

use super::crypto::random_token;
use super::routes::ApiError;
use super::state::{Inner, Shared};

pub(crate) const DEVICE_CODE_LIFE_S: i64 = 900;
/// A superseded refresh token keeps working this long (sandbox time), then `invalid_grant`.
const REFRESH_GRACE_MS: i64 = 60_000;
const REFRESH_LIFE_MS: i64 = 90 * 86_400_000;
/// What a sync account consents to in the device login.
const SYNC_ACCOUNT_SCOPE: &str = "https://graph.microsoft.com/Presence.Read.All offline_access";

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Principal {
    App,
    Delegated(String),
}

pub(crate) struct AccessToken {
    principal: Principal,
    expires_ms: i64,
}

pub(crate) struct RefreshToken {
    pub(crate) user_id: String,
    pub(crate) scope: String,
    pub(crate) expires_ms: i64,
    pub(crate) superseded_ms: Option<i64>,
}

pub(crate) enum DeviceState {
    Pending,
    Approved(String),
    Declined,
}

pub(crate) struct DeviceCode {
    pub(crate) user_code: String,
    pub(crate) scope: String,
    pub(crate) expires_ms: i64,
    pub(crate) last_poll_ms: Option<i64>,
    pub(crate) state: DeviceState,
}

/// Credentials issued by the emulated tenant. No `Debug`: it holds tokens.
#[derive(Default)]
pub(crate) struct AuthState {
    pub(crate) access: HashMap<String, AccessToken>,
    pub(crate) refresh: HashMap<String, RefreshToken>,
    pub(crate) device: HashMap<String, DeviceCode>,
}

impl AuthState {
    pub fn sweep(&mut self, now_ms: i64) {
        self.access.retain(|_, t| t.expires_ms > now_ms);
        self.refresh.retain(|_, t| {
            t.expires_ms > now_ms
                && t.superseded_ms
                    .is_none_or(|s| s + REFRESH_GRACE_MS > now_ms)
        });
        // Keep expired device codes a while so late polls get `expired_token`, not "unknown".
        self.device.retain(|_, d| d.expires_ms + 3_600_000 > now_ms);
    }

    pub(crate) fn issue_access(
        &mut self,
        principal: Principal,
        life_s: i64,
        now_ms: i64,
    ) -> String {
        let token = random_token::<48>();
        self.access.insert(
            token.clone(),
            AccessToken {
                principal,
                expires_ms: now_ms + life_s * 1000,
            },
        );
        token
    }

    /// A new refresh token for `user_id` (never superseded yet).
    pub(crate) fn issue_refresh(&mut self, user_id: &str, scope: &str, now_ms: i64) -> String {
        let token = random_token::<96>();
        self.refresh.insert(
            token.clone(),
            RefreshToken {
                user_id: user_id.to_owned(),
                scope: scope.to_owned(),
                expires_ms: now_ms + REFRESH_LIFE_MS,
                superseded_ms: None,
            },
        );
        token
    }

    /// "Revoke sessions" in Entra: every refresh and access token of the user stops working.
    fn revoke_user(&mut self, user_id: &str) {
        self.refresh.retain(|_, t| t.user_id != user_id);
        self.access
            .retain(|_, t| !matches!(&t.principal, Principal::Delegated(u) if u == user_id));
    }

    fn find_pending_device(
        &mut self,
        user_code: &str,
        now_ms: i64,
    ) -> anyhow::Result<&mut DeviceCode> {
        let code = self
            .device
            .values_mut()
            .find(|d| d.user_code.eq_ignore_ascii_case(user_code.trim()))
            .ok_or_else(|| anyhow::anyhow!("no device login with user code '{user_code}'"))?;
        if code.expires_ms <= now_ms {
            anyhow::bail!("the device login with user code '{user_code}' has expired");
        }
        if !matches!(code.state, DeviceState::Pending) {
            anyhow::bail!("the device login with user code '{user_code}' was already answered");
        }
        Ok(code)
    }
}

/// "The admin signs in as `upn` and consents" for a pending device login.
pub(crate) fn approve_device_code(
    inner: &mut Inner,
    user_code: &str,
    upn: &str,
    now_ms: i64,
) -> anyhow::Result<()> {
    let user_id = user_id_of(inner, upn)?;
    inner.auth.find_pending_device(user_code, now_ms)?.state = DeviceState::Approved(user_id);
    Ok(())
}

pub(crate) fn deny_device_code(
    inner: &mut Inner,
    user_code: &str,
    now_ms: i64,
) -> anyhow::Result<()> {
    inner.auth.find_pending_device(user_code, now_ms)?.state = DeviceState::Declined;
    Ok(())
}

fn user_id_of(inner: &Inner, upn: &str) -> anyhow::Result<String> {
    inner
        .user_by_upn(upn)
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no user '{upn}' in the emulated tenant"))
}

/// A refresh token as if `upn` had just completed a device login for the sync-account scope.
pub(crate) fn issue_refresh_token(
    inner: &mut Inner,
    upn: &str,
    now_ms: i64,
) -> anyhow::Result<String> {
    let user_id = user_id_of(inner, upn)?;
    Ok(inner
        .auth
        .issue_refresh(&user_id, SYNC_ACCOUNT_SCOPE, now_ms))
}

/// Revokes every sign-in of `upn` (unknown users have none).
pub(crate) fn revoke_sign_ins(inner: &mut Inner, upn: &str) {
    if let Ok(user_id) = user_id_of(inner, upn) {
        inner.auth.revoke_user(&user_id);
    }
}

/// The caller behind `Authorization: Bearer …`, or Graph's 401.
pub(crate) fn authorize(shared: &Arc<Shared>, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let unauthorized =
        |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", m);
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = value.strip_prefix("Bearer ").map(str::trim).unwrap_or("");
    if token.is_empty() {
        return Err(unauthorized("Access token is empty."));
    }
    shared.mutate(|inner, now| match inner.auth.access.get(token) {
        Some(t) if t.expires_ms > now => Ok(t.principal.clone()),
        _ => Err(unauthorized(
            "Access token has expired or is not yet valid.",
        )),
    })
}

//! Credentials the emulated Entra tenant has issued: access tokens (opaque random strings, each
//! with the permissions it was issued with), rotating refresh tokens and pending device logins,
//! plus the application permissions an admin has granted to the app.

use std::collections::{BTreeSet, HashMap};

use super::super::crypto::random_token;

pub(crate) const DEVICE_CODE_LIFE_S: i64 = 900;
/// A superseded refresh token keeps working this long (sandbox time), then `invalid_grant`.
const REFRESH_GRACE_MS: i64 = 60_000;
const REFRESH_LIFE_MS: i64 = 90 * 86_400_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Principal {
    App,
    Delegated(String),
}

pub(crate) struct AccessToken {
    principal: Principal,
    /// App roles (app-only) or scopes (delegated) as issued; later grants need a new token.
    grants: Vec<String>,
    expires_ms: i64,
}

/// Who calls, with what permissions.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub principal: Principal,
    pub grants: Vec<String>,
}

impl Caller {
    /// True if any of `permissions` was granted (case-insensitive, as Entra compares them).
    pub fn has_any(&self, permissions: &[&str]) -> bool {
        self.grants
            .iter()
            .any(|g| permissions.iter().any(|p| p.eq_ignore_ascii_case(g)))
    }
}

/// Application permissions granted by default: what the bridge's app registration asks for.
pub(crate) const DEFAULT_APP_ROLES: &[&str] = &[
    "Presence.Read.All",
    "Presence.ReadWrite.All",
    "User.Read.All",
    "GroupMember.Read.All",
];

/// The permission names of an OAuth scope string ("https://graph.microsoft.com/X offline_access").
pub(crate) fn scope_permissions(scope: &str) -> Vec<String> {
    scope
        .split_whitespace()
        .map(|s| s.rsplit('/').next().unwrap_or(s).to_owned())
        .filter(|s| {
            !matches!(
                s.as_str(),
                "offline_access" | "openid" | "profile" | ".default"
            )
        })
        .collect()
}

pub(crate) struct RefreshToken {
    pub(crate) user_id: String,
    pub(crate) scope: String,
    pub(crate) expires_ms: i64,
    pub(crate) superseded_ms: Option<i64>,
}

impl RefreshToken {
    /// Not expired, and not superseded longer ago than the grace window.
    pub(crate) fn usable(&self, now_ms: i64) -> bool {
        self.expires_ms > now_ms
            && self
                .superseded_ms
                .is_none_or(|s| s + REFRESH_GRACE_MS > now_ms)
    }
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
pub(crate) struct AuthState {
    pub(crate) access: HashMap<String, AccessToken>,
    pub(crate) refresh: HashMap<String, RefreshToken>,
    pub(crate) device: HashMap<String, DeviceCode>,
    /// Application permissions an admin has consented to.
    pub(crate) app_roles: BTreeSet<String>,
    next_sweep_ms: i64,
}

impl Default for AuthState {
    fn default() -> Self {
        Self {
            access: HashMap::new(),
            refresh: HashMap::new(),
            device: HashMap::new(),
            app_roles: DEFAULT_APP_ROLES.iter().map(|r| (*r).to_owned()).collect(),
            next_sweep_ms: 0,
        }
    }
}

impl AuthState {
    /// Forgets what expired; at most once per sandbox second, as every request passes here.
    pub fn sweep(&mut self, now_ms: i64) {
        if now_ms < self.next_sweep_ms {
            return;
        }
        self.next_sweep_ms = now_ms + 1000;
        self.access.retain(|_, t| t.expires_ms > now_ms);
        self.refresh.retain(|_, t| t.usable(now_ms));
        // Keep expired device codes a while so late polls get `expired_token`, not "unknown".
        self.device.retain(|_, d| d.expires_ms + 3_600_000 > now_ms);
    }

    /// An app-only token carries the app roles granted now; a delegated one the consented scopes.
    pub(crate) fn issue_access(
        &mut self,
        principal: Principal,
        delegated_scope: &str,
        life_s: i64,
        now_ms: i64,
    ) -> String {
        let grants = match principal {
            Principal::App => self.app_roles.iter().cloned().collect(),
            Principal::Delegated(_) => scope_permissions(delegated_scope),
        };
        let token = random_token::<48>();
        self.access.insert(
            token.clone(),
            AccessToken {
                principal,
                grants,
                expires_ms: now_ms + life_s * 1000,
            },
        );
        token
    }

    /// The caller behind an access token that is valid at `now_ms`.
    pub(crate) fn caller(&self, token: &str, now_ms: i64) -> Option<Caller> {
        self.access
            .get(token)
            .filter(|t| t.expires_ms > now_ms)
            .map(|t| Caller {
                principal: t.principal.clone(),
                grants: t.grants.clone(),
            })
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
    pub(crate) fn revoke_user(&mut self, user_id: &str) {
        self.refresh.retain(|_, t| t.user_id != user_id);
        self.access
            .retain(|_, t| !matches!(&t.principal, Principal::Delegated(u) if u == user_id));
    }

    pub(crate) fn find_pending_device(
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

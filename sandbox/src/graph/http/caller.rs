//! Who calls: the bearer token's principal and permissions, or Graph's 401; and the permission
//! checks of the routes, or Entra's 403 `Authorization_RequestDenied`.

use http::{HeaderMap, StatusCode, header};

use super::super::model::auth::{Caller, Principal};
use super::super::model::tenant::Tenant;
use super::error::ApiError;

/// The caller behind `Authorization: Bearer …`, or Graph's 401.
pub(crate) fn authorize(tenant: &Tenant, headers: &HeaderMap) -> Result<Caller, ApiError> {
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
    tenant
        .mutate(|inner, step| inner.auth.caller(token, step.now))
        .ok_or_else(|| unauthorized("Access token has expired or is not yet valid."))
}

/// The permissions one route accepts, app-only and delegated (least privileged first, as
/// Microsoft's permission tables list them). An empty list: that kind of token is refused.
pub(crate) struct Needs {
    pub application: &'static [&'static str],
    pub delegated: &'static [&'static str],
}

pub(crate) const READ_PRESENCE: Needs = Needs {
    application: &["Presence.Read.All", "Presence.ReadWrite.All"],
    delegated: &[
        "Presence.Read",
        "Presence.Read.All",
        "Presence.ReadWrite",
        "Presence.ReadWrite.All",
    ],
};

pub(crate) const WRITE_PRESENCE: Needs = Needs {
    application: &["Presence.ReadWrite.All"],
    delegated: &["Presence.ReadWrite", "Presence.ReadWrite.All"],
};

pub(crate) const READ_USERS: Needs = Needs {
    application: &[
        "User.Read.All",
        "User.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ],
    delegated: &[
        "User.ReadBasic.All",
        "User.Read.All",
        "User.ReadWrite.All",
        "Directory.Read.All",
    ],
};

pub(crate) const READ_GROUP_MEMBERS: Needs = Needs {
    application: &[
        "GroupMember.Read.All",
        "Group.Read.All",
        "GroupMember.ReadWrite.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
    ],
    delegated: &[
        "GroupMember.Read.All",
        "Group.Read.All",
        "GroupMember.ReadWrite.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
    ],
};

/// Authorizes and checks the caller holds one of `needs`.
pub(crate) fn require(
    tenant: &Tenant,
    headers: &HeaderMap,
    needs: &Needs,
) -> Result<Caller, ApiError> {
    let caller = authorize(tenant, headers)?;
    let accepted = match caller.principal {
        Principal::App => needs.application,
        Principal::Delegated(_) => needs.delegated,
    };
    if caller.has_any(accepted) {
        Ok(caller)
    } else {
        Err(ApiError::insufficient_privileges())
    }
}

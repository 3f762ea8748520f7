//! The login endpoints of the emulated Entra tenant: `/{tenant}/oauth2/v2.0/devicecode` and
//! `/{tenant}/oauth2/v2.0/token` (client credentials, device code, refresh with rotation). Errors
//! are OAuth JSON with Entra's names (`authorization_pending`, `authorization_declined`,
//! `expired_token`, `invalid_grant`, …) and an AADSTS code.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

use super::super::crypto::{random_bytes, random_token};
use super::super::model::auth::{DEVICE_CODE_LIFE_S, DeviceCode, DeviceState, Principal};
use super::super::model::tenant::{Inner, Tenant};
use super::ctx::Ctx;
use crate::Clock;

const GRAPH_DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

fn oauth_error(status: StatusCode, error: &str, aadsts: u32, description: &str) -> Response {
    let now = Clock::new().now_ms();
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{aadsts}: {description}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
            uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), Clock::format_ms(now)
        ),
        "error_codes": [aadsts],
        "timestamp": Clock::format_ms(now),
        "trace_id": uuid::Uuid::new_v4().to_string(),
        "correlation_id": uuid::Uuid::new_v4().to_string(),
    });
    (status, axum::Json(body)).into_response()
}

fn bad(error: &str, aadsts: u32, description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, error, aadsts, description)
}

/// Checks tenant, client id and (when given or required) the client secret.
fn check_client(
    shared: &Tenant,
    tenant: &str,
    form: &HashMap<String, String>,
    secret_required: bool,
) -> Result<(), Box<Response>> {
    if tenant != shared.tenant_id && tenant != "organizations" && tenant != "common" {
        return Err(Box::new(bad(
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
        )));
    }
    let client_id = form.get("client_id").map(String::as_str).unwrap_or("");
    if client_id.is_empty() {
        return Err(Box::new(bad(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )));
    }
    if client_id != shared.app_id {
        return Err(Box::new(bad(
            "unauthorized_client",
            700016,
            &format!("Application with identifier '{client_id}' was not found in the directory."),
        )));
    }
    match form.get("client_secret") {
        Some(s)
            if aws_lc_rs::constant_time::verify_slices_are_equal(
                s.as_bytes(),
                shared.client_secret.as_bytes(),
            )
            .is_ok() =>
        {
            Ok(())
        }
        Some(_) => Err(Box::new(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            "Invalid client secret provided.",
        ))),
        None if secret_required => Err(Box::new(bad(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ))),
        None => Ok(()),
    }
}

type FormResult = Result<Form<HashMap<String, String>>, FormRejection>;

fn form_or_error(form: FormResult) -> Result<HashMap<String, String>, Box<Response>> {
    form.map(|Form(f)| f).map_err(|e| {
        Box::new(bad(
            "invalid_request",
            900144,
            &format!("Expected a form-encoded body: {e}"),
        ))
    })
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`
pub(crate) async fn devicecode(
    State(ctx): State<Arc<Ctx>>,
    Path(tenant): Path<String>,
    form: FormResult,
) -> Response {
    let shared = &ctx.tenant;
    let form = match form_or_error(form) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    if let Err(r) = check_client(shared, &tenant, &form, false) {
        return *r;
    }
    let scope = form.get("scope").cloned().unwrap_or_default();
    if scope.trim().is_empty() {
        return bad(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    }
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let user_code: String = random_bytes::<9>()
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    let device_code = random_token::<64>();
    let verification_uri = format!("{}/devicelogin", shared.base_url);
    // Whole seconds, as Entra writes it: a sub-second test interval shows as 0.
    let interval_s = shared.timing().device_poll_interval.as_secs();
    shared.mutate(|inner, step| {
        let now = step.now;
        inner.auth.device.insert(
            device_code.clone(),
            DeviceCode {
                user_code: user_code.clone(),
                scope,
                expires_ms: now + DEVICE_CODE_LIFE_S * 1000,
                last_poll_ms: None,
                state: DeviceState::Pending,
            },
        )
    });
    axum::Json(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": verification_uri,
        "expires_in": DEVICE_CODE_LIFE_S,
        "interval": interval_s,
        "message": format!("To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate."),
    }))
    .into_response()
}

/// `POST /{tenant}/oauth2/v2.0/token`
pub(crate) async fn token(
    State(ctx): State<Arc<Ctx>>,
    Path(tenant): Path<String>,
    form: FormResult,
) -> Response {
    let shared = &ctx.tenant;
    let form = match form_or_error(form) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let grant = form.get("grant_type").map(String::as_str).unwrap_or("");
    let secret_required = grant == "client_credentials";
    if let Err(r) = check_client(shared, &tenant, &form, secret_required) {
        return *r;
    }
    match grant {
        "client_credentials" => client_credentials(shared, &form),
        "urn:ietf:params:oauth:grant-type:device_code" => device_code_grant(shared, &form),
        "refresh_token" => refresh_grant(shared, &form),
        "" => bad(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        ),
        other => bad(
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        ),
    }
}

fn client_credentials(shared: &Tenant, form: &HashMap<String, String>) -> Response {
    if form.get("scope").map(String::as_str) != Some(GRAPH_DEFAULT_SCOPE) {
        return bad(
            "invalid_scope",
            1002012,
            "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
        );
    }
    let token =
        shared.mutate(|inner, step| inner.auth.issue_access(Principal::App, "", 3599, step.now));
    axum::Json(json!({ "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token }))
        .into_response()
}

/// A delegated access token living 60–90 minutes, as Entra picks them.
fn delegated_lifetime_s() -> i64 {
    let r = u16::from_le_bytes(random_bytes::<2>());
    3600 + i64::from(r % 1801)
}

fn delegated_response(inner: &mut Inner, user_id: &str, scope: &str, now: i64) -> Response {
    let life = delegated_lifetime_s();
    let access =
        inner
            .auth
            .issue_access(Principal::Delegated(user_id.to_owned()), scope, life, now);
    let mut body = json!({
        "token_type": "Bearer", "scope": scope, "expires_in": life, "ext_expires_in": life, "access_token": access,
    });
    // Entra hands out a refresh token only when offline_access was asked for.
    if scope.split_whitespace().any(|s| s == "offline_access") {
        body["refresh_token"] = json!(inner.auth.issue_refresh(user_id, scope, now));
    }
    axum::Json(body).into_response()
}

fn device_code_grant(shared: &Tenant, form: &HashMap<String, String>) -> Response {
    // A little slack under the interval, as Entra allows for network jitter.
    let min_gap_ms = shared.timing().device_poll_interval.as_millis() as i64 - 500;
    let Some(code) = form.get("device_code").cloned() else {
        return bad(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'device_code'.",
        );
    };
    shared.mutate(|inner, step| {
        let now = step.now;
        let Some(device) = inner.auth.device.get_mut(&code) else {
            return bad("bad_verification_code", 70000, "The device code is unknown or was already redeemed.");
        };
        if device.expires_ms <= now {
            return bad("expired_token", 70020, "The provided device code has expired; start a new device login.");
        }
        let too_soon = device.last_poll_ms.is_some_and(|t| now - t < min_gap_ms);
        device.last_poll_ms = Some(now);
        match &device.state {
            DeviceState::Pending if too_soon => {
                bad("slow_down", 70016, "Polling too fast: wait the interval between token requests.")
            }
            DeviceState::Pending => bad(
                "authorization_pending",
                70016,
                "The provided request has not yet been authorized by the user. The user must input their code.",
            ),
            DeviceState::Declined => {
                inner.auth.device.remove(&code);
                bad("authorization_declined", 70000, "The user declined the sign-in request.")
            }
            DeviceState::Approved(user_id) => {
                let (user_id, scope) = (user_id.clone(), device.scope.clone());
                inner.auth.device.remove(&code);
                delegated_response(inner, &user_id, &scope, now)
            }
        }
    })
}

fn refresh_grant(shared: &Tenant, form: &HashMap<String, String>) -> Response {
    let Some(presented) = form.get("refresh_token").cloned() else {
        return bad(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'refresh_token'.",
        );
    };
    shared.mutate(|inner, step| {
        let now = step.now;
        let Some(old) = inner
            .auth
            .refresh
            .get_mut(&presented)
            .filter(|t| t.usable(now))
        else {
            return bad(
                "invalid_grant",
                70008,
                "The provided refresh token has expired, was revoked or is unknown.",
            );
        };
        // Rotation: the old token is superseded now (first use) and dies after the grace window.
        if old.superseded_ms.is_none() {
            old.superseded_ms = Some(now);
        }
        let (user_id, scope) = (old.user_id.clone(), old.scope.clone());
        // A `.default` request gets what the user consented to, as Entra does.
        let scope = form
            .get("scope")
            .filter(|s| {
                !s.split_whitespace()
                    .all(|p| p.ends_with(".default") || p == "offline_access")
            })
            .cloned()
            .unwrap_or(scope);
        let scope = if scope.split_whitespace().any(|s| s == "offline_access") {
            scope
        } else {
            format!("{scope} offline_access")
        };
        delegated_response(inner, &user_id, &scope, now)
    })
}

//! `/v1.0/subscriptions`: presence subscriptions with Graph's rules
//! (<https://learn.microsoft.com/en-us/graph/changenotifications-for-presence>): delegated only,
//! ≤ 650 users, `updated` only, encrypted rich data, 45–60 minute life, one per app and delegated
//! user (409 naming the existing one), and the validation handshake to every notification URL
//! before anything is created. A scenario can make creates and renewals answer late.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::delivery::validation::validate_endpoint;
use super::super::model::auth::Principal;
use super::super::model::subscription::{
    Subscription, Subscriptions, check_len, check_url, parse_cert, parse_expiry, parse_resource,
    require,
};
use super::caller::authorize;
use super::ctx::Ctx;
use super::error::{ApiError, ApiResult, parse_body};
use crate::Clock;

/// The subscription resource as Graph returns it.
fn subscription_json(sub: &Subscription, app_id: &str) -> Value {
    json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
        "id": sub.id,
        "resource": sub.resource,
        "applicationId": app_id,
        "changeType": "updated",
        "clientState": sub.client_state,
        "notificationUrl": sub.notification_url,
        "lifecycleNotificationUrl": sub.lifecycle_url,
        "expirationDateTime": Clock::format_ms(sub.expires_ms),
        "creatorId": sub.creator_id,
        "includeResourceData": sub.include_resource_data,
        "encryptionCertificate": sub.cert.as_ref().map(|c| c.base64.clone()),
        "encryptionCertificateId": sub.cert.as_ref().map(|c| c.id.clone()),
        "latestSupportedTlsVersion": "v1_2",
        "notificationQueryOptions": null,
        "notificationUrlAppId": null,
        "notificationContentType": "application/json",
    })
}

/// Holds the answer back when a scenario asked for late answers: the work is done, the
/// subscription exists, only the caller does not hear of it in time.
async fn answer_late(ctx: &Ctx) {
    if let Some(delay) = ctx.tenant.late_answers().delay {
        ctx.tenant.bump(|s| s.late_answers += 1);
        tokio::time::sleep(delay).await;
    }
}

fn delegated_only(ctx: &Ctx, headers: &HeaderMap) -> Result<String, ApiError> {
    match authorize(&ctx.tenant, headers)?.principal {
        Principal::Delegated(user) => Ok(user),
        Principal::App => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "ExtensionError",
            "Operation: Create; Exception: [Status Code: Forbidden; Reason: Application permissions are not supported for presence subscriptions; use a delegated token (Presence.Read.All)]",
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    change_type: Option<String>,
    notification_url: Option<String>,
    lifecycle_notification_url: Option<String>,
    resource: Option<String>,
    expiration_date_time: Option<String>,
    #[serde(default)]
    include_resource_data: bool,
    encryption_certificate: Option<String>,
    encryption_certificate_id: Option<String>,
    client_state: Option<String>,
}

/// The subscription a create body asks for, checked against Graph's rules.
fn parse_create(body: CreateBody, creator: String, now_ms: i64) -> Result<Subscription, String> {
    let change_type = require(&body.change_type, "changeType")?;
    if change_type != "updated" {
        return Err(format!(
            "changeType '{change_type}' is not supported for presence; only 'updated'"
        ));
    }
    let notification_url = require(&body.notification_url, "notificationUrl")?.to_owned();
    check_url("notificationUrl", &notification_url)?;
    if let Some(l) = &body.lifecycle_notification_url {
        check_url("lifecycleNotificationUrl", l)?;
    }
    let resource = require(&body.resource, "resource")?.to_owned();
    let user_ids = parse_resource(&resource)?;
    let expires_ms = parse_expiry(
        require(&body.expiration_date_time, "expirationDateTime")?,
        now_ms,
    )?;
    check_len("clientState", body.client_state.as_deref(), 128)?;
    let cert = parse_cert(
        body.encryption_certificate.as_deref(),
        body.encryption_certificate_id.as_deref(),
    )?;
    if body.include_resource_data && cert.is_none() {
        return Err("encryptionCertificate and encryptionCertificateId are required when includeResourceData is true".to_owned());
    }
    Ok(Subscription {
        id: uuid::Uuid::new_v4().to_string(),
        resource,
        user_ids,
        notification_url,
        lifecycle_url: body.lifecycle_notification_url,
        expires_ms,
        client_state: body.client_state,
        include_resource_data: body.include_resource_data,
        cert,
        creator_id: creator,
        notifications_queued: 0,
        notifications_delivered: 0,
        lifecycle_queued: 0,
    })
}

/// `POST /v1.0/subscriptions`: rules, the one-per-user check, both handshakes, then the insert.
pub(crate) async fn create(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let creator = delegated_only(&ctx, &headers)?;
    let b: CreateBody = parse_body(&body)?;
    let sub = parse_create(b, creator.clone(), ctx.tenant.clock.now_ms())
        .map_err(ApiError::bad_request)?;
    ctx.tenant
        .mutate(|inner, _| conflict(&inner.subscriptions, &creator))?;
    validate_endpoint(&ctx.tenant, &ctx.http, &sub.notification_url)
        .await
        .map_err(ApiError::bad_request)?;
    if let Some(l) = &sub.lifecycle_url {
        validate_endpoint(&ctx.tenant, &ctx.http, l)
            .await
            .map_err(ApiError::bad_request)?;
    }
    let body = subscription_json(&sub, &ctx.tenant.app_id);
    // Checked again in the same critical section as the insert: a concurrent create may have won.
    ctx.tenant.mutate(|inner, _| {
        conflict(&inner.subscriptions, &creator)?;
        inner.subscriptions.insert(sub);
        Ok::<_, ApiError>(())
    })?;
    answer_late(&ctx).await;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// One presence subscription per app and delegated user: 409 naming the existing one
/// (<https://learn.microsoft.com/en-us/graph/api/subscription-post-subscriptions?view=graph-rest-1.0>).
fn conflict(subscriptions: &Subscriptions, creator: &str) -> Result<(), ApiError> {
    match subscriptions.of_creator(creator) {
        None => Ok(()),
        Some(existing) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "ExtensionError",
            format!(
                "Subscription Id {} already exists for the requested combination",
                existing.id
            ),
        )),
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "The object was not found. Subscription '{id}' does not exist or has expired."
    ))
}

/// `GET /v1.0/subscriptions`. Without the `clientState`: "the `clientState` property value is
/// not returned for security purposes"
/// (<https://learn.microsoft.com/en-us/graph/api/subscription-list?view=graph-rest-1.0>); a
/// single `GET /subscriptions/{id}` shows it, as that page's example does.
pub(crate) async fn list(State(ctx): State<Arc<Ctx>>, headers: HeaderMap) -> ApiResult {
    authorize(&ctx.tenant, &headers)?;
    let app_id = &ctx.tenant.app_id;
    let value: Vec<Value> = ctx.tenant.mutate(|inner, _| {
        inner
            .subscriptions
            .values()
            .map(|s| {
                let mut listed = subscription_json(s, app_id);
                listed["clientState"] = Value::Null;
                listed
            })
            .collect()
    });
    Ok(Json(json!({ "value": value })).into_response())
}

/// `GET /v1.0/subscriptions/{id}`
pub(crate) async fn get_one(
    State(ctx): State<Arc<Ctx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    delegated_only(&ctx, &headers)?;
    let app_id = &ctx.tenant.app_id;
    ctx.tenant
        .mutate(|inner, _| {
            inner
                .subscriptions
                .get(&id)
                .map(|s| subscription_json(s, app_id))
        })
        .map(|v| Json(v).into_response())
        .ok_or_else(|| not_found(&id))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PatchBody {
    expiration_date_time: Option<String>,
    encryption_certificate: Option<String>,
    encryption_certificate_id: Option<String>,
    lifecycle_notification_url: Option<String>,
}

/// `PATCH /v1.0/subscriptions/{id}`: renew (same 45–60 minute rule) and/or rotate the certificate.
pub(crate) async fn patch(
    State(ctx): State<Arc<Ctx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    delegated_only(&ctx, &headers)?;
    let b: PatchBody = parse_body(&body)?;
    if b.lifecycle_notification_url.is_some() {
        return Err(ApiError::bad_request(
            "lifecycleNotificationUrl cannot be changed; delete the subscription and create a new one",
        ));
    }
    let cert = parse_cert(
        b.encryption_certificate.as_deref(),
        b.encryption_certificate_id.as_deref(),
    )
    .map_err(ApiError::bad_request)?;
    let expires = match &b.expiration_date_time {
        Some(e) => Some(parse_expiry(e, ctx.tenant.clock.now_ms()).map_err(ApiError::bad_request)?),
        None => None,
    };
    let app_id = &ctx.tenant.app_id;
    let body = ctx.tenant.mutate(|inner, _| {
        let sub = inner
            .subscriptions
            .get_mut(&id)
            .ok_or_else(|| not_found(&id))?;
        if let Some(e) = expires {
            sub.expires_ms = e;
        }
        if let Some(c) = cert {
            sub.cert = Some(c);
        }
        Ok::<_, ApiError>(subscription_json(sub, app_id))
    })?;
    answer_late(&ctx).await;
    Ok(Json(body).into_response())
}

/// `DELETE /v1.0/subscriptions/{id}` → 204
pub(crate) async fn delete(
    State(ctx): State<Arc<Ctx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    delegated_only(&ctx, &headers)?;
    ctx.tenant
        .mutate(|inner, _| inner.subscriptions.remove(&id))
        .map(|_| StatusCode::NO_CONTENT.into_response())
        .ok_or_else(|| not_found(&id))
}

/// `POST /v1.0/subscriptions/{id}/reauthorize` → 204 (does not extend the expiry).
pub(crate) async fn reauthorize(
    State(ctx): State<Arc<Ctx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    delegated_only(&ctx, &headers)?;
    let exists = ctx
        .tenant
        .mutate(|inner, _| inner.subscriptions.get(&id).is_some());
    if !exists {
        return Err(not_found(&id));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

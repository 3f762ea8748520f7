//! `/v1.0/subscriptions`: presence subscriptions with Graph's rules (research §2): delegated only,
//! ≤ 650 users, `updated` only, encrypted rich data, 45–60 minute life, one per app and delegated
//! user, and the validation handshake to every notification URL before anything is created.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Principal, authorize};
use super::routes::{ApiError, ApiResult, parse_body};
use super::state::{Inner, Shared};
use super::sub_rules::{
    SubscriptionCert, check_len, check_url, parse_cert, parse_expiry, parse_resource, require,
    validate_endpoint,
};
use crate::Clock;

/// One live subscription. No `Debug`: it holds the client state.
pub(crate) struct Subscription {
    pub id: String,
    pub resource: String,
    pub user_ids: Vec<String>,
    pub notification_url: String,
    pub lifecycle_url: Option<String>,
    pub expires_ms: i64,
    pub client_state: Option<String>,
    pub include_resource_data: bool,
    pub cert: Option<SubscriptionCert>,
    pub creator_id: String,
    pub notifications_queued: u64,
    pub notifications_delivered: u64,
    pub lifecycle_queued: u64,
}

impl Subscription {
    pub fn to_json(&self, app_id: &str) -> Value {
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
            "id": self.id,
            "resource": self.resource,
            "applicationId": app_id,
            "changeType": "updated",
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": Clock::format_ms(self.expires_ms),
            "creatorId": self.creator_id,
            "includeResourceData": self.include_resource_data,
            "encryptionCertificate": self.cert.as_ref().map(|c| c.base64.clone()),
            "encryptionCertificateId": self.cert.as_ref().map(|c| c.id.clone()),
            "latestSupportedTlsVersion": "v1_2",
            "notificationQueryOptions": null,
            "notificationUrlAppId": null,
            "notificationContentType": "application/json",
        })
    }
}

fn delegated_only(shared: &Arc<Shared>, headers: &HeaderMap) -> Result<String, ApiError> {
    match authorize(shared, headers)? {
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

/// `POST /v1.0/subscriptions`
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let creator = delegated_only(&shared, &headers)?;
    let b: CreateBody = parse_body(&body)?;
    let change_type = require(&b.change_type, "changeType")?;
    if change_type != "updated" {
        return Err(ApiError::bad_request(format!(
            "changeType '{change_type}' is not supported for presence; only 'updated'"
        )));
    }
    let notification_url = require(&b.notification_url, "notificationUrl")?.to_owned();
    check_url("notificationUrl", &notification_url)?;
    if let Some(l) = &b.lifecycle_notification_url {
        check_url("lifecycleNotificationUrl", l)?;
    }
    let resource = require(&b.resource, "resource")?.to_owned();
    let user_ids = parse_resource(&resource).map_err(ApiError::bad_request)?;
    let expires_ms = parse_expiry(
        require(&b.expiration_date_time, "expirationDateTime")?,
        shared.clock.now_ms(),
    )?;
    check_len("clientState", b.client_state.as_deref(), 128)?;
    let cert = parse_cert(
        b.encryption_certificate.as_deref(),
        b.encryption_certificate_id.as_deref(),
    )?;
    if b.include_resource_data && cert.is_none() {
        return Err(ApiError::bad_request(
            "encryptionCertificate and encryptionCertificateId are required when includeResourceData is true",
        ));
    }
    if let Some(c) = shared.mutate(|inner, _| conflict(inner, &creator)) {
        return Err(c);
    }
    validate_endpoint(&shared, &notification_url).await?;
    if let Some(l) = &b.lifecycle_notification_url {
        validate_endpoint(&shared, l).await?;
    }
    let sub = Subscription {
        id: uuid::Uuid::new_v4().to_string(),
        resource,
        user_ids,
        notification_url,
        lifecycle_url: b.lifecycle_notification_url,
        expires_ms,
        client_state: b.client_state,
        include_resource_data: b.include_resource_data,
        cert,
        creator_id: creator.clone(),
        notifications_queued: 0,
        notifications_delivered: 0,
        lifecycle_queued: 0,
    };
    let body = sub.to_json(&shared.app_id);
    // Checked again in the same critical section as the insert: a concurrent create may have won.
    shared.mutate(|inner, _| match conflict(inner, &creator) {
        Some(c) => Err(c),
        None => {
            inner.subscriptions.insert(sub.id.clone(), sub);
            Ok(())
        }
    })?;
    tokio::time::sleep(shared.timing().create_answer_delay).await;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// One presence subscription per app and delegated user: 409 naming the existing one.
fn conflict(inner: &Inner, creator: &str) -> Option<ApiError> {
    let existing = inner
        .subscriptions
        .values()
        .find(|s| s.creator_id == creator)?;
    Some(ApiError::new(
        StatusCode::CONFLICT,
        "ExtensionError",
        format!(
            "Subscription Id {} already exists for the requested combination",
            existing.id
        ),
    ))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "The object was not found. Subscription '{id}' does not exist or has expired."
    ))
}

/// `GET /v1.0/subscriptions`
pub(crate) async fn list(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    authorize(&shared, &headers)?;
    let value: Vec<Value> = shared.mutate(|inner, _| {
        inner
            .subscriptions
            .values()
            .map(|s| s.to_json(&shared.app_id))
            .collect()
    });
    Ok(Json(json!({ "value": value })).into_response())
}

/// `GET /v1.0/subscriptions/{id}`
pub(crate) async fn get_one(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    delegated_only(&shared, &headers)?;
    shared
        .mutate(|inner, _| {
            inner
                .subscriptions
                .get(&id)
                .map(|s| s.to_json(&shared.app_id))
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
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    delegated_only(&shared, &headers)?;
    let b: PatchBody = parse_body(&body)?;
    if b.lifecycle_notification_url.is_some() {
        return Err(ApiError::bad_request(
            "lifecycleNotificationUrl cannot be changed; delete the subscription and create a new one",
        ));
    }
    let cert = parse_cert(
        b.encryption_certificate.as_deref(),
        b.encryption_certificate_id.as_deref(),
    )?;
    let expires = match &b.expiration_date_time {
        Some(e) => Some(parse_expiry(e, shared.clock.now_ms())?),
        None => None,
    };
    shared.mutate(|inner, _| {
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
        Ok(Json(sub.to_json(&shared.app_id)).into_response())
    })
}

/// `DELETE /v1.0/subscriptions/{id}` → 204
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    delegated_only(&shared, &headers)?;
    shared
        .mutate(|inner, _| inner.subscriptions.remove(&id))
        .map(|_| StatusCode::NO_CONTENT.into_response())
        .ok_or_else(|| not_found(&id))
}

/// `POST /v1.0/subscriptions/{id}/reauthorize` → 204 (does not extend the expiry).
pub(crate) async fn reauthorize(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    delegated_only(&shared, &headers)?;
    let exists = shared.mutate(|inner, _| inner.subscriptions.contains_key(&id));
    if !exists {
        return Err(not_found(&id));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

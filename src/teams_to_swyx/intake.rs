//! Graph notification intake, framework-neutral: one function from an HTTP request to an HTTP
//! response, shared by the `graph-webhook` Lambda and the self-hosted server.
//!
//! Order of checks (cheap and public first, RSA last): validation handshake → method → size →
//! JSON → validation tokens (JWT) for the whole collection → per item: subscription and
//! clientState (constant time) → tenant → RSA key unwrap, HMAC signature, AES decryption →
//! the user's sync decision → forward to the connector within the time budget. An item that fails
//! alone is dropped and logged; its neighbours go on. Graph gets 202 whatever happens downstream.

use super::decide::{Observed, observe};
use super::deliver::Delivered;
use crate::app::App;
use crate::domain::{Observation, SwyxUpdate, Timestamp};
use crate::entry::http::{HttpRequest, HttpResponse, empty, error, query_param, text};
use crate::graph::notification::{
    ChangeNotification, ChangeNotificationCollection, PresenceResource,
};
use crate::store::{LifecycleRequest, StoreError};
use http::{Method, StatusCode};
use std::fmt;
use std::sync::Arc;
use std::time::Instant;
use subtle::ConstantTimeEq;

/// Graph's opaque validation tokens are short; anything longer is not Graph.
const MAX_VALIDATION_TOKEN_LEN: usize = 8 * 1024;

/// Why one notification item was dropped. Never carries secrets or decrypted content.
#[derive(Debug)]
pub enum ItemError {
    MissingField(&'static str),
    UnknownSubscription,
    ClientStateMismatch,
    WrongTenant,
    NotRich,
    Decrypt(String),
    NotPresence(String),
    ResourceMismatch,
    Store(StoreError),
}

impl fmt::Display for ItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemError::MissingField(field) => write!(f, "item has no `{field}`"),
            ItemError::UnknownSubscription => f.write_str("unknown subscription"),
            ItemError::ClientStateMismatch => {
                f.write_str("clientState does not match the subscription's")
            }
            ItemError::WrongTenant => {
                f.write_str("tenant is not ours or not vouched for by a validation token")
            }
            ItemError::NotRich => {
                f.write_str("no encryptedContent: presence subscriptions must be rich")
            }
            ItemError::Decrypt(e) => write!(f, "cannot decrypt: {e}"),
            ItemError::NotPresence(e) => write!(f, "decrypted resource is not a presence: {e}"),
            ItemError::ResourceMismatch => {
                f.write_str("decrypted presence id differs from resourceData.id")
            }
            ItemError::Store(e) => write!(f, "store: {e}"),
        }
    }
}

/// What happened to one accepted item.
enum ItemOutcome {
    Forward(SwyxUpdate),
    Recorded,
    Stale,
    UnlinkedUser,
    Lifecycle,
}

pub async fn handle(app: &Arc<App>, req: HttpRequest) -> HttpResponse {
    let started = Instant::now();
    let received_at = Timestamp::now();

    if let Some(token) = query_param(req.uri(), "validationToken") {
        if token.len() > MAX_VALIDATION_TOKEN_LEN {
            return error(StatusCode::BAD_REQUEST, "validationToken is too long");
        }
        tracing::info!(
            path = req.uri().path(),
            "answered a subscription validation request"
        );
        return text(StatusCode::OK, token);
    }
    if req.method() != Method::POST {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "{} is not allowed: Graph POSTs notifications here",
                req.method()
            ),
        );
    }
    let body = req.body();
    if body.len() > app.settings.max_body_bytes {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "body of {} bytes exceeds the limit of {} bytes",
                body.len(),
                app.settings.max_body_bytes
            ),
        );
    }
    let collection = match parse_collection(body) {
        Ok(c) => c,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };

    let needs_tokens = collection
        .value
        .iter()
        .any(|n| n.encrypted_content.is_some());
    let vouched_tenants: Option<Vec<String>> = match &collection.validation_tokens {
        None if needs_tokens => {
            return error(
                StatusCode::UNAUTHORIZED,
                "validationTokens missing: rich notifications must carry them",
            );
        }
        None => None,
        Some(tokens) => match app.tokens.validate_all(tokens).await {
            Ok(valid) => Some(
                valid
                    .into_iter()
                    .map(|t| t.tenant_id.to_ascii_lowercase())
                    .collect(),
            ),
            Err(e) => {
                tracing::warn!(error = %e, "notification collection refused: invalid validation token");
                return error(
                    StatusCode::UNAUTHORIZED,
                    format!("validation token rejected: {e}"),
                );
            }
        },
    };

    let items = collection.value.len();
    let vouched = Arc::new(vouched_tenants);
    // Items are processed concurrently and each forward starts as soon as its own decision is
    // stored. Items of one batch arrived together: one millisecond apart each keeps their order
    // for users whose presences carry no sequenceNumber.
    let mut tasks = tokio::task::JoinSet::new();
    let mut done = Vec::new();
    let single = collection.value.len() == 1;
    for (index, item) in collection.value.into_iter().enumerate() {
        let app = Arc::clone(app);
        let vouched = Arc::clone(&vouched);
        let received_at = received_at.plus_millis(index as i64);
        let work = async move {
            let result = process_item(&app, &item, vouched.as_deref(), received_at).await;
            let delivered = match &result {
                Ok(ItemOutcome::Forward(update)) => Some(forward(&app, update, started).await),
                _ => None,
            };
            (index, item.subscription_id, result, delivered)
        };
        // A lone item (the usual case) needs no task of its own.
        if single {
            done.push(work.await);
        } else {
            tasks.spawn(work);
        }
    }
    let (mut stale, mut recorded, mut dropped, mut unlinked, mut lifecycle) = (0, 0, 0, 0, 0);
    let (mut delivered, mut pending) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(outcome) => done.push(outcome),
            Err(_) => {
                dropped += 1;
                tracing::error!("a notification item's task failed");
            }
        }
    }
    for (index, subscription_id, result, outcome) in done {
        match outcome {
            Some(true) => delivered += 1,
            Some(false) => pending += 1,
            None => {}
        }
        match result {
            Ok(ItemOutcome::Forward(_)) => {}
            Ok(ItemOutcome::Recorded) => recorded += 1,
            Ok(ItemOutcome::Stale) => stale += 1,
            Ok(ItemOutcome::UnlinkedUser) => unlinked += 1,
            Ok(ItemOutcome::Lifecycle) => lifecycle += 1,
            Err(reason) => {
                dropped += 1;
                tracing::warn!(
                    index,
                    subscription_id = subscription_id.as_deref().unwrap_or("-"),
                    reason = %reason,
                    "notification item dropped"
                );
            }
        }
    }
    app.metrics.count_notification(items, dropped);
    tracing::info!(
        items,
        delivered,
        pending,
        recorded,
        stale,
        unlinked,
        lifecycle,
        dropped,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "notification collection accepted"
    );
    empty(StatusCode::ACCEPTED)
}

/// Sends one update within what is left of the request's budget; `true` when it reached the
/// connector (or was already superseded there), `false` when it was kept pending.
async fn forward(app: &App, update: &SwyxUpdate, started: Instant) -> bool {
    app.metrics.record_forward_start(started.elapsed());
    let budget = app.settings.time_budget.saturating_sub(started.elapsed());
    let outcome = app.delivery().deliver(update, 0, budget).await;
    let reached = !matches!(outcome, Delivered::Pending { .. });
    app.metrics.count_forwarded(reached);
    match outcome {
        Delivered::Pending { reason } => {
            tracing::warn!(swyx_user = %update.swyx_user_id, revision = update.revision, reason = %reason, "Swyx update kept pending");
        }
        other => {
            tracing::debug!(swyx_user = %update.swyx_user_id, revision = update.revision, outcome = ?other, "Swyx update delivered");
        }
    }
    reached
}

fn parse_collection(body: &[u8]) -> Result<ChangeNotificationCollection, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("malformed JSON: {e}"))?;
    match value.get("value") {
        None | Some(serde_json::Value::Null) => {
            return Err("missing `value`: expected a changeNotificationCollection".to_string());
        }
        Some(v) if !v.is_array() => return Err("`value` must be an array".to_string()),
        Some(_) => {}
    }
    serde_json::from_value(value).map_err(|e| format!("not a changeNotificationCollection: {e}"))
}

fn secrets_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

async fn process_item(
    app: &App,
    item: &ChangeNotification,
    vouched_tenants: Option<&[String]>,
    received_at: Timestamp,
) -> Result<ItemOutcome, ItemError> {
    let subscription_id = item
        .subscription_id
        .as_deref()
        .ok_or(ItemError::MissingField("subscriptionId"))?;
    let subscription = app
        .store
        .get_subscription(subscription_id)
        .await
        .map_err(ItemError::Store)?
        .ok_or(ItemError::UnknownSubscription)?;
    let client_state = item
        .client_state
        .as_deref()
        .ok_or(ItemError::MissingField("clientState"))?;
    if !secrets_equal(client_state, &subscription.client_state) {
        return Err(ItemError::ClientStateMismatch);
    }
    let tenant = item
        .tenant_id
        .as_deref()
        .ok_or(ItemError::MissingField("tenantId"))?
        .to_ascii_lowercase();
    let vouched = vouched_tenants.is_none_or(|list| list.contains(&tenant));
    if tenant != app.settings.tenant_id || !vouched {
        return Err(ItemError::WrongTenant);
    }
    if let Some(event) = &item.lifecycle_event {
        // Graph wants 202 at once: maintenance reacts (renew, recreate, reconcile); the
        // self-hosted loop is woken now, the scheduled Lambda runs within a minute.
        let event = event.trim();
        if event.is_empty() || event.len() > 64 {
            return Err(ItemError::MissingField("lifecycleEvent"));
        }
        app.store
            .put_lifecycle_request(&LifecycleRequest {
                subscription_id: subscription_id.to_string(),
                event: event.to_string(),
                received_at,
            })
            .await
            .map_err(ItemError::Store)?;
        app.wake_maintenance.notify_one();
        tracing::info!(subscription_id, lifecycle_event = %event, "lifecycle notification received");
        return Ok(ItemOutcome::Lifecycle);
    }
    let content = item.encrypted_content.as_ref().ok_or(ItemError::NotRich)?;
    let plaintext = app
        .keys
        .decrypt(content)
        .map_err(|e| ItemError::Decrypt(e.to_string()))?;
    let resource: PresenceResource =
        serde_json::from_slice(&plaintext).map_err(|e| ItemError::NotPresence(e.to_string()))?;
    if let Some(outer) = item.resource_data.as_ref().and_then(|r| r.id.as_deref())
        && !outer.eq_ignore_ascii_case(&resource.id)
    {
        return Err(ItemError::ResourceMismatch);
    }
    let entra_id = resource.id.to_ascii_lowercase();
    let obs = Observation {
        presence: resource.to_presence(),
        received_at,
    };
    match observe(app.store.as_ref(), app.judge(), &entra_id, &obs).await {
        Ok(Observed::Forward(update)) => Ok(ItemOutcome::Forward(update)),
        Ok(Observed::Recorded) => Ok(ItemOutcome::Recorded),
        Ok(Observed::Stale) => Ok(ItemOutcome::Stale),
        Ok(Observed::UnlinkedUser) => {
            tracing::info!(
                subscription_id,
                "presence of a user who is not linked: ignored"
            );
            Ok(ItemOutcome::UnlinkedUser)
        }
        Err(e) => Err(ItemError::Store(e)),
    }
}

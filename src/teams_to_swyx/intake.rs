//! Graph notification intake, framework-neutral: one function from an HTTP request to an HTTP
//! response, shared by the `graph-webhook` Lambda and the self-hosted server.
//!
//! [`handle`] is the list of steps, cheap and public first, RSA last: validation handshake →
//! method, size, JSON → the collection's validation tokens → per item (concurrently): the
//! authenticity checks of [`super::authenticate`], then the user's sync decision, then the forward
//! to the connector within the time budget → one summary line. An item that fails alone is dropped
//! and logged; its neighbours go on. Graph gets 202 whatever happens at the connector (what it
//! does not take stays pending), and 503 when an item could not be stored, so Graph redelivers.

use super::authenticate::{Authentic, NotAuthentic, VouchedTenants, authenticate, vouched_tenants};
use super::decide::{Observed, observe};
use super::deliver::Delivered;
use crate::app::App;
use crate::domain::{Observation, SwyxUpdate, Timestamp};
use crate::entry::http::{HttpRequest, HttpResponse, empty, error, query_param, text};
use crate::graph::notification::{ChangeNotification, ChangeNotificationCollection};
use crate::metrics::DropReason;
use crate::store::{LifecycleRequest, StoreError};
use crate::telemetry::with_causes;
use http::{Method, StatusCode};
use std::sync::Arc;
use std::time::Instant;

/// Graph's opaque validation tokens are short; anything longer is not Graph.
const MAX_VALIDATION_TOKEN_LEN: usize = 8 * 1024;

/// Why one notification item was dropped. Never carries secrets or decrypted content.
#[derive(Debug, thiserror::Error)]
pub enum ItemError {
    #[error(transparent)]
    NotAuthentic(NotAuthentic),
    #[error("store")]
    Store(#[source] StoreError),
}

impl From<NotAuthentic> for ItemError {
    /// A store that failed during the checks is a store failure, not a forgery.
    fn from(e: NotAuthentic) -> Self {
        match e {
            NotAuthentic::Store(e) => ItemError::Store(e),
            other => ItemError::NotAuthentic(other),
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

/// One item's fate, for the summary.
struct ItemReport {
    index: usize,
    subscription_id: Option<String>,
    result: Result<ItemOutcome, ItemError>,
    /// For a forwarded update: `true` when it reached the connector, `false` when kept pending.
    reached_connector: Option<bool>,
}

pub async fn handle(app: &Arc<App>, req: HttpRequest) -> HttpResponse {
    let started = Instant::now();
    let received_at = app.clock.now();
    if let Some(answer) = validation_handshake(&req) {
        return answer;
    }
    let collection = match read_collection(app, &req) {
        Ok(collection) => collection,
        Err(refused) => return error(refused.status, refused.message),
    };
    let vouched = match vouched_tenants(app, &collection).await {
        Ok(vouched) => vouched,
        Err(rejected) => {
            let items = collection.value.len();
            app.metrics.count_notifications(items);
            app.metrics
                .count_dropped(DropReason::ValidationToken, items);
            let reason = with_causes(&rejected);
            tracing::warn!(error = %reason, "notification collection refused: validation tokens");
            return error(StatusCode::UNAUTHORIZED, reason);
        }
    };
    let items = collection.value.len();
    // Counted now: a Graph that hangs up cancels this request, not the items' task below.
    app.metrics.count_notifications(items);
    // On a task of its own: when Graph gives up waiting and closes the connection, the items still
    // get decided and delivered instead of being cancelled half way.
    let work = {
        let app = Arc::clone(app);
        tokio::spawn(async move {
            process_items(&app, collection.value, vouched, received_at, started).await
        })
    };
    let reports = match work.await {
        Ok(reports) => reports,
        Err(_) => {
            tracing::error!("a notification collection's task failed");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the notification collection could not be processed; retry",
            );
        }
    };
    let tally = Tally::of(items, reports);
    for reason in &tally.not_applied {
        app.metrics.count_dropped(*reason, 1);
    }
    tally.log(started);
    if tally.transient > 0 {
        // Graph redelivers the collection; items already applied are then recognised as stale.
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} of {} notification items could not be stored (a transient store failure); retry",
                tally.transient, tally.items
            ),
        );
    }
    empty(StatusCode::ACCEPTED)
}

/// Graph's subscription validation (`?validationToken=`, on either URL, GET or POST): echo the
/// token as text.
fn validation_handshake(req: &HttpRequest) -> Option<HttpResponse> {
    let token = query_param(req.uri(), "validationToken")?;
    if token.len() > MAX_VALIDATION_TOKEN_LEN {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "validationToken is too long",
        ));
    }
    tracing::info!(
        path = req.uri().path(),
        "answered a subscription validation request"
    );
    Some(text(StatusCode::OK, token))
}

/// A request answered with an error before any item is looked at.
struct Refused {
    status: StatusCode,
    message: String,
}

impl Refused {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

/// The POSTed collection, or why it is refused (405, 413, 400).
fn read_collection(app: &App, req: &HttpRequest) -> Result<ChangeNotificationCollection, Refused> {
    if req.method() != Method::POST {
        return Err(Refused::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "{} is not allowed: Graph POSTs notifications here",
                req.method()
            ),
        ));
    }
    let body = req.body();
    if body.len() > app.settings.max_body_bytes {
        return Err(Refused::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "body of {} bytes exceeds the limit of {} bytes",
                body.len(),
                app.settings.max_body_bytes
            ),
        ));
    }
    parse_collection(body).map_err(|message| Refused::new(StatusCode::BAD_REQUEST, message))
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

/// Every item concurrently; each forward starts as soon as its own decision is stored. Items of
/// one batch arrived together: one millisecond apart each keeps their order for users whose
/// presences carry no sequenceNumber.
async fn process_items(
    app: &Arc<App>,
    items: Vec<ChangeNotification>,
    vouched: VouchedTenants,
    received_at: Timestamp,
    started: Instant,
) -> Vec<Result<ItemReport, tokio::task::JoinError>> {
    let vouched = Arc::new(vouched);
    let single = items.len() == 1;
    let mut tasks = tokio::task::JoinSet::new();
    let mut reports = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let app = Arc::clone(app);
        let vouched = Arc::clone(&vouched);
        let received_at = received_at.plus_millis(index as i64);
        let work = async move {
            let result = process_item(&app, &vouched, &item, received_at).await;
            let reached_connector = match &result {
                Ok(ItemOutcome::Forward(update)) => Some(forward(&app, update, started).await),
                _ => None,
            };
            ItemReport {
                index,
                subscription_id: item.subscription_id,
                result,
                reached_connector,
            }
        };
        // A lone item (the usual case) needs no task of its own.
        if single {
            reports.push(Ok(work.await));
        } else {
            tasks.spawn(work);
        }
    }
    while let Some(joined) = tasks.join_next().await {
        reports.push(joined);
    }
    reports
}

async fn process_item(
    app: &App,
    vouched: &VouchedTenants,
    item: &ChangeNotification,
    received_at: Timestamp,
) -> Result<ItemOutcome, ItemError> {
    match authenticate(app, vouched, item).await? {
        Authentic::Lifecycle {
            subscription_id,
            event,
        } => record_lifecycle(app, subscription_id, event, received_at).await,
        Authentic::Presence(resource) => {
            let entra_id = resource.id.to_ascii_lowercase();
            let observation = Observation {
                presence: resource.to_presence(),
                received_at,
            };
            let observed = observe(app.store.as_ref(), app.judge(), &entra_id, &observation)
                .await
                .map_err(ItemError::Store)?;
            let outcome = match observed {
                Observed::Forward(update) => ItemOutcome::Forward(update),
                Observed::Recorded => ItemOutcome::Recorded,
                Observed::Stale => ItemOutcome::Stale,
                Observed::UnlinkedUser => {
                    tracing::info!(
                        subscription_id = item.subscription_id.as_deref().unwrap_or("-"),
                        "presence of a user who is not linked: ignored"
                    );
                    ItemOutcome::UnlinkedUser
                }
            };
            Ok(outcome)
        }
    }
}

/// Graph wants 202 at once: maintenance reacts (renew, recreate, reconcile); the self-hosted loop
/// is woken now, the scheduled Lambda runs within a minute.
async fn record_lifecycle(
    app: &App,
    subscription_id: &str,
    event: &str,
    received_at: Timestamp,
) -> Result<ItemOutcome, ItemError> {
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
    Ok(ItemOutcome::Lifecycle)
}

/// Sends one update within what is left of the request's budget; `true` when it reached the
/// connector (or was already superseded there), `false` when it was kept pending.
async fn forward(app: &App, update: &SwyxUpdate, started: Instant) -> bool {
    let budget = app.settings.time_budget.saturating_sub(started.elapsed());
    let outcome = app.delivery().deliver(update, 0, budget).await;
    let reached = !matches!(outcome, Delivered::Pending { .. });
    app.metrics.count_forward(reached, started.elapsed());
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

/// What became of a collection's items: one log line per dropped item, one for the collection.
#[derive(Debug, Default)]
struct Tally {
    items: usize,
    delivered: usize,
    pending: usize,
    recorded: usize,
    stale: usize,
    unlinked: usize,
    lifecycle: usize,
    dropped: usize,
    /// Dropped for a reason that may pass (store failure, contention): Graph should retry.
    transient: usize,
    /// Why each item that changed nothing was dropped (stale and unlinked ones included).
    not_applied: Vec<DropReason>,
}

impl Tally {
    fn of(items: usize, reports: Vec<Result<ItemReport, tokio::task::JoinError>>) -> Self {
        let mut tally = Tally {
            items,
            ..Tally::default()
        };
        for report in reports {
            match report {
                Ok(report) => tally.count(report),
                Err(_) => {
                    tally.dropped += 1;
                    tally.transient += 1;
                    tally.not_applied.push(DropReason::Internal);
                    tracing::error!("a notification item's task failed");
                }
            }
        }
        tally
    }

    fn count(&mut self, report: ItemReport) {
        match report.reached_connector {
            Some(true) => self.delivered += 1,
            Some(false) => self.pending += 1,
            None => {}
        }
        match report.result {
            Ok(ItemOutcome::Forward(_)) => {}
            Ok(ItemOutcome::Recorded) => self.recorded += 1,
            Ok(ItemOutcome::Stale) => {
                self.stale += 1;
                self.not_applied.push(DropReason::Stale);
            }
            Ok(ItemOutcome::UnlinkedUser) => {
                self.unlinked += 1;
                self.not_applied.push(DropReason::UnlinkedUser);
            }
            Ok(ItemOutcome::Lifecycle) => self.lifecycle += 1,
            Err(reason) => {
                self.dropped += 1;
                self.not_applied.push(match &reason {
                    ItemError::NotAuthentic(e) => e.drop_reason(),
                    ItemError::Store(_) => DropReason::StoreFailure,
                });
                if matches!(reason, ItemError::Store(_)) {
                    self.transient += 1;
                }
                tracing::warn!(
                    index = report.index,
                    subscription_id = report.subscription_id.as_deref().unwrap_or("-"),
                    reason = %with_causes(&reason),
                    "notification item dropped"
                );
            }
        }
    }

    fn log(&self, started: Instant) {
        tracing::info!(
            items = self.items,
            delivered = self.delivered,
            pending = self.pending,
            recorded = self.recorded,
            stale = self.stale,
            unlinked = self.unlinked,
            lifecycle = self.lifecycle,
            dropped = self.dropped,
            transient = self.transient,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "notification collection accepted"
        );
    }
}

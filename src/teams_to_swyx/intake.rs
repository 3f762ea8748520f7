//! Graph notification intake, framework-neutral: one function from an HTTP request to an HTTP
//! response, shared by the `graph-webhook` Lambda and the self-hosted server.
//!
//! [`handle`] is the list of steps, cheap and public first, RSA last: validation handshake →
//! method, size, JSON and item count ([`MAX_ITEMS_PER_COLLECTION`]) → the collection's validation
//! tokens → per item, without I/O, [`super::authenticate::screen`] (an item that fails costs no
//! store read) → one read of the bridge's subscriptions for the whole request
//! ([`super::known_subscriptions`]) → per item the remaining authenticity checks (the RSA unwrap),
//! then the user's sync decision (a lone item's alone; many items' in store batches, unwrapped on
//! every core, see [`batch`]) → the forwards to the connector, at most [`MAX_CONCURRENT_ITEMS`] at
//! a time, within the time budget → one summary line. An item that fails alone is dropped and counted; its
//! neighbours go on. Graph gets 202 whatever happens at the connector (what it does not take
//! stays pending), and 503 when an item could not be stored, so Graph redelivers. At a
//! graph-webhook cold start the subscriptions, and a lone item's user, are read early
//! ([`read_early`]), while the function reads its secrets.

use super::authenticate::{
    Authentic, NotAuthentic, VouchedTenants, authenticate, screen, vouched_tenants,
};
use super::decide::{Observed, observe_on};
use super::deliver::Delivered;
use super::known_subscriptions::Subscriptions;
use crate::app::App;
use crate::domain::{Observation, SwyxUpdate, Timestamp};
use crate::entry::detach::detached;
use crate::entry::http::{HttpRequest, HttpResponse, empty, error, post_only};
use crate::graph::notification::{ChangeNotification, LifecycleEvent};
use crate::metrics::DropReason;
use crate::store::{LifecycleRequest, StoreError};
use crate::telemetry::with_causes;
use http::{Method, StatusCode};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

mod batch;
mod collection;
mod early;
mod handshake;
mod tally;

pub use collection::MAX_ITEMS_PER_COLLECTION;
pub(crate) use collection::parse_collection;
use collection::read_collection;
use early::UserAhead;
pub use early::{EarlyRead, read_early};
pub use handshake::validation_handshake;
use tally::Tally;

/// Items of one collection forwarded to the connector at the same time.
pub const MAX_CONCURRENT_ITEMS: usize = 32;

/// Why one notification item was dropped. Never carries secrets or decrypted content.
#[derive(Debug, thiserror::Error)]
pub enum ItemError {
    #[error(transparent)]
    NotAuthentic(#[from] NotAuthentic),
    /// Shared: a failed batch fails each of its items with the same error.
    #[error("store")]
    Store(#[source] Arc<StoreError>),
}

impl ItemError {
    fn reason(&self) -> &'static str {
        match self {
            ItemError::NotAuthentic(e) => e.reason(),
            ItemError::Store(_) => "store",
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

/// An item whose task panicked or was cancelled: counted, with no report of its own.
pub(super) struct TaskFailed;

/// One item's fate, for the summary.
struct ItemReport {
    result: Result<ItemOutcome, ItemError>,
    /// For a forwarded update: `Ok` when it reached the connector, else why it was kept pending.
    delivery: Option<Result<(), String>>,
}

impl ItemReport {
    fn dropped(reason: ItemError) -> Self {
        Self {
            result: Err(reason),
            delivery: None,
        }
    }
}

/// [`handle`], with what [`read_early`] read for this request at a cold start.
pub async fn handle_with(
    app: &Arc<App>,
    req: HttpRequest,
    early: Option<EarlyRead>,
) -> HttpResponse {
    let Some(early) = early else {
        return handle(app, req).await;
    };
    if let Some(ahead) = early.subscriptions {
        app.known_subscriptions.keep(ahead).await;
    }
    handle_on(app, req, early.user).await
}

pub async fn handle(app: &Arc<App>, req: HttpRequest) -> HttpResponse {
    handle_on(app, req, None).await
}

/// [`handle`], with the decision inputs of the user of a lone item read ahead, if any.
async fn handle_on(
    app: &Arc<App>,
    req: HttpRequest,
    user_ahead: Option<UserAhead>,
) -> HttpResponse {
    let started = Instant::now();
    let received_at = app.clock.now();
    if let Some(answer) = validation_handshake(&req) {
        return answer;
    }
    if req.method() != Method::POST {
        return post_only(req.method(), "Graph POSTs notifications here");
    }
    let collection = match read_collection(app, &req) {
        Ok(collection) => collection,
        Err(refused) => {
            // The status only: the message may quote the body.
            tracing::warn!(
                status = refused.status.as_u16(),
                "notification collection refused"
            );
            return error(refused.status, refused.message);
        }
    };
    let vouched = match vouched_tenants(&app.tokens, &collection).await {
        Ok(vouched) => vouched,
        Err(rejected) if rejected.keys_unavailable() => {
            let reason = with_causes(&rejected);
            tracing::error!(error = %reason, "notification collection not checked: the signing keys (JWKS) cannot be fetched; Graph will retry");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the signing keys of the validation tokens could not be fetched; retry",
            );
        }
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
    // Detached: when Graph gives up waiting and closes the connection, the items still get
    // decided and delivered on a task of their own instead of being cancelled half way.
    let work = {
        let app = Arc::clone(app);
        detached(async move {
            let items = collection.value;
            process_items(&app, items, vouched, received_at, started, user_ahead).await
        })
    };
    let reports = match work.await {
        Ok(Ok(reports)) => reports,
        Ok(Err(store)) => {
            tracing::warn!(items, error = %with_causes(&store), "notification collection not checked: the subscriptions could not be read");
            app.store_refusals.note();
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the subscriptions could not be read (a transient store failure); retry",
            );
        }
        Err(_) => {
            tracing::error!("a notification collection's work panicked (a bug)");
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
        app.store_refusals.note();
        // Graph redelivers the collection; items already applied are then recognised as stale.
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} of {} notification items could not be stored (a transient store failure); retry",
                tally.transient, tally.items
            ),
        );
    }
    if tally.stored() {
        app.store_refusals
            .store_answers_again(app.store.as_ref(), &app.wake_maintenance)
            .await;
    }
    empty(StatusCode::ACCEPTED)
}

/// Screens every item without I/O, reads the subscriptions once for those left, then checks,
/// decides and forwards them; each forward starts as soon as its own decision is stored. Items of one batch arrived together: one millisecond apart each
/// keeps their order for users whose presences carry no sequenceNumber.
async fn process_items(
    app: &Arc<App>,
    items: Vec<ChangeNotification>,
    vouched: VouchedTenants,
    received_at: Timestamp,
    started: Instant,
    user_ahead: Option<UserAhead>,
) -> Result<Vec<Result<ItemReport, TaskFailed>>, StoreError> {
    let mut reports = Vec::with_capacity(items.len());
    let mut screened = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match screen(item, &app.settings.tenant_id, &vouched) {
            Ok(_) => screened.push(index),
            Err(e) => reports.push(Ok(ItemReport::dropped(e.into()))),
        }
    }
    if screened.is_empty() {
        return Ok(reports);
    }
    let ids: BTreeSet<&str> = screened
        .iter()
        .filter_map(|&i| items[i].subscription_id.as_deref())
        .collect();
    let ids: Vec<&str> = ids.into_iter().collect();
    let known = app
        .known_subscriptions
        .lookup(app.store.as_ref(), &ids)
        .await?;
    // A lone item (the usual case) needs no task of its own.
    if let [index] = screened[..] {
        let received_at = received_at.plus_millis(index as i64);
        let item = &items[index];
        let report = item_work(
            app,
            item,
            &known,
            &vouched,
            received_at,
            started,
            user_ahead,
        )
        .await;
        reports.push(Ok(report));
        return Ok(reports);
    }
    let many = batch::process_many(
        app,
        Arc::new(items),
        screened,
        known,
        Arc::new(vouched),
        received_at,
        started,
    );
    reports.extend(many.await);
    Ok(reports)
}

async fn item_work(
    app: &App,
    item: &ChangeNotification,
    known: &Subscriptions,
    vouched: &VouchedTenants,
    received_at: Timestamp,
    started: Instant,
    user_ahead: Option<UserAhead>,
) -> ItemReport {
    let result = process_item(app, item, known, vouched, received_at, user_ahead).await;
    let delivery = match &result {
        Ok(ItemOutcome::Forward(update)) => Some(forward(app, update, started).await),
        _ => None,
    };
    ItemReport { result, delivery }
}

async fn process_item(
    app: &App,
    item: &ChangeNotification,
    known: &Subscriptions,
    vouched: &VouchedTenants,
    received_at: Timestamp,
    user_ahead: Option<UserAhead>,
) -> Result<ItemOutcome, ItemError> {
    match authenticate(item, known, &app.settings.tenant_id, vouched, &app.keys)? {
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
            let read = user_ahead.and_then(|ahead| ahead.for_user(&entra_id));
            let (store, judge) = (app.store.as_ref(), app.judge());
            let observed = observe_on(store, judge, &entra_id, &observation, read)
                .await
                .map_err(|e| ItemError::Store(Arc::new(e)))?;
            Ok(match observed {
                Observed::Forward(update) => ItemOutcome::Forward(update),
                Observed::Recorded => ItemOutcome::Recorded,
                Observed::Stale => ItemOutcome::Stale,
                Observed::UnlinkedUser => ItemOutcome::UnlinkedUser,
            })
        }
    }
}

/// Graph wants 202 at once: maintenance reacts (renew, recreate, reconcile); the self-hosted loop
/// is woken now, the scheduled Lambda runs within a minute. The store keeps one request per
/// subscription and event, so repeats while one is open change nothing but its time.
async fn record_lifecycle(
    app: &App,
    subscription_id: &str,
    event: LifecycleEvent,
    received_at: Timestamp,
) -> Result<ItemOutcome, ItemError> {
    app.store
        .put_lifecycle_request(&LifecycleRequest {
            subscription_id: subscription_id.to_string(),
            event: event.name().to_string(),
            received_at,
        })
        .await
        .map_err(|e| ItemError::Store(Arc::new(e)))?;
    app.wake_maintenance.notify_one();
    tracing::info!(subscription_id, lifecycle_event = %event, "lifecycle notification received");
    Ok(ItemOutcome::Lifecycle)
}

/// Sends one update within what is left of the request's budget; `Ok` when it reached the
/// connector (or was already superseded there), else why it was kept pending.
async fn forward(app: &App, update: &SwyxUpdate, started: Instant) -> Result<(), String> {
    let budget = app.settings.time_budget.saturating_sub(started.elapsed());
    let outcome = app.delivery().deliver(update, 0, budget).await;
    forwarded(app, outcome, update, started)
}

/// As [`forward`], but a delivered update's pending entry is left for the caller to clear with
/// the rest of its collection's ([`crate::store::PendingStore::delete_pendings`]): one store
/// write for a collection, not one per item, and none between the connector's answer and the
/// next forward.
async fn forward_leaving_pending(
    app: &App,
    update: &SwyxUpdate,
    started: Instant,
) -> Result<(), String> {
    let budget = app.settings.time_budget.saturating_sub(started.elapsed());
    let outcome = app.delivery().attempt(update, 0, budget).await;
    forwarded(app, outcome, update, started)
}

fn forwarded(
    app: &App,
    outcome: Delivered,
    update: &SwyxUpdate,
    started: Instant,
) -> Result<(), String> {
    match outcome {
        Delivered::Pending { reason } => {
            app.metrics.count_forward(false, started.elapsed());
            Err(reason.to_string())
        }
        // Dropped, logged and counted where it was refused: nothing to retry.
        Delivered::Refused { .. } => Ok(()),
        other => {
            app.metrics.count_forward(true, started.elapsed());
            tracing::debug!(swyx_user = %update.swyx_user_id, revision = update.revision, outcome = ?other, "Swyx update delivered");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;

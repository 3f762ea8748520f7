//! Graph's outgoing side: one dispatcher that starts a worker for every notification URL with
//! something due, workers that POST batches in order with Graph's timeouts (3 s first, 10 s on
//! retries) and retries (exponential backoff, up to 4 h of sandbox time), and that report every
//! answer's real duration to the slow-endpoint rules; plus the validation handshake
//! ([`validation`]). Imports the model; the model only signals [`Tenant::outbox_ready`].

pub(crate) mod validation;

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::model::outbox::Item;
use super::model::tenant::Tenant;
use super::types::{EndpointState, GraphTiming};
use super::wire;
use crate::sync::lock;

/// At most this many notifications in one POST.
const BATCH: usize = 100;
/// The dispatcher looks again at least this often (delayed notifications fall due by the clock).
const IDLE_CHECK: Duration = Duration::from_millis(200);

/// Starts the dispatcher; it ends when the tenant is dropped.
pub(crate) fn spawn_dispatcher(tenant: &Arc<Tenant>, http: reqwest::Client) {
    let weak = Arc::downgrade(tenant);
    tokio::spawn(async move {
        loop {
            let Some(tenant) = weak.upgrade() else { return };
            let _ = tokio::time::timeout(IDLE_CHECK, tenant.outbox_ready.notified()).await;
            let now = tenant.clock.now_ms();
            let urls = lock(&tenant.inner).outbox.claim_ready(now);
            for url in urls {
                tokio::spawn(worker(Arc::downgrade(&tenant), http.clone(), url));
            }
        }
    });
}

async fn worker(tenant: Weak<Tenant>, http: reqwest::Client, url: String) {
    loop {
        let Some(tenant) = tenant.upgrade() else {
            return;
        };
        let rules = tenant.timing().slow_endpoint;
        let now = tenant.clock.now_ms();
        let take = lock(&tenant.inner)
            .outbox
            .take_due(&url, BATCH, now, &rules);
        if take.dropped > 0 {
            tenant.bump(|s| s.notifications_dropped_slow_endpoint += take.dropped);
        }
        // The endpoint views in the statistics follow at the next mutation (at most 200 ms).
        if take.batch.is_empty() {
            return;
        }
        deliver(&tenant, &http, &url, take.batch).await;
    }
}

fn collection(tenant: &Tenant, batch: &[Item]) -> Value {
    let items: Vec<Value> = batch.iter().map(|i| i.body.clone()).collect();
    let tokens = batch.iter().any(|i| i.rich_or_lifecycle).then(|| {
        // Wall-clock seconds: a bridge checks exp/nbf against the real time.
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        match tenant
            .signer
            .validation_token(&tenant.app_id, &tenant.tenant_id, wall)
        {
            Ok(token) => vec![token],
            Err(e) => {
                tracing::error!(error = %e, "could not sign a validation token");
                Vec::new()
            }
        }
    });
    wire::notification_collection(items, tokens)
}

/// What one POST came to.
struct Outcome {
    ok: bool,
    /// The answer's HTTP status, if one came.
    status: Option<u16>,
    /// An answer or a timeout (a refused connection is neither).
    answered: bool,
    slow: bool,
    timed_out: bool,
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    body: &Value,
    timeout: Duration,
    timing: &GraphTiming,
) -> Outcome {
    let started = Instant::now();
    let answer = http.post(url).json(body).timeout(timeout).send().await;
    let elapsed = started.elapsed();
    let timeout_error = answer.as_ref().is_err_and(|e| e.is_timeout());
    Outcome {
        ok: answer.as_ref().is_ok_and(|r| r.status().is_success()),
        status: answer.as_ref().ok().map(|r| r.status().as_u16()),
        answered: answer.is_ok() || timeout_error,
        slow: elapsed >= timing.delivery_timeout || timeout_error,
        timed_out: elapsed >= timing.retry_timeout,
    }
}

/// Delivers one batch until it succeeds, its retry window (sandbox time) has passed, or the
/// slow-endpoint rules take it over (requeued for 10 minutes, or dropped).
async fn deliver(tenant: &Arc<Tenant>, http: &reqwest::Client, url: &str, batch: Vec<Item>) {
    let first_queued = batch
        .iter()
        .map(|i| i.queued_ms)
        .min()
        .unwrap_or_else(|| tenant.clock.now_ms());
    let mut attempt: u32 = 0;
    loop {
        let timing = tenant.timing();
        if attempt > 0 {
            let now = tenant.clock.now_ms();
            let state = lock(&tenant.inner)
                .outbox
                .state_of(url, now, &timing.slow_endpoint);
            if state != EndpointState::Normal {
                return hand_over(tenant, url, batch, state, &timing);
            }
            let backoff = timing
                .retry_base
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(timing.retry_cap);
            tokio::time::sleep(backoff).await;
            if tenant.clock.now_ms() - first_queued > timing.retry_window.as_millis() as i64 {
                tenant.bump(|s| s.notifications_dropped += batch.len() as u64);
                tracing::warn!(
                    url,
                    dropped = batch.len(),
                    "gave up delivering after the retry window"
                );
                return;
            }
            tenant.bump(|s| s.notifications_retried += 1);
        }
        attempt += 1;
        let timeout = if attempt == 1 {
            timing.delivery_timeout
        } else {
            timing.retry_timeout
        };
        let outcome = post(http, url, &collection(tenant, &batch), timeout, &timing).await;
        record(tenant, url, &batch, &outcome, &timing);
        if outcome.ok {
            return;
        }
    }
}

/// Counts one POST: per subscription, per endpoint (the slow-endpoint window) and in total.
fn record(tenant: &Tenant, url: &str, batch: &[Item], outcome: &Outcome, timing: &GraphTiming) {
    let now = tenant.clock.now_ms();
    let view = {
        let mut inner = lock(&tenant.inner);
        if outcome.ok {
            for item in batch.iter().filter(|i| !i.lifecycle) {
                if let Some(sub) = inner.subscriptions.get_mut(&item.subscription_id) {
                    sub.notifications_delivered += 1;
                }
            }
        }
        outcome.answered.then(|| {
            inner.outbox.record_answer(
                url,
                now,
                (outcome.slow, outcome.timed_out),
                &timing.slow_endpoint,
            )
        })
    };
    let lifecycle = batch.iter().filter(|i| i.lifecycle).count() as u64;
    tenant.bump(|s| {
        s.delivery_posts += 1;
        s.slow_answers += u64::from(outcome.slow);
        s.notifications_failed += u64::from(!outcome.ok);
        if let Some(status) = outcome.status {
            *s.answers_by_status.entry(status).or_default() += 1;
        }
        if outcome.ok {
            s.lifecycle_delivered += lifecycle;
            s.notifications_delivered += batch.len() as u64 - lifecycle;
        }
        if let Some(view) = view {
            s.endpoints.insert(url.to_owned(), view);
        }
    });
}

/// A failed batch of a slow endpoint: while delayed it is tried again after the penalty (Graph:
/// "retried again in 10 minutes"); while dropping it is lost.
fn hand_over(
    tenant: &Tenant,
    url: &str,
    batch: Vec<Item>,
    state: EndpointState,
    timing: &GraphTiming,
) {
    let now = tenant.clock.now_ms();
    let n = batch.len() as u64;
    let penalty = i64::try_from(timing.slow_endpoint.penalty.as_millis()).unwrap_or(i64::MAX);
    let delayed = state == EndpointState::Delayed;
    {
        let mut inner = lock(&tenant.inner);
        if delayed {
            inner
                .outbox
                .requeue_front(url, batch, now.saturating_add(penalty));
            inner.outbox.note_held(url, n, 0);
        } else {
            inner.outbox.note_held(url, 0, n);
        }
    }
    tenant.bump(|s| {
        if delayed {
            s.notifications_delayed += n;
        } else {
            s.notifications_dropped_slow_endpoint += n;
        }
    });
}

//! Change and lifecycle notifications: built (and encrypted) when a change happens, queued per
//! destination URL, and delivered by one worker per URL in order, batched, with Graph's rules: a
//! POST waits at most the delivery timeout (3 s; longer counts as slow), failures are retried with
//! exponential backoff (1 s, 2 s, … capped at 60 s real time) for up to 4 h sandbox time, then dropped.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::Presence;
use super::crypto::encrypt_content;
use super::state::{Inner, Shared, lock};
use crate::Clock;

/// At most this many notifications in one POST.
const BATCH: usize = 100;

pub(crate) struct Item {
    subscription_id: String,
    body: Value,
    rich_or_lifecycle: bool,
    lifecycle: bool,
    queued_ms: i64,
}

#[derive(Default)]
pub(crate) struct UrlQueue {
    items: VecDeque<Item>,
    running: bool,
}

fn push(inner: &mut Inner, url: &str, item: Item) {
    inner
        .outbox
        .entry(url.to_owned())
        .or_default()
        .items
        .push_back(item);
}

/// Queues a rich (or basic) notification to every live subscription covering `user_id`.
pub(crate) fn enqueue_change(
    inner: &mut Inner,
    tenant_id: &str,
    user_id: &str,
    view: &Presence,
    now_ms: i64,
) {
    let resource = json!({
        "@odata.id": format!("users/{user_id}/presence"),
        "@odata.type": "#microsoft.graph.presence",
        "id": user_id,
        "availability": view.availability,
        "activity": view.activity,
        "outOfOfficeSettings": { "message": null, "isOutOfOffice": view.out_of_office },
        "sequenceNumber": view.sequence_number,
    });
    let plaintext = resource.to_string();
    let mut out = Vec::new();
    for sub in inner.subscriptions.values_mut() {
        if sub.expires_ms <= now_ms || !sub.user_ids.iter().any(|u| u == user_id) {
            continue;
        }
        let mut body = json!({
            "subscriptionId": sub.id,
            "clientState": sub.client_state,
            "changeType": "updated",
            "tenantId": tenant_id,
            "resource": format!("communications/presences/{user_id}"),
            "subscriptionExpirationDateTime": Clock::format_ms(sub.expires_ms),
            "resourceData": {
                "@odata.id": format!("users/{user_id}/presence"),
                "@odata.type": "#microsoft.graph.presence",
                "id": user_id,
            },
            "organizationId": tenant_id,
        });
        let rich = match (&sub.cert, sub.include_resource_data) {
            (Some(c), true) => match encrypt_content(&c.cert, &c.id, plaintext.as_bytes()) {
                Ok(content) => {
                    body["encryptedContent"] = content;
                    true
                }
                Err(e) => {
                    tracing::error!(subscription = %sub.id, error = %e, "could not encrypt a notification; skipped");
                    continue;
                }
            },
            _ => false,
        };
        sub.notifications_queued += 1;
        let item = Item {
            subscription_id: sub.id.clone(),
            body,
            rich_or_lifecycle: rich,
            lifecycle: false,
            queued_ms: now_ms,
        };
        out.push((sub.notification_url.clone(), item));
    }
    for (url, item) in out {
        push(inner, &url, item);
    }
}

/// Queues a lifecycle notification (research §9.9) to the subscription's lifecycle URL (or its
/// notification URL). `subscriptionRemoved` also deletes the subscription.
pub(crate) fn enqueue_lifecycle(
    inner: &mut Inner,
    tenant_id: &str,
    subscription_id: &str,
    event: &str,
    now_ms: i64,
) -> anyhow::Result<()> {
    if !matches!(
        event,
        "reauthorizationRequired" | "subscriptionRemoved" | "missed"
    ) {
        anyhow::bail!(
            "unknown lifecycle event '{event}': expected reauthorizationRequired, subscriptionRemoved or missed"
        );
    }
    let sub = inner
        .subscriptions
        .get_mut(subscription_id)
        .ok_or_else(|| anyhow::anyhow!("no live subscription '{subscription_id}'"))?;
    sub.lifecycle_queued += 1;
    let body = json!({
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": Clock::format_ms(sub.expires_ms),
        "tenantId": tenant_id,
        "organizationId": tenant_id,
        "clientState": sub.client_state,
        "lifecycleEvent": event,
    });
    let url = sub
        .lifecycle_url
        .clone()
        .unwrap_or_else(|| sub.notification_url.clone());
    let item = Item {
        subscription_id: sub.id.clone(),
        body,
        rich_or_lifecycle: true,
        lifecycle: true,
        queued_ms: now_ms,
    };
    if event == "subscriptionRemoved" {
        inner.subscriptions.remove(subscription_id);
    }
    push(inner, &url, item);
    Ok(())
}

/// Starts a worker for every URL that has notifications waiting and none running.
pub(crate) fn kick(shared: &Arc<Shared>) {
    let urls: Vec<String> = {
        let mut inner = lock(&shared.inner);
        inner
            .outbox
            .iter_mut()
            .filter(|(_, q)| !q.running && !q.items.is_empty())
            .map(|(url, q)| {
                q.running = true;
                url.clone()
            })
            .collect()
    };
    for url in urls {
        shared.runtime.spawn(worker(shared.clone(), url));
    }
}

async fn worker(shared: Arc<Shared>, url: String) {
    loop {
        let batch: Vec<Item> = {
            let mut inner = lock(&shared.inner);
            let Some(queue) = inner.outbox.get_mut(&url) else {
                return;
            };
            let n = queue.items.len().min(BATCH);
            if n == 0 {
                queue.running = false;
                return;
            }
            queue.items.drain(..n).collect()
        };
        deliver(&shared, &url, batch).await;
    }
}

fn collection(shared: &Shared, batch: &[Item]) -> Value {
    let mut body = json!({ "value": batch.iter().map(|i| i.body.clone()).collect::<Vec<_>>() });
    if batch.iter().any(|i| i.rich_or_lifecycle) {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        match shared
            .signer
            .validation_token(&shared.app_id, &shared.tenant_id, wall)
        {
            Ok(token) => body["validationTokens"] = json!([token]),
            Err(e) => tracing::error!(error = %e, "could not sign a validation token"),
        }
    }
    body
}

/// Delivers one batch until it succeeds or its retry window (sandbox time) has passed.
async fn deliver(shared: &Arc<Shared>, url: &str, batch: Vec<Item>) {
    let first_queued = batch
        .iter()
        .map(|i| i.queued_ms)
        .min()
        .unwrap_or_else(|| shared.clock.now_ms());
    let mut attempt: u32 = 0;
    loop {
        let timing = shared.timing();
        if attempt > 0 {
            let backoff = timing
                .retry_base
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(timing.retry_cap);
            tokio::time::sleep(backoff).await;
            if shared.clock.now_ms() - first_queued > timing.retry_window.as_millis() as i64 {
                shared.bump(|s| s.notifications_dropped += batch.len() as u64);
                tracing::warn!(
                    url,
                    dropped = batch.len(),
                    "gave up delivering after the retry window"
                );
                return;
            }
            shared.bump(|s| s.notifications_retried += 1);
        }
        attempt += 1;
        let started = Instant::now();
        let answer = shared
            .http
            .post(url)
            .json(&collection(shared, &batch))
            .timeout(timing.delivery_timeout)
            .send()
            .await;
        let slow = started.elapsed() >= timing.delivery_timeout
            || answer.as_ref().is_err_and(|e| e.is_timeout());
        let ok = answer.as_ref().is_ok_and(|r| r.status().is_success());
        if ok {
            // Per-subscription counts first, so whoever waits on the statistics sees them too.
            let mut inner = lock(&shared.inner);
            for item in batch.iter().filter(|i| !i.lifecycle) {
                if let Some(sub) = inner.subscriptions.get_mut(&item.subscription_id) {
                    sub.notifications_delivered += 1;
                }
            }
        }
        shared.bump(|s| {
            s.delivery_posts += 1;
            s.slow_answers += u64::from(slow);
            s.notifications_failed += u64::from(!ok);
            if ok {
                let lifecycle = batch.iter().filter(|i| i.lifecycle).count() as u64;
                s.lifecycle_delivered += lifecycle;
                s.notifications_delivered += batch.len() as u64 - lifecycle;
            }
        });
        if ok {
            return;
        }
    }
}

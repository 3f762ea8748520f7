//! The notification queue: change and lifecycle notifications are built (and encrypted) when a
//! change happens and queued per destination URL, in order, each with the sandbox time it may be
//! sent. Each URL carries Graph's judgement of it ([`EndpointHealth`]): a delayed endpoint gets
//! new notifications 10 minutes late, a dropping one loses them. Sending is the delivery
//! worker's job; this module only keeps the queues.

use std::collections::{HashMap, VecDeque};

use serde_json::Value;

use super::super::crypto::encrypt_resource;
use super::super::types::{EndpointState, EndpointStats, Presence, SlowEndpointRules};
use super::super::wire;
use super::health::EndpointHealth;
use super::subscription::Subscriptions;
use crate::Clock;

pub(crate) struct Item {
    pub subscription_id: String,
    pub body: Value,
    /// Rich and lifecycle notifications carry `validationTokens`.
    pub rich_or_lifecycle: bool,
    pub lifecycle: bool,
    pub queued_ms: i64,
    /// Not sent before this sandbox time (a delayed endpoint, a retry while delayed).
    pub due_ms: i64,
}

#[derive(Default)]
struct UrlQueue {
    items: VecDeque<Item>,
    running: bool,
    health: EndpointHealth,
}

/// What happened to a notification handed to the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    Queued,
    Delayed,
    Dropped,
}

/// A batch to send, and how many due items a dropping endpoint lost instead.
pub(crate) struct Take {
    pub batch: Vec<Item>,
    pub dropped: u64,
}

#[derive(Default)]
pub(crate) struct Outbox {
    queues: HashMap<String, UrlQueue>,
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Outbox {
    /// Queues `item` for `url` as the endpoint's state allows.
    pub fn push(
        &mut self,
        url: &str,
        mut item: Item,
        now_ms: i64,
        rules: &SlowEndpointRules,
    ) -> Admission {
        let queue = self.queues.entry(url.to_owned()).or_default();
        match queue.health.state_at(now_ms, rules) {
            EndpointState::Dropping => {
                queue.health.count_dropped(1);
                Admission::Dropped
            }
            EndpointState::Delayed => {
                item.due_ms = now_ms.saturating_add(ms(rules.penalty));
                queue.health.count_delayed(1);
                queue.items.push_back(item);
                Admission::Delayed
            }
            EndpointState::Normal => {
                queue.items.push_back(item);
                Admission::Queued
            }
        }
    }

    /// The URLs with something due and no worker yet; they are marked as having one.
    pub fn claim_ready(&mut self, now_ms: i64) -> Vec<String> {
        self.queues
            .iter_mut()
            .filter(|(_, q)| !q.running && q.items.front().is_some_and(|i| i.due_ms <= now_ms))
            .map(|(url, q)| {
                q.running = true;
                url.clone()
            })
            .collect()
    }

    /// Up to `max` due items from the front of `url`'s queue. An empty batch ends the worker
    /// (the URL can be claimed again). A dropping endpoint loses its due items instead.
    pub fn take_due(
        &mut self,
        url: &str,
        max: usize,
        now_ms: i64,
        rules: &SlowEndpointRules,
    ) -> Take {
        let Some(queue) = self.queues.get_mut(url) else {
            return Take {
                batch: Vec::new(),
                dropped: 0,
            };
        };
        let due = queue
            .items
            .iter()
            .take_while(|i| i.due_ms <= now_ms)
            .count();
        let mut dropped = 0;
        if due > 0 && queue.health.state_at(now_ms, rules) == EndpointState::Dropping {
            queue.items.drain(..due);
            dropped = due as u64;
            queue.health.count_dropped(dropped);
        }
        let n = if dropped > 0 { 0 } else { due.min(max) };
        let batch: Vec<Item> = queue.items.drain(..n).collect();
        if batch.is_empty() {
            queue.running = false;
        }
        Take { batch, dropped }
    }

    /// Puts a failed batch back at the front, not to be sent before `due_ms`.
    pub fn requeue_front(&mut self, url: &str, batch: Vec<Item>, due_ms: i64) {
        let queue = self.queues.entry(url.to_owned()).or_default();
        for mut item in batch.into_iter().rev() {
            item.due_ms = due_ms;
            queue.items.push_front(item);
        }
    }

    /// Counts notifications of `url` the delivery side held back or lost.
    pub fn note_held(&mut self, url: &str, delayed: u64, dropped: u64) {
        let queue = self.queues.entry(url.to_owned()).or_default();
        queue.health.count_delayed(delayed);
        queue.health.count_dropped(dropped);
    }

    /// Records one answer to a POST to `url`; returns the endpoint's view afterwards.
    pub fn record_answer(
        &mut self,
        url: &str,
        now_ms: i64,
        (slow, timed_out): (bool, bool),
        rules: &SlowEndpointRules,
    ) -> EndpointStats {
        let queue = self.queues.entry(url.to_owned()).or_default();
        queue.health.record(now_ms, slow, timed_out, rules);
        queue.health.view()
    }

    pub fn state_of(&mut self, url: &str, now_ms: i64, rules: &SlowEndpointRules) -> EndpointState {
        self.queues
            .get_mut(url)
            .map_or(EndpointState::Normal, |q| q.health.state_at(now_ms, rules))
    }

    /// Judges every endpoint at `now_ms` (penalties run out by the clock) and returns all views.
    pub fn health_views(
        &mut self,
        now_ms: i64,
        rules: &SlowEndpointRules,
    ) -> Vec<(String, EndpointStats)> {
        self.queues
            .iter_mut()
            .filter_map(|(url, q)| {
                q.health.state_at(now_ms, rules);
                let view = q.health.view();
                (view != EndpointStats::default()).then(|| (url.clone(), view))
            })
            .collect()
    }

    /// Notifications waiting for `url` (due or not).
    pub fn pending(&self, url: &str) -> usize {
        self.queues.get(url).map_or(0, |q| q.items.len())
    }
}

/// Counts of notifications the slow-endpoint rules held back or dropped.
#[derive(Default, Debug, Clone, Copy)]
pub(crate) struct Held {
    pub delayed: u64,
    pub dropped: u64,
}

impl Held {
    fn add(&mut self, a: Admission) {
        match a {
            Admission::Queued => {}
            Admission::Delayed => self.delayed += 1,
            Admission::Dropped => self.dropped += 1,
        }
    }
}

/// Queues a rich (or basic) notification to every live subscription covering `user_id`.
pub(crate) fn enqueue_change(
    outbox: &mut Outbox,
    subscriptions: &mut Subscriptions,
    tenant_id: &str,
    (user_id, view): (&str, &Presence),
    now_ms: i64,
    rules: &SlowEndpointRules,
) -> Held {
    let plaintext = wire::presence_resource(
        user_id,
        &view.availability,
        &view.activity,
        view.out_of_office,
        Some(&view.sequence_number),
    )
    .to_string();
    let mut held = Held::default();
    let ids: Vec<String> = subscriptions.covering(user_id).to_vec();
    for id in ids {
        let Some(sub) = subscriptions.get_mut(&id) else {
            continue;
        };
        if sub.expires_ms <= now_ms {
            continue;
        }
        let content = match (&sub.cert, sub.include_resource_data) {
            (Some(c), true) => match encrypt_resource(&c.cert, &c.id, plaintext.as_bytes()) {
                Ok(content) => Some(content),
                Err(e) => {
                    tracing::error!(subscription = %sub.id, error = %e, "could not encrypt a notification; skipped");
                    continue;
                }
            },
            _ => None,
        };
        let rich = content.is_some();
        let body = wire::presence_change_notification(
            &sub.id,
            sub.client_state.as_deref(),
            tenant_id,
            &Clock::format_ms(sub.expires_ms),
            user_id,
            content,
        );
        sub.notifications_queued += 1;
        let item = Item {
            subscription_id: sub.id.clone(),
            body,
            rich_or_lifecycle: rich,
            lifecycle: false,
            queued_ms: now_ms,
            due_ms: now_ms,
        };
        let url = sub.notification_url.clone();
        held.add(outbox.push(&url, item, now_ms, rules));
    }
    held
}

/// Queues a lifecycle notification to the subscription's lifecycle URL (or its notification
/// URL). `subscriptionRemoved` also deletes the subscription.
pub(crate) fn enqueue_lifecycle(
    outbox: &mut Outbox,
    subscriptions: &mut Subscriptions,
    tenant_id: &str,
    (subscription_id, event): (&str, &str),
    now_ms: i64,
    rules: &SlowEndpointRules,
) -> anyhow::Result<Held> {
    if !matches!(
        event,
        "reauthorizationRequired" | "subscriptionRemoved" | "missed"
    ) {
        anyhow::bail!(
            "unknown lifecycle event '{event}': expected reauthorizationRequired, subscriptionRemoved or missed"
        );
    }
    let sub = subscriptions
        .get_mut(subscription_id)
        .ok_or_else(|| anyhow::anyhow!("no live subscription '{subscription_id}'"))?;
    sub.lifecycle_queued += 1;
    let body = wire::lifecycle_notification(
        &sub.id,
        sub.client_state.as_deref(),
        tenant_id,
        &Clock::format_ms(sub.expires_ms),
        event,
    );
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
        due_ms: now_ms,
    };
    if event == "subscriptionRemoved" {
        subscriptions.remove(subscription_id);
    }
    let mut held = Held::default();
    held.add(outbox.push(&url, item, now_ms, rules));
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://bridge/graph/notifications";
    const MIN: i64 = 60_000;

    fn rules() -> SlowEndpointRules {
        SlowEndpointRules {
            min_answers: 10,
            ..SlowEndpointRules::default()
        }
    }

    fn item(now_ms: i64) -> Item {
        Item {
            subscription_id: "sub-1".into(),
            body: Value::Null,
            rich_or_lifecycle: true,
            lifecycle: false,
            queued_ms: now_ms,
            due_ms: now_ms,
        }
    }

    /// 10 answers at `at`, `slow` of them over 3 s and `timed_out` of those at 10 s.
    fn answers(outbox: &mut Outbox, at: i64, slow: usize, timed_out: usize) {
        for i in 0..10 {
            let judged = (i < slow, i < timed_out);
            outbox.record_answer(URL, at, judged, &rules());
        }
    }

    #[test]
    fn a_slow_endpoint_gets_new_notifications_ten_minutes_late_until_judged_again() {
        let (r, mut outbox) = (rules(), Outbox::default());
        answers(&mut outbox, 0, 2, 0);
        assert_eq!(outbox.push(URL, item(1), 1, &r), Admission::Delayed);
        assert!(
            outbox.claim_ready(1).is_empty(),
            "not sent before the delay"
        );
        assert!(outbox.claim_ready(10 * MIN).is_empty());
        assert_eq!(outbox.claim_ready(10 * MIN + 1), [URL.to_string()]);
        let take = outbox.take_due(URL, 10, 10 * MIN + 1, &r);
        assert_eq!((take.batch.len(), take.dropped), (1, 0));
        // Ten minutes on, the slow answers have left the window: normal again.
        assert_eq!(
            outbox.push(URL, item(10 * MIN + 2), 10 * MIN + 2, &r),
            Admission::Queued
        );
    }

    #[test]
    fn an_endpoint_timing_out_loses_notifications_for_ten_minutes_then_gets_them_again() {
        let (r, mut outbox) = (rules(), Outbox::default());
        answers(&mut outbox, 0, 2, 2);
        assert_eq!(outbox.state_of(URL, 1, &r), EndpointState::Dropping);
        assert_eq!(outbox.push(URL, item(1), 1, &r), Admission::Dropped);
        assert_eq!(outbox.pending(URL), 0, "dropped, not queued");
        assert_eq!(
            outbox.push(URL, item(5 * MIN), 5 * MIN, &r),
            Admission::Dropped
        );
        assert_eq!(
            outbox.push(URL, item(10 * MIN + 1), 10 * MIN + 1, &r),
            Admission::Queued
        );
    }

    #[test]
    fn ten_percent_slow_is_not_more_than_ten_percent() {
        let (r, mut outbox) = (rules(), Outbox::default());
        answers(&mut outbox, 0, 1, 0);
        assert_eq!(outbox.push(URL, item(1), 1, &r), Admission::Queued);
    }
}

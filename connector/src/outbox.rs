//! The outbox: connector → bridge events (`speaking.started`, `speaking.ended`,
//! `status.changed`), stored before they are sent and deleted only once the bridge accepted them.
//! One sender delivers them in order; a retry keeps the `webhook-id` (Standard Webhooks: a retry
//! is the same message) with a fresh timestamp and signature, after exponential backoff with
//! jitter that honours `Retry-After` up to `bridge.retry_max_secs` (the head of the queue holds
//! every later event, so no answer may park it for longer). Nothing is lost across a restart:
//! the rows are still there.

use crate::clock::{millis_of, now_ms, now_secs};
use crate::config::BridgeConfig;
use crate::status::StatusBoard;
use crate::store::{OutboxInsert, Store};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use swyx_contract::retry_after::retry_after;
use swyx_contract::signature::{new_message_id, signed_headers_with_id};
use swyx_contract::wire::SwyxEvent;
use tokio::sync::{Notify, watch};

/// First retry after this; doubled per attempt up to `bridge.retry_max_secs`.
const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// ± this share of each backoff, so many connectors do not retry in step.
const JITTER: f64 = 0.2;

/// A new row for `event` with a fresh webhook id.
pub fn row(event: &SwyxEvent) -> OutboxInsert {
    OutboxInsert {
        webhook_id: new_message_id(),
        // Serialising our own struct of strings cannot fail; an empty body would be refused
        // by the bridge with 400 and logged, never silently lost.
        body: serde_json::to_vec(event).unwrap_or_default(),
        now_ms: now_ms(),
    }
}

enum Delivery {
    Done,
    /// Final refusal (400, 401, other 4xx but 408 and 429): the event is dropped and reported.
    Refused(String),
    Retry(String, Option<Duration>),
}

pub async fn run_sender(
    store: Arc<Store>,
    cfg: BridgeConfig,
    wake: Arc<Notify>,
    status: Arc<StatusBoard>,
    mut shutdown: watch::Receiver<bool>,
) {
    let http = match reqwest::Client::builder().timeout(cfg.timeout).build() {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "outbox: cannot build the HTTP client; events stay stored");
            return;
        }
    };
    loop {
        if *shutdown.borrow() {
            return;
        }
        let backlog = store.outbox_len().unwrap_or(0);
        metrics::gauge!("connector_outbox_backlog").set(backlog as f64);
        status.update(|v| v.outbox_backlog = backlog);
        let head = match store.outbox_head() {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "outbox: cannot read the store");
                wait(&wake, &mut shutdown, Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(item) = head else {
            wait(&wake, &mut shutdown, Duration::from_secs(60)).await;
            continue;
        };
        let due_in = item.next_attempt_ms.saturating_sub(now_ms());
        // A row due later than this sender ever schedules (an older version took any
        // Retry-After, or bridge.retry_max_secs was lowered since) is due now rather than
        // holding every later event back.
        if due_in > 0 && due_in <= millis_of(longest_wait(cfg.retry_max)) {
            wait(
                &wake,
                &mut shutdown,
                Duration::from_millis(due_in.unsigned_abs()),
            )
            .await;
            continue;
        }
        let result = deliver(&http, &cfg, &item.webhook_id, &item.body).await;
        let outcome = match result {
            Delivery::Done => {
                metrics::counter!("connector_events_delivered_total").increment(1);
                store.outbox_done(item.seq)
            }
            Delivery::Refused(why) => {
                metrics::counter!("connector_events_refused_total").increment(1);
                tracing::error!(webhook_id = %item.webhook_id, reason = %why, "the bridge refused an event; dropped");
                status.delivery_error(format!("{}: {why} (dropped)", item.webhook_id));
                store.outbox_done(item.seq)
            }
            Delivery::Retry(why, retry_after) => {
                metrics::counter!("connector_event_retries_total").increment(1);
                let wait =
                    backoff(item.attempts + 1, cfg.retry_max).max(retry_after.unwrap_or_default());
                tracing::warn!(webhook_id = %item.webhook_id, attempt = item.attempts + 1, reason = %why, retry_in_ms = wait.as_millis() as u64, "event delivery failed; will retry");
                status.delivery_error(format!("{}: {why} (retrying)", item.webhook_id));
                store.outbox_retry(item.seq, now_ms().saturating_add(millis_of(wait)), &why)
            }
        };
        if let Err(e) = outcome {
            tracing::error!(error = %e, "outbox: cannot update the store");
            wait(&wake, &mut shutdown, Duration::from_secs(1)).await;
        }
    }
}

async fn wait(wake: &Notify, shutdown: &mut watch::Receiver<bool>, at_most: Duration) {
    tokio::select! {
        _ = wake.notified() => {}
        _ = tokio::time::sleep(at_most) => {}
        _ = shutdown.changed() => {}
    }
}

/// `BACKOFF_BASE` × 2^(attempt-1), capped, with [`JITTER`].
fn backoff(attempt: u32, max: Duration) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(max);
    let jitter: f64 = 1.0 - JITTER + rand::random::<f64>() * 2.0 * JITTER;
    capped.mul_f64(jitter)
}

/// The longest wait the sender schedules with `bridge.retry_max_secs` = `max`.
fn longest_wait(max: Duration) -> Duration {
    max.mul_f64(1.0 + JITTER)
}

async fn deliver(http: &reqwest::Client, cfg: &BridgeConfig, id: &str, body: &[u8]) -> Delivery {
    let signed = signed_headers_with_id(&cfg.outbound_secret, id, body, now_secs());
    let sent = http
        .post(cfg.events_url.clone())
        .headers(signed.to_header_map())
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.to_vec())
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => Delivery::Done,
        Ok(r) => {
            let status = r.status();
            let retry_after =
                retry_after(r.headers(), SystemTime::now()).map(|d| d.min(cfg.retry_max));
            let text: String = r
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            let why = format!("the bridge answered {status}: {text}");
            if retried(status) {
                Delivery::Retry(why, retry_after)
            } else {
                Delivery::Refused(why)
            }
        }
        Err(e) => Delivery::Retry(format!("the bridge could not be reached: {e}"), None),
    }
}

/// The answers the contract says to retry: the bridge did not apply the event (5xx: failed or
/// unavailable, 429: throttled, 408: the body came too slowly), so its retry is processed anew.
fn retried(status: http::StatusCode) -> bool {
    status.is_server_error()
        || status == http::StatusCode::TOO_MANY_REQUESTS
        || status == http::StatusCode::REQUEST_TIMEOUT
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::busy_server;

    #[test]
    fn a_body_sent_too_slowly_is_retried_and_a_bad_one_dropped() {
        for code in [408, 429, 500, 503] {
            let status = http::StatusCode::from_u16(code).unwrap();
            assert!(retried(status), "{code} is retried");
        }
        for code in [400, 401, 404, 413] {
            let status = http::StatusCode::from_u16(code).unwrap();
            assert!(!retried(status), "{code} is final");
        }
    }

    /// Sends one event, stored as due in `due_in_ms`, to a bridge answering 503 with `value`; the
    /// stored next attempt, and the wall clock before and after.
    async fn next_attempt_after(
        value: String,
        retry_max: Duration,
        due_in_ms: i64,
    ) -> (i64, i64, i64) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("c.db")).unwrap());
        let secret = "whsec_dGhlIGNvbm5lY3RvcnMgb3duIHNlY3JldCE=";
        let cfg = BridgeConfig {
            events_url: format!("http://{}/swyx/events", busy_server(value).await)
                .parse()
                .unwrap(),
            inbound_secrets: vec![],
            outbound_secret: secret.parse().unwrap(),
            timeout: Duration::from_secs(5),
            retry_max,
        };
        let before = now_ms();
        store
            .enqueue(&OutboxInsert {
                webhook_id: new_message_id(),
                body: b"{}".to_vec(),
                now_ms: before + due_in_ms,
            })
            .unwrap();
        let (stop, stopped) = watch::channel(false);
        let sender = tokio::spawn(run_sender(
            store.clone(),
            cfg,
            Arc::default(),
            Arc::default(),
            stopped,
        ));
        // The store has no change feed: look until the first attempt is recorded.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let item = loop {
            let item = store.outbox_head().unwrap().unwrap();
            if item.attempts == 1 || std::time::Instant::now() > deadline {
                break item;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let after = now_ms();
        stop.send_replace(true);
        sender.await.unwrap();
        assert_eq!(item.attempts, 1, "the event was tried once and kept");
        (before, item.next_attempt_ms, after)
    }

    #[tokio::test]
    async fn the_bridges_retry_after_is_honoured_up_to_the_retry_max() {
        let max = Duration::from_secs(60);
        let max_ms = millis_of(max);
        // Ten years, a sum that overflowed i64 milliseconds, u64::MAX, a date far ahead.
        for huge in [
            "315360000",
            "9223372036854775",
            "18446744073709551615",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            let (before, next, after) = next_attempt_after(huge.into(), max, 0).await;
            assert!(
                before + max_ms <= next && next <= after + max_ms,
                "{huge}: next attempt in {} ms",
                next - before
            );
        }
        // The HTTP-date form is read, not ignored (the first backoff alone is under 240 ms).
        let in_30s = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let (before, next, after) = next_attempt_after(in_30s, max, 0).await;
        assert!(
            before + 29_000 <= next && next <= after + 30_000,
            "next attempt in {} ms",
            next - before
        );
    }

    #[tokio::test]
    async fn an_event_parked_beyond_the_retry_max_is_tried_now() {
        // As an older version stored it after Retry-After: 315360000 (ten years).
        let parked = 315_360_000_000;
        let max = Duration::from_secs(60);
        let (before, next, after) = next_attempt_after("1".into(), max, parked).await;
        assert!(
            before < next && next <= after + millis_of(max),
            "tried, and next in {} ms",
            next - before
        );
    }

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let max = Duration::from_secs(60);
        assert!(backoff(1, max) <= Duration::from_millis(240));
        assert!(backoff(5, max) >= Duration::from_millis(2560));
        assert!(backoff(30, max) <= Duration::from_secs(72));
    }
}

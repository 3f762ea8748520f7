//! Connector → bridge: signed `speaking.started` / `speaking.ended` and `status.changed`
//! events, retried a few times with backoff on 5xx, 429 and network errors (the same webhook-id
//! on every attempt, re-signed with the attempt's timestamp, as the contract says).

use std::time::Duration;

use serde_json::json;

use super::model::{OwnStatus, SentEvent};
use super::shared::Shared;
use super::webhook::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use crate::Clock;
use crate::sync::lock;

/// An event for the bridge.
pub(crate) enum Event<'a> {
    Speaking {
        started: bool,
        user: &'a str,
        call_id: &'a str,
    },
    /// The user set their own status by hand (`origin: user`).
    StatusChanged { user: &'a str, status: OwnStatus },
}

const MAX_ATTEMPTS: u32 = 4;
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const BACKOFF_BASE: Duration = Duration::from_millis(100);

/// The record of an event about to be sent, and its body.
fn prepare(shared: &Shared, event: &Event<'_>) -> (SentEvent, String) {
    let at = Clock::format_ms(shared.clock.now_ms());
    let (event_type, user, call_id, status) = match event {
        Event::Speaking {
            started,
            user,
            call_id,
        } => {
            let t = if *started {
                "speaking.started"
            } else {
                "speaking.ended"
            };
            (t, *user, *call_id, None)
        }
        Event::StatusChanged { user, status } => ("status.changed", *user, "", Some(*status)),
    };
    let body = match status {
        None => json!({ "type": event_type, "swyxUserId": user, "callId": call_id, "at": at }),
        Some(st) => {
            json!({ "type": event_type, "swyxUserId": user, "status": st, "origin": "user", "at": at })
        }
    };
    let sent = SentEvent {
        webhook_id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
        event_type: event_type.to_string(),
        swyx_user_id: user.to_string(),
        call_id: call_id.to_string(),
        own_status: status,
        origin: status.map(|_| "user".to_string()),
        at,
        attempts: 0,
        status: None,
        delivered: false,
        error: None,
    };
    (sent, body.to_string())
}

pub(crate) async fn deliver(shared: &Shared, url: &str, event: Event<'_>) -> SentEvent {
    let (mut sent, body) = prepare(shared, &event);
    let lost = matches!(event, Event::Speaking { .. })
        && shared
            .lose_call_events
            .load(std::sync::atomic::Ordering::SeqCst);
    if lost {
        sent.error = Some("lost (fault injection: the connector gave up on it)".into());
    } else {
        loop {
            sent.attempts += 1;
            let retry = match attempt(shared, url, &sent.webhook_id, &body).await {
                Ok(status) => {
                    sent.status = Some(status);
                    sent.error = None;
                    if (200..300).contains(&status) {
                        sent.delivered = true;
                        false
                    } else {
                        sent.error = Some(format!("the bridge answered {status}"));
                        status >= 500 || status == 429
                    }
                }
                Err(e) => {
                    sent.status = None;
                    sent.error = Some(e);
                    true
                }
            };
            if !retry || sent.attempts >= MAX_ATTEMPTS {
                break;
            }
            tokio::time::sleep(BACKOFF_BASE * 2u32.pow(sent.attempts - 1)).await;
        }
    }
    let mut st = lock(&shared.state);
    st.stats.event_attempts += u64::from(sent.attempts);
    if sent.delivered {
        st.stats.events_sent += 1;
        st.stats.status_events_sent += u64::from(sent.own_status.is_some());
    } else {
        st.stats.events_failed += 1;
        tracing::warn!(event = %sent.event_type, user = %sent.swyx_user_id, error = ?sent.error, "swyx: event not delivered to the bridge");
    }
    st.events.push(sent.clone());
    sent
}

async fn attempt(shared: &Shared, url: &str, id: &str, body: &str) -> Result<u16, String> {
    let ts = shared.clock.now_secs();
    let signature = shared.outbound.sign(id, ts, body.as_bytes());
    let resp = shared
        .http
        .post(url)
        .timeout(ATTEMPT_TIMEOUT)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(HEADER_ID, id)
        .header(HEADER_TIMESTAMP, ts.to_string())
        .header(HEADER_SIGNATURE, signature)
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                format!("no answer within {ATTEMPT_TIMEOUT:?}")
            } else if e.is_connect() {
                "could not connect to the bridge".to_string()
            } else {
                format!("request failed: {e}")
            }
        })?;
    Ok(resp.status().as_u16())
}

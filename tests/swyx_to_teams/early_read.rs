//! A Lambda function's cold start reads an event's store inputs while it reads its secrets,
//! before the signature is checked: the read is used only for the event it was read for, once
//! that event is verified, and a forged event read early changes nothing.

use super::harness::*;
use bytes::Bytes;
use presence_bridge::domain::Timestamp;
use presence_bridge::store::Store;
use presence_bridge::swyx::signature::{WebhookSecret, signed_headers_with_id};
use presence_bridge::swyx_to_teams::intake::{self, EarlyInputs};
use serde_json::{Value, json};
use std::sync::Arc;

const ALICE: &str = "aaaaaaaa-0000-0000-0000-00000000a11c";
type Req = http::Request<Bytes>;
const INPUTS: &str = "get_swyx_event_inputs";

fn started(h: &Harness, swyx_user: &str) -> String {
    let at = Timestamp(h.clock.now_ms()).to_rfc3339();
    json!({ "type": "speaking.started", "swyxUserId": swyx_user, "callId": "c1", "at": at })
        .to_string()
}

fn request(secret: &WebhookSecret, id: &str, body: &str, now: Timestamp) -> Req {
    let mut req = http::Request::new(Bytes::from(body.to_string()));
    *req.method_mut() = http::Method::POST;
    *req.headers_mut() =
        signed_headers_with_id(secret, id, body.as_bytes(), now.secs()).to_header_map();
    req
}

fn counted(h: &Harness, method: &str) -> u64 {
    let counts = h.counted.as_ref().expect("a counting harness").counts();
    counts.get(method).copied().unwrap_or(0)
}

fn writes(h: &Harness) -> u64 {
    let counts = h.counted.as_ref().expect("a counting harness").counts();
    counts
        .iter()
        .filter(|(m, _)| !m.starts_with("get_") && !m.starts_with("list_") && **m != "is_claimed")
        .map(|(_, n)| n)
        .sum()
}

async fn read_early(h: &Harness, req: &Req) -> Option<EarlyInputs> {
    let store: Arc<dyn Store> = h.app.store.clone();
    let now = Timestamp(h.clock.now_ms());
    intake::read_early(store, req, now)
        .expect("the request looks like an event")
        .await
}

async fn handled(h: &Harness, req: Req, early: Option<EarlyInputs>) -> (u16, Value) {
    let resp = intake::handle_with(&h.app, req, early).await;
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_slice(resp.body()).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_early_read_is_the_events_only_read_of_its_inputs() {
    let h = Harness::start_counting().await;
    h.link(ALICE, "1001").await;
    let now = Timestamp(h.clock.now_ms());
    let body = started(&h, "1001");
    let req = request(&h.event_secret, "msg_cold_1", &body, now);
    let early = read_early(&h, &req).await;
    assert!(early.is_some(), "the store answered");
    assert_eq!(counted(&h, INPUTS), 1);

    let (status, answer) = handled(&h, req, early).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("applied")),
        "{answer}"
    );
    assert!(h.in_a_call(ALICE), "Teams shows the call");
    assert_eq!(
        counted(&h, INPUTS),
        1,
        "the verified event did not read again"
    );
    // The app-only token, fetched while the call set was written, is the one the call used.
    let tokens = h.graph.stats().requests("POST /{tenant}/oauth2/v2.0/token");
    assert_eq!(tokens, 1);

    // The webhook-id was recorded as for any event: the connector's retry is ignored.
    let retry = request(&h.event_secret, "msg_cold_1", &body, now);
    let (status, answer) = handled(&h, retry, None).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("ignored")),
        "{answer}"
    );
}

#[tokio::test]
async fn a_forged_event_read_early_is_refused_and_changes_nothing() {
    let h = Harness::start_counting().await;
    h.link(ALICE, "1001").await;
    let now = Timestamp(h.clock.now_ms());
    let forged = request(
        &WebhookSecret::generate(),
        "msg_forged",
        &started(&h, "1001"),
        now,
    );
    let early = read_early(&h, &forged).await;
    assert!(early.is_some(), "read before anything was checked");

    let (status, answer) = handled(&h, forged, early).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(
        writes(&h),
        0,
        "nothing written: {:?}",
        h.counted.as_ref().map(|c| c.counts())
    );
    assert!(!h.in_a_call(ALICE));
    assert!(h.graph.app_sessions(ALICE).is_empty());
}

#[tokio::test]
async fn what_was_read_early_for_another_event_is_not_used() {
    let h = Harness::start_counting().await;
    h.link(ALICE, "1001").await;
    let now = Timestamp(h.clock.now_ms());
    // Read early for a user nobody linked: "not linked", had it been used.
    let other = request(&h.event_secret, "msg_other", &started(&h, "2002"), now);
    let early = read_early(&h, &other).await;

    let alices = request(&h.event_secret, "msg_alice", &started(&h, "1001"), now);
    let (status, answer) = handled(&h, alices, early).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("applied")),
        "{answer}"
    );
    assert!(h.in_a_call(ALICE));
    assert_eq!(counted(&h, INPUTS), 2, "read again for the verified event");
}

#[tokio::test]
async fn only_what_looks_like_an_event_is_read_early() {
    let h = Harness::start_counting().await;
    let now = Timestamp(h.clock.now_ms());
    let store: Arc<dyn Store> = h.app.store.clone();
    let event = started(&h, "1001");
    let mut get = request(&h.event_secret, "msg_1", &event, now);
    *get.method_mut() = http::Method::GET;
    let mut no_id = request(&h.event_secret, "msg_2", &event, now);
    no_id.headers_mut().remove("webhook-id");
    let long_id = request(&h.event_secret, &"x".repeat(300), &event, now);
    let not_json = request(&h.event_secret, "msg_3", "{ not json", now);
    let huge = request(&h.event_secret, "msg_4", &" ".repeat(65 * 1024), now);
    for (what, req) in [
        ("a GET", get),
        ("no webhook-id", no_id),
        ("a 300-byte webhook-id", long_id),
        ("a body that is not JSON", not_json),
        ("a body over 64 KiB", huge),
    ] {
        assert!(
            intake::read_early(store.clone(), &req, now).is_none(),
            "{what} was read early"
        );
    }
    assert_eq!(counted(&h, INPUTS), 0);
}

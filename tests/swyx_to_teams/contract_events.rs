//! Events as a connector written only from the contract sends them: members the bridge does not
//! know are ignored, an unknown type is answered 2xx (and shown to the operator), a known type
//! missing what it needs (or with an id too long to keep) is a 400 naming the member, a method
//! other than POST a 405 that says so, and a call id may open a second period.

use super::{ALICE, event, harness::Harness, signed_headers_with_id};
use presence_bridge::domain::Timestamp;
use presence_bridge::metrics::CONNECTOR_ANOMALIES;
use serde_json::json;

fn anomalies(h: &Harness, kind: &str) -> String {
    let text = h.app.metrics.render().unwrap();
    let series = format!("{CONNECTOR_ANOMALIES}{{kind=\"{kind}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .unwrap_or("absent")
        .to_string()
}

#[tokio::test]
async fn a_speaking_event_with_members_of_its_own_is_applied() {
    let h = Harness::start().await;
    h.link(ALICE, "1001").await;
    let at = presence_bridge::domain::Timestamp(h.clock.now_ms()).to_rfc3339();
    let body = json!({ "type": "speaking.started", "swyxUserId": "1001", "callId": "c-1",
        "status": "Speaking", "origin": "sip", "at": at })
    .to_string();
    let (status, answer) = h.send(&body).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("applied")));
    assert!(h.in_a_call(ALICE));
}

#[tokio::test]
async fn an_unknown_type_is_ignored_with_2xx_even_without_at_and_counted() {
    let h = Harness::start().await;
    h.link(ALICE, "1001").await;
    assert_eq!(anomalies(&h, "unknown_event_type"), "0");
    let (status, answer) = h
        .send(r#"{"type":"speaking.stopped","callId":"c-1"}"#)
        .await;
    assert_eq!(
        (status, answer["detail"].as_str()),
        (200, Some("unknown event type"))
    );
    assert_eq!(anomalies(&h, "unknown_event_type"), "1");
    assert_eq!(h.graph.stats().set_presence_calls, 0);
}

#[tokio::test]
async fn a_status_change_at_no_time_is_refused_naming_at() {
    let h = Harness::start().await;
    h.link(ALICE, "1001").await;
    let body = json!({ "type": "status.changed", "swyxUserId": "1001", "status": "DoNotDisturb",
        "origin": "user", "at": "x" })
    .to_string();
    let (status, err) = h.send(&body).await;
    assert_eq!(status, 400);
    assert!(err["error"].as_str().unwrap().contains("`at`"), "{err}");
}

#[tokio::test]
async fn a_call_id_reused_for_a_later_period_shows_in_a_call_again() {
    let h = Harness::start().await;
    h.link(ALICE, "1001").await;
    let now = h.clock.now_ms();
    h.send(&event("speaking.started", "1001", "c1", now - 3_000))
        .await;
    h.send(&event("speaking.ended", "1001", "c1", now - 2_000))
        .await;
    assert!(!h.in_a_call(ALICE));
    // A late copy of the first start: still the ended period.
    let (status, answer) = h
        .send(&event("speaking.started", "1001", "c1", now - 2_500))
        .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("unchanged"))
    );
    assert!(!h.in_a_call(ALICE));
    // Resumed after a hold: a new period named by the same call.
    h.send(&event("speaking.started", "1001", "c1", now - 1_000))
        .await;
    assert!(h.in_a_call(ALICE), "In a call again");
}

/// A 3,000-character id is longer than a DynamoDB key may be: stored, it failed as a 503 that the
/// connector retried for ever, holding back its later events. Now a 400 names the member, before
/// the store is touched at all.
#[tokio::test]
async fn an_id_too_long_to_keep_is_a_400_naming_it_and_touches_no_store() {
    let h = Harness::start_counting().await;
    h.link(ALICE, "1001").await;
    let now = h.clock.now_ms();
    let long = "x".repeat(3_000);
    let cases = [
        (event("speaking.started", &long, "c-1", now), "`swyxUserId`"),
        (event("speaking.started", "1001", &long, now), "`callId`"),
        (
            json!({ "type": "status.changed", "swyxUserId": long, "status": "DoNotDisturb",
                "origin": "user", "at": Timestamp(now).to_rfc3339() })
            .to_string(),
            "`swyxUserId`",
        ),
    ];
    for (body, member) in cases {
        let (status, err) = h.send(&body).await;
        assert_eq!(status, 400, "{member}: {err}");
        assert!(err["error"].as_str().unwrap().contains(member), "{err}");
    }
    let body = event("speaking.started", "1001", "c-1", now);
    let signed = signed_headers_with_id(
        &h.event_secret,
        &long,
        body.as_bytes(),
        Timestamp(now).secs(),
    );
    let (status, err) = h.post_event(signed.to_header_map(), &body).await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"].as_str().unwrap().contains("`webhook-id`"),
        "{err}"
    );

    let counted = h.counted.as_ref().expect("a counting harness").counts();
    assert!(counted.is_empty(), "store calls: {counted:?}");
    assert!(!h.in_a_call(ALICE));
    assert_eq!(h.graph.stats().set_presence_calls, 0);
}

/// RFC 9110: a 405 names the methods the resource takes.
#[tokio::test]
async fn another_method_than_post_is_405_with_allow_post() {
    let h = Harness::start().await;
    let url = format!("{}/swyx/events", h.base_url);
    for method in [http::Method::GET, http::Method::PUT] {
        let r = super::harness::http()
            .request(method.clone(), &url)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{method}");
        assert_eq!(r.headers()[http::header::ALLOW], "POST", "{method}");
    }
}

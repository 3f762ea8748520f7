//! The intake as Graph (or someone posing as Graph) sees it: answers and what is stored.

use super::*;
use crate::fakes::{FakeConnector, app};
use crate::store::{LifecycleStore, MemoryStore, SubscriptionRecord, SubscriptionStore};
use bytes::Bytes;
use serde_json::{Value, json};

const STATE: &str = "s3cret-client-state";

async fn bridge() -> (Arc<App>, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    store
        .put_subscription(&SubscriptionRecord {
            id: "sub-1".into(),
            client_state: STATE.into(),
            expires_at: Timestamp(i64::MAX),
            account: Some("sync1".into()),
            resource: "/communications/presences".into(),
            encryption_certificate_id: None,
            renewed_at: None,
        })
        .await
        .unwrap();
    let mut app = app(
        Arc::clone(&store),
        Arc::new(FakeConnector::default()),
        Default::default(),
    );
    // Room for a collection at the item cap.
    app.settings.max_body_bytes = 1024 * 1024;
    (Arc::new(app), store)
}

fn lifecycle(event: &str) -> Value {
    json!({
        "subscriptionId": "sub-1",
        "clientState": STATE,
        "tenantId": "tenant",
        "lifecycleEvent": event,
    })
}

async fn post(app: &Arc<App>, items: Vec<Value>) -> HttpResponse {
    let body = json!({ "value": items }).to_string();
    let req = http::Request::builder()
        .method("POST")
        .uri("/graph/lifecycle")
        .body(Bytes::from(body))
        .unwrap();
    handle(app, req).await
}

fn text_of(resp: &HttpResponse) -> String {
    String::from_utf8_lossy(resp.body()).into_owned()
}

#[tokio::test]
async fn only_documented_lifecycle_events_are_stored_once_per_subscription_and_event() {
    let (app, store) = bridge().await;
    let items = vec![
        lifecycle("missed"),
        lifecycle("reauthorizationRequired"),
        lifecycle("missed"),
        lifecycle("reauthorizationRequired"),
        lifecycle("ReauthorizationRequired"),
        lifecycle("subscriptionDeleted"),
        lifecycle(" missed"),
    ];
    assert_eq!(post(&app, items).await.status(), StatusCode::ACCEPTED);
    // Again later: still one open request per subscription and event.
    let again = vec![lifecycle("missed"), lifecycle("reauthorizationRequired")];
    assert_eq!(post(&app, again).await.status(), StatusCode::ACCEPTED);
    let mut stored: Vec<(String, String)> = store
        .list_lifecycle_requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.subscription_id, r.event))
        .collect();
    stored.sort();
    assert_eq!(
        stored,
        [
            ("sub-1".to_string(), "missed".to_string()),
            ("sub-1".to_string(), "reauthorizationRequired".to_string()),
        ]
    );
}

#[tokio::test]
async fn unknown_lifecycle_events_store_nothing() {
    let (app, store) = bridge().await;
    let items = vec![
        lifecycle("renewalRequired"),
        lifecycle("MISSED"),
        lifecycle(""),
    ];
    assert_eq!(post(&app, items).await.status(), StatusCode::ACCEPTED);
    assert!(store.list_lifecycle_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn forged_items_store_nothing() {
    let (app, store) = bridge().await;
    let mut wrong_state = lifecycle("missed");
    wrong_state["clientState"] = json!("not-the-state");
    let mut stranger = lifecycle("missed");
    stranger["subscriptionId"] = json!("7f105c7d-2dc5-4530-97cd-4e7ae6534c07");
    let mut no_state = lifecycle("missed");
    no_state["clientState"] = Value::Null;
    let mut long_state = lifecycle("missed");
    long_state["clientState"] = json!("x".repeat(200));
    let items = vec![wrong_state, stranger, no_state, long_state];
    assert_eq!(post(&app, items).await.status(), StatusCode::ACCEPTED);
    assert!(store.list_lifecycle_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_collection_over_the_item_cap_is_refused_whole() {
    let (app, store) = bridge().await;
    let over = vec![lifecycle("missed"); MAX_ITEMS_PER_COLLECTION + 1];
    let resp = post(&app, over).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        text_of(&resp).contains(&format!("limit of {MAX_ITEMS_PER_COLLECTION}")),
        "{}",
        text_of(&resp)
    );
    assert!(store.list_lifecycle_requests().await.unwrap().is_empty());
    let at_cap = vec![lifecycle("missed"); MAX_ITEMS_PER_COLLECTION];
    assert_eq!(post(&app, at_cap).await.status(), StatusCode::ACCEPTED);
    assert_eq!(store.list_lifecycle_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn malformed_collections_are_named() {
    let (app, _) = bridge().await;
    for (body, expected) in [
        ("{", "malformed JSON"),
        ("{}", "missing `value`"),
        (r#"{"value": null}"#, "missing `value`"),
        (r#"{"value": "x"}"#, "not a changeNotificationCollection"),
        ("[]", "changeNotificationCollection"),
        (
            r#"{"value": [{"clientState": 5}]}"#,
            "not a changeNotificationCollection",
        ),
    ] {
        let req = http::Request::builder()
            .method("POST")
            .uri("/graph/notifications")
            .body(Bytes::from(body))
            .unwrap();
        let resp = handle(&app, req).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        assert!(
            text_of(&resp).contains(expected),
            "{body}: {}",
            text_of(&resp)
        );
    }
}

/// RFC 9110: a 405 names the methods the resource takes.
#[tokio::test]
async fn another_method_than_post_is_405_with_allow_post() {
    let (app, store) = bridge().await;
    for method in ["GET", "PUT", "DELETE"] {
        let req = http::Request::builder()
            .method(method)
            .uri("/graph/notifications")
            .body(Bytes::from(
                json!({ "value": [lifecycle("missed")] }).to_string(),
            ))
            .unwrap();
        let resp = handle(&app, req).await;
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(resp.headers()[http::header::ALLOW], "POST", "{method}");
        assert!(text_of(&resp).contains(method), "{}", text_of(&resp));
    }
    assert!(store.list_lifecycle_requests().await.unwrap().is_empty());
}

//! Presence subscriptions with the sync account's token and bulk presence reads with the app
//! token, through the bridge's one Graph client.

use super::*;
use presence_bridge::domain::Timestamp;
use presence_bridge::graph::client::GraphError;
use presence_bridge::graph::subscriptions::NewSubscription;
use presence_bridge::graph::token::AppTokenSource;
use presence_bridge::outbound::RetryPolicy;
use presence_sandbox::graph::make_encryption_certificate;
use std::sync::OnceLock;
use std::time::Instant;

const MIN_MS: i64 = 60_000;
const CLIENT_STATE: &str = "client-state-of-the-bridge";

/// One RSA certificate for the whole binary: key generation is the slow part.
fn certificate() -> &'static str {
    static CERT: OnceLock<String> = OnceLock::new();
    CERT.get_or_init(|| make_encryption_certificate().unwrap().1)
}

/// A subscription request that owns its strings.
pub struct Sub {
    url: String,
    ids: Vec<String>,
    pub expires_at: Timestamp,
}

impl Sub {
    pub fn borrow(&self) -> NewSubscription<'_> {
        NewSubscription {
            notification_url: &self.url,
            lifecycle_url: &self.url,
            user_ids: &self.ids,
            expires_at: self.expires_at,
            certificate_b64: certificate(),
            certificate_id: "bridge-cert-1",
            client_state: CLIENT_STATE,
        }
    }
}

/// Subscribes `ids` for 50 minutes from the sandbox's now.
pub fn new_subscription(t: &Tenant, r: &Receiver, ids: &[String]) -> Sub {
    Sub {
        url: r.url.clone(),
        ids: ids.to_vec(),
        expires_at: Timestamp(t.graph.clock().now_ms() + 50 * MIN_MS),
    }
}

fn in_minutes(t: &Tenant, minutes: i64) -> Timestamp {
    Timestamp(t.graph.clock().now_ms() + minutes * MIN_MS)
}

#[tokio::test]
async fn create_passes_the_handshake_and_a_second_create_names_the_first() {
    let t = tenant().await;
    let r = receiver().await;
    let token = t.sync_token().await;
    let sub = new_subscription(&t, &r, &[ALICE.to_string(), BOB.to_string()]);
    let info = t
        .client
        .create_subscription(&token, &sub.borrow(), BUDGET)
        .await
        .unwrap();
    assert_eq!(info.expires_at, sub.expires_at);
    assert_eq!(
        info.encryption_certificate_id.as_deref(),
        Some("bridge-cert-1")
    );
    let views = t.graph.subscriptions();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].id, info.id);
    assert_eq!(views[0].user_ids, [ALICE, BOB]);
    assert_eq!(
        views[0].lifecycle_notification_url.as_deref(),
        Some(r.url.as_str())
    );
    assert!(views[0].include_resource_data);
    assert_eq!(
        t.graph.stats().validation_requests,
        2,
        "notification and lifecycle URL"
    );

    let err = t
        .client
        .create_subscription(&token, &sub.borrow(), BUDGET)
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::Refused { status: 409, .. }),
        "{err}"
    );
    assert_eq!(err.existing_subscription_id(), Some(info.id));
}

#[tokio::test]
async fn renew_moves_the_expiry_and_can_rotate_the_certificate() {
    let t = tenant().await;
    let r = receiver().await;
    let token = t.sync_token().await;
    let created = t
        .client
        .create_subscription(
            &token,
            &new_subscription(&t, &r, &[ALICE.to_string()]).borrow(),
            BUDGET,
        )
        .await
        .unwrap();

    t.graph.clock().advance(Duration::from_secs(30 * 60));
    let later = in_minutes(&t, 55);
    let renewed = t
        .client
        .renew_subscription(&token, &created.id, later, None, BUDGET)
        .await
        .unwrap();
    assert_eq!(renewed.id, created.id);
    assert_eq!(renewed.expires_at, later);
    assert!(renewed.expires_at > created.expires_at);
    assert_eq!(
        renewed.encryption_certificate_id.as_deref(),
        Some("bridge-cert-1")
    );

    let (_, new_cert) = make_encryption_certificate().unwrap();
    let rotated = t
        .client
        .renew_subscription(
            &token,
            &created.id,
            in_minutes(&t, 58),
            Some((&new_cert, "bridge-cert-2")),
            BUDGET,
        )
        .await
        .unwrap();
    assert_eq!(
        rotated.encryption_certificate_id.as_deref(),
        Some("bridge-cert-2")
    );
    assert_eq!(
        t.graph.subscriptions()[0]
            .encryption_certificate_id
            .as_deref(),
        Some("bridge-cert-2")
    );
}

#[tokio::test]
async fn a_deleted_subscription_cannot_be_renewed() {
    let t = tenant().await;
    let r = receiver().await;
    let token = t.sync_token().await;
    let created = t
        .client
        .create_subscription(
            &token,
            &new_subscription(&t, &r, &[ALICE.to_string()]).borrow(),
            BUDGET,
        )
        .await
        .unwrap();
    t.client
        .delete_subscription(&token, &created.id, BUDGET)
        .await
        .unwrap();
    assert!(t.graph.subscriptions().is_empty());
    // Deleting again is done already (404).
    t.client
        .delete_subscription(&token, &created.id, BUDGET)
        .await
        .unwrap();
    let err = t
        .client
        .renew_subscription(&token, &created.id, in_minutes(&t, 55), None, BUDGET)
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::Refused { status: 404, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn get_presences_reads_availability_and_sequence_numbers() {
    let t = tenant().await;
    t.graph
        .set_client_session(ALICE, "teams-desktop", "Busy", "InACall")
        .unwrap();
    let unknown = "cccccccc-0000-0000-0000-00000000000c".to_string();
    let got = t
        .client
        .get_presences(
            &[ALICE.to_string(), BOB.to_string(), unknown.clone()],
            BUDGET,
        )
        .await
        .unwrap();
    assert_eq!(got.len(), 3);
    for p in &got {
        let expected = t.graph.presence(&p.id);
        match expected {
            Some(e) => {
                assert_eq!(p.availability.as_deref(), Some(e.availability.as_str()));
                assert_eq!(p.activity.as_deref(), Some(e.activity.as_str()));
                assert_eq!(
                    p.sequence_number.as_deref(),
                    Some(e.sequence_number.as_str())
                );
            }
            None => assert_eq!(p.id, unknown),
        }
    }
    assert_eq!(got[0].availability.as_deref(), Some("Busy"));
}

#[tokio::test]
async fn calls_breaking_graphs_limits_are_not_sent() {
    let t = tenant().await;
    let r = receiver().await;
    let many: Vec<String> = (0..651)
        .map(|i| format!("{i:08}-0000-0000-0000-000000000000"))
        .collect();
    for (ids, why) in [(&many[..], "651 user ids"), (&[][..], "no user ids")] {
        let err = t.client.get_presences(ids, BUDGET).await.unwrap_err();
        assert!(matches!(err, GraphError::InvalidRequest(_)), "{err}");
        assert!(err.to_string().contains(why), "{err}");
        let sub = new_subscription(&t, &r, ids);
        let err = t
            .client
            .create_subscription("unused", &sub.borrow(), BUDGET)
            .await
            .unwrap_err();
        assert!(err.to_string().contains(why), "{err}");
    }
    assert!(
        t.graph.stats().requests_by_route.is_empty(),
        "nothing was sent, not even for a token"
    );
}

#[tokio::test]
async fn an_app_only_token_cannot_subscribe() {
    let t = tenant().await;
    let r = receiver().await;
    let app = AppTokenSource::new(
        http(),
        &t.graph.authority_url(),
        presence_bridge::config::DEFAULT_GRAPH_BASE_URL,
        TENANT,
        APP_ID,
        ClientSecret::new(CLIENT_SECRET),
    );
    let app_token = app
        .token(
            &RetryPolicy::new(3, Duration::from_millis(50), Duration::from_secs(1)),
            TIMEOUT,
        )
        .await
        .unwrap();
    let err = t
        .client
        .create_subscription(
            &app_token,
            &new_subscription(&t, &r, &[ALICE.to_string()]).borrow(),
            BUDGET,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::Refused { status: 403, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("delegated"), "{err}");
}

#[tokio::test]
async fn throttling_is_waited_out_when_the_budget_allows() {
    let t = tenant().await;
    let ids = [ALICE.to_string()];
    t.graph.set_throttle(Some(1));
    t.client.get_presences(&ids, BUDGET).await.unwrap();
    // The counted request leaves the 30 s window in under a second (Retry-After: 1).
    t.graph.clock().advance(Duration::from_millis(29_300));
    let err = t
        .client
        .get_presences(&ids, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::Unavailable { .. }), "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));

    // The app is held for that second: a request that has the time waits it out and is not
    // refused again.
    let got = t.client.get_presences(&ids, BUDGET).await.unwrap();
    assert_eq!(got[0].id, ALICE);
    assert_eq!(t.graph.stats().throttled_429, 1);
}

#[tokio::test]
async fn an_outage_ends_in_unavailable_within_the_budget() {
    let t = tenant().await;
    let r = receiver().await;
    let token = t.sync_token().await;
    t.graph.set_outage(true);
    let token_calls = t.calls("POST /{tenant}/oauth2/v2.0/token");

    let budget = Duration::from_millis(600);
    let started = Instant::now();
    let err = t
        .client
        .get_presences(&[ALICE.to_string()], budget)
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::Unavailable { .. }), "{err}");
    assert!(
        started.elapsed() < budget + Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    // The token endpoint is down too and asks for 5 s: more than the budget, so no second try.
    assert_eq!(
        t.calls("POST /{tenant}/oauth2/v2.0/token") - token_calls,
        1,
        "{err}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(5)), "{err}");

    // Graph's Retry-After (5 s) does not fit the budget: given up at once, the wait passed on.
    let sub = new_subscription(&t, &r, &[ALICE.to_string()]);
    let err = t
        .client
        .create_subscription(&token, &sub.borrow(), BUDGET)
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(5)), "{err}");

    t.graph.set_outage(false);
    // Until Graph's 5 s are over, no request of the app is sent.
    let err = t
        .client
        .create_subscription(&token, &sub.borrow(), BUDGET)
        .await
        .unwrap_err();
    assert!(err.throttled().is_some_and(|wait| wait > BUDGET), "{err}");
    t.graph.clock().advance(Duration::from_secs(5));
    t.client
        .create_subscription(&token, &sub.borrow(), BUDGET)
        .await
        .unwrap();
}

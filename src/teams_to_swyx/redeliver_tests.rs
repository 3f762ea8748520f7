//! Pending deliveries after a connector outage, on a clock the test moves: maintenance runs once
//! a minute, as the scheduled Lambda does.

use super::deliver::{Delivered, Delivery};
use super::redeliver::deliver_pending;
use crate::domain::{Clock, PresenceValue, SwyxAction, SwyxStatus, SwyxUpdate};
use crate::fakes::{FakeConnector, ManualClock, Scripted};
use crate::store::{MemoryStore, PendingStore};
use std::time::Duration;

const BUDGET: Duration = Duration::from_secs(2);
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);

struct World {
    store: MemoryStore,
    connector: FakeConnector,
    time: ManualClock,
    clock: Clock,
    metrics: crate::metrics::Metrics,
}

impl World {
    fn new() -> Self {
        let time = ManualClock::default();
        Self {
            store: MemoryStore::new(),
            connector: FakeConnector::default(),
            clock: time.clock(),
            time,
            metrics: Default::default(),
        }
    }

    fn delivery(&self) -> Delivery<'_> {
        Delivery {
            connector: &self.connector,
            pending: &self.store,
            clock: &self.clock,
            metrics: &self.metrics,
        }
    }

    fn update(&self, swyx_user_id: &str) -> SwyxUpdate {
        SwyxUpdate {
            swyx_user_id: swyx_user_id.into(),
            entra_id: format!("entra-{swyx_user_id}"),
            action: SwyxAction::Set(SwyxStatus::Away),
            revision: 1,
            availability: PresenceValue::new("Away"),
            activity: PresenceValue::new("Away"),
            out_of_office: false,
            observed_at: self.clock.now(),
        }
    }

    /// `users` decided while the connector is down: each kept pending after its failed send.
    async fn fail_to_deliver(&self, users: &[&str]) {
        for user in users {
            let outcome = self.delivery().deliver(&self.update(user), 0, BUDGET).await;
            assert!(matches!(outcome, Delivered::Pending { .. }), "{outcome:?}");
        }
    }

    /// `update` decided (pending until delivered) and taken by the connector, then the process
    /// killed before the pending entry was cleared.
    async fn taken_then_killed(&self, update: &SwyxUpdate) {
        let decided = super::decide::pending_until_delivered(update.clone());
        self.store.put_pending(&decided).await.unwrap();
        let taken = self.delivery().attempt(update, 0, BUDGET).await;
        assert!(matches!(taken, Delivered::Now), "{taken:?}");
    }

    /// Maintenance passes once a minute for `outage`.
    async fn passes_during(&self, outage: Duration) {
        let mut passed = Duration::ZERO;
        while passed < outage {
            self.time.advance(MAINTENANCE_INTERVAL);
            passed += MAINTENANCE_INTERVAL;
            deliver_pending(self.delivery(), BUDGET).await.unwrap();
        }
    }

    fn delivered_users(&self) -> Vec<String> {
        let mut users: Vec<String> = self
            .connector
            .received()
            .into_iter()
            .map(|u| u.swyx_user_id)
            .collect();
        users.sort();
        users
    }
}

#[tokio::test]
async fn after_a_six_minute_outage_everything_pending_is_delivered_in_the_next_pass() {
    let w = World::new();
    w.connector.set_down(true);
    w.fail_to_deliver(&["swyx-1", "swyx-2", "swyx-3"]).await;
    w.passes_during(Duration::from_secs(6 * 60)).await;
    assert!(w.connector.received().is_empty());
    let waiting = w.store.get_pending("swyx-1").await.unwrap().unwrap();
    assert!(
        waiting.next_attempt_at > w.clock.now().plus_millis(60_000),
        "the backoff has grown past a maintenance interval: {waiting:?}"
    );

    // Back: the next pass (one interval later) sends every update, backoff or not.
    w.connector.set_down(false);
    w.time.advance(MAINTENANCE_INTERVAL);
    let summary = deliver_pending(w.delivery(), BUDGET).await.unwrap();
    assert_eq!(w.delivered_users(), ["swyx-1", "swyx-2", "swyx-3"]);
    assert_eq!(summary.delivered, 3, "{summary:?}");
    assert_eq!(w.store.count_pending().await.unwrap(), 0);
}

#[tokio::test]
async fn one_update_taken_again_makes_every_other_one_due_at_once() {
    let w = World::new();
    w.connector.set_down(true);
    w.fail_to_deliver(&["swyx-1", "swyx-2"]).await;
    w.passes_during(Duration::from_secs(5 * 60)).await;
    // Decided late in the outage: due soon, unlike the two from its start.
    w.fail_to_deliver(&["swyx-3"]).await;
    w.connector.set_down(false);
    w.time.advance(Duration::from_secs(5));
    let summary = deliver_pending(w.delivery(), BUDGET).await.unwrap();
    assert_eq!(w.delivered_users(), ["swyx-1", "swyx-2", "swyx-3"]);
    assert_eq!((summary.delivered, summary.made_due), (3, 2), "{summary:?}");
}

#[tokio::test]
async fn a_rejected_update_is_not_tried_before_its_time_nor_a_fresh_one_in_its_grace() {
    let w = World::new();
    let rejected = crate::store::PendingDelivery {
        update: w.update("swyx-unknown"),
        attempts: 1,
        next_attempt_at: w.clock.now().plus_millis(900_000),
        last_error: Some("connector answered 404".into()),
        rejected: true,
        not_before: None,
    };
    w.store.put_pending(&rejected).await.unwrap();
    let in_grace = super::decide::pending_until_delivered(w.update("swyx-2"));
    w.store.put_pending(&in_grace).await.unwrap();

    for _ in 0..3 {
        let summary = deliver_pending(w.delivery(), BUDGET).await.unwrap();
        assert_eq!(summary, Default::default());
        w.time.advance(Duration::from_secs(1));
    }
    assert!(w.connector.received().is_empty());
    assert_eq!(
        w.store.get_pending("swyx-unknown").await.unwrap(),
        Some(rejected)
    );
    assert_eq!(w.store.count_pending().await.unwrap(), 2);
}

#[tokio::test]
async fn a_pass_with_nothing_due_asks_the_store_once() {
    use crate::store::CountingStore;
    let w = World::new();
    let store = CountingStore::new(std::sync::Arc::new(MemoryStore::new()));
    let delivery = Delivery {
        connector: &w.connector,
        pending: &store,
        clock: &w.clock,
        metrics: &w.metrics,
    };
    // Nothing pending, then one update backing off that is not due: one query either way (a
    // maintenance Lambda's cold start waits for each).
    let summary = deliver_pending(delivery, BUDGET).await.unwrap();
    assert_eq!(summary, Default::default());
    assert_eq!(store.total(), 1, "{:?}", store.counts());
    let mut waiting = super::decide::pending_until_delivered(w.update("swyx-1"));
    waiting.next_attempt_at = w.clock.now().plus_millis(600_000);
    store.put_pending(&waiting).await.unwrap();
    store.reset();
    deliver_pending(delivery, BUDGET).await.unwrap();
    assert_eq!(store.total(), 1, "{:?}", store.counts());
    assert!(w.connector.received().is_empty(), "not retrying: no probe");
}

/// A process killed after the connector took an update and before its pending entry was cleared
/// (the narrowest crash window of a delivery): once its grace is over, a pass sends the same
/// revision again, the connector answers that it already has it, and the entry goes. Nothing is
/// applied twice and nothing waits for a backoff.
#[tokio::test]
async fn an_update_taken_just_before_a_kill_is_offered_again_once_and_cleared() {
    let w = World::new();
    let update = w.update("swyx-1");
    w.taken_then_killed(&update).await;
    assert!(w.store.get_pending("swyx-1").await.unwrap().is_some());

    w.passes_during(super::decide::DELIVERY_GRACE + MAINTENANCE_INTERVAL)
        .await;
    assert_eq!(w.connector.received(), [update], "applied once");
    assert_eq!(w.store.count_pending().await.unwrap(), 0);
}

/// The same kill, then a newer decision for the user before any pass: the newer update replaces
/// the stale entry and, once delivered, clears it; no pass sends the older revision after it.
#[tokio::test]
async fn a_newer_decision_after_the_kill_is_what_the_connector_keeps() {
    let w = World::new();
    let older = w.update("swyx-1");
    w.taken_then_killed(&older).await;
    // The restarted bridge decides again for the user (Teams changed meanwhile).
    let newer = SwyxUpdate {
        action: SwyxAction::Set(SwyxStatus::DoNotDisturb),
        revision: older.revision + 1,
        ..older.clone()
    };
    let decided = super::decide::pending_until_delivered(newer.clone());
    w.store.put_pending(&decided).await.unwrap();
    let delivered = w.delivery().deliver(&newer, 0, BUDGET).await;
    assert!(matches!(delivered, Delivered::Now), "{delivered:?}");

    w.passes_during(super::decide::DELIVERY_GRACE + MAINTENANCE_INTERVAL)
        .await;
    assert_eq!(w.connector.received(), [older, newer]);
    assert_eq!(w.store.count_pending().await.unwrap(), 0);
}

/// A 404 (no such Swyx user) is final under the contract: the update is dropped at once, never
/// sent again by maintenance, and counted; the user's next Teams change is sent as usual.
#[tokio::test]
async fn an_update_the_connector_refuses_for_good_is_dropped_not_retried() {
    let w = World::new();
    w.connector.answer_next(Scripted::Refuse(404));
    let outcome = w.delivery().deliver(&w.update("swyx-1"), 0, BUDGET).await;
    assert!(
        matches!(outcome, Delivered::Refused { status: 404, .. }),
        "{outcome:?}"
    );
    assert_eq!(w.store.get_pending("swyx-1").await.unwrap(), None);
    let metrics = w.metrics.render().unwrap();
    assert!(
        metrics.contains(r#"presence_bridge_connector_anomalies_total{kind="update_refused"} 1"#),
        "{metrics}"
    );

    w.passes_during(Duration::from_secs(60 * 60)).await;
    assert_eq!(w.connector.attempted(), ["swyx-1"], "never sent again");

    let next = SwyxUpdate {
        revision: 2,
        ..w.update("swyx-1")
    };
    let delivered = w.delivery().deliver(&next, 0, BUDGET).await;
    assert!(matches!(delivered, Delivered::Now), "{delivered:?}");
    assert_eq!(w.connector.received(), [next]);
}

/// A 503 with `Retry-After: 120`: no PUT of that update before 120 s have passed, not by a
/// maintenance probe, nor when another update gets through and the connector counts as back.
#[tokio::test]
async fn no_update_is_sent_again_before_the_connectors_retry_after() {
    let w = World::new();
    w.connector.answer_next(Scripted::Unavailable {
        retry_after: Some(Duration::from_secs(120)),
    });
    w.connector
        .answer_next(Scripted::Unavailable { retry_after: None });
    w.fail_to_deliver(&["swyx-1", "swyx-2"]).await;

    // 60 s: swyx-2 is due and taken, so every other update backing off would be made due.
    w.passes_during(MAINTENANCE_INTERVAL).await;
    assert_eq!(w.delivered_users(), ["swyx-2"]);
    w.time.advance(Duration::from_secs(59));
    deliver_pending(w.delivery(), BUDGET).await.unwrap();
    let tries = |user: &str| {
        w.connector
            .attempted()
            .iter()
            .filter(|u| *u == user)
            .count()
    };
    assert_eq!(tries("swyx-1"), 1, "nothing before 120 s");

    w.time.advance(Duration::from_secs(1));
    deliver_pending(w.delivery(), BUDGET).await.unwrap();
    assert_eq!(tries("swyx-1"), 2);
    assert_eq!(w.delivered_users(), ["swyx-1", "swyx-2"]);
}

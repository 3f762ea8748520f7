//! Teams → Swyx decisions as a user notices them, on the memory store and a fake connector and
//! Graph: which presences reach Swyx, what waits and comes later, what is never echoed.

use super::decide::{Judge, Observed, observe};
use super::deliver::{Delivered, Delivery};
use super::redeliver::deliver_pending;
use crate::domain::{
    CallEvent, Clock, GraphOp, GraphOutcome, MappingRules, Observation, SpeakingSettings,
    SpeakingState, SwyxAction, SwyxStatus, TeamsPresence, Timestamp,
};
use crate::fakes::{FakeConnector, ManualClock, T0};
use crate::store::{
    MemoryStore, PendingStore, SpeakingStore, SyncStateStore, UserLink, UserLinkStore,
};
use std::time::Duration;

const BUDGET: Duration = Duration::from_secs(2);

#[path = "backlog_tests.rs"]
mod backlog;
#[path = "repair_tests.rs"]
mod repair;

struct World {
    store: MemoryStore,
    connector: FakeConnector,
    rules: MappingRules,
    time: ManualClock,
    clock: Clock,
    metrics: crate::metrics::Metrics,
}

impl World {
    async fn new(users: &[(&str, &str)]) -> Self {
        let store = MemoryStore::new();
        for (entra_id, swyx_user_id) in users {
            store
                .put_user(&UserLink {
                    entra_id: entra_id.to_string(),
                    swyx_user_id: swyx_user_id.to_string(),
                    email: String::new(),
                    groups: Vec::new(),
                })
                .await
                .unwrap();
        }
        let time = ManualClock::default();
        Self {
            store,
            connector: FakeConnector::default(),
            rules: MappingRules::default(),
            clock: time.clock(),
            time,
            metrics: Default::default(),
        }
    }

    /// Judged without the echo guard (Swyx → Teams not running).
    fn judge(&self) -> Judge<'_> {
        Judge {
            rules: &self.rules,
            overrides: &[],
            own_sessions: None,
            directions: Default::default(),
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

    async fn observe(&self, judge: Judge<'_>, entra_id: &str, obs: Observation) -> Observed {
        observe(&self.store, judge, entra_id, &obs).await.unwrap()
    }
}

fn seen(availability: &str, activity: &str, sequence: u32) -> Observation {
    let mut presence = TeamsPresence::new(availability, activity);
    presence.sequence_number = Some(format!("{sequence:05}"));
    Observation {
        presence,
        received_at: Timestamp(T0 + i64::from(sequence)),
    }
}

fn action(observed: &Observed) -> Option<SwyxAction> {
    match observed {
        Observed::Forward(update) => Some(update.action),
        _ => None,
    }
}

#[tokio::test]
async fn a_newer_presence_is_forwarded_a_stale_or_unchanged_one_is_not() {
    let w = World::new(&[("alice", "swyx-1")]).await;
    let busy = w.observe(w.judge(), "alice", seen("Busy", "Busy", 2)).await;
    assert_eq!(action(&busy), Some(SwyxAction::Set(SwyxStatus::Away)));
    let Observed::Forward(update) = &busy else {
        unreachable!()
    };
    assert_eq!(
        (update.swyx_user_id.as_str(), update.entra_id.as_str()),
        ("swyx-1", "alice")
    );

    // Graph retried an older presence after the newer one: not applied.
    let late = w
        .observe(w.judge(), "alice", seen("Available", "Available", 1))
        .await;
    assert_eq!(late, Observed::Stale);
    // In a meeting maps to Away as well: recorded, nothing for Swyx.
    let meeting = w
        .observe(w.judge(), "alice", seen("Busy", "InAMeeting", 3))
        .await;
    assert_eq!(meeting, Observed::Recorded);
    let dnd = w
        .observe(w.judge(), "alice", seen("DoNotDisturb", "Presenting", 4))
        .await;
    assert_eq!(action(&dnd), Some(SwyxAction::Set(SwyxStatus::Speaking)));
    // Offline: the bridge withdraws what it had set.
    let offline = w
        .observe(w.judge(), "alice", seen("Offline", "Offline", 5))
        .await;
    assert_eq!(action(&offline), Some(SwyxAction::Withdraw));

    let stored = w.store.get_sync_state("alice").await.unwrap().unwrap();
    assert_eq!(stored.last_sequence.as_deref(), Some("00005"));
    assert_eq!(stored.teams_status, None);
}

#[tokio::test]
async fn a_presence_of_a_user_who_is_not_linked_changes_nothing() {
    let w = World::new(&[("alice", "swyx-1")]).await;
    let out = w
        .observe(w.judge(), "mallory", seen("Busy", "Busy", 1))
        .await;
    assert_eq!(out, Observed::UnlinkedUser);
    assert_eq!(w.store.get_sync_state("mallory").await.unwrap(), None);
}

#[tokio::test]
async fn a_failed_send_stays_pending_and_is_redelivered_once_the_connector_is_back() {
    let w = World::new(&[("alice", "swyx-1")]).await;
    let Observed::Forward(update) = w.observe(w.judge(), "alice", seen("Busy", "Busy", 1)).await
    else {
        panic!("a first presence is forwarded");
    };
    w.connector.set_down(true);
    let outcome = w.delivery().deliver(&update, 0, BUDGET).await;
    assert!(matches!(outcome, Delivered::Pending { .. }), "{outcome:?}");
    let pending = w.store.get_pending("swyx-1").await.unwrap().unwrap();
    assert_eq!((pending.update, pending.attempts), (update.clone(), 1));

    // Maintenance before the backoff is over tries it once early (is the connector back?); it
    // is not, and the update waits longer.
    let early = deliver_pending(w.delivery(), BUDGET).await.unwrap();
    assert_eq!((early.delivered, early.still_pending), (0, 1));
    let waiting = w.store.get_pending("swyx-1").await.unwrap().unwrap();
    assert_eq!(waiting.attempts, 2);
    assert!(w.connector.received().is_empty());

    w.connector.set_down(false);
    w.time.advance(Duration::from_secs(1));
    let summary = deliver_pending(w.delivery(), BUDGET).await.unwrap();
    assert_eq!(summary.delivered, 1);
    assert_eq!(w.connector.received(), vec![update]);
    assert_eq!(w.store.count_pending().await.unwrap(), 0);
}

#[tokio::test]
async fn a_pending_update_is_replaced_by_a_newer_one_and_only_the_newest_is_sent() {
    let w = World::new(&[("alice", "swyx-1")]).await;
    w.connector.set_down(true);
    for (availability, activity, sequence) in [("Busy", "Busy", 1), ("Available", "Available", 2)] {
        let Observed::Forward(update) = w
            .observe(w.judge(), "alice", seen(availability, activity, sequence))
            .await
        else {
            panic!("each presence changes the Swyx status");
        };
        w.delivery().deliver(&update, 0, BUDGET).await;
    }
    w.connector.set_down(false);
    w.time.advance(Duration::from_secs(5));
    deliver_pending(w.delivery(), BUDGET).await.unwrap();
    let sent = w.connector.received();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].action, SwyxAction::Set(SwyxStatus::Available));
}

#[tokio::test]
async fn our_own_in_a_call_is_not_echoed_to_swyx_a_real_one_after_the_call_is() {
    let w = World::new(&[("alice", "swyx-1")]).await;
    let echo_guard = Judge {
        own_sessions: Some(&w.clock),
        ..w.judge()
    };
    let available = w
        .observe(echo_guard, "alice", seen("Available", "Available", 1))
        .await;
    assert_eq!(
        action(&available),
        Some(SwyxAction::Set(SwyxStatus::Available))
    );

    // Alice speaks on Swyx; the bridge's session makes Teams show Busy/InACall.
    let settings = SpeakingSettings::default();
    let now = w.clock.now();
    let in_call = SpeakingState::default()
        .apply_event(CallEvent::Started, "call-1", now, now, &settings)
        .unwrap();
    w.store.put_speaking("alice", &in_call, 0).await.unwrap();
    let echo = w
        .observe(echo_guard, "alice", seen("Busy", "InACall", 2))
        .await;
    assert_eq!(echo, Observed::Recorded, "Swyx keeps the status it has");

    // The call ended and the bridge cleared its session: within the echo window a late InACall
    // is still taken as the cleared session's; after it, an InACall is her own Teams call.
    let cleared = in_call
        .apply_event(CallEvent::Ended, "call-1", now, now, &settings)
        .unwrap()
        .after_graph(GraphOp::Clear, &GraphOutcome::Done, now, &settings);
    w.store
        .put_speaking("alice", &cleared, in_call.revision)
        .await
        .unwrap();
    let late_echo = w
        .observe(echo_guard, "alice", seen("Busy", "InAConferenceCall", 3))
        .await;
    assert_eq!(late_echo, Observed::Recorded);
    w.time
        .advance(Duration::from_millis(crate::domain::ECHO_WINDOW_MS as u64));
    let teams_call = w
        .observe(echo_guard, "alice", seen("Busy", "InACall", 4))
        .await;
    assert_eq!(
        action(&teams_call),
        Some(SwyxAction::Set(SwyxStatus::Speaking))
    );
}

/// The graph-webhook Lambda runs no Swyx → Teams itself (`swyx_to_teams` is `None` there), yet
/// the sessions the other functions set are in the store: their echo must still be held.
#[tokio::test]
async fn a_process_without_swyx_to_teams_still_holds_the_sessions_echo() {
    use crate::fakes::app;
    use std::sync::Arc;
    let store = Arc::new(MemoryStore::new());
    store
        .put_user(&UserLink {
            entra_id: "alice".into(),
            swyx_user_id: "swyx-1".into(),
            email: String::new(),
            groups: Vec::new(),
        })
        .await
        .unwrap();
    let time = ManualClock::default();
    let app = app(
        Arc::clone(&store),
        Arc::new(FakeConnector::default()),
        time.clock(),
    );
    assert!(app.swyx_to_teams.is_none());
    let now = app.clock.now();
    let in_call = SpeakingState::default()
        .apply_event(
            CallEvent::Started,
            "c1",
            now,
            now,
            &SpeakingSettings::default(),
        )
        .unwrap();
    store.put_speaking("alice", &in_call, 0).await.unwrap();
    let echo = observe(
        store.as_ref(),
        app.judge(),
        "alice",
        &seen("Busy", "InACall", 1),
    )
    .await
    .unwrap();
    assert!(!matches!(echo, Observed::Forward(_)), "{echo:?}");
}

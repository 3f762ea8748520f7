//! Swyx → Teams as a user notices it, on the memory store and a fake Graph: "In a call" comes
//! with the first call and goes with the last, never sticks, and waits out a Graph outage.

use super::intake::apply;
use super::session::{GraphSync, SwyxToTeams, sync_graph};
use super::upkeep::maintain_speaking;
use crate::domain::timestamp::millis_of;
use crate::domain::{
    CallEvent, DirectionSwitches, Directions, Session, SpeakingSettings, SpeakingState,
};
use crate::fakes::{FakeGraph, GraphCall, tokio_clock};
use crate::store::{
    MemoryStore, SpeakingStore, SwitchStore, UserLink, UserLinkStore, UserSwitches,
};
use crate::swyx::signature::Verifier;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);

struct World {
    store: MemoryStore,
    graph: Arc<FakeGraph>,
    s2t: SwyxToTeams,
}

impl World {
    /// Alice (Entra "alice") linked to Swyx user 1001, nobody in a call.
    async fn new() -> Self {
        Self::with_max_call(240 * MINUTE).await
    }

    async fn with_max_call(max_call: Duration) -> Self {
        let graph = Arc::new(FakeGraph::default());
        let s2t = SwyxToTeams {
            graph: graph.clone(),
            verifier: Verifier::new(Vec::new(), Duration::from_secs(300)),
            settings: SpeakingSettings {
                expiration_ms: 30 * 60_000,
                max_call_ms: millis_of(max_call),
                ..SpeakingSettings::default()
            },
            request_budget: Duration::from_millis(1_500),
            clock: tokio_clock(),
        };
        let store = MemoryStore::new();
        store.put_user(&alice()).await.unwrap();
        Self { store, graph, s2t }
    }

    /// The connector's event as the intake handles it: call set, then Graph.
    async fn event(&self, kind: CallEvent, call_id: &str) -> Option<GraphSync> {
        let at = self.s2t.now();
        let state = apply(&self.store, &self.s2t, "alice", kind, call_id, at)
            .await
            .unwrap()?;
        let budget = self.s2t.request_budget;
        Some(
            sync_graph(&self.s2t, &self.store, "alice", state, budget)
                .await
                .unwrap(),
        )
    }

    async fn state(&self) -> SpeakingState {
        self.store.get_speaking("alice").await.unwrap().unwrap()
    }
}

/// Alice (Entra "alice") linked to Swyx user 1001.
pub(super) fn alice() -> UserLink {
    UserLink {
        entra_id: "alice".into(),
        swyx_user_id: "1001".into(),
        email: String::new(),
        groups: Vec::new(),
    }
}

fn set() -> GraphCall {
    GraphCall::in_a_call("alice")
}

fn clear() -> GraphCall {
    GraphCall::session_cleared("alice")
}

#[tokio::test(start_paused = true)]
async fn the_first_call_sets_in_a_call_and_the_last_end_clears_it() {
    let w = World::new().await;
    assert_eq!(
        w.event(CallEvent::Started, "c1").await,
        Some(GraphSync::InSync)
    );
    assert_eq!(w.graph.calls(), [set()]);
    assert!(matches!(w.state().await.session, Session::Active { .. }));

    // A second call, and a duplicate of the first start: Teams already shows it.
    assert_eq!(
        w.event(CallEvent::Started, "c2").await,
        Some(GraphSync::InSync)
    );
    assert_eq!(w.event(CallEvent::Started, "c1").await, None);
    assert_eq!(
        w.event(CallEvent::Ended, "c1").await,
        Some(GraphSync::InSync)
    );
    assert_eq!(w.graph.calls(), [set()], "still in call c2");

    assert_eq!(
        w.event(CallEvent::Ended, "c2").await,
        Some(GraphSync::InSync)
    );
    assert_eq!(w.graph.calls(), [set(), clear()]);
    let state = w.state().await;
    assert_eq!((state.session, state.calls.len()), (Session::None, 0));
}

#[tokio::test(start_paused = true)]
async fn a_set_presence_graph_refuses_is_sent_once_per_call() {
    let w = World::new().await;
    w.graph.refuse_sessions.store(true, Ordering::SeqCst);
    w.event(CallEvent::Started, "c1").await;
    // Maintenance all through the call: the refusal is final for it.
    for _ in 0..10 {
        tokio::time::advance(5 * MINUTE).await;
        maintain_speaking(&w.s2t, &w.store, Directions::default(), MINUTE)
            .await
            .unwrap();
    }
    assert_eq!(w.graph.calls(), [set()]);
    assert_eq!(w.state().await.retry, None);
    // The next call tries again.
    w.event(CallEvent::Ended, "c1").await;
    w.event(CallEvent::Started, "c2").await;
    let sets = w.graph.calls().iter().filter(|c| **c == set()).count();
    assert_eq!(sets, 2, "{:?}", w.graph.calls());
}

#[tokio::test(start_paused = true)]
async fn an_end_that_overtakes_its_start_leaves_teams_alone() {
    let w = World::new().await;
    w.event(CallEvent::Ended, "c1").await;
    assert_eq!(w.event(CallEvent::Started, "c1").await, None);
    assert!(w.graph.calls().is_empty(), "{:?}", w.graph.calls());
}

#[tokio::test(start_paused = true)]
async fn a_call_that_never_ends_is_dropped_and_in_a_call_cleared() {
    let w = World::with_max_call(10 * MINUTE).await;
    w.event(CallEvent::Started, "c1").await;
    tokio::time::advance(11 * MINUTE).await;
    let summary = maintain_speaking(&w.s2t, &w.store, Directions::default(), MINUTE)
        .await
        .unwrap();
    assert_eq!((summary.overlong_calls, summary.synced), (1, 1));
    assert_eq!(w.graph.calls(), [set(), clear()]);
    assert!(w.state().await.calls.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_session_is_renewed_while_the_call_lasts() {
    let w = World::new().await;
    w.event(CallEvent::Started, "c1").await;
    // Half the session's life (30 minutes) left: maintenance renews it.
    tokio::time::advance(16 * MINUTE).await;
    let summary = maintain_speaking(&w.s2t, &w.store, Directions::default(), MINUTE)
        .await
        .unwrap();
    assert_eq!(summary.synced, 1);
    assert_eq!(w.graph.calls(), [set(), set()]);
}

#[tokio::test(start_paused = true)]
async fn a_clear_graph_refused_waits_and_is_sent_once_graph_answers() {
    let w = World::new().await;
    w.event(CallEvent::Started, "c1").await;
    w.graph.slow_sessions.store(true, Ordering::SeqCst);
    assert!(matches!(
        w.event(CallEvent::Ended, "c1").await,
        Some(GraphSync::Pending(_))
    ));
    // Graph is back; maintenance retries when the backoff is over.
    w.graph.slow_sessions.store(false, Ordering::SeqCst);
    tokio::time::advance(MINUTE).await;
    let summary = maintain_speaking(&w.s2t, &w.store, Directions::default(), MINUTE)
        .await
        .unwrap();
    assert_eq!((summary.synced, summary.still_pending), (1, 0));
    assert_eq!(w.graph.calls(), [set(), clear(), clear()]);
    assert_eq!(w.state().await.session, Session::None);
}

/// Alice in a call with "In a call" set in Teams.
async fn alice_in_a_call(w: &World) {
    w.event(CallEvent::Started, "c1").await;
    assert_eq!(w.graph.calls(), [set()]);
}

#[tokio::test(start_paused = true)]
async fn swyx_to_teams_switched_off_in_the_configuration_clears_in_a_call_at_the_next_pass() {
    let w = World::new().await;
    alice_in_a_call(&w).await;
    // The session has most of its life left: nothing else would make maintenance look at her.
    tokio::time::advance(MINUTE).await;
    let off = Directions {
        swyx_to_teams: false,
        ..Directions::default()
    };
    let summary = maintain_speaking(&w.s2t, &w.store, off, MINUTE)
        .await
        .unwrap();
    assert_eq!((summary.switched_off, summary.synced), (1, 1));
    assert_eq!(w.graph.calls(), [set(), clear()]);
    assert!(w.state().await.calls.is_empty());
    let again = maintain_speaking(&w.s2t, &w.store, off, MINUTE)
        .await
        .unwrap();
    assert_eq!(again.switched_off, 0);
    assert_eq!(w.graph.calls(), [set(), clear()], "cleared once");
}

#[tokio::test(start_paused = true)]
async fn a_users_own_switch_off_clears_their_in_a_call_and_on_leaves_it() {
    let w = World::new().await;
    alice_in_a_call(&w).await;
    tokio::time::advance(MINUTE).await;
    let all_on = Directions::default();
    let summary = maintain_speaking(&w.s2t, &w.store, all_on, MINUTE)
        .await
        .unwrap();
    assert_eq!(summary.switched_off, 0);
    assert_eq!(w.graph.calls(), [set()], "not due, not switched off");

    let own = UserSwitches {
        swyx_user_id: "1001".into(),
        switches: DirectionSwitches {
            swyx_to_teams: Some(false),
            ..DirectionSwitches::default()
        },
    };
    w.store.put_switches(&own).await.unwrap();
    let summary = maintain_speaking(&w.s2t, &w.store, all_on, MINUTE)
        .await
        .unwrap();
    assert_eq!(summary.switched_off, 1);
    assert_eq!(w.graph.calls(), [set(), clear()]);
}

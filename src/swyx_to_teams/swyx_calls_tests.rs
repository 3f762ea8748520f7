//! Swyx's call state repairs lost call events, as a user notices it in Teams: a lost end no
//! longer keeps "In a call" up, a lost start still shows it, an event that arrives while the
//! connector is asked is not undone, and nothing changes where Swyx → Teams must not act.

use super::intake::apply;
use super::session::{SwyxToTeams, sync_graph};
use super::swyx_calls::{CallTruthSummary, repair_calls};
use crate::domain::{CallEvent, DirectionSwitches, Directions, SpeakingSettings};
use crate::fakes::{FakeConnector, FakeGraph, GraphCall, tokio_clock};
use crate::metrics::Metrics;
use crate::store::{MemoryStore, SqliteStore, Store, SwitchStore, UserSwitches};
use crate::swyx::signature::Verifier;
use std::sync::Arc;
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);

struct World<S> {
    store: Arc<S>,
    graph: Arc<FakeGraph>,
    connector: Arc<FakeConnector>,
    metrics: Metrics,
    s2t: SwyxToTeams,
}

impl<S: Store + 'static> World<S> {
    /// Alice (Entra "alice") linked to Swyx user 1001, nobody in a call.
    async fn new(store: S) -> Self {
        let graph = Arc::new(FakeGraph::default());
        let s2t = SwyxToTeams {
            graph: graph.clone(),
            verifier: Verifier::new(Vec::new(), Duration::from_secs(300)),
            settings: SpeakingSettings {
                expiration_ms: 30 * 60_000,
                ..SpeakingSettings::default()
            },
            request_budget: Duration::from_millis(1_500),
            clock: tokio_clock(),
        };
        store.put_user(&super::tests::alice()).await.unwrap();
        Self {
            store: Arc::new(store),
            graph,
            connector: Arc::new(FakeConnector::default()),
            metrics: Metrics::default(),
            s2t,
        }
    }

    /// A call event the connector delivered, as the intake handles it.
    async fn event(&self, kind: CallEvent, call_id: &str) {
        let at = self.s2t.now();
        let store = self.store.as_ref();
        if let Some(state) = apply(store, &self.s2t, "alice", kind, call_id, at)
            .await
            .unwrap()
        {
            sync_graph(&self.s2t, store, "alice", state, MINUTE)
                .await
                .unwrap();
        }
    }

    /// One maintenance pass's comparison with Swyx, a minute after the last.
    async fn pass(&self, directions: Directions) -> CallTruthSummary {
        tokio::time::advance(MINUTE).await;
        let (store, connector) = (self.store.as_ref(), self.connector.as_ref());
        repair_calls(
            &self.s2t,
            store,
            connector,
            directions,
            &self.metrics,
            MINUTE,
        )
        .await
        .unwrap()
    }

    async fn calls(&self) -> Vec<String> {
        let state = self.store.get_speaking("alice").await.unwrap();
        state.map_or_else(Vec::new, |s| s.calls.into_keys().collect())
    }
}

fn set() -> GraphCall {
    GraphCall::in_a_call("alice")
}

fn clear() -> GraphCall {
    GraphCall::session_cleared("alice")
}

async fn a_lost_end_clears_in_a_call_at_the_next_pass<S: Store + 'static>(store: S) {
    let w = World::new(store).await;
    w.event(CallEvent::Started, "c1").await;
    w.connector.speaking("1001", &["c1"]);
    assert_eq!(w.pass(Directions::default()).await.ended, 0);
    assert_eq!(w.graph.calls(), [set()], "Swyx agrees: nothing to repair");

    // The call ends in Swyx; the connector gives up on `speaking.ended`.
    w.connector.speaking("1001", &[]);
    let summary = w.pass(Directions::default()).await;
    assert_eq!((summary.ended, summary.started), (1, 0));
    assert_eq!(w.graph.calls(), [set(), clear()], "\"In a call\" cleared");
    assert!(w.calls().await.is_empty());
    assert!(
        w.metrics
            .render()
            .unwrap()
            .contains("presence_bridge_calls_repaired_total{kind=\"ended\"} 1")
    );
    // The late end, if it comes after all, changes nothing; nor does the next pass.
    w.event(CallEvent::Ended, "c1").await;
    assert_eq!(
        w.pass(Directions::default()).await,
        CallTruthSummary {
            compared: true,
            ..CallTruthSummary::default()
        }
    );
    assert_eq!(w.graph.calls(), [set(), clear()]);
}

#[tokio::test(start_paused = true)]
async fn a_lost_end_clears_in_a_call_at_the_next_pass_on_memory() {
    a_lost_end_clears_in_a_call_at_the_next_pass(MemoryStore::new()).await;
}

#[tokio::test(start_paused = true)]
async fn a_lost_end_clears_in_a_call_at_the_next_pass_on_sqlite() {
    a_lost_end_clears_in_a_call_at_the_next_pass(SqliteStore::open_in_memory().unwrap()).await;
}

#[tokio::test(start_paused = true)]
async fn a_lost_start_shows_in_a_call_at_the_next_pass_and_its_end_clears_it() {
    let w = World::new(SqliteStore::open_in_memory().unwrap()).await;
    w.connector.speaking("1001", &["c1"]);
    let summary = w.pass(Directions::default()).await;
    assert_eq!((summary.ended, summary.started), (0, 1));
    assert_eq!(w.graph.calls(), [set()], "\"In a call\" shown");
    assert_eq!(w.calls().await, ["c1"]);
    // The late start changes nothing; the end arrives as an event and clears it once.
    w.event(CallEvent::Started, "c1").await;
    w.event(CallEvent::Ended, "c1").await;
    w.connector.speaking("1001", &[]);
    w.pass(Directions::default()).await;
    assert_eq!(w.graph.calls(), [set(), clear()]);
}

#[tokio::test(start_paused = true)]
async fn an_event_that_arrives_while_swyx_is_asked_is_not_undone() {
    let w = Arc::new(World::new(MemoryStore::new()).await);
    w.connector.speaking("1001", &[]);
    let (asked, release) = w.connector.pause_calls_answer();
    let pass = tokio::spawn({
        let w = Arc::clone(&w);
        async move { w.pass(Directions::default()).await }
    });
    asked.await.unwrap();
    // Swyx answered "nobody speaks"; then the call starts and its event arrives.
    w.event(CallEvent::Started, "c1").await;
    release.send(()).unwrap();
    let summary = pass.await.unwrap();
    assert_eq!((summary.ended, summary.started), (0, 0));
    assert_eq!(w.graph.calls(), [set()], "\"In a call\" stays");
    assert_eq!(w.calls().await, ["c1"]);
    // The next pass asks again and Swyx lists the call.
    w.connector.speaking("1001", &["c1"]);
    assert_eq!(w.pass(Directions::default()).await.ended, 0);
    assert_eq!(w.graph.calls(), [set()]);
}

#[tokio::test(start_paused = true)]
async fn a_connector_without_call_state_changes_nothing() {
    let w = World::new(MemoryStore::new()).await;
    w.event(CallEvent::Started, "c1").await;
    // A 1.1 connector: never told to report calls.
    let summary = w.pass(Directions::default()).await;
    assert_eq!(summary, CallTruthSummary::default());
    assert_eq!(w.graph.calls(), [set()]);
    assert_eq!(w.calls().await, ["c1"]);
}

#[tokio::test(start_paused = true)]
async fn nothing_is_set_for_a_user_switched_off_or_not_linked() {
    let w = World::new(MemoryStore::new()).await;
    let own = UserSwitches {
        swyx_user_id: "1001".into(),
        switches: DirectionSwitches {
            swyx_to_teams: Some(false),
            ..DirectionSwitches::default()
        },
    };
    w.store.put_switches(&own).await.unwrap();
    w.connector.speaking("1001", &["c1"]);
    w.connector.speaking("9999", &["c9"]);
    assert_eq!(w.pass(Directions::default()).await.started, 0);
    let everyone_off = Directions {
        swyx_to_teams: false,
        ..Directions::default()
    };
    w.store
        .put_switches(&UserSwitches {
            swyx_user_id: "1001".into(),
            switches: DirectionSwitches::default(),
        })
        .await
        .unwrap();
    assert_eq!(w.pass(everyone_off).await.started, 0);
    assert!(w.graph.calls().is_empty(), "{:?}", w.graph.calls());
    assert!(w.calls().await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_connector_down_is_reported_and_changes_nothing() {
    let w = World::new(MemoryStore::new()).await;
    w.event(CallEvent::Started, "c1").await;
    w.connector.speaking("1001", &[]);
    w.connector.set_down(true);
    let summary = w.pass(Directions::default()).await;
    assert!(summary.unreadable);
    assert_eq!(w.graph.calls(), [set()]);
}

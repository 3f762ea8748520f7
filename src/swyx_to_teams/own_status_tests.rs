//! A status set in SwyxIt! on its way to Teams (`status.changed` → preferred presence) as a user
//! notices it, on the memory store and a fake Graph: the bridge clears a preferred presence it
//! set, and only one it set, whatever order its steps and the user's changes come in.

use super::own_status::{OwnStatusEvent, handle};
use super::ports::PresenceSession;
use super::session::SwyxToTeams;
use super::tests::alice;
use super::upkeep::maintain_speaking;
use crate::app::App;
use crate::domain::own_status::{
    OwnSwyxStatus, PREFERRED_MAX_LIFE_MS, PreferredMark, PreferredRetry,
};
use crate::domain::{Directions, SpeakingSettings, SpeakingState, Timestamp};
use crate::fakes::{self, FakeConnector, FakeGraph, GraphCall, tokio_clock};
use crate::store::{IdempotencyStore, MemoryStore, SpeakingStore, UserLinkStore};
use crate::swyx::signature::Verifier;
use crate::swyx::wire::{OwnStatus, StatusOrigin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The claim in which older versions kept the mark that the bridge set Alice's preferred presence.
const OLD_CLAIM: &str = "preferred-set:1001";

struct World {
    store: Arc<MemoryStore>,
    graph: Arc<FakeGraph>,
    app: App,
    s2t: SwyxToTeams,
    sent: AtomicUsize,
}

impl World {
    /// Alice (Entra "alice") linked to Swyx user 1001, her Swyx status → Teams switched on.
    async fn new() -> Self {
        let graph = Arc::new(FakeGraph::default());
        let clock = tokio_clock();
        let s2t = SwyxToTeams {
            graph: graph.clone(),
            verifier: Verifier::new(Vec::new(), Duration::from_secs(300)),
            settings: SpeakingSettings::default(),
            request_budget: Duration::from_millis(1_500),
            clock: clock.clone(),
        };
        let store = Arc::new(MemoryStore::new());
        store.put_user(&alice()).await.unwrap();
        let mut app = fakes::app(store.clone(), Arc::new(FakeConnector::default()), clock);
        app.directions = Directions {
            swyx_status_to_teams: true,
            ..Directions::default()
        };
        Self {
            store,
            graph,
            app,
            s2t,
            sent: AtomicUsize::new(0),
        }
    }

    /// Alice sets `status` by hand in SwyxIt! and the connector sends it (a webhook-id of its
    /// own); what the bridge answered (`applied`, `ignored`).
    async fn by_hand(&self, status: OwnStatus) -> String {
        self.by_hand_at(status, self.s2t.now()).await
    }

    /// [`Self::by_hand`] for a change Alice made at `at` (the event's `at`).
    async fn by_hand_at(&self, status: OwnStatus, at: Timestamp) -> String {
        let webhook_id = format!("msg_{}", self.sent.fetch_add(1, Ordering::SeqCst));
        let event = OwnStatusEvent {
            swyx_user_id: "1001",
            webhook_id: &webhook_id,
            status,
            origin: StatusOrigin::User,
            at,
        };
        let answer = handle(&self.app, &self.s2t, event, None, Instant::now()).await;
        assert_eq!(answer.status(), 200);
        let body: serde_json::Value = serde_json::from_slice(answer.body()).unwrap();
        body["status"].as_str().unwrap().to_string()
    }

    /// The preferred presence Teams has for Alice from the bridge.
    fn preferred(&self) -> Option<String> {
        self.graph.preferred("alice")
    }

    /// What an older version, which kept the bridge's mark as a claim, leaves behind when it
    /// set Alice's "Do not disturb" in Teams: the DND, the claim, and her state with `preferred`
    /// (the change it still had to send, if any) and no mark of its own.
    async fn dnd_set_before_the_upgrade(&self, preferred: Option<PreferredRetry>) {
        let budget = self.s2t.request_budget;
        let dnd = "DoNotDisturb";
        self.graph
            .set_preferred("alice", dnd, dnd, budget)
            .await
            .unwrap();
        let now = self.s2t.now();
        let until = now.plus_millis(PREFERRED_MAX_LIFE_MS);
        let claimed = self.store.claim_once(OLD_CLAIM, until, now).await;
        assert!(claimed.unwrap());
        let state = SpeakingState::default().with_preferred(
            preferred,
            PreferredMark::OldClaim,
            now,
            &self.s2t.settings,
        );
        self.store.put_speaking("alice", &state, 0).await.unwrap();
    }

    async fn old_claim_held(&self) -> bool {
        let now = self.s2t.now();
        self.store.is_claimed(OLD_CLAIM, now).await.unwrap()
    }

    fn clears(&self) -> usize {
        let clear = GraphCall::ClearPreferred {
            user: "alice".into(),
        };
        self.graph.calls().iter().filter(|c| **c == clear).count()
    }
}

/// The contract promises no order of delivery: Alice's changes reach the bridge in another
/// order than she made them (a retry after a failed attempt, a connector sending in parallel).
/// The newest by `at` wins; an older one that arrives later changes nothing in Teams.
#[tokio::test(start_paused = true)]
async fn a_status_change_older_than_one_acted_on_is_ignored() {
    let w = World::new().await;
    let now = w.s2t.now();
    let ago = |secs: i64| now.plus_millis(-secs * 1_000);
    assert_eq!(
        w.by_hand_at(OwnStatus::DoNotDisturb, ago(30)).await,
        "applied"
    );
    assert_eq!(w.preferred().as_deref(), Some("DoNotDisturb"));
    // DND (30 s ago), Away (20 s ago), Available (10 s ago): Available comes before Away.
    assert_eq!(w.by_hand_at(OwnStatus::Available, ago(10)).await, "applied");
    assert_eq!(w.preferred(), None);
    assert_eq!(w.by_hand_at(OwnStatus::Away, ago(20)).await, "ignored");
    assert_eq!(
        w.preferred(),
        None,
        "the late Away must not outrank Available"
    );
    // Nothing of the bridge's was set: a clear stores nothing to send, yet its time counts.
    assert_eq!(w.by_hand_at(OwnStatus::Available, ago(5)).await, "ignored");
    assert_eq!(
        w.by_hand_at(OwnStatus::DoNotDisturb, ago(8)).await,
        "ignored"
    );
    assert_eq!(w.preferred(), None);
    // A newer change is acted on as ever.
    assert_eq!(w.by_hand_at(OwnStatus::Away, ago(1)).await, "applied");
    assert_eq!(w.preferred().as_deref(), Some("Away"));
}

/// "Available" is through at Graph and recorded (its change dropped) at the very moment Alice
/// sets "Do not disturb" again: the newer DND's mark survives the clear's last steps, so her
/// next "Available" clears it instead of leaving it in Teams until Graph's own expiry.
#[tokio::test(start_paused = true)]
async fn a_clear_finishing_as_a_newer_dnd_is_set_leaves_that_dnd_for_the_next_available() {
    let w = World::new().await;
    assert_eq!(w.by_hand(OwnStatus::DoNotDisturb).await, "applied");
    assert_eq!(w.preferred().as_deref(), Some("DoNotDisturb"));

    // The clear's writer stops right after it recorded that Graph took it; the new DND comes
    // in whole meanwhile, then the clear goes on.
    let (recorded, go_on) = w
        .store
        .hold_after_speaking_write("alice", |s| s.preferred.is_none());
    let available = w.by_hand(OwnStatus::Available);
    let dnd_meanwhile = async {
        recorded.await.unwrap();
        let answer = w.by_hand(OwnStatus::DoNotDisturb).await;
        go_on.send(()).unwrap();
        answer
    };
    let (available, dnd) = tokio::join!(available, dnd_meanwhile);
    assert_eq!((available.as_str(), dnd.as_str()), ("applied", "applied"));
    assert_eq!(w.preferred().as_deref(), Some("DoNotDisturb"));
    assert_eq!(w.clears(), 1);

    assert_eq!(w.by_hand(OwnStatus::Available).await, "applied");
    assert_eq!(w.preferred(), None, "the DND the bridge set is cleared");
    assert_eq!(w.clears(), 2);
}

/// After an upgrade, a "Do not disturb" the older version set (its mark a claim, up to 7 days)
/// is still the bridge's to clear: "Available" clears it, the mark moves into Alice's state and
/// the claim goes, so there is nothing of the bridge's left to clear after that.
#[tokio::test(start_paused = true)]
async fn a_dnd_set_before_the_upgrade_is_still_cleared_by_available() {
    let w = World::new().await;
    w.dnd_set_before_the_upgrade(None).await;

    assert_eq!(w.by_hand(OwnStatus::Available).await, "applied");
    assert_eq!(w.preferred(), None, "the older version's DND is cleared");
    assert!(!w.old_claim_held().await, "the state's own mark took over");
    assert_eq!(w.by_hand(OwnStatus::Available).await, "ignored");
    assert_eq!(w.clears(), 1);
}

/// After an upgrade, an "Available" the older version kept for retry (Graph was down) is sent
/// by maintenance while the older version's claim says the DND is the bridge's.
#[tokio::test(start_paused = true)]
async fn a_clear_kept_for_retry_before_the_upgrade_is_sent_by_maintenance() {
    let w = World::new().await;
    let now = w.s2t.now();
    let available = OwnSwyxStatus::Available;
    let kept = PreferredRetry::failed(None, "1001", available, now, None, "503".into());
    w.dnd_set_before_the_upgrade(Some(kept)).await;

    tokio::time::advance(Duration::from_secs(60)).await;
    let budget = Duration::from_secs(60);
    maintain_speaking(&w.s2t, w.store.as_ref(), w.app.directions, budget)
        .await
        .unwrap();
    assert_eq!(w.preferred(), None, "the older version's DND is cleared");
    assert_eq!(w.clears(), 1);
    assert!(!w.old_claim_held().await);
    let state = w.store.get_speaking("alice").await.unwrap().unwrap();
    assert_eq!(state.preferred, None, "nothing left to retry");
}

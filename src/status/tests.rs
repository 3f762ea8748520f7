use super::*;
use crate::domain::{
    CallEvent, PresenceValue, SpeakingSettings, SwyxAction, SwyxUpdate, TeamsPresence,
};
use crate::store::MemoryStore;
use crate::store::prelude::*;

const NOW: Timestamp = Timestamp(1_800_000_000_000);

fn link(entra_id: &str, swyx: &str, email: &str) -> UserLink {
    UserLink {
        entra_id: entra_id.into(),
        swyx_user_id: swyx.into(),
        email: email.into(),
        groups: Vec::new(),
    }
}

/// Alice covered and confirmed, Bob covered with an update the connector keeps refusing and
/// in a Swyx call, Carol linked but in no subscription.
async fn world() -> MemoryStore {
    let store = MemoryStore::new();
    store
        .put_user(&link("alice", "11", "Alice@Example.com"))
        .await
        .unwrap();
    store
        .put_user(&link("bob", "12", "bob@example.com"))
        .await
        .unwrap();
    store
        .put_user(&link("carol", "13", "carol@example.com"))
        .await
        .unwrap();
    let seen = UserSyncState {
        revision: 1,
        last_received_at: Some(NOW),
        last_presence: Some(TeamsPresence::new("Away", "Away")),
        teams_status: Some(SwyxStatus::Away),
        ..Default::default()
    };
    store.put_sync_state("alice", &seen, 0).await.unwrap();
    store.put_sync_state("bob", &seen, 0).await.unwrap();
    let update = SwyxUpdate {
        swyx_user_id: "12".into(),
        entra_id: "bob".into(),
        action: SwyxAction::Set(SwyxStatus::Away),
        revision: 1,
        availability: PresenceValue::new("Away"),
        activity: PresenceValue::new("Away"),
        out_of_office: false,
        observed_at: NOW,
    };
    let refused = PendingDelivery {
        update,
        attempts: 3,
        next_attempt_at: NOW.plus_millis(30_000),
        last_error: Some("connector answered 503".into()),
        rejected: false,
        not_before: None,
    };
    store.put_pending(&refused).await.unwrap();
    let call = SpeakingState::default()
        .apply_event(
            CallEvent::Started,
            "c1",
            NOW,
            NOW,
            &SpeakingSettings::default(),
        )
        .unwrap();
    store.put_speaking("bob", &call, 0).await.unwrap();
    let account = SyncAccount {
        name: "sync1".into(),
        sealed_refresh_token: "sealed".into(),
        version: 1,
        assigned: vec!["alice".into(), "bob".into()],
        covered: vec!["alice".into(), "bob".into()],
        subscription_id: Some("sub-1".into()),
        unconfirmed_client_state: None,
        added_at: NOW,
        reconciled_at: Some(NOW),
        reconcile_requested: false,
        last_error: None,
        graph_backoff: None,
    };
    store.put_account(&account, 0).await.unwrap();
    store
        .put_subscription(&SubscriptionRecord {
            id: "sub-1".into(),
            client_state: "secret-state".into(),
            expires_at: NOW.plus_millis(3_600_000),
            account: Some("sync1".into()),
            resource: String::new(),
            encryption_certificate_id: None,
            renewed_at: None,
        })
        .await
        .unwrap();
    store
}

#[tokio::test]
async fn totals_and_each_users_state_come_from_the_store() {
    let store = world().await;
    let r = read(&store, &Which::All, NOW, Default::default())
        .await
        .unwrap();
    let t = &r.totals;
    assert_eq!((t.linked, t.covered, t.uncovered), (3, 2, 1));
    assert_eq!((t.pending, t.in_a_call, t.failing_accounts), (1, 1, 0));
    let by_id = |id: &str| r.users.iter().find(|u| u.entra_id == id).unwrap();
    let alice = by_id("alice");
    assert!(alice.covered && alice.confirmed);
    assert_eq!(alice.account.as_deref(), Some("sync1"));
    assert_eq!(alice.swyx_status, Some(SwyxStatus::Away));
    let bob = by_id("bob");
    assert!(!bob.confirmed);
    let pending = bob.pending.as_ref().unwrap();
    assert_eq!(
        pending.last_error.as_deref(),
        Some("connector answered 503")
    );
    assert_eq!(bob.calls.active, 1);
    let carol = by_id("carol");
    assert!(!carol.covered && carol.account.is_none() && carol.teams_seen.is_none());
}

#[tokio::test]
async fn one_user_by_email_in_any_case_and_the_json_has_no_secrets() {
    let store = world().await;
    let r = read(
        &store,
        &Which::One("alice@example.COM".into()),
        NOW,
        Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(r.users.len(), 1);
    assert_eq!(r.users[0].swyx_user_id, "11");
    assert_eq!(r.totals.linked, 3, "totals cover everyone");
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains("secret-state") && !json.contains("sealed"));
    let none = read(
        &store,
        &Which::One("nobody".into()),
        NOW,
        Default::default(),
    )
    .await
    .unwrap();
    assert!(none.users.is_empty());
}

#[tokio::test]
async fn an_expired_subscription_leaves_its_users_uncovered() {
    let store = world().await;
    let later = NOW.plus_millis(3_600_001);
    let r = read(&store, &Which::All, later, Default::default())
        .await
        .unwrap();
    assert_eq!(r.totals.covered, 0);
    assert_eq!(r.totals.uncovered, 3);
}

#[tokio::test]
async fn each_user_shows_the_directions_in_effect_and_which_are_their_own() {
    use crate::store::UserSwitches;
    let store = world().await;
    let bob = store.get_user("bob").await.unwrap().unwrap();
    store
        .put_switches(&UserSwitches {
            swyx_user_id: bob.swyx_user_id,
            switches: DirectionSwitches {
                teams_to_swyx: Some(false),
                swyx_status_to_teams: Some(true),
                ..Default::default()
            },
        })
        .await
        .unwrap();
    let global = Directions {
        swyx_to_teams: false,
        ..Directions::default()
    };
    let r = read(&store, &Which::All, NOW, global).await.unwrap();
    let by_id = |id: &str| r.users.iter().find(|u| u.entra_id == id).unwrap();
    let (alice, bob) = (by_id("alice"), by_id("bob"));
    assert_eq!(alice.directions, global);
    assert_eq!(
        directions_text(&alice.directions, &alice.own_switches),
        "Teams → Swyx on, Swyx → Teams off, Swyx DND/Away → Teams off"
    );
    assert_eq!(
        directions_text(&bob.directions, &bob.own_switches),
        "Teams → Swyx off (own), Swyx → Teams off, Swyx DND/Away → Teams on (own)"
    );
    let json = serde_json::to_value(&r).unwrap();
    let bob_json = json["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["entraId"] == "bob")
        .unwrap();
    assert_eq!(bob_json["directions"]["teamsToSwyx"], false);
    assert_eq!(bob_json["ownSwitches"]["teamsToSwyx"], false);
}

//! Each linked user's state at a glance, from the store alone: the link, the last Teams presence
//! seen, the Swyx status the bridge set and whether the connector confirmed it, what is pending
//! with its last error, the call state, the sync account and its subscription's expiry; with
//! totals on top. Reading only the store, it works the same against the DynamoDB table of an AWS
//! deployment and the SQLite file of `serve`, and changes nothing.

use crate::domain::{
    DirectionSwitches, Directions, PresenceValue, Session, SpeakingState, SwyxStatus, Timestamp,
    UserSyncState,
};
use crate::store::{
    PendingDelivery, Store, StoreResult, SubscriptionRecord, SyncAccount, UserLink,
};
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::HashMap;

/// Users read at once (three point reads each).
const READ_CONCURRENCY: usize = 16;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub linked: usize,
    /// Linked users whose sync account has a subscription that has not expired.
    pub covered: usize,
    pub uncovered: usize,
    /// Swyx updates the connector has not confirmed yet.
    pub pending: usize,
    /// Sync accounts whose last attempt failed (sign-in, Graph).
    pub failing_accounts: usize,
    pub in_a_call: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsSeen {
    pub availability: PresenceValue,
    pub activity: PresenceValue,
    pub out_of_office: bool,
    pub at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    pub action: String,
    pub attempts: u32,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Calls {
    pub active: usize,
    /// The bridge's "In a call" session in Teams: `none`, `active`, `unsure`.
    pub teams_session: &'static str,
    pub session_expires_at: Option<Timestamp>,
    /// The Graph call that keeps failing, if any.
    pub graph_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserStatus {
    pub entra_id: String,
    pub swyx_user_id: String,
    pub email: String,
    pub account: Option<String>,
    pub subscription_expires_at: Option<Timestamp>,
    pub covered: bool,
    pub teams_seen: Option<TeamsSeen>,
    /// The Teams-derived status the bridge set on Swyx (or is delivering); `None`: none set.
    pub swyx_status: Option<SwyxStatus>,
    /// The connector took the last update (nothing pending for this user).
    pub confirmed: bool,
    pub pending: Option<Pending>,
    pub calls: Calls,
    /// The directions in effect for the user.
    pub directions: Directions,
    /// The user's own switches (`users set`); unset ones follow the configuration.
    pub own_switches: DirectionSwitches,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountStatus {
    pub name: String,
    pub users: usize,
    pub subscription_id: Option<String>,
    pub expires_at: Option<Timestamp>,
    pub reconciled_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub generated_at: Timestamp,
    pub totals: Totals,
    pub accounts: Vec<AccountStatus>,
    pub users: Vec<UserStatus>,
}

/// Which linked users the report lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    All,
    /// One user by Entra id, Swyx id or e-mail address (case-insensitive).
    One(String),
}

/// Reads the report at `now`; `global` are the configured directions. Totals always cover
/// every linked user.
pub async fn read(
    store: &dyn Store,
    which: &Which,
    now: Timestamp,
    global: Directions,
) -> StoreResult<StatusReport> {
    let links = store.list_users().await?;
    let own: HashMap<String, DirectionSwitches> = store
        .list_switches()
        .await?
        .into_iter()
        .map(|s| (s.swyx_user_id, s.switches))
        .collect();
    let accounts = store.list_accounts().await?;
    let subscriptions: HashMap<String, SubscriptionRecord> = store
        .list_subscriptions()
        .await?
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    let coverage = Coverage::new(&accounts, &subscriptions, now);
    let users: Vec<UserStatus> = futures_util::stream::iter(links)
        .map(|link| {
            let own = own.get(&link.swyx_user_id).copied().unwrap_or_default();
            read_user(store, link, &coverage, (global, own))
        })
        .buffered(READ_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<StoreResult<_>>()?;
    let totals = Totals {
        linked: users.len(),
        covered: users.iter().filter(|u| u.covered).count(),
        uncovered: users.iter().filter(|u| !u.covered).count(),
        pending: store.count_pending().await?,
        failing_accounts: accounts.iter().filter(|a| a.last_error.is_some()).count(),
        in_a_call: users.iter().filter(|u| u.calls.active > 0).count(),
    };
    let accounts = accounts
        .iter()
        .map(|a| AccountStatus {
            name: a.name.clone(),
            users: a.assigned.len(),
            subscription_id: a.subscription_id.clone(),
            expires_at: coverage.expiry(a),
            reconciled_at: a.reconciled_at,
            last_error: a.last_error.clone(),
        })
        .collect();
    let users = match which {
        Which::All => users,
        Which::One(key) => users.into_iter().filter(|u| u.matches(key)).collect(),
    };
    Ok(StatusReport {
        generated_at: now,
        totals,
        accounts,
        users,
    })
}

impl UserStatus {
    fn matches(&self, key: &str) -> bool {
        let key = key.trim();
        [&self.entra_id, &self.swyx_user_id, &self.email]
            .iter()
            .any(|v| !v.is_empty() && v.eq_ignore_ascii_case(key))
    }
}

/// Which account covers whom, and until when.
struct Coverage<'a> {
    by_user: HashMap<&'a str, &'a SyncAccount>,
    subscriptions: &'a HashMap<String, SubscriptionRecord>,
    now: Timestamp,
}

impl<'a> Coverage<'a> {
    fn new(
        accounts: &'a [SyncAccount],
        subscriptions: &'a HashMap<String, SubscriptionRecord>,
        now: Timestamp,
    ) -> Self {
        let by_user = accounts
            .iter()
            .flat_map(|a| a.assigned.iter().map(move |u| (u.as_str(), a)))
            .collect();
        Self {
            by_user,
            subscriptions,
            now,
        }
    }

    fn expiry(&self, account: &SyncAccount) -> Option<Timestamp> {
        let id = account.subscription_id.as_ref()?;
        self.subscriptions.get(id).map(|s| s.expires_at)
    }

    /// The user's account, its subscription's expiry, and whether that subscription covers
    /// the user now.
    fn of(&self, entra_id: &str) -> (Option<String>, Option<Timestamp>, bool) {
        let Some(account) = self.by_user.get(entra_id) else {
            return (None, None, false);
        };
        let expires = self.expiry(account);
        let in_subscription = account.covered.iter().any(|u| u == entra_id);
        let covered = in_subscription && expires.is_some_and(|at| at > self.now);
        (Some(account.name.clone()), expires, covered)
    }
}

async fn read_user(
    store: &dyn Store,
    link: UserLink,
    coverage: &Coverage<'_>,
    (global, own): (Directions, DirectionSwitches),
) -> StoreResult<UserStatus> {
    let (sync, pending, speaking) = tokio::try_join!(
        store.get_sync_state(&link.entra_id),
        store.get_pending(&link.swyx_user_id),
        store.get_speaking(&link.entra_id),
    )?;
    let (account, subscription_expires_at, covered) = coverage.of(&link.entra_id);
    Ok(UserStatus {
        teams_seen: sync.as_ref().and_then(teams_seen),
        swyx_status: sync.as_ref().and_then(|s| s.teams_status),
        confirmed: pending.is_none(),
        pending: pending.map(|p| pending_of(&p)),
        calls: calls_of(speaking.unwrap_or_default()),
        entra_id: link.entra_id,
        swyx_user_id: link.swyx_user_id,
        email: link.email,
        account,
        subscription_expires_at,
        covered,
        directions: global.for_user(&own),
        own_switches: own,
    })
}

/// The directions of a user in words: "Teams → Swyx off (own), Swyx → Teams on, Swyx DND/Away →
/// Teams off" — `(own)` marks a switch of the user's own.
pub fn directions_text(d: &Directions, own: &DirectionSwitches) -> String {
    [
        ("Teams → Swyx", d.teams_to_swyx, own.teams_to_swyx.is_some()),
        ("Swyx → Teams", d.swyx_to_teams, own.swyx_to_teams.is_some()),
        (
            "Swyx DND/Away → Teams",
            d.swyx_status_to_teams,
            own.swyx_status_to_teams.is_some(),
        ),
    ]
    .iter()
    .map(|(name, on, own)| {
        let state = if *on { "on" } else { "off" };
        let whose = if *own { " (own)" } else { "" };
        format!("{name} {state}{whose}")
    })
    .collect::<Vec<_>>()
    .join(", ")
}

fn teams_seen(state: &UserSyncState) -> Option<TeamsSeen> {
    let p = state.last_presence.as_ref()?;
    Some(TeamsSeen {
        availability: p.availability.clone(),
        activity: p.activity.clone(),
        out_of_office: p.out_of_office,
        at: state.last_received_at,
    })
}

fn pending_of(p: &PendingDelivery) -> Pending {
    Pending {
        action: match p.update.action {
            crate::domain::SwyxAction::Set(s) => format!("set {s}"),
            crate::domain::SwyxAction::Withdraw => "withdraw".to_string(),
        },
        attempts: p.attempts,
        next_attempt_at: p.next_attempt_at,
        last_error: p.last_error.clone(),
    }
}

fn calls_of(s: SpeakingState) -> Calls {
    let (teams_session, session_expires_at) = match s.session {
        Session::None => ("none", None),
        Session::Active { expires_at } => ("active", Some(expires_at)),
        Session::Unsure { expires_at } => ("unsure", Some(expires_at)),
    };
    Calls {
        active: s.calls.len(),
        teams_session,
        session_expires_at,
        graph_error: s.retry.and_then(|r| r.last_error),
    }
}

#[cfg(test)]
mod tests {
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
}

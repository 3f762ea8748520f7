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
    /// The Swyx groups the last users sync stored with the link (they pick per-group rules).
    pub groups: Vec<String>,
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
        groups: link.groups,
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
mod tests;

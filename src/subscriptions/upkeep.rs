//! Subscription maintenance, one run: spread the linked users over the sync accounts (at most
//! 650 each, minimal churn), act on waiting lifecycle notifications, then bring every account up
//! to date (see [`account`]) — most urgent first, a few at once, within the run's budget. The
//! summary names the users no account has room for.

pub use super::account_upkeep::{AccountOutcome, Asks};

use super::account_upkeep::Upkeep;
use crate::app::App;
use crate::domain::Timestamp;
use crate::domain::sharding::{AccountLoad, ShardPlan, plan};
use crate::graph::notification::LifecycleEvent;
use crate::store::optimistic::{self, Step};
use crate::store::{
    AccountStore, LifecycleRequest, StoreError, SubscriptionRecord, SubscriptionStore, SyncAccount,
    UserLinkStore,
};
use futures_util::StreamExt;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;
use tokio::time::Instant;

/// Accounts worked on at once (each mostly waits for Graph).
const ACCOUNT_CONCURRENCY: usize = 4;
/// Links read in one page.
const USER_PAGE: usize = 1_000;
/// How many uncovered users a log line names.
const UNCOVERED_SHOWN: usize = 20;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SubscriptionSummary {
    pub accounts: usize,
    pub linked_users: usize,
    /// Linked users no account has room for (all of them, sorted).
    pub uncovered: Vec<String>,
    /// Sync accounts to add so every linked user is covered.
    pub accounts_missing: usize,
    pub created: usize,
    pub recreated: usize,
    pub adopted: usize,
    pub renewed: usize,
    pub certificate_moved: usize,
    /// Presences read by reconciliation, and how many of them needed a repair on Swyx.
    pub reconciled_users: usize,
    pub repaired: usize,
    pub lifecycle_handled: usize,
    /// Accounts whose upkeep failed this run (named in the log and in `accounts list`).
    pub failed_accounts: Vec<String>,
    /// Configured decryption keys that no subscription uses any more (safe to remove).
    pub unused_keys: Vec<String>,
    pub budget_exhausted: bool,
}

/// One subscription-maintenance run within `budget`. Does nothing when subscriptions are not
/// configured.
pub async fn maintain(app: &App, budget: Duration) -> Result<SubscriptionSummary, StoreError> {
    let Some(sa) = app.accounts.as_deref() else {
        return Ok(SubscriptionSummary::default());
    };
    let deadline = Instant::now() + budget;
    let store = app.store.as_ref();
    // Every read the plan and the upkeep start from, at once: on DynamoDB one round trip for
    // the four (and the links' further pages), not four one after the other. Saving the
    // assignments below writes the accounts only.
    let (linked, accounts, subscriptions, requests) = tokio::try_join!(
        linked_users(store),
        store.list_accounts(),
        store.list_subscriptions(),
        store.list_lifecycle_requests(),
    )?;
    let linked_users = linked.len();
    let shards = plan_shards(&accounts, &linked, sa.settings.users_per_account);
    // Neither the linked set nor the plan outlives the accounts' new lists (at 100,000 users
    // they were 16 MB of the pass's peak, heaptrack): the lists move into the accounts.
    drop(linked);
    let accounts_missing = shards.accounts_missing();
    let ShardPlan {
        assigned,
        changed,
        uncovered,
    } = shards;
    let accounts = save_assignments(store, accounts, assigned, &changed).await?;
    let mut summary = SubscriptionSummary {
        accounts: accounts.len(),
        linked_users,
        accounts_missing,
        uncovered,
        ..Default::default()
    };
    if !summary.uncovered.is_empty() {
        let shown: Vec<&String> = summary.uncovered.iter().take(UNCOVERED_SHOWN).collect();
        tracing::warn!(
            uncovered = summary.uncovered.len(),
            accounts_missing = summary.accounts_missing,
            first_uncovered = ?shown,
            "linked users are not covered by any subscription: add sync accounts (`presence-bridge accounts add NAME`)"
        );
    }

    let subscriptions: HashMap<String, SubscriptionRecord> = subscriptions
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    let (asks, handled) = lifecycle_asks(&accounts, &requests);
    let now = sa.now();
    let mut order = accounts;
    // Most urgent first: no subscription, then the soonest expiry.
    order.sort_by_key(|a| {
        a.subscription_id
            .as_ref()
            .and_then(|id| subscriptions.get(id))
            .map_or(i64::MIN, |s| s.expires_at.millis())
    });
    let upkeep = Upkeep { app, sa, deadline };
    let outcomes: Vec<(String, AccountOutcome)> = futures_util::stream::iter(order)
        .map(|acct| {
            let sub = acct
                .subscription_id
                .as_ref()
                .and_then(|id| subscriptions.get(id))
                .cloned();
            let asks = asks.get(&acct.name).copied().unwrap_or_default();
            let upkeep = &upkeep;
            async move {
                if Instant::now() >= upkeep.deadline {
                    let out = AccountOutcome {
                        unfinished: true,
                        ..Default::default()
                    };
                    return (acct.name.clone(), out);
                }
                let name = acct.name.clone();
                (name, upkeep.run(acct, sub, asks).await)
            }
        })
        .buffer_unordered(ACCOUNT_CONCURRENCY)
        .collect()
        .await;
    let mut failed: BTreeSet<String> = BTreeSet::new();
    for (name, out) in &outcomes {
        summary.created += usize::from(out.created);
        summary.recreated += usize::from(out.recreated);
        summary.adopted += usize::from(out.adopted);
        summary.renewed += usize::from(out.renewed);
        summary.certificate_moved += usize::from(out.certificate_moved);
        summary.budget_exhausted |= out.unfinished;
        if let Some(r) = &out.reconciled {
            summary.reconciled_users += r.read;
            summary.repaired += r.repaired;
        }
        if let Some(e) = &out.error {
            failed.insert(name.clone());
            tracing::warn!(account = %name, error = %e, "sync account upkeep failed; retried next run");
        }
    }
    // A lifecycle request is done once its account's upkeep went through.
    for (account, request) in handled {
        let done = outcomes.iter().any(|(n, o)| {
            account.as_deref().is_none_or(|a| a == n) && o.error.is_none() && !o.unfinished
        });
        if done || account.is_none() {
            store
                .delete_lifecycle_request(
                    &request.subscription_id,
                    &request.event,
                    request.received_at,
                )
                .await?;
            summary.lifecycle_handled += 1;
        }
    }
    summary.failed_accounts = failed.into_iter().collect();
    // One read of the subscriptions after upkeep serves both the clean-up and the key report.
    let after = store.list_subscriptions().await?;
    forget_orphans(store, &after, now).await?;
    summary.unused_keys = unused_keys(app, &sa.settings.certificate_id, &after, now);
    tracing::info!(
        accounts = summary.accounts,
        linked_users = summary.linked_users,
        uncovered = summary.uncovered.len(),
        created = summary.created,
        recreated = summary.recreated,
        adopted = summary.adopted,
        renewed = summary.renewed,
        certificate_moved = summary.certificate_moved,
        reconciled_users = summary.reconciled_users,
        repaired = summary.repaired,
        lifecycle_handled = summary.lifecycle_handled,
        failed_accounts = summary.failed_accounts.len(),
        budget_exhausted = summary.budget_exhausted,
        "subscription maintenance run"
    );
    Ok(summary)
}

/// The Entra ids of every linked user, read a page at a time: of a link only its id is kept.
pub async fn linked_users(store: &dyn UserLinkStore) -> Result<BTreeSet<String>, StoreError> {
    let mut linked = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list_users_after(after.as_deref(), USER_PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(linked);
        };
        after = Some(last.entra_id.clone());
        linked.extend(page.into_iter().map(|u| u.entra_id));
    }
}

/// The sharding plan for the stored accounts and linked users (also used by `accounts list`).
pub fn plan_shards(
    accounts: &[SyncAccount],
    linked: &BTreeSet<String>,
    capacity: usize,
) -> ShardPlan {
    let loads: Vec<AccountLoad> = accounts
        .iter()
        .map(|a| AccountLoad {
            name: &a.name,
            assigned: &a.assigned,
        })
        .collect();
    plan(&loads, linked, capacity)
}

/// Writes each changed account's new user list (conditional on its version). An account whose
/// list another run changed meanwhile keeps that list until the next run; any other change
/// (a token rotation) is read and the list written onto it.
async fn save_assignments(
    store: &dyn AccountStore,
    accounts: Vec<SyncAccount>,
    mut assigned: BTreeMap<String, Vec<String>>,
    changed: &BTreeSet<String>,
) -> Result<Vec<SyncAccount>, StoreError> {
    let mut out = Vec::with_capacity(accounts.len());
    for account in accounts {
        if !changed.contains(&account.name) {
            out.push(account);
            continue;
        }
        let planned = assigned.remove(&account.name).unwrap_or_default();
        let name = account.name.as_str();
        let saved = optimistic::update(
            || format!("sync account {name:?}"),
            move || store.get_account(name),
            |stored| match stored {
                // Removed meanwhile (`accounts remove`): its users wait for the next run.
                None => Step::Done(None),
                Some(stored) if stored.assigned != account.assigned => Step::Done(Some(stored)),
                Some(stored) => {
                    let mut next = stored.clone();
                    next.assigned = planned.clone();
                    next.version = stored.version + 1;
                    Step::Write((next.clone(), stored.version), Some(next))
                }
            },
            move |(next, expected)| async move { store.put_account(&next, expected).await },
        )
        .await?;
        out.extend(saved);
    }
    Ok(out)
}

/// A lifecycle request and the account it concerns (`None`: no account owns that subscription).
type Handled = (Option<String>, LifecycleRequest);

/// What the waiting lifecycle notifications ask of each account, and the requests with the
/// account they concern (`None`: no account owns that subscription any more).
fn lifecycle_asks(
    accounts: &[SyncAccount],
    requests: &[LifecycleRequest],
) -> (HashMap<String, Asks>, Vec<Handled>) {
    let mut asks: HashMap<String, Asks> = HashMap::new();
    let mut handled = Vec::new();
    for r in requests {
        let owner = accounts
            .iter()
            .find(|a| a.subscription_id.as_deref() == Some(r.subscription_id.as_str()));
        let Some(owner) = owner else {
            handled.push((None, r.clone()));
            continue;
        };
        // The webhook stores only Graph's documented names; anything else (stored by an older
        // bridge) is dropped without acting on it.
        let Some(event) = LifecycleEvent::parse(&r.event) else {
            tracing::warn!(subscription_id = %r.subscription_id, event = %r.event, "lifecycle request with an unknown event dropped");
            handled.push((None, r.clone()));
            continue;
        };
        let a = asks.entry(owner.name.clone()).or_default();
        match event {
            LifecycleEvent::ReauthorizationRequired => {
                a.renew_asked_at = a.renew_asked_at.max(Some(r.received_at));
            }
            LifecycleEvent::SubscriptionRemoved => {
                a.recreate = true;
                a.reconcile = true;
            }
            LifecycleEvent::Missed => a.reconcile = true,
        }
        tracing::info!(account = %owner.name, subscription_id = %r.subscription_id, event = %r.event, "acting on a lifecycle notification");
        handled.push((Some(owner.name.clone()), r.clone()));
    }
    (asks, handled)
}

/// Drops subscription records the bridge made for an account that no longer owns them (removed
/// account, replaced subscription) once they have expired: Graph has deleted them by then, and
/// a late notification for them is refused as unknown.
async fn forget_orphans<S>(
    store: &S,
    subscriptions: &[SubscriptionRecord],
    now: Timestamp,
) -> Result<(), StoreError>
where
    S: AccountStore + SubscriptionStore + ?Sized,
{
    let owned: BTreeSet<String> = store
        .list_accounts()
        .await?
        .into_iter()
        .filter_map(|a| a.subscription_id)
        .collect();
    for sub in subscriptions {
        if sub.account.is_some() && !owned.contains(&sub.id) && sub.expires_at <= now {
            store.delete_subscription(&sub.id).await?;
            tracing::info!(subscription_id = %sub.id, "forgot an expired subscription no account owns");
        }
    }
    Ok(())
}

/// Configured keys that no live subscription uses and that are not the current certificate.
fn unused_keys(
    app: &App,
    current: &str,
    subscriptions: &[SubscriptionRecord],
    now: Timestamp,
) -> Vec<String> {
    let in_use: BTreeSet<&str> = subscriptions
        .iter()
        .filter(|s| s.expires_at > now)
        .filter_map(|s| s.encryption_certificate_id.as_deref())
        .collect();
    app.keys
        .certificate_ids()
        .into_iter()
        .filter(|id| id != current && !in_use.contains(id.as_str()))
        .collect()
}

#[cfg(test)]
mod tests;

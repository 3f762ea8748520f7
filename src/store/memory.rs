//! A store in the process's memory: every port with the same conditional-write semantics as the
//! real backends (it passes the same conformance suite), so use cases are unit-tested on it in
//! microseconds, without a file or a socket. Nothing survives the process.
//!
//! One lock over all records: every call takes it once and never holds it across an `await`, so
//! each call is atomic, as a conditional write must be.
//!
//! [`MemoryStore::set_unavailable`] makes every call fail as a backend that does not answer
//! ([`StoreError::Unavailable`]), changing nothing: how tests see what the bridge does while its
//! store is down, and once it answers again.

use super::{
    AccountStore, DecisionWrite, LifecycleRequest, LifecycleStore, LinkMark, PendingDelivery,
    StoreError, StoreResult, SubscriptionRecord, SubscriptionStore, SwitchStore, SyncAccount,
    SyncStateStore, UserLink, UserLinkStore, UserSwitches, check_lifecycle_key, not_at, require,
    require_growth,
};
use crate::domain::{SpeakingState, Timestamp, UserSyncState};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

mod delivery;
mod link_marks;
mod speaking;

#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<Records>,
    /// Every call fails, as against a backend that does not answer ([`Self::set_unavailable`]).
    unavailable: AtomicBool,
    /// Test hook: see [`MemoryStore::hold_after_speaking_write`].
    #[cfg(test)]
    speaking_hold: Mutex<Option<speaking::SpeakingHold>>,
}

#[derive(Debug, Default)]
struct Records {
    /// By Entra id (ordered, as `list_users` returns them).
    users: BTreeMap<String, UserLink>,
    /// Swyx user id → Entra id.
    swyx_owners: HashMap<String, String>,
    /// By Swyx user id.
    link_marks: BTreeMap<String, LinkMark>,
    /// By Swyx user id.
    switches: BTreeMap<String, UserSwitches>,
    sync_states: BTreeMap<String, UserSyncState>,
    speaking: BTreeMap<String, SpeakingState>,
    subscriptions: BTreeMap<String, SubscriptionRecord>,
    accounts: BTreeMap<String, SyncAccount>,
    /// By (subscription id, event).
    lifecycle: HashMap<(String, String), LifecycleRequest>,
    /// By Swyx user id.
    pending: HashMap<String, PendingDelivery>,
    /// Idempotency key → remembered until.
    claims: HashMap<String, Timestamp>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// From now on every call fails with [`StoreError::Unavailable`] and changes nothing (an
    /// outage), until called again with `false`.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// The records, for one call; an error while [`Self::set_unavailable`]. A panic elsewhere
    /// while holding the lock cannot leave a half-done write: every write checks first and
    /// changes last.
    fn records(&self) -> StoreResult<MutexGuard<'_, Records>> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable {
                operation: "memory store".into(),
                source: "set unavailable (an outage)".into(),
            });
        }
        Ok(self.records.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The conditional write of every backend: `value` goes in if the stored counter (`revision`,
/// `version`) is `expected` (0 = nothing stored yet) and the value's own counter is greater.
fn put_if_at<T: Clone>(
    records: &mut BTreeMap<String, T>,
    key: &str,
    value: &T,
    (counter, count): (&str, fn(&T) -> u64),
    expected: u64,
    subject: &str,
) -> StoreResult<()> {
    require_growth(subject, counter, count(value), expected)?;
    if records.get(key).map_or(0, count) != expected {
        return Err(not_at(subject, counter, expected));
    }
    records.insert(key.to_string(), value.clone());
    Ok(())
}

#[async_trait]
impl UserLinkStore for MemoryStore {
    async fn put_user(&self, link: &UserLink) -> StoreResult<()> {
        require("Entra id", &link.entra_id)?;
        require("Swyx user id", &link.swyx_user_id)?;
        let mut r = self.records()?;
        if let Some(owner) = r.swyx_owners.get(&link.swyx_user_id)
            && *owner != link.entra_id
        {
            return Err(super::StoreError::conflict(format!(
                "Swyx user {} is already linked to another Entra user",
                link.swyx_user_id
            )));
        }
        if let Some(old) = r.users.insert(link.entra_id.clone(), link.clone())
            && old.swyx_user_id != link.swyx_user_id
        {
            r.swyx_owners.remove(&old.swyx_user_id);
        }
        r.swyx_owners
            .insert(link.swyx_user_id.clone(), link.entra_id.clone());
        Ok(())
    }

    async fn get_user(&self, entra_id: &str) -> StoreResult<Option<UserLink>> {
        Ok(self.records()?.users.get(entra_id).cloned())
    }

    async fn get_user_by_swyx_id(&self, swyx_user_id: &str) -> StoreResult<Option<UserLink>> {
        let r = self.records()?;
        Ok(r.swyx_owners
            .get(swyx_user_id)
            .and_then(|entra_id| r.users.get(entra_id))
            .cloned())
    }

    async fn list_users(&self) -> StoreResult<Vec<UserLink>> {
        Ok(self.records()?.users.values().cloned().collect())
    }

    async fn list_users_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<UserLink>> {
        use std::ops::Bound;
        let r = self.records()?;
        let from = after.map_or(Bound::Unbounded, |a| Bound::Excluded(a.to_string()));
        Ok(r.users
            .range((from, Bound::Unbounded))
            .take(limit)
            .map(|(_, u)| u.clone())
            .collect())
    }

    async fn delete_user(&self, entra_id: &str) -> StoreResult<bool> {
        let mut r = self.records()?;
        r.sync_states.remove(entra_id);
        let Some(old) = r.users.remove(entra_id) else {
            return Ok(false);
        };
        r.swyx_owners.remove(&old.swyx_user_id);
        Ok(true)
    }

    async fn get_users(&self, entra_ids: &[String]) -> StoreResult<Vec<UserLink>> {
        let r = self.records()?;
        Ok(entra_ids
            .iter()
            .filter_map(|id| r.users.get(id).cloned())
            .collect())
    }

    async fn create_automatic_links(
        &self,
        links: &[UserLink],
        at: Timestamp,
    ) -> StoreResult<Vec<String>> {
        self.create_automatic_links_now(links, at)
    }
}

/// One lock per read is as cheap as it gets here: the separate reads serve.
impl super::DecisionInputStore for MemoryStore {}

#[async_trait]
impl SwitchStore for MemoryStore {
    async fn put_switches(&self, switches: &UserSwitches) -> StoreResult<()> {
        require("Swyx user id", &switches.swyx_user_id)?;
        let mut r = self.records()?;
        if switches.switches.is_empty() {
            r.switches.remove(&switches.swyx_user_id);
        } else {
            r.switches
                .insert(switches.swyx_user_id.clone(), switches.clone());
        }
        Ok(())
    }

    async fn get_switches(&self, swyx_user_id: &str) -> StoreResult<Option<UserSwitches>> {
        Ok(self.records()?.switches.get(swyx_user_id).cloned())
    }

    async fn list_switches(&self) -> StoreResult<Vec<UserSwitches>> {
        Ok(self.records()?.switches.values().cloned().collect())
    }
}

#[async_trait]
impl SyncStateStore for MemoryStore {
    async fn get_sync_state(&self, entra_id: &str) -> StoreResult<Option<UserSyncState>> {
        Ok(self.records()?.sync_states.get(entra_id).cloned())
    }

    async fn put_sync_state(
        &self,
        entra_id: &str,
        state: &UserSyncState,
        expected_revision: u64,
    ) -> StoreResult<()> {
        require("Entra id", entra_id)?;
        put_if_at(
            &mut self.records()?.sync_states,
            entra_id,
            state,
            ("revision", |s| s.revision),
            expected_revision,
            &format!("sync state of {entra_id}"),
        )
    }

    async fn get_sync_states(
        &self,
        entra_ids: &[String],
    ) -> StoreResult<Vec<(String, UserSyncState)>> {
        let r = self.records()?;
        Ok(entra_ids
            .iter()
            .filter_map(|id| Some((id.clone(), r.sync_states.get(id)?.clone())))
            .collect())
    }

    async fn put_decisions(&self, decisions: &[DecisionWrite]) -> StoreResult<Vec<String>> {
        let mut r = self.records()?;
        let mut refused = Vec::new();
        for d in decisions {
            require("Entra id", &d.entra_id)?;
            let state_ok = d.state.revision > d.expected_revision
                && r.sync_states.get(&d.entra_id).map_or(0, |s| s.revision) == d.expected_revision;
            let pending_ok = d.pending.as_ref().is_none_or(|p| {
                r.pending
                    .get(&p.update.swyx_user_id)
                    .is_none_or(|stored| stored.update.revision <= p.update.revision)
            });
            if !(state_ok && pending_ok) {
                refused.push(d.entra_id.clone());
                continue;
            }
            if let Some(p) = &d.pending {
                r.pending.insert(p.update.swyx_user_id.clone(), p.clone());
            }
            r.sync_states.insert(d.entra_id.clone(), d.state.clone());
        }
        Ok(refused)
    }
}

#[async_trait]
impl SubscriptionStore for MemoryStore {
    async fn put_subscription(&self, sub: &SubscriptionRecord) -> StoreResult<()> {
        require("subscription id", &sub.id)?;
        self.records()?
            .subscriptions
            .insert(sub.id.clone(), sub.clone());
        Ok(())
    }

    async fn get_subscription(&self, id: &str) -> StoreResult<Option<SubscriptionRecord>> {
        Ok(self.records()?.subscriptions.get(id).cloned())
    }

    async fn list_subscriptions(&self) -> StoreResult<Vec<SubscriptionRecord>> {
        Ok(self.records()?.subscriptions.values().cloned().collect())
    }

    async fn delete_subscription(&self, id: &str) -> StoreResult<bool> {
        Ok(self.records()?.subscriptions.remove(id).is_some())
    }
}

#[async_trait]
impl AccountStore for MemoryStore {
    async fn put_account(&self, account: &SyncAccount, expected_version: u64) -> StoreResult<()> {
        require("sync account name", &account.name)?;
        put_if_at(
            &mut self.records()?.accounts,
            &account.name,
            account,
            ("version", |a| a.version),
            expected_version,
            &format!("sync account {}", account.name),
        )
    }

    async fn get_account(&self, name: &str) -> StoreResult<Option<SyncAccount>> {
        Ok(self.records()?.accounts.get(name).cloned())
    }

    async fn list_accounts(&self) -> StoreResult<Vec<SyncAccount>> {
        Ok(self.records()?.accounts.values().cloned().collect())
    }

    async fn delete_account(&self, name: &str) -> StoreResult<bool> {
        Ok(self.records()?.accounts.remove(name).is_some())
    }
}

#[async_trait]
impl LifecycleStore for MemoryStore {
    async fn put_lifecycle_request(&self, request: &LifecycleRequest) -> StoreResult<()> {
        check_lifecycle_key(&request.subscription_id, &request.event)?;
        let key = (request.subscription_id.clone(), request.event.clone());
        self.records()?.lifecycle.insert(key, request.clone());
        Ok(())
    }

    async fn list_lifecycle_requests(&self) -> StoreResult<Vec<LifecycleRequest>> {
        let mut all: Vec<LifecycleRequest> = self.records()?.lifecycle.values().cloned().collect();
        all.sort_by(|a, b| {
            (a.received_at, &a.subscription_id, &a.event).cmp(&(
                b.received_at,
                &b.subscription_id,
                &b.event,
            ))
        });
        Ok(all)
    }

    async fn delete_lifecycle_request(
        &self,
        subscription_id: &str,
        event: &str,
        handled_up_to: Timestamp,
    ) -> StoreResult<bool> {
        check_lifecycle_key(subscription_id, event)?;
        let key = (subscription_id.to_string(), event.to_string());
        let mut r = self.records()?;
        let handled = r
            .lifecycle
            .get(&key)
            .is_some_and(|req| req.received_at <= handled_up_to);
        if handled {
            r.lifecycle.remove(&key);
        }
        Ok(handled)
    }
}

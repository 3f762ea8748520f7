//! The memory store's pending deliveries and idempotency claims: what a delivery still owes and
//! which events were already applied.

use super::MemoryStore;
use crate::domain::Timestamp;
use crate::store::{IdempotencyStore, PendingDelivery, PendingStore, StoreResult, require};
use async_trait::async_trait;

#[async_trait]
impl PendingStore for MemoryStore {
    async fn put_pending(&self, p: &PendingDelivery) -> StoreResult<bool> {
        require("Swyx user id", &p.update.swyx_user_id)?;
        let mut r = self.records()?;
        let newer_stored = r
            .pending
            .get(&p.update.swyx_user_id)
            .is_some_and(|stored| stored.update.revision > p.update.revision);
        if newer_stored {
            return Ok(false);
        }
        r.pending.insert(p.update.swyx_user_id.clone(), p.clone());
        Ok(true)
    }

    async fn due_pending(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<PendingDelivery>> {
        let r = self.records()?;
        let mut due: Vec<&PendingDelivery> = r
            .pending
            .values()
            .filter(|p| p.next_attempt_at <= now)
            .collect();
        due.sort_by(|a, b| {
            (a.next_attempt_at, &a.update.swyx_user_id)
                .cmp(&(b.next_attempt_at, &b.update.swyx_user_id))
        });
        Ok(due.into_iter().take(limit).cloned().collect())
    }

    async fn get_pending(&self, swyx_user_id: &str) -> StoreResult<Option<PendingDelivery>> {
        Ok(self.records()?.pending.get(swyx_user_id).cloned())
    }

    async fn delete_pending(
        &self,
        swyx_user_id: &str,
        delivered_revision: u64,
    ) -> StoreResult<bool> {
        let mut r = self.records()?;
        let delivered = r
            .pending
            .get(swyx_user_id)
            .is_some_and(|p| p.update.revision <= delivered_revision);
        if delivered {
            r.pending.remove(swyx_user_id);
        }
        Ok(delivered)
    }

    async fn count_pending(&self) -> StoreResult<usize> {
        Ok(self.records()?.pending.len())
    }

    async fn delete_pendings(&self, delivered: &[(String, u64)]) -> StoreResult<usize> {
        let mut r = self.records()?;
        let mut removed = 0;
        for (swyx, revision) in delivered {
            if r.pending
                .get(swyx)
                .is_some_and(|p| p.update.revision <= *revision)
            {
                r.pending.remove(swyx);
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn make_pending_due(&self, now: Timestamp) -> StoreResult<usize> {
        let mut r = self.records()?;
        let mut moved = 0;
        for p in r.pending.values_mut() {
            if p.may_go_early(now) && p.next_attempt_at > now {
                p.next_attempt_at = now;
                moved += 1;
            }
        }
        Ok(moved)
    }
}

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn claim_once(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        require("idempotency key", key)?;
        let mut r = self.records()?;
        if r.claims.get(key).is_some_and(|until| *until > now) {
            return Ok(false);
        }
        // Housekeeping (as in SQLite) drops only keys expired by both the caller's and the wall
        // clock, so a caller with a synthetic clock still sees exact per-key semantics.
        let purge_up_to = now.min(Timestamp::now());
        r.claims.retain(|_, until| *until > purge_up_to);
        r.claims.insert(key.to_string(), expires_at);
        Ok(true)
    }

    async fn release_claim(&self, key: &str) -> StoreResult<bool> {
        require("idempotency key", key)?;
        Ok(self.records()?.claims.remove(key).is_some())
    }

    async fn is_claimed(&self, key: &str, now: Timestamp) -> StoreResult<bool> {
        require("idempotency key", key)?;
        Ok(self
            .records()?
            .claims
            .get(key)
            .is_some_and(|until| *until > now))
    }
}

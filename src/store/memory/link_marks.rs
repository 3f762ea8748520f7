//! The memory store's automatic-linking records: the marks, and links created with their mark.

use super::MemoryStore;
use crate::domain::Timestamp;
use crate::store::{LinkMark, LinkMarkStore, StoreResult, UserLink, require};
use async_trait::async_trait;

impl MemoryStore {
    /// `create_automatic_links`, under the one lock: every id checked before anything changes.
    pub(super) fn create_automatic_links_now(
        &self,
        links: &[UserLink],
        at: Timestamp,
    ) -> StoreResult<Vec<String>> {
        for l in links {
            require("Entra id", &l.entra_id)?;
            require("Swyx user id", &l.swyx_user_id)?;
        }
        let mut r = self.records()?;
        let mut refused = Vec::new();
        for l in links {
            if r.users.contains_key(&l.entra_id) || r.swyx_owners.contains_key(&l.swyx_user_id) {
                refused.push(l.swyx_user_id.clone());
                continue;
            }
            r.link_marks
                .insert(l.swyx_user_id.clone(), LinkMark::automatic(l, at));
            r.swyx_owners
                .insert(l.swyx_user_id.clone(), l.entra_id.clone());
            r.users.insert(l.entra_id.clone(), l.clone());
        }
        Ok(refused)
    }
}

#[async_trait]
impl LinkMarkStore for MemoryStore {
    async fn put_link_mark(&self, mark: &LinkMark) -> StoreResult<()> {
        require("Swyx user id", &mark.swyx_user_id)?;
        self.records()?
            .link_marks
            .insert(mark.swyx_user_id.clone(), mark.clone());
        Ok(())
    }

    async fn delete_link_mark(&self, swyx_user_id: &str) -> StoreResult<bool> {
        Ok(self.records()?.link_marks.remove(swyx_user_id).is_some())
    }

    async fn list_link_marks(&self) -> StoreResult<Vec<LinkMark>> {
        Ok(self.records()?.link_marks.values().cloned().collect())
    }

    async fn list_link_marks_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<LinkMark>> {
        use std::ops::Bound;
        let from = after.map_or(Bound::Unbounded, |a| Bound::Excluded(a.to_string()));
        Ok(self
            .records()?
            .link_marks
            .range((from, Bound::Unbounded))
            .take(limit)
            .map(|(_, m)| m.clone())
            .collect())
    }
}

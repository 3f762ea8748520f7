//! User links: the link item and the Swyx-id uniqueness item only ever change together, in one
//! `TransactWriteItems` conditioned on what was read, so concurrent re-links cannot orphan a claim.

use super::DynamoStore;
use super::batch::{Op, key_text};
use super::items::*;
use super::link_marks::mark_key;
use crate::domain::Timestamp;
use crate::store::optimistic::{self, Step};
use crate::store::{LinkMark, StoreError, StoreResult, UserLink, UserLinkStore, require};
use aws_sdk_dynamodb::types::TransactWriteItem;

impl DynamoStore {
    /// `put_user`: the link and the Swyx-id claim change together, in one transaction
    /// conditioned on what was read; a transaction that lost a race is read and tried again.
    pub(super) async fn link(&self, link: &UserLink) -> StoreResult<()> {
        require("Entra id", &link.entra_id)?;
        require("Swyx user id", &link.swyx_user_id)?;
        optimistic::update(
            || format!("link of Entra user {}", link.entra_id),
            move || async move {
                let current = self.get_user(&link.entra_id).await?;
                let owner = self.get_user_by_swyx_id(&link.swyx_user_id).await?;
                Ok((current, owner))
            },
            |(current, owner)| match owner {
                Some(owner) if owner.entra_id != link.entra_id => {
                    Step::Done(Err(StoreError::conflict(format!(
                        "Swyx user {} is already linked to another Entra user",
                        link.swyx_user_id
                    ))))
                }
                _ => Step::Write(current, Ok(())),
            },
            move |current| async move {
                self.transact(self.link_ops(link, current)?, link_changed)
                    .await
            },
        )
        .await?
    }

    /// `create_automatic_links`: per link, its item and Swyx-id claim on condition that neither
    /// exists, and its mark, in the transactions of [`Self::transact_batch`] (33 links each).
    pub(super) async fn create_automatic_links_batch(
        &self,
        links: &[UserLink],
        at: Timestamp,
    ) -> StoreResult<Vec<String>> {
        let mut ops = Vec::with_capacity(links.len() * 3);
        for (owner, link) in links.iter().enumerate() {
            require("Entra id", &link.entra_id)?;
            require("Swyx user id", &link.swyx_user_id)?;
            let mark = LinkMark::automatic(link, at);
            let item = with_data(mark_key(&link.swyx_user_id), &mark, "link mark")?;
            let mark = self.put_if(item, None, &[])?;
            // Without a current link, both of its items are written only where neither exists.
            for write in std::iter::once(mark).chain(self.link_ops(link, None)?) {
                let key = write.put().map(|p| key_text(p.item())).unwrap_or_default();
                ops.push(Op { owner, key, write });
            }
        }
        let refused = self.transact_batch(ops).await?;
        Ok(links
            .iter()
            .enumerate()
            .filter(|(i, _)| refused.contains(i))
            .map(|(_, l)| l.swyx_user_id.clone())
            .collect())
    }

    fn link_ops(
        &self,
        link: &UserLink,
        current: Option<UserLink>,
    ) -> StoreResult<Vec<TransactWriteItem>> {
        let entra = s(&link.entra_id);
        let mut claim = swyx_key(&link.swyx_user_id);
        claim.insert(ENTRA_ID.to_string(), entra.clone());
        let claim = with_data(claim, link, "user link")?;
        let mut user = user_key(&link.entra_id);
        user.insert(SWYX_USER_ID.to_string(), s(&link.swyx_user_id));
        let user = with_data(user, link, "user link")?;
        let mut ops = vec![
            self.put_if(
                claim,
                Some("attribute_not_exists(pk) OR entra_id = :entra"),
                &[(":entra", entra.clone())],
            )?,
            // The link must still be what we read, or a concurrent re-link could orphan a claim.
            match &current {
                None => self.put_if(user, Some("attribute_not_exists(pk)"), &[])?,
                Some(old) => self.put_if(
                    user,
                    Some("swyx_user_id = :old"),
                    &[(":old", s(&old.swyx_user_id))],
                )?,
            },
        ];
        if let Some(old) = current.filter(|old| old.swyx_user_id != link.swyx_user_id) {
            // Re-linking to another Swyx user frees the old Swyx id in the same transaction.
            ops.push(self.delete_if(
                swyx_key(&old.swyx_user_id),
                Some("entra_id = :entra"),
                &[(":entra", entra)],
            )?);
        }
        Ok(ops)
    }

    /// `delete_user`: link, Swyx-id claim and sync state go together.
    pub(super) async fn unlink(&self, entra_id: &str) -> StoreResult<bool> {
        optimistic::update(
            || format!("link of Entra user {entra_id}"),
            move || self.get_user(entra_id),
            |old| {
                let existed = old.is_some();
                Step::Write(old, existed)
            },
            move |old| async move {
                match old {
                    // No link: a sync state left without one goes all the same.
                    None => self
                        .client
                        .delete_item()
                        .table_name(&self.table)
                        .set_key(Some(state_key(entra_id)))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| sdk_error("DeleteItem", e)),
                    Some(old) => {
                        let ops = vec![
                            self.delete_if(
                                user_key(entra_id),
                                Some("swyx_user_id = :swyx"),
                                &[(":swyx", s(&old.swyx_user_id))],
                            )?,
                            self.delete_if(
                                swyx_key(&old.swyx_user_id),
                                Some("entra_id = :entra"),
                                &[(":entra", s(entra_id))],
                            )?,
                            self.delete_if(state_key(entra_id), None, &[])?,
                        ];
                        self.transact(ops, link_changed).await
                    }
                }
            },
        )
        .await
    }
}

fn link_changed() -> StoreError {
    StoreError::conflict("the link changed while it was written")
}

//! User links: the link item and the Swyx-id uniqueness item only ever change together, in one
//! `TransactWriteItems` conditioned on what was read, so concurrent re-links cannot orphan a claim.

use super::DynamoStore;
use super::items::*;
use crate::store::{Store, StoreError, StoreResult, UserLink};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

/// A link change re-reads and retries when a concurrent change of the same user beat it.
const TXN_ATTEMPTS: usize = 5;

enum Txn {
    Committed,
    /// Cancelled by conditions or concurrent transactions; per item: did its condition fail?
    Cancelled(Vec<bool>),
}

type Values<'a> = &'a [(&'a str, AttributeValue)];

impl DynamoStore {
    /// `put_user`: the link and the Swyx-id claim change together, in one transaction.
    pub(super) async fn link(&self, link: &UserLink) -> StoreResult<()> {
        require("Entra id", &link.entra_id)?;
        require("Swyx user id", &link.swyx_user_id)?;
        for _ in 0..TXN_ATTEMPTS {
            let current = self.get_user(&link.entra_id).await?;
            let entra = s(&link.entra_id);
            let mut claim = swyx_key(&link.swyx_user_id);
            claim.insert(ENTRA_ID.to_string(), entra.clone());
            let claim = with_data(claim, link, "user link")?;
            let mut user = user_key(&link.entra_id);
            user.insert(SWYX_USER_ID.to_string(), s(&link.swyx_user_id));
            let user = with_data(user, link, "user link")?;
            let mut ops = vec![
                self.put(
                    claim,
                    "attribute_not_exists(pk) OR entra_id = :entra",
                    &[(":entra", entra.clone())],
                )?,
                // The link must still be what we read, or a concurrent re-link could orphan a claim.
                match &current {
                    None => self.put(user, "attribute_not_exists(pk)", &[])?,
                    Some(old) => self.put(
                        user,
                        "swyx_user_id = :old",
                        &[(":old", s(&old.swyx_user_id))],
                    )?,
                },
            ];
            if let Some(old) = current.filter(|old| old.swyx_user_id != link.swyx_user_id) {
                // Re-linking to another Swyx user frees the old Swyx id in the same transaction.
                ops.push(self.delete(
                    swyx_key(&old.swyx_user_id),
                    Some("entra_id = :entra"),
                    &[(":entra", entra)],
                )?);
            }
            match self.transact(ops).await? {
                Txn::Committed => return Ok(()),
                Txn::Cancelled(failed) if failed.first() == Some(&true) => {
                    return Err(StoreError::Conflict(format!(
                        "Swyx user {} is already linked to another Entra user",
                        link.swyx_user_id
                    )));
                }
                Txn::Cancelled(_) => continue,
            }
        }
        Err(StoreError::Conflict(format!(
            "link of Entra user {} kept changing concurrently; try again",
            link.entra_id
        )))
    }

    /// `delete_user`: link, Swyx-id claim and sync state go together.
    pub(super) async fn unlink(&self, entra_id: &str) -> StoreResult<bool> {
        for _ in 0..TXN_ATTEMPTS {
            let Some(old) = self.get_user(entra_id).await? else {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(state_key(entra_id)))
                    .send()
                    .await
                    .map_err(|e| sdk_error("DeleteItem", e))?;
                return Ok(false);
            };
            let ops = vec![
                self.delete(
                    user_key(entra_id),
                    Some("swyx_user_id = :swyx"),
                    &[(":swyx", s(&old.swyx_user_id))],
                )?,
                self.delete(
                    swyx_key(&old.swyx_user_id),
                    Some("entra_id = :entra"),
                    &[(":entra", s(entra_id))],
                )?,
                self.delete(state_key(entra_id), None, &[])?,
            ];
            if let Txn::Committed = self.transact(ops).await? {
                return Ok(true);
            }
        }
        Err(StoreError::Conflict(format!(
            "link of Entra user {entra_id} kept changing concurrently; try again"
        )))
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> StoreResult<Txn> {
        let count = items.len();
        let err = match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => return Ok(Txn::Committed),
            Err(err) => err,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
            err.as_service_error()
        {
            let codes: Vec<&str> = c
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None"))
                .collect();
            // Only condition failures and races with another transaction are worth a re-read.
            if codes.iter().all(|c| {
                matches!(
                    *c,
                    "None" | "ConditionalCheckFailed" | "TransactionConflict"
                )
            }) {
                let mut failed: Vec<bool> = codes
                    .iter()
                    .map(|c| *c == "ConditionalCheckFailed")
                    .collect();
                failed.resize(count, false);
                return Ok(Txn::Cancelled(failed));
            }
        }
        Err(sdk_error("TransactWriteItems", err))
    }

    /// A transaction step that writes `item` if `condition` holds.
    fn put(&self, item: Item, condition: &str, values: Values) -> StoreResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(values_map(values))
            .build()
            .map_err(request_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A transaction step that deletes `key` if `condition` holds (always without one).
    fn delete(
        &self,
        key: Item,
        condition: Option<&str>,
        values: Values,
    ) -> StoreResult<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .set_condition_expression(condition.map(str::to_string))
            .set_expression_attribute_values(values_map(values))
            .build()
            .map_err(request_error)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

fn values_map(values: Values) -> Option<Item> {
    (!values.is_empty()).then(|| {
        values
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    })
}

fn request_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Backend(format!("invalid DynamoDB request: {e}"))
}

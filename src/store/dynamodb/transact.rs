//! `TransactWriteItems`: records that must change together (a link and its Swyx-id claim; a
//! decision and the update it sends) are written in one transaction, each step conditioned on
//! what was read.

use super::DynamoStore;
use super::items::*;
use crate::store::{StoreError, StoreResult};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

pub(super) type Values<'a> = &'a [(&'a str, AttributeValue)];

impl DynamoStore {
    /// Runs `items` as one transaction; `conflict()` when a condition failed or another
    /// transaction on the same items won (nothing was written).
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        conflict: impl FnOnce() -> StoreError,
    ) -> StoreResult<()> {
        let err = match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
            err.as_service_error()
        {
            let lost_race = c.cancellation_reasons().iter().all(|r| {
                matches!(
                    r.code().unwrap_or("None"),
                    "None" | "ConditionalCheckFailed" | "TransactionConflict"
                )
            });
            // Only condition failures and races with another transaction are worth a re-read.
            if lost_race {
                return Err(conflict());
            }
        }
        Err(sdk_error("TransactWriteItems", err))
    }

    /// A transaction step that writes `item` if `condition` holds (always without one).
    pub(super) fn put_if(
        &self,
        item: Item,
        condition: Option<&str>,
        values: Values,
    ) -> StoreResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string))
            .set_expression_attribute_values(values_map(values))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A transaction step that deletes `key` if `condition` holds (always without one).
    pub(super) fn delete_if(
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
            .map_err(build_err)?;
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

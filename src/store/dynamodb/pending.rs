//! Pending Swyx deliveries: `PENDING#<swyx id>` / `PENDING`, at most one per Swyx user, kept
//! unless a newer revision is stored; also in the sparse `due` index under partition `PENDING`,
//! sorted by next attempt, which maintenance reads.

use super::DynamoStore;
use super::items::*;
use crate::domain::Timestamp;
use crate::store::{PendingDelivery, PendingStore, StoreResult, require};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::Select;

/// The pending item: its revision and due-index keys beside the record.
pub(super) fn pending_item(p: &PendingDelivery) -> StoreResult<Item> {
    let swyx = &p.update.swyx_user_id;
    require("Swyx user id", swyx)?;
    let mut item = pending_key(swyx);
    item.insert(REVISION.to_string(), n(p.update.revision));
    item.insert(DUE_PK.to_string(), s(PENDING_DUE_PK));
    item.insert(DUE_SK.to_string(), s(due_sort_key(p.next_attempt_at, swyx)));
    with_data(item, p, "pending delivery")
}

impl DynamoStore {
    fn due_query(&self) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .expression_attribute_values(":pk", s(PENDING_DUE_PK))
    }
}

#[async_trait]
impl PendingStore for DynamoStore {
    async fn put_pending(&self, p: &PendingDelivery) -> StoreResult<bool> {
        let sent = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(pending_item(p)?))
            .condition_expression("attribute_not_exists(pk) OR #rev <= :rev")
            .expression_attribute_names("#rev", REVISION)
            .expression_attribute_values(":rev", n(p.update.revision))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk_error("PutItem", e)),
        }
    }

    async fn due_pending(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<PendingDelivery>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let query = self
            .due_query()
            .key_condition_expression("due_pk = :pk AND due_sk < :upper")
            .expression_attribute_values(":upper", s(due_upper_bound(now)));
        let items = self.query_all(query, Some(limit)).await?;
        parse_all(&items, "pending delivery")
    }

    async fn get_pending(&self, swyx_user_id: &str) -> StoreResult<Option<PendingDelivery>> {
        self.get_record(pending_key(swyx_user_id), "pending delivery")
            .await
    }

    async fn delete_pending(
        &self,
        swyx_user_id: &str,
        delivered_revision: u64,
    ) -> StoreResult<bool> {
        let sent = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(pending_key(swyx_user_id)))
            // A missing item fails the comparison too, so "nothing to delete" is `false` as well.
            .condition_expression("#rev <= :rev")
            .expression_attribute_names("#rev", REVISION)
            .expression_attribute_values(":rev", n(delivered_revision))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk_error("DeleteItem", e)),
        }
    }

    async fn count_pending(&self) -> StoreResult<usize> {
        let query = self
            .due_query()
            .key_condition_expression("due_pk = :pk")
            .select(Select::Count);
        let mut total = 0usize;
        let mut start = None;
        loop {
            let resp = query
                .clone()
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            total += usize::try_from(resp.count).unwrap_or(0);
            match resp.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(total),
            }
        }
    }

    async fn delete_pendings(&self, delivered: &[(String, u64)]) -> StoreResult<usize> {
        self.delete_pendings_batch(delivered).await
    }

    async fn make_pending_due(&self, now: Timestamp) -> StoreResult<usize> {
        // The not yet due part of the due index: every key after `now`'s upper bound.
        let query = self
            .due_query()
            .key_condition_expression("due_pk = :pk AND due_sk > :upper")
            .expression_attribute_values(":upper", s(due_upper_bound(now)));
        let items = self.query_all(query, None).await?;
        let waiting: Vec<PendingDelivery> = parse_all(&items, "pending delivery")?;
        let retrying = waiting.into_iter().filter(|p| p.may_go_early(now));
        self.make_due_batch(retrying.collect(), now).await
    }
}

//! The batch calls of the ports: reads in `BatchGetItem` requests (100 keys each), conditional
//! writes in `TransactWriteItems` (100 items each; a failed condition cancels the whole
//! transaction, so the items whose condition failed are taken out and the rest sent again).
//! Unprocessed keys and cancellations for contention are retried with a growing backoff.

use super::DynamoStore;
use super::items::*;
use crate::domain::Timestamp;
use crate::store::{DecisionWrite, PendingDelivery, StoreError, StoreResult, UserLink, require};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, KeysAndAttributes, Put, TransactWriteItem};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// DynamoDB's limits per request.
const GET_BATCH: usize = 100;
const TRANSACT_ITEMS: usize = 100;
/// Attempts for keys DynamoDB left unprocessed, or a transaction cancelled by contention.
const ATTEMPTS: u32 = 8;
const FIRST_BACKOFF: Duration = Duration::from_millis(25);

fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF * 2u32.saturating_pow(attempt.min(6))
}

fn pk_of(item: &Item) -> Option<&str> {
    item.get(PK).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// A key's `pk` and `sk`, as one comparable text.
pub(super) fn key_text(key: &Item) -> String {
    let part = |name: &str| key.get(name).and_then(|v| v.as_s().ok()).cloned();
    format!("{:?}/{:?}", part(PK), part(SK))
}

/// One write of a transaction and the caller's index it answers for.
pub(super) struct Op {
    pub(super) owner: usize,
    /// The item's key (pk and sk), so no transaction touches one item twice.
    pub(super) key: String,
    pub(super) write: TransactWriteItem,
}

impl DynamoStore {
    /// Every item found at `keys` (duplicates read once), strongly consistent.
    pub(super) async fn batch_get(&self, keys: Vec<Item>) -> StoreResult<Vec<Item>> {
        // DynamoDB refuses a request that names one key twice.
        let mut seen = HashSet::new();
        let keys: Vec<Item> = keys
            .into_iter()
            .filter(|k| seen.insert(key_text(k)))
            .collect();
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(GET_BATCH) {
            let mut todo = chunk.to_vec();
            let mut attempt = 0;
            while !todo.is_empty() {
                if attempt > 0 {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                if attempt >= ATTEMPTS {
                    return Err(StoreError::Throttled {
                        operation: "DynamoDB BatchGetItem".to_string(),
                        source: format!("{} keys still unprocessed", todo.len()).into(),
                    });
                }
                attempt += 1;
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut todo)))
                    .consistent_read(true)
                    .build()
                    .map_err(build_err)?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchGetItem", e))?;
                if let Some(mut responses) = out.responses {
                    found.extend(responses.remove(&self.table).unwrap_or_default());
                }
                if let Some(mut left) = out.unprocessed_keys {
                    todo = left.remove(&self.table).map(|k| k.keys).unwrap_or_default();
                }
            }
        }
        Ok(found)
    }

    /// Sends `ops` in transactions of at most 100 items, an owner's items always in one;
    /// returns the owners whose condition failed (none of their items written; everyone else's
    /// all written).
    pub(super) async fn transact_batch(&self, ops: Vec<Op>) -> StoreResult<HashSet<usize>> {
        let mut refused = HashSet::new();
        let mut chunk: Vec<Op> = Vec::new();
        let mut keys: HashSet<String> = HashSet::new();
        let mut ops = ops.into_iter().peekable();
        while let Some(first) = ops.next() {
            let mut group = vec![first];
            while let Some(op) = ops.next_if(|op| op.owner == group[0].owner) {
                group.push(op);
            }
            // A transaction may not touch one item twice.
            let clash = group.iter().any(|op| keys.contains(&op.key));
            if !chunk.is_empty() && (chunk.len() + group.len() > TRANSACT_ITEMS || clash) {
                refused.extend(self.transact_one(std::mem::take(&mut chunk)).await?);
                keys.clear();
            }
            keys.extend(group.iter().map(|op| op.key.clone()));
            chunk.extend(group);
        }
        if !chunk.is_empty() {
            refused.extend(self.transact_one(chunk).await?);
        }
        Ok(refused)
    }

    /// One transaction (≤ 100 items), sent again without the owners whose condition failed.
    async fn transact_one(&self, mut ops: Vec<Op>) -> StoreResult<HashSet<usize>> {
        let mut refused = HashSet::new();
        let mut attempt = 0;
        while !ops.is_empty() {
            if attempt >= ATTEMPTS {
                return Err(StoreError::Throttled {
                    operation: "DynamoDB TransactWriteItems".to_string(),
                    source: "cancelled by contention on every attempt".into(),
                });
            }
            attempt += 1;
            let items: Vec<TransactWriteItem> = ops.iter().map(|o| o.write.clone()).collect();
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let reasons = match sent {
                Ok(_) => return Ok(refused),
                Err(SdkError::ServiceError(e)) => match e.err() {
                    TransactWriteItemsError::TransactionCanceledException(c) => {
                        c.cancellation_reasons().to_vec()
                    }
                    _ => {
                        return Err(sdk_error("TransactWriteItems", SdkError::ServiceError(e)));
                    }
                },
                Err(e) => return Err(sdk_error("TransactWriteItems", e)),
            };
            let failed: HashSet<usize> = reasons
                .iter()
                .zip(&ops)
                .filter(|(r, _)| r.code() == Some("ConditionalCheckFailed"))
                .map(|(_, op)| op.owner)
                .collect();
            if failed.is_empty() {
                // Cancelled for another reason (a concurrent transaction on one of the items).
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            ops.retain(|op| !failed.contains(&op.owner));
            refused.extend(failed);
        }
        Ok(refused)
    }

    pub(super) async fn users_batch(&self, entra_ids: &[String]) -> StoreResult<Vec<UserLink>> {
        let items = self
            .batch_get(entra_ids.iter().map(|id| user_key(id)).collect())
            .await?;
        parse_all(&items, "user link")
    }

    /// The records at `key(id)` of those of `ids` that have one, with their id.
    pub(super) async fn records_by_id<T: serde::de::DeserializeOwned>(
        &self,
        ids: &[String],
        key: fn(&str) -> Item,
        what: &str,
    ) -> StoreResult<Vec<(String, T)>> {
        let by_pk: HashMap<String, &String> = ids
            .iter()
            .filter_map(|id| Some((pk_of(&key(id))?.to_string(), id)))
            .collect();
        let items = self
            .batch_get(ids.iter().map(|id| key(id)).collect())
            .await?;
        items
            .iter()
            .filter_map(|item| Some((*by_pk.get(pk_of(item)?)?, item)))
            .map(|(id, item)| Ok((id.clone(), parse_data(item, what)?)))
            .collect()
    }

    pub(super) async fn put_decisions_batch(
        &self,
        decisions: &[DecisionWrite],
    ) -> StoreResult<Vec<String>> {
        let mut ops = Vec::new();
        let mut refused = Vec::new();
        for (owner, d) in decisions.iter().enumerate() {
            require("Entra id", &d.entra_id)?;
            if d.state.revision <= d.expected_revision {
                refused.push(d.entra_id.clone());
                continue;
            }
            if let Some(p) = &d.pending {
                let item = super::pending::pending_item(p)?;
                let key = key_text(&item);
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk) OR #rev <= :rev")
                    .expression_attribute_names("#rev", REVISION)
                    .expression_attribute_values(":rev", n(p.update.revision))
                    .build()
                    .map_err(build_err)?;
                let write = TransactWriteItem::builder().put(put).build();
                ops.push(Op { owner, key, write });
            }
            let mut item = with_data(state_key(&d.entra_id), &d.state, "sync state")?;
            let key = key_text(&item);
            item.insert(REVISION.to_string(), n(d.state.revision));
            let put = Put::builder().table_name(&self.table).set_item(Some(item));
            let put = if d.expected_revision == 0 {
                put.condition_expression("attribute_not_exists(pk)")
            } else {
                put.condition_expression("#rev = :expected")
                    .expression_attribute_names("#rev", REVISION)
                    .expression_attribute_values(":expected", n(d.expected_revision))
            };
            let write = TransactWriteItem::builder()
                .put(put.build().map_err(build_err)?)
                .build();
            ops.push(Op { owner, key, write });
        }
        let failed = self.transact_batch(ops).await?;
        let mut failed: Vec<usize> = failed.into_iter().collect();
        failed.sort_unstable();
        refused.extend(failed.into_iter().map(|i| decisions[i].entra_id.clone()));
        Ok(refused)
    }

    pub(super) async fn delete_pendings_batch(
        &self,
        delivered: &[(String, u64)],
    ) -> StoreResult<usize> {
        let mut ops = Vec::with_capacity(delivered.len());
        for (owner, (swyx, revision)) in delivered.iter().enumerate() {
            let item_key = pending_key(swyx);
            let key = key_text(&item_key);
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(item_key))
                // A missing item fails the comparison too: nothing to delete.
                .condition_expression("#rev <= :rev")
                .expression_attribute_names("#rev", REVISION)
                .expression_attribute_values(":rev", n(*revision))
                .build()
                .map_err(build_err)?;
            let write = TransactWriteItem::builder().delete(delete).build();
            ops.push(Op { owner, key, write });
        }
        let kept = self.transact_batch(ops).await?;
        Ok(delivered.len() - kept.len())
    }

    /// Rewrites each of `waiting` due at `now`, unless it changed since it was read (a newer
    /// revision or another attempt moved its due key): that one is left as it now is.
    pub(super) async fn make_due_batch(
        &self,
        waiting: Vec<PendingDelivery>,
        now: Timestamp,
    ) -> StoreResult<usize> {
        let mut ops = Vec::with_capacity(waiting.len());
        for (owner, mut p) in waiting.into_iter().enumerate() {
            let read_at = due_sort_key(p.next_attempt_at, &p.update.swyx_user_id);
            p.next_attempt_at = now;
            let item = super::pending::pending_item(&p)?;
            let key = key_text(&item);
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("#rev = :rev AND #due = :read_at")
                .expression_attribute_names("#rev", REVISION)
                .expression_attribute_names("#due", DUE_SK)
                .expression_attribute_values(":rev", n(p.update.revision))
                .expression_attribute_values(":read_at", s(read_at))
                .build()
                .map_err(build_err)?;
            let write = TransactWriteItem::builder().put(put).build();
            ops.push(Op { owner, key, write });
        }
        let total = ops.len();
        let changed = self.transact_batch(ops).await?;
        Ok(total - changed.len())
    }
}

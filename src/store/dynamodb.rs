//! The AWS store: one DynamoDB table (layout in `items.rs`).
//!
//! Every racy write is conditional, so two Lambdas handling the same user at once can never apply
//! its updates out of order or twice: the loser gets `Conflict` (or `false`) and nothing changes.

mod accounts;
mod batch;
mod decision_inputs;
mod items;
mod link_marks;
mod links;
mod pending;
mod speaking;
mod switches;
mod swyx_ids;
mod table;
mod transact;

use super::{
    DecisionWrite, IdempotencyStore, StoreResult, SubscriptionRecord, SubscriptionStore,
    SyncStateStore, UserLink, UserLinkStore, not_at, require, require_growth,
};
use crate::domain::{Timestamp, UserSyncState};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use items::*;
use std::sync::Arc;

/// A [`Store`](super::Store) on one DynamoDB table. Cloning shares the client (and what the
/// process learnt of the links, [`swyx_ids`]).
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    swyx_ids: Arc<swyx_ids::SwyxIdHints>,
}

/// Only the table: the client's configuration is nobody's business in a log line.
impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl DynamoStore {
    /// Writes `item` if its number attribute `counter` (`revision`, `version`) is `expected` (0 =
    /// no such item yet), setting it to `new`; `Conflict` naming `subject` otherwise, and nothing
    /// is written.
    async fn put_conditional(
        &self,
        mut item: Item,
        counter: &str,
        subject: &str,
        new: u64,
        expected: u64,
    ) -> StoreResult<()> {
        require_growth(subject, counter, new, expected)?;
        item.insert(counter.to_string(), n(new));
        let req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let req = if expected == 0 {
            req.condition_expression("attribute_not_exists(pk)")
        } else {
            req.condition_expression("#counter = :expected")
                .expression_attribute_names("#counter", counter)
                .expression_attribute_values(":expected", n(expected))
        };
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Err(not_at(subject, counter, expected)),
            Err(e) => Err(sdk_error("PutItem", e)),
        }
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            swyx_ids: Arc::default(),
        }
    }

    /// Creates the table with its `due` index and TTL on `expires_at` unless it exists, and waits
    /// until it is usable. For tests and self-managed deployments.
    pub async fn create_table_if_missing(&self) -> StoreResult<()> {
        table::create_table_if_missing(&self.client, &self.table).await
    }

    async fn get(&self, key: Item) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        Ok(out.item)
    }

    /// Writes `item` whatever is there (records that are replaced whole, not versioned).
    async fn put_item(&self, item: Item) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    /// Deletes the item at `key`; whether it existed.
    async fn delete_item(&self, key: Item) -> StoreResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem", e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn get_record<T: serde::de::DeserializeOwned>(
        &self,
        key: Item,
        what: &str,
    ) -> StoreResult<Option<T>> {
        self.get(key)
            .await?
            .map(|item| parse_data(&item, what))
            .transpose()
    }

    /// All items of a query, page by page, up to `limit`.
    async fn query_all(
        &self,
        query: QueryFluentBuilder,
        limit: Option<usize>,
    ) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let mut page = query.clone().set_exclusive_start_key(start.take());
            if let Some(limit) = limit {
                page = page.limit(i32::try_from(limit - out.len()).unwrap_or(i32::MAX));
            }
            let resp = page.send().await.map_err(|e| sdk_error("Query", e))?;
            out.extend(resp.items.unwrap_or_default());
            if let Some(limit) = limit {
                out.truncate(limit);
            }
            let more = limit.is_none_or(|l| out.len() < l);
            match resp.last_evaluated_key {
                Some(key) if more && !key.is_empty() => start = Some(key),
                _ => return Ok(out),
            }
        }
    }

    fn partition_query(&self, pk: &str) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .consistent_read(true)
    }

    /// At most `limit` records of partition `pk` whose sort key comes after `after`, in order:
    /// a page of a one-partition listing.
    async fn page_after<T: serde::de::DeserializeOwned>(
        &self,
        pk: &str,
        after: Option<&str>,
        limit: usize,
        what: &str,
    ) -> StoreResult<Vec<T>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let query = match after {
            None => self.partition_query(pk),
            Some(after) => self
                .partition_query(pk)
                .key_condition_expression("pk = :pk AND sk > :after")
                .expression_attribute_values(":after", s(after)),
        };
        let items = self.query_all(query, Some(limit)).await?;
        parse_all(&items, what)
    }
}

#[async_trait]
impl UserLinkStore for DynamoStore {
    async fn put_user(&self, link: &UserLink) -> StoreResult<()> {
        self.link(link).await
    }

    async fn get_user(&self, entra_id: &str) -> StoreResult<Option<UserLink>> {
        self.get_record(user_key(entra_id), "user link").await
    }

    async fn get_user_by_swyx_id(&self, swyx_user_id: &str) -> StoreResult<Option<UserLink>> {
        self.get_record(swyx_key(swyx_user_id), "user link").await
    }

    async fn list_users(&self) -> StoreResult<Vec<UserLink>> {
        // Sort keys are ordered by UTF-8 bytes, which is Rust's `str` order.
        let items = self.query_all(self.partition_query(USERS_PK), None).await?;
        parse_all(&items, "user link")
    }

    async fn list_users_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<UserLink>> {
        self.page_after(USERS_PK, after, limit, "user link").await
    }

    async fn delete_user(&self, entra_id: &str) -> StoreResult<bool> {
        self.unlink(entra_id).await
    }

    async fn get_users(&self, entra_ids: &[String]) -> StoreResult<Vec<UserLink>> {
        self.users_batch(entra_ids).await
    }

    async fn create_automatic_links(
        &self,
        links: &[UserLink],
        at: Timestamp,
    ) -> StoreResult<Vec<String>> {
        self.create_automatic_links_batch(links, at).await
    }
}

#[async_trait]
impl SyncStateStore for DynamoStore {
    async fn get_sync_state(&self, entra_id: &str) -> StoreResult<Option<UserSyncState>> {
        self.get_record(state_key(entra_id), "sync state").await
    }

    async fn put_sync_state(
        &self,
        entra_id: &str,
        state: &UserSyncState,
        expected_revision: u64,
    ) -> StoreResult<()> {
        require("Entra id", entra_id)?;
        let item = with_data(state_key(entra_id), state, "sync state")?;
        let subject = format!("sync state of {entra_id}");
        self.put_conditional(item, REVISION, &subject, state.revision, expected_revision)
            .await
    }

    async fn get_sync_states(
        &self,
        entra_ids: &[String],
    ) -> StoreResult<Vec<(String, UserSyncState)>> {
        self.records_by_id(entra_ids, state_key, "sync state").await
    }

    async fn put_decisions(&self, decisions: &[DecisionWrite]) -> StoreResult<Vec<String>> {
        self.put_decisions_batch(decisions).await
    }
}

#[async_trait]
impl SubscriptionStore for DynamoStore {
    async fn put_subscription(&self, sub: &SubscriptionRecord) -> StoreResult<()> {
        require("subscription id", &sub.id)?;
        let item = with_data(subscription_key(&sub.id), sub, "subscription")?;
        self.put_item(item).await
    }

    async fn get_subscription(&self, id: &str) -> StoreResult<Option<SubscriptionRecord>> {
        self.get_record(subscription_key(id), "subscription").await
    }

    async fn list_subscriptions(&self) -> StoreResult<Vec<SubscriptionRecord>> {
        let items = self
            .query_all(self.partition_query(SUBSCRIPTIONS_PK), None)
            .await?;
        parse_all(&items, "subscription")
    }

    async fn delete_subscription(&self, id: &str) -> StoreResult<bool> {
        self.delete_item(subscription_key(id)).await
    }
}

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn claim_once(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        require("idempotency key", key)?;
        let mut item = claim_key(key);
        item.insert(EXPIRES_AT.to_string(), n(ttl_secs(expires_at)));
        item.insert(EXPIRES_AT_MS.to_string(), n(expires_at.millis()));
        // TTL deletion lags by up to days, so an expired item still present counts as free.
        let sent = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR #exp <= :now")
            .expression_attribute_names("#exp", EXPIRES_AT_MS)
            .expression_attribute_values(":now", n(now.millis()))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk_error("PutItem", e)),
        }
    }

    async fn release_claim(&self, key: &str) -> StoreResult<bool> {
        require("idempotency key", key)?;
        self.delete_item(claim_key(key)).await
    }

    async fn is_claimed(&self, key: &str, now: Timestamp) -> StoreResult<bool> {
        require("idempotency key", key)?;
        match self.get(claim_key(key)).await? {
            Some(item) => claim_active(&item, now),
            None => Ok(false),
        }
    }
}

/// Whether a claim item holds its key at `now`. As in `claim_once`: an expired item TTL has not
/// deleted yet is free.
fn claim_active(item: &Item, now: Timestamp) -> StoreResult<bool> {
    let until = match item.get(EXPIRES_AT_MS) {
        Some(AttributeValue::N(v)) => v
            .parse::<i64>()
            .map_err(|e| corrupt("idempotency key", e))?,
        _ => return Err(corrupt("idempotency key", MissingAttribute(EXPIRES_AT_MS))),
    };
    Ok(until > now.millis())
}

//! The AWS store: one DynamoDB table (layout in `items.rs`).
//!
//! Every racy write is conditional, so two Lambdas handling the same user at once can never apply
//! its updates out of order or twice: the loser gets `Conflict` (or `false`) and nothing changes.

mod items;
mod links;
mod speaking;
mod table;

use super::{
    LifecycleRequest, PendingDelivery, Store, StoreError, StoreResult, SubscriptionRecord,
    SyncAccount, UserLink,
};
use crate::domain::{SpeakingState, Timestamp, UserSyncState};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{ReturnValue, Select};
use items::*;

/// A [`Store`] on one DynamoDB table. Cloning shares the client.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
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
    /// Writes a per-user record whose `revision` must move from `expected_revision` (0 = none
    /// stored yet) to `revision`; `Conflict` otherwise, and nothing is written.
    async fn put_revisioned(
        &self,
        mut item: Item,
        what: &str,
        entra_id: &str,
        revision: u64,
        expected_revision: u64,
    ) -> StoreResult<()> {
        if revision <= expected_revision {
            return Err(StoreError::Conflict(format!(
                "{what} of {entra_id}: new revision {revision} is not greater than expected revision {expected_revision}"
            )));
        }
        item.insert(REVISION.to_string(), n(revision));
        let req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let req = if expected_revision == 0 {
            req.condition_expression("attribute_not_exists(pk)")
        } else {
            req.condition_expression("#rev = :expected")
                .expression_attribute_names("#rev", REVISION)
                .expression_attribute_values(":expected", n(expected_revision))
        };
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Err(StoreError::Conflict(format!(
                "{what} of {entra_id} is not at revision {expected_revision}"
            ))),
            Err(e) => Err(sdk_error("PutItem", e)),
        }
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A client from the default AWS configuration chain (environment, profile, Lambda role),
    /// which also honours `AWS_ENDPOINT_URL`; `endpoint_url` overrides it.
    pub async fn from_env_config(table: &str, endpoint_url: Option<&str>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(url) = endpoint_url {
            loader = loader.endpoint_url(url);
        }
        Self::new(Client::new(&loader.load().await), table)
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

    fn due_query(&self) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .expression_attribute_values(":pk", s(PENDING_DUE_PK))
    }
}

#[async_trait]
impl Store for DynamoStore {
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

    async fn delete_user(&self, entra_id: &str) -> StoreResult<bool> {
        self.unlink(entra_id).await
    }

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
        self.put_revisioned(
            item,
            "sync state",
            entra_id,
            state.revision,
            expected_revision,
        )
        .await
    }

    async fn get_speaking(&self, entra_id: &str) -> StoreResult<Option<SpeakingState>> {
        self.speaking_get(entra_id).await
    }

    async fn put_speaking(
        &self,
        entra_id: &str,
        state: &SpeakingState,
        expected_revision: u64,
    ) -> StoreResult<()> {
        self.speaking_put(entra_id, state, expected_revision).await
    }

    async fn due_speaking(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<(String, SpeakingState)>> {
        self.speaking_due(now, limit).await
    }

    async fn put_subscription(&self, sub: &SubscriptionRecord) -> StoreResult<()> {
        require("subscription id", &sub.id)?;
        let item = with_data(subscription_key(&sub.id), sub, "subscription")?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
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
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(subscription_key(id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem", e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn put_account(&self, _account: &SyncAccount, _expected_version: u64) -> StoreResult<()> {
        Err(StoreError::Backend("accounts: not implemented yet".into()))
    }
    async fn get_account(&self, _name: &str) -> StoreResult<Option<SyncAccount>> {
        Err(StoreError::Backend("accounts: not implemented yet".into()))
    }
    async fn list_accounts(&self) -> StoreResult<Vec<SyncAccount>> {
        Err(StoreError::Backend("accounts: not implemented yet".into()))
    }
    async fn delete_account(&self, _name: &str) -> StoreResult<bool> {
        Err(StoreError::Backend("accounts: not implemented yet".into()))
    }
    async fn put_lifecycle_request(&self, _request: &LifecycleRequest) -> StoreResult<()> {
        Err(StoreError::Backend("lifecycle: not implemented yet".into()))
    }
    async fn list_lifecycle_requests(&self) -> StoreResult<Vec<LifecycleRequest>> {
        Err(StoreError::Backend("lifecycle: not implemented yet".into()))
    }
    async fn delete_lifecycle_request(
        &self,
        _subscription_id: &str,
        _event: &str,
        _handled_up_to: Timestamp,
    ) -> StoreResult<bool> {
        Err(StoreError::Backend("lifecycle: not implemented yet".into()))
    }

    async fn put_pending(&self, p: &PendingDelivery) -> StoreResult<bool> {
        let swyx = &p.update.swyx_user_id;
        require("Swyx user id", swyx)?;
        let mut item = pending_key(swyx);
        item.insert(REVISION.to_string(), n(p.update.revision));
        item.insert(DUE_PK.to_string(), s(PENDING_DUE_PK));
        item.insert(DUE_SK.to_string(), s(due_sort_key(p.next_attempt_at, swyx)));
        let sent = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(with_data(item, p, "pending delivery")?))
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
}

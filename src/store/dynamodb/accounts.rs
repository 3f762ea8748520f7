//! Sync accounts and lifecycle requests, one partition each so listing is one query:
//! `ACCOUNTS` / name with a `version` the writes are conditional on, and
//! `LIFECYCLE` / `<subscription id>#<event>` with `received_at` (ms) for the conditional delete.

use super::DynamoStore;
use super::items::*;
use crate::domain::Timestamp;
use crate::store::{
    AccountStore, LifecycleRequest, LifecycleStore, StoreResult, SyncAccount, check_lifecycle_key,
    require,
};
use async_trait::async_trait;
use std::collections::HashMap;

const ACCOUNTS_PK: &str = "ACCOUNTS";
const LIFECYCLE_PK: &str = "LIFECYCLE";
const VERSION: &str = "version";
const RECEIVED_AT: &str = "received_at";

fn account_key(name: &str) -> Item {
    HashMap::from([(PK.to_string(), s(ACCOUNTS_PK)), (SK.to_string(), s(name))])
}

fn lifecycle_key(subscription_id: &str, event: &str) -> Item {
    HashMap::from([
        (PK.to_string(), s(LIFECYCLE_PK)),
        (SK.to_string(), s(format!("{subscription_id}#{event}"))),
    ])
}

#[async_trait]
impl AccountStore for DynamoStore {
    async fn put_account(&self, account: &SyncAccount, expected_version: u64) -> StoreResult<()> {
        require("sync account name", &account.name)?;
        let item = with_data(account_key(&account.name), account, "sync account")?;
        let subject = format!("sync account {}", account.name);
        self.put_conditional(item, VERSION, &subject, account.version, expected_version)
            .await
    }

    async fn get_account(&self, name: &str) -> StoreResult<Option<SyncAccount>> {
        self.get_record(account_key(name), "sync account").await
    }

    async fn list_accounts(&self) -> StoreResult<Vec<SyncAccount>> {
        // Sort keys are ordered by UTF-8 bytes, which is Rust's `str` order.
        let items = self
            .query_all(self.partition_query(ACCOUNTS_PK), None)
            .await?;
        parse_all(&items, "sync account")
    }

    async fn delete_account(&self, name: &str) -> StoreResult<bool> {
        self.delete_item(account_key(name)).await
    }
}

#[async_trait]
impl LifecycleStore for DynamoStore {
    async fn put_lifecycle_request(&self, request: &LifecycleRequest) -> StoreResult<()> {
        check_lifecycle_key(&request.subscription_id, &request.event)?;
        let mut item = lifecycle_key(&request.subscription_id, &request.event);
        item.insert(RECEIVED_AT.to_string(), n(request.received_at.millis()));
        let item = with_data(item, request, "lifecycle request")?;
        self.put_item(item).await
    }

    async fn list_lifecycle_requests(&self) -> StoreResult<Vec<LifecycleRequest>> {
        let items = self
            .query_all(self.partition_query(LIFECYCLE_PK), None)
            .await?;
        let mut requests: Vec<LifecycleRequest> = parse_all(&items, "lifecycle request")?;
        // Stable, so requests received at the same time stay in key order.
        requests.sort_by_key(|r| r.received_at);
        Ok(requests)
    }

    async fn delete_lifecycle_request(
        &self,
        subscription_id: &str,
        event: &str,
        handled_up_to: Timestamp,
    ) -> StoreResult<bool> {
        check_lifecycle_key(subscription_id, event)?;
        let sent = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(lifecycle_key(subscription_id, event)))
            // A missing item fails the comparison too, so "nothing to delete" is `false` as well.
            .condition_expression("#at <= :handled")
            .expression_attribute_names("#at", RECEIVED_AT)
            .expression_attribute_values(":handled", n(handled_up_to.millis()))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk_error("DeleteItem", e)),
        }
    }
}

//! Users' own direction switches: one partition, `SWITCHES` / Swyx id, so listing is one query.

use super::DynamoStore;
use super::items::*;
use crate::store::{StoreResult, SwitchStore, UserSwitches, require};
use async_trait::async_trait;
use std::collections::HashMap;

const SWITCHES_PK: &str = "SWITCHES";

pub(super) fn switches_key(swyx_user_id: &str) -> Item {
    HashMap::from([
        (PK.to_string(), s(SWITCHES_PK)),
        (SK.to_string(), s(swyx_user_id)),
    ])
}

#[async_trait]
impl SwitchStore for DynamoStore {
    async fn put_switches(&self, switches: &UserSwitches) -> StoreResult<()> {
        require("Swyx user id", &switches.swyx_user_id)?;
        let key = switches_key(&switches.swyx_user_id);
        if switches.switches.is_empty() {
            self.delete_item(key).await?;
            return Ok(());
        }
        self.put_item(with_data(key, switches, "user switches")?)
            .await
    }

    async fn get_switches(&self, swyx_user_id: &str) -> StoreResult<Option<UserSwitches>> {
        require("Swyx user id", swyx_user_id)?;
        self.get_record(switches_key(swyx_user_id), "user switches")
            .await
    }

    async fn list_switches(&self) -> StoreResult<Vec<UserSwitches>> {
        let items = self
            .query_all(self.partition_query(SWITCHES_PK), None)
            .await?;
        parse_all(&items, "user switches")
    }
}

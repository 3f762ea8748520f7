//! Automatic linking's marks: one partition, `LINKMARKS` / Swyx id, so listing is one query.

use super::DynamoStore;
use super::items::*;
use crate::store::{LinkMark, LinkMarkStore, StoreResult, require};
use async_trait::async_trait;
use std::collections::HashMap;

const LINK_MARKS_PK: &str = "LINKMARKS";

pub(super) fn mark_key(swyx_user_id: &str) -> Item {
    HashMap::from([
        (PK.to_string(), s(LINK_MARKS_PK)),
        (SK.to_string(), s(swyx_user_id)),
    ])
}

#[async_trait]
impl LinkMarkStore for DynamoStore {
    async fn put_link_mark(&self, mark: &LinkMark) -> StoreResult<()> {
        require("Swyx user id", &mark.swyx_user_id)?;
        let item = with_data(mark_key(&mark.swyx_user_id), mark, "link mark")?;
        self.put_item(item).await
    }

    async fn delete_link_mark(&self, swyx_user_id: &str) -> StoreResult<bool> {
        require("Swyx user id", swyx_user_id)?;
        self.delete_item(mark_key(swyx_user_id)).await
    }

    async fn list_link_marks(&self) -> StoreResult<Vec<LinkMark>> {
        // Sort keys are ordered by UTF-8 bytes, which is Rust's `str` order.
        let items = self
            .query_all(self.partition_query(LINK_MARKS_PK), None)
            .await?;
        parse_all(&items, "link mark")
    }

    async fn list_link_marks_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<LinkMark>> {
        self.page_after(LINK_MARKS_PK, after, limit, "link mark")
            .await
    }
}

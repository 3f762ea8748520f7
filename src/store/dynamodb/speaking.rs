//! Swyx → Teams per-user speaking state: `SPEAKING#<Entra id>` / `SPEAKING`, conditional on
//! `revision` like the sync state. While it has a `due_at`, the item is also in the sparse `due`
//! index under its own partition (`SPEAKING`), apart from the pending deliveries.

use super::DynamoStore;
use super::items::*;
use crate::domain::{SpeakingState, Timestamp};
use crate::store::{SpeakingStore, StoreResult, require};
use async_trait::async_trait;
use std::collections::HashMap;

const SPEAKING_DUE_PK: &str = "SPEAKING";

pub(super) fn speaking_key(entra_id: &str) -> Item {
    HashMap::from([
        (PK.to_string(), s(format!("SPEAKING#{entra_id}"))),
        (SK.to_string(), s("SPEAKING")),
    ])
}

#[async_trait]
impl SpeakingStore for DynamoStore {
    async fn get_speaking(&self, entra_id: &str) -> StoreResult<Option<SpeakingState>> {
        self.get_record(speaking_key(entra_id), "speaking state")
            .await
    }

    async fn put_speaking(
        &self,
        entra_id: &str,
        state: &SpeakingState,
        expected_revision: u64,
    ) -> StoreResult<()> {
        require("Entra id", entra_id)?;
        let mut item = speaking_key(entra_id);
        item.insert(ENTRA_ID.to_string(), s(entra_id));
        if let Some(due) = state.due_at {
            item.insert(DUE_PK.to_string(), s(SPEAKING_DUE_PK));
            item.insert(DUE_SK.to_string(), s(due_sort_key(due, entra_id)));
        }
        let item = with_data(item, state, "speaking state")?;
        let subject = format!("speaking state of {entra_id}");
        self.put_conditional(item, REVISION, &subject, state.revision, expected_revision)
            .await
    }

    async fn due_speaking(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<(String, SpeakingState)>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .key_condition_expression("due_pk = :pk AND due_sk < :upper")
            .expression_attribute_values(":pk", s(SPEAKING_DUE_PK))
            .expression_attribute_values(":upper", s(due_upper_bound(now)));
        let items = self.query_all(query, Some(limit)).await?;
        items
            .iter()
            .map(|item| {
                let entra_id = item
                    .get(ENTRA_ID)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .ok_or_else(|| corrupt("speaking state", MissingAttribute(ENTRA_ID)))?;
                Ok((entra_id, parse_data(item, "speaking state")?))
            })
            .collect()
    }

    async fn get_speakings(
        &self,
        entra_ids: &[String],
    ) -> StoreResult<Vec<(String, SpeakingState)>> {
        self.records_by_id(entra_ids, speaking_key, "speaking state")
            .await
    }
}

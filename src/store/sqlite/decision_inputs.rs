//! A decision's reads in one hand-off to the blocking pool, on the reading connection.

use super::SqliteStore;
use super::rows::*;
use crate::store::{DecisionInputStore, DecisionInputs, StoreResult, require};
use async_trait::async_trait;
use rusqlite::OptionalExtension;

#[async_trait]
impl DecisionInputStore for SqliteStore {
    async fn get_decision_inputs(
        &self,
        entra_id: &str,
        with_speaking: bool,
    ) -> StoreResult<Option<DecisionInputs>> {
        require("Entra id", entra_id)?;
        let entra_id = entra_id.to_string();
        self.run(move |c| {
            let Some(link) = row(c, USER_BY_ENTRA_ID, [&entra_id], user_from_row)
                .optional()
                .ctx("read user link")?
            else {
                return Ok(None);
            };
            let switches = read_one(c, SWITCHES_BY_USER, &link.swyx_user_id, "user switches")?;
            let state = read_one(c, STATE_BY_USER, &entra_id, "sync state")?;
            let speaking = match with_speaking {
                true => read_one(c, SPEAKING_BY_USER, &entra_id, "speaking state")?,
                false => None,
            };
            Ok(Some(DecisionInputs {
                link,
                switches,
                state,
                speaking,
            }))
        })
        .await
    }
}

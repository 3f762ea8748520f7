//! A decision's reads in one point call each, on the reading connection.

use super::SqliteStore;
use super::rows::*;
use crate::domain::Timestamp;
use crate::store::{DecisionInputStore, DecisionInputs, StoreResult, SwyxEventInputs, require};
use async_trait::async_trait;

#[async_trait]
impl DecisionInputStore for SqliteStore {
    async fn get_decision_inputs(
        &self,
        entra_id: &str,
        with_speaking: bool,
    ) -> StoreResult<Option<DecisionInputs>> {
        require("Entra id", entra_id)?;
        let entra_id = entra_id.to_string();
        self.run_quick(move |c| {
            let Some(link) = read_link(c, USER_BY_ENTRA_ID, &entra_id)? else {
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

    async fn get_swyx_event_inputs(
        &self,
        swyx_user_id: &str,
        replay_key: &str,
        now: Timestamp,
    ) -> StoreResult<SwyxEventInputs> {
        require("Swyx user id", swyx_user_id)?;
        require("idempotency key", replay_key)?;
        let (id, key) = (swyx_user_id.to_string(), replay_key.to_string());
        self.run_quick(move |c| {
            Ok(SwyxEventInputs {
                link: read_link(c, USER_BY_SWYX_ID, &id)?,
                switches: read_one(c, SWITCHES_BY_USER, &id, "user switches")?,
                replayed: claim_active(c, &key, now)?,
            })
        })
        .await
    }
}

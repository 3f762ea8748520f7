//! A decision's reads in two round trips: the link, the sync state and (when asked for) the
//! speaking state in one `BatchGetItem`, all keyed by the Entra id; then the switches, keyed by
//! the Swyx id the link names.

use super::DynamoStore;
use super::batch::pk_of;
use super::items::*;
use super::speaking::speaking_key;
use crate::store::{DecisionInputStore, DecisionInputs, StoreResult, SwitchStore, require};
use async_trait::async_trait;

#[async_trait]
impl DecisionInputStore for DynamoStore {
    async fn get_decision_inputs(
        &self,
        entra_id: &str,
        with_speaking: bool,
    ) -> StoreResult<Option<DecisionInputs>> {
        require("Entra id", entra_id)?;
        let mut keys = vec![user_key(entra_id), state_key(entra_id)];
        if with_speaking {
            keys.push(speaking_key(entra_id));
        }
        // Every key of the batch has a partition of its own, so the partition tells them apart.
        let pks: Vec<Option<String>> = keys.iter().map(|k| pk_of(k).map(str::to_owned)).collect();
        let items = self.batch_get(keys).await?;
        let found = |i: usize| {
            items
                .iter()
                .find(|item| pk_of(item).is_some() && pk_of(item) == pks[i].as_deref())
        };
        let Some(link): Option<crate::store::UserLink> = found(0)
            .map(|item| parse_data(item, "user link"))
            .transpose()?
        else {
            return Ok(None);
        };
        let state = found(1)
            .map(|item| parse_data(item, "sync state"))
            .transpose()?;
        let speaking = match with_speaking {
            true => found(2)
                .map(|item| parse_data(item, "speaking state"))
                .transpose()?,
            false => None,
        };
        let switches = self.get_switches(&link.swyx_user_id).await?;
        Ok(Some(DecisionInputs {
            link,
            switches,
            state,
            speaking,
        }))
    }
}

//! A decision's reads in as few round trips as the keys allow. A presence: the link, the sync
//! state and (when asked for) the speaking state in one `BatchGetItem`, all keyed by the Entra
//! id, with the switches of the Swyx user the link named when this process last read it
//! ([`super::swyx_ids`]); the switches of a user read for the first time, or linked anew, after
//! it (keyed by the Swyx id the link names). A Swyx event: the link by Swyx id, the switches and
//! the event's claim in one `BatchGetItem`.

use super::DynamoStore;
use super::items::*;
use super::speaking::speaking_key;
use super::switches::switches_key;
use crate::domain::Timestamp;
use crate::store::{
    DecisionInputStore, DecisionInputs, StoreResult, SwitchStore, SwyxEventInputs, UserLink,
    require,
};
use async_trait::async_trait;

#[async_trait]
impl DecisionInputStore for DynamoStore {
    async fn get_decision_inputs(
        &self,
        entra_id: &str,
        with_speaking: bool,
    ) -> StoreResult<Option<DecisionInputs>> {
        require("Entra id", entra_id)?;
        let (user, state) = (user_key(entra_id), state_key(entra_id));
        let speaking = with_speaking.then(|| speaking_key(entra_id));
        // The switches of the Swyx user the link named last time, read along (a hint).
        let hint = self.swyx_ids.get(entra_id);
        let switches = hint.as_deref().map(switches_key);
        let mut keys = vec![user.clone(), state.clone()];
        keys.extend(speaking.iter().chain(&switches).cloned());
        let items = self.batch_get(keys).await?;
        let link = parse_found::<UserLink>(&items, &user, "user link")?;
        let swyx_user_id = link.as_ref().map(|l| l.swyx_user_id.as_str());
        self.swyx_ids.learn(entra_id, swyx_user_id);
        let Some(link) = link else {
            return Ok(None);
        };
        let state = parse_found(&items, &state, "sync state")?;
        let speaking = match &speaking {
            Some(key) => parse_found(&items, key, "speaking state")?,
            None => None,
        };
        let switches = match switches {
            Some(key) if hint.as_deref() == Some(link.swyx_user_id.as_str()) => {
                parse_found(&items, &key, "user switches")?
            }
            _ => self.get_switches(&link.swyx_user_id).await?,
        };
        Ok(Some(DecisionInputs {
            link,
            switches,
            state,
            speaking,
        }))
    }

    async fn get_swyx_event_inputs(
        &self,
        swyx_user_id: &str,
        replay_key: &str,
        now: Timestamp,
    ) -> StoreResult<SwyxEventInputs> {
        require("Swyx user id", swyx_user_id)?;
        require("idempotency key", replay_key)?;
        let keys = vec![
            swyx_key(swyx_user_id),
            switches_key(swyx_user_id),
            claim_key(replay_key),
        ];
        let items = self.batch_get(keys.clone()).await?;
        Ok(SwyxEventInputs {
            link: parse_found(&items, &keys[0], "user link")?,
            switches: parse_found(&items, &keys[1], "user switches")?,
            replayed: match find(&items, &keys[2]) {
                Some(item) => super::claim_active(item, now)?,
                None => false,
            },
        })
    }
}

/// The record of the item of `items` at `key`, if there is one.
fn parse_found<T: serde::de::DeserializeOwned>(
    items: &[Item],
    key: &Item,
    what: &str,
) -> StoreResult<Option<T>> {
    find(items, key)
        .map(|item| parse_data(item, what))
        .transpose()
}

/// The item of `items` at `key` (every key attribute equal).
fn find<'a>(items: &'a [Item], key: &Item) -> Option<&'a Item> {
    items.iter().find(|item| {
        key.iter()
            .all(|(name, value)| item.get(name) == Some(value))
    })
}

//! What a decision reads, asked for in one call. Judging a Teams presence: the link, the user's
//! own switches, the sync state and, for a presence that may be the bridge's own call coming
//! back, the speaking state. A Swyx event: the link by Swyx id, the switches and whether the
//! event was applied before. Each separate read is a round trip to DynamoDB or a hand-off to
//! SQLite's thread, one after the other; a backend answers these in as few as it can (SQLite:
//! one hand-off each; DynamoDB: one `BatchGetItem`, and for a presence then the switches the link
//! names).

use super::{
    IdempotencyStore, SpeakingStore, StoreResult, SwitchStore, SyncStateStore, UserLink,
    UserLinkStore,
};
use super::{UserSwitches, require};
use crate::domain::{SpeakingState, Timestamp, UserSyncState};
use async_trait::async_trait;

/// One linked user's records a decision is made on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionInputs {
    pub link: UserLink,
    /// The user's own direction switches, if they have any.
    pub switches: Option<UserSwitches>,
    pub state: Option<UserSyncState>,
    /// Read only when asked for (`with_speaking`); `None` otherwise.
    pub speaking: Option<SpeakingState>,
}

/// What a Swyx event is decided on, before its user's speaking state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwyxEventInputs {
    /// The link of the event's Swyx user, if linked.
    pub link: Option<UserLink>,
    /// The Swyx user's own direction switches, if they have any.
    pub switches: Option<UserSwitches>,
    /// The event's idempotency key is remembered ([`IdempotencyStore::is_claimed`]).
    pub replayed: bool,
}

/// The reads of one decision together. Every backend gives the same answer as the separate
/// reads; the defaults make them one after the other.
#[async_trait]
pub trait DecisionInputStore:
    UserLinkStore + SwitchStore + SyncStateStore + SpeakingStore + IdempotencyStore + Send + Sync
{
    /// `None` when `entra_id` is not linked (nothing else is read then).
    async fn get_decision_inputs(
        &self,
        entra_id: &str,
        with_speaking: bool,
    ) -> StoreResult<Option<DecisionInputs>> {
        require("Entra id", entra_id)?;
        let Some(link) = self.get_user(entra_id).await? else {
            return Ok(None);
        };
        let switches = self.get_switches(&link.swyx_user_id).await?;
        let state = self.get_sync_state(entra_id).await?;
        let speaking = match with_speaking {
            true => self.get_speaking(entra_id).await?,
            false => None,
        };
        Ok(Some(DecisionInputs {
            link,
            switches,
            state,
            speaking,
        }))
    }

    /// A Swyx event's reads: its user's link and switches, and whether `replay_key` is
    /// remembered at `now`. All three are read, linked or not.
    async fn get_swyx_event_inputs(
        &self,
        swyx_user_id: &str,
        replay_key: &str,
        now: Timestamp,
    ) -> StoreResult<SwyxEventInputs> {
        require("Swyx user id", swyx_user_id)?;
        Ok(SwyxEventInputs {
            link: self.get_user_by_swyx_id(swyx_user_id).await?,
            switches: self.get_switches(swyx_user_id).await?,
            replayed: self.is_claimed(replay_key, now).await?,
        })
    }
}

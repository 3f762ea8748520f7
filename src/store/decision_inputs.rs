//! What judging one user's presence reads, asked for in one call: the link, the user's own
//! switches, the sync state and, for a presence that may be the bridge's own call coming back,
//! the speaking state. A lone notification is the usual case, and each separate read is a
//! round trip to DynamoDB or a hand-off to SQLite's thread; a backend answers this in as few as
//! it can (SQLite: one hand-off; DynamoDB: one `BatchGetItem`, then the switches the link names).

use super::{SpeakingStore, StoreResult, SwitchStore, SyncStateStore, UserLink, UserLinkStore};
use super::{UserSwitches, require};
use crate::domain::{SpeakingState, UserSyncState};
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

/// The reads of one decision together. Every backend gives the same answer as the separate
/// reads; the default makes them one after the other.
#[async_trait]
pub trait DecisionInputStore:
    UserLinkStore + SwitchStore + SyncStateStore + SpeakingStore + Send + Sync
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
}

//! Whose calls maintenance ends. Users with Swyx → Teams switched off (the configuration's
//! `[users] swyx_to_teams`, or a user's own switch): an "In a call" the bridge set before the
//! switch went off must not wait for the user's next Swyx event (which may never come) to be
//! cleared. And users no longer linked, whose calls an unlink cut short did not end, or a call
//! event that raced the unlink started: their Swyx events are ignored, so nothing else would.

use crate::domain::Directions;
use crate::store::{StoreResult, SwitchStore, UserLinkStore};
use std::collections::HashMap;

/// Why a user's calls end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    SwitchedOff,
    Unlinked,
}

pub(super) struct SwitchedOff {
    everyone_on: bool,
    /// Swyx user id → Swyx → Teams on, for users with a switch of their own.
    own: HashMap<String, bool>,
}

impl SwitchedOff {
    pub(super) async fn load(store: &dyn SwitchStore, directions: Directions) -> StoreResult<Self> {
        let own = store
            .list_switches()
            .await?
            .into_iter()
            .filter_map(|s| Some((s.swyx_user_id, s.switches.swyx_to_teams?)))
            .collect();
        Ok(Self {
            everyone_on: directions.swyx_to_teams,
            own,
        })
    }

    /// Whether anyone at all may be switched off.
    pub(super) fn anyone(&self) -> bool {
        !self.everyone_on || self.own.values().any(|on| !on)
    }

    /// Those of `entra_ids` whose calls are to end, and why.
    pub(super) async fn ending(
        &self,
        store: &dyn UserLinkStore,
        entra_ids: &[String],
    ) -> StoreResult<HashMap<String, Ending>> {
        if entra_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut ending: HashMap<String, Ending> = entra_ids
            .iter()
            .map(|id| (id.clone(), Ending::Unlinked))
            .collect();
        for link in store.get_users(entra_ids).await? {
            let on = self
                .own
                .get(&link.swyx_user_id)
                .copied()
                .unwrap_or(self.everyone_on);
            if on {
                ending.remove(&link.entra_id);
            } else {
                ending.insert(link.entra_id, Ending::SwitchedOff);
            }
        }
        Ok(ending)
    }
}

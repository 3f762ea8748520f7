//! Who has Swyx → Teams switched off (the configuration's `[users] swyx_to_teams`, or a user's
//! own switch): maintenance ends their calls, so an "In a call" the bridge set before the switch
//! went off does not wait for the user's next Swyx event (which may never come) to be cleared.

use crate::domain::Directions;
use crate::store::{StoreResult, SwitchStore, UserLinkStore};
use std::collections::{HashMap, HashSet};

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

    /// Whether anyone at all may be switched off (else nothing needs looking up).
    pub(super) fn anyone(&self) -> bool {
        !self.everyone_on || self.own.values().any(|on| !on)
    }

    /// The Entra ids among `entra_ids` whose Swyx → Teams is off. Users no longer linked are
    /// not: unlinking ends their calls itself.
    pub(super) async fn among(
        &self,
        store: &dyn UserLinkStore,
        entra_ids: &[String],
    ) -> StoreResult<HashSet<String>> {
        if !self.anyone() || entra_ids.is_empty() {
            return Ok(HashSet::new());
        }
        Ok(store
            .get_users(entra_ids)
            .await?
            .into_iter()
            .filter(|link| {
                !self
                    .own
                    .get(&link.swyx_user_id)
                    .copied()
                    .unwrap_or(self.everyone_on)
            })
            .map(|link| link.entra_id)
            .collect())
    }
}

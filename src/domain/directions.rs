//! Which directions sync for a user: Teams → Swyx (the mapped status), Swyx "Speaking" → Teams
//! ("In a call"), and Swyx's hand-set "Do not disturb"/"Away" → Teams (preferred presence). The
//! configuration sets them for everyone; a user may carry switches of their own that override
//! one direction each, and a switch left unset follows the configuration.

use serde::{Deserialize, Serialize};

/// The directions in effect (for everyone, or for one user).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Directions {
    pub teams_to_swyx: bool,
    pub swyx_to_teams: bool,
    pub swyx_status_to_teams: bool,
}

impl Default for Directions {
    /// Swyx's own sync does the first two; the third goes beyond it and is asked for.
    fn default() -> Self {
        Self {
            teams_to_swyx: true,
            swyx_to_teams: true,
            swyx_status_to_teams: false,
        }
    }
}

/// One user's own switches; `None` follows the configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectionSwitches {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams_to_swyx: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swyx_to_teams: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swyx_status_to_teams: Option<bool>,
}

impl DirectionSwitches {
    /// Nothing of the user's own: the record can go.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// `self` with every switch that `change` sets (`Some`) taken from it; `change`'s inner
    /// `None` means "back to the configuration".
    pub fn changed_by(self, change: &SwitchChange) -> Self {
        Self {
            teams_to_swyx: change.teams_to_swyx.unwrap_or(self.teams_to_swyx),
            swyx_to_teams: change.swyx_to_teams.unwrap_or(self.swyx_to_teams),
            swyx_status_to_teams: change
                .swyx_status_to_teams
                .unwrap_or(self.swyx_status_to_teams),
        }
    }
}

/// What an operator changes: `None` leaves a switch alone, `Some(None)` hands it back to the
/// configuration, `Some(Some(b))` sets it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwitchChange {
    pub teams_to_swyx: Option<Option<bool>>,
    pub swyx_to_teams: Option<Option<bool>>,
    pub swyx_status_to_teams: Option<Option<bool>>,
}

impl Directions {
    /// The directions in effect for a user with `own` switches.
    pub fn for_user(self, own: &DirectionSwitches) -> Self {
        Self {
            teams_to_swyx: own.teams_to_swyx.unwrap_or(self.teams_to_swyx),
            swyx_to_teams: own.swyx_to_teams.unwrap_or(self.swyx_to_teams),
            swyx_status_to_teams: own
                .swyx_status_to_teams
                .unwrap_or(self.swyx_status_to_teams),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_switch_overrides_one_direction_and_unset_ones_follow_the_configuration() {
        let global = Directions::default();
        let own = DirectionSwitches {
            teams_to_swyx: Some(false),
            ..Default::default()
        };
        let effective = global.for_user(&own);
        assert!(!effective.teams_to_swyx);
        assert!(effective.swyx_to_teams);
        assert!(!effective.swyx_status_to_teams);

        let change = SwitchChange {
            teams_to_swyx: Some(None),
            swyx_status_to_teams: Some(Some(true)),
            ..Default::default()
        };
        let own = own.changed_by(&change);
        assert_eq!(own.teams_to_swyx, None, "handed back to the configuration");
        assert_eq!(own.swyx_status_to_teams, Some(true));
        assert!(!own.is_empty());
        assert!(DirectionSwitches::default().is_empty());
    }
}

//! Swyx → Teams for a status the user set in SwyxIt! ("Do not disturb", "Away"): which preferred
//! presence Teams gets. Only a change the user made by hand is acted on: one the connector made
//! from a Teams-derived status (origin `teams`, i.e. set by the bridge itself) never goes back
//! to Teams — the same no-echo guarantee as "In a call" — and automatic ones (idle, log-off)
//! are Swyx's own business.

/// The user's own Swyx status, as a `status.changed` event carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnSwyxStatus {
    Available,
    Away,
    DoNotDisturb,
    LoggedOff,
}

/// Who changed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangedBy {
    User,
    /// The connector, applying what the bridge sent from Teams.
    Teams,
    System,
}

/// What Teams' preferred presence must become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreferredChange {
    /// `setUserPreferredPresence` with this availability and activity.
    Set(&'static str, &'static str),
    /// `clearUserPreferredPresence`: the user's sessions decide again.
    Clear,
}

/// `None`: Teams is left alone.
pub fn preferred_change(status: OwnSwyxStatus, by: ChangedBy) -> Option<PreferredChange> {
    if by != ChangedBy::User {
        return None;
    }
    Some(match status {
        OwnSwyxStatus::DoNotDisturb => PreferredChange::Set("DoNotDisturb", "DoNotDisturb"),
        OwnSwyxStatus::Away => PreferredChange::Set("Away", "Away"),
        // Back to available (or logged off by hand): the preferred state the bridge set goes.
        OwnSwyxStatus::Available | OwnSwyxStatus::LoggedOff => PreferredChange::Clear,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_hand_set_status_reaches_teams() {
        use OwnSwyxStatus::*;
        let by_hand = |s| preferred_change(s, ChangedBy::User);
        assert_eq!(
            by_hand(DoNotDisturb),
            Some(PreferredChange::Set("DoNotDisturb", "DoNotDisturb"))
        );
        assert_eq!(by_hand(Away), Some(PreferredChange::Set("Away", "Away")));
        assert_eq!(by_hand(Available), Some(PreferredChange::Clear));
        for s in [Available, Away, DoNotDisturb, LoggedOff] {
            assert_eq!(preferred_change(s, ChangedBy::Teams), None, "no echo");
            assert_eq!(preferred_change(s, ChangedBy::System), None);
        }
    }
}

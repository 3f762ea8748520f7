//! Swyx → Teams for a status the user set in SwyxIt! ("Do not disturb", "Away"): which preferred
//! presence Teams gets. Only a change the user made by hand is acted on: one the connector made
//! from a Teams-derived status (origin `teams`, i.e. set by the bridge itself) never goes back
//! to Teams — the same no-echo guarantee as "In a call" — and automatic ones (idle, log-off)
//! are Swyx's own business.

use super::{SpeakingSettings, SpeakingState, Timestamp};
use serde::{Deserialize, Serialize};

/// The user's own Swyx status, as a `status.changed` event carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// A hand-set status Graph did not take within its event's request: kept with the user's
/// speaking state (the due index maintenance already reads) until Graph takes it, so the
/// connector's event is answered 2xx and Teams still gets the change. A newer change replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreferredRetry {
    /// Names the mark of a preferred presence the bridge set (`preferred-set:{swyx user}`).
    pub swyx_user_id: String,
    pub status: OwnSwyxStatus,
    pub attempts: u32,
    /// When maintenance may try again.
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Longest wait between two tries: a hand-set status should reach Teams within minutes.
const MAX_PREFERRED_DELAY_MS: i64 = 5 * 60_000;

impl PreferredRetry {
    /// The retry after one more failed try at `now`, no earlier than Graph's `Retry-After`.
    pub fn failed(
        previous: Option<&PreferredRetry>,
        swyx_user_id: &str,
        status: OwnSwyxStatus,
        now: Timestamp,
        retry_after_ms: Option<i64>,
        error: String,
    ) -> Self {
        let attempts = previous.map_or(0, |p| p.attempts) + 1;
        let backoff = (2_000i64 << attempts.min(16)).min(MAX_PREFERRED_DELAY_MS);
        Self {
            swyx_user_id: swyx_user_id.to_string(),
            status,
            attempts,
            at: now.plus_millis(retry_after_ms.unwrap_or(0).max(backoff)),
            last_error: Some(error),
        }
    }
}

impl SpeakingState {
    /// The state with `preferred` as the hand-set status still to reach Teams (`None`: none).
    pub fn with_preferred(
        &self,
        preferred: Option<PreferredRetry>,
        now: Timestamp,
        s: &SpeakingSettings,
    ) -> Self {
        let mut next = self.clone();
        next.preferred = preferred;
        next.finish(self, now, s)
    }
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

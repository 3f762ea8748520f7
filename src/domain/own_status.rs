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

/// Graph's longest default life of a preferred presence (the others: DoNotDisturb and Busy, a
/// day), so the bridge's mark outlives every preferred presence it set.
pub const PREFERRED_MAX_LIFE_MS: i64 = 7 * 24 * 60 * 60_000;

/// Whether a preferred presence the bridge set may be live in Teams: the bridge clears only one
/// it set, never one the user chose in Teams. Kept in the user's speaking state next to the
/// change on its way to Teams ([`PreferredRetry`]), so the two only ever change together, in one
/// conditional write: a clear that ends can never take away the mark of a newer set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state")]
pub enum PreferredMark {
    /// The state has no mark of its own yet (stored before the mark moved into it, or never
    /// touched by a hand-set status since): an idempotency claim `preferred-set:{swyx user}`,
    /// as older versions kept the mark (up to 7 days), says.
    #[default]
    OldClaim,
    /// None of the bridge's is live: it cleared its own, or there was none.
    NotSet,
    /// The bridge set one (or is about to), live at most until `until`.
    Set { until: Timestamp },
}

impl PreferredMark {
    /// Whether a clear at `now` is the bridge's to send; `claimed`: whether the old claim is
    /// held, which counts only for [`Self::OldClaim`].
    pub fn ours(self, now: Timestamp, claimed: bool) -> bool {
        match self {
            PreferredMark::OldClaim => claimed,
            PreferredMark::NotSet => false,
            PreferredMark::Set { until } => until > now,
        }
    }

    /// The mark stored with `change` as it is (about to be) sent at `now`: a set may be live for
    /// Graph's longest default life from now on; a clear keeps the mark of what it clears (an old
    /// claim's moves into the state) until Graph took it, and is nothing of the bridge's to clear
    /// ([`Self::NotSet`]) without one. `claimed` as for [`Self::ours`].
    pub fn sending(self, change: PreferredChange, now: Timestamp, claimed: bool) -> Self {
        let longest = now.plus_millis(PREFERRED_MAX_LIFE_MS);
        match change {
            PreferredChange::Set(..) => PreferredMark::Set {
                until: match self {
                    PreferredMark::Set { until } => until.max(longest),
                    _ => longest,
                },
            },
            PreferredChange::Clear if !self.ours(now, claimed) => PreferredMark::NotSet,
            // The claim's own expiry is not known: as long as any preferred presence lives.
            PreferredChange::Clear if self == PreferredMark::OldClaim => {
                PreferredMark::Set { until: longest }
            }
            PreferredChange::Clear => self,
        }
    }

    pub fn is_old_claim(&self) -> bool {
        *self == PreferredMark::OldClaim
    }
}

/// A hand-set status on its way to Teams: stored with the user's speaking state (the due index
/// maintenance already reads) before Graph is asked, until Graph takes it, so a request that
/// dies or a Graph failure (the event is still answered 2xx) leaves it for maintenance. A newer
/// change replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreferredRetry {
    /// The Swyx user who set it; names the claim older versions kept as the mark
    /// ([`PreferredMark::OldClaim`]).
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
    /// A change the user just made, as stored before its Graph call, in place of any older one.
    pub fn wanted(
        swyx_user_id: &str,
        status: OwnSwyxStatus,
        now: Timestamp,
        s: &SpeakingSettings,
    ) -> Self {
        Self {
            swyx_user_id: swyx_user_id.to_string(),
            status,
            attempts: 0,
            at: now.plus_millis(s.grace_ms),
            last_error: None,
        }
    }

    /// This change as stored just before a Graph call at `now`: due for maintenance again only
    /// if that call has not ended within the grace (its process died).
    pub fn sending(&self, now: Timestamp, s: &SpeakingSettings) -> Self {
        Self {
            at: now.plus_millis(s.grace_ms),
            ..self.clone()
        }
    }

    /// What is still to do once this change's Graph call ended: `failed` (the retry) when Graph
    /// did not take it. `replaced` is the older change this one took the place of at
    /// `stored_at`: a different one not due then may have been on its way to Graph (its own
    /// request's or maintenance's call) and land after this one, so this one is sent again once
    /// that call is surely over.
    pub fn after_call(
        &self,
        failed: Option<PreferredRetry>,
        replaced: Option<&PreferredRetry>,
        stored_at: Timestamp,
    ) -> Option<PreferredRetry> {
        let change = |s| preferred_change(s, ChangedBy::User);
        let racing = replaced
            .filter(|r| r.at > stored_at && change(r.status) != change(self.status))
            .map(|r| r.at);
        match (failed, racing) {
            (None, None) => None,
            (None, Some(at)) => Some(Self { at, ..self.clone() }),
            (Some(f), racing) => Some(Self {
                at: racing.map_or(f.at, |at| at.max(f.at)),
                ..f
            }),
        }
    }

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
    /// The state with `preferred` as the hand-set status still to reach Teams (`None`: none)
    /// and `mark` as the bridge's own preferred presence.
    pub fn with_preferred(
        &self,
        preferred: Option<PreferredRetry>,
        mark: PreferredMark,
        now: Timestamp,
        s: &SpeakingSettings,
    ) -> Self {
        let mut next = self.clone();
        next.preferred = preferred;
        next.preferred_mark = mark;
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

    #[test]
    fn the_mark_says_whether_a_clear_is_the_bridges_to_send() {
        use PreferredMark::*;
        let t = |ms: i64| Timestamp(1_800_000_000_000 + ms);
        let set = PreferredChange::Set("DoNotDisturb", "DoNotDisturb");
        let clear = PreferredChange::Clear;
        let longest = t(PREFERRED_MAX_LIFE_MS);
        // A set is the bridge's for as long as Graph may keep it; a later set makes it longer.
        for before in [OldClaim, NotSet, Set { until: t(5) }] {
            assert_eq!(before.sending(set, t(0), false), Set { until: longest });
        }
        let live = Set { until: t(10) };
        assert!(live.ours(t(9), false));
        assert!(!live.ours(t(10), false), "Graph dropped it by now");
        // A clear keeps the mark of what it clears until Graph took it.
        assert_eq!(live.sending(clear, t(9), false), live);
        assert_eq!(live.sending(clear, t(10), false), NotSet);
        assert_eq!(
            NotSet.sending(clear, t(0), true),
            NotSet,
            "the old claim is past"
        );
        // No mark in the state yet: an older version's claim says, and moves into the state.
        assert!(OldClaim.ours(t(0), true));
        assert!(!OldClaim.ours(t(0), false));
        assert_eq!(OldClaim.sending(clear, t(0), true), Set { until: longest });
        assert_eq!(OldClaim.sending(clear, t(0), false), NotSet);
    }

    #[test]
    fn a_state_stored_before_the_mark_moved_in_leaves_it_to_the_old_claim() {
        let old: SpeakingState = serde_json::from_str(
            r#"{"revision":3,"session":{"state":"None"},
            "preferred":{"swyx_user_id":"1001","status":"DoNotDisturb","attempts":1,"at":5}}"#,
        )
        .unwrap();
        assert_eq!(old.preferred_mark, PreferredMark::OldClaim);
        let marked = SpeakingState {
            preferred_mark: PreferredMark::Set {
                until: Timestamp(7),
            },
            ..old
        };
        let json = serde_json::to_string(&marked).unwrap();
        assert!(
            json.contains(r#""preferred_mark":{"state":"Set","until":7}"#),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<SpeakingState>(&json).unwrap(),
            marked
        );
    }

    #[test]
    fn a_change_that_may_have_raced_an_older_one_to_graph_is_sent_again_after_it() {
        let s = SpeakingSettings::default();
        let t = |ms: i64| Timestamp(1_800_000_000_000 + ms);
        let failed = |p: &PreferredRetry, at| {
            PreferredRetry::failed(Some(p), "1001", p.status, at, None, "503".into())
        };
        let dnd = PreferredRetry::wanted("1001", OwnSwyxStatus::DoNotDisturb, t(0), &s);
        let back = PreferredRetry::wanted("1001", OwnSwyxStatus::Available, t(1_000), &s);
        // The DND's own call was under way when "Available" took its place: Graph may get the
        // two in either order, so "Available" goes again once the DND's call is surely over.
        let again = back.after_call(None, Some(&dnd), t(1_000)).unwrap();
        assert_eq!((again.status, again.at), (OwnSwyxStatus::Available, dnd.at));
        let retry = back.after_call(Some(failed(&back, t(1_100))), Some(&dnd), t(1_000));
        assert_eq!(
            retry.map(|r| r.at),
            Some(dnd.at),
            "not before the older call is over"
        );
        // An older change that was due (nothing on its way), or the same change: done.
        let due = failed(&dnd, t(0));
        assert_eq!(back.after_call(None, Some(&due), due.at), None);
        let logged_off = PreferredRetry::wanted("1001", OwnSwyxStatus::LoggedOff, t(0), &s);
        assert_eq!(back.after_call(None, Some(&logged_off), t(1_000)), None);
        assert_eq!(back.after_call(None, None, t(1_000)), None);
    }
}

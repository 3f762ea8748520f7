//! The per-user sync decision (Teams → Swyx): apply a presence only if it is newer than the last
//! one applied for that user, and forward to Swyx only when the mapped status changes.
//!
//! Graph retries a delivery for up to 4 hours, so duplicates and late arrivals are normal. Graph's
//! `sequenceNumber` orders presences when both sides have one; otherwise the time the bridge
//! received the notification does.

use super::{MappedStatus, MappingRules, PresenceValue, SwyxStatus, TeamsPresence, Timestamp};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// What the bridge remembers per linked user. `revision` grows on every stored change; it is the
/// optimistic-concurrency version in the store and orders the updates sent to the connector, which
/// ignores a revision lower than one it has applied. It never falls below the receive time in
/// milliseconds, so a user who is unlinked and linked again (state deleted) still continues above
/// every revision the connector has seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSyncState {
    pub revision: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sequence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_received_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_presence: Option<TeamsPresence>,
    /// The Teams-derived status the bridge has set on Swyx (or is delivering); `None` when it has
    /// set none or withdrew it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams_status: Option<SwyxStatus>,
    /// `last_presence` was held back: taken as the echo of the bridge's own "In a call" session,
    /// or recorded while Teams → Swyx was switched off for the user. Once that session is gone
    /// (or the direction is on again), the same presence read back (same `sequenceNumber`: Teams
    /// did not change) is judged again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub echo_held: bool,
}

/// One presence as received by the bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub presence: TeamsPresence,
    pub received_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "status")]
pub enum SwyxAction {
    /// Set the Teams-derived status of the Swyx user.
    Set(SwyxStatus),
    /// Withdraw the Teams-derived status, so Swyx's own status rules again.
    Withdraw,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncDecision {
    /// Older than, or the same as, what was applied: nothing changes.
    Stale,
    /// Newer, but the Swyx status stays as it is: store the new state, send nothing.
    Record(UserSyncState),
    /// Newer and the Swyx status changes: store the new state, then send the action.
    Forward(UserSyncState, SwyxAction),
}

/// One status change for the connector, as sent and as kept pending while it cannot be delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwyxUpdate {
    pub swyx_user_id: String,
    pub entra_id: String,
    pub action: SwyxAction,
    /// The user's sync-state revision that produced this update (orders updates per user).
    pub revision: u64,
    /// The Teams presence it came from.
    pub availability: PresenceValue,
    pub activity: PresenceValue,
    pub out_of_office: bool,
    /// When the bridge received the Teams presence.
    pub observed_at: Timestamp,
}

impl SwyxUpdate {
    pub fn new(
        swyx_user_id: &str,
        entra_id: &str,
        action: SwyxAction,
        state: &UserSyncState,
        obs: &Observation,
    ) -> Self {
        Self {
            swyx_user_id: swyx_user_id.to_string(),
            entra_id: entra_id.to_string(),
            action,
            revision: state.revision,
            availability: obs.presence.availability.clone(),
            activity: obs.presence.activity.clone(),
            out_of_office: obs.presence.out_of_office,
            observed_at: obs.received_at,
        }
    }
}

/// What the connector says it holds in a Swyx user's Teams-derived slot (contract 1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldStatus {
    pub status: Option<SwyxStatus>,
    /// The highest revision it applied; it ignores any update at or below it.
    pub revision: u64,
}

/// How to bring Swyx back to the bridge's decision when it holds something else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwyxRepair {
    /// The revision to send: above what the connector applied, so it is not ignored.
    pub revision: u64,
    /// The stored state's revision must first be raised to `revision` (the connector is at or
    /// above it, e.g. restored from a backup taken after a later update).
    pub raise_state: bool,
}

/// Compares the bridge's decision with what Swyx holds; `None` when they agree.
pub fn swyx_repair(state: &UserSyncState, held: &HeldStatus) -> Option<SwyxRepair> {
    if state.teams_status == held.status {
        return None;
    }
    Some(if state.revision > held.revision {
        SwyxRepair {
            revision: state.revision,
            raise_state: false,
        }
    } else {
        SwyxRepair {
            revision: held.revision + 1,
            raise_state: true,
        }
    })
}

/// Compares two `sequenceNumber`s. Graph calls them lexicographically sortable; when both are
/// plain digit strings they are compared as numbers, so a shorter number is never "later".
fn compare_sequence(a: &str, b: &str) -> Ordering {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if digits(a) && digits(b) {
        let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    } else {
        a.cmp(b)
    }
}

/// Graph retries a notification for up to 4 hours; what arrives later than that after the last
/// applied one cannot be a retry of something older.
pub const GRAPH_RETRY_WINDOW_MS: i64 = 4 * 60 * 60_000;

fn is_newer(state: &UserSyncState, obs: &Observation, own_session_active: bool) -> bool {
    let rejudge_echo = state.echo_held && !own_session_active;
    if let (Some(last), Some(new)) = (&state.last_sequence, &obs.presence.sequence_number) {
        // One bogus or reset sequenceNumber must not freeze the user: past the retry window
        // the receive time orders again.
        let beyond_retries = state
            .last_received_at
            .is_some_and(|at| obs.received_at.millis() - at.millis() > GRAPH_RETRY_WINDOW_MS);
        return match compare_sequence(new, last) {
            Ordering::Greater => true,
            Ordering::Equal => rejudge_echo || beyond_retries,
            Ordering::Less => beyond_retries,
        };
    }
    match state.last_received_at {
        None => true,
        // Same millisecond: arrival order decides, but an identical presence is a duplicate.
        Some(last) if obs.received_at == last => {
            rejudge_echo || state.last_presence.as_ref() != Some(&obs.presence)
        }
        Some(last) => obs.received_at > last,
    }
}

/// The decision for one observation of one user.
pub fn decide(state: &UserSyncState, obs: &Observation, rules: &MappingRules) -> SyncDecision {
    decide_with_echo_guard(state, obs, Some(rules), false)
}

/// What the bridge's own setPresence session (Swyx → Teams) makes Teams show.
pub fn is_own_session_echo(presence: &TeamsPresence) -> bool {
    presence.availability.is("Busy")
        && (presence.activity.is("InACall") || presence.activity.is("InAConferenceCall"))
}

/// [`decide`], but while the bridge's own session may be live (`own_session_active`), a Teams
/// Busy/InACall (or InAConferenceCall) is most likely the echo of that session: it is recorded
/// (so ordering stays right) but not forwarded to Swyx, and the Swyx status stays as it was.
///
/// `rules` is `None` when Teams → Swyx is switched off for the user: the presence is recorded
/// and held back (judged again when read again), and a Teams-derived status the bridge had set
/// is withdrawn — the one thing a switched-off direction still sends, so Swyx's own status rules.
pub fn decide_with_echo_guard(
    state: &UserSyncState,
    obs: &Observation,
    rules: Option<&MappingRules>,
    own_session_active: bool,
) -> SyncDecision {
    if !is_newer(state, obs, own_session_active) {
        return SyncDecision::Stale;
    }
    judge(state, obs, rules, own_session_active)
}

/// Judges the stored last presence again at `now`, whatever its order: after the user's
/// direction switch or rules changed, so the change shows without waiting for Teams to change.
/// `Stale` when no presence was seen yet.
pub fn rejudge(
    state: &UserSyncState,
    now: Timestamp,
    rules: Option<&MappingRules>,
    own_session_active: bool,
) -> SyncDecision {
    let Some(presence) = state.last_presence.clone() else {
        return SyncDecision::Stale;
    };
    let obs = Observation {
        presence,
        received_at: now.max(state.last_received_at.unwrap_or(now)),
    };
    judge(state, &obs, rules, own_session_active)
}

fn judge(
    state: &UserSyncState,
    obs: &Observation,
    rules: Option<&MappingRules>,
    own_session_active: bool,
) -> SyncDecision {
    let echo = own_session_active && is_own_session_echo(&obs.presence);
    let mapped = match rules {
        _ if echo => match state.teams_status {
            Some(s) => MappedStatus::Swyx(s),
            None => MappedStatus::NoSync,
        },
        None => MappedStatus::NoSync,
        Some(rules) => rules.map(&obs.presence),
    };
    let action = match (state.teams_status, mapped) {
        (Some(old), MappedStatus::Swyx(new)) if old == new => None,
        (_, MappedStatus::Swyx(new)) => Some(SwyxAction::Set(new)),
        (Some(_), MappedStatus::NoSync) => Some(SwyxAction::Withdraw),
        (None, MappedStatus::NoSync) => None,
    };
    let next = UserSyncState {
        revision: (state.revision + 1).max(obs.received_at.millis().max(0) as u64),
        last_sequence: obs
            .presence
            .sequence_number
            .clone()
            .or_else(|| state.last_sequence.clone()),
        last_received_at: Some(obs.received_at),
        last_presence: Some(obs.presence.clone()),
        teams_status: match mapped {
            MappedStatus::Swyx(s) => Some(s),
            MappedStatus::NoSync => None,
        },
        echo_held: echo || rules.is_none(),
    };
    match action {
        None => SyncDecision::Record(next),
        Some(action) => SyncDecision::Forward(next, action),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(av: &str, act: &str, at: i64, seq: Option<&str>) -> Observation {
        let mut presence = TeamsPresence::new(av, act);
        presence.sequence_number = seq.map(str::to_string);
        Observation {
            presence,
            received_at: Timestamp(at),
        }
    }

    fn apply(state: &UserSyncState, o: &Observation) -> (UserSyncState, Option<SwyxAction>) {
        match decide(state, o, &MappingRules::default()) {
            SyncDecision::Stale => (state.clone(), None),
            SyncDecision::Record(s) => (s, None),
            SyncDecision::Forward(s, a) => (s, Some(a)),
        }
    }

    #[test]
    fn first_presence_is_forwarded_and_unchanged_mapping_is_not() {
        let s0 = UserSyncState::default();
        let (s1, a) = apply(&s0, &obs("Busy", "Busy", 10, None));
        assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Away)));
        assert_eq!(s1.revision, 10, "the first revision is the receive time");
        // In a meeting also maps to Away: recorded, not forwarded.
        let (s2, a) = apply(&s1, &obs("Busy", "InAMeeting", 20, None));
        assert_eq!(a, None);
        assert_eq!(s2.revision, 20);
        assert_eq!(s2.last_presence.unwrap().activity.as_str(), "InAMeeting");
    }

    #[test]
    fn duplicates_and_late_arrivals_by_sequence_number_are_stale() {
        let (s1, _) = apply(
            &UserSyncState::default(),
            &obs("Busy", "InACall", 10, Some("0000000005")),
        );
        assert_eq!(
            decide(
                &s1,
                &obs("Busy", "InACall", 99, Some("0000000005")),
                &MappingRules::default()
            ),
            SyncDecision::Stale
        );
        // Received later, but older by sequence: a Graph retry of an earlier delivery.
        assert_eq!(
            decide(
                &s1,
                &obs("Available", "Available", 99, Some("0000000004")),
                &MappingRules::default()
            ),
            SyncDecision::Stale
        );
        let (_, a) = apply(&s1, &obs("Available", "Available", 5, Some("0000000006")));
        assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Available)));
    }

    #[test]
    fn revisions_grow_even_when_the_clock_does_not() {
        let (s1, _) = apply(&UserSyncState::default(), &obs("Busy", "Busy", 1_000, None));
        let (s2, _) = apply(&s1, &obs("Available", "Available", 1_000, None));
        assert_eq!((s1.revision, s2.revision), (1_000, 1_001));
        // After an unlink/relink the state starts empty but the revision is still above the old ones.
        let (s3, _) = apply(&UserSyncState::default(), &obs("Busy", "Busy", 2_000, None));
        assert!(s3.revision > s2.revision);
    }

    #[test]
    fn numeric_sequence_numbers_compare_as_numbers() {
        assert_eq!(compare_sequence("10", "9"), Ordering::Greater);
        assert_eq!(compare_sequence("009", "10"), Ordering::Less);
        assert_eq!(compare_sequence("b", "a"), Ordering::Greater);
    }

    #[test]
    fn without_sequence_numbers_receive_time_orders() {
        let (s1, _) = apply(&UserSyncState::default(), &obs("Busy", "Busy", 100, None));
        assert_eq!(
            decide(
                &s1,
                &obs("Available", "Available", 50, None),
                &MappingRules::default()
            ),
            SyncDecision::Stale
        );
        assert_eq!(
            decide(
                &s1,
                &obs("Busy", "Busy", 100, None),
                &MappingRules::default()
            ),
            SyncDecision::Stale
        );
        let (_, a) = apply(&s1, &obs("Available", "Available", 100, None));
        assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Available)));
    }

    fn apply_guarded(
        state: &UserSyncState,
        o: &Observation,
        own_session: bool,
    ) -> (UserSyncState, Option<SwyxAction>) {
        match decide_with_echo_guard(state, o, Some(&MappingRules::default()), own_session) {
            SyncDecision::Stale => (state.clone(), None),
            SyncDecision::Record(s) => (s, None),
            SyncDecision::Forward(s, a) => (s, Some(a)),
        }
    }

    #[test]
    fn own_session_echo_is_recorded_but_not_forwarded() {
        let (s1, a) = apply(
            &UserSyncState::default(),
            &obs("Available", "Available", 1, None),
        );
        assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Available)));
        for activity in ["InACall", "InAConferenceCall"] {
            let (s2, a) = apply_guarded(&s1, &obs("Busy", activity, 2, None), true);
            assert_eq!(a, None, "{activity} is our own session's echo");
            assert_eq!(
                s2.teams_status,
                Some(SwyxStatus::Available),
                "Swyx keeps what it had"
            );
            assert_eq!(s2.last_presence.unwrap().activity.as_str(), activity);
        }
        // Nothing set on Swyx before: the echo sets nothing either.
        let (_, a) = apply_guarded(
            &UserSyncState::default(),
            &obs("Busy", "InACall", 2, None),
            true,
        );
        assert_eq!(a, None);
    }

    #[test]
    fn other_states_pass_the_echo_guard_and_calls_pass_after_the_session() {
        let (s1, _) = apply(
            &UserSyncState::default(),
            &obs("Available", "Available", 1, None),
        );
        let (s2, a) = apply_guarded(&s1, &obs("DoNotDisturb", "DoNotDisturb", 2, None), true);
        assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::DoNotDisturb)));
        let (s3, a) = apply_guarded(&s2, &obs("Busy", "InACall", 3, None), true);
        assert_eq!(a, None);
        let (s4, a) = apply_guarded(&s3, &obs("Available", "Available", 4, None), false);
        assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Available)));
        // Session cleared: a Teams call of the user's own is forwarded as Speaking again.
        let (_, a) = apply_guarded(&s4, &obs("Busy", "InACall", 5, None), false);
        assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Speaking)));
    }

    #[test]
    fn a_real_call_hidden_by_our_session_is_forwarded_when_read_back_unchanged() {
        let (s1, _) = apply(
            &UserSyncState::default(),
            &obs("Available", "Available", 1, Some("5")),
        );
        // During our session Teams shows Busy/InACall (seq 6): taken as our echo.
        let (s2, a) = apply_guarded(&s1, &obs("Busy", "InACall", 2, Some("6")), true);
        assert_eq!(a, None);
        assert!(s2.echo_held);
        // While the session may still be up, reading the same presence back changes nothing.
        let (_, a) = apply_guarded(&s2, &obs("Busy", "InACall", 3, Some("6")), true);
        assert_eq!(a, None);
        // Session gone, Teams unchanged (same seq): it is the user's own Teams call.
        let (s3, a) = apply_guarded(&s2, &obs("Busy", "InACall", 4, Some("6")), false);
        assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Speaking)));
        assert!(!s3.echo_held);
        // And only once: the same presence again is a duplicate.
        assert_eq!(
            decide(
                &s3,
                &obs("Busy", "InACall", 5, Some("6")),
                &MappingRules::default()
            ),
            SyncDecision::Stale
        );
    }

    #[test]
    fn a_bogus_sequence_number_freezes_a_user_no_longer_than_graphs_retry_window() {
        let (s1, _) = apply(
            &UserSyncState::default(),
            &obs("Available", "Available", 0, Some("99999999999")),
        );
        // Graph's counter (reset, or the bogus one far ahead): lower numbers are stale while
        // they could still be retries of older notifications...
        let within = GRAPH_RETRY_WINDOW_MS;
        assert_eq!(
            decide(
                &s1,
                &obs("Away", "Away", within, Some("7")),
                &MappingRules::default()
            ),
            SyncDecision::Stale
        );
        // ...and accepted once no retry of an older one can arrive any more.
        let (s2, a) = apply(&s1, &obs("Away", "Away", within + 1, Some("7")));
        assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Away)));
        // From then on the new counter orders as usual.
        let (_, a) = apply(
            &s2,
            &obs("DoNotDisturb", "DoNotDisturb", within + 2, Some("8")),
        );
        assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::DoNotDisturb)));
        assert_eq!(
            decide(
                &s2,
                &obs("Busy", "Busy", within + 3, Some("6")),
                &MappingRules::default()
            ),
            SyncDecision::Stale
        );
    }

    #[test]
    fn swyx_is_repaired_only_where_it_holds_something_else_and_above_its_revision() {
        let state = UserSyncState {
            revision: 5,
            teams_status: Some(SwyxStatus::Away),
            ..Default::default()
        };
        let held = |status, revision| HeldStatus { status, revision };
        assert_eq!(swyx_repair(&state, &held(Some(SwyxStatus::Away), 2)), None);
        assert_eq!(
            swyx_repair(&state, &held(Some(SwyxStatus::Available), 3)),
            Some(SwyxRepair {
                revision: 5,
                raise_state: false
            })
        );
        // Swyx lost the status (or never got it) and says so with a higher revision.
        assert_eq!(
            swyx_repair(&state, &held(None, 9)),
            Some(SwyxRepair {
                revision: 10,
                raise_state: true
            })
        );
    }

    #[test]
    fn no_sync_withdraws_only_what_the_bridge_set() {
        let (s0, a) = apply(
            &UserSyncState::default(),
            &obs("Offline", "Offline", 1, None),
        );
        assert_eq!(a, None, "nothing was set, so nothing is withdrawn");
        let (s1, a) = apply(&s0, &obs("DoNotDisturb", "DoNotDisturb", 2, None));
        assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::DoNotDisturb)));
        let (s2, a) = apply(&s1, &obs("Offline", "Offline", 3, None));
        assert_eq!(a, Some(SwyxAction::Withdraw));
        assert_eq!(s2.teams_status, None);
        let (_, a) = apply(&s2, &obs("PresenceUnknown", "PresenceUnknown", 4, None));
        assert_eq!(a, None);
    }

    #[test]
    fn switched_off_withdraws_once_then_records_and_on_again_sends_the_same_presence() {
        let rules = MappingRules::default();
        let busy = obs("Busy", "Busy", 10, Some("5"));
        let (s1, a) = apply(&UserSyncState::default(), &busy);
        assert_eq!(a, Some(SwyxAction::Set(SwyxStatus::Away)));

        // Off: the status the bridge set is withdrawn, and nothing else is ever sent.
        let dnd = obs("DoNotDisturb", "DoNotDisturb", 20, Some("6"));
        let SyncDecision::Forward(s2, SwyxAction::Withdraw) =
            decide_with_echo_guard(&s1, &dnd, None, false)
        else {
            panic!("switching off withdraws the Teams-derived status")
        };
        assert_eq!(s2.teams_status, None);
        let away = obs("Away", "Away", 30, Some("7"));
        let SyncDecision::Record(s3) = decide_with_echo_guard(&s2, &away, None, false) else {
            panic!("while off a change is recorded, not sent")
        };

        // On again: the same presence read back (same sequenceNumber) is judged, not stale.
        let read_back = obs("Away", "Away", 40, Some("7"));
        assert_eq!(
            decide_with_echo_guard(&s3, &read_back, Some(&rules), false),
            SyncDecision::Forward(
                UserSyncState {
                    revision: 40,
                    last_received_at: Some(Timestamp(40)),
                    teams_status: Some(SwyxStatus::Away),
                    echo_held: false,
                    ..s3.clone()
                },
                SwyxAction::Set(SwyxStatus::Away)
            )
        );
        // …and re-judging the stored presence directly does the same.
        let SyncDecision::Forward(_, action) = rejudge(&s3, Timestamp(40), Some(&rules), false)
        else {
            panic!("re-judged")
        };
        assert_eq!(action, SwyxAction::Set(SwyxStatus::Away));
        assert_eq!(
            rejudge(
                &UserSyncState::default(),
                Timestamp(40),
                Some(&rules),
                false
            ),
            SyncDecision::Stale,
            "nothing seen yet: nothing to judge"
        );
    }
}

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
            // Saturating: the connector's number, which a broken one may send at the maximum.
            revision: held.revision.saturating_add(1),
            raise_state: true,
        }
    })
}

/// Compares two `sequenceNumber`s as Graph documents them: a "lexicographically sortable String"
/// stamp, so byte order, not numeric value (nothing in Graph's documents says they are numbers).
fn compare_sequence(a: &str, b: &str) -> Ordering {
    a.as_bytes().cmp(b.as_bytes())
}

/// Graph retries a notification for up to 4 hours; what arrives later than that after the last
/// applied one cannot be a retry of something older.
pub const GRAPH_RETRY_WINDOW_MS: i64 = 4 * 60 * 60_000;

fn is_newer(
    state: &UserSyncState,
    obs: &Observation,
    own_session_active: bool,
    switched_off: bool,
) -> bool {
    // The same presence read back is judged again when it was held back and may go now (the
    // echo's session is over, or the direction is on again), and when Teams → Swyx is off but
    // a status the bridge set is still held (the switch stored, its withdrawal cut short).
    let judge_again =
        (state.echo_held && !own_session_active) || (switched_off && state.teams_status.is_some());
    if let (Some(last), Some(new)) = (&state.last_sequence, &obs.presence.sequence_number) {
        // One bogus or reset sequenceNumber must not freeze the user: past the retry window
        // the receive time orders again.
        let beyond_retries = state
            .last_received_at
            .is_some_and(|at| obs.received_at.millis() - at.millis() > GRAPH_RETRY_WINDOW_MS);
        return match compare_sequence(new, last) {
            Ordering::Greater => true,
            Ordering::Equal => judge_again || beyond_retries,
            Ordering::Less => beyond_retries,
        };
    }
    match state.last_received_at {
        None => true,
        // Same millisecond: arrival order decides, but an identical presence is a duplicate.
        Some(last) if obs.received_at == last => {
            judge_again || state.last_presence.as_ref() != Some(&obs.presence)
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
/// is withdrawn — the one thing a switched-off direction still sends, so Swyx's own status rules
/// (also on the same presence read back, so a withdrawal that never happened is made up for).
pub fn decide_with_echo_guard(
    state: &UserSyncState,
    obs: &Observation,
    rules: Option<&MappingRules>,
    own_session_active: bool,
) -> SyncDecision {
    if !is_newer(state, obs, own_session_active, rules.is_none()) {
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
mod tests;

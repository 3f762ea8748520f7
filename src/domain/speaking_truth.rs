//! Swyx → Teams against Swyx's truth (contract 1.2): the connector lists the calls each user is
//! speaking in now, and a user's call set is brought in line with it, so a `speaking.started`
//! or `speaking.ended` the connector never delivered is repaired at the next maintenance pass
//! instead of waiting for the maximum call length (or never showing).

use super::{SpeakingSettings, SpeakingState, Timestamp};
use std::collections::{BTreeSet, HashMap, HashSet};

/// An event the bridge recorded less than this before it asked the connector may still be
/// missing from the answer (another process's clock a little behind): such a user is compared
/// at the next pass instead.
pub const EVENT_MARGIN_MS: i64 = 2_000;

/// What the connector says about call state (`GET /v1/users?speaking=true`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SwyxCalls {
    /// A 1.0/1.1 connector (no `speakingOnly` answer): nothing is compared.
    #[default]
    NotReported,
    Reported {
        /// Swyx user id → the call ids the user is speaking in now; a user missing is in no call.
        speaking: HashMap<String, BTreeSet<String>>,
        /// Users listed without `speaking`: nothing is known of them, nothing is changed.
        unknown: HashSet<String>,
    },
}

/// What one comparison changed for a user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallRepair {
    /// Calls the bridge held open that Swyx no longer lists.
    pub ended: usize,
    /// Calls Swyx lists that the bridge never heard of.
    pub started: usize,
}

impl SpeakingState {
    /// The calls brought in line with `listed`, the call ids Swyx listed for the user in an
    /// answer the bridge asked for at `asked_at`; `None` when nothing changes, or when an event
    /// changed the calls since (shortly before) `asked_at`: the answer may predate it.
    ///
    /// A call that ended is tombstoned as an event's end would be; a call id whose end the bridge
    /// already saw is not started again (an end wins over a late start, as for events). A call
    /// started here counts from `asked_at` for the maximum call length.
    pub fn reconcile_calls(
        &self,
        listed: &BTreeSet<String>,
        asked_at: Timestamp,
        now: Timestamp,
        s: &SpeakingSettings,
    ) -> Option<(SpeakingState, CallRepair)> {
        if self
            .event_at
            .is_some_and(|at| at.millis() + EVENT_MARGIN_MS > asked_at.millis())
        {
            return None;
        }
        let mut next = self.clone();
        next.prune_ended(now, s);
        let mut repair = CallRepair::default();
        let gone: Vec<String> = next
            .calls
            .keys()
            .filter(|id| !listed.contains(*id))
            .cloned()
            .collect();
        for id in gone {
            next.calls.remove(&id);
            next.ended.insert(id, now);
            repair.ended += 1;
        }
        for id in listed {
            if !next.calls.contains_key(id) && !next.ended.contains_key(id) {
                next.calls.insert(id.clone(), asked_at.min(now));
                repair.started += 1;
            }
        }
        if repair == CallRepair::default() {
            return None;
        }
        Some((next.finish(self, now, s), repair))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CallEvent, GraphOp};

    fn s() -> SpeakingSettings {
        SpeakingSettings::default()
    }

    fn t(secs: i64) -> Timestamp {
        Timestamp(1_800_000_000_000 + secs * 1000)
    }

    fn listed(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    fn in_call(id: &str, at: Timestamp) -> SpeakingState {
        SpeakingState::default()
            .apply_event(CallEvent::Started, id, at, at, &s())
            .unwrap()
    }

    #[test]
    fn a_call_swyx_no_longer_lists_ends_and_asks_for_a_clear() {
        let held = in_call("c1", t(0));
        let (next, repair) = held
            .reconcile_calls(&listed(&[]), t(60), t(61), &s())
            .unwrap();
        assert_eq!(
            repair,
            CallRepair {
                ended: 1,
                started: 0
            }
        );
        assert!(!next.is_speaking());
        assert!(next.ended.contains_key("c1"), "a late start stays ignored");
        assert!(next.revision > held.revision);
    }

    #[test]
    fn a_call_swyx_lists_that_the_bridge_never_heard_of_starts() {
        let (next, repair) = SpeakingState::default()
            .reconcile_calls(&listed(&["c1"]), t(60), t(61), &s())
            .unwrap();
        assert_eq!(
            repair,
            CallRepair {
                ended: 0,
                started: 1
            }
        );
        assert_eq!(next.calls.get("c1"), Some(&t(60)));
        assert_eq!(next.needed_op(t(61), &s()), Some(GraphOp::Set));
    }

    #[test]
    fn the_same_calls_change_nothing() {
        let held = in_call("c1", t(0));
        assert_eq!(
            held.reconcile_calls(&listed(&["c1"]), t(60), t(61), &s()),
            None
        );
        assert_eq!(
            SpeakingState::default().reconcile_calls(&listed(&[]), t(60), t(61), &s()),
            None
        );
    }

    #[test]
    fn an_event_recorded_after_the_question_is_not_undone() {
        // The start arrived while the list was being read: the list may predate it.
        let held = in_call("c1", t(60));
        assert_eq!(held.reconcile_calls(&listed(&[]), t(60), t(61), &s()), None);
        // An end recorded just before the question: compared at the next pass.
        let ended = held
            .apply_event(CallEvent::Ended, "c1", t(99), t(99), &s())
            .unwrap();
        assert_eq!(
            ended.reconcile_calls(&listed(&["c1"]), t(100), t(101), &s()),
            None
        );
        // Well before: the list is the truth (but the ended call id is not started again).
        assert_eq!(
            ended.reconcile_calls(&listed(&["c1"]), t(160), t(161), &s()),
            None
        );
        let (next, repair) = ended
            .reconcile_calls(&listed(&["c2"]), t(160), t(161), &s())
            .unwrap();
        assert_eq!((repair.started, next.calls.len()), (1, 1));
    }
}

//! A user's calls as Swyx reports them: the events that start and end them, the calls that
//! outlast the maximum call length, and the ended ids kept so a late start stays late.

use super::{CallEvent, SpeakingSettings, SpeakingState};
use crate::domain::Timestamp;

impl SpeakingState {
    /// Applies one Swyx event. `None` when it changes nothing (duplicate, late start of an ended
    /// call, end of an unknown call already remembered as ended then or later, start too old to
    /// matter).
    pub fn apply_event(
        &self,
        event: CallEvent,
        call_id: &str,
        at: Timestamp,
        now: Timestamp,
        s: &SpeakingSettings,
    ) -> Option<SpeakingState> {
        // A connector clock ahead of ours must not stretch a call beyond its maximum length.
        let at = at.min(now);
        let mut next = self.clone();
        next.prune_ended(now, s);
        match event {
            CallEvent::Started => {
                // A start at or before the end seen for its id is that call's late start; a
                // later one opens a new speaking period under the same id (the contract lets a
                // connector name each period by the call that opened it).
                let late = next.ended.get(call_id).is_some_and(|end| at <= *end);
                if next.calls.contains_key(call_id) || late {
                    return None;
                }
                if at.millis() + s.max_call_ms <= now.millis() {
                    return None;
                }
                next.ended.remove(call_id);
                next.calls.insert(call_id.to_string(), at);
            }
            CallEvent::Ended => {
                let seen = next.ended.get(call_id).copied();
                if next.calls.remove(call_id).is_none() && seen.is_some_and(|end| at <= end) {
                    return None;
                }
                // The latest end seen: one that overtakes the start of its id's next period
                // still wins over that late start.
                next.ended
                    .insert(call_id.to_string(), seen.map_or(at, |end| end.max(at)));
            }
        }
        next.event_at = Some(now);
        Some(next.finish(self, now, s))
    }

    /// Drops calls older than the maximum call length (never ended, e.g. a lost event).
    pub fn expire_calls(&self, now: Timestamp, s: &SpeakingSettings) -> Option<SpeakingState> {
        let limit = now.millis() - s.max_call_ms;
        let overlong: Vec<String> = self
            .calls
            .iter()
            .filter(|(_, started)| started.millis() <= limit)
            .map(|(id, _)| id.clone())
            .collect();
        if overlong.is_empty() {
            return None;
        }
        let mut next = self.clone();
        for id in overlong {
            next.calls.remove(&id);
            next.ended.insert(id, now);
        }
        next.prune_ended(now, s);
        Some(next.finish(self, now, s))
    }

    /// The user is no longer linked: every call counts as ended now, so a session the bridge
    /// may have set is cleared. `None` when there is no call and no session to clear.
    pub fn end_all_calls(&self, now: Timestamp, s: &SpeakingSettings) -> Option<SpeakingState> {
        if self.calls.is_empty() && self.needed_op(now, s).is_none() {
            return None;
        }
        let mut next = self.clone();
        for (id, _) in std::mem::take(&mut next.calls) {
            next.ended.insert(id, now);
        }
        next.prune_ended(now, s);
        Some(next.finish(self, now, s))
    }

    /// Tombstones only matter while a late start could still count: past the maximum call length
    /// a start is ignored anyway.
    pub(in crate::domain) fn prune_ended(&mut self, now: Timestamp, s: &SpeakingSettings) {
        let limit = now.millis() - s.max_call_ms;
        self.ended.retain(|_, t| t.millis() > limit);
    }
}

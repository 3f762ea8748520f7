//! Swyx → Teams, per user: the set of active calls and the bridge's own Graph presence session.
//!
//! The first call to start wants the session set (Busy/InACall); the last call to end wants it
//! cleared. Events are deduplicated and paired by call id: an end that arrives before its start
//! leaves a tombstone, so the late start is ignored. What Graph has is tracked separately
//! ([`Session`]), so a failed or reordered Graph call is retried until both agree.

use super::Timestamp;
use super::own_status::{PreferredMark, PreferredRetry};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[path = "speaking_calls.rs"]
mod calls;

/// Timings of the Swyx → Teams sync, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeakingSettings {
    /// `expirationDuration` of every setPresence (Graph: 5 min to 4 h).
    pub expiration_ms: i64,
    /// A call still "active" after this long is taken as never ended and dropped.
    pub max_call_ms: i64,
    /// How long an event's own Graph call may take before maintenance steps in.
    pub grace_ms: i64,
}

impl Default for SpeakingSettings {
    fn default() -> Self {
        Self {
            expiration_ms: 5 * 60_000,
            max_call_ms: 240 * 60_000,
            grace_ms: 10_000,
        }
    }
}

impl SpeakingSettings {
    /// The session is renewed when less than half its life is left: a maintenance run every
    /// minute or two still renews it in time.
    pub fn keep_alive_margin_ms(&self) -> i64 {
        self.expiration_ms / 2
    }
}

/// The bridge's setPresence session for one user, as far as the bridge knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state")]
pub enum Session {
    /// None (cleared, expired or never set).
    #[default]
    None,
    /// Set, confirmed by Graph; Graph drops it by itself at `expires_at`.
    Active { expires_at: Timestamp },
    /// A setPresence was sent (or raced with another writer) without a confirmed outcome: it may
    /// be live until `expires_at`, so it is cleared (or set again) to be sure.
    Unsure { expires_at: Timestamp },
}

impl Session {
    /// The session once a setPresence was (or may have been) sent at `now`: unknown until Graph
    /// confirms it, live until the later of its expiry so far and a whole expiration from now.
    fn maybe_set_at(self, now: Timestamp, s: &SpeakingSettings) -> Session {
        let until = now.plus_millis(s.expiration_ms);
        let expires_at = match self {
            Session::Active { expires_at } | Session::Unsure { expires_at } => {
                expires_at.max(until)
            }
            Session::None => until,
        };
        Session::Unsure { expires_at }
    }
}

/// A Graph operation the state needs and has not had yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphRetry {
    pub attempts: u32,
    /// When maintenance may try (again).
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeakingState {
    /// Optimistic-concurrency version in the store; grows on every stored change.
    pub revision: u64,
    /// Active calls: call id → when it started.
    #[serde(default)]
    pub calls: BTreeMap<String, Timestamp>,
    /// Calls that ended (or were dropped): call id → when. A start of one at or before that time
    /// is its late start and ignored; a later one opens a new speaking period.
    #[serde(default)]
    pub ended: BTreeMap<String, Timestamp>,
    #[serde(default)]
    pub session: Session,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<GraphRetry>,
    /// The earliest time maintenance has work here (keep-alive, retry, overlong call); `None` =
    /// nothing to do. Stored as an index, recomputed on every change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<Timestamp>,
    /// Set when the bridge cleared its session: Teams' presence is read back at this time (the
    /// end of the echo window). While the session was up, a real Teams call looked like its echo
    /// and was not forwarded; after the clear no notification may come for it (Teams still shows
    /// Busy/InACall), so only reading the presence back finds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_at: Option<Timestamp>,
    /// When (the bridge's clock) a connector event last changed the calls: maintenance compares
    /// the calls with the connector's list only when no event came after it asked
    /// (`speaking_truth`), so an event arriving meanwhile is never undone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_at: Option<Timestamp>,
    /// Calls whose setPresence Graph refused for good: not asked again; a new call asks again.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub refused_calls: BTreeSet<String>,
    /// A hand-set Swyx status Graph has yet to take as a preferred presence (`status.changed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred: Option<PreferredRetry>,
    /// Whether a preferred presence the bridge set may be live in Teams (only then it clears
    /// one); written together with `preferred`.
    #[serde(default, skip_serializing_if = "PreferredMark::is_old_claim")]
    pub preferred_mark: PreferredMark,
    /// The `at` of the newest hand-set status (`status.changed`) acted on, as the connector
    /// stamped it (at most the bridge's clock on arrival). The contract promises no order of
    /// delivery: an older change that arrives after it (a retry, a connector sending in
    /// parallel) is not sent to Teams over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_status_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEvent {
    Started,
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphOp {
    /// setPresence Busy/InACall (first set or keep-alive).
    Set,
    /// clearPresence.
    Clear,
}

/// How a Graph call ended, for [`SpeakingState::after_graph`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphOutcome {
    Done,
    /// Failed; `retry_after_ms` when Graph said how long to wait.
    Failed {
        error: String,
        retry_after_ms: Option<i64>,
    },
    /// Graph refused the setPresence for good (400/403/404): not retried for the current calls.
    Refused {
        error: String,
    },
}

/// Longest wait between maintenance retries of a failing Graph call.
const MAX_RETRY_DELAY_MS: i64 = 60_000;

/// How long after the bridge cleared its session a Teams Busy/InACall may still be that
/// session's echo (Graph's notification of the set arriving late): judged as an echo meanwhile.
pub const ECHO_WINDOW_MS: i64 = 15_000;
/// How long past the echo window maintenance keeps trying to read Teams' presence back before it
/// leaves the user to the regular reconciliation.
const VERIFY_GIVE_UP_MS: i64 = 10 * 60_000;

/// What the read-back after a cleared session needs at some moment ([`SpeakingState::verify_step`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyStep {
    /// Nothing to read back (none pending, or the echo window is still open).
    None,
    /// Read Teams' presence now and judge it like a notification.
    Read,
    /// Too long unread (Graph failing): forget it; the regular reconciliation covers the user.
    GiveUp,
}

impl SpeakingState {
    pub fn is_speaking(&self) -> bool {
        !self.calls.is_empty()
    }

    /// Whether Teams may currently show the bridge's own session, so a Teams Busy/InACall is
    /// probably its echo and must not come back to Swyx as Speaking.
    pub fn own_session_may_be_active(&self, now: Timestamp) -> bool {
        self.is_speaking()
            || self.verify_at.is_some_and(|end| end > now)
            || match self.session {
                Session::None => false,
                Session::Active { expires_at } | Session::Unsure { expires_at } => expires_at > now,
            }
    }

    /// Whether Teams' presence should be read back at `now` (see [`Self::verify_at`]).
    pub fn verify_step(&self, now: Timestamp) -> VerifyStep {
        match self.verify_at {
            Some(at) if at.millis() + VERIFY_GIVE_UP_MS <= now.millis() => VerifyStep::GiveUp,
            Some(at) if at <= now => VerifyStep::Read,
            _ => VerifyStep::None,
        }
    }

    /// The state once the read-back is done (or given up); `None` when a newer clear asked for a
    /// later one meanwhile (its own read-back stays due).
    pub fn verified(&self, now: Timestamp, s: &SpeakingSettings) -> Option<SpeakingState> {
        if self.verify_step(now) == VerifyStep::None {
            return None;
        }
        let mut next = self.clone();
        next.verify_at = None;
        Some(next.finish(self, now, s))
    }

    /// The Graph call this state needs at `now`, if any.
    pub fn needed_op(&self, now: Timestamp, s: &SpeakingSettings) -> Option<GraphOp> {
        let refused = self.calls.keys().all(|c| self.refused_calls.contains(c));
        match (self.is_speaking(), self.session) {
            (true, _) if refused => None,
            (true, Session::None | Session::Unsure { .. }) => Some(GraphOp::Set),
            (true, Session::Active { expires_at }) => {
                (expires_at.millis() - s.keep_alive_margin_ms() <= now.millis())
                    .then_some(GraphOp::Set)
            }
            (false, Session::None) => None,
            (false, Session::Active { expires_at } | Session::Unsure { expires_at }) => {
                (expires_at > now).then_some(GraphOp::Clear)
            }
        }
    }

    /// The state with its pending work and due time brought up to `now` (e.g. an unsure
    /// session that expired meanwhile needs no clear any more); `None` when nothing changes.
    pub fn settle(&self, now: Timestamp, s: &SpeakingSettings) -> Option<SpeakingState> {
        let next = self.clone().finish(self, now, s);
        let same =
            next.retry == self.retry && next.due_at == self.due_at && next.session == self.session;
        (!same).then_some(next)
    }

    /// Records the outcome of `op`, sent when the state was `self`.
    pub fn after_graph(
        &self,
        op: GraphOp,
        outcome: &GraphOutcome,
        now: Timestamp,
        s: &SpeakingSettings,
    ) -> SpeakingState {
        let mut next = self.clone();
        match outcome {
            GraphOutcome::Done => {
                next.session = match op {
                    GraphOp::Set => Session::Active {
                        expires_at: now.plus_millis(s.expiration_ms),
                    },
                    GraphOp::Clear => Session::None,
                };
                // A new session's own clear asks for its own read-back.
                next.verify_at = match op {
                    GraphOp::Set => None,
                    GraphOp::Clear => Some(now.plus_millis(ECHO_WINDOW_MS)),
                };
                next.retry = None;
            }
            GraphOutcome::Failed {
                error,
                retry_after_ms,
            } => {
                let attempts = self.retry.as_ref().map_or(0, |r| r.attempts) + 1;
                let backoff = (2_000i64 << attempts.min(16)).min(MAX_RETRY_DELAY_MS);
                let delay = retry_after_ms.unwrap_or(0).max(backoff);
                // Graph may have taken it all the same (the answer lost): live that long.
                if op == GraphOp::Set {
                    next.session = self.session.maybe_set_at(now, s);
                }
                next.retry = Some(GraphRetry {
                    attempts,
                    at: now.plus_millis(delay),
                    last_error: Some(error.clone()),
                });
            }
            GraphOutcome::Refused { .. } => {
                next.refused_calls = self.calls.keys().cloned().collect();
                next.retry = None;
            }
        }
        next.finish(self, now, s)
    }

    /// Another writer changed the state while our Graph call was in flight: the two calls may
    /// have reached Graph in either order, so what Graph has is unknown until one is redone.
    pub fn after_race(&self, now: Timestamp, s: &SpeakingSettings) -> SpeakingState {
        let mut next = self.clone();
        next.session = self.session.maybe_set_at(now, s);
        next.finish(self, now, s)
    }

    /// The state as written before a Graph call is made: a setPresence about to be sent may take
    /// effect even if we never hear back, so the session is "unsure" until confirmed, and may
    /// last a whole expiration from now (a renewal outlives the session it renews).
    fn record_intent(&mut self, now: Timestamp, s: &SpeakingSettings) {
        let Some(op) = self.needed_op(now, s) else {
            self.retry = None;
            return;
        };
        if op == GraphOp::Set {
            self.session = self.session.maybe_set_at(now, s);
        }
        if self.retry.is_none() {
            self.retry = Some(GraphRetry {
                attempts: 0,
                at: now.plus_millis(s.grace_ms),
                last_error: None,
            });
        }
    }

    pub(super) fn finish(
        mut self,
        prev: &SpeakingState,
        now: Timestamp,
        s: &SpeakingSettings,
    ) -> Self {
        let calls = &self.calls;
        self.refused_calls.retain(|c| calls.contains_key(c));
        self.record_intent(now, s);
        self.revision = prev.revision + 1;
        self.due_at = self.compute_due(s);
        self
    }

    fn compute_due(&self, s: &SpeakingSettings) -> Option<Timestamp> {
        let retry = self.retry.as_ref().map(|r| r.at);
        let keep_alive = match (self.is_speaking(), self.session) {
            (true, Session::Active { expires_at }) => {
                Some(expires_at.plus_millis(-s.keep_alive_margin_ms()))
            }
            _ => None,
        };
        let overlong = self
            .calls
            .values()
            .min()
            .map(|t| t.plus_millis(s.max_call_ms));
        let preferred = self.preferred.as_ref().map(|p| p.at);
        [retry, keep_alive, overlong, self.verify_at, preferred]
            .into_iter()
            .flatten()
            .min()
    }
}

#[cfg(test)]
#[path = "speaking_tests.rs"]
mod tests;

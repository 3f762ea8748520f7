//! The app's one throttle gate for Graph. Graph throttles per application (and tenant): once it
//! answered 429, it limits the app's further requests for a while, and every request sent before
//! its `Retry-After` has passed counts against the limit again
//! (<https://learn.microsoft.com/en-us/graph/throttling>). So a 429 (or a 503 with `Retry-After`)
//! to any request closes the gate for every request of the process until that wait is over; a
//! request that finds it closed waits when the rest of the hold fits in its budget, and otherwise
//! fails at once as throttled, without being sent.

use crate::domain::{Clock, Timestamp};
use crate::outbound::{Failure, FailureKind};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug)]
pub struct ThrottleGate {
    clock: Clock,
    /// When requests may go again; in the past while the gate is open.
    open_at: Mutex<Timestamp>,
}

impl ThrottleGate {
    pub fn new(clock: Clock) -> Self {
        Self {
            clock,
            open_at: Mutex::new(Timestamp(i64::MIN)),
        }
    }

    /// How long the gate still holds (zero: open).
    pub fn remaining(&self) -> Duration {
        let now = self.clock.now();
        let open_at = *self.open_at.lock().unwrap_or_else(|e| e.into_inner());
        Duration::from_millis(open_at.millis().saturating_sub(now.millis()).max(0) as u64)
    }

    /// Holds every request for `wait` from now. A longer hold already running stays: an early
    /// answer to a request sent before it does not open the gate sooner.
    pub fn hold(&self, wait: Duration) {
        let until = self.clock.now().plus_duration(wait);
        let mut open_at = self.open_at.lock().unwrap_or_else(|e| e.into_inner());
        if until > *open_at {
            *open_at = until;
        }
    }

    /// Lets a request with `budget` left through: at once when the gate is open, after waiting
    /// when the hold ends within the budget (returns how long it waited). Otherwise the request
    /// is not to be sent: the hold still left.
    pub async fn pass(&self, budget: Duration) -> Result<Duration, Duration> {
        let started = Instant::now();
        loop {
            let hold = self.remaining();
            if hold.is_zero() {
                return Ok(started.elapsed());
            }
            // The request needs time of its own after the wait.
            if hold >= budget.saturating_sub(started.elapsed()) {
                return Err(hold);
            }
            // Looked at again after the wait: another 429 meanwhile may have extended the hold.
            tokio::time::sleep(hold).await;
        }
    }

    /// The failure of a request the gate did not let through: throttled, with the hold as its
    /// `Retry-After`, nothing sent.
    pub fn refusal(hold: Duration) -> Failure {
        Failure {
            retry_after: Some(hold),
            answer: Some(format!(
                "not sent: Graph throttles this app for another {} ms",
                hold.as_millis()
            )),
            ..Failure::new(FailureKind::Throttled)
        }
    }

    /// Whether a failed attempt closes the gate: Graph's 429, or a 503 that says when to come back.
    pub fn closes_on(failure: &Failure) -> bool {
        match failure.kind {
            FailureKind::Throttled => true,
            FailureKind::Server(503) => failure.retry_after.is_some(),
            _ => false,
        }
    }
}

/// A clock that only moves forward (the process's monotonic time, paused with tokio's in tests),
/// for holds of seconds that a wall-clock step must not stretch or cut short.
pub fn monotonic_clock() -> Clock {
    let start = Instant::now();
    let base = Timestamp::now();
    Clock::from_fn(move || base.plus_duration(start.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test(start_paused = true)]
    async fn a_hold_lets_nothing_through_until_it_ends_and_waits_only_within_a_budget() {
        let gate = ThrottleGate::new(monotonic_clock());
        assert_eq!(gate.pass(SECOND).await, Ok(Duration::ZERO), "open at first");

        gate.hold(30 * SECOND);
        // Does not fit: refused at once with the hold left, no time spent.
        let before = Instant::now();
        assert_eq!(gate.pass(2 * SECOND).await, Err(30 * SECOND));
        assert_eq!(before.elapsed(), Duration::ZERO);
        // A shorter hold from a later answer does not open it sooner.
        gate.hold(SECOND);
        tokio::time::advance(10 * SECOND).await;
        assert_eq!(gate.remaining(), 20 * SECOND);
        assert_eq!(
            gate.pass(20 * SECOND).await,
            Err(20 * SECOND),
            "no time after it"
        );

        // Fits: waits out the rest, then goes.
        assert_eq!(gate.pass(25 * SECOND).await, Ok(20 * SECOND));
        assert_eq!(gate.remaining(), Duration::ZERO);
        assert_eq!(gate.pass(SECOND).await, Ok(Duration::ZERO));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hold_extended_while_waiting_is_waited_out_too() {
        let gate = std::sync::Arc::new(ThrottleGate::new(monotonic_clock()));
        gate.hold(5 * SECOND);
        let extender = {
            let gate = gate.clone();
            tokio::spawn(async move {
                tokio::time::sleep(4 * SECOND).await;
                gate.hold(10 * SECOND);
            })
        };
        // The hold now ends 14 s from the start, within the 20 s budget.
        assert_eq!(gate.pass(20 * SECOND).await, Ok(14 * SECOND));
        extender.await.unwrap();
    }

    #[test]
    fn only_throttling_answers_close_the_gate() {
        let with_wait = |kind| Failure {
            retry_after: Some(SECOND),
            ..Failure::new(kind)
        };
        assert!(ThrottleGate::closes_on(&Failure::new(
            FailureKind::Throttled
        )));
        assert!(ThrottleGate::closes_on(&with_wait(FailureKind::Server(
            503
        ))));
        assert!(!ThrottleGate::closes_on(&Failure::new(
            FailureKind::Server(503)
        )));
        assert!(!ThrottleGate::closes_on(&with_wait(FailureKind::Server(
            500
        ))));
        assert!(!ThrottleGate::closes_on(&Failure::new(
            FailureKind::Timeout
        )));
        let refused = ThrottleGate::refusal(3 * SECOND);
        assert_eq!(refused.kind, FailureKind::Throttled);
        assert_eq!(refused.retry_after, Some(3 * SECOND));
        assert!(!refused.kind.may_have_taken_effect(), "nothing was sent");
    }
}

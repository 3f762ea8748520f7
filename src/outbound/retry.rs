//! The one retry policy of every outbound call. An attempt brings either an answer for the caller
//! to interpret (`Ok`: a 2xx, or a 4xx that asking again will not change) or a [`Failure`] whose
//! [`FailureKind`] says whether the server may have acted on the request. The policy decides:
//!
//! - **whether** to try again. Every failure kind but an oversized answer is transient. An
//!   idempotent request is tried again after any of them; a non-idempotent one (creating a
//!   subscription, redeeming a rotating refresh token) only when it provably had no effect: no
//!   connection was made, or a 429 refused it. After a timeout or a 5xx it may have been done, and
//!   doing it again could do it twice: its caller finds out what happened instead.
//! - **how long** to wait: the server's `Retry-After` (delta-seconds or HTTP-date, RFC 9110
//!   §10.2.3) when it sent one, else exponential backoff with full jitter (a uniformly random wait
//!   below a doubling ceiling), so clients that failed together do not come back together.
//! - **when** to stop: at the attempt limit, or when the next wait would overrun the call's time
//!   budget. What the budget cannot cover is the caller's to keep pending.

use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// Whether doing a request twice is the same as doing it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// GET, PUT and PATCH to a value, DELETE, reads, setting a presence session to a state.
    Idempotent,
    /// POST /subscriptions (a second one is a duplicate), redeeming a refresh token that rotates.
    NotIdempotent,
}

/// Why an attempt brought no usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The budget had no time left for an attempt: nothing was sent.
    NoTime,
    /// No connection could be made (refused, name resolution, TLS handshake, connect timeout):
    /// nothing was sent.
    Connect,
    /// 429: the server refused the request for its rate without acting on it (Graph and Entra
    /// throttle before processing: <https://learn.microsoft.com/en-us/graph/throttling>).
    Throttled,
    /// 5xx: the server failed, possibly after acting on the request.
    Server(u16),
    /// No complete answer in time: the server may have acted on the request.
    Timeout,
    /// The connection broke after the request was sent: the server may have acted on it.
    Interrupted,
    /// The answer is larger than the caller accepts; asking again brings the same.
    TooLarge { limit: usize },
}

impl FailureKind {
    /// Whether the server may have acted on the request.
    pub fn may_have_taken_effect(self) -> bool {
        match self {
            FailureKind::NoTime | FailureKind::Connect | FailureKind::Throttled => false,
            FailureKind::Server(_)
            | FailureKind::Timeout
            | FailureKind::Interrupted
            | FailureKind::TooLarge { .. } => true,
        }
    }

    /// Whether another attempt may help and is safe for a request of this idempotency.
    pub fn is_retryable(self, idempotency: Idempotency) -> bool {
        match self {
            FailureKind::NoTime | FailureKind::TooLarge { .. } => false,
            kind if kind.may_have_taken_effect() => idempotency == Idempotency::Idempotent,
            _ => true,
        }
    }
}

/// One attempt that brought no usable answer. Never holds a secret: request URLs are dropped
/// from transport errors, and answers are quoted short.
#[derive(Debug, thiserror::Error)]
pub struct Failure {
    pub kind: FailureKind,
    /// The server's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
    /// A short single-line quote of the server's answer (429, 5xx).
    pub answer: Option<String>,
    #[source]
    pub source: Option<reqwest::Error>,
}

impl Failure {
    pub fn new(kind: FailureKind) -> Self {
        Self {
            kind,
            retry_after: None,
            answer: None,
            source: None,
        }
    }

    /// A transport error: no connection (nothing sent), a timeout, or a broken connection.
    pub fn from_reqwest(error: reqwest::Error) -> Self {
        // A connect timeout is both; it is a connect failure (nothing was sent).
        let kind = if error.is_connect() {
            FailureKind::Connect
        } else if error.is_timeout() {
            FailureKind::Timeout
        } else {
            FailureKind::Interrupted
        };
        Self {
            source: Some(error.without_url()),
            ..Self::new(kind)
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FailureKind::NoTime => f.write_str("no time left for an attempt")?,
            FailureKind::Connect => f.write_str("could not connect")?,
            FailureKind::Throttled => f.write_str("HTTP 429")?,
            FailureKind::Server(status) => write!(f, "HTTP {status}")?,
            FailureKind::Timeout => f.write_str("timed out")?,
            FailureKind::Interrupted => f.write_str("connection broken")?,
            FailureKind::TooLarge { limit } => {
                write!(f, "the answer is larger than {limit} bytes")?
            }
        }
        if let Some(wait) = self.retry_after {
            write!(f, " (Retry-After {} s)", wait.as_secs())?;
        }
        if let Some(answer) = &self.answer {
            write!(f, ": {answer}")?;
        }
        // The innermost cause names what went wrong ("Connection refused"); reqwest's own
        // message only says a request failed.
        if let Some(root) = self.source.as_ref().map(root_cause) {
            write!(f, " ({root})")?;
        }
        Ok(())
    }
}

fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Why a call stopped trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The next wait (or attempt) would not fit in the budget.
    BudgetSpent,
    /// The attempt limit was reached.
    AttemptsUsed,
    /// Not repeated: the request is not idempotent and may have taken effect.
    MayHaveTakenEffect,
    /// Asking again would bring the same (an oversized answer).
    NotRetryable,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stop::BudgetSpent => "the time budget ran out",
            Stop::AttemptsUsed => "every attempt failed",
            Stop::MayHaveTakenEffect => "not repeated (it may have taken effect)",
            Stop::NotRetryable => "refused",
        })
    }
}

/// A call that got no usable answer within its attempts and budget.
#[derive(Debug, thiserror::Error)]
#[error("{stop} after {attempts} attempt(s) in {} ms (budget {} ms): {last}", .elapsed.as_millis(), .budget.as_millis())]
pub struct GaveUp {
    pub stop: Stop,
    pub attempts: u32,
    pub elapsed: Duration,
    pub budget: Duration,
    /// Whether any attempt may have taken effect at the server.
    pub may_have_taken_effect: bool,
    /// Boxed: every error enum of the adapters carries a `GaveUp`, and they stay small.
    #[source]
    pub last: Box<Failure>,
}

impl GaveUp {
    /// The server's last `Retry-After`, for the caller's next try.
    pub fn retry_after(&self) -> Option<Duration> {
        self.last.retry_after
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Wait(Duration),
    Stop(Stop),
}

/// Attempts, backoff and budget of one kind of call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts of one call at most, the first included.
    pub max_attempts: u32,
    /// The backoff ceiling after the first failure; it doubles per failure.
    pub backoff_base: Duration,
    /// The backoff ceiling never exceeds this.
    pub backoff_cap: Duration,
}

impl RetryPolicy {
    pub const fn new(max_attempts: u32, backoff_base: Duration, backoff_cap: Duration) -> Self {
        Self {
            max_attempts,
            backoff_base,
            backoff_cap,
        }
    }

    /// The wait ceiling after the `failures`-th failure: base·2^(failures−1), at most the cap.
    pub fn backoff_ceiling(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.backoff_base
            .saturating_mul(1u32 << doublings)
            .min(self.backoff_cap)
    }

    /// Full jitter: uniformly random between zero and the ceiling.
    pub fn backoff(&self, failures: u32) -> Duration {
        let ceiling = self.backoff_ceiling(failures).as_micros() as u64;
        Duration::from_micros(rand::random_range(0..=ceiling))
    }

    /// After the `failures`-th failed attempt of a call with `left` of its budget: wait, or stop.
    pub fn after_failure(
        &self,
        failure: &Failure,
        failures: u32,
        idempotency: Idempotency,
        left: Duration,
    ) -> Next {
        if failure.kind == FailureKind::NoTime {
            return Next::Stop(Stop::BudgetSpent);
        }
        if !failure.kind.is_retryable(idempotency) {
            return Next::Stop(
                if failure.kind.may_have_taken_effect()
                    && failure.kind.is_retryable(Idempotency::Idempotent)
                {
                    Stop::MayHaveTakenEffect
                } else {
                    Stop::NotRetryable
                },
            );
        }
        if failures >= self.max_attempts.max(1) {
            return Next::Stop(Stop::AttemptsUsed);
        }
        // Never earlier than the server asked; without its word, jittered backoff.
        let wait = failure
            .retry_after
            .unwrap_or_else(|| self.backoff(failures));
        if wait >= left {
            return Next::Stop(Stop::BudgetSpent);
        }
        Next::Wait(wait)
    }

    /// Runs `attempt` until it brings an answer or the policy stops. `attempt` gets the time left
    /// in the budget (its own timeouts must not exceed it); an attempt still running when the
    /// budget ends is cut off and counts as timed out. `what` names the call in logs.
    pub async fn run<T, F, Fut>(
        &self,
        what: &str,
        idempotency: Idempotency,
        budget: Duration,
        mut attempt: F,
    ) -> Result<T, GaveUp>
    where
        F: FnMut(Duration) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let started = Instant::now();
        let mut attempts = 0u32;
        let mut may_have_taken_effect = false;
        loop {
            let left = budget.saturating_sub(started.elapsed());
            let failure = if left.is_zero() {
                Failure::new(FailureKind::NoTime)
            } else {
                attempts += 1;
                match tokio::time::timeout(left, attempt(left)).await {
                    Ok(Ok(answer)) => return Ok(answer),
                    Ok(Err(failure)) => failure,
                    Err(_) => Failure::new(FailureKind::Timeout),
                }
            };
            may_have_taken_effect |= failure.kind.may_have_taken_effect();
            let left = budget.saturating_sub(started.elapsed());
            match self.after_failure(&failure, attempts, idempotency, left) {
                Next::Wait(wait) => {
                    tracing::debug!(call = what, attempt = attempts, failure = %failure, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                }
                Next::Stop(stop) => {
                    return Err(GaveUp {
                        stop,
                        attempts,
                        elapsed: started.elapsed(),
                        budget,
                        may_have_taken_effect,
                        last: Box::new(failure),
                    });
                }
            }
        }
    }
}

/// The longest `Retry-After` the bridge obeys. Each wait is kept: by the process-wide Graph
/// throttle gate, a sync account's upkeep, a pending Swyx update; unbounded, one answer
/// (`Retry-After: 999999999`, a typo or a hostile server) would stop every Graph call until a
/// restart. Graph's throttling waits are seconds to minutes; 10 minutes is also well inside the
/// 20 minutes before expiry at which a subscription (an hour's life) is renewed, so a wait that
/// falls then still leaves time to renew it before it lapses.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(10 * 60);

/// `Retry-After` as the contract reads it (delta-seconds or any HTTP-date); one further than
/// [`MAX_RETRY_AFTER`] waits that long.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    swyx_contract::retry_after::parse_retry_after(value, now).map(|wait| wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests;

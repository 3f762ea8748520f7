//! One watched user's presence subscription (RFC 6665 / RFC 3856) and what each answer does to
//! it: refresh before expiry (§4.1.2.1), a new subscription after `terminated` (§4.1.3: at once
//! for `deactivated`/`timeout`, after `retry-after` for `probation`/`giveup`, slowly for
//! `rejected`/`noresource`), after 481 (the dialog is gone) and after timeouts, with backoff.

use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Dialog {
    pub call_id: String,
    pub from_tag: String,
    pub to_tag: Option<String>,
    pub cseq: u32,
    pub target: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubState {
    Pending,
    Active,
    Failing,
}

impl SubState {
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Failing => "failing",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Sub {
    pub uri: String,
    pub dialog: Option<Dialog>,
    pub expires_at: Option<Instant>,
    /// When to send the next SUBSCRIBE (new or refresh); None while one is in flight.
    pub next_at: Option<Instant>,
    pub in_flight: bool,
    pub failures: u32,
    pub state: SubState,
    pub reason: Option<String>,
    pub presence: Option<String>,
}

impl Sub {
    pub fn new(uri: String, now: Instant) -> Self {
        Self {
            uri,
            dialog: None,
            expires_at: None,
            next_at: Some(now),
            in_flight: false,
            failures: 0,
            state: SubState::Pending,
            reason: None,
            presence: None,
        }
    }
}

/// When to refresh something that expires in `secs`: at 80 %, or halfway for short lifetimes.
pub fn refresh_in(secs: u32) -> Duration {
    let s = u64::from(secs.max(1));
    Duration::from_millis(if s > 60 { s * 800 } else { s * 500 })
}

/// retry_min × 2^failures, capped, ±20 % jitter (so a server restart is not met by a stampede).
pub fn backoff(min: Duration, max: Duration, failures: u32) -> Duration {
    let d = min.saturating_mul(1 << failures.min(16)).min(max);
    d.mul_f64(0.8 + rand::random::<f64>() * 0.4)
}

/// What a final response to a SUBSCRIBE means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 2xx: the dialog exists; granted lifetime in seconds; 202 = pending authorization.
    Accepted { expires: u32, pending: bool },
    /// 481 on a refresh: the server forgot the dialog; subscribe anew now.
    DialogGone,
    /// 403/404/…: this user cannot be watched; why (shown in the status).
    Refused(String),
    /// 423 Interval Too Brief: retry with the server's minimum.
    TooBrief(u32),
    /// Anything else (5xx, timeout, transport): retry with backoff.
    Failed(String),
}

pub fn classify(
    code: u16,
    expires: Option<u32>,
    min_expires: Option<u32>,
    requested: u32,
    reason: &str,
) -> Answer {
    match code {
        200..=299 => Answer::Accepted { expires: expires.unwrap_or(requested), pending: code == 202 },
        481 => Answer::DialogGone,
        403 => Answer::Refused(
            "403 Forbidden: the monitor user has no status signalling right for this user (Swyx: User → Relations)".into(),
        ),
        404 => Answer::Refused("404 Not Found: SwyxServer does not know this SIP address".into()),
        489 => Answer::Refused("489 Bad Event: the server offers no presence for this address".into()),
        423 => Answer::TooBrief(min_expires.unwrap_or(requested.saturating_mul(2)).max(requested)),
        _ => Answer::Failed(format!("{code} {reason}")),
    }
}

/// `Subscription-State: terminated;reason=…;retry-after=…` → when to subscribe again, and
/// whether the user counts as unwatchable meanwhile (RFC 6665 §4.1.3). The server's
/// `retry-after` is honoured up to `max`: a user is not left unwatched for longer than the
/// operator allowed, and the wait stays small enough to add to a clock.
pub fn after_termination(
    reason: Option<&str>,
    retry_after: Option<u64>,
    min: Duration,
    max: Duration,
) -> (Duration, Option<String>) {
    let server_says = |or: Duration| retry_after.map_or(or, |s| Duration::from_secs(s).min(max));
    match reason.map(str::to_ascii_lowercase).as_deref() {
        None | Some("deactivated") | Some("timeout") => (Duration::ZERO, None),
        Some("probation") | Some("giveup") => (server_says(min), None),
        Some(other) => (
            server_says(max),
            Some(format!("the server ended the subscription ({other})")),
        ),
    }
}

/// A token bucket: at most `rate` SUBSCRIBEs per second, so a thousand users do not reach
/// SwyxServer in one burst at start or after it restarts.
pub struct Bucket {
    pub tokens: f64,
    rate: f64,
    last: Instant,
}

impl Bucket {
    pub fn new(rate: f64, now: Instant) -> Self {
        Self {
            tokens: rate,
            rate,
            last: now,
        }
    }

    pub fn take(&mut self, now: Instant) -> bool {
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub fn next_token(&self, now: Instant) -> Instant {
        now + Duration::from_secs_f64(((1.0 - self.tokens) / self.rate).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_actions() {
        assert_eq!(
            classify(200, Some(300), None, 600, "OK"),
            Answer::Accepted {
                expires: 300,
                pending: false
            }
        );
        assert_eq!(
            classify(202, None, None, 600, "Accepted"),
            Answer::Accepted {
                expires: 600,
                pending: true
            }
        );
        assert_eq!(classify(481, None, None, 600, ""), Answer::DialogGone);
        assert!(
            matches!(classify(403, None, None, 600, ""), Answer::Refused(r) if r.contains("status signalling"))
        );
        assert_eq!(
            classify(423, None, Some(1200), 600, ""),
            Answer::TooBrief(1200)
        );
        assert!(matches!(
            classify(503, None, None, 600, "Busy"),
            Answer::Failed(_)
        ));
    }

    #[test]
    fn terminations_and_timers() {
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(300));
        assert_eq!(
            after_termination(Some("deactivated"), None, min, max),
            (Duration::ZERO, None)
        );
        assert_eq!(
            after_termination(Some("probation"), Some(7), min, max).0,
            Duration::from_secs(7)
        );
        assert!(
            after_termination(Some("rejected"), None, min, max)
                .1
                .is_some()
        );
        assert_eq!(refresh_in(600), Duration::from_secs(480));
        assert_eq!(refresh_in(10), Duration::from_secs(5));
        assert!(backoff(min, max, 30) <= Duration::from_secs(360));
    }
}

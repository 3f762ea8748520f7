//! Graph's per-app request limits: sliding 30-second windows on the sandbox clock, one over every
//! Graph request and one over the presence API alone (Microsoft's presence pages say 1,500
//! requests per 30 s per app and tenant). Over a limit a request gets 429 with `Retry-After` =
//! seconds until the oldest counted request leaves the window.

use std::collections::VecDeque;

const WINDOW_MS: i64 = 30_000;

/// Which limits a request counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    Presence,
    Other,
}

#[derive(Default)]
struct Window {
    limit: Option<u32>,
    accepted: VecDeque<i64>,
}

impl Window {
    fn set_limit(&mut self, limit: Option<u32>) {
        self.limit = limit;
        self.accepted.clear();
    }

    /// `Err(seconds)` if one more request does not fit at `now_ms`.
    fn check(&mut self, now_ms: i64) -> Result<(), u64> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        while self
            .accepted
            .front()
            .is_some_and(|t| *t <= now_ms - WINDOW_MS)
        {
            self.accepted.pop_front();
        }
        if self.accepted.len() < limit as usize {
            return Ok(());
        }
        let oldest = self.accepted.front().copied().unwrap_or(now_ms);
        let wait_ms = (oldest + WINDOW_MS - now_ms).max(1);
        Err((wait_ms as u64).div_ceil(1000))
    }

    fn count(&mut self, now_ms: i64) {
        if self.limit.is_some() {
            self.accepted.push_back(now_ms);
        }
    }
}

#[derive(Default)]
pub(crate) struct Throttle {
    all: Window,
    presence: Window,
    /// While set, every request is refused with this `Retry-After` (seconds), whatever the
    /// limits: a throttling storm.
    storm: Option<u64>,
}

impl Throttle {
    pub fn new(limit: Option<u32>) -> Self {
        let mut t = Self::default();
        t.all.set_limit(limit);
        t
    }

    /// The limit over every Graph request (`None` = unlimited).
    pub fn set_limit(&mut self, limit: Option<u32>) {
        self.all.set_limit(limit);
    }

    /// The limit over presence requests only (`None` = unlimited).
    pub fn set_presence_limit(&mut self, limit: Option<u32>) {
        self.presence.set_limit(limit);
    }

    /// Refuses every request with `retry_after_secs` until called with `None`.
    pub fn set_storm(&mut self, retry_after_secs: Option<u64>) {
        self.storm = retry_after_secs;
    }

    /// `Ok` counts the request; `Err(seconds)` refuses it with that `Retry-After`.
    pub fn admit(&mut self, scope: Scope, now_ms: i64) -> Result<(), u64> {
        if let Some(secs) = self.storm {
            return Err(secs);
        }
        if scope == Scope::Presence {
            self.presence.check(now_ms)?;
        }
        self.all.check(now_ms)?;
        if scope == Scope::Presence {
            self.presence.count(now_ms);
        }
        self.all.count(now_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_over_the_limit_until_the_window_slides() {
        let mut t = Throttle::new(Some(2));
        assert_eq!(t.admit(Scope::Other, 0), Ok(()));
        assert_eq!(t.admit(Scope::Presence, 10_000), Ok(()));
        assert_eq!(t.admit(Scope::Other, 12_000), Err(18));
        assert_eq!(
            t.admit(Scope::Other, 30_000),
            Ok(()),
            "the first request left the window"
        );
        assert_eq!(t.admit(Scope::Other, 30_001), Err(10));
        t.set_limit(None);
        assert!((0..100).all(|_| t.admit(Scope::Other, 30_002).is_ok()));
    }

    #[test]
    fn a_storm_refuses_everything_with_its_retry_after_until_it_ends() {
        let mut t = Throttle::default();
        t.set_storm(Some(5));
        assert_eq!(t.admit(Scope::Presence, 0), Err(5));
        assert_eq!(t.admit(Scope::Other, 60_000), Err(5));
        t.set_storm(None);
        assert_eq!(t.admit(Scope::Other, 60_001), Ok(()));
    }

    #[test]
    fn the_presence_limit_leaves_other_requests_alone() {
        let mut t = Throttle::default();
        t.set_presence_limit(Some(1));
        assert_eq!(t.admit(Scope::Presence, 0), Ok(()));
        assert_eq!(t.admit(Scope::Presence, 1_000), Err(29));
        assert!((0..10).all(|_| t.admit(Scope::Other, 1_000).is_ok()));
    }
}

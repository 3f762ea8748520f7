//! Graph's per-app request limit: a sliding 30-second window on the sandbox clock. Over the limit
//! a request gets 429 with `Retry-After` = seconds until the oldest counted request leaves the window.

use std::collections::VecDeque;

const WINDOW_MS: i64 = 30_000;

#[derive(Default)]
pub(crate) struct Throttle {
    limit: Option<u32>,
    accepted: VecDeque<i64>,
}

impl Throttle {
    pub fn new(limit: Option<u32>) -> Self {
        Self {
            limit,
            accepted: VecDeque::new(),
        }
    }

    pub fn set_limit(&mut self, limit: Option<u32>) {
        self.limit = limit;
        self.accepted.clear();
    }

    /// `Ok` counts the request; `Err(seconds)` refuses it with that `Retry-After`.
    pub fn admit(&mut self, now_ms: i64) -> Result<(), u64> {
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
            self.accepted.push_back(now_ms);
            return Ok(());
        }
        let oldest = self.accepted.front().copied().unwrap_or(now_ms);
        let wait_ms = (oldest + WINDOW_MS - now_ms).max(1);
        Err((wait_ms as u64).div_ceil(1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_over_the_limit_until_the_window_slides() {
        let mut t = Throttle::new(Some(2));
        assert_eq!(t.admit(0), Ok(()));
        assert_eq!(t.admit(10_000), Ok(()));
        assert_eq!(t.admit(12_000), Err(18));
        assert_eq!(t.admit(30_000), Ok(()), "the first request left the window");
        assert_eq!(t.admit(30_001), Err(10));
        t.set_limit(None);
        assert!((0..100).all(|_| t.admit(30_002).is_ok()));
    }
}

//! The one time source of both directions and of maintenance: the system clock in production, the
//! sandbox's controllable clock in tests (a day of subscription renewals runs in seconds).

use super::Timestamp;
use std::fmt;
use std::sync::Arc;

/// Cheap to clone; clones share the source.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// Wall-clock time.
    pub fn system() -> Self {
        Self(Arc::new(Timestamp::now))
    }

    /// Any other source, e.g. a test's clock.
    pub fn from_fn(now: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    pub fn now(&self) -> Timestamp {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_reads_its_source() {
        let fixed = Clock::from_fn(|| Timestamp(42));
        assert_eq!(fixed.clone().now(), Timestamp(42));
        assert!(Clock::system().now() > Timestamp(1_700_000_000_000));
    }
}

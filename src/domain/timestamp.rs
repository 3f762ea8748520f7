//! Milliseconds since the Unix epoch: the one time type of the domain and the stores.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    pub fn from_datetime(dt: OffsetDateTime) -> Self {
        Self((dt.unix_timestamp_nanos() / 1_000_000) as i64)
    }

    pub fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// `self` + `ms` (negative to go back), saturating. For milliseconds the domain already
    /// holds as `i64`; a [`Duration`] goes through [`Self::plus_duration`].
    pub fn plus_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// `self` + `wait`, saturating: a wait from outside (a `Retry-After`) never wraps into the past.
    pub fn plus_duration(self, wait: Duration) -> Self {
        self.plus_millis(millis_of(wait))
    }

    /// Parses RFC 3339 (Graph writes e.g. `2023-09-14T10:00:00.0000000Z`).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .map(Self::from_datetime)
    }

    pub fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .format(&Rfc3339)
            .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
    }
}

/// `d` in milliseconds, at most `i64::MAX`: a `Duration` holds up to 2^64 seconds, and `as i64`
/// would wrap such a one to a negative number.
pub fn millis_of(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_seven_digit_fractions_parse() {
        let t = Timestamp::parse_rfc3339("2023-09-14T10:00:00.0000000Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2023-09-14T10:00:00Z");
        assert_eq!(Timestamp::from_secs(t.secs()), t);
    }

    #[test]
    fn the_longest_wait_saturates_instead_of_wrapping_into_the_past() {
        let now = Timestamp(1_795_687_200_000);
        assert_eq!(now.plus_duration(Duration::MAX), Timestamp(i64::MAX));
        assert_eq!(
            now.plus_duration(Duration::from_secs(u64::MAX)),
            Timestamp(i64::MAX)
        );
        assert_eq!(millis_of(Duration::from_secs(u64::MAX)), i64::MAX);
        assert_eq!(
            now.plus_duration(Duration::from_millis(1_500)),
            Timestamp(1_795_687_201_500)
        );
    }
}

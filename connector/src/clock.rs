//! Wall-clock time in the units the contract uses (unix seconds for signatures, milliseconds
//! for event times and the store).

use std::time::Duration;

pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// `d` in milliseconds, at most `i64::MAX`: a `Duration` holds up to 2^64 seconds, and `as i64`
/// would wrap such a one to a negative number.
pub fn millis_of(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

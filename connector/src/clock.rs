//! Wall-clock time in the units the contract uses (unix seconds for signatures, milliseconds
//! for event times and the store).

pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

//! `[store]`: the embedded SQLite file or a DynamoDB table; and the GUID check the sections share.

use super::check::{Check, text};
use super::{ConfigError, DynamoTimeouts, Origin, RawStore, StoreConfig};
use std::path::PathBuf;
use std::time::Duration;

/// Real DynamoDB answers in milliseconds; these leave a webhook (2 s by default) room to answer
/// 503 well before Graph's 3 s when the table does not answer: one attempt, one retry, given up.
pub const DYNAMODB_CONNECT_TIMEOUT_MS: u64 = 1_000;
pub const DYNAMODB_ATTEMPT_TIMEOUT_MS: u64 = 700;
pub const DYNAMODB_TIMEOUT_MS: u64 = 1_500;

/// The `[store]` part alone: admin commands such as `users import` need nothing else. In a file
/// it defaults to the embedded store `presence-bridge.db`; in the (Lambda) environment it is required.
pub fn validate_store(raw: RawStore, origin: Origin) -> Result<StoreConfig, ConfigError> {
    let check = Check::new(origin);
    let raw_timeouts = [
        raw.dynamodb_connect_timeout_ms,
        raw.dynamodb_attempt_timeout_ms,
        raw.dynamodb_timeout_ms,
    ];
    match (text(raw.sqlite_path), text(raw.dynamodb_table)) {
        (Some(_), Some(_)) => Err(check.fail(
            "store.dynamodb_table",
            format!(
                "set either {} or {}, not both",
                check.name("store.sqlite_path"),
                check.name("store.dynamodb_table")
            ),
        )),
        (Some(path), None) => Ok(StoreConfig::Sqlite {
            path: PathBuf::from(path),
        }),
        (None, Some(table)) => Ok(StoreConfig::DynamoDb {
            table,
            endpoint_url: text(raw.dynamodb_endpoint),
            timeouts: dynamodb_timeouts(&raw_timeouts, check)?,
        }),
        // Self-hosted: the embedded store next to the process. Lambda has no durable disk.
        (None, None) if origin == Origin::File => Ok(StoreConfig::Sqlite {
            path: PathBuf::from("presence-bridge.db"),
        }),
        (None, None) => Err(check.fail(
            "store",
            format!(
                "missing: set {} or {}",
                check.name("store.sqlite_path"),
                check.name("store.dynamodb_table")
            ),
        )),
    }
}

/// `[connect, attempt, operation]` in ms, each within Graph's 3 s; an attempt no longer than
/// the operation it belongs to.
fn dynamodb_timeouts(raw: &[Option<u64>; 3], check: Check) -> Result<DynamoTimeouts, ConfigError> {
    let why = ": a webhook's store call must fail in time to answer Graph within 3 s";
    let [connect, attempt, operation] = *raw;
    let connect = check.within(
        "store.dynamodb_connect_timeout_ms",
        connect,
        DYNAMODB_CONNECT_TIMEOUT_MS,
        50..=2_800,
        why,
    )?;
    let attempt = check.within(
        "store.dynamodb_attempt_timeout_ms",
        attempt,
        DYNAMODB_ATTEMPT_TIMEOUT_MS,
        50..=2_800,
        why,
    )?;
    let operation = check.within(
        "store.dynamodb_timeout_ms",
        operation,
        DYNAMODB_TIMEOUT_MS,
        50..=2_800,
        why,
    )?;
    if attempt > operation {
        return Err(check.fail(
            "store.dynamodb_attempt_timeout_ms",
            format!(
                "{attempt} ms is longer than {} ({operation} ms), the operation it is part of",
                check.name("store.dynamodb_timeout_ms")
            ),
        ));
    }
    Ok(DynamoTimeouts {
        connect: Duration::from_millis(connect),
        attempt: Duration::from_millis(attempt),
        operation: Duration::from_millis(operation),
    })
}

pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dynamodb(timeouts: [Option<u64>; 3], origin: Origin) -> Result<StoreConfig, ConfigError> {
        let [connect, attempt, operation] = timeouts;
        validate_store(
            RawStore {
                dynamodb_table: Some("presence-bridge".into()),
                dynamodb_connect_timeout_ms: connect,
                dynamodb_attempt_timeout_ms: attempt,
                dynamodb_timeout_ms: operation,
                ..RawStore::default()
            },
            origin,
        )
    }

    fn timeouts(cfg: StoreConfig) -> DynamoTimeouts {
        match cfg {
            StoreConfig::DynamoDb { timeouts, .. } => timeouts,
            other => panic!("not DynamoDB: {other:?}"),
        }
    }

    #[test]
    fn dynamodb_timeouts_default_to_failing_well_within_graphs_3_s() {
        let t = timeouts(dynamodb([None; 3], Origin::File).unwrap());
        assert_eq!(t.connect, Duration::from_millis(1_000));
        assert_eq!(t.attempt, Duration::from_millis(700));
        assert_eq!(t.operation, Duration::from_millis(1_500));
        let t = timeouts(dynamodb([Some(200), Some(300), Some(900)], Origin::Env).unwrap());
        assert_eq!(
            (t.connect, t.attempt, t.operation),
            (
                Duration::from_millis(200),
                Duration::from_millis(300),
                Duration::from_millis(900)
            )
        );
    }

    #[test]
    fn dynamodb_timeouts_past_graphs_patience_or_out_of_order_are_refused_by_name() {
        let e = dynamodb([None, None, Some(5_000)], Origin::File).unwrap_err();
        assert_eq!(e.setting(), "store.dynamodb_timeout_ms");
        let e = dynamodb([Some(0), None, None], Origin::Env).unwrap_err();
        assert_eq!(e.setting(), "DYNAMODB_CONNECT_TIMEOUT_MS");
        let e = dynamodb([None, Some(1_000), Some(800)], Origin::Env).unwrap_err();
        assert_eq!(e.setting(), "DYNAMODB_ATTEMPT_TIMEOUT_MS");
        assert!(e.to_string().contains("DYNAMODB_TIMEOUT_MS"), "{e}");
    }
}

//! `[store]`: the embedded SQLite file or a DynamoDB table; and the GUID check the sections share.

use super::check::{Check, text};
use super::{ConfigError, Origin, RawStore, StoreConfig};
use std::path::PathBuf;

/// The `[store]` part alone: admin commands such as `users import` need nothing else. In a file
/// it defaults to the embedded store `presence-bridge.db`; in the (Lambda) environment it is required.
pub fn validate_store(raw: RawStore, origin: Origin) -> Result<StoreConfig, ConfigError> {
    let check = Check::new(origin);
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

pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

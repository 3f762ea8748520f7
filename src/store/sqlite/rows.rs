//! Row helpers: error context, JSON columns.

use crate::domain::Timestamp;
use crate::store::{StoreError, StoreResult, UserLink};

// The per-user records' reads and upserts, shared by the single and the batch writes.
pub(super) const USER_BY_ENTRA_ID: &str =
    "SELECT entra_id, swyx_user_id, email, groups FROM users WHERE entra_id = ?1";
pub(super) const USER_BY_SWYX_ID: &str =
    "SELECT entra_id, swyx_user_id, email, groups FROM users WHERE swyx_user_id = ?1";
pub(super) const CLAIM_ACTIVE: &str = "SELECT 1 FROM claims WHERE key = ?1 AND expires_at > ?2";
pub(super) const SWITCHES_BY_USER: &str = "SELECT data FROM switches WHERE swyx_user_id = ?1";
pub(super) const STATE_BY_USER: &str = "SELECT data FROM sync_state WHERE entra_id = ?1";
pub(super) const SPEAKING_BY_USER: &str = "SELECT data FROM speaking WHERE entra_id = ?1";
pub(super) const UPSERT_STATE: &str = "INSERT INTO sync_state (entra_id, data) VALUES (?1, ?2)
     ON CONFLICT (entra_id) DO UPDATE SET data = excluded.data";
pub(super) const PENDING_BY_USER: &str = "SELECT data FROM pending WHERE swyx_user_id = ?1";
pub(super) const UPSERT_PENDING: &str =
    "INSERT INTO pending (swyx_user_id, next_attempt_at, data) VALUES (?1, ?2, ?3)
     ON CONFLICT (swyx_user_id) DO UPDATE
     SET next_attempt_at = excluded.next_attempt_at, data = excluded.data";
use rusqlite::{Connection, ErrorCode, OptionalExtension, Params, Row};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Adds what was being done to a rusqlite error, and tells a database locked by another process
/// (past the busy timeout: worth a retry) from every other failure.
pub(super) trait Ctx<T> {
    fn ctx(self, what: &str) -> StoreResult<T>;
}

impl<T> Ctx<T> for rusqlite::Result<T> {
    fn ctx(self, what: &str) -> StoreResult<T> {
        self.map_err(|e| classify(format!("SQLite {what}"), e))
    }
}

fn classify(operation: String, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Unavailable {
            operation,
            source: Box::new(e),
        },
        _ => StoreError::backend(operation, e),
    }
}

pub(super) fn to_json<T: Serialize>(value: &T, what: &str) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::backend(format!("encode {what}"), e))
}

pub(super) fn from_json<T: DeserializeOwned>(json: &str, what: &str) -> StoreResult<T> {
    serde_json::from_str(json).map_err(|e| StoreError::backend(format!("corrupt {what} row"), e))
}

/// SQLite integers are signed; a `usize` limit beyond that means "no limit".
pub(super) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

pub(super) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserLink> {
    Ok(UserLink {
        entra_id: row.get(0)?,
        swyx_user_id: row.get(1)?,
        email: row.get(2)?,
        groups: json_column(row, 3)?,
    })
}

/// A column holding JSON (a corrupt value is a conversion error naming the column).
fn json_column<T: DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

// Statements through the connection's cache: the hot ones (a notification's reads and writes)
// are parsed once per connection, not once per call.

/// [`Connection::execute`], with the statement cached.
pub(super) fn exec(conn: &Connection, sql: &str, params: impl Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// [`Connection::query_row`], with the statement cached.
pub(super) fn row<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

pub(super) fn read_one<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    key: &str,
    what: &str,
) -> StoreResult<Option<T>> {
    let json: Option<String> = row(conn, sql, [key], |r| r.get(0))
        .optional()
        .ctx(&format!("read {what}"))?;
    json.map(|j| from_json(&j, what)).transpose()
}

pub(super) fn read_all<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    what: &str,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn
        .prepare_cached(sql)
        .ctx(&format!("prepare {what} query"))?;
    let rows = stmt
        .query_map(params, |r| r.get::<_, String>(0))
        .ctx(&format!("query {what}"))?;
    let mut out = Vec::new();
    for json in rows {
        out.push(from_json(&json.ctx(&format!("read {what}"))?, what)?);
    }
    Ok(out)
}

/// The link `sql` ([`USER_BY_ENTRA_ID`], [`USER_BY_SWYX_ID`]) finds at `key`.
pub(super) fn read_link(conn: &Connection, sql: &str, key: &str) -> StoreResult<Option<UserLink>> {
    row(conn, sql, [key], user_from_row)
        .optional()
        .ctx("read user link")
}

/// Whether the idempotency `key` is remembered at `now`.
pub(super) fn claim_active(conn: &Connection, key: &str, now: Timestamp) -> StoreResult<bool> {
    row(
        conn,
        CLAIM_ACTIVE,
        rusqlite::params![key, now.millis()],
        |_| Ok(()),
    )
    .optional()
    .map(|row| row.is_some())
    .ctx("read idempotency key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_locked_by_another_process_is_transient_other_failures_are_not() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        let err = Err::<(), _>(busy).ctx("write sync state").unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert!(
            err.to_string()
                .starts_with("SQLite write sync state: unavailable")
        );
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let err = Err::<(), _>(full).ctx("write sync state").unwrap_err();
        assert!(matches!(err, StoreError::Backend { .. }), "{err:?}");
    }
}

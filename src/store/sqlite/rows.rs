//! Row helpers: error context, input checks, JSON columns.

use crate::domain::UserSyncState;
use crate::store::{StoreError, StoreResult, UserLink};
use rusqlite::{Connection, OptionalExtension, Row};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Adds what was being done to a rusqlite error.
pub(super) trait Ctx<T> {
    fn ctx(self, what: &str) -> StoreResult<T>;
}

impl<T> Ctx<T> for rusqlite::Result<T> {
    fn ctx(self, what: &str) -> StoreResult<T> {
        self.map_err(|e| StoreError::Backend(format!("SQLite {what}: {e}")))
    }
}

pub(super) fn require(what: &str, value: &str) -> StoreResult<()> {
    if value.is_empty() {
        return Err(StoreError::Backend(format!("rejected: {what} is empty")));
    }
    Ok(())
}

pub(super) fn to_json<T: Serialize>(value: &T, what: &str) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Backend(format!("cannot encode {what}: {e}")))
}

pub(super) fn from_json<T: DeserializeOwned>(json: &str, what: &str) -> StoreResult<T> {
    serde_json::from_str(json).map_err(|e| StoreError::Backend(format!("corrupt {what} row: {e}")))
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
    })
}

pub(super) fn read_one<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    key: &str,
    what: &str,
) -> StoreResult<Option<T>> {
    let json: Option<String> = conn
        .query_row(sql, [key], |r| r.get(0))
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
    let mut stmt = conn.prepare(sql).ctx(&format!("prepare {what} query"))?;
    let rows = stmt
        .query_map(params, |r| r.get::<_, String>(0))
        .ctx(&format!("query {what}"))?;
    let mut out = Vec::new();
    for json in rows {
        out.push(from_json(&json.ctx(&format!("read {what}"))?, what)?);
    }
    Ok(out)
}

pub(super) fn check_revision_grows(
    entra_id: &str,
    state: &UserSyncState,
    expected: u64,
) -> StoreResult<()> {
    if state.revision <= expected {
        return Err(StoreError::Conflict(format!(
            "sync state of {entra_id}: new revision {} is not greater than expected revision {expected}",
            state.revision
        )));
    }
    Ok(())
}

pub(super) fn revision_conflict(entra_id: &str, expected: u64) -> StoreError {
    StoreError::Conflict(format!(
        "sync state of {entra_id} is not at revision {expected}"
    ))
}

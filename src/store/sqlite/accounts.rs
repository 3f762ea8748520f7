//! Sync accounts (a JSON row with its `version` as a column, so a conditional write is one
//! statement) and lifecycle requests (three columns, keyed by subscription and event).

use super::SqliteStore;
use super::rows::{Ctx, exec, read_all, read_one, to_json};
use crate::domain::Timestamp;
use crate::store::{
    AccountStore, LifecycleRequest, LifecycleStore, StoreError, StoreResult, SyncAccount,
    check_lifecycle_key, not_at, require, require_growth,
};
use async_trait::async_trait;
use rusqlite::{Row, params};

fn lifecycle_from_row(row: &Row<'_>) -> rusqlite::Result<LifecycleRequest> {
    Ok(LifecycleRequest {
        subscription_id: row.get(0)?,
        event: row.get(1)?,
        received_at: Timestamp(row.get(2)?),
    })
}

#[async_trait]
impl AccountStore for SqliteStore {
    async fn put_account(&self, account: &SyncAccount, expected_version: u64) -> StoreResult<()> {
        let name = account.name.clone();
        require("sync account name", &name)?;
        let subject = format!("sync account {name}");
        require_growth(&subject, "version", account.version, expected_version)?;
        // SQLite integers are signed; versions count writes, so they never get near the limit.
        let version = i64::try_from(account.version).map_err(|_| {
            StoreError::invalid(format!(
                "version {} of sync account {name} exceeds SQLite's integer range",
                account.version
            ))
        })?;
        // Below `version`, so it fits too.
        let expected = i64::try_from(expected_version).unwrap_or(i64::MAX);
        let json = to_json(account, "sync account")?;
        self.exec(move |c| {
            // One statement each, so the check and the write are atomic without a transaction.
            let written = if expected_version == 0 {
                exec(
                    c,
                    "INSERT INTO accounts (name, version, data) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO NOTHING",
                    params![name, version, json],
                )
            } else {
                exec(
                    c,
                    "UPDATE accounts SET version = ?2, data = ?3 WHERE name = ?1 AND version = ?4",
                    params![name, version, json, expected],
                )
            }
            .ctx("write sync account")?;
            if written == 0 {
                return Err(not_at(&subject, "version", expected_version));
            }
            Ok(())
        })
        .await
    }

    async fn get_account(&self, name: &str) -> StoreResult<Option<SyncAccount>> {
        let name = name.to_string();
        self.run(move |c| {
            read_one(
                c,
                "SELECT data FROM accounts WHERE name = ?1",
                &name,
                "sync account",
            )
        })
        .await
    }

    async fn list_accounts(&self) -> StoreResult<Vec<SyncAccount>> {
        self.run(|c| {
            read_all(
                c,
                "SELECT data FROM accounts ORDER BY name",
                [],
                "sync account",
            )
        })
        .await
    }

    async fn delete_account(&self, name: &str) -> StoreResult<bool> {
        let name = name.to_string();
        self.exec(move |c| {
            let n = c
                .execute("DELETE FROM accounts WHERE name = ?1", [name])
                .ctx("delete sync account")?;
            Ok(n > 0)
        })
        .await
    }
}

#[async_trait]
impl LifecycleStore for SqliteStore {
    async fn put_lifecycle_request(&self, request: &LifecycleRequest) -> StoreResult<()> {
        check_lifecycle_key(&request.subscription_id, &request.event)?;
        let request = request.clone();
        self.exec(move |c| {
            exec(c,
                "INSERT INTO lifecycle_requests (subscription_id, event, received_at)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT (subscription_id, event) DO UPDATE SET received_at = excluded.received_at",
                params![
                    request.subscription_id,
                    request.event,
                    request.received_at.millis()
                ],
            )
            .ctx("write lifecycle request")?;
            Ok(())
        })
        .await
    }

    async fn list_lifecycle_requests(&self) -> StoreResult<Vec<LifecycleRequest>> {
        self.run(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT subscription_id, event, received_at FROM lifecycle_requests
                     ORDER BY received_at, subscription_id, event",
                )
                .ctx("prepare lifecycle request list")?;
            let rows = stmt
                .query_map([], lifecycle_from_row)
                .ctx("list lifecycle requests")?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .ctx("list lifecycle requests")
        })
        .await
    }

    async fn delete_lifecycle_request(
        &self,
        subscription_id: &str,
        event: &str,
        handled_up_to: Timestamp,
    ) -> StoreResult<bool> {
        check_lifecycle_key(subscription_id, event)?;
        let (subscription_id, event) = (subscription_id.to_string(), event.to_string());
        self.exec(move |c| {
            let n = c
                .execute(
                    "DELETE FROM lifecycle_requests
                     WHERE subscription_id = ?1 AND event = ?2 AND received_at <= ?3",
                    params![subscription_id, event, handled_up_to.millis()],
                )
                .ctx("delete lifecycle request")?;
            Ok(n > 0)
        })
        .await
    }
}

//! Connection settings and the schema, versioned with SQLite's `user_version`.

use super::rows::Ctx;
use crate::store::{StoreError, StoreResult};
use rusqlite::{Connection, TransactionBehavior};
use std::time::Duration;

/// The schema version this build writes; each entry of [`MIGRATIONS`] moves one version up.
pub(super) const SCHEMA_VERSION: i64 = 6;

/// Long enough to ride out another process's write transaction (they are all short).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// `MIGRATIONS[n]` upgrades a database from version `n` to `n + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    "
CREATE TABLE users (
    entra_id     TEXT PRIMARY KEY NOT NULL,
    swyx_user_id TEXT NOT NULL UNIQUE,
    email        TEXT NOT NULL
);
CREATE TABLE sync_state (
    entra_id TEXT PRIMARY KEY NOT NULL,
    data     TEXT NOT NULL
);
CREATE TABLE subscriptions (
    id   TEXT PRIMARY KEY NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE pending (
    swyx_user_id    TEXT PRIMARY KEY NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    data            TEXT NOT NULL
);
CREATE INDEX pending_due ON pending (next_attempt_at, swyx_user_id);
CREATE TABLE claims (
    key        TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX claims_expiry ON claims (expires_at);
",
    "
CREATE TABLE speaking (
    entra_id TEXT PRIMARY KEY NOT NULL,
    due_at   INTEGER,
    data     TEXT NOT NULL
);
CREATE INDEX speaking_due ON speaking (due_at, entra_id) WHERE due_at IS NOT NULL;
",
    "
CREATE TABLE accounts (
    name    TEXT PRIMARY KEY NOT NULL,
    version INTEGER NOT NULL,
    data    TEXT NOT NULL
);
CREATE TABLE lifecycle_requests (
    subscription_id TEXT NOT NULL,
    event           TEXT NOT NULL,
    received_at     INTEGER NOT NULL,
    PRIMARY KEY (subscription_id, event)
);
",
    "
CREATE TABLE link_marks (
    swyx_user_id TEXT PRIMARY KEY NOT NULL,
    data         TEXT NOT NULL
);
",
    "
CREATE TABLE switches (
    swyx_user_id TEXT PRIMARY KEY NOT NULL,
    data         TEXT NOT NULL
);
",
    // A JSON array of Swyx group names.
    "
ALTER TABLE users ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';
",
];

pub(super) fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT).ctx("set busy timeout")?;
    // Room for every statement the store runs (about 50), so none of the hot ones is evicted.
    conn.set_prepared_statement_cache_capacity(64);
    // WAL lets readers run beside the writer. An in-memory database answers "memory" and stays so.
    let _mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .ctx("enable WAL")?;
    // In WAL mode NORMAL is still crash-safe for the database; it only may lose the last commits
    // on power loss, which Graph's redelivery covers.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .ctx("set synchronous")?;
    Ok(())
}

/// A database written by a newer bridge (or not by the bridge at all).
#[derive(Debug, thiserror::Error)]
#[error(
    "the database has schema version {found}, this build supports up to {SCHEMA_VERSION}: use a \
     newer bridge or another database file"
)]
struct UnknownSchema {
    found: i64,
}

pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    // IMMEDIATE: two processes opening a fresh file must not both create the tables.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx("begin migration")?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .ctx("read schema version")?;
    if !(0..=SCHEMA_VERSION).contains(&version) {
        return Err(StoreError::backend(
            "SQLite migrate schema",
            UnknownSchema { found: version },
        ));
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)
            .ctx(&format!("migrate schema from version {from}"))?;
    }
    if version != SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .ctx("write schema version")?;
    }
    tx.commit().ctx("commit migration")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;
    use crate::store::{
        AccountStore, LifecycleRequest, LifecycleStore, SqliteStore, SubscriptionRecord,
        SubscriptionStore, SyncAccount,
    };

    /// A database as the previous release (schema 2) left it, with one subscription.
    fn version_2_database() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.execute_batch(MIGRATIONS[1]).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute(
            "INSERT INTO subscriptions (id, data) VALUES ('sub-1', ?1)",
            [r#"{"id":"sub-1","client_state":"cs","expires_at":5}"#],
        )
        .unwrap();
        conn
    }

    #[tokio::test]
    async fn a_version_2_database_upgrades_and_keeps_its_data() {
        let store = SqliteStore::init(version_2_database()).unwrap();
        let version: i64 = store
            .run(|c| {
                c.pragma_query_value(None, "user_version", |r| r.get(0))
                    .ctx("read schema version")
            })
            .await
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);

        let old = store.get_subscription("sub-1").await.unwrap().unwrap();
        assert_eq!(
            old,
            SubscriptionRecord {
                id: "sub-1".into(),
                client_state: "cs".into(),
                expires_at: Timestamp(5),
                account: None,
                resource: String::new(),
                encryption_certificate_id: None,
                renewed_at: None,
            }
        );

        let account = SyncAccount {
            name: "sync-01".into(),
            sealed_refresh_token: "sealed".into(),
            version: 1,
            assigned: vec![],
            covered: vec![],
            subscription_id: None,
            unconfirmed_client_state: None,
            added_at: Timestamp(1),
            reconciled_at: None,
            reconcile_requested: false,
            last_error: None,
            graph_backoff: None,
        };
        store.put_account(&account, 0).await.unwrap();
        assert_eq!(store.list_accounts().await.unwrap(), vec![account]);
        let request = LifecycleRequest {
            subscription_id: "sub-1".into(),
            event: "missed".into(),
            received_at: Timestamp(2),
        };
        store.put_lifecycle_request(&request).await.unwrap();
        assert_eq!(
            store.list_lifecycle_requests().await.unwrap(),
            vec![request]
        );
    }
}

//! The embedded store for self-hosted use: one SQLite file in WAL mode.
//!
//! Two connections: reads on one (in WAL mode they never wait for a writer), writes on the
//! other, one at a time. Every call runs on tokio's blocking pool, never on an async worker: a
//! write can wait for another process's lock (the CLI next to the server), and a worker blocked
//! there would stall every request. Each call waits at most its store's `lock_wait` (for its turn
//! and for SQLite's lock together) and then fails as unavailable, a transient failure: the
//! webhook answers 503 in time and Graph retries.
//! Conditional writes are one statement, or read and write inside one `BEGIN IMMEDIATE`
//! transaction: it takes the write lock up front, so a second process on the same file waits for
//! it (within the lock wait) instead of interleaving.

mod accounts;
mod batch;
mod calls;
mod decision_inputs;
mod link_marks;
mod pending;
mod rows;
mod schema;
mod speaking;
mod switches;

use super::{
    DecisionWrite, IdempotencyStore, StoreError, StoreResult, SubscriptionRecord,
    SubscriptionStore, SyncStateStore, UserLink, UserLinkStore, not_at, require, require_growth,
};
use crate::domain::{Timestamp, UserSyncState};
use async_trait::async_trait;
use rows::*;
use rusqlite::{Connection, OptionalExtension, params};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicI32;
use std::time::Duration;
use tokio::sync::Mutex;

/// How long a call may wait for the database by default: long enough to ride out another
/// process's write transaction (they are all short). The CLI uses it.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(10);

/// A [`Store`](super::Store) on SQLite. Cloning shares the connections.
#[derive(Clone)]
pub struct SqliteStore {
    reader: Arc<Mutex<Connection>>,
    /// The same connection as `reader` for an in-memory database (a second one would be another
    /// database).
    writer: Arc<Mutex<Connection>>,
    lock_wait: Duration,
    /// Frames in the write-ahead log after the writing connection's last commit (see `calls`).
    wal_frames: Arc<AtomicI32>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<Self> {
        Self::open_with_lock_wait(path, DEFAULT_LOCK_WAIT)
    }

    /// As [`SqliteStore::open`]; each call fails as unavailable after waiting `lock_wait` for the
    /// database (a webhook must answer within Graph's 3 s).
    pub fn open_with_lock_wait(path: &Path, lock_wait: Duration) -> StoreResult<Self> {
        let open = || {
            Connection::open(path).ctx(&format!("cannot open SQLite database {}", path.display()))
        };
        let mut writer = open()?;
        schema::configure(&writer)?;
        schema::migrate(&mut writer)?;
        let wal_frames = Self::count_wal_frames(&mut writer)?;
        let reader = open()?;
        schema::configure(&reader)?;
        Ok(Self {
            reader: Arc::new(Mutex::new(reader)),
            writer: Arc::new(Mutex::new(writer)),
            lock_wait,
            wal_frames,
        })
    }

    /// A private database that lives as long as this store (tests, demos).
    pub fn open_in_memory() -> StoreResult<Self> {
        Self::init(Connection::open_in_memory().ctx("open in-memory database")?)
    }

    /// A store on one connection for reads and writes (an in-memory database).
    fn init(mut conn: Connection) -> StoreResult<Self> {
        schema::configure(&conn)?;
        schema::migrate(&mut conn)?;
        let conn = Arc::new(Mutex::new(conn));
        Ok(Self {
            reader: Arc::clone(&conn),
            writer: conn,
            lock_wait: DEFAULT_LOCK_WAIT,
            // No log: an in-memory database keeps its journal in memory.
            wal_frames: Arc::default(),
        })
    }
}

#[async_trait]
impl UserLinkStore for SqliteStore {
    async fn put_user(&self, link: &UserLink) -> StoreResult<()> {
        require("Entra id", &link.entra_id)?;
        require("Swyx user id", &link.swyx_user_id)?;
        let link = link.clone();
        let groups = serde_json::to_string(&link.groups)
            .map_err(|e| StoreError::backend("encode the user's groups", e))?;
        self.write(move |tx| {
            let owner: Option<String> = row(
                tx,
                "SELECT entra_id FROM users WHERE swyx_user_id = ?1",
                [&link.swyx_user_id],
                |r| r.get(0),
            )
            .optional()
            .ctx("read user link")?;
            if owner.is_some_and(|owner| owner != link.entra_id) {
                return Err(StoreError::conflict(format!(
                    "Swyx user {} is already linked to another Entra user",
                    link.swyx_user_id
                )));
            }
            exec(
                tx,
                "INSERT INTO users (entra_id, swyx_user_id, email, groups) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (entra_id) DO UPDATE
                 SET swyx_user_id = excluded.swyx_user_id, email = excluded.email,
                     groups = excluded.groups",
                params![link.entra_id, link.swyx_user_id, link.email, groups],
            )
            .ctx("write user link")?;
            Ok(())
        })
        .await
    }

    async fn get_user(&self, entra_id: &str) -> StoreResult<Option<UserLink>> {
        let entra_id = entra_id.to_string();
        self.run(move |c| read_link(c, USER_BY_ENTRA_ID, &entra_id))
            .await
    }

    async fn get_user_by_swyx_id(&self, swyx_user_id: &str) -> StoreResult<Option<UserLink>> {
        let swyx_user_id = swyx_user_id.to_string();
        self.run(move |c| read_link(c, USER_BY_SWYX_ID, &swyx_user_id))
            .await
    }

    async fn list_users(&self) -> StoreResult<Vec<UserLink>> {
        self.run(|c| {
            // BINARY collation orders by bytes, which for UTF-8 is Rust's `str` order.
            let mut stmt = c
                .prepare_cached(
                    "SELECT entra_id, swyx_user_id, email, groups FROM users ORDER BY entra_id",
                )
                .ctx("prepare user list")?;
            let rows = stmt.query_map([], user_from_row).ctx("list users")?;
            rows.collect::<rusqlite::Result<Vec<_>>>().ctx("list users")
        })
        .await
    }

    async fn list_users_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<UserLink>> {
        let after = after.map(str::to_string);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |c| {
            // NULL compares as unknown: `?1 IS NULL` lets the first page start at the start.
            let mut stmt = c
                .prepare_cached(
                    "SELECT entra_id, swyx_user_id, email, groups FROM users \
                     WHERE ?1 IS NULL OR entra_id > ?1 ORDER BY entra_id LIMIT ?2",
                )
                .ctx("prepare user page")?;
            let rows = stmt
                .query_map(params![after, limit], user_from_row)
                .ctx("list a page of users")?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .ctx("list a page of users")
        })
        .await
    }

    async fn delete_user(&self, entra_id: &str) -> StoreResult<bool> {
        let entra_id = entra_id.to_string();
        self.write(move |tx| {
            let removed = tx
                .execute("DELETE FROM users WHERE entra_id = ?1", [&entra_id])
                .ctx("delete user link")?;
            exec(
                tx,
                "DELETE FROM sync_state WHERE entra_id = ?1",
                [&entra_id],
            )
            .ctx("delete sync state")?;
            Ok(removed > 0)
        })
        .await
    }

    async fn get_users(&self, entra_ids: &[String]) -> StoreResult<Vec<UserLink>> {
        self.users_batch(entra_ids).await
    }

    async fn create_automatic_links(
        &self,
        links: &[UserLink],
        at: Timestamp,
    ) -> StoreResult<Vec<String>> {
        self.create_automatic_links_batch(links, at).await
    }
}

#[async_trait]
impl SyncStateStore for SqliteStore {
    async fn get_sync_state(&self, entra_id: &str) -> StoreResult<Option<UserSyncState>> {
        let entra_id = entra_id.to_string();
        self.run_quick(move |c| read_one(c, STATE_BY_USER, &entra_id, "sync state"))
            .await
    }

    async fn put_sync_state(
        &self,
        entra_id: &str,
        state: &UserSyncState,
        expected_revision: u64,
    ) -> StoreResult<()> {
        require("Entra id", entra_id)?;
        let subject = format!("sync state of {entra_id}");
        require_growth(&subject, "revision", state.revision, expected_revision)?;
        let json = to_json(state, "sync state")?;
        let entra_id = entra_id.to_string();
        self.write_quick(move |tx| {
            let current: Option<UserSyncState> =
                read_one(tx, STATE_BY_USER, &entra_id, "sync state")?;
            if current.map_or(0, |s| s.revision) != expected_revision {
                return Err(not_at(&subject, "revision", expected_revision));
            }
            exec(tx, UPSERT_STATE, params![entra_id, json]).ctx("write sync state")?;
            Ok(())
        })
        .await
    }

    async fn get_sync_states(
        &self,
        entra_ids: &[String],
    ) -> StoreResult<Vec<(String, UserSyncState)>> {
        self.sync_states_batch(entra_ids).await
    }

    async fn put_decisions(&self, decisions: &[DecisionWrite]) -> StoreResult<Vec<String>> {
        self.put_decisions_batch(decisions).await
    }
}

#[async_trait]
impl SubscriptionStore for SqliteStore {
    async fn put_subscription(&self, sub: &SubscriptionRecord) -> StoreResult<()> {
        require("subscription id", &sub.id)?;
        let json = to_json(sub, "subscription")?;
        let id = sub.id.clone();
        self.exec(move |c| {
            exec(
                c,
                "INSERT INTO subscriptions (id, data) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data",
                params![id, json],
            )
            .ctx("write subscription")?;
            Ok(())
        })
        .await
    }

    async fn get_subscription(&self, id: &str) -> StoreResult<Option<SubscriptionRecord>> {
        let id = id.to_string();
        self.run_quick(move |c| {
            read_one(
                c,
                "SELECT data FROM subscriptions WHERE id = ?1",
                &id,
                "subscription",
            )
        })
        .await
    }

    async fn list_subscriptions(&self) -> StoreResult<Vec<SubscriptionRecord>> {
        self.run(|c| {
            read_all(
                c,
                "SELECT data FROM subscriptions ORDER BY id",
                [],
                "subscription",
            )
        })
        .await
    }

    async fn delete_subscription(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_string();
        self.exec(move |c| {
            let n = c
                .execute("DELETE FROM subscriptions WHERE id = ?1", [id])
                .ctx("delete subscription")?;
            Ok(n > 0)
        })
        .await
    }
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn claim_once(
        &self,
        key: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        require("idempotency key", key)?;
        let key = key.to_string();
        // Housekeeping only drops keys expired by both the caller's and the wall clock, so a
        // caller with a synthetic clock still sees exact per-key semantics.
        let purge_before = now.min(Timestamp::now());
        self.write_quick(move |tx| {
            exec(
                tx,
                "DELETE FROM claims WHERE expires_at <= ?1",
                [purge_before.millis()],
            )
            .ctx("purge expired idempotency keys")?;
            let claimed = tx
                .execute(
                    "INSERT INTO claims (key, expires_at) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
                     WHERE claims.expires_at <= ?3",
                    params![key, expires_at.millis(), now.millis()],
                )
                .ctx("claim idempotency key")?;
            Ok(claimed == 1)
        })
        .await
    }

    async fn release_claim(&self, key: &str) -> StoreResult<bool> {
        require("idempotency key", key)?;
        let key = key.to_string();
        self.exec(move |c| {
            let n = c
                .execute("DELETE FROM claims WHERE key = ?1", [key])
                .ctx("release idempotency key")?;
            Ok(n > 0)
        })
        .await
    }

    async fn is_claimed(&self, key: &str, now: Timestamp) -> StoreResult<bool> {
        require("idempotency key", key)?;
        let key = key.to_string();
        self.run_quick(move |c| claim_active(c, &key, now)).await
    }
}

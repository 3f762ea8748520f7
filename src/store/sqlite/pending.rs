//! Pending Swyx deliveries: one JSON row per Swyx user, with `next_attempt_at` as an indexed
//! column for maintenance. Writes compare revisions inside one `BEGIN IMMEDIATE` transaction.

use super::SqliteStore;
use super::rows::{
    Ctx, PENDING_BY_USER, UPSERT_PENDING, exec, read_all, read_one, row, sql_limit, to_json,
};
use crate::domain::Timestamp;
use crate::store::{PendingDelivery, PendingStore, StoreResult, require};
use async_trait::async_trait;
use rusqlite::params;

#[async_trait]
impl PendingStore for SqliteStore {
    async fn put_pending(&self, p: &PendingDelivery) -> StoreResult<bool> {
        require("Swyx user id", &p.update.swyx_user_id)?;
        let json = to_json(p, "pending delivery")?;
        let (swyx, revision, at) = (
            p.update.swyx_user_id.clone(),
            p.update.revision,
            p.next_attempt_at,
        );
        self.write(move |tx| {
            let current: Option<PendingDelivery> =
                read_one(tx, PENDING_BY_USER, &swyx, "pending delivery")?;
            if current.is_some_and(|c| c.update.revision > revision) {
                return Ok(false);
            }
            exec(tx, UPSERT_PENDING, params![swyx, at.millis(), json])
                .ctx("write pending delivery")?;
            Ok(true)
        })
        .await
    }

    async fn due_pending(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<PendingDelivery>> {
        self.run(move |c| {
            read_all(
                c,
                "SELECT data FROM pending WHERE next_attempt_at <= ?1
                 ORDER BY next_attempt_at, swyx_user_id LIMIT ?2",
                params![now.millis(), sql_limit(limit)],
                "pending delivery",
            )
        })
        .await
    }

    async fn get_pending(&self, swyx_user_id: &str) -> StoreResult<Option<PendingDelivery>> {
        let swyx = swyx_user_id.to_string();
        self.run_quick(move |c| read_one(c, PENDING_BY_USER, &swyx, "pending delivery"))
            .await
    }

    async fn delete_pending(
        &self,
        swyx_user_id: &str,
        delivered_revision: u64,
    ) -> StoreResult<bool> {
        let swyx = swyx_user_id.to_string();
        self.write_quick(move |tx| {
            let current: Option<PendingDelivery> =
                read_one(tx, PENDING_BY_USER, &swyx, "pending delivery")?;
            if current.is_none_or(|c| c.update.revision > delivered_revision) {
                return Ok(false);
            }
            exec(tx, "DELETE FROM pending WHERE swyx_user_id = ?1", [&swyx])
                .ctx("delete pending delivery")?;
            Ok(true)
        })
        .await
    }

    async fn count_pending(&self) -> StoreResult<usize> {
        self.run(|c| {
            let n: i64 =
                row(c, "SELECT COUNT(*) FROM pending", [], |r| r.get(0)).ctx("count pending")?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn delete_pendings(&self, delivered: &[(String, u64)]) -> StoreResult<usize> {
        self.delete_pendings_batch(delivered).await
    }

    async fn make_pending_due(&self, now: Timestamp) -> StoreResult<usize> {
        // One transaction: an entry replaced meanwhile (a newer revision, another attempt) is
        // never overwritten with the older copy read here.
        self.write(move |tx| {
            let waiting: Vec<PendingDelivery> = read_all(
                tx,
                "SELECT data FROM pending WHERE next_attempt_at > ?1",
                params![now.millis()],
                "pending delivery",
            )?;
            let mut moved = 0;
            for mut p in waiting.into_iter().filter(|p| p.may_go_early(now)) {
                p.next_attempt_at = now;
                let json = to_json(&p, "pending delivery")?;
                tx.execute(
                    UPSERT_PENDING,
                    params![p.update.swyx_user_id, now.millis(), json],
                )
                .ctx("make pending delivery due")?;
                moved += 1;
            }
            Ok(moved)
        })
        .await
    }
}

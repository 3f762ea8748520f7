//! Swyx → Teams per-user speaking state: a JSON row with the revision inside and `due_at` as an
//! indexed column, so maintenance finds due users without reading everyone.

use super::SqliteStore;
use super::rows::{Ctx, SPEAKING_BY_USER, exec, from_json, read_one, sql_limit, to_json};
use crate::domain::{SpeakingState, Timestamp};
use crate::store::{SpeakingStore, StoreResult, not_at, require, require_growth};
use async_trait::async_trait;
use rusqlite::params;

#[async_trait]
impl SpeakingStore for SqliteStore {
    async fn get_speaking(&self, entra_id: &str) -> StoreResult<Option<SpeakingState>> {
        let entra_id = entra_id.to_string();
        self.run_quick(move |c| read_one(c, SPEAKING_BY_USER, &entra_id, "speaking state"))
            .await
    }

    async fn put_speaking(
        &self,
        entra_id: &str,
        state: &SpeakingState,
        expected_revision: u64,
    ) -> StoreResult<()> {
        require("Entra id", entra_id)?;
        let subject = format!("speaking state of {entra_id}");
        require_growth(&subject, "revision", state.revision, expected_revision)?;
        let json = to_json(state, "speaking state")?;
        let due = state.due_at.map(Timestamp::millis);
        let entra_id = entra_id.to_string();
        self.write_quick(move |tx| {
            let current: Option<SpeakingState> =
                read_one(tx, SPEAKING_BY_USER, &entra_id, "speaking state")?;
            if current.map_or(0, |s| s.revision) != expected_revision {
                return Err(not_at(&subject, "revision", expected_revision));
            }
            exec(tx,
                "INSERT INTO speaking (entra_id, due_at, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (entra_id) DO UPDATE SET due_at = excluded.due_at, data = excluded.data",
                params![entra_id, due, json],
            )
            .ctx("write speaking state")?;
            Ok(())
        })
        .await
    }

    async fn due_speaking(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> StoreResult<Vec<(String, SpeakingState)>> {
        self.run(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT entra_id, data FROM speaking WHERE due_at IS NOT NULL AND due_at <= ?1
                     ORDER BY due_at, entra_id LIMIT ?2",
                )
                .ctx("prepare due speaking query")?;
            let rows = stmt
                .query_map(params![now.millis(), sql_limit(limit)], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .ctx("query due speaking states")?;
            let mut out = Vec::new();
            for row in rows {
                let (entra_id, json) = row.ctx("read speaking state")?;
                out.push((entra_id, from_json(&json, "speaking state")?));
            }
            Ok(out)
        })
        .await
    }

    async fn get_speakings(
        &self,
        entra_ids: &[String],
    ) -> StoreResult<Vec<(String, SpeakingState)>> {
        let ids = entra_ids.to_vec();
        self.run(move |c| super::batch::read_each(c, SPEAKING_BY_USER, &ids, "speaking state"))
            .await
    }
}

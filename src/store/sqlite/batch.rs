//! The batch calls of the ports: many keys in one call on the connection (reads), or in one
//! `BEGIN IMMEDIATE` transaction (writes), with the statement prepared once.

use super::SqliteStore;
use super::rows::{
    Ctx, PENDING_BY_USER, STATE_BY_USER, UPSERT_PENDING, UPSERT_STATE, from_json, to_json,
    user_from_row,
};
use crate::domain::UserSyncState;
use crate::store::{DecisionWrite, PendingDelivery, StoreResult, UserLink, require};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// The JSON record of each key that has one, with its key.
pub(super) fn read_each<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    keys: &[String],
    what: &str,
) -> StoreResult<Vec<(String, T)>> {
    let mut stmt = conn
        .prepare_cached(sql)
        .ctx(&format!("prepare {what} query"))?;
    let mut out = Vec::new();
    for key in keys {
        let json: Option<String> = stmt
            .query_row([key], |r| r.get(0))
            .optional()
            .ctx(&format!("read {what}"))?;
        if let Some(json) = json {
            out.push((key.clone(), from_json(&json, what)?));
        }
    }
    Ok(out)
}

impl SqliteStore {
    pub(super) async fn users_batch(&self, entra_ids: &[String]) -> StoreResult<Vec<UserLink>> {
        let ids = entra_ids.to_vec();
        self.run(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT entra_id, swyx_user_id, email, groups FROM users WHERE entra_id = ?1",
                )
                .ctx("prepare user link query")?;
            let mut out = Vec::new();
            for id in &ids {
                if let Some(link) = stmt
                    .query_row([id], user_from_row)
                    .optional()
                    .ctx("read user link")?
                {
                    out.push(link);
                }
            }
            Ok(out)
        })
        .await
    }

    pub(super) async fn sync_states_batch(
        &self,
        entra_ids: &[String],
    ) -> StoreResult<Vec<(String, UserSyncState)>> {
        let ids = entra_ids.to_vec();
        self.run(move |c| read_each(c, STATE_BY_USER, &ids, "sync state"))
            .await
    }

    pub(super) async fn put_decisions_batch(
        &self,
        decisions: &[DecisionWrite],
    ) -> StoreResult<Vec<String>> {
        // Serialised before the transaction: a record that cannot be written fails the call.
        let mut rows = Vec::with_capacity(decisions.len());
        for d in decisions {
            require("Entra id", &d.entra_id)?;
            let pending = match &d.pending {
                Some(p) => {
                    require("Swyx user id", &p.update.swyx_user_id)?;
                    Some((p.clone(), to_json(p, "pending delivery")?))
                }
                None => None,
            };
            rows.push((d.clone(), to_json(&d.state, "sync state")?, pending));
        }
        let single = rows.len() == 1;
        let work = move |tx: &Transaction<'_>| {
            let mut refused = Vec::new();
            let mut state_of = tx.prepare_cached(STATE_BY_USER).ctx("prepare")?;
            let mut pending_of = tx.prepare_cached(PENDING_BY_USER).ctx("prepare")?;
            let mut put_state = tx.prepare_cached(UPSERT_STATE).ctx("prepare")?;
            let mut put_pending = tx.prepare_cached(UPSERT_PENDING).ctx("prepare")?;
            for (d, state_json, pending) in &rows {
                let stored: Option<String> = state_of
                    .query_row([&d.entra_id], |r| r.get(0))
                    .optional()
                    .ctx("read sync state")?;
                let stored: Option<UserSyncState> =
                    stored.map(|j| from_json(&j, "sync state")).transpose()?;
                let state_ok = d.state.revision > d.expected_revision
                    && stored.map_or(0, |s| s.revision) == d.expected_revision;
                let pending_ok = match &pending {
                    None => true,
                    Some((p, _)) => {
                        let stored: Option<String> = pending_of
                            .query_row([&p.update.swyx_user_id], |r| r.get(0))
                            .optional()
                            .ctx("read pending delivery")?;
                        let stored: Option<PendingDelivery> = stored
                            .map(|j| from_json(&j, "pending delivery"))
                            .transpose()?;
                        stored.is_none_or(|s| s.update.revision <= p.update.revision)
                    }
                };
                if !(state_ok && pending_ok) {
                    refused.push(d.entra_id.clone());
                    continue;
                }
                if let Some((p, json)) = pending {
                    put_pending
                        .execute(params![
                            p.update.swyx_user_id,
                            p.next_attempt_at.millis(),
                            json
                        ])
                        .ctx("write pending delivery")?;
                }
                put_state
                    .execute(params![d.entra_id, state_json])
                    .ctx("write sync state")?;
            }
            Ok(refused)
        };
        // One decision (a lone notification's) is a point write.
        match single {
            true => self.write_quick(work).await,
            false => self.write(work).await,
        }
    }

    pub(super) async fn delete_pendings_batch(
        &self,
        delivered: &[(String, u64)],
    ) -> StoreResult<usize> {
        let delivered = delivered.to_vec();
        self.write(move |tx| {
            let mut removed = 0;
            let mut pending_of = tx.prepare_cached(PENDING_BY_USER).ctx("prepare")?;
            let mut delete = tx
                .prepare_cached("DELETE FROM pending WHERE swyx_user_id = ?1")
                .ctx("prepare")?;
            for (swyx, revision) in &delivered {
                let stored: Option<String> = pending_of
                    .query_row([swyx], |r| r.get(0))
                    .optional()
                    .ctx("read pending delivery")?;
                let stored: Option<PendingDelivery> = stored
                    .map(|j| from_json(&j, "pending delivery"))
                    .transpose()?;
                if stored.is_some_and(|p| p.update.revision <= *revision) {
                    removed += delete.execute([swyx]).ctx("delete pending delivery")?;
                }
            }
            Ok(removed)
        })
        .await
    }
}

//! Automatic linking's marks: one JSON row per Swyx user; and links created with their mark.

use super::SqliteStore;
use super::rows::{Ctx, exec, read_all, sql_limit, to_json};
use crate::domain::Timestamp;
use crate::store::{LinkMark, LinkMarkStore, StoreResult, UserLink, require};
use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

impl SqliteStore {
    /// `create_automatic_links`: one transaction, each link and its mark written unless either
    /// side is linked already.
    pub(super) async fn create_automatic_links_batch(
        &self,
        links: &[UserLink],
        at: Timestamp,
    ) -> StoreResult<Vec<String>> {
        // Encoded before the transaction: a record that cannot be written fails the call.
        let mut rows = Vec::with_capacity(links.len());
        for l in links {
            require("Entra id", &l.entra_id)?;
            require("Swyx user id", &l.swyx_user_id)?;
            let mark = LinkMark::automatic(l, at);
            let groups = to_json(&l.groups, "the user's groups")?;
            rows.push((l.clone(), groups, to_json(&mark, "link mark")?));
        }
        self.write(move |tx| {
            let mut taken = tx
                .prepare_cached("SELECT 1 FROM users WHERE entra_id = ?1 OR swyx_user_id = ?2")
                .ctx("prepare")?;
            let mut put_link = tx
                .prepare_cached(
                    "INSERT INTO users (entra_id, swyx_user_id, email, groups) VALUES (?1, ?2, ?3, ?4)",
                )
                .ctx("prepare")?;
            let mut put_mark = tx.prepare_cached(UPSERT_MARK).ctx("prepare")?;
            let mut refused = Vec::new();
            for (l, groups, mark) in &rows {
                let linked: Option<i64> = taken
                    .query_row([&l.entra_id, &l.swyx_user_id], |r| r.get(0))
                    .optional()
                    .ctx("read user link")?;
                if linked.is_some() {
                    refused.push(l.swyx_user_id.clone());
                    continue;
                }
                put_mark
                    .execute(params![l.swyx_user_id, mark])
                    .ctx("write link mark")?;
                put_link
                    .execute(params![l.entra_id, l.swyx_user_id, l.email, groups])
                    .ctx("write user link")?;
            }
            Ok(refused)
        })
        .await
    }
}

const UPSERT_MARK: &str = "INSERT INTO link_marks (swyx_user_id, data) VALUES (?1, ?2)
     ON CONFLICT (swyx_user_id) DO UPDATE SET data = excluded.data";

#[async_trait]
impl LinkMarkStore for SqliteStore {
    async fn put_link_mark(&self, mark: &LinkMark) -> StoreResult<()> {
        require("Swyx user id", &mark.swyx_user_id)?;
        let json = to_json(mark, "link mark")?;
        let id = mark.swyx_user_id.clone();
        self.run(move |c| {
            exec(c, UPSERT_MARK, params![id, json]).ctx("write link mark")?;
            Ok(())
        })
        .await
    }

    async fn delete_link_mark(&self, swyx_user_id: &str) -> StoreResult<bool> {
        let id = swyx_user_id.to_string();
        self.run(move |c| {
            let n = c
                .execute("DELETE FROM link_marks WHERE swyx_user_id = ?1", [id])
                .ctx("delete link mark")?;
            Ok(n > 0)
        })
        .await
    }

    async fn list_link_marks(&self) -> StoreResult<Vec<LinkMark>> {
        self.run(|c| {
            read_all(
                c,
                "SELECT data FROM link_marks ORDER BY swyx_user_id",
                [],
                "link mark",
            )
        })
        .await
    }

    async fn list_link_marks_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<LinkMark>> {
        let after = after.map(str::to_string);
        let limit = sql_limit(limit);
        self.run(move |c| {
            // NULL compares as unknown: `?1 IS NULL` lets the first page start at the start.
            read_all(
                c,
                "SELECT data FROM link_marks WHERE ?1 IS NULL OR swyx_user_id > ?1 \
                 ORDER BY swyx_user_id LIMIT ?2",
                params![after, limit],
                "link mark",
            )
        })
        .await
    }
}

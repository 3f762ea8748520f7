//! Automatic linking's marks: one JSON row per Swyx user.

use super::SqliteStore;
use super::rows::{Ctx, exec, read_all, to_json};
use crate::store::{LinkMark, LinkMarkStore, StoreResult, require};
use async_trait::async_trait;
use rusqlite::params;

#[async_trait]
impl LinkMarkStore for SqliteStore {
    async fn put_link_mark(&self, mark: &LinkMark) -> StoreResult<()> {
        require("Swyx user id", &mark.swyx_user_id)?;
        let json = to_json(mark, "link mark")?;
        let id = mark.swyx_user_id.clone();
        self.run(move |c| {
            exec(
                c,
                "INSERT INTO link_marks (swyx_user_id, data) VALUES (?1, ?2)
                 ON CONFLICT (swyx_user_id) DO UPDATE SET data = excluded.data",
                params![id, json],
            )
            .ctx("write link mark")?;
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
}

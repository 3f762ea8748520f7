//! Users' own direction switches: one JSON row per Swyx user.

use super::SqliteStore;
use super::rows::{Ctx, SWITCHES_BY_USER, exec, read_all, read_one, to_json};
use crate::store::{StoreResult, SwitchStore, UserSwitches, require};
use async_trait::async_trait;
use rusqlite::params;

#[async_trait]
impl SwitchStore for SqliteStore {
    async fn put_switches(&self, switches: &UserSwitches) -> StoreResult<()> {
        require("Swyx user id", &switches.swyx_user_id)?;
        let id = switches.swyx_user_id.clone();
        if switches.switches.is_empty() {
            return self
                .exec(move |c| {
                    exec(c, "DELETE FROM switches WHERE swyx_user_id = ?1", [id])
                        .ctx("delete user switches")?;
                    Ok(())
                })
                .await;
        }
        let json = to_json(switches, "user switches")?;
        self.exec(move |c| {
            exec(
                c,
                "INSERT INTO switches (swyx_user_id, data) VALUES (?1, ?2)
                 ON CONFLICT (swyx_user_id) DO UPDATE SET data = excluded.data",
                params![id, json],
            )
            .ctx("write user switches")?;
            Ok(())
        })
        .await
    }

    async fn get_switches(&self, swyx_user_id: &str) -> StoreResult<Option<UserSwitches>> {
        let id = swyx_user_id.to_string();
        self.run(move |c| read_one(c, SWITCHES_BY_USER, &id, "user switches"))
            .await
    }

    async fn list_switches(&self) -> StoreResult<Vec<UserSwitches>> {
        self.run(|c| {
            read_all(
                c,
                "SELECT data FROM switches ORDER BY swyx_user_id",
                [],
                "user switches",
            )
        })
        .await
    }
}

//! The typed client's calls for the Entra directory (users, addresses, groups) and for Graph's
//! own behaviour (late subscription answers, throttling, app permissions).

use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

use super::client::{ScenarioClient, seg};
use crate::graph::{DirectoryUser, GroupView, UserUpdate};

impl ScenarioClient {
    /// Adds a user with all its addresses (`mail` becomes primary, `aliases` secondary).
    pub async fn teams_add_directory_user(
        &self,
        id: &str,
        upn: &str,
        display_name: &str,
        mail: Option<&str>,
        aliases: &[&str],
    ) -> anyhow::Result<()> {
        let mut body =
            json!({ "id": id, "upn": upn, "displayName": display_name, "aliases": aliases });
        if let Some(m) = mail {
            body["mail"] = json!(m);
        }
        self.send(Method::POST, "teams/users", Some(body)).await
    }

    /// Many users at once; how many were added.
    pub async fn teams_add_users(&self, users: &[DirectoryUser]) -> anyhow::Result<usize> {
        let v: Value = self
            .call(
                Method::POST,
                "teams/users/bulk",
                Some(json!({ "users": users })),
            )
            .await?;
        Ok(v.get("added").and_then(Value::as_u64).unwrap_or(0) as usize)
    }

    /// The user's directory entry (addresses, enabled).
    pub async fn teams_directory_user(&self, user: &str) -> anyhow::Result<DirectoryUser> {
        self.call(Method::GET, &format!("teams/users/{}", seg(user)), None)
            .await
    }

    pub async fn teams_update_user(&self, user: &str, update: &UserUpdate) -> anyhow::Result<()> {
        let body = serde_json::to_value(update)?;
        self.send(
            Method::PATCH,
            &format!("teams/users/{}", seg(user)),
            Some(body),
        )
        .await
    }

    /// Makes `address` the user's primary address (mail and `SMTP:`).
    pub async fn teams_set_mail(&self, user: &str, address: &str) -> anyhow::Result<()> {
        let body = json!({ "address": address });
        self.send(
            Method::POST,
            &format!("teams/users/{}/mail", seg(user)),
            Some(body),
        )
        .await
    }

    /// Adds a secondary address (`smtp:`).
    pub async fn teams_add_alias(&self, user: &str, address: &str) -> anyhow::Result<()> {
        let body = json!({ "address": address });
        self.send(
            Method::POST,
            &format!("teams/users/{}/aliases", seg(user)),
            Some(body),
        )
        .await
    }

    pub async fn teams_set_enabled(&self, user: &str, enabled: bool) -> anyhow::Result<()> {
        let update = UserUpdate {
            account_enabled: Some(enabled),
            ..UserUpdate::default()
        };
        self.teams_update_user(user, &update).await
    }

    /// Soft delete (restorable by id), or for good with `permanent`.
    pub async fn teams_delete_user(&self, user: &str, permanent: bool) -> anyhow::Result<()> {
        let path = format!("teams/users/{}?permanent={permanent}", seg(user));
        self.send(Method::DELETE, &path, None).await
    }

    pub async fn teams_restore_user(&self, id: &str) -> anyhow::Result<()> {
        self.send(
            Method::POST,
            &format!("teams/users/{}/restore", seg(id)),
            None,
        )
        .await
    }

    /// Creates (or renames) a group with these members (user names/ids or group ids).
    pub async fn teams_put_group(
        &self,
        id: &str,
        display_name: &str,
        members: &[&str],
    ) -> anyhow::Result<()> {
        let body = json!({ "id": id, "displayName": display_name, "members": members });
        self.send(Method::POST, "teams/groups", Some(body)).await
    }

    pub async fn teams_groups(&self) -> anyhow::Result<Vec<GroupView>> {
        #[derive(serde::Deserialize)]
        struct Groups {
            groups: Vec<GroupView>,
        }
        Ok(self
            .call::<Groups>(Method::GET, "teams/groups", None)
            .await?
            .groups)
    }

    /// Subscription creates and renewals answer this late (whole seconds); `None` on time again.
    pub async fn graph_late_answers(&self, delay: Option<Duration>) -> anyhow::Result<()> {
        let body = json!({ "seconds": delay.map(|d| d.as_secs()) });
        self.send(Method::POST, "graph/late-answers", Some(body))
            .await
    }

    /// Requests per 30 s over all of Graph and over the presence API (`None` = unlimited).
    pub async fn graph_throttle(
        &self,
        all: Option<u32>,
        presence: Option<u32>,
    ) -> anyhow::Result<()> {
        let body = json!({ "per30s": all, "presencePer30s": presence });
        self.send(Method::POST, "graph/throttle", Some(body)).await
    }

    /// The application permissions granted to the app.
    pub async fn graph_permissions(&self, permissions: &[&str]) -> anyhow::Result<()> {
        let body = json!({ "permissions": permissions });
        self.send(Method::POST, "graph/permissions", Some(body))
            .await
    }
}

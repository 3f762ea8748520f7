//! What the scenario API needs from the Graph emulator ([`GraphControl`]) and the state it
//! reports (`GET /_sandbox/state`).

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

use super::resolve::{Resolved, resolve};
use crate::graph::{DirectoryUser, GroupView, UserUpdate};
use crate::swyx::{Outage, SwyxUserView};

fn unsupported<T>() -> anyhow::Result<T> {
    anyhow::bail!("this Graph stand-in does not emulate the Entra directory")
}

/// What the scenario API needs from the Graph emulator. Methods added after the first version
/// have defaults, so a test's own stand-in keeps compiling.
pub trait GraphControl: Send + Sync + 'static {
    fn add_user(&self, id: &str, upn: &str, display_name: &str);
    /// A user setting a status by hand (setUserPreferredPresence semantics).
    fn set_preferred_presence(
        &self,
        user: &str,
        availability: &str,
        activity: &str,
    ) -> anyhow::Result<()>;
    fn clear_preferred_presence(&self, user: &str) -> anyhow::Result<()>;
    /// A Teams client or meeting session (e.g. "teams-desktop" Busy/InACall).
    fn set_client_session(
        &self,
        user: &str,
        session_id: &str,
        availability: &str,
        activity: &str,
    ) -> anyhow::Result<()>;
    fn end_client_session(&self, user: &str, session_id: &str) -> anyhow::Result<()>;
    /// The aggregated presence as Graph's `GET /users/{id}/presence` would return it.
    fn presence_json(&self, user: &str) -> Option<serde_json::Value>;
    fn send_lifecycle(&self, subscription_id: &str, event: &str) -> anyhow::Result<()>;
    fn set_outage(&self, down: bool);
    /// Advances the sandbox clock (shared with the Swyx emulator) and lets Graph react to it.
    fn advance_clock(&self, by: Duration);
    fn stats_json(&self) -> serde_json::Value;
    /// The tenant's users, for `GET state`, `show` and resolving short names like "alice".
    /// The default (none known) passes user names through unresolved.
    fn users(&self) -> Vec<GraphUserRef> {
        Vec::new()
    }
    /// The user `name` means (id, address, or the part of an address before the `@`).
    fn resolve_user(&self, name: &str) -> Resolved {
        let users = self.users();
        resolve(
            name,
            users.iter().map(|u| (u.id.as_str(), Some(u.upn.as_str()))),
        )
    }
    /// A user with all its addresses (Entra's uniqueness rules apply).
    fn add_directory_user(&self, _user: DirectoryUser) -> anyhow::Result<()> {
        unsupported()
    }
    /// Many users at once; how many were added.
    fn add_directory_users(&self, _users: Vec<DirectoryUser>) -> anyhow::Result<usize> {
        unsupported()
    }
    fn directory_user(&self, _id: &str) -> Option<DirectoryUser> {
        None
    }
    fn update_user(&self, _id: &str, _update: &UserUpdate) -> anyhow::Result<()> {
        unsupported()
    }
    /// Soft delete (restorable), or for good with `permanent`.
    fn delete_user(&self, _id: &str, _permanent: bool) -> anyhow::Result<()> {
        unsupported()
    }
    fn restore_user(&self, _id: &str) -> anyhow::Result<()> {
        unsupported()
    }
    /// Creates (or renames) a group and sets its direct members (user or group ids).
    fn put_group(&self, _id: &str, _display_name: &str, _members: &[String]) -> anyhow::Result<()> {
        unsupported()
    }
    fn remove_group(&self, _id: &str) -> anyhow::Result<()> {
        unsupported()
    }
    fn groups(&self) -> Vec<GroupView> {
        Vec::new()
    }
    /// Subscription creates and renewals answer this late (after doing the work); `None` ends it.
    fn set_subscription_answer_delay(&self, _delay: Option<Duration>) {}
    /// Requests per 30 s: over everything, and over the presence API.
    fn set_throttle(&self, _all: Option<u32>, _presence: Option<u32>) {}
    /// The application permissions granted to the app (new tokens carry them).
    fn set_app_permissions(&self, _permissions: &[String]) {}
}

/// The Graph emulator as the control API holds it.
pub type GraphHandleLike = Arc<dyn GraphControl>;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphUserRef {
    pub id: String,
    pub upn: String,
    pub display_name: String,
}

/// `GET /_sandbox/state`: both sides, all users.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxState {
    /// Sandbox-clock time, RFC 3339.
    pub now: String,
    pub clock_offset_secs: u64,
    /// False when the sandbox runs without a Graph emulator.
    pub graph: bool,
    pub teams: Vec<TeamsUserState>,
    pub swyx: Vec<SwyxUserView>,
    pub swyx_outage: Outage,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamsUserState {
    pub id: String,
    pub upn: String,
    pub display_name: String,
    pub presence: Option<serde_json::Value>,
}

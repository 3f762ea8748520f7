//! The Graph emulator as the scenario API drives it.

use std::time::Duration;

use serde_json::json;

use super::resolve::Resolved;
use super::types::{GraphControl, GraphUserRef};
use crate::graph::{DirectoryUser, GraphEmulator, GroupView, UserUpdate};

impl GraphControl for GraphEmulator {
    fn add_user(&self, id: &str, upn: &str, display_name: &str) {
        GraphEmulator::add_user(self, id, upn, display_name);
    }

    fn set_preferred_presence(
        &self,
        user: &str,
        availability: &str,
        activity: &str,
    ) -> anyhow::Result<()> {
        GraphEmulator::set_preferred_presence(self, user, availability, activity, None)
    }

    fn clear_preferred_presence(&self, user: &str) -> anyhow::Result<()> {
        GraphEmulator::clear_preferred_presence(self, user)
    }

    fn set_client_session(
        &self,
        user: &str,
        session_id: &str,
        availability: &str,
        activity: &str,
    ) -> anyhow::Result<()> {
        GraphEmulator::set_client_session(self, user, session_id, availability, activity)
    }

    fn end_client_session(&self, user: &str, session_id: &str) -> anyhow::Result<()> {
        GraphEmulator::end_client_session(self, user, session_id)
    }

    /// The presence, plus who set the preferred presence (`preferredPresence.setBy`).
    fn presence_json(&self, user: &str) -> Option<serde_json::Value> {
        let mut v = serde_json::to_value(self.presence(user)?).ok()?;
        v["preferredPresence"] = json!(self.preferred_presence(user));
        Some(v)
    }

    fn send_lifecycle(&self, subscription_id: &str, event: &str) -> anyhow::Result<()> {
        GraphEmulator::send_lifecycle(self, subscription_id, event)
    }

    fn set_outage(&self, down: bool) {
        GraphEmulator::set_outage(self, down);
    }

    fn advance_clock(&self, by: Duration) {
        self.clock().advance(by);
    }

    fn stats_json(&self) -> serde_json::Value {
        serde_json::to_value(self.stats()).unwrap_or(serde_json::Value::Null)
    }

    fn users(&self) -> Vec<GraphUserRef> {
        let mut users: Vec<GraphUserRef> = self
            .directory_users()
            .into_iter()
            .map(|u| GraphUserRef {
                id: u.id,
                upn: u.user_principal_name,
                display_name: u.display_name,
            })
            .collect();
        users.sort_by(|a, b| a.upn.cmp(&b.upn));
        users
    }

    /// From the directory's indexes (a scan only for "alice" meaning `alice@…`).
    fn resolve_user(&self, name: &str) -> Resolved {
        if self.directory_user(name).is_some() {
            return Resolved::One(name.to_owned());
        }
        match self.users_with_address(name).as_slice() {
            [one] => return Resolved::One(one.clone()),
            [] => {}
            many => return Resolved::Ambiguous(many.to_vec()),
        }
        let users = self.users();
        super::resolve::resolve(
            name,
            users.iter().map(|u| (u.id.as_str(), Some(u.upn.as_str()))),
        )
    }

    fn add_directory_user(&self, user: DirectoryUser) -> anyhow::Result<()> {
        GraphEmulator::add_directory_user(self, user)
    }

    fn add_directory_users(&self, users: Vec<DirectoryUser>) -> anyhow::Result<usize> {
        GraphEmulator::add_directory_users(self, users)
    }

    fn directory_user(&self, id: &str) -> Option<DirectoryUser> {
        GraphEmulator::directory_user(self, id)
    }

    fn update_user(&self, id: &str, update: &UserUpdate) -> anyhow::Result<()> {
        GraphEmulator::update_user(self, id, update)
    }

    fn delete_user(&self, id: &str, permanent: bool) -> anyhow::Result<()> {
        if permanent {
            self.purge_user(id)
        } else {
            GraphEmulator::delete_user(self, id)
        }
    }

    fn restore_user(&self, id: &str) -> anyhow::Result<()> {
        GraphEmulator::restore_user(self, id)
    }

    fn put_group(&self, id: &str, display_name: &str, members: &[String]) -> anyhow::Result<()> {
        self.add_group(id, display_name)?;
        let members: Vec<&str> = members.iter().map(String::as_str).collect();
        self.set_group_members(id, &members)
    }

    fn remove_group(&self, id: &str) -> anyhow::Result<()> {
        GraphEmulator::remove_group(self, id)
    }

    fn groups(&self) -> Vec<GroupView> {
        GraphEmulator::groups(self)
    }

    fn set_subscription_answer_delay(&self, delay: Option<Duration>) {
        GraphEmulator::set_subscription_answer_delay(self, delay);
    }

    fn set_throttle(&self, all: Option<u32>, presence: Option<u32>) {
        GraphEmulator::set_throttle(self, all);
        self.set_presence_throttle(presence);
    }

    fn set_app_permissions(&self, permissions: &[String]) {
        let permissions: Vec<&str> = permissions.iter().map(String::as_str).collect();
        GraphEmulator::set_app_permissions(self, &permissions);
    }
}

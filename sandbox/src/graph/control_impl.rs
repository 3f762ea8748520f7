//! The Graph emulator as the scenario API drives it (`crate::control::GraphControl`).

use super::GraphEmulator;
use crate::control::{GraphControl, GraphUserRef};
use std::time::Duration;

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

    fn presence_json(&self, user: &str) -> Option<serde_json::Value> {
        self.presence(user)
            .and_then(|p| serde_json::to_value(p).ok())
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
        let mut users: Vec<GraphUserRef> = self.with(|inner, _, _| {
            inner
                .users
                .iter()
                .map(|(id, u)| GraphUserRef {
                    id: id.clone(),
                    upn: u.upn.clone(),
                    display_name: u.display_name.clone(),
                })
                .collect()
        });
        users.sort_by(|a, b| a.upn.cmp(&b.upn));
        users
    }
}

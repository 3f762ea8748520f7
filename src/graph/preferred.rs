//! A user's preferred presence (app-only, `Presence.ReadWrite.All`): what Teams shows above every
//! session, as if the user had chosen it by hand. Used for a Swyx "Do not disturb"/"Away" set in
//! SwyxIt! (`swyx_to_teams::own_status`).
//!
//! `setUserPreferredPresence` without `expirationDuration` lasts Graph's default (DoNotDisturb
//! and Busy one day, the others seven days); `clearUserPreferredPresence` takes it away. Both are
//! idempotent: setting a state twice is setting it once, clearing none is done.

use super::client::{Auth, Call, GraphClient, GraphError, path_segment};
use crate::outbound::Idempotency;
use http::Method;
use std::time::Duration;

impl GraphClient {
    /// Sets `user`'s preferred presence (one of Graph's six documented combinations).
    pub async fn set_preferred_presence_within(
        &self,
        user: &str,
        availability: &str,
        activity: &str,
        budget: Duration,
    ) -> Result<(), GraphError> {
        let body = serde_json::json!({ "availability": availability, "activity": activity });
        let path = format!(
            "/users/{}/presence/setUserPreferredPresence",
            path_segment(user)?
        );
        self.preferred_call(&path, &body, budget).await
    }

    /// Clears `user`'s preferred presence, so their sessions decide again.
    pub async fn clear_preferred_presence_within(
        &self,
        user: &str,
        budget: Duration,
    ) -> Result<(), GraphError> {
        let path = format!(
            "/users/{}/presence/clearUserPreferredPresence",
            path_segment(user)?
        );
        self.preferred_call(&path, &serde_json::json!({}), budget)
            .await
    }

    async fn preferred_call(
        &self,
        path: &str,
        body: &serde_json::Value,
        budget: Duration,
    ) -> Result<(), GraphError> {
        self.request(Call {
            method: Method::POST,
            path,
            body: Some(body),
            auth: Auth::App,
            budget,
            attempt_timeout: self.timeouts().presence_write,
            idempotency: Idempotency::Idempotent,
        })
        .await
        .map(|_| ())
    }
}

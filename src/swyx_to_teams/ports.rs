//! What Swyx → Teams needs from Graph: the bridge's own presence session of a user, and the
//! user's preferred presence. The real
//! Graph client implements it here; unit tests put an in-memory fake in its place.

use crate::graph::client::{GraphClient, GraphError};
use async_trait::async_trait;
use std::time::Duration;

/// Graph's `setPresence` / `clearPresence` with the bridge's app id as the session.
#[async_trait]
pub trait PresenceSession: Send + Sync {
    /// Sets the session of `user` to (`availability`, `activity`) for `expiration`, within
    /// `budget` (429 waits and retries included).
    async fn set_presence(
        &self,
        user: &str,
        availability: &str,
        activity: &str,
        expiration: Duration,
        budget: Duration,
    ) -> Result<(), GraphError>;

    /// Ends the session of `user`; one that does not exist counts as ended.
    async fn clear_presence(&self, user: &str, budget: Duration) -> Result<(), GraphError>;

    /// `setUserPreferredPresence`: Teams shows this above every session (Graph's default expiry).
    async fn set_preferred(
        &self,
        user: &str,
        availability: &str,
        activity: &str,
        budget: Duration,
    ) -> Result<(), GraphError>;

    /// `clearUserPreferredPresence`.
    async fn clear_preferred(&self, user: &str, budget: Duration) -> Result<(), GraphError>;

    /// Gets what a call needs before it can be sent (the app-only token) within `budget`, so it
    /// can be fetched while the store is written rather than after. Never fails: the call
    /// itself reports what went wrong.
    async fn get_ready(&self, _budget: Duration) {}

    /// How long Graph still throttles the app (zero: calls go out). A call made before then
    /// waits, or fails at once without being sent when the wait does not fit its budget.
    fn throttle_hold(&self) -> Duration {
        Duration::ZERO
    }
}

#[async_trait]
impl PresenceSession for GraphClient {
    async fn set_presence(
        &self,
        user: &str,
        availability: &str,
        activity: &str,
        expiration: Duration,
        budget: Duration,
    ) -> Result<(), GraphError> {
        self.set_presence_within(user, availability, activity, expiration, budget)
            .await
    }

    async fn clear_presence(&self, user: &str, budget: Duration) -> Result<(), GraphError> {
        self.clear_presence_within(user, budget).await
    }

    async fn set_preferred(
        &self,
        user: &str,
        availability: &str,
        activity: &str,
        budget: Duration,
    ) -> Result<(), GraphError> {
        self.set_preferred_presence_within(user, availability, activity, budget)
            .await
    }

    async fn clear_preferred(&self, user: &str, budget: Duration) -> Result<(), GraphError> {
        self.clear_preferred_presence_within(user, budget).await
    }

    async fn get_ready(&self, budget: Duration) {
        self.fetch_app_token(budget).await;
    }

    fn throttle_hold(&self) -> Duration {
        GraphClient::throttle_hold(self)
    }
}

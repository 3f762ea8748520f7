//! How the one Graph client is set up: where Graph and Entra are, its credentials, concurrency,
//! budget, retry policy, the per-call attempt timeouts and the throttle gate's clock.

use crate::domain::Clock;
use crate::graph::token::ClientSecret;
use crate::outbound::RetryPolicy;
use std::time::Duration;

/// The longest wait for one attempt, by what the call makes Graph do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphTimeouts {
    /// setPresence / clearPresence: Graph answers these at once.
    pub presence_write: Duration,
    /// getPresencesByUserId (up to 650 users).
    pub presence_read: Duration,
    /// Creating or renewing a subscription: before it answers, Graph validates the notification
    /// URL and the lifecycle URL, allowing each endpoint 10 s
    /// (<https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks>), so an
    /// answer may take over 20 s and still be a success.
    pub subscription_write: Duration,
    /// Reading or deleting a subscription.
    pub subscription_other: Duration,
    /// One page (up to 999) of directory users or group members.
    pub directory_read: Duration,
}

impl Default for GraphTimeouts {
    fn default() -> Self {
        Self {
            presence_write: Duration::from_secs(2),
            presence_read: Duration::from_secs(10),
            subscription_write: Duration::from_secs(30),
            subscription_other: Duration::from_secs(10),
            directory_read: Duration::from_secs(20),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GraphSettings {
    /// e.g. `https://graph.microsoft.com/v1.0`
    pub base_url: String,
    /// e.g. `https://login.microsoftonline.com`
    pub authority_url: String,
    pub tenant_id: String,
    /// The app (client) id; also the `sessionId` of setPresence.
    pub client_id: String,
    pub client_secret: ClientSecret,
    /// Requests in flight at once, per process.
    pub max_concurrency: usize,
    /// Total time of one call (all attempts and waits) unless a call names its own budget.
    pub call_budget: Duration,
    /// Attempts and backoff of every call (and of the app token requests it makes).
    pub retry: RetryPolicy,
    pub timeouts: GraphTimeouts,
    /// What the throttle gate measures its holds by (monotonic; a test may put its own).
    pub clock: Clock,
}

impl GraphSettings {
    pub fn new(
        base_url: &str,
        authority_url: &str,
        tenant_id: &str,
        client_id: &str,
        client_secret: ClientSecret,
    ) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            authority_url: authority_url.trim_end_matches('/').to_string(),
            tenant_id: tenant_id.to_string(),
            client_id: client_id.to_string(),
            client_secret,
            max_concurrency: 32,
            call_budget: Duration::from_secs(2),
            // Graph asks for backoff on 429 (honoured through Retry-After); the budget, not the
            // count, is what normally ends a call.
            retry: RetryPolicy::new(10, Duration::from_millis(100), Duration::from_secs(10)),
            timeouts: GraphTimeouts::default(),
            clock: super::gate::monotonic_clock(),
        }
    }
}

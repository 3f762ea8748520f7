//! What subscription maintenance needs from outside besides the store: Graph's subscription
//! calls with a sync account's delegated token, and the login endpoint that redeems the
//! account's refresh token. The real clients implement these here; unit tests put in-memory
//! fakes in their place.

use crate::domain::Timestamp;
use crate::graph::client::{GraphClient, GraphError};
use crate::graph::delegated::{DelegatedTokens, LoginEndpoint};
use crate::graph::entra::EntraError;
use crate::graph::subscriptions::{ListedSubscription, NewSubscription, SubscriptionInfo};
use async_trait::async_trait;
use std::time::Duration;

/// Graph's `/subscriptions`, called with a sync account's delegated `token`.
#[async_trait]
pub trait SubscriptionApi: Send + Sync {
    async fn create_subscription(
        &self,
        token: &str,
        sub: &NewSubscription<'_>,
        budget: Duration,
    ) -> Result<SubscriptionInfo, GraphError>;

    /// A new expiry and, when given, a new encryption certificate (base64, id). A subscription
    /// Graph does not know comes back as `Refused { status: 404 }`.
    async fn renew_subscription(
        &self,
        token: &str,
        id: &str,
        expires_at: Timestamp,
        certificate: Option<(&str, &str)>,
        budget: Duration,
    ) -> Result<SubscriptionInfo, GraphError>;

    /// One that does not exist counts as deleted.
    async fn delete_subscription(
        &self,
        token: &str,
        id: &str,
        budget: Duration,
    ) -> Result<(), GraphError>;

    /// The subscriptions the account's token may see (to find one whose create went unanswered).
    async fn list_subscriptions(
        &self,
        token: &str,
        budget: Duration,
    ) -> Result<Vec<ListedSubscription>, GraphError>;

    /// One subscription; `Refused { status: 404 }` when Graph does not know it.
    async fn get_subscription(
        &self,
        token: &str,
        id: &str,
        budget: Duration,
    ) -> Result<ListedSubscription, GraphError>;
}

/// The tenant's token endpoint, redeeming a sync account's refresh token.
#[async_trait]
pub trait TokenRefresher: Send + Sync {
    /// An access token and (usually) a new refresh token that replaces `refresh_token`.
    async fn refresh(
        &self,
        refresh_token: &str,
        scope: &str,
        timeout: Duration,
    ) -> Result<DelegatedTokens, EntraError>;
}

#[async_trait]
impl SubscriptionApi for GraphClient {
    async fn create_subscription(
        &self,
        token: &str,
        sub: &NewSubscription<'_>,
        budget: Duration,
    ) -> Result<SubscriptionInfo, GraphError> {
        GraphClient::create_subscription(self, token, sub, budget).await
    }

    async fn renew_subscription(
        &self,
        token: &str,
        id: &str,
        expires_at: Timestamp,
        certificate: Option<(&str, &str)>,
        budget: Duration,
    ) -> Result<SubscriptionInfo, GraphError> {
        GraphClient::renew_subscription(self, token, id, expires_at, certificate, budget).await
    }

    async fn delete_subscription(
        &self,
        token: &str,
        id: &str,
        budget: Duration,
    ) -> Result<(), GraphError> {
        GraphClient::delete_subscription(self, token, id, budget).await
    }

    async fn list_subscriptions(
        &self,
        token: &str,
        budget: Duration,
    ) -> Result<Vec<ListedSubscription>, GraphError> {
        GraphClient::list_subscriptions(self, token, budget).await
    }

    async fn get_subscription(
        &self,
        token: &str,
        id: &str,
        budget: Duration,
    ) -> Result<ListedSubscription, GraphError> {
        GraphClient::get_subscription(self, token, id, budget).await
    }
}

#[async_trait]
impl TokenRefresher for LoginEndpoint {
    async fn refresh(
        &self,
        refresh_token: &str,
        scope: &str,
        timeout: Duration,
    ) -> Result<DelegatedTokens, EntraError> {
        LoginEndpoint::refresh(self, refresh_token, scope, timeout).await
    }
}

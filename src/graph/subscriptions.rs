//! Presence subscriptions (delegated token of a sync account) and bulk presence reads
//! (app-only), on the one [`GraphClient`]: same retries, 429 handling and budgets as every call.

use super::client::{GraphClient, GraphError};
use super::notification::PresenceResource;
use crate::domain::Timestamp;
use std::time::Duration;

/// Graph's limit of users per presence subscription and per `getPresencesByUserId` call.
pub const MAX_USERS_PER_CALL: usize = 650;

/// What to subscribe to. `user_ids` at most 650.
pub struct NewSubscription<'a> {
    pub notification_url: &'a str,
    pub lifecycle_url: &'a str,
    pub user_ids: &'a [String],
    pub expires_at: Timestamp,
    /// Base64 DER of the public certificate Graph encrypts with.
    pub certificate_b64: &'a str,
    pub certificate_id: &'a str,
    pub client_state: &'a str,
}

/// Graph's view of a subscription after create or PATCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionInfo {
    pub id: String,
    pub expires_at: Timestamp,
    pub encryption_certificate_id: Option<String>,
}

impl GraphError {
    /// For a 409 on create: the id of the subscription that already exists, from Graph's message
    /// "Subscription Id <id> already exists for the requested combination".
    pub fn existing_subscription_id(&self) -> Option<String> {
        todo!()
    }
}

impl GraphClient {
    /// `POST /subscriptions` (rich, encrypted, `updated`) with the sync account's `token`.
    pub async fn create_subscription(
        &self,
        _token: &str,
        _sub: &NewSubscription<'_>,
        _budget: Duration,
    ) -> Result<SubscriptionInfo, GraphError> {
        todo!()
    }

    /// `PATCH /subscriptions/{id}`: a new expiry and, when given, a new encryption certificate
    /// (base64, id). A 404 comes back as `Refused { status: 404 }`.
    pub async fn renew_subscription(
        &self,
        _token: &str,
        _id: &str,
        _expires_at: Timestamp,
        _certificate: Option<(&str, &str)>,
        _budget: Duration,
    ) -> Result<SubscriptionInfo, GraphError> {
        todo!()
    }

    /// `DELETE /subscriptions/{id}`; a 404 counts as done.
    pub async fn delete_subscription(
        &self,
        _token: &str,
        _id: &str,
        _budget: Duration,
    ) -> Result<(), GraphError> {
        todo!()
    }

    /// `POST /communications/getPresencesByUserId` with the app-only token, at most 650 ids.
    pub async fn get_presences(
        &self,
        _ids: &[String],
        _budget: Duration,
    ) -> Result<Vec<PresenceResource>, GraphError> {
        todo!()
    }
}

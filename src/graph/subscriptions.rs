//! Presence subscriptions (delegated token of a sync account) and bulk presence reads
//! (app-only), on the one [`GraphClient`]: same retries, 429 handling and budgets as every call.
//! Creating a subscription is the one call that is not idempotent (a second create is a
//! duplicate, refused with 409): it is never repeated after a timeout or a 5xx, and its caller
//! finds the subscription by the clientState it sent ([`GraphClient::list_subscriptions`]).

mod wire;

pub(crate) use wire::{presences, subscription, subscription_list};

use super::client::{Auth, Call, GraphClient, GraphError, path_segment};
use super::notification::PresenceResource;
use crate::domain::Timestamp;
use crate::outbound::Idempotency;
use http::Method;
use serde_json::json;
use std::time::Duration;
use tokio::time::Instant;
use wire::{check_user_ids, presence_resource, subscription_info};

/// Graph's limit of users per presence subscription and per `getPresencesByUserId` call.
pub const MAX_USERS_PER_CALL: usize = 650;

/// More pages of `GET /subscriptions` than an app's subscriptions fill: a link that never ends.
const MAX_SUBSCRIPTION_PAGES: usize = 100;

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
    /// "Subscription Id <id> already exists for the requested combination". That text is only
    /// Microsoft's example: when it differs, the caller finds the subscription by listing.
    pub fn existing_subscription_id(&self) -> Option<String> {
        let GraphError::Refused {
            status: 409,
            message,
        } = self
        else {
            return None;
        };
        let (_, rest) = message.split_once("Subscription Id ")?;
        let (id, tail) = rest.split_once(char::is_whitespace)?;
        let id = id.trim_matches(|c: char| c == '\'' || c == '"');
        (tail.trim_start().starts_with("already exists") && !id.is_empty()).then(|| id.to_string())
    }
}

/// A subscription as `GET /subscriptions` shows it. No `Debug`: it holds the client state.
pub struct ListedSubscription {
    pub info: SubscriptionInfo,
    pub client_state: Option<String>,
    /// The users of its resource, when it is a presence resource as the bridge writes them.
    pub user_ids: Option<Vec<String>>,
    pub notification_url: Option<String>,
}

impl GraphClient {
    /// `POST /subscriptions` (rich, encrypted, `updated`) with the sync account's `token`.
    pub async fn create_subscription(
        &self,
        token: &str,
        sub: &NewSubscription<'_>,
        budget: Duration,
    ) -> Result<SubscriptionInfo, GraphError> {
        check_user_ids(sub.user_ids)?;
        let body = json!({
            "changeType": "updated",
            "notificationUrl": sub.notification_url,
            "lifecycleNotificationUrl": sub.lifecycle_url,
            "resource": presence_resource(sub.user_ids),
            "expirationDateTime": sub.expires_at.to_rfc3339(),
            "includeResourceData": true,
            "encryptionCertificate": sub.certificate_b64,
            "encryptionCertificateId": sub.certificate_id,
            "clientState": sub.client_state,
        });
        let answer = self
            .request(Call {
                method: Method::POST,
                path: "/subscriptions",
                body: Some(&body),
                auth: Auth::Delegated(token),
                budget,
                attempt_timeout: self.timeouts().subscription_write,
                idempotency: Idempotency::NotIdempotent,
            })
            .await?;
        subscription_info(&answer.body)
    }

    /// `PATCH /subscriptions/{id}`: a new expiry and, when given, a new encryption certificate
    /// (base64, id). A 404 comes back as `Refused { status: 404 }`.
    pub async fn renew_subscription(
        &self,
        token: &str,
        id: &str,
        expires_at: Timestamp,
        certificate: Option<(&str, &str)>,
        budget: Duration,
    ) -> Result<SubscriptionInfo, GraphError> {
        let mut body = json!({ "expirationDateTime": expires_at.to_rfc3339() });
        if let Some((cert_b64, cert_id)) = certificate {
            body["encryptionCertificate"] = json!(cert_b64);
            body["encryptionCertificateId"] = json!(cert_id);
        }
        let path = format!("/subscriptions/{}", path_segment(id)?);
        let answer = self
            .request(Call {
                method: Method::PATCH,
                path: &path,
                body: Some(&body),
                auth: Auth::Delegated(token),
                budget,
                // Graph may validate the endpoints again before it answers.
                attempt_timeout: self.timeouts().subscription_write,
                // It sets the expiry (and certificate) to values: a repeat changes nothing.
                idempotency: Idempotency::Idempotent,
            })
            .await?;
        subscription_info(&answer.body)
    }

    /// `GET /subscriptions/{id}`. A 404 comes back as `Refused { status: 404 }`.
    pub async fn get_subscription(
        &self,
        token: &str,
        id: &str,
        budget: Duration,
    ) -> Result<ListedSubscription, GraphError> {
        let path = format!("/subscriptions/{}", path_segment(id)?);
        let answer = self
            .request(Call {
                method: Method::GET,
                path: &path,
                body: None,
                auth: Auth::Delegated(token),
                budget,
                attempt_timeout: self.timeouts().subscription_other,
                idempotency: Idempotency::Idempotent,
            })
            .await?;
        subscription(&answer.body)
    }

    /// `GET /subscriptions`: the subscriptions this app made with the sync account's token,
    /// every page (`@odata.nextLink`, followed only under the Graph root: it carries the token),
    /// within `budget` in total.
    pub async fn list_subscriptions(
        &self,
        token: &str,
        budget: Duration,
    ) -> Result<Vec<ListedSubscription>, GraphError> {
        let started = Instant::now();
        let mut path = "/subscriptions".to_string();
        let mut all = Vec::new();
        for _ in 0..MAX_SUBSCRIPTION_PAGES {
            let answer = self
                .request(Call {
                    method: Method::GET,
                    path: &path,
                    body: None,
                    auth: Auth::Delegated(token),
                    budget: budget.saturating_sub(started.elapsed()),
                    attempt_timeout: self.timeouts().subscription_other,
                    idempotency: Idempotency::Idempotent,
                })
                .await?;
            let (listed, next) = subscription_list(&answer.body)?;
            all.extend(listed);
            match next {
                Some(link) => path = self.relative(&link)?,
                None => return Ok(all),
            }
        }
        Err(GraphError::BadAnswer {
            what: format!("GET /subscriptions has more than {MAX_SUBSCRIPTION_PAGES} pages"),
            source: None,
        })
    }

    /// `DELETE /subscriptions/{id}`; a 404 counts as done.
    pub async fn delete_subscription(
        &self,
        token: &str,
        id: &str,
        budget: Duration,
    ) -> Result<(), GraphError> {
        let path = format!("/subscriptions/{}", path_segment(id)?);
        let deleted = self
            .request(Call {
                method: Method::DELETE,
                path: &path,
                body: None,
                auth: Auth::Delegated(token),
                budget,
                attempt_timeout: self.timeouts().subscription_other,
                // A repeated delete finds nothing: 404, which counts as done.
                idempotency: Idempotency::Idempotent,
            })
            .await;
        match deleted {
            Ok(_) | Err(GraphError::Refused { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `POST /communications/getPresencesByUserId` with the app-only token, at most 650 ids.
    pub async fn get_presences(
        &self,
        ids: &[String],
        budget: Duration,
    ) -> Result<Vec<PresenceResource>, GraphError> {
        check_user_ids(ids)?;
        let body = json!({ "ids": ids });
        let answer = self
            .request(Call {
                method: Method::POST,
                path: "/communications/getPresencesByUserId",
                body: Some(&body),
                auth: Auth::App,
                budget,
                attempt_timeout: self.timeouts().presence_read,
                // A read, although a POST.
                idempotency: Idempotency::Idempotent,
            })
            .await?;
        presences(&answer.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, message: &str) -> GraphError {
        GraphError::Refused {
            status,
            message: message.to_string(),
        }
    }

    #[test]
    fn the_existing_subscription_id_comes_from_the_409_message() {
        let e = refused(
            409,
            "ExtensionError: Subscription Id 7f105c7d-2dc5-4530-97cd-4e7ae6534c07 already exists for the requested combination",
        );
        assert_eq!(
            e.existing_subscription_id().as_deref(),
            Some("7f105c7d-2dc5-4530-97cd-4e7ae6534c07")
        );
        assert_eq!(
            refused(409, "Conflict: something else").existing_subscription_id(),
            None
        );
        assert_eq!(
            refused(400, "Subscription Id x already exists").existing_subscription_id(),
            None,
            "only a 409 names an existing subscription"
        );
    }
}

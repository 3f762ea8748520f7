//! Presence subscriptions (delegated token of a sync account) and bulk presence reads
//! (app-only), on the one [`GraphClient`]: same retries, 429 handling and budgets as every call.
//! Creating a subscription is the one call that is not idempotent (a second create is a
//! duplicate, refused with 409): it is never repeated after a timeout or a 5xx, and its caller
//! finds the subscription by the clientState it sent ([`GraphClient::list_subscriptions`]).

use super::client::{Auth, Call, GraphClient, GraphError, path_segment};
use super::notification::PresenceResource;
use crate::domain::Timestamp;
use crate::outbound::Idempotency;
use http::Method;
use serde::Deserialize;
use serde_json::json;
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
}

/// The subscription as Graph returns it (more fields are ignored).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionAnswer {
    id: String,
    expiration_date_time: String,
    #[serde(default)]
    encryption_certificate_id: Option<String>,
    #[serde(default)]
    client_state: Option<String>,
    #[serde(default)]
    resource: Option<String>,
}

impl SubscriptionAnswer {
    fn into_listed(self) -> Result<ListedSubscription, GraphError> {
        let expires_at = Timestamp::parse_rfc3339(&self.expiration_date_time).ok_or_else(|| {
            GraphError::BadAnswer {
                what: format!(
                    "expirationDateTime '{}' of subscription {} is not RFC 3339",
                    self.expiration_date_time, self.id
                ),
                source: None,
            }
        })?;
        Ok(ListedSubscription {
            user_ids: self.resource.as_deref().and_then(presence_resource_users),
            client_state: self.client_state,
            info: SubscriptionInfo {
                id: self.id,
                expires_at,
                encryption_certificate_id: self.encryption_certificate_id,
            },
        })
    }
}

fn bad_answer(what: &str) -> impl FnOnce(serde_json::Error) -> GraphError + '_ {
    move |source| GraphError::BadAnswer {
        what: what.to_string(),
        source: Some(source),
    }
}

pub(crate) fn subscription(body: &[u8]) -> Result<ListedSubscription, GraphError> {
    serde_json::from_slice::<SubscriptionAnswer>(body)
        .map_err(bad_answer(
            "a subscription without id or expirationDateTime",
        ))?
        .into_listed()
}

fn subscription_info(body: &[u8]) -> Result<SubscriptionInfo, GraphError> {
    subscription(body).map(|s| s.info)
}

/// At least one, at most 650 user ids, each fit for a quoted OData literal (GUIDs are).
fn check_user_ids(ids: &[String]) -> Result<(), GraphError> {
    if ids.is_empty() {
        return Err(GraphError::InvalidRequest(
            "no user ids: name at least one".to_string(),
        ));
    }
    if ids.len() > MAX_USERS_PER_CALL {
        return Err(GraphError::InvalidRequest(format!(
            "{} user ids; Graph takes at most {MAX_USERS_PER_CALL} per call",
            ids.len()
        )));
    }
    if let Some(bad) = ids
        .iter()
        .find(|id| id.trim().is_empty() || id.contains(['\'', ',', '(', ')']))
    {
        return Err(GraphError::InvalidRequest(format!(
            "user id '{bad}' is not a Graph object id"
        )));
    }
    Ok(())
}

const PRESENCE_RESOURCE_START: &str = "/communications/presences?$filter=id in (";

/// `/communications/presences?$filter=id in ('a','b')`
fn presence_resource(ids: &[String]) -> String {
    let list: Vec<String> = ids.iter().map(|id| format!("'{id}'")).collect();
    format!("{PRESENCE_RESOURCE_START}{})", list.join(","))
}

/// The users of a resource [`presence_resource`] wrote (Graph may drop the leading slash),
/// sorted; `None` for anything else.
fn presence_resource_users(resource: &str) -> Option<Vec<String>> {
    let inner = format!("/{}", resource.trim_start_matches('/'))
        .strip_prefix(PRESENCE_RESOURCE_START)?
        .strip_suffix(')')?
        .to_string();
    let mut ids = inner
        .split(',')
        .map(|id| {
            let id = id.trim().strip_prefix('\'')?.strip_suffix('\'')?;
            (!id.is_empty()).then(|| id.to_ascii_lowercase())
        })
        .collect::<Option<Vec<String>>>()?;
    ids.sort();
    Some(ids)
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

    /// `GET /subscriptions`: the subscriptions this app made with the sync account's token (one
    /// presence subscription per account and app, so one page holds them).
    pub async fn list_subscriptions(
        &self,
        token: &str,
        budget: Duration,
    ) -> Result<Vec<ListedSubscription>, GraphError> {
        let answer = self
            .request(Call {
                method: Method::GET,
                path: "/subscriptions",
                body: None,
                auth: Auth::Delegated(token),
                budget,
                attempt_timeout: self.timeouts().subscription_other,
                idempotency: Idempotency::Idempotent,
            })
            .await?;
        subscription_list(&answer.body)
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

/// The body of `GET /subscriptions`.
pub(crate) fn subscription_list(body: &[u8]) -> Result<Vec<ListedSubscription>, GraphError> {
    #[derive(Deserialize)]
    struct Page {
        value: Vec<SubscriptionAnswer>,
    }
    serde_json::from_slice::<Page>(body)
        .map_err(bad_answer(
            "GET /subscriptions: not a list of subscriptions",
        ))?
        .value
        .into_iter()
        .map(SubscriptionAnswer::into_listed)
        .collect()
}

/// The body of `getPresencesByUserId`.
pub(crate) fn presences(body: &[u8]) -> Result<Vec<PresenceResource>, GraphError> {
    #[derive(Deserialize)]
    struct Presences {
        value: Vec<PresenceResource>,
    }
    serde_json::from_slice::<Presences>(body)
        .map(|p| p.value)
        .map_err(bad_answer("getPresencesByUserId: not a list of presences"))
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

    #[test]
    fn user_ids_are_checked_before_anything_is_sent() {
        let many: Vec<String> = (0..651).map(|i| format!("u{i}")).collect();
        assert!(check_user_ids(&many[..650]).is_ok());
        for bad in [&many[..], &[], &["a'b".to_string()][..]] {
            assert!(matches!(
                check_user_ids(bad),
                Err(GraphError::InvalidRequest(_))
            ));
        }
        assert_eq!(
            presence_resource(&["a".into(), "b".into()]),
            "/communications/presences?$filter=id in ('a','b')"
        );
    }

    #[test]
    fn the_users_of_a_presence_resource_are_read_back() {
        let ids = vec!["b".to_string(), "A".to_string()];
        let resource = presence_resource(&ids);
        assert_eq!(
            presence_resource_users(&resource),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(
            presence_resource_users(resource.trim_start_matches('/')),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        for other in [
            "/me/messages",
            "/communications/presences?$filter=id in ()",
            "",
        ] {
            assert_eq!(presence_resource_users(other), None, "{other}");
        }
    }
}

//! The subscription and presence bodies as Graph reads and writes them: the presence resource
//! of a subscription (and its users read back), the user ids a call may name, and the answers
//! of the subscription and presence calls parsed.

use super::{ListedSubscription, MAX_USERS_PER_CALL, SubscriptionInfo};
use crate::domain::Timestamp;
use crate::graph::client::GraphError;
use crate::graph::notification::PresenceResource;
use serde::Deserialize;

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
    #[serde(default)]
    notification_url: Option<String>,
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
            notification_url: self.notification_url,
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

pub(super) fn subscription_info(body: &[u8]) -> Result<SubscriptionInfo, GraphError> {
    subscription(body).map(|s| s.info)
}

/// At least one, at most 650 user ids, each fit for a quoted OData literal (GUIDs are).
pub(super) fn check_user_ids(ids: &[String]) -> Result<(), GraphError> {
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
pub(super) fn presence_resource(ids: &[String]) -> String {
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

/// One page of `GET /subscriptions`, and the `@odata.nextLink` of the next one.
pub(crate) type SubscriptionPage = (Vec<ListedSubscription>, Option<String>);

/// The body of one page of `GET /subscriptions`.
pub(crate) fn subscription_list(body: &[u8]) -> Result<SubscriptionPage, GraphError> {
    #[derive(Deserialize)]
    struct Page {
        value: Vec<SubscriptionAnswer>,
        #[serde(rename = "@odata.nextLink", default)]
        next_link: Option<String>,
    }
    let page = serde_json::from_slice::<Page>(body).map_err(bad_answer(
        "GET /subscriptions: not a list of subscriptions",
    ))?;
    let listed = page
        .value
        .into_iter()
        .map(SubscriptionAnswer::into_listed)
        .collect::<Result<_, _>>()?;
    Ok((listed, page.next_link))
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

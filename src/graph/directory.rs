//! Reading the Entra directory for automatic linking, app-only: every user with the properties
//! matching needs (`User.Read.All`), and the user members of a group, nested groups expanded
//! (`GroupMember.Read.All`). Both come in pages of up to 999 (Graph's largest), followed through
//! `@odata.nextLink`; a link that leaves the configured Graph root is refused, since it would
//! carry the app's token elsewhere. Neither listing needs `ConsistencyLevel: eventual`: it is
//! required only for `$count`, `$search`, casts and advanced `$filter`s, none of which is used.

use super::client::{Auth, Call, GraphClient, GraphError, path_segment};
use crate::outbound::Idempotency;
use http::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::time::Instant;

/// The properties matching reads (and nothing else: `$select` keeps pages small).
const USER_SELECT: &str = "id,mail,userPrincipalName,proxyAddresses,accountEnabled";
/// Graph's largest page for users and group members.
const PAGE_SIZE: u32 = 999;
/// Ten million users; more pages than this is a link that never ends.
const MAX_PAGES: usize = 10_000;

/// An Entra user as matching needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    pub id: String,
    pub mail: Option<String>,
    pub user_principal_name: String,
    pub proxy_addresses: Vec<String>,
    pub account_enabled: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserJson {
    id: String,
    #[serde(default)]
    mail: Option<String>,
    #[serde(default)]
    user_principal_name: Option<String>,
    #[serde(default)]
    proxy_addresses: Option<Vec<String>>,
    #[serde(default)]
    account_enabled: Option<bool>,
}

#[derive(Deserialize)]
struct MemberJson {
    id: String,
    #[serde(rename = "@odata.type", default)]
    odata_type: Option<String>,
}

#[derive(Deserialize)]
struct Page<T> {
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

impl GraphClient {
    /// Every user of the tenant (soft-deleted ones are not listed), within `budget`, handed to
    /// `take` a page at a time: a caller that keeps a little of some users never holds the
    /// whole tenant.
    pub async fn for_each_directory_user_page(
        &self,
        budget: Duration,
        mut take: impl FnMut(Vec<DirectoryUser>) + Send,
    ) -> Result<(), GraphError> {
        let first = format!("/users?$select={USER_SELECT}&$top={PAGE_SIZE}");
        self.each_page(first, budget, |page: Vec<UserJson>| {
            take(page.into_iter().map(UserJson::into_user).collect())
        })
        .await
    }

    /// The ids of the users in `group_id`, directly or through nested groups. A group Graph
    /// does not know is `Refused { status: 404 }`.
    pub async fn transitive_user_members(
        &self,
        group_id: &str,
        budget: Duration,
    ) -> Result<BTreeSet<String>, GraphError> {
        let first = format!(
            "/groups/{}/transitiveMembers?$select=id&$top={PAGE_SIZE}",
            path_segment(group_id)?
        );
        let members: Vec<MemberJson> = self.all_pages(first, budget).await?;
        Ok(members
            .into_iter()
            .filter_map(MemberJson::user_id)
            .collect())
    }

    /// GETs `first` and every page its `@odata.nextLink`s name, within `budget` in total.
    async fn all_pages<T: DeserializeOwned + Send>(
        &self,
        first: String,
        budget: Duration,
    ) -> Result<Vec<T>, GraphError> {
        let mut out = Vec::new();
        self.each_page(first, budget, |page| out.extend(page))
            .await?;
        Ok(out)
    }

    /// As [`Self::all_pages`], handing each page's items to `take` as they come.
    async fn each_page<T: DeserializeOwned>(
        &self,
        first: String,
        budget: Duration,
        mut take: impl FnMut(Vec<T>) + Send,
    ) -> Result<(), GraphError> {
        let started = Instant::now();
        let mut path = first;
        for _ in 0..MAX_PAGES {
            let answer = self
                .request(Call {
                    method: Method::GET,
                    path: &path,
                    body: None,
                    auth: Auth::App,
                    budget: budget.saturating_sub(started.elapsed()),
                    attempt_timeout: self.timeouts().directory_read,
                    idempotency: Idempotency::Idempotent,
                })
                .await?;
            let page: Page<T> = read_page(&answer.body, &path)?;
            take(page.value);
            match page.next_link {
                Some(link) => path = self.relative(&link)?,
                None => return Ok(()),
            }
        }
        Err(GraphError::BadAnswer {
            what: format!("{} has more than {MAX_PAGES} pages", what_of(&path)),
            source: None,
        })
    }

    /// A next link as a path under the Graph root, or refused when it points elsewhere.
    pub(crate) fn relative(&self, link: &str) -> Result<String, GraphError> {
        let base = &self.settings().base_url;
        match link.strip_prefix(base.as_str()) {
            Some(rest) if rest.starts_with('/') => Ok(rest.to_string()),
            _ => Err(GraphError::BadAnswer {
                what: format!("a nextLink outside {base}, not followed"),
                source: None,
            }),
        }
    }
}

impl UserJson {
    fn into_user(self) -> DirectoryUser {
        DirectoryUser {
            id: self.id,
            mail: self.mail.filter(|m| !m.trim().is_empty()),
            user_principal_name: self.user_principal_name.unwrap_or_default(),
            proxy_addresses: self.proxy_addresses.unwrap_or_default(),
            // Graph always returns it when selected; an absent value does not disable.
            account_enabled: self.account_enabled.unwrap_or(true),
        }
    }
}

impl MemberJson {
    /// The member's id when it is a user (groups, devices and contacts are not linked).
    fn user_id(self) -> Option<String> {
        (self.odata_type.as_deref() == Some("#microsoft.graph.user")).then_some(self.id)
    }
}

/// One page of a listing at `path`.
fn read_page<T: DeserializeOwned>(body: &[u8], path: &str) -> Result<Page<T>, GraphError> {
    serde_json::from_slice(body).map_err(|e| GraphError::BadAnswer {
        what: format!("a page of {}", what_of(path)),
        source: Some(e),
    })
}

/// A page of `/users` as [`GraphClient::for_each_directory_user_page`] reads it: the users and the
/// next link, if any.
pub(crate) fn users_page(body: &[u8]) -> Result<(Vec<DirectoryUser>, Option<String>), GraphError> {
    let page: Page<UserJson> = read_page(body, "/users")?;
    let users = page.value.into_iter().map(UserJson::into_user).collect();
    Ok((users, page.next_link))
}

/// A page of a group's transitive members as [`GraphClient::transitive_user_members`] reads it.
pub(crate) fn members_page(body: &[u8]) -> Result<(Vec<String>, Option<String>), GraphError> {
    let page: Page<MemberJson> = read_page(body, "/groups/transitiveMembers")?;
    let ids = page
        .value
        .into_iter()
        .filter_map(MemberJson::user_id)
        .collect();
    Ok((ids, page.next_link))
}

/// The collection of a path, for messages (no query: it may be long).
fn what_of(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::client::GraphSettings;
    use crate::graph::token::ClientSecret;

    fn client() -> GraphClient {
        let settings = GraphSettings::new(
            "https://graph.example/v1.0/",
            "https://login.example",
            "t",
            "c",
            ClientSecret::new("s"),
        );
        GraphClient::new(settings, reqwest::Client::new())
    }

    #[test]
    fn next_links_are_followed_only_under_the_graph_root() {
        let c = client();
        assert_eq!(
            c.relative("https://graph.example/v1.0/users?$skiptoken=x")
                .unwrap(),
            "/users?$skiptoken=x"
        );
        for bad in [
            "https://evil.example/v1.0/users",
            "https://graph.example/v1.0evil/users",
            "https://graph.example/v1.0.evil.example/users",
            "/users",
        ] {
            assert!(c.relative(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn users_parse_with_missing_and_null_properties() {
        let page: Page<UserJson> = serde_json::from_str(
            r#"{"value":[{"id":"1","mail":null,"userPrincipalName":"a@x","proxyAddresses":null,"accountEnabled":false},
                         {"id":"2"}],
                "@odata.nextLink":"https://graph.example/v1.0/users?$skiptoken=a"}"#,
        )
        .unwrap();
        assert_eq!(page.value.len(), 2);
        assert_eq!(page.value[0].account_enabled, Some(false));
        assert!(page.next_link.is_some());
    }
}

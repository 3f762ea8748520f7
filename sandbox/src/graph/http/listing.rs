//! What the directory collections share: reading the query string and the `ConsistencyLevel`
//! header, opaque page tokens and `@odata.nextLink`s that point back at the emulator, how users
//! and groups read for `$filter`, and their JSON with `$select` applied.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, Uri};
use serde_json::{Map, Value, json};

use super::super::directory_types::DirectoryUser;
use super::super::model::filter::{Fields, Prop};
use super::super::model::groups::Group;
use super::error::ApiError;

/// The decoded query pairs of a request (`+` and `%20` both read as a space, as Graph does).
pub(crate) fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    let Some(query) = uri.query() else {
        return Vec::new();
    };
    reqwest::Url::parse(&format!("http://sandbox/?{query}"))
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The URL's length as sent (path and query), for the 2,048-character rule.
pub(crate) fn url_len(uri: &Uri) -> usize {
    uri.path_and_query().map_or(0, |pq| pq.as_str().len())
}

/// `ConsistencyLevel: eventual`, the header of advanced queries.
pub(crate) fn eventual(headers: &HeaderMap) -> bool {
    headers
        .get("consistencylevel")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"))
}

/// An opaque `$skiptoken` for "continue after this id".
pub(crate) fn after_token(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("after:{id}"))
}

pub(crate) fn parse_after_token(token: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(token) = token else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(token.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("after:").map(str::to_owned))
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "'{token}' is not a valid $skiptoken for this collection."
            ))
        })
}

/// The link to the next page: the request's own query with `token_name` replaced.
pub(crate) fn next_link(
    base_url: &str,
    path: &str,
    pairs: &[(String, String)],
    token_name: &str,
    token: &str,
) -> String {
    let mut url = match reqwest::Url::parse(&format!("{base_url}{path}")) {
        Ok(u) => u,
        Err(_) => return format!("{base_url}{path}?{token_name}={token}"),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs.iter().filter(|(k, _)| {
            !k.eq_ignore_ascii_case("$skiptoken") && !k.eq_ignore_ascii_case("$deltatoken")
        }) {
            q.append_pair(k, v);
        }
        q.append_pair(token_name, token);
    }
    url.to_string()
}

/// `…/$metadata#users(id,mail)` or `…#users` for the default property set.
pub(crate) fn context(collection: &str, select: &[&str], explicit: bool) -> String {
    if explicit {
        format!(
            "https://graph.microsoft.com/v1.0/$metadata#{collection}({})",
            select.join(",")
        )
    } else {
        format!("https://graph.microsoft.com/v1.0/$metadata#{collection}")
    }
}

pub(crate) fn has_select(pairs: &[(String, String)]) -> bool {
    pairs
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("$select") && !v.trim().is_empty())
}

impl Fields for DirectoryUser {
    fn text(&self, prop: Prop) -> Option<&str> {
        match prop {
            Prop::Id => Some(&self.id),
            Prop::DisplayName => Some(&self.display_name),
            Prop::Mail => self.mail.as_deref(),
            Prop::UserPrincipalName => Some(&self.user_principal_name),
            Prop::AccountEnabled => None,
        }
    }

    fn flag(&self, prop: Prop) -> Option<bool> {
        (prop == Prop::AccountEnabled).then_some(self.account_enabled)
    }

    fn proxies(&self) -> &[String] {
        &self.proxy_addresses
    }
}

/// A group as `$filter` reads it.
pub(crate) struct GroupFields<'a>(pub &'a str, pub &'a Group);

impl Fields for GroupFields<'_> {
    fn text(&self, prop: Prop) -> Option<&str> {
        match prop {
            Prop::Id => Some(self.0),
            Prop::DisplayName => Some(&self.1.display_name),
            _ => None,
        }
    }

    fn flag(&self, _: Prop) -> Option<bool> {
        None
    }

    fn proxies(&self) -> &[String] {
        &[]
    }
}

/// A user with the `select`ed properties (ones the sandbox does not model are null or empty).
pub(crate) fn user_json(u: &DirectoryUser, select: &[&str]) -> Value {
    let mut m = Map::new();
    for p in select {
        let v = match *p {
            "id" => json!(u.id),
            "displayName" => json!(u.display_name),
            "mail" => json!(u.mail),
            "userPrincipalName" => json!(u.user_principal_name),
            "proxyAddresses" => json!(u.proxy_addresses),
            "accountEnabled" => json!(u.account_enabled),
            "businessPhones" | "otherMails" => json!([]),
            _ => Value::Null,
        };
        m.insert((*p).to_owned(), v);
    }
    Value::Object(m)
}

/// A group with the `select`ed properties.
pub(crate) fn group_json(id: &str, g: &Group, select: &[&str]) -> Value {
    let mut m = Map::new();
    for p in select {
        let v = match *p {
            "id" => json!(id),
            "displayName" => json!(g.display_name),
            "mailEnabled" => json!(false),
            "securityEnabled" => json!(true),
            "groupTypes" => json!([]),
            _ => Value::Null,
        };
        m.insert((*p).to_owned(), v);
    }
    Value::Object(m)
}

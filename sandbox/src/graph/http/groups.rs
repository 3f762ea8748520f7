//! Groups for syncing one group only: `GET /v1.0/groups` (`$filter=displayName eq '…'`),
//! `GET /v1.0/groups/{id}`, and its members, direct (`/members`) or transitive
//! (`/transitiveMembers`, nested groups expanded, each member once), optionally cast to
//! `microsoft.graph.user` or `microsoft.graph.group` — the cast, `$filter` and `$count` need the
//! advanced query parameters
//! (<https://learn.microsoft.com/en-us/graph/api/group-list-transitivemembers?view=graph-rest-1.0>).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};

use super::super::model::groups::{Group, Member};
use super::super::model::query::{GROUPS, ListQuery, USERS, parse_list_query, parse_select};
use super::super::model::tenant::Inner;
use super::caller::{READ_GROUP_MEMBERS, require};
use super::ctx::Ctx;
use super::error::{ApiError, ApiResult};
use super::listing::{
    GroupFields, after_token, context, eventual, group_json, has_select, next_link,
    parse_after_token, query_pairs, url_len, user_json,
};

/// `GET /v1.0/groups`
pub(crate) async fn list(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, uri: Uri) -> ApiResult {
    require(&ctx.tenant, &headers, &READ_GROUP_MEMBERS)?;
    let pairs = query_pairs(&uri);
    let q = parse_list_query(&pairs, &GROUPS, eventual(&headers), url_len(&uri))?;
    let after = parse_after_token(q.skiptoken.as_deref())?;
    let (items, last, count) = ctx.tenant.mutate(|inner, _| {
        let matches = |(id, g): &(&String, &Group)| q.matches(&GroupFields(id.as_str(), g));
        let mut it = inner.groups.after(after.as_deref()).filter(&matches);
        let page: Vec<_> = it.by_ref().take(q.top).collect();
        let more = it.next().is_some();
        let count = q
            .count
            .then(|| inner.groups.after(None).filter(&matches).count());
        let items: Vec<Value> = page
            .iter()
            .map(|(id, g)| group_json(id, g, &q.select))
            .collect();
        (
            items,
            page.last().filter(|_| more).map(|(id, _)| (*id).clone()),
            count,
        )
    });
    let mut body = json!({ "@odata.context": context("groups", &q.select, has_select(&pairs)) });
    if let Some(n) = count {
        body["@odata.count"] = json!(n);
    }
    if let Some(last) = last {
        body["@odata.nextLink"] = json!(next_link(
            &ctx.tenant.base_url,
            "/v1.0/groups",
            &pairs,
            "$skiptoken",
            &after_token(&last)
        ));
    }
    body["value"] = json!(items);
    Ok(Json(body).into_response())
}

/// `GET /v1.0/groups/{id}`
pub(crate) async fn get_one(
    State(ctx): State<Arc<Ctx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    require(&ctx.tenant, &headers, &READ_GROUP_MEMBERS)?;
    let pairs = query_pairs(&uri);
    let select = pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("$select"))
        .map(|(_, v)| v.as_str());
    let select = parse_select(select, &GROUPS)?;
    ctx.tenant
        .mutate(|inner, _| inner.groups.get(&id).map(|g| group_json(&id, g, &select)))
        .map(|v| Json(v).into_response())
        .ok_or_else(|| ApiError::no_such_object(&id))
}

/// Which members a listing returns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cast {
    All,
    Users,
    Groups,
}

/// One member as a `directoryObject` (typed), or as a user / group when the listing is cast.
fn member_json(inner: &Inner, id: &str, kind: Member, q: &ListQuery, cast: Cast) -> Option<Value> {
    let mut v = match kind {
        Member::User => {
            let u = inner.directory.get(id)?;
            if !q.matches(u) {
                return None;
            }
            user_json(u, &q.select)
        }
        Member::Group => {
            let g = inner.groups.get(id)?;
            if q.filter.is_some() || q.search.is_some() {
                return None;
            }
            group_json(id, g, &["id", "displayName"])
        }
    };
    if cast == Cast::All {
        let ty = if kind == Member::User {
            "#microsoft.graph.user"
        } else {
            "#microsoft.graph.group"
        };
        v["@odata.type"] = json!(ty);
    }
    Some(v)
}

async fn members(
    ctx: Arc<Ctx>,
    id: String,
    headers: HeaderMap,
    uri: Uri,
    transitive: bool,
    cast: Cast,
) -> ApiResult {
    require(&ctx.tenant, &headers, &READ_GROUP_MEMBERS)?;
    let pairs = query_pairs(&uri);
    let q = parse_list_query(&pairs, &USERS, eventual(&headers), url_len(&uri))?;
    let advanced_needed = cast != Cast::All || q.filter.is_some();
    if advanced_needed && !q.count {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            "An OData cast or $filter on group members needs the advanced query parameters: ConsistencyLevel: eventual and $count=true.",
        ));
    }
    let after = parse_after_token(q.skiptoken.as_deref())?;
    let page = ctx.tenant.mutate(|inner, _| {
        let all: BTreeMap<String, Member> = if transitive {
            inner.groups.transitive(&id, &inner.directory)?
        } else {
            let g = inner.groups.get(&id)?;
            g.members
                .iter()
                .filter_map(|m| match (inner.directory.get(m), inner.groups.get(m)) {
                    (Some(_), _) => Some((m.clone(), Member::User)),
                    (None, Some(_)) => Some((m.clone(), Member::Group)),
                    _ => None,
                })
                .collect()
        };
        let wanted = |(_, k): &(&String, &Member)| match cast {
            Cast::All => true,
            Cast::Users => **k == Member::User,
            Cast::Groups => **k == Member::Group,
        };
        let render = |(m, k): (&String, &Member)| {
            member_json(inner, m, *k, &q, cast).map(|v| (m.clone(), v))
        };
        let mut it = all
            .iter()
            .filter(|(m, _)| after.as_deref().is_none_or(|a| m.as_str() > a))
            .filter(&wanted)
            .filter_map(&render);
        let page: Vec<(String, Value)> = it.by_ref().take(q.top).collect();
        let more = it.next().is_some();
        let count = q
            .count
            .then(|| all.iter().filter(&wanted).filter_map(&render).count());
        Some((page, more, count))
    });
    let (page, more, count) = page.ok_or_else(|| ApiError::no_such_object(&id))?;
    let collection = match cast {
        Cast::All => "directoryObjects",
        Cast::Users => "users",
        Cast::Groups => "groups",
    };
    let mut body = json!({ "@odata.context": context(collection, &q.select, has_select(&pairs)) });
    if let Some(n) = count {
        body["@odata.count"] = json!(n);
    }
    if let Some((last, _)) = page.last().filter(|_| more) {
        body["@odata.nextLink"] = json!(next_link(
            &ctx.tenant.base_url,
            uri.path(),
            &pairs,
            "$skiptoken",
            &after_token(last)
        ));
    }
    body["value"] = json!(page.into_iter().map(|(_, v)| v).collect::<Vec<_>>());
    Ok(Json(body).into_response())
}

/// `GET /v1.0/groups/{id}/members`
pub(crate) async fn direct_members(
    State(ctx): State<Arc<Ctx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    members(ctx, id, headers, uri, false, Cast::All).await
}

/// `GET /v1.0/groups/{id}/transitiveMembers`
pub(crate) async fn transitive_members(
    State(ctx): State<Arc<Ctx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    members(ctx, id, headers, uri, true, Cast::All).await
}

/// `GET /v1.0/groups/{id}/transitiveMembers/microsoft.graph.user`
pub(crate) async fn transitive_users(
    State(ctx): State<Arc<Ctx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    members(ctx, id, headers, uri, true, Cast::Users).await
}

/// `GET /v1.0/groups/{id}/transitiveMembers/microsoft.graph.group`
pub(crate) async fn transitive_groups(
    State(ctx): State<Arc<Ctx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    members(ctx, id, headers, uri, true, Cast::Groups).await
}

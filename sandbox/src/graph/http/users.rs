//! `GET /v1.0/users` and `GET /v1.0/users/{id}`
//! (<https://learn.microsoft.com/en-us/graph/api/user-list?view=graph-rest-1.0>): `$select`,
//! `$top` (≤ 999, 100 by default) with `@odata.nextLink` paging, `$filter` answered from the
//! address indexes where it can be, `$search` and `$count` under Graph's advanced-query rules.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use http::{HeaderMap, Uri};
use serde_json::{Value, json};

use super::super::directory_types::DirectoryUser;
use super::super::model::directory::Directory;
use super::super::model::query::{ListQuery, USERS, parse_list_query, parse_select};
use super::caller::{READ_USERS, require};
use super::ctx::Ctx;
use super::error::{ApiError, ApiResult};
use super::listing::{
    after_token, context, eventual, has_select, next_link, parse_after_token, query_pairs, url_len,
    user_json,
};

/// One page of matches after the token's id, the id to continue after if more follow, and
/// the count of all matches when asked for.
pub(crate) struct Page {
    pub items: Vec<Value>,
    pub continue_after: Option<String>,
    pub count: Option<usize>,
}

/// The users `q` can match (from the indexes when the filter allows), after `after`, in id order.
fn users_after<'a>(
    dir: &'a Directory,
    candidates: &'a Option<BTreeSet<String>>,
    after: Option<&'a str>,
) -> Box<dyn Iterator<Item = &'a DirectoryUser> + 'a> {
    match candidates {
        Some(ids) => Box::new(
            ids.iter()
                .filter(move |id| after.is_none_or(|a| id.as_str() > a))
                .filter_map(|id| dir.get(id)),
        ),
        None => Box::new(dir.after(after)),
    }
}

fn page_of_users(dir: &Directory, q: &ListQuery, after: Option<&str>) -> Page {
    let candidates = q.filter.as_ref().and_then(|f| dir.candidates(f));
    let mut matching = users_after(dir, &candidates, after).filter(|u| q.matches(*u));
    let page: Vec<&DirectoryUser> = matching.by_ref().take(q.top).collect();
    let more = matching.next().is_some();
    let count = q.count.then(|| match (&q.filter, &q.search) {
        (None, None) => dir.len(),
        _ => users_after(dir, &candidates, None)
            .filter(|u| q.matches(*u))
            .count(),
    });
    Page {
        continue_after: page.last().filter(|_| more).map(|u| u.id.clone()),
        items: page.iter().map(|u| user_json(u, &q.select)).collect(),
        count,
    }
}

/// `GET /v1.0/users`
pub(crate) async fn list(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, uri: Uri) -> ApiResult {
    require(&ctx.tenant, &headers, &READ_USERS)?;
    let pairs = query_pairs(&uri);
    let q = parse_list_query(&pairs, &USERS, eventual(&headers), url_len(&uri))?;
    let after = parse_after_token(q.skiptoken.as_deref())?;
    let page = ctx
        .tenant
        .mutate(|inner, _| page_of_users(&inner.directory, &q, after.as_deref()));
    let mut body = json!({ "@odata.context": context("users", &q.select, has_select(&pairs)) });
    if let Some(n) = page.count {
        body["@odata.count"] = json!(n);
    }
    if let Some(last) = &page.continue_after {
        body["@odata.nextLink"] = json!(next_link(
            &ctx.tenant.base_url,
            "/v1.0/users",
            &pairs,
            "$skiptoken",
            &after_token(last)
        ));
    }
    body["value"] = json!(page.items);
    Ok(Json(body).into_response())
}

/// `GET /v1.0/users/{id}` (by id or UPN, as Graph allows)
pub(crate) async fn get_one(
    State(ctx): State<Arc<Ctx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    require(&ctx.tenant, &headers, &READ_USERS)?;
    let pairs = query_pairs(&uri);
    let select = pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("$select"))
        .map(|(_, v)| v.as_str());
    let select = parse_select(select, &USERS)?;
    ctx.tenant
        .mutate(|inner, _| {
            let dir = &inner.directory;
            dir.get(&id)
                .or_else(|| dir.by_upn(&id).and_then(|i| dir.get(i)))
                .map(|u| user_json(u, &select))
        })
        .map(|v| Json(v).into_response())
        .ok_or_else(|| ApiError::no_such_object(&id))
}

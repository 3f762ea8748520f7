//! `GET /v1.0/users/delta` (<https://learn.microsoft.com/en-us/graph/api/user-delta?view=graph-rest-1.0>):
//! the first round pages through every user (`@odata.nextLink` with a `$skiptoken`) and ends
//! with an `@odata.deltaLink`; following it returns the users created, changed (in a tracked
//! property) or restored since, and deleted ones as `{"id", "@removed": {"reason": "changed"}}`
//! (soft delete) or `"deleted"` (for good). `$select` and `$filter=id eq '…' or …` (≤ 50 ids) are
//! given once and carried in the tokens; `Prefer: return=minimal` returns changed properties only.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use http::{HeaderMap, Uri};
use serde_json::{Value, json};

use super::super::model::delta::{DeltaState, Position};
use super::super::model::directory::{Change, Summary, prop};
use super::super::model::filter::{Expr, Lit, Prop};
use super::super::model::filter_parse::parse;
use super::super::model::query::{USERS, parse_select};
use super::super::model::tenant::Inner;
use super::caller::{READ_USERS, require};
use super::ctx::Ctx;
use super::error::{ApiError, ApiResult};
use super::listing::{context, query_pairs, user_json};

/// Users per page (Microsoft does not document the size for users; clients must follow links).
const PAGE: usize = 100;
/// "There is a limit of 50 filtered objects."
const MAX_IDS: usize = 50;

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `id eq 'a' or id eq 'b'`, the only filter user delta takes.
fn filter_ids(filter: &str) -> Result<Vec<String>, ApiError> {
    let unsupported = || {
        ApiError::new(
            http::StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            "The only $filter supported by delta is `id eq '…'`, combined with `or`.",
        )
    };
    let expr = parse(filter, "User", &[Prop::Id]).map_err(|_| unsupported())?;
    let leaves = match expr {
        Expr::Or(parts) => parts,
        single => vec![single],
    };
    let ids: Vec<String> = leaves
        .into_iter()
        .map(|e| match e {
            Expr::Eq {
                prop: Prop::Id,
                value: Lit::Str(id),
                negated: false,
            } => Ok(id),
            _ => Err(unsupported()),
        })
        .collect::<Result<_, _>>()?;
    if ids.len() > MAX_IDS {
        return Err(ApiError::bad_request(format!(
            "The filter names {} objects; delta tracks at most {MAX_IDS}.",
            ids.len()
        )));
    }
    Ok(ids)
}

/// The state a request continues, or the first request's state.
fn state_of(pairs: &[(String, String)], inner: &Inner) -> Result<DeltaState, ApiError> {
    if let Some(token) = param(pairs, "$skiptoken").or_else(|| param(pairs, "$deltatoken")) {
        return DeltaState::decode(token).ok_or_else(|| {
            ApiError::bad_request(
                "The delta token is not valid; start a new round without a token.",
            )
        });
    }
    if let Some((k, _)) = pairs.iter().find(|(k, _)| {
        k.starts_with('$')
            && !["$select", "$filter"]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(k))
    }) {
        return Err(ApiError::bad_request(format!(
            "The query option '{k}' is not supported by delta."
        )));
    }
    let select = match param(pairs, "$select").filter(|s| !s.trim().is_empty()) {
        Some(s) => parse_select(Some(s), &USERS)?
            .into_iter()
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    let ids = param(pairs, "$filter").map(filter_ids).transpose()?;
    Ok(DeltaState {
        at: Position::Initial {
            after: None,
            to: inner.directory.seq(),
        },
        select,
        ids,
    })
}

fn tracked(select: &[String]) -> u8 {
    if select.is_empty() {
        return prop::ALL;
    }
    select
        .iter()
        .map(|p| match p.as_str() {
            "displayName" => prop::DISPLAY_NAME,
            "mail" => prop::MAIL,
            "userPrincipalName" => prop::UPN,
            "proxyAddresses" => prop::PROXY_ADDRESSES,
            "accountEnabled" => prop::ACCOUNT_ENABLED,
            _ => 0,
        })
        .fold(0, |a, b| a | b)
}

/// The properties to return (`id` always, as delta does).
fn returned(select: &[String]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = if select.is_empty() {
        USERS.default_select.to_vec()
    } else {
        select
            .iter()
            .filter_map(|p| USERS.selectable.iter().find(|s| **s == p.as_str()).copied())
            .collect()
    };
    if !out.contains(&"id") {
        out.push("id");
    }
    out
}

/// One changed user as delta reports it.
fn entry(inner: &Inner, id: &str, s: &Summary, props: &[&str], minimal: bool) -> Value {
    let removed = |reason: &str| json!({ "id": id, "@removed": { "reason": reason } });
    if s.last_lifecycle == Some(Change::Purged) {
        return removed("deleted");
    }
    if inner.directory.is_deleted(id) {
        return removed("changed");
    }
    let Some(user) = inner.directory.get(id) else {
        return removed("deleted");
    };
    if !minimal || s.created || s.last_lifecycle.is_some() {
        return user_json(user, props);
    }
    let changed: Vec<&str> = props
        .iter()
        .copied()
        .filter(|p| *p == "id" || tracked(&[(*p).to_owned()]) & s.props != 0)
        .collect();
    user_json(user, &changed)
}

/// A page and the state that follows it (`Link` when the round is complete).
fn page(
    inner: &mut Inner,
    state: &DeltaState,
    minimal: bool,
) -> Result<(Vec<Value>, Position), ApiError> {
    let props = returned(&state.select);
    let ids: Option<BTreeSet<String>> = state.ids.as_ref().map(|v| v.iter().cloned().collect());
    let (round, pos) = match &state.at {
        Position::Initial { after, to } => {
            let users: Vec<&_> = inner
                .directory
                .after(after.as_deref())
                .filter(|u| ids.as_ref().is_none_or(|ids| ids.contains(&u.id)))
                .take(PAGE + 1)
                .collect();
            let more = users.len() > PAGE;
            let items: Vec<Value> = users
                .iter()
                .take(PAGE)
                .map(|u| user_json(u, &props))
                .collect();
            let next = match users.get(PAGE - 1).filter(|_| more) {
                Some(last) => Position::Initial {
                    after: Some(last.id.clone()),
                    to: *to,
                },
                None => Position::Link { from: *to },
            };
            return Ok((items, next));
        }
        Position::Link { from } => {
            let round = inner.delta.start(
                &inner.directory,
                *from,
                tracked(&state.select),
                ids.as_ref(),
            );
            (round, 0)
        }
        Position::Changes { round, pos } => (*round, *pos),
    };
    let r = inner.delta.get(round).ok_or_else(|| {
        ApiError::bad_request("This delta round has expired; follow the last deltaLink again.")
    })?;
    let end = (pos + PAGE).min(r.entries.len());
    let items = r
        .entries
        .get(pos..end)
        .unwrap_or_default()
        .iter()
        .map(|(id, s)| entry(inner, id, s, &props, minimal))
        .collect();
    let next = if end < r.entries.len() {
        Position::Changes { round, pos: end }
    } else {
        Position::Link { from: r.to }
    };
    Ok((items, next))
}

/// `GET /v1.0/users/delta`
pub(crate) async fn users_delta(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    uri: Uri,
) -> ApiResult {
    require(&ctx.tenant, &headers, &READ_USERS)?;
    let pairs = query_pairs(&uri);
    let minimal = headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("return=minimal"));
    let (state, items, next) = ctx.tenant.mutate(|inner, _| {
        let state = state_of(&pairs, inner)?;
        let (items, next) = page(inner, &state, minimal)?;
        Ok::<_, ApiError>((state, items, next))
    })?;
    let link_key = if matches!(next, Position::Link { .. }) {
        "@odata.deltaLink"
    } else {
        "@odata.nextLink"
    };
    let token_name = if link_key == "@odata.deltaLink" {
        "$deltatoken"
    } else {
        "$skiptoken"
    };
    let token = DeltaState {
        at: next,
        ..state.clone()
    }
    .encode();
    let props: Vec<&str> = state.select.iter().map(String::as_str).collect();
    let mut body = json!({
        "@odata.context": context("users", &props, !props.is_empty()),
        "value": items,
    });
    body[link_key] = json!(format!(
        "{}/v1.0/users/delta?{token_name}={token}",
        ctx.tenant.base_url
    ));
    Ok(Json(body).into_response())
}

//! The Teams side of the scenario API: users' presence and sessions, the Entra directory (users,
//! addresses, disabling, deleting, groups) and Graph's own behaviour (outage, lifecycle events,
//! late subscription answers, throttling, app permissions).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

use super::api::{ApiResult, Ctx, bad, body, not_found, ok};
use crate::graph::{DirectoryUser, UserUpdate};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PresenceBody {
    availability: String,
    activity: String,
}

/// A user: `id` and `upn` at least; without `mail`/`proxyAddresses` the UPN is the address.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TeamsUserBody {
    id: String,
    upn: String,
    display_name: Option<String>,
    mail: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    proxy_addresses: Option<Vec<String>>,
    account_enabled: Option<bool>,
}

pub(crate) async fn add_user(State(c): Ctx, b: Bytes) -> ApiResult {
    let u: TeamsUserBody = body(&b)?;
    if u.id.trim().is_empty() || u.upn.trim().is_empty() {
        return Err(bad("id and upn must not be empty"));
    }
    let name = u.display_name.as_deref().unwrap_or(&u.upn);
    let simple = u.mail.is_none()
        && u.aliases.is_empty()
        && u.proxy_addresses.is_none()
        && u.account_enabled.is_none();
    let graph = c.graph()?;
    if simple {
        graph.add_user(&u.id, &u.upn, name);
        return ok();
    }
    let mut user = DirectoryUser::new(&u.id, &u.upn, name);
    if let Some(mail) = &u.mail {
        user = user.with_mail(mail);
    }
    for alias in &u.aliases {
        user = user.with_alias(alias);
    }
    if let Some(p) = u.proxy_addresses {
        user.proxy_addresses = p;
    }
    user.account_enabled = u.account_enabled.unwrap_or(true);
    graph.add_directory_user(user).map_err(bad)?;
    ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkBody {
    users: Vec<DirectoryUser>,
}

pub(crate) async fn add_users(State(c): Ctx, b: Bytes) -> ApiResult {
    let bulk: BulkBody = body(&b)?;
    let added = c.graph()?.add_directory_users(bulk.users).map_err(bad)?;
    Ok(axum::Json(json!({ "added": added })))
}

pub(crate) async fn get_user(State(c): Ctx, Path(user): Path<String>) -> ApiResult {
    let (g, id) = c.teams_user(&user)?;
    let u = g
        .directory_user(&id)
        .ok_or_else(|| not_found(format!("no Teams user {user:?}")))?;
    Ok(axum::Json(json!(u)))
}

pub(crate) async fn update_user(State(c): Ctx, Path(user): Path<String>, b: Bytes) -> ApiResult {
    let update: UserUpdate = body(&b)?;
    let (g, id) = c.teams_user(&user)?;
    g.update_user(&id, &update).map_err(bad)?;
    ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddressBody {
    address: String,
}

/// Makes `address` the primary one (mail and `SMTP:`).
pub(crate) async fn set_mail(State(c): Ctx, Path(user): Path<String>, b: Bytes) -> ApiResult {
    let a: AddressBody = body(&b)?;
    let (g, id) = c.teams_user(&user)?;
    let current = g
        .directory_user(&id)
        .ok_or_else(|| not_found(format!("no Teams user {user:?}")))?;
    let changed = current.with_mail(&a.address);
    let update = UserUpdate {
        mail: Some(changed.mail),
        proxy_addresses: Some(changed.proxy_addresses),
        ..UserUpdate::default()
    };
    g.update_user(&id, &update).map_err(bad)?;
    ok()
}

/// Adds a secondary address (`smtp:`).
pub(crate) async fn add_alias(State(c): Ctx, Path(user): Path<String>, b: Bytes) -> ApiResult {
    let a: AddressBody = body(&b)?;
    let (g, id) = c.teams_user(&user)?;
    let current = g
        .directory_user(&id)
        .ok_or_else(|| not_found(format!("no Teams user {user:?}")))?;
    let update = UserUpdate {
        proxy_addresses: Some(current.with_alias(&a.address).proxy_addresses),
        ..UserUpdate::default()
    };
    g.update_user(&id, &update).map_err(bad)?;
    ok()
}

#[derive(Deserialize)]
pub(crate) struct DeleteQuery {
    #[serde(default)]
    permanent: bool,
}

pub(crate) async fn delete_user(
    State(c): Ctx,
    Path(user): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> ApiResult {
    let graph = c.graph()?;
    // A deleted user is no longer found by address: purging it takes its id.
    let id = c.teams_user(&user).map(|(_, id)| id).unwrap_or(user);
    graph.delete_user(&id, q.permanent).map_err(bad)?;
    ok()
}

/// Deleted users are found by id only.
pub(crate) async fn restore_user(State(c): Ctx, Path(id): Path<String>) -> ApiResult {
    c.graph()?.restore_user(&id).map_err(bad)?;
    ok()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GroupBody {
    id: Option<String>,
    display_name: String,
    #[serde(default)]
    members: Vec<String>,
}

/// Members may be named like users anywhere in the API ("alice"), or be group ids.
fn member_ids(
    c: &super::api::Ctl,
    members: &[String],
) -> Result<Vec<String>, super::api::ApiError> {
    let graph = c.graph()?;
    let groups = graph.groups();
    members
        .iter()
        .map(|m| {
            if groups.iter().any(|g| &g.id == m) {
                Ok(m.clone())
            } else {
                c.teams_user(m).map(|(_, id)| id)
            }
        })
        .collect()
}

pub(crate) async fn put_group(State(c): Ctx, b: Bytes) -> ApiResult {
    let g: GroupBody = body(&b)?;
    let id = g.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let members = member_ids(&c, &g.members)?;
    c.graph()?
        .put_group(&id, &g.display_name, &members)
        .map_err(bad)?;
    Ok(axum::Json(json!({ "id": id })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MembersBody {
    members: Vec<String>,
}

pub(crate) async fn set_members(State(c): Ctx, Path(group): Path<String>, b: Bytes) -> ApiResult {
    let m: MembersBody = body(&b)?;
    let graph = c.graph()?;
    let current = graph
        .groups()
        .into_iter()
        .find(|g| g.id == group || g.display_name.eq_ignore_ascii_case(&group))
        .ok_or_else(|| not_found(format!("no group {group:?}")))?;
    let members = member_ids(&c, &m.members)?;
    graph
        .put_group(&current.id, &current.display_name, &members)
        .map_err(bad)?;
    ok()
}

pub(crate) async fn list_groups(State(c): Ctx) -> ApiResult {
    Ok(axum::Json(json!({ "groups": c.graph()?.groups() })))
}

pub(crate) async fn remove_group(State(c): Ctx, Path(group): Path<String>) -> ApiResult {
    c.graph()?.remove_group(&group).map_err(bad)?;
    ok()
}

pub(crate) async fn get_presence(State(c): Ctx, Path(user): Path<String>) -> ApiResult {
    let (g, id) = c.teams_user(&user)?;
    g.presence_json(&id)
        .map(axum::Json)
        .ok_or_else(|| not_found(format!("no Teams user {user:?}")))
}

pub(crate) async fn set_presence(State(c): Ctx, Path(user): Path<String>, b: Bytes) -> ApiResult {
    let p: PresenceBody = body(&b)?;
    let (g, id) = c.teams_user(&user)?;
    g.set_preferred_presence(&id, &p.availability, &p.activity)
        .map_err(bad)?;
    ok()
}

pub(crate) async fn clear_presence(State(c): Ctx, Path(user): Path<String>) -> ApiResult {
    let (g, id) = c.teams_user(&user)?;
    g.clear_preferred_presence(&id).map_err(bad)?;
    ok()
}

pub(crate) async fn set_session(
    State(c): Ctx,
    Path((user, sid)): Path<(String, String)>,
    b: Bytes,
) -> ApiResult {
    let p: PresenceBody = body(&b)?;
    let (g, id) = c.teams_user(&user)?;
    g.set_client_session(&id, &sid, &p.availability, &p.activity)
        .map_err(bad)?;
    ok()
}

pub(crate) async fn end_session(
    State(c): Ctx,
    Path((user, sid)): Path<(String, String)>,
) -> ApiResult {
    let (g, id) = c.teams_user(&user)?;
    g.end_client_session(&id, &sid).map_err(bad)?;
    ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GraphOutageBody {
    down: bool,
}

pub(crate) async fn graph_outage(State(c): Ctx, b: Bytes) -> ApiResult {
    let o: GraphOutageBody = body(&b)?;
    c.graph()?.set_outage(o.down);
    ok()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LifecycleBody {
    subscription_id: String,
    event: String,
}

pub(crate) async fn graph_lifecycle(State(c): Ctx, b: Bytes) -> ApiResult {
    let l: LifecycleBody = body(&b)?;
    c.graph()?
        .send_lifecycle(&l.subscription_id, &l.event)
        .map_err(bad)?;
    ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LateBody {
    /// Whole seconds; null or 0 answers on time again.
    seconds: Option<u64>,
}

pub(crate) async fn graph_late_answers(State(c): Ctx, b: Bytes) -> ApiResult {
    let l: LateBody = body(&b)?;
    let delay = l.seconds.filter(|s| *s > 0).map(Duration::from_secs);
    c.graph()?.set_subscription_answer_delay(delay);
    ok()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ThrottleBody {
    per_30s: Option<u32>,
    presence_per_30s: Option<u32>,
}

pub(crate) async fn graph_throttle(State(c): Ctx, b: Bytes) -> ApiResult {
    let t: ThrottleBody = body(&b)?;
    c.graph()?.set_throttle(t.per_30s, t.presence_per_30s);
    ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PermissionsBody {
    permissions: Vec<String>,
}

pub(crate) async fn graph_permissions(State(c): Ctx, b: Bytes) -> ApiResult {
    let p: PermissionsBody = body(&b)?;
    c.graph()?.set_app_permissions(&p.permissions);
    ok()
}

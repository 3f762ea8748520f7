//! The `/_sandbox/` routes.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

use super::{GraphHandleLike, Resolved, SandboxState, TeamsUserState, resolve};
use crate::Clock;
use crate::swyx::{Outage, OwnStatus, SwyxEmulator};

struct Ctl {
    graph: Option<GraphHandleLike>,
    swyx: SwyxEmulator,
}

type Ctx = State<Arc<Ctl>>;

/// An error answer: the status and a message naming the problem.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "error": self.1 }))).into_response()
    }
}

type ApiResult = Result<axum::Json<Value>, ApiError>;

fn bad(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, e.to_string())
}

fn ok() -> ApiResult {
    Ok(axum::Json(json!({ "ok": true })))
}

/// Parses a JSON body, naming what is wrong with it (axum's own rejection is plain text).
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| bad(format!("bad JSON body: {e}")))
}

/// The routes, for embedding into another server; [`super::serve_control`] serves them alone.
pub fn control_router(graph: Option<GraphHandleLike>, swyx: SwyxEmulator) -> Router {
    let api = Router::new()
        .route("/teams/users", post(teams_add_user))
        .route("/teams/{user}", get(teams_get))
        .route(
            "/teams/{user}/presence",
            post(teams_set_presence).delete(teams_clear_presence),
        )
        .route(
            "/teams/{user}/sessions/{sid}",
            post(teams_set_session).delete(teams_end_session),
        )
        .route("/swyx/users", post(swyx_add_user).get(swyx_list))
        .route("/swyx/outage", post(swyx_outage))
        .route("/swyx/bridge", post(swyx_bridge))
        .route("/swyx/{user}", get(swyx_get))
        .route("/swyx/{user}/calls", post(swyx_start_call))
        .route(
            "/swyx/{user}/calls/{call_id}",
            axum::routing::delete(swyx_end_call),
        )
        .route("/swyx/{user}/status", post(swyx_status))
        .route("/graph/outage", post(graph_outage))
        .route("/graph/lifecycle", post(graph_lifecycle))
        .route("/clock/advance", post(clock_advance))
        .route("/state", get(state))
        .route("/stats", get(stats))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such sandbox route".into()) });
    Router::new()
        .nest("/_sandbox", api)
        .with_state(Arc::new(Ctl { graph, swyx }))
}

impl Ctl {
    fn graph(&self) -> Result<&GraphHandleLike, ApiError> {
        self.graph.as_ref().ok_or_else(|| {
            ApiError(
                StatusCode::NOT_IMPLEMENTED,
                "this sandbox runs without a Graph emulator".into(),
            )
        })
    }

    /// The Graph user id that `name` means (see [`resolve`]).
    fn teams_user(&self, name: &str) -> Result<(&GraphHandleLike, String), ApiError> {
        let graph = self.graph()?;
        let users = graph.users();
        if users.is_empty() {
            return Ok((graph, name.to_string()));
        }
        let found = resolve(
            name,
            users.iter().map(|u| (u.id.as_str(), Some(u.upn.as_str()))),
        );
        Ok((graph, one(found, "Teams", name)?))
    }

    fn swyx_user(&self, name: &str) -> Result<String, ApiError> {
        let users = self.swyx.users();
        let found = resolve(
            name,
            users
                .iter()
                .map(|u| (u.swyx_user_id.as_str(), u.email.as_deref())),
        );
        one(found, "Swyx", name)
    }
}

fn one(found: Resolved, side: &str, name: &str) -> Result<String, ApiError> {
    match found {
        Resolved::One(id) => Ok(id),
        Resolved::None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no {side} user {name:?}"),
        )),
        Resolved::Ambiguous(ids) => Err(bad(format!(
            "{side} user {name:?} is ambiguous: {}",
            ids.join(", ")
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PresenceBody {
    availability: String,
    activity: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TeamsUserBody {
    id: String,
    upn: String,
    display_name: Option<String>,
}

async fn teams_add_user(State(c): Ctx, b: Bytes) -> ApiResult {
    let u: TeamsUserBody = body(&b)?;
    if u.id.trim().is_empty() || u.upn.trim().is_empty() {
        return Err(bad("id and upn must not be empty"));
    }
    c.graph()?
        .add_user(&u.id, &u.upn, u.display_name.as_deref().unwrap_or(&u.upn));
    ok()
}

async fn teams_get(State(c): Ctx, Path(user): Path<String>) -> ApiResult {
    let (g, id) = c.teams_user(&user)?;
    g.presence_json(&id)
        .map(axum::Json)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no Teams user {user:?}")))
}

async fn teams_set_presence(State(c): Ctx, Path(user): Path<String>, b: Bytes) -> ApiResult {
    let p: PresenceBody = body(&b)?;
    let (g, id) = c.teams_user(&user)?;
    g.set_preferred_presence(&id, &p.availability, &p.activity)
        .map_err(bad)?;
    ok()
}

async fn teams_clear_presence(State(c): Ctx, Path(user): Path<String>) -> ApiResult {
    let (g, id) = c.teams_user(&user)?;
    g.clear_preferred_presence(&id).map_err(bad)?;
    ok()
}

async fn teams_set_session(
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

async fn teams_end_session(State(c): Ctx, Path((user, sid)): Path<(String, String)>) -> ApiResult {
    let (g, id) = c.teams_user(&user)?;
    g.end_client_session(&id, &sid).map_err(bad)?;
    ok()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SwyxUserBody {
    swyx_user_id: String,
    name: String,
    email: Option<String>,
}

async fn swyx_add_user(State(c): Ctx, b: Bytes) -> ApiResult {
    let u: SwyxUserBody = body(&b)?;
    if u.swyx_user_id.trim().is_empty() {
        return Err(bad("swyxUserId must not be empty"));
    }
    c.swyx
        .add_user(&u.swyx_user_id, &u.name, u.email.as_deref().unwrap_or(""));
    ok()
}

async fn swyx_list(State(c): Ctx) -> ApiResult {
    Ok(axum::Json(json!({ "users": c.swyx.users() })))
}

async fn swyx_get(State(c): Ctx, Path(user): Path<String>) -> ApiResult {
    let id = c.swyx_user(&user)?;
    let view = c
        .swyx
        .user(&id)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no Swyx user {user:?}")))?;
    Ok(axum::Json(json!(view)))
}

async fn swyx_start_call(State(c): Ctx, Path(user): Path<String>) -> ApiResult {
    let id = c.swyx_user(&user)?;
    let call_id = c.swyx.start_call(&id).await.map_err(bad)?;
    Ok(axum::Json(json!({ "callId": call_id })))
}

async fn swyx_end_call(State(c): Ctx, Path((user, call_id)): Path<(String, String)>) -> ApiResult {
    let id = c.swyx_user(&user)?;
    c.swyx
        .end_call(&id, &call_id)
        .await
        .map_err(|e| ApiError(StatusCode::NOT_FOUND, e.to_string()))?;
    ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
}

async fn swyx_status(State(c): Ctx, Path(user): Path<String>, b: Bytes) -> ApiResult {
    let s: StatusBody = body(&b)?;
    let status: OwnStatus = s.status.parse().map_err(bad)?;
    let id = c.swyx_user(&user)?;
    c.swyx.try_set_own_status(&id, status).map_err(bad)?;
    ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutageBody {
    mode: String,
    seconds: Option<u64>,
}

async fn swyx_outage(State(c): Ctx, b: Bytes) -> ApiResult {
    let o: OutageBody = body(&b)?;
    let mode: Outage = o.mode.parse().map_err(bad)?;
    let result = match o.seconds {
        Some(0) => return Err(bad("seconds must be at least 1")),
        Some(s) if mode != Outage::None => c.swyx.set_outage_for(mode, Duration::from_secs(s)),
        _ => c.swyx.try_set_outage(mode),
    };
    result.map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))?;
    Ok(axum::Json(
        json!({ "mode": mode, "recoversInSeconds": o.seconds.filter(|_| mode != Outage::None) }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BridgeBody {
    url: String,
}

async fn swyx_bridge(State(c): Ctx, b: Bytes) -> ApiResult {
    let u: BridgeBody = body(&b)?;
    let parsed =
        reqwest::Url::parse(&u.url).map_err(|e| bad(format!("bad bridge URL {:?}: {e}", u.url)))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad(format!("bad bridge URL {:?}: not http(s)", u.url)));
    }
    c.swyx.set_bridge_events_url(&u.url);
    ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GraphOutageBody {
    down: bool,
}

async fn graph_outage(State(c): Ctx, b: Bytes) -> ApiResult {
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

async fn graph_lifecycle(State(c): Ctx, b: Bytes) -> ApiResult {
    let l: LifecycleBody = body(&b)?;
    c.graph()?
        .send_lifecycle(&l.subscription_id, &l.event)
        .map_err(bad)?;
    ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    seconds: u64,
}

async fn clock_advance(State(c): Ctx, b: Bytes) -> ApiResult {
    let a: AdvanceBody = body(&b)?;
    let by = Duration::from_secs(a.seconds);
    // One shared clock: advance it once, through Graph when present so it can react (expiries).
    match &c.graph {
        Some(g) => g.advance_clock(by),
        None => c.swyx.clock().advance(by),
    }
    let now = c.swyx.clock().now_ms();
    Ok(axum::Json(
        json!({ "now": Clock::format_ms(now), "offsetSeconds": c.swyx.clock().offset().as_secs() }),
    ))
}

async fn state(State(c): Ctx) -> ApiResult {
    let teams = match &c.graph {
        Some(g) => g
            .users()
            .into_iter()
            .map(|u| TeamsUserState {
                presence: g.presence_json(&u.id),
                id: u.id,
                upn: u.upn,
                display_name: u.display_name,
            })
            .collect(),
        None => Vec::new(),
    };
    let clock = c.swyx.clock();
    let s = SandboxState {
        now: Clock::format_ms(clock.now_ms()),
        clock_offset_secs: clock.offset().as_secs(),
        graph: c.graph.is_some(),
        teams,
        swyx: c.swyx.users(),
        swyx_outage: c.swyx.outage(),
    };
    Ok(axum::Json(json!(s)))
}

async fn stats(State(c): Ctx) -> ApiResult {
    let graph = c.graph.as_ref().map(|g| g.stats_json());
    Ok(axum::Json(
        json!({ "swyx": c.swyx.stats(), "graph": graph, "swyxEvents": c.swyx.events_log() }),
    ))
}

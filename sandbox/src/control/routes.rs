//! The `/_sandbox/` routes: the Teams side (`routes_teams`), the Swyx side (`routes_swyx`), and
//! what concerns the whole sandbox (the clock, the state of both sides, statistics).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

use super::api::{ApiError, ApiResult, Ctl, Ctx, body};
use super::routes_swyx as swyx;
use super::routes_teams as teams;
use super::types::{GraphHandleLike, SandboxState, TeamsUserState};
use crate::Clock;
use crate::swyx::SwyxEmulator;

/// The routes, for embedding into another server; [`super::serve_control`] serves them alone.
pub fn control_router(graph: Option<GraphHandleLike>, swyx: SwyxEmulator) -> Router {
    let api = Router::new()
        .route("/teams/users", post(teams::add_user))
        .route("/teams/users/bulk", post(teams::add_users))
        .route(
            "/teams/users/{user}",
            get(teams::get_user)
                .patch(teams::update_user)
                .delete(teams::delete_user),
        )
        .route("/teams/users/{user}/mail", post(teams::set_mail))
        .route("/teams/users/{user}/aliases", post(teams::add_alias))
        .route("/teams/users/{user}/restore", post(teams::restore_user))
        .route(
            "/teams/groups",
            post(teams::put_group).get(teams::list_groups),
        )
        .route("/teams/groups/{group}", delete(teams::remove_group))
        .route("/teams/groups/{group}/members", put(teams::set_members))
        .route("/teams/{user}", get(teams::get_presence))
        .route(
            "/teams/{user}/presence",
            post(teams::set_presence).delete(teams::clear_presence),
        )
        .route(
            "/teams/{user}/sessions/{sid}",
            post(teams::set_session).delete(teams::end_session),
        )
        .route("/swyx/users", post(swyx::add_user).get(swyx::list))
        .route("/swyx/outage", post(swyx::outage))
        .route("/swyx/bridge", post(swyx::bridge))
        .route("/swyx/status-events", post(swyx::status_events))
        .route("/swyx/lose-call-events", post(swyx::lose_call_events))
        .route(
            "/swyx/{user}",
            get(swyx::get)
                .patch(swyx::update_user)
                .delete(swyx::remove_user),
        )
        .route("/swyx/{user}/calls", post(swyx::start_call))
        .route("/swyx/{user}/calls/{call_id}", delete(swyx::end_call))
        .route("/swyx/{user}/status", post(swyx::set_status))
        .route("/graph/outage", post(teams::graph_outage))
        .route("/graph/lifecycle", post(teams::graph_lifecycle))
        .route("/graph/late-answers", post(teams::graph_late_answers))
        .route("/graph/throttle", post(teams::graph_throttle))
        .route("/graph/permissions", post(teams::graph_permissions))
        .route("/clock/advance", post(clock_advance))
        .route("/state", get(state))
        .route("/stats", get(stats))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such sandbox route".into()) });
    Router::new()
        .nest("/_sandbox", api)
        .with_state(Arc::new(Ctl { graph, swyx }))
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

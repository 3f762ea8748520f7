//! The operator's endpoints, on their own listener (loopback by default): `/healthz` for service
//! managers, `/metrics` for Prometheus, `/status` for `swyx-connector status`.

use crate::status::StatusBoard;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;
use std::sync::{Arc, OnceLock};

/// The process-wide Prometheus recorder: installed once, even when tests start several
/// connectors in one process (they then share the figures).
pub fn prometheus() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|_| handle)
        })
        .clone()
}

#[derive(Clone)]
struct AdminState {
    status: Arc<StatusBoard>,
    metrics: Option<PrometheusHandle>,
}

pub fn router(status: Arc<StatusBoard>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .route("/status", get(status_json))
        .with_state(AdminState {
            status,
            metrics: prometheus(),
        })
}

async fn healthz(State(s): State<AdminState>) -> impl IntoResponse {
    let v = s.status.snapshot();
    axum::Json(json!({
        "status": "ok",
        "registration": v.registration.state,
        "outboxBacklog": v.outbox_backlog,
    }))
}

async fn render_metrics(State(s): State<AdminState>) -> impl IntoResponse {
    // Gauges of state held elsewhere are set from the status at scrape time.
    let v = s.status.snapshot();
    for (state, n) in [
        ("active", v.subscriptions_active),
        ("failing", v.subscriptions_failing),
        ("pending", v.subscriptions_pending),
    ] {
        metrics::gauge!("connector_sip_subscriptions", "state" => state).set(n as f64);
    }
    metrics::gauge!("connector_directory_users").set(v.directory_users as f64);
    let text = s.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    (
        [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        text,
    )
}

async fn status_json(State(s): State<AdminState>) -> impl IntoResponse {
    axum::Json(s.status.snapshot())
}

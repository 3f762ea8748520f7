//! The operator's routes of the self-hosted server: `GET /metrics` and `GET /healthz`. They sit
//! next to the webhooks by default; with `server.admin_listen` they move to a listener of their own
//! (the public one faces Graph and the connector). The admin page ([`super::admin_page`]) is
//! served there only, behind its own credential.

use super::http::{HttpResponse, error, json};
use crate::app::App;
use crate::metrics::CONTENT_TYPE;
use crate::telemetry::with_causes;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use std::sync::Arc;

pub fn router(app: Arc<App>) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(app)
}

fn to_axum(resp: HttpResponse) -> Response {
    resp.map(axum::body::Body::from)
}

/// 200 with the backlog, or 503 when the store cannot be read. The cause goes to the log only:
/// a health answer reaches whoever reaches the listener, and store errors name hosts and tables.
async fn healthz(State(app): State<Arc<App>>) -> Response {
    match app.store.count_pending().await {
        Ok(pending) => {
            app.metrics.set_pending_deliveries(pending);
            to_axum(json(
                StatusCode::OK,
                &serde_json::json!({ "status": "ok", "pendingDeliveries": pending }),
            ))
        }
        Err(e) => {
            tracing::warn!(error = %with_causes(&e), "health check: the store cannot be read");
            to_axum(json(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({ "status": "unavailable" }),
            ))
        }
    }
}

/// The text exposition. A store that cannot be read leaves its gauges at their last values (and
/// `/healthz` says 503) rather than failing the scrape of every other metric.
async fn metrics(State(app): State<Arc<App>>) -> Response {
    let now = app.clock.now();
    if let Err(e) = app
        .metrics
        .refresh_from_store(app.store.as_ref(), now)
        .await
    {
        tracing::warn!(error = %with_causes(&e), "metrics: the store cannot be read; its gauges keep their last values");
    }
    match app.metrics.render() {
        Ok(text) => {
            let mut r = http::Response::new(Bytes::from(text));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            to_axum(r)
        }
        Err(_) => to_axum(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the metrics could not be encoded",
        )),
    }
}

//! `POST /v1.0/$batch`, Graph's JSON batching
//! (<https://learn.microsoft.com/en-us/graph/json-batching>): up to 20 requests, each with an
//! `id`, `method`, a `url` relative to the version, optional `headers`, `body` and `dependsOn`;
//! answered as `responses` with each one's `status`, `headers` and `body`. Every request inside
//! runs through the same routes as a direct call, so it is authorized, counted and throttled on
//! its own (a 429 inside carries its `Retry-After`). Requests run in order; one whose dependency
//! failed gets 424.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::IntoResponse;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;

use super::caller::authorize;
use super::ctx::Ctx;
use super::error::{ApiError, ApiResult, parse_body};

const MAX_REQUESTS: usize = 20;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchBody {
    requests: Vec<BatchRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchRequest {
    id: String,
    method: String,
    url: String,
    #[serde(default)]
    headers: HashMap<String, String>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    depends_on: Vec<String>,
}

fn answer(id: &str, status: StatusCode, headers: Map<String, Value>, body: Value) -> Value {
    json!({ "id": id, "status": status.as_u16(), "headers": headers, "body": body })
}

fn error_answer(id: &str, status: StatusCode, code: &str, message: &str) -> Value {
    let mut headers = Map::new();
    headers.insert("Content-Type".into(), json!("application/json"));
    answer(
        id,
        status,
        headers,
        json!({ "error": { "code": code, "message": message } }),
    )
}

fn check(requests: &[BatchRequest]) -> Result<(), ApiError> {
    if requests.is_empty() || requests.len() > MAX_REQUESTS {
        return Err(ApiError::bad_request(format!(
            "Invalid batch payload format: a batch holds 1 to {MAX_REQUESTS} requests, this one {}.",
            requests.len()
        )));
    }
    let mut ids: Vec<&str> = requests.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(ApiError::bad_request(format!(
            "Batch request ids must be unique: '{}' repeats.",
            w[0]
        )));
    }
    Ok(())
}

/// The request as the routes take it, or why it cannot be one.
fn build(
    r: &BatchRequest,
    authorization: Option<&http::HeaderValue>,
) -> Result<Request<Body>, String> {
    let method = Method::from_bytes(r.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("'{}' is not an HTTP method", r.method))?;
    let relative = r.url.trim();
    if relative.contains("://") {
        return Err("url must be relative to the version, e.g. /users".into());
    }
    let path = format!("/v1.0/{}", relative.trim_start_matches('/'));
    if path.to_ascii_lowercase().starts_with("/v1.0/$batch") {
        return Err("a batch cannot contain a batch".into());
    }
    let mut builder = Request::builder()
        .method(method)
        .uri(path.replace(' ', "%20"));
    if let Some(auth) = authorization {
        builder = builder.header(header::AUTHORIZATION, auth.clone());
    }
    for (k, v) in &r.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let body = match &r.body {
        Some(b) => {
            if !r
                .headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("content-type"))
            {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
            }
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    builder.body(body).map_err(|e| format!("bad request: {e}"))
}

async fn run(ctx: &Arc<Ctx>, id: &str, request: Request<Body>) -> (bool, Value) {
    let router = (ctx.routes)(ctx.clone());
    let Ok(response) = router.oneshot(request).await;
    let status = response.status();
    let mut headers = Map::new();
    for name in [header::CONTENT_TYPE, header::RETRY_AFTER, header::LOCATION] {
        if let Some(v) = response.headers().get(&name).and_then(|v| v.to_str().ok()) {
            headers.insert(name.to_string(), json!(v));
        }
    }
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
    };
    (status.is_success(), answer(id, status, headers, body))
}

/// `POST /v1.0/$batch`
pub(crate) async fn batch(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    authorize(&ctx.tenant, &headers)?;
    let b: BatchBody = parse_body(&body)?;
    check(&b.requests)?;
    let mut succeeded: HashMap<&str, bool> = HashMap::new();
    let mut responses = Vec::with_capacity(b.requests.len());
    for r in &b.requests {
        if let Some(dep) = r
            .depends_on
            .iter()
            .find(|d| succeeded.get(d.as_str()) != Some(&true))
        {
            succeeded.insert(&r.id, false);
            responses.push(error_answer(
                &r.id,
                StatusCode::FAILED_DEPENDENCY,
                "FailedDependency",
                &format!("The request it depends on ('{dep}') failed or has not run."),
            ));
            continue;
        }
        let (ok, response) = match build(r, headers.get(header::AUTHORIZATION)) {
            Ok(request) => run(&ctx, &r.id, request).await,
            Err(why) => (
                false,
                error_answer(&r.id, StatusCode::BAD_REQUEST, "BadRequest", &why),
            ),
        };
        succeeded.insert(&r.id, ok);
        responses.push(response);
    }
    Ok(Json(json!({ "responses": responses })).into_response())
}

//! The read-only admin page on `server.admin_listen`: the totals, the sync accounts and their
//! subscriptions, the pending backlog, the current errors, the process's recent warnings
//! ([`crate::telemetry::recent`]) and a searchable user table, read from the store with
//! [`crate::status::read`] (what `presence-bridge status` prints). Server-rendered HTML with its style and a small filter script inline: no build step, no external asset, so it
//! works offline. Behind `server.admin_token`: a bearer token, or basic auth with the token as
//! the password (what a browser can send from its own prompt).

mod credential;
mod render;
#[cfg(test)]
mod tests;

pub use credential::{AdminCredential, CredentialError};

use crate::app::App;
use crate::status::{self, Which};
use crate::telemetry::with_causes;
use axum::extract::{Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use std::sync::Arc;

/// Also on answers without the credential: nothing of the page is kept by a browser or a proxy,
/// and nothing outside it is loaded or may frame it.
const SECURITY_HEADERS: &[(header::HeaderName, &str)] = &[
    (header::CACHE_CONTROL, "no-store"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
];

/// The page's routes (`GET /` and `GET /admin`, `?q=` pre-filters the user table), every one
/// behind `credential`.
pub fn router(app: Arc<App>, credential: AdminCredential) -> axum::Router {
    axum::Router::new()
        .route("/", get(page))
        .route("/admin", get(page))
        .with_state(app)
        .route_layer(middleware::from_fn_with_state(
            Arc::new(credential),
            require_credential,
        ))
}

async fn require_credential(
    State(credential): State<Arc<AdminCredential>>,
    req: Request,
    next: Next,
) -> Response {
    let mut resp = if credential.accepts(req.headers()) {
        next.run(req).await
    } else {
        unauthorized()
    };
    let headers = resp.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name.clone(), HeaderValue::from_static(value));
    }
    resp
}

/// 401 with both challenges: a browser shows its basic-auth prompt, a script sends the token.
fn unauthorized() -> Response {
    let mut headers = HeaderMap::new();
    headers.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Basic realm="presence-bridge admin", charset="UTF-8""#),
    );
    headers.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer realm="presence-bridge admin""#),
    );
    (
        StatusCode::UNAUTHORIZED,
        headers,
        "401: the admin page needs server.admin_token (bearer token, or basic-auth password)\n",
    )
        .into_response()
}

#[derive(Debug, Default, serde::Deserialize)]
struct Search {
    q: Option<String>,
}

async fn page(State(app): State<Arc<App>>, Query(search): Query<Search>) -> Response {
    let now = app.clock.now();
    match status::read(app.store.as_ref(), &Which::All, now, app.directions).await {
        Ok(report) => {
            let recent = crate::telemetry::recent::global().newest_first();
            Html(render::page(
                &report,
                &recent,
                search.q.as_deref().unwrap_or(""),
            ))
            .into_response()
        }
        Err(e) => {
            // The cause names hosts and tables: the log only.
            tracing::warn!(error = %with_causes(&e), "admin page: the store cannot be read");
            (StatusCode::SERVICE_UNAVAILABLE, Html(render::unavailable())).into_response()
        }
    }
}

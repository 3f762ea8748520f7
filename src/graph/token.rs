//! App-only access token (OAuth 2.0 client credentials) for Graph, cached until shortly before it
//! expires. Concurrent callers that find no valid token wait for one refresh instead of each
//! asking the token endpoint. A client-credentials grant can be repeated safely, so it is retried
//! like any idempotent request.

use super::entra::{EntraError, TokenAnswer, post_form};
use crate::outbound::{Idempotency, RetryPolicy};
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A token is replaced this long before it expires, so a request never carries a dying token.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);

/// A client secret; never printed.
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(***)")
    }
}

struct Cached {
    token: String,
    refresh_at: Instant,
}

/// Client-credentials tokens for one app in one tenant.
pub struct AppTokenSource {
    http: reqwest::Client,
    token_url: String,
    /// `{graph origin}/.default`: the configured cloud's Graph resource.
    scope: String,
    client_id: String,
    secret: ClientSecret,
    cache: Mutex<Option<Cached>>,
    /// Held while refreshing: the second caller waits, then finds the fresh token.
    refresh: tokio::sync::Mutex<()>,
}

impl fmt::Debug for AppTokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppTokenSource")
            .field("token_url", &self.token_url)
            .field("scope", &self.scope)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl AppTokenSource {
    /// `authority_url` e.g. `https://login.microsoftonline.com`; the token endpoint is
    /// `{authority}/{tenant}/oauth2/v2.0/token`. The token is asked for the Graph resource of
    /// `graph_base_url` (e.g. `https://graph.microsoft.com/v1.0`).
    pub fn new(
        http: reqwest::Client,
        authority_url: &str,
        graph_base_url: &str,
        tenant_id: &str,
        client_id: &str,
        secret: ClientSecret,
    ) -> Self {
        Self {
            http,
            token_url: format!(
                "{}/{tenant_id}/oauth2/v2.0/token",
                authority_url.trim_end_matches('/')
            ),
            scope: super::cloud::app_scope(graph_base_url),
            client_id: client_id.to_string(),
            secret,
            cache: Mutex::new(None),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    fn cached(&self) -> Option<String> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .as_ref()
            .filter(|c| Instant::now() < c.refresh_at)
            .map(|c| c.token.clone())
    }

    /// A valid token: the cached one, or a fresh one (one request even under concurrency),
    /// fetched under `policy` within `budget`.
    pub async fn token(
        &self,
        policy: &RetryPolicy,
        budget: Duration,
    ) -> Result<String, EntraError> {
        if let Some(t) = self.cached() {
            return Ok(t);
        }
        let started = Instant::now();
        // Waiting for another caller's refresh counts against the budget too; when it uses the
        // whole budget, the fetch below finds no time left and says so.
        let _refreshing = tokio::time::timeout(budget, self.refresh.lock()).await;
        if let Some(t) = self.cached() {
            return Ok(t);
        }
        let left = budget.saturating_sub(started.elapsed());
        let (token, life) = self.fetch(policy, left).await?;
        let early = REFRESH_BEFORE_EXPIRY.min(life / 2);
        *self.cache.lock().unwrap_or_else(PoisonError::into_inner) = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + life.saturating_sub(early),
        });
        Ok(token)
    }

    /// Forgets the cached token (after Graph answered 401 to it).
    pub fn invalidate(&self) {
        *self.cache.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    async fn fetch(
        &self,
        policy: &RetryPolicy,
        budget: Duration,
    ) -> Result<(String, Duration), EntraError> {
        let pairs = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.secret.0.as_str()),
            ("scope", self.scope.as_str()),
        ];
        let answer = post_form(
            &self.http,
            &self.token_url,
            &pairs,
            policy,
            Idempotency::Idempotent,
            budget,
        )
        .await?;
        if !answer.status.is_success() {
            return Err(EntraError::refused(&answer));
        }
        let (token, _, life) = TokenAnswer::parse(&answer.body)?;
        Ok((token, life))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_not_printed() {
        let src = AppTokenSource::new(
            reqwest::Client::new(),
            "https://login.example/",
            "https://graph.microsoft.com/v1.0",
            "t",
            "c",
            ClientSecret::new("s3cr3t-value"),
        );
        let shown = format!("{src:?} {:?}", ClientSecret::new("s3cr3t-value"));
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("https://login.example/t/oauth2/v2.0/token"));
    }

    /// The scope the token endpoint is asked for when Graph is at `graph_base_url`.
    async fn scope_asked_for(graph_base_url: &str) -> String {
        use axum::routing::post;
        use std::collections::HashMap;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let router = axum::Router::new().route(
            "/t/oauth2/v2.0/token",
            post(
                move |form: axum::Form<HashMap<String, String>>| async move {
                    let _ = tx.send(form.0.get("scope").cloned().unwrap_or_default());
                    axum::Json(serde_json::json!({"access_token": "a", "expires_in": 3599}))
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let authority = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        let src = AppTokenSource::new(
            reqwest::Client::new(),
            &authority,
            graph_base_url,
            "t",
            "c",
            ClientSecret::new("s"),
        );
        let policy = RetryPolicy::new(1, Duration::from_millis(10), Duration::from_millis(10));
        src.token(&policy, Duration::from_secs(5)).await.unwrap();
        rx.recv().await.unwrap()
    }

    #[tokio::test]
    async fn the_token_is_asked_for_the_configured_clouds_graph() {
        assert_eq!(
            scope_asked_for("https://graph.microsoft.us/v1.0").await,
            "https://graph.microsoft.us/.default"
        );
        assert_eq!(
            scope_asked_for(crate::config::DEFAULT_GRAPH_BASE_URL).await,
            "https://graph.microsoft.com/.default"
        );
    }
}

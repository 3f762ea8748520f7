//! The one Microsoft Graph client of the bridge: app-only token (cached, see [`token`]) or a sync
//! account's delegated token, bounded concurrency, and every request under the one outbound
//! retry policy ([`crate::outbound`]) with a per-call attempt timeout that fits what Graph does
//! for the call and a total time budget. What the budget cannot cover is the caller's to keep
//! pending. Every request passes the app's one throttle gate ([`ThrottleGate`]) first.
//!
//! [`token`]: super::token

mod error;
mod gate;
mod settings;

pub use error::GraphError;
pub use gate::{ThrottleGate, monotonic_clock};
pub use settings::{GraphSettings, GraphTimeouts};

use super::token::AppTokenSource;
use crate::outbound::Idempotency;
use crate::outbound::http::{Answer, exchange};
use http::{Method, StatusCode};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Graph's answers are at most a few hundred KiB (650 presences, a page of subscriptions).
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Cheap to clone; clones share the token cache, the concurrency limit and the throttle gate.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

struct Inner {
    settings: GraphSettings,
    http: reqwest::Client,
    tokens: AppTokenSource,
    permits: Semaphore,
    gate: ThrottleGate,
}

impl fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphClient")
            .field("base_url", &self.inner.settings.base_url)
            .field("client_id", &self.inner.settings.client_id)
            .finish_non_exhaustive()
    }
}

/// Whose token a request carries.
#[derive(Clone, Copy)]
pub(super) enum Auth<'a> {
    /// The app-only token from the cache; on a 401 it is fetched anew once.
    App,
    /// A sync account's delegated token: a 401 is the caller's to handle (the app token stays).
    Delegated(&'a str),
}

/// One request to Graph, relative to the base URL.
pub(super) struct Call<'a> {
    pub method: Method,
    pub path: &'a str,
    pub body: Option<&'a serde_json::Value>,
    pub auth: Auth<'a>,
    pub budget: Duration,
    /// The longest wait for one attempt (see [`GraphTimeouts`]).
    pub attempt_timeout: Duration,
    pub idempotency: Idempotency,
}

impl GraphClient {
    /// `http` should come from [`crate::outbound::http::client`] (no redirects).
    pub fn new(settings: GraphSettings, http: reqwest::Client) -> Self {
        let tokens = AppTokenSource::new(
            http.clone(),
            &settings.authority_url,
            &settings.base_url,
            &settings.tenant_id,
            &settings.client_id,
            settings.client_secret.clone(),
        );
        let permits = Semaphore::new(settings.max_concurrency.max(1));
        let gate = ThrottleGate::new(settings.clock.clone());
        Self {
            inner: Arc::new(Inner {
                settings,
                http,
                tokens,
                permits,
                gate,
            }),
        }
    }

    pub fn settings(&self) -> &GraphSettings {
        &self.inner.settings
    }

    /// How long Graph still throttles this app (zero: requests go out).
    pub fn throttle_hold(&self) -> Duration {
        self.inner.gate.remaining()
    }

    /// Fetches the app-only token now if none is cached (within `budget`), so a call made later
    /// does not wait for it. A failure is left for that call to meet and report.
    pub async fn fetch_app_token(&self, budget: Duration) {
        let retry = &self.inner.settings.retry;
        if let Err(e) = self.inner.tokens.token(retry, budget).await {
            tracing::debug!(error = %e, "app-only token not fetched ahead");
        }
    }

    /// Sets the bridge's presence session for `user` (sessionId = our app id).
    pub async fn set_presence(
        &self,
        user: &str,
        availability: &str,
        activity: &str,
        expiration: Duration,
    ) -> Result<(), GraphError> {
        let budget = self.inner.settings.call_budget;
        self.set_presence_within(user, availability, activity, expiration, budget)
            .await
    }

    /// Ends the bridge's presence session for `user`; a 404 (no such session) counts as done.
    pub async fn clear_presence(&self, user: &str) -> Result<(), GraphError> {
        let budget = self.inner.settings.call_budget;
        self.clear_presence_within(user, budget).await
    }

    /// setPresence is a POST that sets the session to a state: doing it twice is doing it once.
    pub async fn set_presence_within(
        &self,
        user: &str,
        availability: &str,
        activity: &str,
        expiration: Duration,
        budget: Duration,
    ) -> Result<(), GraphError> {
        let body = serde_json::json!({
            "sessionId": self.inner.settings.client_id,
            "availability": availability,
            "activity": activity,
            "expirationDuration": iso_minutes(expiration),
        });
        let path = format!("/users/{}/presence/setPresence", path_segment(user)?);
        self.request(Call {
            method: Method::POST,
            path: &path,
            body: Some(&body),
            auth: Auth::App,
            budget,
            attempt_timeout: self.inner.settings.timeouts.presence_write,
            idempotency: Idempotency::Idempotent,
        })
        .await
        .map(|_| ())
    }

    pub async fn clear_presence_within(
        &self,
        user: &str,
        budget: Duration,
    ) -> Result<(), GraphError> {
        let body = serde_json::json!({ "sessionId": self.inner.settings.client_id });
        let path = format!("/users/{}/presence/clearPresence", path_segment(user)?);
        let cleared = self
            .request(Call {
                method: Method::POST,
                path: &path,
                body: Some(&body),
                auth: Auth::App,
                budget,
                attempt_timeout: self.inner.settings.timeouts.presence_write,
                // A repeated clear finds no session: 404, which counts as done.
                idempotency: Idempotency::Idempotent,
            })
            .await;
        match cleared {
            Ok(_) | Err(GraphError::Refused { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(super) fn timeouts(&self) -> &GraphTimeouts {
        &self.inner.settings.timeouts
    }

    /// Every call: the token, then the request under the retry policy, then one app-token
    /// refresh on a 401. Returns a 2xx answer.
    pub(super) async fn request(&self, call: Call<'_>) -> Result<Answer, GraphError> {
        let started = Instant::now();
        let left = || call.budget.saturating_sub(started.elapsed());
        let url = format!("{}{}", self.inner.settings.base_url, call.path);
        let mut token_renewed = false;
        loop {
            let token = match call.auth {
                Auth::App => self
                    .inner
                    .tokens
                    .token(&self.inner.settings.retry, left())
                    .await
                    .map_err(GraphError::from_app_token)?,
                Auth::Delegated(t) => t.to_string(),
            };
            let answer = self.send(&call, &url, &token, left()).await?;
            match answer.status {
                s if s.is_success() => return Ok(answer),
                // A 401 refused the token, not the request: nothing was done, asking again with
                // another token is safe.
                StatusCode::UNAUTHORIZED => match call.auth {
                    // Another token of the account is the caller's to get; the app's cache stays.
                    Auth::Delegated(_) => {
                        return Err(GraphError::DelegatedToken(error_message(&answer)));
                    }
                    Auth::App if !token_renewed => {
                        token_renewed = true;
                        self.inner.tokens.invalidate();
                    }
                    Auth::App => return Err(GraphError::AppTokenRejected(error_message(&answer))),
                },
                s => {
                    return Err(GraphError::Refused {
                        status: s.as_u16(),
                        message: error_message(&answer),
                    });
                }
            }
        }
    }

    /// The request under the retry policy: an answer that is not 429 or 5xx, or `Unavailable`.
    async fn send(
        &self,
        call: &Call<'_>,
        url: &str,
        token: &str,
        budget: Duration,
    ) -> Result<Answer, GraphError> {
        let what = format!("{} {}", call.method, call.path);
        let retry = &self.inner.settings.retry;
        let gate = &self.inner.gate;
        let throttled = &AtomicU32::new(0);
        let attempt = |left: Duration| async move {
            let left = match gate.pass(left).await {
                Ok(waited) => left.saturating_sub(waited),
                Err(hold) => return Err(ThrottleGate::refusal(hold)),
            };
            // Closed never happens (the semaphore lives as long as the client).
            let _permit = self.inner.permits.acquire().await;
            let mut request = self
                .inner
                .http
                .request(call.method.clone(), url)
                .bearer_auth(token);
            if let Some(body) = call.body {
                request = request.json(body);
            }
            let answer = exchange(request, call.attempt_timeout.min(left), MAX_ANSWER_BYTES).await;
            if let Err(failure) = &answer
                && ThrottleGate::closes_on(failure)
            {
                // Without Graph's word, as long as the retry policy would wait.
                let n = throttled.fetch_add(1, Ordering::Relaxed) + 1;
                gate.hold(failure.retry_after.unwrap_or_else(|| retry.backoff(n)));
            }
            answer
        };
        retry
            .run(&what, call.idempotency, budget, attempt)
            .await
            .map_err(GraphError::Unavailable)
    }
}

/// Graph's `{"error":{"code","message"}}` as one line (or a quote of a non-Graph body).
pub(crate) fn error_message(answer: &Answer) -> String {
    if answer.status.is_redirection() {
        return format!("a redirect, which is never followed: {}", answer.quote());
    }
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&answer.body).ok();
    let err = parsed.as_ref().and_then(|v| v.get("error"));
    match err {
        Some(e) => format!(
            "{}: {}",
            e.get("code").and_then(|c| c.as_str()).unwrap_or("?"),
            e.get("message").and_then(|m| m.as_str()).unwrap_or("")
        ),
        None => answer.quote(),
    }
}

/// A user id, UPN or subscription id as one path segment (ids are GUIDs; UPNs may hold `@` and
/// `#`). Empty, `.` and `..` are refused: as a segment they would change the request's path.
pub(super) fn path_segment(user: &str) -> Result<String, GraphError> {
    if matches!(user, "" | "." | "..") {
        return Err(GraphError::InvalidRequest(format!(
            "{user:?} is not a Graph id"
        )));
    }
    let mut out = String::with_capacity(user.len());
    for c in user.chars() {
        if c.is_ascii_alphanumeric() || "-._~@".contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    Ok(out)
}

/// `PT5M` … `PT4H` as Graph writes durations (whole minutes, clamped to Graph's range).
fn iso_minutes(d: Duration) -> String {
    let minutes = (d.as_secs() / 60).clamp(5, 240);
    format!("PT{minutes}M")
}

#[cfg(test)]
mod tests;

//! The one Microsoft Graph client of the bridge: app-only token (cached, see [`token`]) or a sync
//! account's delegated token, bounded concurrency, 429 with `Retry-After` honoured, exponential
//! backoff with jitter on 5xx and timeouts, and a total time budget per call. What the budget
//! cannot cover is the caller's to keep pending.
//!
//! [`token`]: super::token

use super::token::{AppTokenSource, ClientSecret, TokenError};
use bytes::Bytes;
use http::{Method, StatusCode};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

#[derive(Debug, Clone)]
pub struct GraphSettings {
    /// e.g. `https://graph.microsoft.com/v1.0`
    pub base_url: String,
    /// e.g. `https://login.microsoftonline.com`
    pub authority_url: String,
    pub tenant_id: String,
    /// The app (client) id; also the `sessionId` of setPresence.
    pub client_id: String,
    pub client_secret: ClientSecret,
    /// Requests in flight at once, per process.
    pub max_concurrency: usize,
    /// Longest wait for one HTTP attempt.
    pub attempt_timeout: Duration,
    /// Total time of one call (all attempts and waits) unless a call names its own budget.
    pub call_budget: Duration,
    /// First backoff after a 5xx or timeout; doubles per attempt, with jitter.
    pub backoff_base: Duration,
}

impl GraphSettings {
    pub fn new(
        base_url: &str,
        authority_url: &str,
        tenant_id: &str,
        client_id: &str,
        client_secret: ClientSecret,
    ) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            authority_url: authority_url.trim_end_matches('/').to_string(),
            tenant_id: tenant_id.to_string(),
            client_id: client_id.to_string(),
            client_secret,
            max_concurrency: 32,
            attempt_timeout: Duration::from_secs(2),
            call_budget: Duration::from_secs(2),
            backoff_base: Duration::from_millis(100),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Graph refused the request (4xx other than 429): retrying the same request will not help.
    #[error("Graph refused the request: HTTP {status}: {message}")]
    Refused { status: u16, message: String },
    /// Graph kept failing (429, 5xx, timeouts, no connection) until the budget ran out.
    #[error("Graph unavailable within {budget_ms} ms: {last}")]
    Unavailable {
        budget_ms: u64,
        last: String,
        /// Graph's last `Retry-After`, when it gave one.
        retry_after: Option<Duration>,
    },
    /// The app-only token was refused (wrong secret, app not consented …).
    #[error("Graph token: {0}")]
    Token(String),
    /// Graph refused a sync account's delegated token (401): expired or revoked. The caller
    /// gets a new one (refresh) before trying again.
    #[error("Graph refused the sync account's token (401): {0}")]
    DelegatedToken(String),
    /// The call was not sent: its arguments break one of Graph's rules (e.g. more than 650 users).
    #[error("not sent to Graph: {0}")]
    InvalidRequest(String),
    /// Graph answered 2xx with a body that is not what the call returns.
    #[error("unexpected answer from Graph: {0}")]
    BadAnswer(String),
}

impl GraphError {
    /// How long Graph asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GraphError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Cheap to clone; clones share the token cache and the concurrency limit.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

struct Inner {
    settings: GraphSettings,
    http: reqwest::Client,
    tokens: AppTokenSource,
    permits: Semaphore,
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
}

/// What one attempt came to.
enum Attempt {
    Done(StatusCode, Bytes),
    Refused(u16, String),
    /// Worth another try: why, and Graph's Retry-After if any.
    Retry(String, Option<Duration>),
    /// The token was refused by Graph (401), with Graph's message.
    StaleToken(String),
}

impl GraphClient {
    pub fn new(settings: GraphSettings, http: reqwest::Client) -> Self {
        let tokens = AppTokenSource::new(
            http.clone(),
            &settings.authority_url,
            &settings.tenant_id,
            &settings.client_id,
            settings.client_secret.clone(),
        );
        let permits = Semaphore::new(settings.max_concurrency.max(1));
        Self {
            inner: Arc::new(Inner {
                settings,
                http,
                tokens,
                permits,
            }),
        }
    }

    pub fn settings(&self) -> &GraphSettings {
        &self.inner.settings
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
        let path = format!("/users/{}/presence/setPresence", path_segment(user));
        self.request(Call {
            method: Method::POST,
            path: &path,
            body: Some(&body),
            auth: Auth::App,
            budget,
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
        let path = format!("/users/{}/presence/clearPresence", path_segment(user));
        let cleared = self
            .request(Call {
                method: Method::POST,
                path: &path,
                body: Some(&body),
                auth: Auth::App,
                budget,
            })
            .await;
        match cleared {
            Ok(_) | Err(GraphError::Refused { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The one request loop of every call: budget, 429 with `Retry-After`, jittered backoff on
    /// 5xx and timeouts, one app-token refresh on a 401. Returns a 2xx answer's status and body.
    pub(super) async fn request(&self, call: Call<'_>) -> Result<(StatusCode, Bytes), GraphError> {
        let started = Instant::now();
        let budget = call.budget;
        let url = format!("{}{}", self.inner.settings.base_url, call.path);
        let unavailable = |last: String, retry_after| GraphError::Unavailable {
            budget_ms: budget.as_millis() as u64,
            last,
            retry_after,
        };
        let mut failures = 0u32;
        let mut token_refreshed = false;
        let mut last = "no attempt fitted in the budget".to_string();
        let mut last_retry_after = None;
        loop {
            let left = budget.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(unavailable(last, last_retry_after));
            }
            let attempt = match tokio::time::timeout(left, self.attempt(&call, &url, left)).await {
                Ok(Ok(a)) => a,
                Ok(Err(TokenError::Refused(e))) => return Err(GraphError::Token(e)),
                Ok(Err(TokenError::Unavailable(e))) => Attempt::Retry(format!("token: {e}"), None),
                Err(_) => Attempt::Retry("no answer within the budget".to_string(), None),
            };
            let wait = match attempt {
                Attempt::Done(status, body) => return Ok((status, body)),
                Attempt::Refused(status, message) => {
                    return Err(GraphError::Refused { status, message });
                }
                Attempt::StaleToken(message) => match call.auth {
                    // Another token of the account is the caller's to get; the app's cache stays.
                    Auth::Delegated(_) => return Err(GraphError::DelegatedToken(message)),
                    Auth::App if !token_refreshed => {
                        token_refreshed = true;
                        self.inner.tokens.invalidate();
                        continue;
                    }
                    Auth::App => {
                        return Err(GraphError::Token(
                            "Graph refused a freshly issued token (401)".to_string(),
                        ));
                    }
                },
                Attempt::Retry(why, retry_after) => {
                    failures += 1;
                    last = why;
                    last_retry_after = retry_after;
                    retry_after.unwrap_or_else(|| self.backoff(failures))
                }
            };
            let left = budget.saturating_sub(started.elapsed());
            if wait >= left {
                // Waiting would overrun the budget: give up now, the caller keeps it pending.
                return Err(unavailable(last, last_retry_after));
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Exponential backoff with full jitter (half fixed, half random), so many users retried
    /// at once do not hit Graph in lockstep.
    fn backoff(&self, failures: u32) -> Duration {
        let base = self.inner.settings.backoff_base.as_millis() as u64;
        let ceiling = base.saturating_mul(1 << failures.saturating_sub(1).min(10));
        let jitter = rand::random::<u64>() % (ceiling / 2 + 1);
        Duration::from_millis(ceiling / 2 + jitter)
    }

    async fn attempt(
        &self,
        call: &Call<'_>,
        url: &str,
        left: Duration,
    ) -> Result<Attempt, TokenError> {
        // Closed never happens (the semaphore lives as long as the client).
        let Ok(_permit) = self.inner.permits.acquire().await else {
            return Ok(Attempt::Retry("client shut down".to_string(), None));
        };
        let timeout = self.inner.settings.attempt_timeout.min(left);
        let token = match call.auth {
            Auth::App => self.inner.tokens.token(timeout).await?,
            Auth::Delegated(t) => t.to_string(),
        };
        let mut req = self
            .inner
            .http
            .request(call.method.clone(), url)
            .bearer_auth(token)
            .timeout(timeout);
        if let Some(body) = call.body {
            req = req.json(body);
        }
        let sent = req.send().await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Ok(Attempt::Retry("attempt timed out".to_string(), None));
            }
            Err(e) if e.is_connect() => {
                return Ok(Attempt::Retry("cannot connect to Graph".to_string(), None));
            }
            Err(e) => return Ok(Attempt::Retry(format!("request failed: {e}"), None)),
        };
        let status = resp.status();
        if status.is_success() {
            return Ok(match resp.bytes().await {
                Ok(body) => Attempt::Done(status, body),
                Err(e) => Attempt::Retry(format!("reading the answer failed: {e}"), None),
            });
        }
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let message = error_message(&resp.text().await.unwrap_or_default());
        Ok(match status {
            StatusCode::UNAUTHORIZED => Attempt::StaleToken(message),
            StatusCode::TOO_MANY_REQUESTS => {
                Attempt::Retry(format!("HTTP 429: {message}"), retry_after)
            }
            s if s.is_server_error() => {
                Attempt::Retry(format!("HTTP {}: {message}", s.as_u16()), retry_after)
            }
            s => Attempt::Refused(s.as_u16(), message),
        })
    }
}

/// Graph's `{"error":{"code","message"}}` as one line (or the start of a non-Graph body).
fn error_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let err = parsed.as_ref().and_then(|v| v.get("error"));
    match err {
        Some(e) => format!(
            "{}: {}",
            e.get("code").and_then(|c| c.as_str()).unwrap_or("?"),
            e.get("message").and_then(|m| m.as_str()).unwrap_or("")
        ),
        None => body.chars().take(200).collect(),
    }
}

/// A user id or UPN as one path segment (ids are GUIDs; UPNs may hold `@` and `#`).
pub(super) fn path_segment(user: &str) -> String {
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
    out
}

/// `PT5M` … `PT4H` as Graph writes durations (whole minutes, clamped to Graph's range).
fn iso_minutes(d: Duration) -> String {
    let minutes = (d.as_secs() / 60).clamp(5, 240);
    format!("PT{minutes}M")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_paths_are_graph_shaped() {
        assert_eq!(iso_minutes(Duration::from_secs(300)), "PT5M");
        assert_eq!(iso_minutes(Duration::from_secs(60)), "PT5M");
        assert_eq!(iso_minutes(Duration::from_secs(86_400)), "PT240M");
        assert_eq!(path_segment("a/b c#d@x.de"), "a%2Fb%20c%23d@x.de");
        assert_eq!(
            error_message(r#"{"error":{"code":"NotFound","message":"no session"}}"#),
            "NotFound: no session"
        );
    }

    #[test]
    fn backoff_grows_and_stays_jittered_within_bounds() {
        let c = GraphClient::new(
            GraphSettings::new(
                "http://127.0.0.1:9",
                "http://127.0.0.1:9",
                "t",
                "c",
                ClientSecret::new("s"),
            ),
            reqwest::Client::new(),
        );
        for failures in 1..6u32 {
            let ceiling = 100u64 << (failures - 1);
            let d = c.backoff(failures).as_millis() as u64;
            assert!((ceiling / 2..=ceiling).contains(&d), "{failures}: {d}");
        }
    }
}

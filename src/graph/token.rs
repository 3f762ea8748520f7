//! App-only access token (OAuth 2.0 client credentials) for Graph, cached until shortly before it
//! expires. Concurrent callers that find no valid token wait for one refresh instead of each
//! asking the token endpoint.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

const GRAPH_DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";
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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token endpoint could not be reached or answered 5xx/429: worth another try.
    #[error("token endpoint unavailable: {0}")]
    Unavailable(String),
    /// The endpoint refused the credentials or the request (4xx): retrying will not help.
    #[error("token request refused: {0}")]
    Refused(String),
}

struct Cached {
    token: String,
    refresh_at: Instant,
}

/// Client-credentials tokens for one app in one tenant.
pub struct AppTokenSource {
    http: reqwest::Client,
    token_url: String,
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
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl AppTokenSource {
    /// `authority_url` e.g. `https://login.microsoftonline.com`; the token endpoint is
    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn new(
        http: reqwest::Client,
        authority_url: &str,
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

    /// A valid token: the cached one, or a fresh one (one request even under concurrency).
    pub async fn token(&self, timeout: Duration) -> Result<String, TokenError> {
        if let Some(t) = self.cached() {
            return Ok(t);
        }
        let _refreshing = self.refresh.lock().await;
        if let Some(t) = self.cached() {
            return Ok(t);
        }
        let (token, life) = self.fetch(timeout).await?;
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

    async fn fetch(&self, timeout: Duration) -> Result<(String, Duration), TokenError> {
        let pairs = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.secret.0.as_str()),
            ("scope", GRAPH_DEFAULT_SCOPE),
        ];
        let (status, text) = post_form(&self.http, &self.token_url, timeout, &pairs).await?;
        if !status.is_success() {
            return Err(failure(status, &OAuthError::parse(&text)));
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        match serde_json::from_str::<Answer>(&text) {
            Ok(Answer {
                access_token: Some(token),
                expires_in,
            }) if !token.is_empty() => Ok((token, Duration::from_secs(expires_in.unwrap_or(3599)))),
            _ => Err(TokenError::Refused(
                "the token endpoint answered 2xx without an access_token".to_string(),
            )),
        }
    }
}

/// POSTs a form to an Entra endpoint: status and body text, or `Unavailable` when no answer came.
pub(crate) async fn post_form(
    http: &reqwest::Client,
    url: &str,
    timeout: Duration,
    pairs: &[(&str, &str)],
) -> Result<(http::StatusCode, String), TokenError> {
    let resp = http
        .post(url)
        .timeout(timeout)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form(pairs))
        .send()
        .await
        .map_err(|e| TokenError::Unavailable(describe(&e)))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| TokenError::Unavailable(describe(&e)))?;
    Ok((status, text))
}

/// Entra's OAuth error answer (`error`, `error_description`); empty when the body is not one.
/// Entra's descriptions name the problem and never echo secrets or tokens.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct OAuthError {
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}

impl OAuthError {
    pub fn parse(body: &str) -> Self {
        serde_json::from_str(body).unwrap_or_default()
    }

    pub fn code(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }

    /// The description's first line (`AADSTS…: what is wrong`, without Entra's trace and
    /// correlation ids), else the error name.
    pub fn summary(&self) -> String {
        let d = self.error_description.as_deref().unwrap_or("");
        let line: String = d
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .chars()
            .take(300)
            .collect();
        match (line.is_empty(), self.code()) {
            (false, _) => line,
            (true, "") => "no error description".to_string(),
            (true, code) => code.to_string(),
        }
    }
}

/// A non-2xx answer of the token endpoint: 5xx and 429 are worth another try, the rest is not.
pub(crate) fn failure(status: http::StatusCode, err: &OAuthError) -> TokenError {
    let why = if err.error.is_none() && err.error_description.is_none() {
        "no error description".to_string()
    } else {
        format!(
            "{}: {}",
            err.code(),
            err.error_description.as_deref().unwrap_or_default()
        )
    };
    let message = format!("HTTP {}: {why}", status.as_u16());
    if status.is_server_error() || status.as_u16() == 429 {
        TokenError::Unavailable(message)
    } else {
        TokenError::Refused(message)
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        // The URL is ours and carries no secret; the kind of failure is what matters.
        e.to_string()
    }
}

/// `application/x-www-form-urlencoded`.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_escaped() {
        assert_eq!(
            form(&[("a", "x y&z=1/ü"), ("b", "~ok")]),
            "a=x%20y%26z%3D1%2F%C3%BC&b=~ok"
        );
    }

    #[test]
    fn secret_is_not_printed() {
        let src = AppTokenSource::new(
            reqwest::Client::new(),
            "https://login.example/",
            "t",
            "c",
            ClientSecret::new("s3cr3t-value"),
        );
        let shown = format!("{src:?} {:?}", ClientSecret::new("s3cr3t-value"));
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("https://login.example/t/oauth2/v2.0/token"));
    }
}

//! The bridge → connector half of the contract (`infra/connector-openapi.yaml`): set or withdraw a
//! Swyx user's Teams-derived status, and list the Swyx users for linking. Every request is signed
//! (Standard Webhooks) and goes through the one outbound policy ([`crate::outbound`]): both calls
//! are idempotent (a status PUT carries its revision), so every transient failure is retried with
//! backoff inside a caller-given budget, and a Lambda invocation never outlives its deadline
//! because of a slow connector.

use super::signature::{WebhookSecret, new_message_id, signed_headers_with_id};
use super::wire::status_request;
pub use super::wire::{SwyxDirectoryUser, SwyxUserList, TeamsPresenceBody, TeamsStatusRequest};
use crate::domain::{SwyxUpdate, Timestamp};
use crate::outbound::http::{Answer, exchange};
use crate::outbound::{GaveUp, Idempotency, RetryPolicy};
use bytes::Bytes;
use reqwest::{Method, StatusCode, Url};
use std::ops::ControlFlow;
use std::time::Duration;
use swyx_contract::wire::{SwyxUserIdError, USER_PAGE_MAX, check_swyx_user_id};

/// One backoff step never exceeds this, however many attempts are allowed.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The user list of a large site is a few MiB at most; anything larger is not a user list.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct ConnectorSettings {
    /// e.g. `http://127.0.0.1:8081/` (a path prefix is allowed).
    pub base_url: String,
    pub signing_secret: WebhookSecret,
    /// Per attempt, default 2 s.
    pub request_timeout: Duration,
    /// Default 3.
    pub max_attempts: u32,
    /// Default 100 ms, doubled per attempt, with jitter.
    pub backoff_base: Duration,
}

impl ConnectorSettings {
    /// Settings with the default timeout (2 s), attempts (3) and backoff base (100 ms).
    pub fn new(base_url: impl Into<String>, signing_secret: WebhookSecret) -> Self {
        Self {
            base_url: base_url.into(),
            signing_secret,
            request_timeout: Duration::from_secs(2),
            max_attempts: 3,
            backoff_base: Duration::from_millis(100),
        }
    }

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::new(self.max_attempts, self.backoff_base, MAX_BACKOFF)
    }
}

/// Whether the connector took the update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Applied,
    /// 409: the connector already applied a higher revision for this user.
    Superseded,
}

/// Why a call to the connector did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// 5xx, 429, timeout, no connection, until the attempts or the budget ran out: keep the
    /// update pending and try again later.
    #[error("connector unavailable: {what}: {source}")]
    Unavailable {
        what: String,
        #[source]
        source: GaveUp,
    },
    /// Another answer (404 unknown Swyx user, 401 bad signature, 400, a redirect …): asking
    /// again will not help.
    #[error("connector rejected {what} (HTTP {status}): {answer}")]
    Rejected {
        what: String,
        status: u16,
        answer: String,
    },
    /// Not sent: the base URL or the Swyx user id cannot make a request of the contract.
    #[error("not sent to the connector: {problem}")]
    NotSent {
        problem: String,
        #[source]
        source: Option<SwyxUserIdError>,
    },
    /// A 2xx whose body is not what the contract says.
    #[error("the connector's answer to {what} is not what the contract says: {source}")]
    BadAnswer {
        what: String,
        #[source]
        source: serde_json::Error,
    },
}

impl ConnectorError {
    /// Whether trying again later may succeed (the connector was unavailable) rather than only
    /// after someone fixes something (a rejection, a bad URL or user id, a broken answer).
    pub fn is_transient(&self) -> bool {
        matches!(self, ConnectorError::Unavailable { .. })
    }

    /// The HTTP status of a rejection.
    pub fn status(&self) -> Option<u16> {
        match self {
            ConnectorError::Rejected { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ConnectorClient {
    settings: ConnectorSettings,
    http: reqwest::Client,
    /// Parsed once; a bad URL is reported on each call rather than panicking in `new`.
    base: Result<Url, String>,
}

impl ConnectorClient {
    /// `http` should come from [`crate::outbound::http::client`] (no redirects).
    pub fn new(settings: ConnectorSettings, http: reqwest::Client) -> Self {
        let base = parse_base(&settings.base_url);
        Self {
            settings,
            http,
            base,
        }
    }

    /// PUT {base}/v1/users/{swyxUserId}/teams-status, signed. Retries 5xx, 429 (Retry-After),
    /// timeouts and connection errors with backoff, never past `budget` in total.
    pub async fn send_update(
        &self,
        update: &SwyxUpdate,
        budget: Duration,
    ) -> Result<DeliveryOutcome, ConnectorError> {
        check_swyx_user_id(&update.swyx_user_id).map_err(|e| ConnectorError::NotSent {
            problem: format!("Swyx user id {:?}: {e}", update.swyx_user_id),
            source: Some(e),
        })?;
        let url = self.url(&["v1", "users", &update.swyx_user_id, "teams-status"])?;
        let body =
            serde_json::to_vec(&status_request(update)).map_err(|e| ConnectorError::NotSent {
                problem: format!("cannot encode the update: {e}"),
                source: None,
            })?;
        let what = format!("PUT teams-status of Swyx user {:?}", update.swyx_user_id);
        let answer = self
            .execute(Method::PUT, url, body.into(), budget, &what)
            .await?;
        match answer.status {
            s if s.is_success() => Ok(DeliveryOutcome::Applied),
            StatusCode::CONFLICT => Ok(DeliveryOutcome::Superseded),
            _ => Err(rejected(what, &answer)),
        }
    }

    /// GET {base}/v1/users (signed, empty body), page after page (`limit`, `cursor`) until the
    /// connector gives no `nextCursor`: the Swyx users with e-mail and groups, for linking.
    /// All pages share `budget`.
    pub async fn list_users(
        &self,
        budget: Duration,
    ) -> Result<Vec<SwyxDirectoryUser>, ConnectorError> {
        let mut users = Vec::new();
        self.for_each_user_page(budget, |page| users.extend(page))
            .await?;
        Ok(users)
    }

    /// As [`Self::list_users`], handing each page to `take` as it comes: a caller that needs a
    /// little of each user (a large site has 100,000) never holds the whole directory.
    pub async fn for_each_user_page(
        &self,
        budget: Duration,
        mut take: impl FnMut(Vec<SwyxDirectoryUser>) + Send,
    ) -> Result<(), ConnectorError> {
        self.pages(budget, &[], |page| {
            take(page.users);
            ControlFlow::Continue(())
        })
        .await
    }

    /// Pages of `GET /v1/users` with the `extra` query parameters, handed to `take` until the
    /// last page or until `take` breaks. All pages share `budget`.
    pub(super) async fn pages(
        &self,
        budget: Duration,
        extra: &[(&str, &str)],
        mut take: impl FnMut(SwyxUserList) -> ControlFlow<()> + Send,
    ) -> Result<(), ConnectorError> {
        let started = tokio::time::Instant::now();
        let mut cursor: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        loop {
            let url = self.users_page_url(extra, cursor.as_deref())?;
            let what = "GET users".to_string();
            let left = budget.saturating_sub(started.elapsed());
            let answer = self
                .execute(Method::GET, url, Bytes::new(), left, &what)
                .await?;
            if !answer.status.is_success() {
                return Err(rejected(what, &answer));
            }
            let page = serde_json::from_slice::<SwyxUserList>(&answer.body)
                .map_err(|source| ConnectorError::BadAnswer { what, source })?;
            let next_cursor = page.next_cursor.clone();
            if take(page).is_break() {
                return Ok(());
            }
            match next_cursor.filter(|c| !c.is_empty()) {
                // A cursor seen before would page forever.
                Some(next) if !seen.insert(next.clone()) => {
                    return Err(ConnectorError::Rejected {
                        what: "GET users".into(),
                        status: answer.status.as_u16(),
                        answer: format!("nextCursor {next:?} came back a second time"),
                    });
                }
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// `{base}/v1/users?limit=…&{extra}&cursor=…`, each value percent-encoded as RFC 3986 (and
    /// the contract's OpenAPI) says: a space is `%20`, never the form encoding's `+`, which a
    /// connector that decodes by RFC 3986 reads as a `+` (a cursor is opaque: it may hold both).
    fn users_page_url(
        &self,
        extra: &[(&str, &str)],
        cursor: Option<&str>,
    ) -> Result<Url, ConnectorError> {
        let mut url = self.url(&["v1", "users"])?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("limit", &USER_PAGE_MAX.to_string());
            for (k, v) in extra {
                q.append_pair(k, v);
            }
            if let Some(c) = cursor {
                q.append_pair("cursor", c);
            }
        }
        // The form encoding writes a space as `+` and a `+` as `%2B`: every `+` is a space.
        let query = url.query().map(|q| q.replace('+', "%20"));
        url.set_query(query.as_deref());
        Ok(url)
    }

    fn url(&self, segments: &[&str]) -> Result<Url, ConnectorError> {
        let not_sent = |problem: String| ConnectorError::NotSent {
            problem,
            source: None,
        };
        let mut url = self.base.clone().map_err(not_sent)?;
        // Percent-encodes each segment, so a user id cannot step out of its path segment.
        url.path_segments_mut()
            .map_err(|_| not_sent("connector base_url cannot have a path".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Sends until an answer, the attempt limit or the budget. One message id for all attempts
    /// (Standard Webhooks: a retry is the same message), a fresh timestamp and signature each.
    async fn execute(
        &self,
        method: Method,
        url: Url,
        body: Bytes,
        budget: Duration,
        what: &str,
    ) -> Result<Answer, ConnectorError> {
        let id = new_message_id();
        let attempt = |left: Duration| {
            let signed = signed_headers_with_id(
                &self.settings.signing_secret,
                &id,
                &body,
                Timestamp::now().secs(),
            );
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .headers(signed.to_header_map());
            if !body.is_empty() {
                request = request
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let timeout = self.settings.request_timeout.min(left);
            exchange(request, timeout, MAX_ANSWER_BYTES)
        };
        self.settings
            .retry_policy()
            .run(what, Idempotency::Idempotent, budget, attempt)
            .await
            .map_err(|source| {
                tracing::warn!(call = what, error = %source, "connector unavailable");
                ConnectorError::Unavailable {
                    what: what.to_string(),
                    source,
                }
            })
    }
}

fn parse_base(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim())
        .map_err(|e| format!("connector base_url is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "connector base_url must be http or https, not {:?}",
            url.scheme()
        ));
    }
    if url.cannot_be_a_base() || url.query().is_some() || url.fragment().is_some() {
        return Err(
            "connector base_url must be a plain http(s) URL without query or fragment".into(),
        );
    }
    Ok(url)
}

fn rejected(what: String, answer: &Answer) -> ConnectorError {
    let mut quoted = answer.quote();
    if answer.status.is_redirection() {
        quoted = format!("a redirect, which is never followed: {quoted}");
    }
    ConnectorError::Rejected {
        what,
        status: answer.status.as_u16(),
        answer: quoted,
    }
}

#[cfg(test)]
mod tests;

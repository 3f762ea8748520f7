//! Why a call to Graph did not succeed, and what the caller may do about it.

use crate::graph::entra::EntraError;
use crate::outbound::GaveUp;
use std::time::Duration;

/// Why a call to Graph did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// Graph refused the request (a 4xx other than 429, or a redirect, which is never followed):
    /// retrying the same request will not help.
    #[error("Graph refused the request: HTTP {status}: {message}")]
    Refused { status: u16, message: String },
    /// Graph kept failing (429, 5xx, timeouts, no connection) until the attempts or the budget
    /// ran out, or a request that must not be repeated failed once. Also a request the throttle
    /// gate did not send (throttled, its `Retry-After` the hold left).
    #[error("Graph unavailable: {0}")]
    Unavailable(#[source] GaveUp),
    /// The app-only token could not be had (wrong secret, app not consented, Entra down …).
    #[error("Graph token: {0}")]
    Token(#[source] EntraError),
    /// Graph refused a token the token endpoint had just issued (401).
    #[error("Graph refused a freshly issued app token (401): {0}")]
    AppTokenRejected(String),
    /// Graph refused a sync account's delegated token (401): expired or revoked. The caller
    /// gets a new one (refresh) before trying again.
    #[error("Graph refused the sync account's token (401): {0}")]
    DelegatedToken(String),
    /// The call was not sent: its arguments break one of Graph's rules (e.g. more than 650 users).
    #[error("not sent to Graph: {0}")]
    InvalidRequest(String),
    /// Graph answered 2xx with a body that is not what the call returns.
    #[error("unexpected answer from Graph: {what}")]
    BadAnswer {
        what: String,
        #[source]
        source: Option<serde_json::Error>,
    },
}

impl GraphError {
    /// How long Graph asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GraphError::Unavailable(gave_up)
            | GraphError::Token(EntraError::Unavailable(gave_up)) => gave_up.retry_after(),
            _ => None,
        }
    }

    /// How long Graph still throttles the app, when this request ended throttled (a 429, or not
    /// sent because an earlier 429's wait still runs).
    pub fn throttled(&self) -> Option<Duration> {
        match self {
            GraphError::Unavailable(gave_up)
                if gave_up.last.kind == crate::outbound::FailureKind::Throttled =>
            {
                Some(gave_up.retry_after().unwrap_or_default())
            }
            _ => None,
        }
    }

    /// Graph's final word on this request (400, 403, 404): asking again brings the same. Its
    /// status and Graph's error code. A 401 is not (the token, not the request, was refused).
    pub fn permanent_refusal(&self) -> Option<(u16, &str)> {
        match self {
            GraphError::Refused { status, message } if matches!(status, 400 | 403 | 404) => {
                Some((*status, message.split(':').next().unwrap_or("?")))
            }
            _ => None,
        }
    }

    /// Whether Graph may have carried out the request although no answer said so (a timeout or
    /// a 5xx): the caller must find out before doing it again.
    pub fn may_have_taken_effect(&self) -> bool {
        matches!(self, GraphError::Unavailable(gave_up) if gave_up.may_have_taken_effect)
    }

    pub(super) fn from_app_token(e: EntraError) -> Self {
        match e {
            // No token in time is Graph being unavailable to this call, as any other failure.
            EntraError::Unavailable(gave_up) => GraphError::Unavailable(gave_up),
            e => GraphError::Token(e),
        }
    }
}

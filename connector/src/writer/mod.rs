//! Writers apply a Teams-derived status to SwyxServer. No documented interface sets a Swyx status
//! from outside (research notes, part A), so the connector hands each change to what the operator
//! configured: a program of theirs ([`command`]), an integrator's endpoint ([`http`]), or nothing
//! but a log line ([`WriterConfig::Log`], a dry run). The contract's answer to the bridge follows
//! from the writer's [`WriteOutcome`].

pub mod command;
pub mod http;

use crate::config::WriterConfig;
use std::time::Duration;
use swyx_contract::wire::{SwyxStatus, TeamsPresenceBody};

/// One change to apply, with what a writer may need to find the user on SwyxServer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub swyx_user_id: String,
    /// `None` withdraws the Teams-derived status.
    pub status: Option<SwyxStatus>,
    pub revision: u64,
    pub teams: TeamsPresenceBody,
    pub observed_at: String,
    pub email: Option<String>,
    pub sip_uri: Option<String>,
}

impl StatusChange {
    /// The status as writers receive it: the contract's name, or `none` for a withdrawal.
    pub fn status_word(&self) -> &'static str {
        self.status.map_or("none", SwyxStatus::as_str)
    }
}

/// What the writer says happened; decides the contract's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Applied: 200, and the revision is recorded.
    Applied,
    /// A newer status is already in place on SwyxServer: 409.
    Superseded,
    /// SwyxServer has no such user: 404.
    UnknownUser,
    /// Not applied now (writer busy, failed after its retries): 503 with Retry-After.
    RetryLater { after: Duration, reason: String },
}

pub enum Writer {
    Log,
    Command(command::CommandWriter),
    Http(Box<http::HttpWriter>),
}

impl Writer {
    pub fn new(cfg: &WriterConfig) -> Result<Self, reqwest::Error> {
        Ok(match cfg {
            WriterConfig::Log => Self::Log,
            WriterConfig::Command(c) => Self::Command(command::CommandWriter::new(c.clone())),
            WriterConfig::Http(h) => Self::Http(Box::new(http::HttpWriter::new((**h).clone())?)),
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Command(_) => "command",
            Self::Http(_) => "http",
        }
    }

    pub async fn apply(&self, change: &StatusChange) -> WriteOutcome {
        match self {
            Self::Log => {
                tracing::info!(
                    swyx_user_id = %change.swyx_user_id,
                    status = change.status_word(),
                    revision = change.revision,
                    "log writer (dry run): would set the Teams-derived status"
                );
                WriteOutcome::Applied
            }
            Self::Command(c) => c.apply(change).await,
            Self::Http(h) => h.apply(change).await,
        }
    }
}

/// The longest a writer waits between its attempts, and the longest `Retry-After` it passes on
/// to the bridge (an endpoint's ten years would hold the user's change back as long).
pub(crate) const RETRY_MAX: Duration = Duration::from_secs(30);

/// Backoff before retry `attempt` (1-based): base × 2^(attempt-1), capped at [`RETRY_MAX`].
pub(crate) fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(10))
        .min(RETRY_MAX)
}

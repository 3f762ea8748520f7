//! Maintenance's share of automatic linking: a sync every `users.sync_interval_minutes`. Whether
//! one is due is an idempotency claim that expires after the interval, so concurrent maintenance
//! runs (Lambda) sync once per interval between them, and no record of its own is needed. A sync
//! that did not finish, or failed for a passing reason, gives its claim back, so the next run
//! tries again.

use super::{SyncError, sync};
use crate::app::App;
use crate::store::StoreError;
use std::time::Duration;

/// The claim that says a sync ran within the interval.
pub const CLAIM_KEY: &str = "maintenance:users-sync";

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LinkingSummary {
    /// A sync ran in this pass (it was due).
    pub ran: bool,
    pub linked: usize,
    pub unlinked: usize,
    pub refused: usize,
    /// Why the sync did not get to a plan (Graph or the connector unavailable, …).
    pub error: Option<String>,
    pub budget_exhausted: bool,
}

/// Syncs the links when automatic linking is configured and a sync is due.
pub async fn maintain_links(app: &App, budget: Duration) -> Result<LinkingSummary, StoreError> {
    let Some(us) = app.users_sync.as_deref() else {
        return Ok(LinkingSummary::default());
    };
    let Some(interval) = us.settings.sync_interval else {
        return Ok(LinkingSummary::default());
    };
    if budget.is_zero() {
        return Ok(LinkingSummary {
            budget_exhausted: true,
            ..LinkingSummary::default()
        });
    }
    let now = app.clock.now();
    let until = now.plus_duration(interval);
    if !app.store.claim_once(CLAIM_KEY, until, now).await? {
        return Ok(LinkingSummary::default());
    }
    let mut summary = LinkingSummary {
        ran: true,
        ..LinkingSummary::default()
    };
    let finished = match sync(app, false, budget).await {
        Ok(report) => {
            summary.linked = report.plan.link.len();
            summary.unlinked = report.plan.unlink.len();
            summary.refused = report.plan.refused.len();
            summary.budget_exhausted = report.unfinished;
            !report.unfinished && report.failed.is_empty()
        }
        Err(SyncError::Store(e)) => {
            app.store.release_claim(CLAIM_KEY).await?;
            return Err(e);
        }
        Err(e) => {
            // A permanent problem (an empty directory, a refusal) waits for the interval; a
            // transient one is tried again at the next run.
            tracing::warn!(error = %e, transient = e.is_transient(), "automatic user linking failed");
            summary.error = Some(e.to_string());
            !e.is_transient()
        }
    };
    if !finished {
        app.store.release_claim(CLAIM_KEY).await?;
    }
    Ok(summary)
}

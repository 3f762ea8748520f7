//! The one maintenance pass, shared by the scheduled Lambda (every minute) and the loop in
//! `serve`. Subscription upkeep goes first: a lapsed subscription silences every user it covers,
//! while a late keep-alive or redelivery delays one. Each part has its own share of the run's
//! budget, so none can starve another (a slow Graph with dozens of users in calls cannot use the
//! whole run on call upkeep until every subscription lapses); time a part leaves unused passes
//! on to the next. A part that fails is logged and the others still run.

use crate::app::App;
use crate::store::StoreError;
use crate::subscriptions::upkeep::{SubscriptionSummary, maintain};
use crate::swyx_to_teams::upkeep::{SpeakingSummary, maintain_speaking};
use crate::teams_to_swyx::redeliver::{PendingSummary, deliver_pending};
use std::time::{Duration, Instant};

/// Each part's guaranteed share of a run's budget, in order: subscriptions, Swyx → Teams
/// sessions, pending Swyx deliveries (percent; they add up to 100).
pub const SHARES_PERCENT: [u32; 3] = [50, 25, 25];

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MaintenanceSummary {
    pub subscriptions: SubscriptionSummary,
    pub speaking: SpeakingSummary,
    pub pending: PendingSummary,
    /// The parts that failed (with the store's error), for the log and the function's result.
    pub failed: Vec<String>,
}

impl MaintenanceSummary {
    /// True when some part stopped at its share of the budget (it resumes next run).
    pub fn budget_exhausted(&self) -> bool {
        self.subscriptions.budget_exhausted
            || self.speaking.budget_exhausted
            || self.pending.budget_exhausted
    }
}

/// Hands out the shares of one budget: a part gets its share plus whatever earlier parts left
/// unused, never more than what is left of the run.
struct Budget {
    total: Duration,
    started: Instant,
    granted: Duration,
}

impl Budget {
    fn new(total: Duration) -> Self {
        Self {
            total,
            started: Instant::now(),
            granted: Duration::ZERO,
        }
    }

    fn next(&mut self, percent: u32) -> Duration {
        self.granted += self.total * percent / 100;
        let used = self.started.elapsed();
        self.granted
            .saturating_sub(used)
            .min(self.total.saturating_sub(used))
    }
}

/// One maintenance pass within `budget`.
pub async fn run(app: &App, budget: Duration) -> MaintenanceSummary {
    let mut shares = Budget::new(budget);
    let mut summary = MaintenanceSummary::default();
    let [subscriptions, speaking, pending] = SHARES_PERCENT;
    summary.subscriptions = part(
        &mut summary.failed,
        "subscriptions",
        maintain(app, shares.next(subscriptions)).await,
    );
    summary.speaking = part(
        &mut summary.failed,
        "Swyx → Teams sessions",
        maintain_speaking(app, shares.next(speaking)).await,
    );
    summary.pending = part(
        &mut summary.failed,
        "pending deliveries",
        deliver_pending(app, shares.next(pending)).await,
    );
    log(&summary);
    summary
}

fn part<T: Default>(failed: &mut Vec<String>, name: &str, result: Result<T, StoreError>) -> T {
    result.unwrap_or_else(|e| {
        tracing::error!(part = name, error = %e, "maintenance part failed; retried next run");
        failed.push(format!("{name}: {e}"));
        T::default()
    })
}

fn log(s: &MaintenanceSummary) {
    let (p, sp) = (&s.pending, &s.speaking);
    if *p != PendingSummary::default() {
        tracing::info!(
            delivered = p.delivered,
            superseded = p.superseded,
            still_pending = p.still_pending,
            budget_exhausted = p.budget_exhausted,
            "maintenance: pending deliveries"
        );
    }
    if *sp != SpeakingSummary::default() {
        tracing::info!(
            synced = sp.synced,
            still_pending = sp.still_pending,
            overlong_calls = sp.overlong_calls,
            budget_exhausted = sp.budget_exhausted,
            "maintenance: Swyx → Teams sessions"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_carry_unused_time_forward_and_never_exceed_the_run() {
        let mut b = Budget::new(Duration::from_secs(40));
        let first = b.next(50);
        assert!(first <= Duration::from_secs(20) && first > Duration::from_secs(19));
        // The first part used (almost) nothing: the second gets its own share and the rest.
        let second = b.next(25);
        assert!(second > Duration::from_secs(29) && second <= Duration::from_secs(30));
        let third = b.next(25);
        assert!(third > Duration::from_secs(39) && third <= Duration::from_secs(40));
        assert_eq!(SHARES_PERCENT.iter().sum::<u32>(), 100);
    }
}

//! The one maintenance pass, shared by the scheduled Lambda (every minute) and the loop in
//! `serve`. Subscription upkeep goes first: a lapsed subscription silences every user it covers,
//! while a late keep-alive or redelivery delays one. Each part has its own share of the run's
//! budget, so none can starve another (a slow Graph with dozens of users in calls cannot use the
//! whole run on call upkeep until every subscription lapses); time a part leaves unused passes
//! on to the next. A part that fails is logged and the others still run; after a pass that met
//! the store unavailable or throttled, the next one starts by asking every sync account for a
//! reconciliation ([`crate::teams_to_swyx::store_refusals`]). Automatic user linking
//! comes last and only when due (every `users.sync_interval_minutes`): its unlinks clean up, they
//! are never urgent.

use crate::app::App;
use crate::metrics::MaintenanceFigures;
use crate::store::StoreError;
use crate::subscriptions::upkeep::{SubscriptionSummary, maintain};
use crate::swyx_to_teams::read_back::{ReadBackSummary, read_back};
use crate::swyx_to_teams::swyx_calls::{CallTruthSummary, repair_calls};
use crate::swyx_to_teams::upkeep::{SpeakingSummary, maintain_speaking};
use crate::teams_to_swyx::redeliver::{PendingSummary, deliver_pending};
use crate::teams_to_swyx::swyx_truth::{SwyxTruthSummary, compare_when_owed};
use crate::users_sync::upkeep::{LinkingSummary, maintain_links};
use std::time::Duration;
use tokio::time::Instant;

/// Each part's guaranteed share of a run's budget, in order: subscriptions, Swyx → Teams
/// sessions, pending Swyx deliveries, user linking (percent; they add up to 100).
pub const SHARES_PERCENT: [u32; 4] = [45, 20, 20, 15];

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MaintenanceSummary {
    pub subscriptions: SubscriptionSummary,
    pub speaking: SpeakingSummary,
    /// The calls compared with Swyx's (contract 1.2; part of the sessions' share).
    pub calls: CallTruthSummary,
    /// Teams' presence read back after cleared sessions (part of the sessions' share).
    pub read_back: ReadBackSummary,
    pub pending: PendingSummary,
    /// Swyx compared with the decided statuses, after a reconciliation of Teams in this run or
    /// while an earlier one's comparison is owed.
    pub swyx_truth: SwyxTruthSummary,
    pub linking: LinkingSummary,
    /// The parts that failed (with the store's error), for the log and the function's result.
    pub failed: Vec<String>,
    /// Whether a part failed because the store was unavailable or throttled
    /// ([`StoreError::is_outage`]): the next pass asks for a reconciliation
    /// ([`crate::teams_to_swyx::store_refusals`]).
    pub store_outage: bool,
}

impl MaintenanceSummary {
    /// True when some part stopped at its share of the budget (it resumes next run).
    pub fn budget_exhausted(&self) -> bool {
        self.subscriptions.budget_exhausted
            || self.speaking.budget_exhausted
            || self.calls.budget_exhausted
            || self.pending.budget_exhausted
            || self.swyx_truth.budget_exhausted
            || self.linking.budget_exhausted
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
    let [subscriptions, speaking, pending, linking] = SHARES_PERCENT;
    // After refused notifications or a pass that met the store down (in this instance): asked
    // now, so the subscription part below reads Teams back in this pass.
    app.store_refusals.before_pass(app.store.as_ref()).await;
    let subscriptions_result = maintain(app, shares.next(subscriptions)).await;
    // Coverage is known only from a subscription part that ran through its plan.
    let coverage_known = app.accounts.is_some() && subscriptions_result.is_ok();
    summary.subscriptions = part(&mut summary, "subscriptions", subscriptions_result);
    let share = shares.next(speaking);
    let sessions_started = Instant::now();
    // Swyx's call state first: a call it repairs gets its Graph call now, and the sessions
    // upkeep below retries what Graph did not take.
    if let Some(s2t) = app.swyx_to_teams.as_deref() {
        let (store, connector) = (app.store.as_ref(), app.connector.as_ref());
        let calls = repair_calls(
            s2t,
            store,
            connector,
            app.directions,
            &app.metrics,
            share / 2,
        )
        .await;
        summary.calls = part(&mut summary, "Swyx calls compared", calls);
    }
    let left = share.saturating_sub(sessions_started.elapsed());
    let sessions = match app.swyx_to_teams.as_deref() {
        Some(s2t) => maintain_speaking(s2t, app.store.as_ref(), app.directions, left).await,
        None => Ok(SpeakingSummary::default()),
    };
    summary.speaking = part(&mut summary, "Swyx → Teams sessions", sessions);
    for status in &summary.speaking.refused {
        app.metrics.count_set_presence_refused(*status);
    }
    if let Some(s2t) = app.swyx_to_teams.as_deref() {
        let due = &summary.speaking.read_back_due;
        let reader = app.accounts.as_deref().map(|a| a.presences.as_ref());
        let left = share.saturating_sub(sessions_started.elapsed());
        let (store, judge, delivery) = (app.store.as_ref(), app.judge(), app.delivery());
        let read = read_back(s2t, store, judge, delivery, reader, due, left).await;
        summary.read_back = part(&mut summary, "presence read-back", read);
    }
    summary.pending = part(
        &mut summary,
        "pending deliveries",
        deliver_pending(app.delivery(), shares.next(pending)).await,
    );
    // As often as Teams is reconciled (each sync account's `reconcile_interval`): what Swyx holds
    // is then compared too, in whatever time the run has left; owed until a comparison went
    // through, so a run cut short before it (or one without time left) is followed up next run.
    if app.accounts.is_some() {
        let (store, delivery) = (app.store.as_ref(), app.delivery());
        let reconciled = summary.subscriptions.reconciled_users > 0;
        let budget = shares.next(0);
        let (directions, now) = (app.directions, app.clock.now());
        match compare_when_owed(store, delivery, directions, now, reconciled, budget).await {
            Ok(None) => {} // neither reconciled nor owed
            compared => {
                let compared = compared.map(Option::unwrap_or_default);
                summary.swyx_truth = part(&mut summary, "Swyx compared", compared);
            }
        }
    }
    summary.linking = part(
        &mut summary,
        "user linking",
        maintain_links(app, shares.next(linking)).await,
    );
    app.store_refusals.after_pass(summary.store_outage);
    log(&summary);
    let sub = &summary.subscriptions;
    app.metrics.record_maintenance(&MaintenanceFigures {
        delivered_from_pending: summary.pending.delivered,
        uncovered_users: coverage_known.then_some(sub.uncovered.len()),
        failing_sync_accounts: coverage_known.then_some(sub.failed_accounts.len()),
    });
    summary
}

/// Gives the pages freed by a part back to the system. glibc keeps freed small blocks resident
/// for reuse, but the parts build their large lists one after another from fresh pages (the
/// old ones are fragmented), so without this each part's pages stay resident beside the next
/// one's.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions; it only hands free heap pages back
    // (madvise(MADV_DONTNEED)), which no live allocation uses.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A part's outcome, its failure logged and kept; what it freed is released before the next.
fn part<T: Default>(
    summary: &mut MaintenanceSummary,
    name: &str,
    result: Result<T, StoreError>,
) -> T {
    release_freed_memory();
    result.unwrap_or_else(|e| {
        tracing::error!(part = name, error = %e, "maintenance part failed; retried next run");
        summary.failed.push(format!("{name}: {e}"));
        summary.store_outage |= e.is_outage();
        T::default()
    })
}

fn log(s: &MaintenanceSummary) {
    let (p, sp, l) = (&s.pending, &s.speaking, &s.linking);
    if l.ran {
        tracing::info!(
            linked = l.linked,
            unlinked = l.unlinked,
            refused = l.refused,
            error = l.error.as_deref().unwrap_or(""),
            budget_exhausted = l.budget_exhausted,
            "maintenance: user linking"
        );
    }
    if *p != PendingSummary::default() {
        tracing::info!(
            delivered = p.delivered,
            superseded = p.superseded,
            still_pending = p.still_pending,
            made_due = p.made_due,
            budget_exhausted = p.budget_exhausted,
            connector_down = p.connector_down,
            "maintenance: pending deliveries"
        );
    }
    if s.calls.ended + s.calls.started > 0 || s.calls.unreadable {
        let c = &s.calls;
        tracing::info!(
            ended = c.ended,
            started = c.started,
            graph_pending = c.pending,
            unreadable = c.unreadable,
            "maintenance: calls compared with Swyx"
        );
    }
    if s.read_back != ReadBackSummary::default() {
        let rb = &s.read_back;
        tracing::info!(
            read = rb.read,
            repaired = rb.repaired,
            given_up = rb.given_up,
            "maintenance: Teams presence read back after calls"
        );
    }
    if *sp != SpeakingSummary::default() {
        tracing::info!(
            synced = sp.synced,
            still_pending = sp.still_pending,
            overlong_calls = sp.overlong_calls,
            budget_exhausted = sp.budget_exhausted,
            graph_throttled = sp.throttled,
            "maintenance: Swyx → Teams sessions"
        );
    }
}

#[cfg(test)]
mod outage_tests;
#[cfg(test)]
mod tests;

//! The one maintenance pass, shared by the scheduled Lambda (every minute) and the loop in
//! `serve`. Subscription upkeep goes first: a lapsed subscription silences every user it covers,
//! while a late keep-alive or redelivery delays one. Each part has its own share of the run's
//! budget, so none can starve another (a slow Graph with dozens of users in calls cannot use the
//! whole run on call upkeep until every subscription lapses); time a part leaves unused passes
//! on to the next. A part that fails is logged and the others still run. Automatic user linking
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
use crate::teams_to_swyx::swyx_truth::{SwyxTruthSummary, repair_against_swyx};
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
    /// Swyx compared with the decided statuses, after a reconciliation of Teams in this run.
    pub swyx_truth: SwyxTruthSummary,
    pub linking: LinkingSummary,
    /// The parts that failed (with the store's error), for the log and the function's result.
    pub failed: Vec<String>,
}

impl MaintenanceSummary {
    /// True when some part stopped at its share of the budget (it resumes next run).
    pub fn budget_exhausted(&self) -> bool {
        self.subscriptions.budget_exhausted
            || self.speaking.budget_exhausted
            || self.calls.budget_exhausted
            || self.pending.budget_exhausted
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
    let subscriptions_result = maintain(app, shares.next(subscriptions)).await;
    // Coverage is known only from a subscription part that ran through its plan.
    let coverage_known = app.accounts.is_some() && subscriptions_result.is_ok();
    summary.subscriptions = part(&mut summary.failed, "subscriptions", subscriptions_result);
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
        summary.calls = part(&mut summary.failed, "Swyx calls compared", calls);
    }
    let left = share.saturating_sub(sessions_started.elapsed());
    let sessions = match app.swyx_to_teams.as_deref() {
        Some(s2t) => maintain_speaking(s2t, app.store.as_ref(), app.directions, left).await,
        None => Ok(SpeakingSummary::default()),
    };
    summary.speaking = part(&mut summary.failed, "Swyx → Teams sessions", sessions);
    if let Some(s2t) = app.swyx_to_teams.as_deref() {
        let due = &summary.speaking.read_back_due;
        let reader = app.accounts.as_deref().map(|a| a.presences.as_ref());
        let left = share.saturating_sub(sessions_started.elapsed());
        let (store, judge, delivery) = (app.store.as_ref(), app.judge(), app.delivery());
        let read = read_back(s2t, store, judge, delivery, reader, due, left).await;
        summary.read_back = part(&mut summary.failed, "presence read-back", read);
    }
    summary.pending = part(
        &mut summary.failed,
        "pending deliveries",
        deliver_pending(app.delivery(), shares.next(pending)).await,
    );
    // As often as Teams is reconciled (each sync account's `reconcile_interval`): what Swyx holds
    // is then compared too, in whatever time the run has left.
    if summary.subscriptions.reconciled_users > 0 {
        let (store, delivery) = (app.store.as_ref(), app.delivery());
        let compared = repair_against_swyx(
            store,
            delivery,
            app.directions,
            app.clock.now(),
            shares.next(0),
        )
        .await;
        summary.swyx_truth = part(&mut summary.failed, "Swyx compared", compared);
    }
    summary.linking = part(
        &mut summary.failed,
        "user linking",
        maintain_links(app, shares.next(linking)).await,
    );
    log(&summary);
    let sub = &summary.subscriptions;
    app.metrics.record_maintenance(&MaintenanceFigures {
        delivered_from_pending: summary.pending.delivered,
        uncovered_users: coverage_known.then_some(sub.uncovered.len()),
        failing_sync_accounts: coverage_known.then_some(sub.failed_accounts.len()),
    });
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
            "maintenance: Swyx → Teams sessions"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SecretRef, SubscriptionsConfig};
    use crate::domain::{CallEvent, SpeakingSettings, SpeakingState, SwyxAction, SwyxUpdate};
    use crate::domain::{ECHO_WINDOW_MS, GraphOp, GraphOutcome, TeamsPresence, UserSyncState};
    use crate::domain::{PresenceValue, SwyxStatus};
    use crate::fakes::{FakeConnector, FakeGraph, FakeLogin, GraphCall, app, tokio_clock};
    use crate::graph::sealed::TokenSealer;
    use crate::store::{
        AccountStore, MemoryStore, PendingDelivery, PendingStore, SpeakingStore,
        SubscriptionRecord, SubscriptionStore, SyncStateStore, UserLink, UserLinkStore,
    };
    use crate::subscriptions::sync_accounts::{SyncAccounts, enroll};
    use crate::swyx::signature::Verifier;
    use crate::swyx_to_teams::session::SwyxToTeams;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    #[test]
    fn shares_carry_unused_time_forward_and_never_exceed_the_run() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let mut b = Budget::new(Duration::from_secs(40));
            assert_eq!(b.next(50), Duration::from_secs(20));
            // The first part used 5 s: the second gets its own share and the 15 s left over.
            tokio::time::advance(Duration::from_secs(5)).await;
            assert_eq!(b.next(25), Duration::from_secs(25));
            tokio::time::advance(Duration::from_secs(30)).await;
            assert_eq!(
                b.next(25),
                Duration::from_secs(5),
                "only what is left of the run"
            );
        });
        assert_eq!(SHARES_PERCENT.iter().sum::<u32>(), 100);
    }

    /// One sync account whose subscription expires in two minutes, 40 users in Swyx calls while
    /// Graph times out on every presence session call, and one Swyx update waiting.
    async fn busy_bridge(graph: &Arc<FakeGraph>) -> (App, Arc<FakeConnector>) {
        let clock = tokio_clock();
        let now = clock.now();
        let store = Arc::new(MemoryStore::new());
        let connector = Arc::new(FakeConnector::default());
        let sealer = TokenSealer::from_key_text(&TokenSealer::generate_key_text()).unwrap();
        let link = UserLink {
            entra_id: "alice".into(),
            swyx_user_id: "swyx-1".into(),
            email: String::new(),
            groups: Vec::new(),
        };
        store.put_user(&link).await.unwrap();
        let mut account = enroll(store.as_ref(), &sealer, "sync1", "refresh-1", now)
            .await
            .unwrap();
        let expected = account.version;
        account.version += 1;
        account.assigned = vec!["alice".into()];
        account.covered = vec!["alice".into()];
        account.subscription_id = Some("sub-1".into());
        account.reconciled_at = Some(now);
        store.put_account(&account, expected).await.unwrap();
        let settings = SubscriptionsConfig {
            notification_url: "https://bridge.example/graph/notifications".into(),
            lifecycle_url: "https://bridge.example/graph/lifecycle".into(),
            certificate: SecretRef::Inline(String::new()),
            certificate_id: "cert-1".into(),
            renew_margin: Duration::from_secs(10 * 60),
            reconcile_interval: Duration::from_secs(15 * 60),
            users_per_account: 650,
        };
        store
            .put_subscription(&SubscriptionRecord {
                id: "sub-1".into(),
                client_state: "state".into(),
                expires_at: now.plus_millis(2 * 60_000),
                account: Some("sync1".into()),
                resource: String::new(),
                encryption_certificate_id: Some("cert-1".into()),
                renewed_at: None,
            })
            .await
            .unwrap();
        let speaking = SpeakingSettings::default();
        for i in 0..40 {
            let mut state = SpeakingState::default()
                .apply_event(CallEvent::Started, "call", now, now, &speaking)
                .unwrap();
            state.due_at = Some(now);
            store
                .put_speaking(&format!("caller-{i:02}"), &state, 0)
                .await
                .unwrap();
        }
        let update = SwyxUpdate {
            swyx_user_id: "swyx-1".into(),
            entra_id: "alice".into(),
            action: SwyxAction::Set(SwyxStatus::Away),
            revision: 7,
            availability: PresenceValue::new("Away"),
            activity: PresenceValue::new("Away"),
            out_of_office: false,
            observed_at: now,
        };
        let waiting = PendingDelivery {
            update,
            attempts: 1,
            next_attempt_at: now,
            last_error: None,
            rejected: false,
        };
        store.put_pending(&waiting).await.unwrap();

        let mut app = app(store, Arc::clone(&connector), clock.clone());
        app.swyx_to_teams = Some(Arc::new(SwyxToTeams {
            graph: graph.clone(),
            verifier: Verifier::new(Vec::new(), Duration::from_secs(300)),
            settings: speaking,
            request_budget: Duration::from_millis(1_500),
            clock: clock.clone(),
        }));
        app.accounts = Some(Arc::new(SyncAccounts::new(
            settings,
            String::new(),
            sealer,
            Arc::new(FakeLogin),
            graph.clone(),
            graph.clone(),
            clock,
        )));
        (app, connector)
    }

    #[tokio::test(start_paused = true)]
    async fn a_teams_call_hidden_by_the_bridges_session_reaches_swyx_after_the_clear() {
        let graph = Arc::new(FakeGraph::default());
        let (mut app, connector) = busy_bridge(&graph).await;
        let store = Arc::new(MemoryStore::new());
        let link = UserLink {
            entra_id: "alice".into(),
            swyx_user_id: "swyx-1".into(),
            email: String::new(),
            groups: Vec::new(),
        };
        store.put_user(&link).await.unwrap();
        app.store = store.clone();
        let now = app.clock.now();
        // Alice is Available on Swyx; during her Swyx call Teams showed Busy/InACall, taken as
        // the bridge's own session; she also joined a Teams call meanwhile.
        let held = UserSyncState {
            revision: 1,
            last_received_at: Some(now),
            last_presence: Some(TeamsPresence::new("Busy", "InACall")),
            teams_status: Some(SwyxStatus::Available),
            echo_held: true,
            ..Default::default()
        };
        store.put_sync_state("alice", &held, 0).await.unwrap();
        let speaking = SpeakingSettings::default();
        let call = SpeakingState::default()
            .apply_event(CallEvent::Started, "c", now, now, &speaking)
            .unwrap()
            .after_graph(GraphOp::Set, &GraphOutcome::Done, now, &speaking);
        let cleared = call
            .apply_event(CallEvent::Ended, "c", now, now, &speaking)
            .unwrap()
            .after_graph(GraphOp::Clear, &GraphOutcome::Done, now, &speaking);
        store.put_speaking("alice", &cleared, 0).await.unwrap();
        graph.show("alice", "Busy", "InACall");

        // Within the echo window nothing is read: Teams may still show the cleared session.
        run(&app, Duration::from_secs(10)).await;
        assert!(connector.received().is_empty());
        assert!(!graph.calls().contains(&GraphCall::Read { users: 1 }));

        tokio::time::advance(Duration::from_millis(ECHO_WINDOW_MS as u64)).await;
        let summary = run(&app, Duration::from_secs(10)).await;
        assert_eq!(summary.read_back.repaired, 1, "{summary:?}");
        let sent = connector.received();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].action, SwyxAction::Set(SwyxStatus::Speaking));
        let state = store.get_speaking("alice").await.unwrap().unwrap();
        assert_eq!(state.due_at, None, "read back once, nothing left to do");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_graph_on_call_upkeep_leaves_renewal_and_redelivery_their_shares() {
        let graph = Arc::new(FakeGraph::default());
        graph.slow_sessions.store(true, Ordering::SeqCst);
        let (app, connector) = busy_bridge(&graph).await;
        let started = Instant::now();
        let budget = Duration::from_secs(40);

        let summary = run(&app, budget).await;

        assert!(started.elapsed() <= budget, "{:?}", started.elapsed());
        assert_eq!(summary.subscriptions.renewed, 1, "{summary:?}");
        let calls = graph.calls();
        assert_eq!(
            calls[0],
            GraphCall::Renew { id: "sub-1".into() },
            "renewal first"
        );
        let sub = app.store.get_subscription("sub-1").await.unwrap().unwrap();
        assert!(sub.expires_at > app.clock.now().plus_millis(50 * 60_000));
        // Call upkeep stopped at its share: 40 users × 1.5 s do not fit in 30 s.
        let tried = calls.len() - 1;
        assert!((15..40).contains(&tried), "{tried} session calls");
        assert!(summary.speaking.budget_exhausted);
        assert_eq!(summary.speaking.still_pending, tried);
        // The waiting Swyx update still went out in the time left.
        assert_eq!(summary.pending.delivered, 1);
        assert_eq!(connector.received().len(), 1);
        assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    }
}

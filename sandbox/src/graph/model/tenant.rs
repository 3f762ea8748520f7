//! The tenant's state behind one lock (never held across an await), the statistics, and the
//! change engine: every mutation runs through [`Tenant::mutate`], which first expires what is
//! due, lets the operation bump sequence numbers and queue notifications, then wakes the
//! delivery side through [`Tenant::outbox_ready`] (the model never calls the delivery code).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::super::crypto::TokenSigner;
use super::super::types::{GraphStats, GraphTiming, SlowEndpointRules};
use super::auth::AuthState;
use super::delta::DeltaRounds;
use super::directory::Directory;
use super::groups::Groups;
use super::outbox::{Held, Outbox, enqueue_change};
use super::presence_book::PresenceBook;
use super::subscription::Subscriptions;
use super::throttle::Throttle;
use crate::Clock;
use crate::sync::lock;

#[derive(Default)]
pub(crate) struct Inner {
    pub presence: PresenceBook,
    pub directory: Directory,
    pub groups: Groups,
    pub auth: AuthState,
    pub subscriptions: Subscriptions,
    pub outbox: Outbox,
    pub delta: DeltaRounds,
}

/// What a mutation needs besides the state: the tenant, the time, the slow-endpoint rules, and
/// a tally of notifications those rules held back.
pub(crate) struct Step<'a> {
    pub tenant_id: &'a str,
    pub now: i64,
    pub rules: SlowEndpointRules,
    pub held: Held,
}

impl Inner {
    /// Re-aggregates one user; on a visible change queues its notifications.
    pub fn refresh(&mut self, step: &mut Step<'_>, user_id: &str) {
        let Some(view) = self.presence.refresh(user_id, step.now) else {
            return;
        };
        let held = enqueue_change(
            &mut self.outbox,
            &mut self.subscriptions,
            step.tenant_id,
            (user_id, &view),
            step.now,
            &step.rules,
        );
        step.held.delayed += held.delayed;
        step.held.dropped += held.dropped;
    }

    /// Expires sessions, preferences, subscriptions and credentials that are due.
    fn sweep(&mut self, step: &mut Step<'_>) {
        for id in self.presence.due(step.now) {
            self.refresh(step, &id);
        }
        self.subscriptions.expire(step.now);
        self.auth.sweep(step.now);
    }
}

/// Subscription create/renew answers held back on purpose (after the work is done).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LateAnswers {
    pub delay: Option<Duration>,
}

pub(crate) struct Tenant {
    pub tenant_id: String,
    pub app_id: String,
    pub client_secret: String,
    pub clock: Clock,
    pub base_url: String,
    pub inner: Mutex<Inner>,
    pub signer: TokenSigner,
    pub throttle: Mutex<Throttle>,
    /// Signalled after every mutation: notifications may be waiting.
    pub outbox_ready: Notify,
    stats: Mutex<GraphStats>,
    stats_changed: Notify,
    timing: Mutex<GraphTiming>,
    outage: AtomicBool,
    late: Mutex<LateAnswers>,
}

/// What the tenant is made of (the rest starts empty).
pub(crate) struct TenantSetup {
    pub tenant_id: String,
    pub app_id: String,
    pub client_secret: String,
    pub clock: Clock,
    pub base_url: String,
    pub signer: TokenSigner,
    pub throttle_per_30s: Option<u32>,
}

impl Tenant {
    pub fn new(s: TenantSetup) -> Self {
        Self {
            tenant_id: s.tenant_id,
            app_id: s.app_id,
            client_secret: s.client_secret,
            clock: s.clock,
            base_url: s.base_url,
            inner: Mutex::new(Inner::default()),
            signer: s.signer,
            throttle: Mutex::new(Throttle::new(s.throttle_per_30s)),
            outbox_ready: Notify::new(),
            stats: Mutex::new(GraphStats::default()),
            stats_changed: Notify::new(),
            timing: Mutex::new(GraphTiming::default()),
            outage: AtomicBool::new(false),
            late: Mutex::new(LateAnswers::default()),
        }
    }

    /// Runs `f` on the swept state at the current sandbox time, then wakes the delivery side.
    pub fn mutate<R>(&self, f: impl FnOnce(&mut Inner, &mut Step<'_>) -> R) -> R {
        let rules = self.timing().slow_endpoint;
        let mut step = Step {
            tenant_id: &self.tenant_id,
            now: self.clock.now_ms(),
            rules,
            held: Held::default(),
        };
        let result = {
            let mut inner = lock(&self.inner);
            inner.sweep(&mut step);
            let result = f(&mut inner, &mut step);
            let views = inner.outbox.health_views(step.now, &step.rules);
            let held = step.held;
            let changed = {
                let stats = lock(&self.stats);
                held.delayed + held.dropped > 0
                    || views
                        .iter()
                        .any(|(url, v)| stats.endpoints.get(url) != Some(v))
            };
            if changed {
                self.bump(|s| {
                    s.notifications_delayed += held.delayed;
                    s.notifications_dropped_slow_endpoint += held.dropped;
                    s.endpoints.extend(views);
                });
            }
            result
        };
        self.outbox_ready.notify_one();
        result
    }

    pub fn bump(&self, f: impl FnOnce(&mut GraphStats)) {
        f(&mut lock(&self.stats));
        self.stats_changed.notify_waiters();
    }

    pub fn stats(&self) -> GraphStats {
        lock(&self.stats).clone()
    }

    pub fn timing(&self) -> GraphTiming {
        lock(&self.timing).clone()
    }

    pub fn set_timing(&self, timing: GraphTiming) {
        *lock(&self.timing) = timing;
    }

    pub fn is_down(&self) -> bool {
        self.outage.load(Ordering::SeqCst)
    }

    pub fn set_outage(&self, down: bool) {
        self.outage.store(down, Ordering::SeqCst);
    }

    pub fn late_answers(&self) -> LateAnswers {
        *lock(&self.late)
    }

    pub fn set_late_answers(&self, late: LateAnswers) {
        *lock(&self.late) = late;
    }

    /// Waits (without polling) until `pred` holds for the statistics, or `timeout` passes.
    pub async fn wait_stats(
        &self,
        timeout: Duration,
        pred: impl Fn(&GraphStats) -> bool,
    ) -> anyhow::Result<GraphStats> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.stats_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = self.stats();
            if pred(&now) {
                return Ok(now);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                anyhow::bail!(
                    "statistics did not reach the expected state within {timeout:?}: {now:?}"
                );
            }
        }
    }
}

/// Ticks the sweep so that expiries due to the clock (sessions, subscriptions, slow-endpoint
/// penalties) take effect even when no request arrives. Ends when the tenant is dropped.
pub(crate) fn spawn_ticker(tenant: &Arc<Tenant>) {
    let weak = Arc::downgrade(tenant);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            let Some(tenant) = weak.upgrade() else { return };
            tenant.mutate(|_, _| ());
        }
    });
}

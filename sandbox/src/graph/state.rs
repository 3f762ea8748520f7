//! The tenant's state behind one lock (never held across an await), the statistics, and the
//! change engine: every mutation ends in [`Shared::mutate`], which expires what is due, bumps
//! sequence numbers of users whose aggregated presence changed, queues their notifications and
//! wakes the delivery workers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use super::aggregate::{Shown, UserPresence};
use super::auth::AuthState;
use super::crypto::JwtSigner;
use super::notify::{self, UrlQueue};
use super::subscriptions::Subscription;
use super::throttle::Throttle;
use super::{GraphStats, GraphTiming, Presence};
use crate::Clock;

/// Locks, shrugging off poisoning: a panicked test thread must not wedge the emulator.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) struct User {
    pub upn: String,
    pub display_name: String,
    pub presence: UserPresence,
    pub shown: Shown,
    pub sequence: u64,
}

impl User {
    pub fn view(&self) -> Presence {
        Presence {
            availability: self.shown.availability.clone(),
            activity: self.shown.activity.clone(),
            out_of_office: self.shown.out_of_office,
            sequence_number: format!("{:020}", self.sequence),
        }
    }
}

#[derive(Default)]
pub(crate) struct Inner {
    pub users: HashMap<String, User>,
    /// Source of sequence numbers: global, so each user's numbers only ever grow.
    pub seq: u64,
    /// Source of session "recency".
    pub touch: u64,
    pub auth: AuthState,
    pub subscriptions: HashMap<String, Subscription>,
    pub outbox: HashMap<String, UrlQueue>,
}

impl Inner {
    pub fn next_touch(&mut self) -> u64 {
        self.touch += 1;
        self.touch
    }

    pub fn add_user(&mut self, id: &str, upn: &str, display_name: &str) {
        let seq = {
            self.seq += 1;
            self.seq
        };
        let user = self.users.entry(id.to_owned()).or_insert_with(|| User {
            upn: String::new(),
            display_name: String::new(),
            presence: UserPresence::default(),
            shown: Shown {
                availability: "Offline".into(),
                activity: "Offline".into(),
                out_of_office: false,
            },
            sequence: seq,
        });
        user.upn = upn.to_owned();
        user.display_name = display_name.to_owned();
    }

    pub fn user_mut(&mut self, id: &str) -> anyhow::Result<&mut User> {
        self.users
            .get_mut(id)
            .ok_or_else(|| anyhow::anyhow!("no user with id '{id}' in the emulated tenant"))
    }

    pub fn user_by_upn(&self, upn: &str) -> Option<&str> {
        self.users
            .iter()
            .find(|(_, u)| u.upn.eq_ignore_ascii_case(upn))
            .map(|(id, _)| id.as_str())
    }

    /// Re-aggregates one user; on a visible change bumps the sequence and queues notifications.
    pub fn refresh(&mut self, tenant_id: &str, user_id: &str, now_ms: i64) {
        let Some(user) = self.users.get_mut(user_id) else {
            return;
        };
        user.presence.expire(now_ms);
        let shown = user.presence.shown();
        if shown == user.shown {
            return;
        }
        self.seq += 1;
        user.shown = shown;
        user.sequence = self.seq;
        let view = user.view();
        notify::enqueue_change(self, tenant_id, user_id, &view, now_ms);
    }

    /// Expires sessions, preferences, subscriptions and credentials that are due at `now_ms`.
    pub fn sweep(&mut self, tenant_id: &str, now_ms: i64) {
        let due: Vec<String> = self
            .users
            .iter_mut()
            .filter_map(|(id, u)| u.presence.expire(now_ms).then(|| id.clone()))
            .collect();
        for id in due {
            // expire() already ran; refresh() recomputes and notifies.
            self.refresh(tenant_id, &id, now_ms);
        }
        self.subscriptions.retain(|_, s| s.expires_ms > now_ms);
        self.auth.sweep(now_ms);
    }
}

pub(crate) struct Shared {
    pub tenant_id: String,
    pub app_id: String,
    pub client_secret: String,
    pub clock: Clock,
    pub base_url: String,
    pub inner: Mutex<Inner>,
    pub stats: Mutex<GraphStats>,
    pub stats_changed: Notify,
    pub signer: JwtSigner,
    pub timing: Mutex<GraphTiming>,
    pub outage: AtomicBool,
    pub throttle: Mutex<Throttle>,
    pub http: reqwest::Client,
    pub runtime: tokio::runtime::Handle,
}

impl Shared {
    /// Runs `f` on the swept state at the current sandbox time, then wakes delivery workers.
    pub fn mutate<R>(self: &Arc<Self>, f: impl FnOnce(&mut Inner, i64) -> R) -> R {
        let now = self.clock.now_ms();
        let result = {
            let mut inner = lock(&self.inner);
            inner.sweep(&self.tenant_id, now);
            f(&mut inner, now)
        };
        notify::kick(self);
        result
    }

    pub fn bump(&self, f: impl FnOnce(&mut GraphStats)) {
        f(&mut lock(&self.stats));
        self.stats_changed.notify_waiters();
    }

    pub fn timing(&self) -> GraphTiming {
        lock(&self.timing).clone()
    }

    pub fn is_down(&self) -> bool {
        self.outage.load(Ordering::SeqCst)
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
            let now = lock(&self.stats).clone();
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

/// Ticks the sweep so that expiries due to the clock (sessions, subscriptions) notify even when no
/// request arrives. Ends when the emulator is dropped.
pub(crate) fn spawn_ticker(shared: &Arc<Shared>) {
    let weak = Arc::downgrade(shared);
    shared.runtime.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            let Some(shared) = weak.upgrade() else { return };
            shared.mutate(|_, _| ());
        }
    });
}

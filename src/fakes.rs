//! In-memory stand-ins for the connector, Graph and the login endpoint, for the use cases' unit
//! tests: they answer as a test tells them and record what they were asked, without a socket.
//! With [`MemoryStore`] and a paused tokio clock a whole maintenance pass runs in microseconds.

use crate::app::{App, AppSettings};
use crate::domain::timestamp::millis_of;
use crate::domain::{Clock, MappingRules, Timestamp};
use crate::graph::client::GraphError;
use crate::graph::crypto::NotificationKeys;
use crate::graph::delegated::DelegatedTokens;
use crate::graph::entra::EntraError;
use crate::graph::notification::PresenceResource;
use crate::graph::validation_token::{TokenSettings, TokenValidator};
use crate::outbound::retry::{FailureKind, GaveUp, Stop};
use crate::store::MemoryStore;
use crate::subscriptions::ports::TokenRefresher;
use crate::swyx_to_teams::ports::PresenceSession;
use crate::teams_to_swyx::ports::PresenceReader;
use async_trait::async_trait;
pub use connector::{FakeConnector, Scripted};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
pub use subscriptions::HeldSubscription;

mod connector;
mod subscriptions;

/// 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000;

/// A clock that moves only when told.
#[derive(Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn clock(&self) -> Clock {
        let ms = Arc::clone(&self.0);
        Clock::from_fn(move || Timestamp(T0 + ms.load(Ordering::SeqCst)))
    }

    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(millis_of(by), Ordering::SeqCst);
    }
}

/// A clock that follows tokio's (paused in tests: it moves as the runtime sleeps).
pub fn tokio_clock() -> Clock {
    let start = tokio::time::Instant::now();
    Clock::from_fn(move || Timestamp(T0).plus_duration(start.elapsed()))
}

/// A Graph call the fake was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphCall {
    SetPresence { user: String, activity: String },
    ClearPresence { user: String },
    SetPreferred { user: String, activity: String },
    ClearPreferred { user: String },
    Create { users: Vec<String> },
    Renew { id: String },
    Delete { id: String },
    List,
    Get { id: String },
    Read { users: usize },
}

impl GraphCall {
    /// The bridge's "In a call" session set for `user`.
    pub fn in_a_call(user: &str) -> Self {
        GraphCall::SetPresence {
            user: user.into(),
            activity: "InACall".into(),
        }
    }

    /// The bridge's session cleared for `user`.
    pub fn session_cleared(user: &str) -> Self {
        GraphCall::ClearPresence { user: user.into() }
    }
}

/// Graph: presence sessions, bulk reads, subscriptions. `slow_sessions` makes every session call
/// use up its whole budget and fail, as the real client does when Graph keeps timing out.
#[derive(Default)]
pub struct FakeGraph {
    pub slow_sessions: AtomicBool,
    /// Every session call answered 400 (e.g. a user without a Teams licence).
    pub refuse_sessions: AtomicBool,
    /// Every subscription create and renewal answered 403 (e.g. consent withdrawn).
    pub forbid_subscriptions: AtomicBool,
    /// Graph's one presence subscription per user: a create for a user a held subscription
    /// covers is answered 409 in words that name no subscription (Graph promises no wording).
    pub unnamed_conflicts: AtomicBool,
    calls: Mutex<Vec<GraphCall>>,
    /// What Teams shows per user (availability, activity), for bulk reads.
    presences: Mutex<HashMap<String, (String, String)>>,
    /// The preferred presence (activity) the app set per user and has not cleared.
    preferred: Mutex<HashMap<String, String>>,
    created: AtomicI64,
    subscriptions: Mutex<Vec<HeldSubscription>>,
}

impl FakeGraph {
    pub fn calls(&self) -> Vec<GraphCall> {
        lock(&self.calls).clone()
    }

    /// The preferred presence (activity) Teams has for `user` from the app, if any.
    pub fn preferred(&self, user: &str) -> Option<String> {
        lock(&self.preferred).get(user).cloned()
    }

    pub fn show(&self, user: &str, availability: &str, activity: &str) {
        lock(&self.presences).insert(user.into(), (availability.into(), activity.into()));
    }

    fn record(&self, call: GraphCall) {
        lock(&self.calls).push(call);
    }
}

#[async_trait]
impl PresenceSession for FakeGraph {
    async fn set_presence(
        &self,
        user: &str,
        _availability: &str,
        activity: &str,
        _expiration: Duration,
        budget: Duration,
    ) -> Result<(), GraphError> {
        self.record(GraphCall::SetPresence {
            user: user.into(),
            activity: activity.into(),
        });
        self.answer(budget).await
    }

    async fn clear_presence(&self, user: &str, budget: Duration) -> Result<(), GraphError> {
        self.record(GraphCall::ClearPresence { user: user.into() });
        self.answer(budget).await
    }

    async fn set_preferred(
        &self,
        user: &str,
        _availability: &str,
        activity: &str,
        budget: Duration,
    ) -> Result<(), GraphError> {
        self.record(GraphCall::SetPreferred {
            user: user.into(),
            activity: activity.into(),
        });
        self.answer(budget).await?;
        lock(&self.preferred).insert(user.into(), activity.into());
        Ok(())
    }

    async fn clear_preferred(&self, user: &str, budget: Duration) -> Result<(), GraphError> {
        self.record(GraphCall::ClearPreferred { user: user.into() });
        self.answer(budget).await?;
        lock(&self.preferred).remove(user);
        Ok(())
    }
}

impl FakeGraph {
    async fn answer(&self, budget: Duration) -> Result<(), GraphError> {
        if self.refuse_sessions.load(Ordering::SeqCst) {
            return Err(GraphError::Refused {
                status: 400,
                message: "BadRequest: the user cannot have a presence".into(),
            });
        }
        if !self.slow_sessions.load(Ordering::SeqCst) {
            return Ok(());
        }
        tokio::time::sleep(budget).await;
        Err(GraphError::Unavailable(gave_up(
            FailureKind::Timeout,
            budget,
        )))
    }
}

#[async_trait]
impl PresenceReader for FakeGraph {
    async fn get_presences(
        &self,
        ids: &[String],
        _budget: Duration,
    ) -> Result<Vec<PresenceResource>, GraphError> {
        self.record(GraphCall::Read { users: ids.len() });
        let shown = lock(&self.presences);
        Ok(ids
            .iter()
            .filter_map(|id| {
                let (availability, activity) = shown.get(id)?;
                Some(PresenceResource {
                    id: id.clone(),
                    availability: Some(availability.clone()),
                    activity: Some(activity.clone()),
                    out_of_office_settings: None,
                    sequence_number: None,
                })
            })
            .collect())
    }
}

/// The login endpoint: every refresh token is good and rotates.
#[derive(Default)]
pub struct FakeLogin;

#[async_trait]
impl TokenRefresher for FakeLogin {
    async fn refresh(
        &self,
        refresh_token: &str,
        _scope: &str,
        _timeout: Duration,
    ) -> Result<DelegatedTokens, EntraError> {
        Ok(DelegatedTokens {
            access_token: format!("access-for-{refresh_token}"),
            refresh_token: Some(format!("{refresh_token}+")),
            expires_in: Duration::from_secs(3600),
        })
    }
}

/// An app on `store` and `connector`, without Swyx → Teams or subscriptions (tests add them).
pub fn app(store: Arc<MemoryStore>, connector: Arc<FakeConnector>, clock: Clock) -> App {
    App {
        settings: AppSettings {
            tenant_id: "tenant".into(),
            client_id: "app".into(),
            max_body_bytes: 64 * 1024,
            time_budget: Duration::from_secs(2),
        },
        rules: MappingRules::default(),
        rule_overrides: Vec::new(),
        keys: Arc::new(NotificationKeys::new()),
        // Never asked: the use cases under test do not see Graph's notifications.
        tokens: Arc::new(TokenValidator::new(
            TokenSettings::default(),
            reqwest::Client::new(),
        )),
        store,
        connector,
        metrics: Default::default(),
        swyx_to_teams: None,
        accounts: None,
        users_sync: None,
        wake_maintenance: Default::default(),
        directions: Default::default(),
        known_subscriptions: Default::default(),
        store_refusals: Default::default(),
        clock,
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the real clients report when every attempt within `budget` failed with `kind`.
pub(crate) fn gave_up(kind: FailureKind, budget: Duration) -> GaveUp {
    GaveUp {
        stop: Stop::BudgetSpent,
        attempts: 1,
        elapsed: budget,
        budget,
        may_have_taken_effect: kind.may_have_taken_effect(),
        last: Box::new(crate::outbound::retry::Failure::new(kind)),
    }
}

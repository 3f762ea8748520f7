//! The emulated Microsoft Graph tenant: login (client credentials, device code, rotating refresh
//! tokens), presence (Teams' aggregation of sessions and user-set states), presence subscriptions
//! with the validation handshake, and rich encrypted change notifications signed like Graph's —
//! all on loopback and on the sandbox [`Clock`](crate::Clock). Facts: research/graph.md §0–7, §9.
//!
//! An independent second implementation: nothing here comes from the bridge crate.

mod aggregate;
mod auth;
mod control_impl;
pub mod crypto;
mod login;
mod notify;
mod presence;
mod routes;
mod state;
mod sub_rules;
mod subscriptions;
mod throttle;
mod types;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

pub use crypto::{CHANGE_TRACKING_APP_ID, make_encryption_certificate};
use state::{Inner, Shared, lock};
pub use types::{AppSessionView, GraphStats, GraphTiming, Presence, SubscriptionView};

pub struct GraphOptions {
    /// GUID
    pub tenant_id: String,
    /// The bridge's app (client) id.
    pub app_id: String,
    /// For client_credentials.
    pub client_secret: String,
    /// None = unlimited.
    pub throttle_per_30s: Option<u32>,
    pub clock: crate::Clock,
}

impl std::fmt::Debug for GraphOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphOptions")
            .field("tenant_id", &self.tenant_id)
            .field("app_id", &self.app_id)
            .field("client_secret", &"<redacted>")
            .field("throttle_per_30s", &self.throttle_per_30s)
            .finish_non_exhaustive()
    }
}

/// In-process handle of a running emulated tenant. Cheap to clone.
#[derive(Clone)]
pub struct GraphEmulator {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for GraphEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphEmulator")
            .field("base_url", &self.shared.base_url)
            .field("tenant_id", &self.shared.tenant_id)
            .finish_non_exhaustive()
    }
}

impl GraphEmulator {
    /// Binds 127.0.0.1:0, serves the routes, starts the expiry ticker (delivery workers start on demand).
    pub async fn start(opts: GraphOptions) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let signer = tokio::task::spawn_blocking(crypto::JwtSigner::generate).await??;
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let shared = Arc::new(Shared {
            tenant_id: opts.tenant_id,
            app_id: opts.app_id,
            client_secret: opts.client_secret,
            clock: opts.clock,
            base_url: format!("http://{addr}"),
            inner: Mutex::new(Inner::default()),
            stats: Mutex::new(GraphStats::default()),
            stats_changed: Notify::new(),
            signer,
            timing: Mutex::new(GraphTiming::default()),
            outage: Default::default(),
            throttle: Mutex::new(throttle::Throttle::new(opts.throttle_per_30s)),
            http,
            runtime: tokio::runtime::Handle::current(),
        });
        let app = routes::router(shared.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "graph emulator listener stopped");
            }
        });
        state::spawn_ticker(&shared);
        Ok(Self { shared })
    }

    /// e.g. `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }
    /// `{base}/v1.0`
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.shared.base_url)
    }
    /// `{base}`; the token endpoint is `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn authority_url(&self) -> String {
        self.shared.base_url.clone()
    }
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.shared.base_url, self.shared.tenant_id
        )
    }
    pub fn jwks_url(&self) -> String {
        format!("{}{}", self.shared.base_url, routes::JWKS_PATH)
    }
    pub fn tenant_id(&self) -> &str {
        &self.shared.tenant_id
    }
    pub fn app_id(&self) -> &str {
        &self.shared.app_id
    }
    pub fn clock(&self) -> &crate::Clock {
        &self.shared.clock
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner, &str, i64) -> R) -> R {
        let tenant = self.shared.tenant_id.clone();
        self.shared.mutate(|inner, now| f(inner, &tenant, now))
    }

    pub fn add_user(&self, id: &str, upn: &str, display_name: &str) {
        self.with(|inner, _, _| inner.add_user(id, upn, display_name));
    }

    /// setUserPreferredPresence semantics (a Teams user setting a status by hand); `None` = the
    /// default life (Busy/DoNotDisturb 1 day, others 7 days).
    pub fn set_preferred_presence(
        &self,
        user: &str,
        availability: &str,
        activity: &str,
        expires_in: Option<Duration>,
    ) -> anyhow::Result<()> {
        self.with(|inner, t, now| {
            presence::put_preferred(inner, t, user, availability, activity, expires_in, now)
        })
    }

    pub fn clear_preferred_presence(&self, user: &str) -> anyhow::Result<()> {
        self.with(|inner, t, now| presence::remove_preferred(inner, t, user, now))
    }

    /// A Teams client or meeting session (e.g. "teams-desktop" Busy/InACall); no expiry.
    pub fn set_client_session(
        &self,
        user: &str,
        session_id: &str,
        availability: &str,
        activity: &str,
    ) -> anyhow::Result<()> {
        self.with(|inner, t, now| {
            presence::put_session(
                inner,
                t,
                user,
                session_id,
                (availability, activity),
                None,
                now,
            )
        })
    }

    pub fn end_client_session(&self, user: &str, session_id: &str) -> anyhow::Result<()> {
        self.with(|inner, t, now| presence::remove_session(inner, t, user, session_id, now))
    }

    pub fn set_out_of_office(&self, user: &str, oof: bool) -> anyhow::Result<()> {
        self.with(|inner, t, now| {
            inner.user_mut(user)?.presence.out_of_office = oof;
            inner.refresh(t, user, now);
            Ok(())
        })
    }

    /// The aggregated presence, or `None` for an unknown user.
    pub fn presence(&self, user: &str) -> Option<Presence> {
        self.with(|inner, _, _| inner.users.get(user).map(state::User::view))
    }

    /// A delegated sync account (returns its id; the same id again for a known UPN). It can sign
    /// in with the device-code flow.
    pub fn add_sync_account(&self, upn: &str) -> String {
        self.with(|inner, _, _| {
            let id = inner
                .user_by_upn(upn)
                .map(str::to_owned)
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            inner.add_user(&id, upn, upn);
            id
        })
    }

    /// "The admin signs in" as `upn` for the pending device login showing `user_code`.
    pub fn approve_device_code(&self, user_code: &str, upn: &str) -> anyhow::Result<()> {
        self.with(|inner, _, now| auth::approve_device_code(inner, user_code, upn, now))
    }

    /// The admin declines the device login: the client then gets `authorization_declined`.
    pub fn deny_device_code(&self, user_code: &str) -> anyhow::Result<()> {
        self.with(|inner, _, now| auth::deny_device_code(inner, user_code, now))
    }

    /// A refresh token as if the sync account `upn` (see [`Self::add_sync_account`]) had
    /// completed a device login with `Presence.Read.All offline_access`.
    pub fn issue_refresh_token(&self, upn: &str) -> anyhow::Result<String> {
        self.with(|inner, _, now| auth::issue_refresh_token(inner, upn, now))
    }

    /// Entra's "revoke sessions" for `upn`: its refresh tokens then get `invalid_grant` and its
    /// access tokens 401.
    pub fn revoke_sign_ins(&self, upn: &str) {
        self.with(|inner, _, _| auth::revoke_sign_ins(inner, upn));
    }

    pub fn subscriptions(&self) -> Vec<SubscriptionView> {
        let app = self.shared.app_id.clone();
        let mut views: Vec<SubscriptionView> = self.with(|inner, _, _| {
            inner
                .subscriptions
                .values()
                .map(|s| SubscriptionView {
                    id: s.id.clone(),
                    resource: s.resource.clone(),
                    user_ids: s.user_ids.clone(),
                    expiration_ms: s.expires_ms,
                    expiration_date_time: crate::Clock::format_ms(s.expires_ms),
                    creator_id: s.creator_id.clone(),
                    application_id: app.clone(),
                    notification_url: s.notification_url.clone(),
                    lifecycle_notification_url: s.lifecycle_url.clone(),
                    include_resource_data: s.include_resource_data,
                    encryption_certificate_id: s.cert.as_ref().map(|c| c.id.clone()),
                    notifications_queued: s.notifications_queued,
                    notifications_delivered: s.notifications_delivered,
                    lifecycle_queued: s.lifecycle_queued,
                })
                .collect()
        });
        views.sort_by(|a, b| a.id.cmp(&b.id));
        views
    }

    /// `reauthorizationRequired` | `subscriptionRemoved` (also deletes it) | `missed`.
    pub fn send_lifecycle(&self, subscription_id: &str, event: &str) -> anyhow::Result<()> {
        self.with(|inner, t, now| notify::enqueue_lifecycle(inner, t, subscription_id, event, now))
    }

    /// While down, every Graph and login route answers 503 (the JWKS stays up).
    pub fn set_outage(&self, down: bool) {
        self.shared.outage.store(down, Ordering::SeqCst);
    }

    pub fn set_throttle(&self, per_30s: Option<u32>) {
        lock(&self.shared.throttle).set_limit(per_30s);
    }

    pub fn set_timing(&self, timing: GraphTiming) {
        *lock(&self.shared.timing) = timing;
    }

    pub fn stats(&self) -> GraphStats {
        lock(&self.shared.stats).clone()
    }

    /// Waits (event-driven, no polling) until `pred` holds for the statistics; errors after `timeout`.
    pub async fn wait_stats(
        &self,
        timeout: Duration,
        pred: impl Fn(&GraphStats) -> bool,
    ) -> anyhow::Result<GraphStats> {
        self.shared.wait_stats(timeout, pred).await
    }

    /// The bridge's live setPresence sessions for `user`, with expiry.
    pub fn app_sessions(&self, user: &str) -> Vec<AppSessionView> {
        self.with(|inner, _, _| {
            inner
                .users
                .get(user)
                .map(|u| {
                    u.presence
                        .sessions
                        .iter()
                        .filter(|(_, s)| s.is_app)
                        .map(|(id, s)| {
                            let expires_ms = s.expires_ms.unwrap_or(i64::MAX);
                            AppSessionView {
                                session_id: id.clone(),
                                availability: s.availability.clone(),
                                activity: s.activity.clone(),
                                expires_ms,
                                expiration_date_time: crate::Clock::format_ms(expires_ms),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
    }
}

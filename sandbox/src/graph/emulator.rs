//! The in-process handle of an emulated tenant: start it, find its URLs, and drive it as a
//! scenario would (presence, accounts, subscriptions, outages, throttling, timing, late answers)
//! or as a test would (views, statistics, signed tokens). The directory controls are in
//! `emulator_directory.rs`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::crypto::{TokenSigner, validation_token_claims};
use super::delivery;
use super::http;
use super::http::ctx::Ctx;
use super::model::outbox::enqueue_lifecycle;
use super::model::tenant::{Inner, LateAnswers, Step, Tenant, TenantSetup, spawn_ticker};
use super::types::{
    AppSessionView, EndpointStats, GraphStats, GraphTiming, PreferredBy, PreferredPresenceView,
    Presence, SubscriptionView,
};
use crate::Clock;
use crate::sync::lock;

pub struct GraphOptions {
    /// GUID
    pub tenant_id: String,
    /// The bridge's app (client) id.
    pub app_id: String,
    /// For client_credentials.
    pub client_secret: String,
    /// None = unlimited.
    pub throttle_per_30s: Option<u32>,
    pub clock: Clock,
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
    pub(super) tenant: Arc<Tenant>,
}

impl std::fmt::Debug for GraphEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphEmulator")
            .field("base_url", &self.tenant.base_url)
            .field("tenant_id", &self.tenant.tenant_id)
            .finish_non_exhaustive()
    }
}

impl GraphEmulator {
    /// Binds 127.0.0.1:0, serves the routes, starts the expiry ticker and the delivery side.
    pub async fn start(opts: GraphOptions) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let signer = tokio::task::spawn_blocking(TokenSigner::generate).await??;
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let tenant = Arc::new(Tenant::new(TenantSetup {
            tenant_id: opts.tenant_id,
            app_id: opts.app_id,
            client_secret: opts.client_secret,
            clock: opts.clock,
            base_url: format!("http://{addr}"),
            signer,
            throttle_per_30s: opts.throttle_per_30s,
        }));
        let ctx = Arc::new(Ctx {
            tenant: tenant.clone(),
            http: client.clone(),
            routes: http::router,
        });
        let app = http::router(ctx);
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "graph emulator listener stopped");
            }
        });
        spawn_ticker(&tenant);
        delivery::spawn_dispatcher(&tenant, client);
        Ok(Self { tenant })
    }

    /// e.g. `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        self.tenant.base_url.clone()
    }
    /// `{base}/v1.0`
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.tenant.base_url)
    }
    /// `{base}`; the token endpoint is `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn authority_url(&self) -> String {
        self.tenant.base_url.clone()
    }
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.tenant.base_url, self.tenant.tenant_id
        )
    }
    pub fn jwks_url(&self) -> String {
        format!("{}{}", self.tenant.base_url, http::JWKS_PATH)
    }
    pub fn tenant_id(&self) -> &str {
        &self.tenant.tenant_id
    }
    pub fn app_id(&self) -> &str {
        &self.tenant.app_id
    }
    pub fn clock(&self) -> &Clock {
        &self.tenant.clock
    }

    pub(super) fn with<R>(&self, f: impl FnOnce(&mut Inner, &mut Step<'_>) -> R) -> R {
        self.tenant.mutate(f)
    }

    /// Adds (or renames) a user with mail = UPN; see `add_directory_user` for more addresses.
    pub fn add_user(&self, id: &str, upn: &str, display_name: &str) {
        if let Err(e) = self.with(|inner, _| inner.upsert_user(id, upn, display_name)) {
            tracing::warn!(id, upn, error = %e, "graph emulator: user not added");
        }
    }

    /// The user sets a status by hand in Teams (setUserPreferredPresence semantics); `None` =
    /// the default life (Busy/DoNotDisturb 1 day, others 7 days).
    pub fn set_preferred_presence(
        &self,
        user: &str,
        availability: &str,
        activity: &str,
        expires_in: Option<Duration>,
    ) -> anyhow::Result<()> {
        self.with(|inner, step| {
            inner.put_preferred(
                step,
                user,
                (availability, activity),
                expires_in,
                PreferredBy::User,
            )
        })
    }

    pub fn clear_preferred_presence(&self, user: &str) -> anyhow::Result<()> {
        self.with(|inner, step| inner.remove_preferred(step, user))
    }

    /// The user's preferred presence, and who set it (the user in Teams, or an app via Graph).
    pub fn preferred_presence(&self, user: &str) -> Option<PreferredPresenceView> {
        self.with(|inner, _| inner.preferred_view(user))
    }

    /// A Teams client or meeting session (e.g. "teams-desktop" Busy/InACall); no expiry.
    pub fn set_client_session(
        &self,
        user: &str,
        session_id: &str,
        availability: &str,
        activity: &str,
    ) -> anyhow::Result<()> {
        self.with(|inner, step| {
            inner.put_session(step, user, session_id, (availability, activity), None)
        })
    }

    pub fn end_client_session(&self, user: &str, session_id: &str) -> anyhow::Result<()> {
        self.with(|inner, step| inner.remove_session(step, user, session_id))
    }

    pub fn set_out_of_office(&self, user: &str, oof: bool) -> anyhow::Result<()> {
        self.with(|inner, step| inner.set_out_of_office(step, user, oof))
    }

    /// The aggregated presence, or `None` for an unknown user.
    pub fn presence(&self, user: &str) -> Option<Presence> {
        self.with(|inner, _| inner.presence_view(user))
    }

    /// The bridge's live setPresence sessions for `user`, with expiry.
    pub fn app_sessions(&self, user: &str) -> Vec<AppSessionView> {
        self.with(|inner, _| inner.app_sessions(user))
    }

    /// A delegated sync account (returns its id; the same id again for a known UPN). It can sign
    /// in with the device-code flow.
    pub fn add_sync_account(&self, upn: &str) -> String {
        self.with(|inner, _| inner.add_sync_account(upn))
            .unwrap_or_else(|e| {
                tracing::warn!(upn, error = %e, "graph emulator: sync account not added");
                String::new()
            })
    }

    /// "The admin signs in" as `upn` for the pending device login showing `user_code`.
    pub fn approve_device_code(&self, user_code: &str, upn: &str) -> anyhow::Result<()> {
        self.with(|inner, step| inner.approve_device_code(step, user_code, upn))
    }

    /// The admin declines the device login: the client then gets `authorization_declined`.
    pub fn deny_device_code(&self, user_code: &str) -> anyhow::Result<()> {
        self.with(|inner, step| inner.deny_device_code(step, user_code))
    }

    /// A refresh token as if the sync account `upn` (see [`Self::add_sync_account`]) had
    /// completed a device login with `Presence.Read.All offline_access`.
    pub fn issue_refresh_token(&self, upn: &str) -> anyhow::Result<String> {
        self.with(|inner, step| inner.issue_refresh_token(step, upn))
    }

    /// Entra's "revoke sessions" for `upn`: its refresh tokens then get `invalid_grant` and its
    /// access tokens 401.
    pub fn revoke_sign_ins(&self, upn: &str) {
        self.with(|inner, _| inner.revoke_sign_ins(upn));
    }

    /// The application permissions granted to the app (by default `Presence.Read.All`,
    /// `Presence.ReadWrite.All`, `User.Read.All`, `GroupMember.Read.All`). Tokens carry what was
    /// granted when they were issued.
    pub fn set_app_permissions(&self, permissions: &[&str]) {
        self.with(|inner, _| {
            inner.auth.app_roles = permissions.iter().map(|p| (*p).to_owned()).collect();
        });
    }

    pub fn app_permissions(&self) -> Vec<String> {
        self.with(|inner, _| inner.auth.app_roles.iter().cloned().collect())
    }

    pub fn subscriptions(&self) -> Vec<SubscriptionView> {
        let app = self.tenant.app_id.clone();
        let mut views: Vec<SubscriptionView> = self.with(|inner, _| {
            inner
                .subscriptions
                .values()
                .map(|s| SubscriptionView {
                    id: s.id.clone(),
                    resource: s.resource.clone(),
                    user_ids: s.user_ids.clone(),
                    expiration_ms: s.expires_ms,
                    expiration_date_time: Clock::format_ms(s.expires_ms),
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
        self.with(|inner, step| {
            let held = enqueue_lifecycle(
                &mut inner.outbox,
                &mut inner.subscriptions,
                step.tenant_id,
                (subscription_id, event),
                step.now,
                &step.rules,
            )?;
            step.held.delayed += held.delayed;
            step.held.dropped += held.dropped;
            Ok(())
        })
    }

    /// Makes `POST /subscriptions` and `PATCH /subscriptions/{id}` answer `delay` late (real
    /// time), after the subscription was created (both URLs validated) or renewed; `None` ends it.
    pub fn set_subscription_answer_delay(&self, delay: Option<Duration>) {
        self.tenant.set_late_answers(LateAnswers { delay });
    }

    /// While down, every Graph and login route answers 503 (the JWKS stays up).
    pub fn set_outage(&self, down: bool) {
        self.tenant.set_outage(down);
    }

    /// The limit over every Graph request per 30 s (`None` = unlimited).
    pub fn set_throttle(&self, per_30s: Option<u32>) {
        lock(&self.tenant.throttle).set_limit(per_30s);
    }

    /// A throttling storm: while `Some`, every Graph request (not the login and discovery
    /// routes) is answered 429 with that `Retry-After` (whole seconds); `None` ends it.
    pub fn set_throttle_storm(&self, retry_after: Option<Duration>) {
        lock(&self.tenant.throttle).set_storm(retry_after.map(|d| d.as_secs().max(1)));
    }

    /// The limit over presence requests per 30 s (Microsoft's pages: plan for 1,500).
    pub fn set_presence_throttle(&self, per_30s: Option<u32>) {
        lock(&self.tenant.throttle).set_presence_limit(per_30s);
    }

    pub fn set_timing(&self, timing: GraphTiming) {
        self.tenant.set_timing(timing);
    }

    pub fn timing(&self) -> GraphTiming {
        self.tenant.timing()
    }

    pub fn stats(&self) -> GraphStats {
        self.tenant.stats()
    }

    /// Waits (event-driven, no polling) until `pred` holds for the statistics; errors after `timeout`.
    pub async fn wait_stats(
        &self,
        timeout: Duration,
        pred: impl Fn(&GraphStats) -> bool,
    ) -> anyhow::Result<GraphStats> {
        self.tenant.wait_stats(timeout, pred).await
    }

    /// The slow-endpoint state of one notification URL, judged now.
    pub fn endpoint_stats(&self, url: &str) -> Option<EndpointStats> {
        self.with(|inner, step| {
            inner
                .outbox
                .health_views(step.now, &step.rules)
                .into_iter()
                .find(|(u, _)| u == url)
                .map(|(_, v)| v)
        })
    }

    /// Notifications waiting for `url` (held back by a slow-endpoint delay, or not sent yet).
    pub fn pending_notifications(&self, url: &str) -> usize {
        self.with(|inner, _| inner.outbox.pending(url))
    }

    /// A validation token for this tenant and app, signed with the key of [`Self::jwks_url`],
    /// valid for an hour of real time: what Graph puts in `validationTokens`. Part of the
    /// independent implementation for tests (see [`super::crypto`]).
    pub fn sign_validation_token(&self) -> anyhow::Result<String> {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.sign_token(&validation_token_claims(
            &self.tenant.app_id,
            &self.tenant.tenant_id,
            wall,
        ))
    }

    /// Any claims, signed with the emulator's key (for tests of wrong audience, expiry, …).
    pub fn sign_token(&self, claims: &Value) -> anyhow::Result<String> {
        self.tenant.signer.sign(claims)
    }
}
